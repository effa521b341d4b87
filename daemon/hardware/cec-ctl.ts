import { DcError } from '../errors.js';
import type { CecOptions, TvControl, TvKey, TvPowerStatus } from './cec.js';
import { CEC_COMMAND_FAILED, ToolTv, commandFailure, keyOfUiCommand, runTool, type ToolOutput } from './cec-tool.js';

/**
 * The TV through `cec-ctl` (Debian v4l-utils) and the kernel's CEC framework: each action is one
 * short cec-ctl run, and one cec-ctl that runs until closed reports the remote's keys.
 */

/** The TV's logical address on the CEC bus. */
const TV = '0';

/**
 * cec-ctl's command lines, without a shell, for cec-ctl 1.22.1 (Pi OS Bookworm) and later.
 * Options are in utils/cec-ctl/cec-ctl.cpp (long_options, usage) and cec-ctl.1; the message
 * options are generated from include/linux/cec-funcs.h (cec_msg_image_view_on → --image-view-on).
 * The destination (--to) must come before the messages it applies to.
 */
export function cecCtlArgs(device: string) {
  const quiet = ['--device', device, '--skip-info'];
  return {
    /**
     * Claims a playback device's logical address under `osdName`. RC passthrough is off so the
     * remote's keys reach the daemon only, not the screen's browser as keystrokes too.
     */
    register: (osdName: string) => [...quiet, '--playback', '--osd-name', osdName, '--no-rc-passthrough'],
    /** The driver info, whose "Physical Address" line is the box's address (1.22.1 has no --physical-address). */
    driverInfo: () => ['--device', device],
    /** <Image View On>, then <Active Source> (a broadcast) when the box knows its physical address. */
    wake: (physicalAddress: string | null) => [
      ...quiet,
      '--to',
      TV,
      '--image-view-on',
      ...(physicalAddress ? ['--active-source', `phys-addr=${physicalAddress}`] : []),
    ],
    standby: () => [...quiet, '--to', TV, '--standby'],
    /** Waits (1 s by default) for the TV's <Report Power Status>. */
    powerStatus: () => [...quiet, '--to', TV, '--give-device-power-status'],
    /** Runs until killed, printing every message the box sees or receives. */
    listen: (mode: 'monitor' | 'follower') => [...quiet, mode === 'monitor' ? '--monitor' : '--wait-for-msgs'],
  };
}

/** The box's physical address in cec-ctl's driver info; null while it has none (f.f.f.f: no hotplug or EDID). */
export function physicalAddressOf(driverInfo: string): string | null {
  const address = /^\tPhysical Address\s*: ([0-9a-f]\.[0-9a-f]\.[0-9a-f]\.[0-9a-f])$/m.exec(driverInfo)?.[1];
  return address && address !== 'f.f.f.f' ? address : null;
}

/**
 * Why a cec-ctl run that exited 0 did not deliver its messages, or null. cec-ctl exits 0 on a
 * bus failure: each message prints "Transmit from …" and its opcode, then "\tSequence: …" once
 * the kernel accepted it, then a status line ("\tTx, Not Acknowledged (4), Max Retries") only
 * when it went wrong; an unconfigured adapter only says so on stderr.
 */
export function transmitProblem(output: ToolOutput): string | null {
  if (output.stderr.includes('unconfigured')) return output.stderr.trim();
  const messages = output.stdout.split(/^Transmit from /m).slice(1);
  if (messages.length === 0) return 'cec-ctl transmitted nothing';
  for (const message of messages) {
    const opcode = message.split('\n')[1]?.trim() ?? 'the message';
    if (!/^\tSequence: /m.test(message)) return `the CEC adapter refused ${opcode}`;
    const status = /^\t((?:Tx|Rx), .*)$/m.exec(message)?.[1];
    if (status) return `${opcode}: ${status}`;
  }
  return null;
}

/** The TV's power state in cec-ctl's reply to --give-device-power-status ("\tpwr-state: standby (0x01)"). */
export function powerStatusOf(stdout: string): TvPowerStatus {
  const state = /^\tpwr-state: (\S+) \(0x[0-9a-f]{2}\)$/m.exec(stdout)?.[1];
  if (state === 'on' || state === 'to-on') return 'on';
  if (state === 'standby' || state === 'to-standby') return 'standby';
  return 'unknown';
}

const KEY_PRESS_LINE = /^Received from .+ \(\d+ to \d+\): USER_CONTROL_PRESSED \(0x44\):$/;
const UI_COMMAND_LINE = /^\tui-cmd: \S+ \(0x([0-9a-f]{2})\)$/;

/**
 * Remote keys in what cec-ctl prints for each message (--monitor and --wait-for-msgs alike):
 *   Received from TV to Playback Device 1 (0 to 4): USER_CONTROL_PRESSED (0x44):
 *   \tui-cmd: volume-up (0x41)
 * "Transmitted by" lines are the box's own messages and never count.
 */
export class CecCtlKeyReader {
  private afterKeyPress = false;

  /** The key that `line` completes, if any. */
  read(line: string): TvKey | undefined {
    const wasAfterKeyPress = this.afterKeyPress;
    this.afterKeyPress = KEY_PRESS_LINE.test(line);
    if (!wasAfterKeyPress) return undefined;
    const code = UI_COMMAND_LINE.exec(line)?.[1];
    return code === undefined ? undefined : keyOfUiCommand(parseInt(code, 16));
  }
}

export interface CecCtlTvOptions extends CecOptions {
  /** The cec-ctl program. */
  file: string;
  device: string;
}

export class CecCtlTv extends ToolTv implements TvControl {
  private readonly args: ReturnType<typeof cecCtlArgs>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: CecCtlTvOptions) {
    const args = cecCtlArgs(opts.device);
    super({ ...opts, listenArgs: args.listen(opts.listen ?? 'monitor'), keys: new CecCtlKeyReader(), restartDelayMs: opts.listenerRestartMs });
    this.args = args;
    this.timeoutMs = opts.commandTimeoutMs ?? 5000;
  }

  async start(): Promise<void> {
    await this.queue.run(() => this.run(this.args.register(this.opts.osdName ?? 'diemcau')));
    this.listenForKeys();
  }

  wake(): Promise<void> {
    return this.queue.run(async () => {
      const address = this.opts.physicalAddress ?? physicalAddressOf((await this.run(this.args.driverInfo())).stdout);
      await this.transmit(this.args.wake(address));
      if (!address) {
        throw new DcError(CEC_COMMAND_FAILED, 'the TV was asked to power on, but the box has no HDMI physical address yet (no hotplug or EDID), so it could not switch the TV to its input', {
          part: 'cec',
          device: this.opts.device,
        });
      }
    });
  }

  standby(): Promise<void> {
    return this.queue.run(() => this.transmit(this.args.standby()));
  }

  powerStatus(): Promise<TvPowerStatus> {
    return this.queue.run(async () => powerStatusOf((await this.run(this.args.powerStatus())).stdout));
  }

  private async transmit(args: string[]): Promise<void> {
    const output = await this.run(args);
    const problem = transmitProblem(output);
    if (problem) throw commandFailure('cec-ctl', args, problem, output);
  }

  private run(args: string[]): Promise<ToolOutput> {
    this.opts.log.debug({ event: 'cec.command', tool: 'cec-ctl', args }, 'cec-ctl');
    return runTool(this.opts.file, args, { timeoutMs: this.timeoutMs });
  }
}
