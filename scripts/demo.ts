/**
 * `npm run demo`: two village-hall boxes as they will run, with simulated cameras, microphones
 * and screens, on a fleet of their own: a local mosquitto (loopback only, with passwords and the
 * fleet ACL, and a WebSocket listener for browsers), two daemons in the sim profile, and a call
 * between them started from the fleet console as the commune would. The call page for a host's
 * browser is served too.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { mosquittoAcl } from '../provisioning/acl.js';
import { mosquittoFleetSettings } from '../provisioning/broker.js';
import { startCallPageServer } from '../web-setup/call-page.js';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const stateDir = join(root, '.demo');
const brokerDir = join(stateDir, 'broker');

interface DemoBox {
  id: string;
  name: string;
  village: string;
  /** Each box on this machine needs RTP ports of its own (four pairs from here). */
  portBase: number;
}
/** The commune's hall calls a village hall. */
const BOXES: readonly DemoBox[] = [
  { id: 'demo-box', name: 'Nhà văn hoá thôn Đông', village: 'Thôn Đông', portBase: 15000 },
  { id: 'demo-hq', name: 'Hội trường UBND xã', village: 'UBND xã', portBase: 15010 },
];
const [VILLAGE, HQ] = BOXES as [DemoBox, DemoBox];
const BROWSER_USER = 'host-laptop';
/** The ports the README's lines use; others are picked if they are taken. */
const PREFERRED_PORT = 18830;
const PREFERRED_WS_PORT = 18831;
const PREFERRED_PAGE_PORT = 18880;
const PREFERRED_SETUP_PORT = 18090;
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

async function freePort(preferred: number): Promise<number> {
  return (await listenOn(preferred)) ?? (await listenOn(0))!;
}

const boxDir = (box: DemoBox) => join(stateDir, box.id);

/**
 * mosquitto on 127.0.0.1 with a password for each box, the console and the browser user, the
 * fleet ACL (the browser gets a box's rights: its own prefix and calls addressed to it), and a
 * WebSocket listener for the call page.
 */
async function startBroker(): Promise<{ proc: ChildProcess; url: string; wsUrl: string; browserPassword: string }> {
  mkdirSync(brokerDir, { recursive: true, mode: 0o700 });
  const passwd = join(brokerDir, 'passwd');
  let first = true;
  const addUser = (user: string, password: string) => {
    execFileSync('mosquitto_passwd', first ? ['-b', '-c', passwd, user, password] : ['-b', passwd, user, password]);
    first = false;
  };
  for (const box of BOXES) {
    mkdirSync(boxDir(box), { recursive: true });
    addUser(box.id, secret(join(boxDir(box), 'broker-password')));
  }
  addUser('console', secret(join(stateDir, 'console-password')));
  const browserPassword = secret(join(stateDir, 'browser-password'));
  addUser(BROWSER_USER, browserPassword);
  writeFileSync(join(brokerDir, 'acl'), mosquittoAcl({ consoleUsers: ['console'] }));
  const [port, wsPort] = [await freePort(PREFERRED_PORT), await freePort(PREFERRED_WS_PORT)];
  const lines = [
    'per_listener_settings false',
    `listener ${port} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
    'allow_anonymous false',
    `password_file ${passwd}`,
    `acl_file ${join(brokerDir, 'acl')}`,
    'persistence false',
    ...mosquittoFleetSettings(BOXES.length),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  // As root mosquitto would switch to its own user, who cannot read this directory.
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(join(brokerDir, 'mosquitto.conf'), lines.join('\n') + '\n');
  const proc = spawn('mosquitto', ['-c', join(brokerDir, 'mosquitto.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return { proc, url: `mqtt://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${wsPort}`, browserPassword };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function configPath(box: DemoBox): string {
  return join(boxDir(box), 'config.json');
}

function writeConfig(box: DemoBox, url: string, setupPort: number): void {
  const path = configPath(box);
  const config: Json = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as Json)
    : { version: 1, profile: 'sim', device: { id: box.id, name: box.name, commune: 'Xã Demo', village: box.village } };
  // The broker's port may differ from the last run; everything else a person edited stays.
  config.fleet = { ...config.fleet, url, username: box.id, passwordFile: 'broker-password', telemetryIntervalS: 10 };
  const p = box.portBase;
  config.media = { ...config.media, rtp: { sendVideoPort: p, sendAudioPort: p + 2, receiveVideoPort: p + 4, receiveAudioPort: p + 6 } };
  // Two boxes on one machine: ICE on 127.0.0.1 only.
  // The village's test call (its setup page's "Gọi thử") rings the commune's hall.
  const testCall = box.id === VILLAGE.id ? { peer: HQ.id } : {};
  config.calls = { ...config.calls, loopbackOnly: true, testCall: { ...config.calls?.testCall, ...testCall } };
  // Their setup pages on this machine only (a real box serves its hall's LAN), so no mDNS name
  // is announced on the LAN for a page it cannot reach.
  config.setup = { ...config.setup, host: '127.0.0.1', port: setupPort, mdns: false };
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n');
}

mkdirSync(stateDir, { recursive: true });
const broker = await startBroker();
for (const [i, box] of BOXES.entries()) writeConfig(box, broker.url, await freePort(PREFERRED_SETUP_PORT + i));
const page = await startCallPageServer({
  host: '127.0.0.1',
  port: await freePort(PREFERRED_PAGE_PORT),
  broker: { wsUrl: broker.wsUrl, username: BROWSER_USER, password: broker.browserPassword },
});
const windowed = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const fleetArgs = ['--url', broker.url, '--user', 'console', '--password-file', join(stateDir, 'console-password')];
const fleetLine = `--url ${broker.url} --user console --password-file .demo/console-password`;

process.stdout.write(`
diemcau demo — two village-hall boxes in the simulated profile, on a fleet of their own
  broker      mosquitto on ${broker.url}, and ${broker.wsUrl} for browsers (loopback only; passwords and the fleet ACL in .demo/broker)
  boxes       ${VILLAGE.id} (${VILLAGE.name}) and ${HQ.id} (${HQ.name}): node dist/daemon/main.js --config .demo/<box>/config.json
  media       each: test pattern + tone → encoder → WebRTC (werift) on 127.0.0.1 → the other's decoder → its screen and speaker
  call        once both are up, the fleet console tells ${HQ.id} to call ${VILLAGE.id} (join peer=${VILLAGE.id})
  screens     ${windowed ? 'a window per box on your desktop' : 'headless (no DISPLAY): watch the "media" and "call" lines below'}
  browser     ${page.url}?box=${VILLAGE.id} — a host joins a box from Chrome (it must be idle: leave the demo call first)
  fleet       in another terminal:
                npm run fleet -- ${fleetLine} list
                npm run fleet -- ${fleetLine} send ${HQ.id} leave
                npm run fleet -- ${fleetLine} send ${HQ.id} join peer=${VILLAGE.id}
                npm run fleet -- ${fleetLine} send ${VILLAGE.id} diagnostics
                npm run fleet -- ${fleetLine} watch --all
  setup page  each box's LAN setup page: its address and one-time code are printed below (and drawn on its TV)
  config      .demo/<box>/config.json (edit it, then \`kill -HUP <daemon pid>\` reloads it; a bad edit is refused and named)
  logs        each daemon log record below as one short line (the daemon itself writes JSON, for the journal)
Ctrl-C stops everything.
`);

/** The daemon logs JSON for the journal; a person reading the demo wants one short line each. */
function humanLine(box: DemoBox, line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const { level, time, pid, name, device, msg, part, ...rest } = record;
    void level, void pid, void name, void device;
    const when = new Date(Number(time)).toLocaleTimeString('vi-VN', { hour12: false });
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${when} ${box.id} ${part ? `[${String(part)}] ` : ''}${String(msg)}${fields ? `  ${fields}` : ''}`;
  } catch {
    return `${box.id} ${line}`;
  }
}

const daemons = new Map<string, ChildProcess>();
const ready = new Set<string>();
let stopping = false;
let called = false;

function startDaemon(box: DemoBox): void {
  const daemon = spawn(process.execPath, [join(root, 'dist/daemon/main.js'), '--config', configPath(box), '--profile', 'sim', '--stats-every', '10'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  daemons.set(box.id, daemon);
  process.stdout.write(`  ${box.id} pid ${daemon.pid}\n`);
  createInterface({ input: daemon.stdout! }).on('line', (line) => {
    process.stdout.write(humanLine(box, line) + '\n');
    noteSetup(box, line);
    if (line.includes('"fleet.connected"')) onBoxReady(box, 'broker');
    if (line.includes('"media worker state"') && line.includes('"state":"running"')) onBoxReady(box, 'media');
  });
  daemon.on('exit', (code) => {
    if (code === EXIT_RESTART && !stopping) {
      process.stdout.write(`  ${box.id} asked to be restarted (systemd would start it again): starting it again\n`);
      return startDaemon(box);
    }
    stopAll();
    daemons.delete(box.id);
    if (daemons.size === 0) process.exit(code ?? 0);
  });
}

const setupPages = new Map<string, { port?: number; code?: string }>();

/** The setup page's address and its code, said plainly (what the TV shows in the hall), once both are known and at each new code. */
function noteSetup(box: DemoBox, line: string): void {
  if (!line.includes('"setup.')) return;
  let record: Json;
  try {
    record = JSON.parse(line) as Json;
  } catch {
    return;
  }
  const page = setupPages.get(box.id) ?? {};
  if (record.event === 'setup.listening') page.port = record.port as number;
  else if (record.event === 'setup.code') page.code = record.code as string;
  else return;
  setupPages.set(box.id, page);
  if (page.port && page.code) process.stdout.write(`  ${box.id} setup page: http://127.0.0.1:${page.port}/  setup code ${page.code}\n`);
}

/** Once both boxes have their media and the broker, the commune's hall calls the village, as the console would. */
function onBoxReady(box: DemoBox, part: 'broker' | 'media'): void {
  ready.add(`${box.id}/${part}`);
  if (called || ready.size < BOXES.length * 2) return;
  called = true;
  process.stdout.write(`  both boxes are up: ${HQ.id} calls ${VILLAGE.id}\n`);
  const send = spawn(process.execPath, [join(root, 'dist/console/main.js'), ...fleetArgs, 'send', HQ.id, 'join', `peer=${VILLAGE.id}`, '--timeout', '20s'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  send.on('exit', (code) => {
    if (code !== 0) process.stdout.write(`  the join command failed (exit ${code}); try it again with the line above\n`);
  });
}

for (const box of BOXES) startDaemon(box);
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  for (const daemon of daemons.values()) daemon.kill('SIGTERM');
  void page.close();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, stopAll);
// Whoever reads our output went away (a closed pipe): stop the daemons rather than orphan them.
process.stdout.on('error', stopAll);
process.on('exit', () => {
  for (const daemon of daemons.values()) daemon.kill('SIGTERM');
  broker.proc.kill('SIGTERM');
});
broker.proc.on('exit', (code) => {
  if (!stopping) process.stdout.write(`  mosquitto exited (code ${code}); the boxes keep retrying\n`);
});
