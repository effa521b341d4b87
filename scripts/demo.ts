/**
 * `npm run demo`: the box as it will run in a village hall, with simulated camera, microphone
 * and screen, on a fleet of one: a local mosquitto (loopback only, with passwords and the
 * fleet ACL) and the daemon in the sim profile with the media loopback (camera → H.264 → RTP →
 * decode → screen), connected to it. Later steps add the setup page here.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { mosquittoAcl } from '../provisioning/acl.js';
import { mosquittoFleetSettings } from '../provisioning/broker.js';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const stateDir = join(root, '.demo');
const brokerDir = join(stateDir, 'broker');
const configPath = join(stateDir, 'config.json');
const BOX_ID = 'demo-box';
/** The port the README's diemcau-fleet line uses; another one is picked if it is taken. */
const PREFERRED_PORT = 18830;
/** Exit code of a daemon asked to restart (fleet `restart`): systemd starts it again, so does the demo. */
const EXIT_RESTART = 75;

function secret(file: string): string {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => done(bound));
    });
  });
}

async function freePort(): Promise<number> {
  return (await listenOn(PREFERRED_PORT)) ?? (await listenOn(0))!;
}

/** mosquitto on 127.0.0.1 with a password for the box and one for the console, and the fleet ACL. */
async function startBroker(): Promise<{ proc: ChildProcess; url: string }> {
  mkdirSync(brokerDir, { recursive: true, mode: 0o700 });
  const boxPassword = secret(join(stateDir, 'broker-password'));
  const consolePassword = secret(join(stateDir, 'console-password'));
  const passwd = join(brokerDir, 'passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', passwd, BOX_ID, boxPassword]);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'console', consolePassword]);
  writeFileSync(join(brokerDir, 'acl'), mosquittoAcl({ consoleUsers: ['console'] }));
  const port = await freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${passwd}`,
    `acl_file ${join(brokerDir, 'acl')}`,
    'persistence false',
    ...mosquittoFleetSettings(1),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  // As root mosquitto would switch to its own user, who cannot read this directory.
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(join(brokerDir, 'mosquitto.conf'), lines.join('\n') + '\n');
  const proc = spawn('mosquitto', ['-c', join(brokerDir, 'mosquitto.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return { proc, url: `mqtt://127.0.0.1:${port}` };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function writeConfig(url: string): void {
  const config: Json = existsSync(configPath)
    ? (JSON.parse(readFileSync(configPath, 'utf8')) as Json)
    : { version: 1, profile: 'sim', device: { id: BOX_ID, name: 'Nhà văn hoá thôn Demo', commune: 'Xã Demo', village: 'Thôn Demo' } };
  // The broker's port may differ from the last run; everything else a person edited stays.
  config.fleet = { ...config.fleet, url, username: BOX_ID, passwordFile: 'broker-password', telemetryIntervalS: 10 };
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
}

mkdirSync(stateDir, { recursive: true });
const broker = await startBroker();
writeConfig(broker.url);
const windowed = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const fleetArgs = `--url ${broker.url} --user console --password-file .demo/console-password`;

process.stdout.write(`
diemcau demo — the box in the simulated profile, on a fleet of one
  broker      mosquitto on ${broker.url} (loopback only; passwords and the fleet ACL in .demo/broker)
  daemon      node dist/daemon/main.js --config ${configPath} --profile sim --loopback
  media       test pattern + 440 Hz tone → encoder → RTP on 127.0.0.1 → decoder → screen and speaker
  screen      ${windowed ? 'a window on your desktop' : 'headless (no DISPLAY): watch the "media" lines below for frames per second'}
  config      ${configPath} (edit it, then \`kill -HUP <daemon pid>\` reloads it; a bad edit is refused and named)
  fleet       in another terminal:
                npm run fleet -- ${fleetArgs} list
                npm run fleet -- ${fleetArgs} send ${BOX_ID} message text="Họp lúc 8 giờ" seconds=20
                npm run fleet -- ${fleetArgs} watch --all
  logs        each daemon log record below as one short line (the daemon itself writes JSON, for the journal)
Ctrl-C stops everything.
`);

/** The daemon logs JSON for the journal; a person reading the demo wants one short line each. */
function humanLine(line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const { level, time, pid, name, device, msg, part, ...rest } = record;
    void level, void pid, void name, void device;
    const when = new Date(Number(time)).toLocaleTimeString('vi-VN', { hour12: false });
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${when} ${part ? `[${String(part)}] ` : ''}${String(msg)}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

let daemon: ChildProcess;
let stopping = false;
function startDaemon(): void {
  daemon = spawn(
    process.execPath,
    [join(root, 'dist/daemon/main.js'), '--config', configPath, '--profile', 'sim', '--loopback', '--stats-every', '5'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.stdout.write(`  daemon pid  ${daemon.pid}\n\n`);
  createInterface({ input: daemon.stdout! }).on('line', (line) => process.stdout.write(humanLine(line) + '\n'));
  daemon.on('exit', (code) => {
    if (code === EXIT_RESTART && !stopping) {
      process.stdout.write('  the daemon asked to be restarted (systemd would start it again): starting it again\n');
      return startDaemon();
    }
    broker.proc.kill('SIGTERM');
    process.exit(code ?? 0);
  });
}

startDaemon();
const stopAll = () => {
  stopping = true;
  daemon.kill('SIGTERM');
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, stopAll);
// Whoever reads our output went away (a closed pipe): stop the daemon rather than orphan it.
process.stdout.on('error', stopAll);
process.on('exit', () => {
  daemon.kill('SIGTERM');
  broker.proc.kill('SIGTERM');
});
broker.proc.on('exit', (code) => {
  if (!stopping) process.stdout.write(`  mosquitto exited (code ${code}); the box keeps retrying\n`);
});
