import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

const execFileP = promisify(execFile);

export interface BrokerOptions {
  /** Allow clients without credentials (default true; false when `users` is given). */
  allowAnonymous?: boolean;
  /** user → password, written to a password file with `mosquitto_passwd -b -c`. */
  users?: Record<string, string>;
  /** Serve MQTT over TLS (`mqtts://`) with a throw-away CA made by `makeTestPki` (in the broker's dir). */
  tls?: boolean;
  /** Extra lines for mosquitto.conf. */
  extraConfig?: string[];
}

export interface Broker {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** With `tls`: the CA certificate that signs the broker's certificate (SAN IP:127.0.0.1). */
  readonly caFile?: string;
  /** Everything mosquitto wrote on stderr/stdout (its log). */
  output(): string;
  /** Stops the broker (SIGTERM, then SIGKILL) without removing its files; `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** kill() then start(): the same port, no retained messages kept (no persistence). */
  restart(): Promise<void>;
  /** Kills the broker and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a real mosquitto on a free 127.0.0.1 port with its own config in a temp dir and
 * resolves once it accepts TCP connections. Tests must `t.teardown(broker.stop)`.
 */
export async function startMosquitto(options: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-mosquitto-'));
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let stopped = false;
  try {
    const port = await freeTcpPort();
    const lines = [`listener ${port} 127.0.0.1`, 'persistence false', 'log_dest stderr', 'log_type all'];
    const pki = options.tls ? await makeTestPki(dir) : undefined;
    // cafile: what client certificates (require_certificate) are checked against.
    if (pki) lines.push(`certfile ${pki.serverCertFile}`, `keyfile ${pki.serverKeyFile}`, `cafile ${pki.caFile}`);
    const anonymous = options.allowAnonymous ?? !options.users;
    // As root, mosquitto would switch to the `mosquitto` user, who cannot read this private
    // temp dir (the password file): stay as whoever runs the tests.
    if (process.getuid?.() === 0) lines.push('user root');
    lines.push(`allow_anonymous ${anonymous ? 'true' : 'false'}`);
    if (options.users) {
      const passwordFile = join(dir, 'passwd');
      let first = true;
      for (const [user, password] of Object.entries(options.users)) {
        await execFileP(MOSQUITTO_PASSWD, first ? ['-b', '-c', passwordFile, user, password] : ['-b', passwordFile, user, password]);
        first = false;
      }
      lines.push(`password_file ${passwordFile}`);
    }
    lines.push(...(options.extraConfig ?? []));
    const configFile = join(dir, 'mosquitto.conf');
    await writeFile(configFile, lines.join('\n') + '\n');

    const start = async (): Promise<void> => {
      const child = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = child;
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      let gone = false;
      exited = new Promise((resolve) =>
        child.once('exit', () => {
          gone = true;
          resolve();
        }),
      );
      await waitUntil(
        `mosquitto accepts connections on port ${port}`,
        async () => {
          if (gone) throw new Error(`mosquitto exited at start: ${output}`);
          return acceptsTcp(port);
        },
        { timeoutMs: 10_000, intervalMs: 25 },
      );
    };

    const kill = async (): Promise<void> => {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };

    await start();
    return {
      url: `${pki ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
      port,
      dir,
      ...(pki ? { caFile: pki.caFile } : {}),
      output: () => output,
      kill,
      start,
      restart: async () => {
        await kill();
        await start();
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await kill();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface TestPki {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
}

/**
 * A client certificate signed by the CA `makeTestPki` made in `dir`, with `commonName` as its
 * subject CN (mosquitto's `use_identity_as_username` makes it the user name).
 */
export async function makeClientCert(dir: string, commonName: string): Promise<{ certFile: string; keyFile: string }> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileP('openssl', ['req', ...ec, '-keyout', f(`${commonName}.key`), '-out', f(`${commonName}.csr`), '-subj', `/CN=${commonName}`]);
  await execFileP('openssl', ['x509', '-req', '-in', f(`${commonName}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f(`${commonName}.crt`), '-days', '2']);
  return { certFile: f(`${commonName}.crt`), keyFile: f(`${commonName}.key`) };
}

/** A throw-away CA (P-256) and a server certificate it signs for 127.0.0.1 and localhost, made with openssl in `dir`. */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileP('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2',
    '-subj', '/CN=diemcau-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await execFileP('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await execFileP('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext')]);
  return { caFile: f('ca.crt'), serverCertFile: f('server.crt'), serverKeyFile: f('server.key') };
}
