import { readFile } from 'node:fs/promises';
import { isMissing, type HostFiles } from '../health/host-files.js';
import type { Logger } from '../log.js';
import type { Part } from '../part.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { outputForEdid } from './display-mode.js';
import { formatMode, summarizeEdid, type EdidSummary, type VideoMode } from './edid.js';

const DRM = '/sys/class/drm';
/** Any card number: card1 on a Pi 4/5 with Bookworm's vc4-kms-v3d, card0 on other kernels. */
const HDMI_CONNECTOR = /^card\d+-HDMI-A-\d+$/;
export const DEFAULT_DISPLAY_POLL_MS = 2000;

/** As the kernel writes it in `status`. */
export type ConnectorStatus = 'connected' | 'disconnected' | 'unknown';

export interface DisplayConnected {
  connector: string;
  /** null when the TV sent no usable EDID; `edidProblem` says why. */
  tv: EdidSummary | null;
  edidProblem: string | null;
  mode: VideoMode;
  /** Why this mode, in words. */
  reason: string;
}

export interface DisplayDisconnected {
  connector: string;
}

export type DisplayHotplugEvents = {
  /** A TV appeared on a connector (also, at start, for each TV already there). */
  connected: [DisplayConnected];
  disconnected: [DisplayDisconnected];
  /** Still connected, but the EDID changed: another TV was plugged in between two polls. */
  changed: [DisplayConnected];
};

/** One HDMI connector in the daemon's `state` report. */
export interface ConnectorState {
  connector: string;
  status: ConnectorStatus;
  /** The kernel drives it (a CRTC is attached); null when the file is missing. */
  enabled: boolean | null;
  tvName: string | null;
  /** The output mode chosen for the TV; null when nothing is connected. */
  mode: VideoMode | null;
  reason: string | null;
  edidProblem: string | null;
  /** The kernel's mode list as it gives it ("1920x1080", ...), its preferred first. */
  kernelModes: string[];
}

export interface DisplayHotplugOptions {
  /** /sys below a root, so tests use a fixture tree. */
  files: HostFiles;
  log: Logger;
  /** How often the connectors are read, ms; default 2000. */
  pollMs?: number;
}

interface ConnectorReading {
  status: ConnectorStatus;
  enabled: boolean | null;
  /** null when empty or missing. */
  edid: Buffer | null;
  kernelModes: string[];
}

/**
 * Watches the HDMI connectors in /sys/class/drm and says when a TV comes, goes or is swapped,
 * with the output mode chosen for it. It polls: inotify sees no change in sysfs attributes, and
 * reading `status` returns the state the kernel keeps from its hotplug interrupt (no DDC traffic).
 * A TV switched off often stays "connected" with its EDID; CEC, not this, tells it is off.
 */
export class DisplayHotplug extends TypedEmitter<DisplayHotplugEvents> implements Part {
  readonly name = 'display-hotplug';
  private readonly pollMs: number;
  private readonly connectors = new Map<string, { state: ConnectorState; edid: Buffer | null }>();
  /** Connected connectors whose EDID was empty at the last poll. */
  private readonly emptyEdidSeen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  private lastError: string | null = null;

  constructor(private readonly opts: DisplayHotplugOptions) {
    super();
    this.pollMs = opts.pollMs ?? DEFAULT_DISPLAY_POLL_MS;
  }

  /** Reads the connectors once (emitting `connected` for each TV already there), then every pollMs. */
  async start(): Promise<void> {
    if (this.timer || this.stopped) return;
    await this.poll();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every HDMI connector seen, by name. */
  current(): ConnectorState[] {
    return [...this.connectors.values()]
      .map(({ state }) => ({ ...state, kernelModes: [...state.kernelModes] }))
      .sort((a, b) => a.connector.localeCompare(b.connector));
  }

  /** One look at the connectors (what the timer does). Never rejects: a failed read is logged once and tried again. */
  async poll(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const names = (await this.opts.files.list(DRM)).filter((name) => HDMI_CONNECTOR.test(name));
      const readings = await Promise.all(names.map(async (name) => [name, await this.read(name)] as const));
      if (this.stopped) return;
      for (const [name, reading] of readings) this.update(name, reading);
      for (const name of this.connectors.keys()) {
        if (!names.includes(name)) this.update(name, null);
      }
      this.lastError = null;
    } catch (e) {
      const message = (e as Error).message;
      if (message !== this.lastError) this.opts.log.warn({ err: message }, 'display connectors unreadable');
      this.lastError = message;
    } finally {
      this.busy = false;
    }
  }

  private async read(name: string): Promise<ConnectorReading> {
    const dir = `${DRM}/${name}`;
    const text = (file: string) => this.opts.files.readIfExists(`${dir}/${file}`);
    const [status, enabled, modes] = await Promise.all([text('status'), text('enabled'), text('modes')]);
    const connectorStatus = parseStatus(status);
    return {
      status: connectorStatus,
      enabled: enabled === null ? null : enabled.trim() === 'enabled',
      // Only a connected TV's EDID matters; the kernel empties the file on unplug anyway.
      edid: connectorStatus === 'connected' ? await readEdid(this.opts.files, `${dir}/edid`) : null,
      kernelModes: (modes ?? '').split('\n').map((line) => line.trim()).filter(Boolean),
    };
  }

  /** `reading` null: the connector is gone from sysfs (driver unloaded). */
  private update(connector: string, reading: ConnectorReading | null): void {
    const before = this.connectors.get(connector);
    const wasConnected = before?.state.status === 'connected';

    if (reading?.status !== 'connected') {
      this.emptyEdidSeen.delete(connector);
      if (reading) this.connectors.set(connector, { state: emptyState(connector, reading), edid: null });
      else this.connectors.delete(connector);
      if (wasConnected) {
        this.opts.log.info({ connector }, 'display disconnected');
        this.emit('disconnected', { connector });
      }
      return;
    }

    // The kernel sets `status` before it has read the EDID, and a DDC read can fail once: an
    // empty EDID is believed at the second poll in a row (a switch that passes none costs a poll).
    if (reading.edid === null && !this.emptyEdidSeen.has(connector)) {
      this.emptyEdidSeen.add(connector);
      return;
    }
    if (reading.edid !== null) this.emptyEdidSeen.delete(connector);

    if (wasConnected && sameBytes(before.edid, reading.edid)) {
      before.state = { ...before.state, enabled: reading.enabled, kernelModes: reading.kernelModes };
      return;
    }

    const { edid, edidProblem, choice } = outputForEdid(reading.edid);
    const tv = edid ? summarizeEdid(edid) : null;
    const event: DisplayConnected = { connector, tv, edidProblem, mode: choice.mode, reason: choice.reason };
    this.connectors.set(connector, {
      state: { ...emptyState(connector, reading), tvName: tv?.name ?? null, mode: choice.mode, reason: choice.reason, edidProblem },
      edid: reading.edid,
    });
    const kind = wasConnected ? 'changed' : 'connected';
    this.opts.log.info({ connector, tv: tv?.name ?? null, mode: formatMode(choice.mode), reason: choice.reason }, `display ${kind}`);
    this.emit(kind, event);
  }
}

function parseStatus(text: string | null): ConnectorStatus {
  const status = text?.trim();
  return status === 'connected' || status === 'disconnected' ? status : 'unknown';
}

function emptyState(connector: string, reading: ConnectorReading): ConnectorState {
  return { connector, status: reading.status, enabled: reading.enabled, tvName: null, mode: null, reason: null, edidProblem: null, kernelModes: reading.kernelModes };
}

/** The EDID bytes (HostFiles reads text; an EDID is binary); null when the file is empty or missing. */
async function readEdid(files: HostFiles, path: string): Promise<Buffer | null> {
  try {
    const bytes = await readFile(files.path(path));
    return bytes.length > 0 ? bytes : null;
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}
