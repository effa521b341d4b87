import { access } from 'node:fs/promises';
import { DcError } from '../errors.js';
import type { Logger } from '../log.js';
import { CecClientTv } from './cec-client.js';
import { CecCtlTv } from './cec-ctl.js';
import { CEC_COMMAND_FAILED, CEC_TOOL_PACKAGES, cecUnavailable, findExecutable, isExecutable, type CecToolName } from './cec-tool.js';

/**
 * The TV the box is plugged into, driven over HDMI-CEC: woken and switched to the box's input
 * when a meeting starts or a message arrives, put in standby after it and at night, and its
 * remote's keys (which the TV forwards to the active source) followed as events.
 */

/** Remote keys the box acts on, named as cec-ctl names the CEC UI commands. */
export type TvKey = 'select' | 'up' | 'down' | 'left' | 'right' | 'back' | 'volume-up' | 'volume-down' | 'mute' | 'play' | 'stop' | 'pause';

/** 'unknown' when the TV did not answer: unplugged, or too old to report its power status. */
export type TvPowerStatus = 'on' | 'standby' | 'unknown';

export interface TvControlEvents extends Record<string, unknown[]> {
  /** One press; a held key repeats, as the TV repeats <User Control Pressed>. */
  key: [TvKey];
}

export interface TvControl {
  /** Registers the box on the CEC bus as a playback device and starts following remote keys. */
  start(): Promise<void>;
  /** Powers the TV on (<Image View On>) and switches it to the box's input (<Active Source>). */
  wake(): Promise<void>;
  /** Puts the TV in standby. */
  standby(): Promise<void>;
  powerStatus(): Promise<TvPowerStatus>;
  /** Subscribes to remote keys; returns the function that unsubscribes. */
  on<K extends keyof TvControlEvents & string>(event: K, listener: (...args: TvControlEvents[K]) => void): () => void;
  /** Stops following keys; the TV keeps its state. */
  close(): Promise<void>;
}

export interface CecOptions {
  /** CEC device of cec-ctl: /dev/cec0 is the HDMI port by the power input of a Pi 4/5, /dev/cec1 the other. Default /dev/cec0. */
  device?: string;
  /** Adapter of cec-client ('RPI', '/dev/cec0', …); default: the first it detects. */
  clientPort?: string;
  /** The name the TV shows for the box's input; CEC allows 14 characters. Default 'diemcau'. */
  osdName?: string;
  /**
   * The box's HDMI physical address (a.b.c.d) announced with <Active Source>; default: the one
   * the adapter read from the TV's EDID, asked at every wake (the cable may have moved).
   */
  physicalAddress?: string;
  /**
   * How cec-ctl hears the remote: 'monitor' (--monitor; needs root or CAP_NET_ADMIN) or
   * 'follower' (--wait-for-msgs; no privilege, but while it runs the kernel stops answering
   * <Feature Abort> to messages it does not handle). Default 'monitor'.
   */
  listen?: 'monitor' | 'follower';
  /** Deadline of each command; default 5 s for cec-ctl, 30 s for cec-client (it opens the adapter each time, and `as` waits for the TV). */
  commandTimeoutMs?: number;
  /** First wait before restarting the key listener when it ends; default 5 s. */
  listenerRestartMs?: number;
  log: Logger;
}

export interface OpenTvControlOptions extends CecOptions {
  /** Directories searched for cec-ctl, then cec-client; default $PATH. */
  searchPath?: string;
  /** A given tool instead of searching (tests pass a stand-in). */
  tool?: { name: CecToolName; file: string };
}

export type TvControlResult = { tv: TvControl; error: null } | { tv: null; error: DcError };

/**
 * The TV control of whichever tool is installed (cec-ctl preferred), started. Never rejects:
 * without a tool, a device or a working adapter it resolves with the reason, which the caller
 * logs before carrying on without CEC.
 */
export async function openTvControl(opts: OpenTvControlOptions): Promise<TvControlResult> {
  let tv: TvControl | null = null;
  try {
    tv = await chooseBackend(opts);
    await tv.start();
    return { tv, error: null };
  } catch (e) {
    await tv?.close().catch(() => {});
    const error = e instanceof DcError ? e : new DcError(CEC_COMMAND_FAILED, `CEC could not start: ${String(e)}`, { part: 'cec' });
    return { tv: null, error };
  }
}

async function chooseBackend(opts: OpenTvControlOptions): Promise<TvControl> {
  const tool = opts.tool ?? (await findCecTool(opts.searchPath ?? process.env.PATH ?? ''));
  if (!tool) {
    throw cecUnavailable('no HDMI-CEC tool is installed: install v4l-utils (cec-ctl) or cec-utils (cec-client)', {
      packages: ['v4l-utils', 'cec-utils'],
    });
  }
  if (!(await isExecutable(tool.file))) {
    const pkg = CEC_TOOL_PACKAGES[tool.name];
    throw cecUnavailable(`${tool.file} is not an installed program (Debian package ${pkg})`, { tool: tool.name, file: tool.file, package: pkg });
  }
  if (tool.name === 'cec-client') return new CecClientTv({ ...opts, file: tool.file });
  const device = opts.device ?? '/dev/cec0';
  try {
    await access(device);
  } catch {
    throw cecUnavailable(`no CEC device ${device}: this HDMI port has no CEC adapter (or the kernel driver is not loaded)`, { device });
  }
  return new CecCtlTv({ ...opts, device, file: tool.file });
}

async function findCecTool(searchPath: string): Promise<{ name: CecToolName; file: string } | null> {
  for (const name of ['cec-ctl', 'cec-client'] as const) {
    const file = await findExecutable(name, searchPath);
    if (file) return { name, file };
  }
  return null;
}
