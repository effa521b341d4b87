/**
 * A mosquitto for the fleet benchmark: like test/helpers/mosquitto.ts `startMosquitto`, but
 * built for thousands of users and a long run. The password file is hashed in one
 * `mosquitto_passwd -U` pass over a plain-text file (one `mosquitto_passwd -b` per user, as the
 * test helper does, takes minutes for 1 000 users); the log keeps errors, warnings and notices
 * only (`log_type all` would log every PUBLISH, loading the broker being measured) and only its
 * tail is kept in memory; the broker's pid is exposed for /proc CPU and memory readings.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acceptsTcp, freeTcpPort, makeTestPki, MOSQUITTO, MOSQUITTO_PASSWD } from '../test/helpers/mosquitto.js';

const execFileP = promisify(execFile);
const LOG_TAIL_CHARS = 64 * 1024;
/** Warnings mosquitto prints at every start here (running as root; ACL patterns without %u). */
const STARTUP_NOISE = /should not be run as root|ACL pattern/;

export interface BenchBrokerOptions {
  /** user → password (plain text; hashed with sha512-pbkdf2, mosquitto's default). */
  users: ReadonlyMap<string, string>;
  /** Contents of the `acl_file`. */
  acl: string;
  tls: boolean;
  /** Extra mosquitto.conf lines (e.g. `max_inflight_messages 100`). */
  extraConfig?: readonly string[];
}

/** Log lines worth counting: each one means a box or the console lost something. */
export interface BrokerLogCounts {
  /** "Client X has exceeded timeout, disconnecting." (keepalive missed). */
  keepaliveTimeouts: number;
  /** "Outgoing messages are being dropped for client X." (max_queued_messages reached). */
  droppedOutgoing: number;
  /** Other error or warning lines (by their words), but the start-up ones about root and the ACL. */
  errors: number;
  /** The first few of those lines, to say what they were. */
  errorLines: string[];
}

export interface BenchBroker {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly caFile?: string;
  /** Seconds `mosquitto_passwd -U` took for all users. */
  readonly hashSeconds: number;
  /** The last 64 KiB of the broker's log. */
  logTail(): string;
  counts(): BrokerLogCounts;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** For an emergency exit: SIGKILL and remove the temp dir, synchronously. */
  killNow(): void;
}


export async function startBenchBroker(options: BenchBrokerOptions): Promise<BenchBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-bench-mosquitto-'));
  let child: ChildProcess | undefined;
  try {
    const port = await freeTcpPort();
    const lines = [
      `listener ${port} 127.0.0.1`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_timestamp_format %H:%M:%S',
    ];
    const pki = options.tls ? await makeTestPki(dir) : undefined;
    if (pki) lines.push(`certfile ${pki.serverCertFile}`, `keyfile ${pki.serverKeyFile}`);
    // As root, mosquitto would switch to the `mosquitto` user, who cannot read this temp dir.
    if (process.getuid?.() === 0) lines.push('user root');
    lines.push('allow_anonymous false');

    const passwordFile = join(dir, 'passwd');
    let plain = '';
    for (const [user, password] of options.users) {
      if (/[:\n]/.test(user) || password.includes('\n')) throw new Error(`user ${JSON.stringify(user)}: no ':' or newline`);
      plain += `${user}:${password}\n`;
    }
    await writeFile(passwordFile, plain, { mode: 0o600 });
    const hashStart = performance.now();
    await execFileP(MOSQUITTO_PASSWD, ['-U', passwordFile]);
    const hashSeconds = (performance.now() - hashStart) / 1000;
    await chmod(passwordFile, 0o600);
    lines.push(`password_file ${passwordFile}`);

    const aclFile = join(dir, 'acl');
    await writeFile(aclFile, options.acl);
    lines.push(`acl_file ${aclFile}`, ...(options.extraConfig ?? []));
    const configFile = join(dir, 'mosquitto.conf');
    await writeFile(configFile, lines.join('\n') + '\n');

    let tail = '';
    let partial = '';
    const counts: BrokerLogCounts = { keepaliveTimeouts: 0, droppedOutgoing: 0, errors: 0, errorLines: [] };
    const onOutput = (d: Buffer) => {
      const text = partial + d.toString();
      const split = text.split('\n');
      partial = split.pop() ?? '';
      for (const line of split) {
        if (line.includes('exceeded timeout')) counts.keepaliveTimeouts++;
        else if (line.includes('messages are being dropped')) counts.droppedOutgoing++;
        else if (/error|warning|unable|out of memory/i.test(line) && !STARTUP_NOISE.test(line)) {
          counts.errors++;
          if (counts.errorLines.length < 5) counts.errorLines.push(line);
        }
      }
      tail = (tail + d.toString()).slice(-LOG_TAIL_CHARS);
    };
    const proc = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout!.on('data', onOutput);
    proc.stderr!.on('data', onOutput);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const started = performance.now();
    while (!(await acceptsTcp(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`mosquitto exited at start: ${tail}`);
      if (performance.now() - started > 10_000) throw new Error(`mosquitto did not listen on ${port} within 10 s: ${tail}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // The readiness probes above log a failed (TLS: "unexpected eof") connection each: not the run's.
    await new Promise((r) => setTimeout(r, 200));
    Object.assign(counts, { keepaliveTimeouts: 0, droppedOutgoing: 0, errors: 0, errorLines: [] });

    let stopped = false;
    const running = () => proc.exitCode === null && proc.signalCode === null;
    return {
      url: `${pki ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
      port,
      pid: proc.pid!,
      dir,
      ...(pki ? { caFile: pki.caFile } : {}),
      hashSeconds,
      logTail: () => tail,
      counts: () => ({ ...counts, errorLines: [...counts.errorLines] }),
      async stop() {
        if (stopped) return;
        stopped = true;
        if (running()) {
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
      killNow() {
        stopped = true;
        if (running()) proc.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
