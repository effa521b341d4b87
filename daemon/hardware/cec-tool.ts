import { execFile, spawn, type ChildProcess, type ExecFileException } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DcError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { TvControlEvents, TvKey } from './cec.js';

/**
 * What the two CEC backends (cec-ctl, cec-client) share: finding and running the tool, the
 * remote-key table of the CEC specification, the long-running process that follows keys, and
 * the base class that holds them.
 */

/** No CEC here (no tool, no device): the daemon carries on without it. */
export const CEC_UNAVAILABLE: ErrorCode = 'DC_CEC_UNAVAILABLE';
/** A CEC command that failed or was not acknowledged by the TV. */
export const CEC_COMMAND_FAILED: ErrorCode = 'DC_CEC_COMMAND';

export type CecToolName = 'cec-ctl' | 'cec-client';

/** The Debian package that installs each tool, named in every "not installed" error. */
export const CEC_TOOL_PACKAGES: Record<CecToolName, string> = { 'cec-ctl': 'v4l-utils', 'cec-client': 'cec-utils' };

export function cecUnavailable(message: string, details: Record<string, unknown> = {}): DcError {
  return new DcError(CEC_UNAVAILABLE, message, { part: 'cec', ...details });
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the directories of `searchPath` (a $PATH value), or null. */
export async function findExecutable(name: string, searchPath: string): Promise<string | null> {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    if (await isExecutable(file)) return file;
  }
  return null;
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

export interface RunToolOptions {
  timeoutMs: number;
  /** Written to the tool's stdin (cec-client reads its command there); stdin is closed either way. */
  input?: string;
}

/**
 * Runs a CEC tool (never through a shell) and resolves with its output. Rejects with a coded
 * error that carries the tool's stderr when it exits non-zero or outlives `timeoutMs`, and
 * with CEC_UNAVAILABLE when the program has gone.
 */
export function runTool(file: string, args: readonly string[], opts: RunToolOptions): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    const options = { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 1024 * 1024, encoding: 'utf8' as const };
    const child = execFile(file, [...args], options, (error, stdout, stderr) => {
      if (!error) resolve({ stdout, stderr });
      else reject(toolFailure(file, args, error, { stdout, stderr }, opts.timeoutMs));
    });
    // A tool that exits without reading its stdin must not fail the run with EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

function toolFailure(file: string, args: readonly string[], error: ExecFileException, output: ToolOutput, timeoutMs: number): DcError {
  const tool = basename(file);
  if (error.code === 'ENOENT') {
    const pkg = CEC_TOOL_PACKAGES[tool as CecToolName];
    return cecUnavailable(`${tool} is not installed${pkg ? ` (Debian package ${pkg})` : ''}`, { tool, file, package: pkg });
  }
  const timedOut = error.killed === true;
  const exitCode = typeof error.code === 'number' ? error.code : null;
  // cec-client reports its failures on stdout; its last lines stand in for an empty stderr.
  const said = output.stderr.trim() || lastLines(output.stdout, 3);
  const reason = timedOut ? `timed out after ${timeoutMs} ms` : `exited with code ${exitCode}`;
  return new DcError(CEC_COMMAND_FAILED, `${tool} ${args.join(' ')} ${reason}${said ? `: ${said}` : ''}`, {
    part: 'cec',
    tool,
    args: [...args],
    exitCode,
    timedOut,
    stderr: output.stderr,
  });
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n').trim();
}

/** A command failure found in the output of a tool that exited 0 (both tools do on a NACK). */
export function commandFailure(tool: string, args: readonly string[], problem: string, output: ToolOutput): DcError {
  return new DcError(CEC_COMMAND_FAILED, `${tool} ${args.join(' ')}: ${problem}`, {
    part: 'cec',
    tool,
    args: [...args],
    stdout: output.stdout,
    stderr: output.stderr,
  });
}

/**
 * <User Control Pressed> operands (CEC 2.0, include/linux/cec.h "UI Command Operand") of the
 * keys the box acts on. Keyed by number because both tools print it: cec-ctl as "(0x41)",
 * cec-client as the frame byte "41".
 */
const KEY_OF_UI_COMMAND = new Map<number, TvKey>([
  [0x00, 'select'],
  [0x01, 'up'],
  [0x02, 'down'],
  [0x03, 'left'],
  [0x04, 'right'],
  [0x0d, 'back'],
  [0x41, 'volume-up'],
  [0x42, 'volume-down'],
  [0x43, 'mute'],
  [0x44, 'play'],
  [0x45, 'stop'],
  [0x46, 'pause'],
]);

/** The key of a UI command operand, or undefined for the many keys the box ignores. */
export function keyOfUiCommand(code: number): TvKey | undefined {
  return KEY_OF_UI_COMMAND.get(code);
}

/** CEC opcode of <User Control Pressed>. */
export const USER_CONTROL_PRESSED = 0x44;

/** One command at a time on the CEC bus, in the order asked: a standby never overtakes a wake. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export interface LineProcessOptions {
  file: string;
  args: readonly string[];
  log: Logger;
  onLine(line: string): void;
  /**
   * Wait before restarting a process that ended, default 5 s; it doubles, up to 5 minutes,
   * while the process keeps ending without printing anything (cec-ctl --monitor without
   * CAP_NET_ADMIN ends at once), and is back to this after a run that printed.
   */
  restartDelayMs?: number;
}

const MAX_RESTART_DELAY_MS = 5 * 60_000;
const STOP_GRACE_MS = 2000;

/** A tool that runs until stopped and prints one event per line; restarted when it ends. */
export class LineProcess {
  private child: ChildProcess | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly firstDelayMs: number;
  private nextDelayMs: number;

  constructor(private readonly opts: LineProcessOptions) {
    this.firstDelayMs = opts.restartDelayMs ?? 5000;
    this.nextDelayMs = this.firstDelayMs;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.spawnOnce();
  }

  /** Ends the process (SIGTERM, SIGKILL after 2 s) and any pending restart; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private spawnOnce(): void {
    const { file, args, log } = this.opts;
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let printed = false;
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      printed = true;
      this.opts.onLine(line);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.on('error', (e) => log.warn({ event: 'cec.listener_error', tool: basename(file), err: e.message }, 'CEC key listener could not run'));
    child.once('close', (code, signal) => {
      this.child = null;
      if (this.stopped) return;
      const delayMs = printed ? this.firstDelayMs : this.nextDelayMs;
      this.nextDelayMs = Math.min(delayMs * 2, MAX_RESTART_DELAY_MS);
      log.warn(
        { event: 'cec.listener_ended', tool: basename(file), code, signal, stderr: stderr.trim(), restartInMs: delayMs },
        'CEC key listener ended; restarting it',
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopped) this.spawnOnce();
      }, delayMs);
    });
  }
}

/** Reads remote keys out of a key listener's output, one line at a time. */
export interface KeyReader {
  read(line: string): TvKey | undefined;
}

/** The part of a TV control common to both tools: one command at a time, and a key listener. */
export abstract class ToolTv extends TypedEmitter<TvControlEvents> {
  protected readonly queue = new SerialQueue();
  private readonly listener: LineProcess;

  constructor(opts: { file: string; listenArgs: readonly string[]; keys: KeyReader; log: Logger; restartDelayMs?: number }) {
    super();
    this.listener = new LineProcess({
      file: opts.file,
      args: opts.listenArgs,
      log: opts.log,
      restartDelayMs: opts.restartDelayMs,
      onLine: (line) => {
        const key = opts.keys.read(line);
        if (key) this.emit('key', key);
      },
    });
  }

  async close(): Promise<void> {
    await this.listener.stop();
  }

  protected listenForKeys(): void {
    this.listener.start();
  }
}
