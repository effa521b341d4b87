import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { freeUdpPorts } from './ports.js';
import { PROJECT_ROOT } from './project.js';
import { waitUntil } from './wait.js';

/** The built daemon, as systemd runs it (npm test builds before running the suite). */
export const DAEMON = join(PROJECT_ROOT, 'dist/daemon/main.js');
export const CLI = join(PROJECT_ROOT, 'dist/daemon/cli.js');

export type LogRecord = Record<string, unknown> & { msg?: string; level?: number };

export interface RunningProcess {
  proc: ChildProcess;
  /** Every JSON log line so far, parsed. */
  logs: LogRecord[];
  stderr(): string;
  waitForLog(what: string, predicate: (r: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs a Node script with its JSON log lines collected; `wrapper` runs it through another
 * command, e.g. `['ip', 'netns', 'exec', 'box-a']` (which execs, so the pid is Node's).
 */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}, wrapper: readonly string[] = []): RunningProcess {
  const [command, ...commandArgs] = [...wrapper, process.execPath, script, ...args] as [string, ...string[]];
  const proc = spawn(command, commandArgs, {
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogRecord[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogRecord);
    } catch {
      logs.push({ msg: line });
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    logs,
    stderr: () => stderr,
    async waitForLog(what, predicate, timeoutMs = 30_000) {
      await waitUntil(what, () => logs.some(predicate), { timeoutMs }, () => logs.slice(-3).map((r) => r.msg));
      return logs.find(predicate)!;
    },
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Is a process still there? (signal 0 checks without touching it) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A small, valid sim-profile config on free ports: 360p x264, quick media restarts. */
export async function simDaemonConfig(): Promise<Record<string, unknown>> {
  const [a, b, c, d] = await freeUdpPorts(4);
  return {
    version: 1,
    profile: 'sim',
    device: { id: 'test-box', name: 'Thôn Thử' },
    media: {
      video: { size: '640x360', encoders: ['x264enc'] },
      rtp: { sendVideoPort: a, sendAudioPort: b, receiveVideoPort: c, receiveAudioPort: d },
      restart: { initialDelayMs: 200, maxDelayMs: 2000 },
    },
    // The sim profile's simulated TV is on by default; its buttons and light are wired here.
    hardware: { gpio: { enabled: true } },
    // Several boxes run side by side: each setup page on a free loopback port.
    // mDNS would announce on this machine's own networks: tests keep to loopback.
    setup: { host: '127.0.0.1', port: 0, mdns: false },
  };
}
