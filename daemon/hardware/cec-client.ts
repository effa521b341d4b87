import type { CecOptions, TvControl, TvKey, TvPowerStatus } from './cec.js';
import { ToolTv, USER_CONTROL_PRESSED, commandFailure, keyOfUiCommand, runTool, type ToolOutput } from './cec-tool.js';

/**
 * The TV through libCEC's `cec-client` (Debian cec-utils), for boxes without cec-ctl: each action
 * is one `cec-client -s` run that reads its command on stdin, and a monitor-only cec-client
 * that runs until closed logs the frames in which the remote's keys arrive.
 */

/**
 * The stdin lines of each action (src/cec-client/cec-client.cpp, the help text and
 * ProcessCommandON/STANDBY/AS/POW); 0 is the TV's logical address.
 */
export const CEC_CLIENT_COMMANDS = {
  powerOn: 'on 0',
  activeSource: 'as',
  standby: 'standby 0',
  powerStatus: 'pow 0',
} as const;

/** cec-client's command lines; `port` is its adapter ('RPI', '/dev/cec0', …), detected when absent. */
export function cecClientArgs(osdName: string, port?: string) {
  const adapter = port ? [port] : [];
  return {
    /** One command from stdin, then exit (-s); errors only (-d 1, CEC_LOG_ERROR); a playback device (-t p) named `osdName`. */
    command: () => ['-s', '-d', '1', '-t', 'p', '-o', osdName, ...adapter],
    /** Monitor only (-m: claims no logical address), logging traffic (-d 8, CEC_LOG_TRAFFIC) until killed. */
    listen: () => ['-m', '-d', '8', ...adapter],
  };
}

/** The TV's state in cec-client's answer to `pow 0` ("power status: standby"; libCEC's CECTypeUtils names). */
export function clientPowerStatusOf(stdout: string): TvPowerStatus {
  const state = /^power status: (.+)$/m.exec(stdout)?.[1]?.trim();
  if (state === 'on' || state === 'in transition from standby to on') return 'on';
  if (state === 'standby' || state === 'in transition from on to standby') return 'standby';
  return 'unknown';
}

/**
 * A remote key in one line of cec-client's traffic log: a received frame, initiator and
 * destination nibbles, opcode, operands, e.g. "TRAFFIC: [          263612]\t>> 04:44:41".
 * Frames the box sends are logged "<< …" and never count.
 */
export function clientKeyOf(line: string): TvKey | undefined {
  const frame = /^TRAFFIC: \[\s*-?\d+\]\t>> [0-9a-f]{2}:([0-9a-f]{2}):([0-9a-f]{2})/i.exec(line);
  if (!frame || parseInt(frame[1]!, 16) !== USER_CONTROL_PRESSED) return undefined;
  return keyOfUiCommand(parseInt(frame[2]!, 16));
}

/** With -d 1 cec-client prints only libCEC's errors, each line starting "ERROR:". */
function clientError(stdout: string): string | null {
  return /^ERROR: .*$/m.exec(stdout)?.[0] ?? null;
}

export interface CecClientTvOptions extends CecOptions {
  /** The cec-client program. */
  file: string;
}

export class CecClientTv extends ToolTv implements TvControl {
  private readonly args: ReturnType<typeof cecClientArgs>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: CecClientTvOptions) {
    const args = cecClientArgs(opts.osdName ?? 'diemcau', opts.clientPort);
    super({ ...opts, listenArgs: args.listen(), keys: { read: clientKeyOf }, restartDelayMs: opts.listenerRestartMs });
    this.args = args;
    // `as` alone waits up to 15 s for the TV to switch, after libCEC has opened the adapter.
    this.timeoutMs = opts.commandTimeoutMs ?? 30_000;
  }

  /** Every command registers the box itself; starting only starts following keys. */
  async start(): Promise<void> {
    this.listenForKeys();
  }

  wake(): Promise<void> {
    return this.queue.run(async () => {
      await this.command(CEC_CLIENT_COMMANDS.powerOn);
      await this.command(CEC_CLIENT_COMMANDS.activeSource);
    });
  }

  standby(): Promise<void> {
    return this.queue.run(async () => {
      await this.command(CEC_CLIENT_COMMANDS.standby);
    });
  }

  powerStatus(): Promise<TvPowerStatus> {
    return this.queue.run(async () => clientPowerStatusOf((await this.command(CEC_CLIENT_COMMANDS.powerStatus)).stdout));
  }

  private async command(line: string): Promise<ToolOutput> {
    const args = this.args.command();
    this.opts.log.debug({ event: 'cec.command', tool: 'cec-client', args, command: line }, 'cec-client');
    const output = await runTool(this.opts.file, args, { timeoutMs: this.timeoutMs, input: `${line}\n` });
    const problem = clientError(output.stdout);
    if (problem) throw commandFailure('cec-client', [...args, `<<< ${line}`], problem, output);
    return output;
  }
}
