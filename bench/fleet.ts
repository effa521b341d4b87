/**
 * A fleet on this machine: N simulated boxes — the real fleet part (`Fleet`: connection with
 * presence, command router, telemetry through the on-disk outbox), without media, all in this
 * one process — against one local mosquitto with a password per box and the fleet ACL.
 * Prints how long the N boxes take to connect, then, with telemetry flowing, the broker's CPU
 * and memory, this process's memory per box and the telemetry rate a console receives; then
 * fans a `ping` out to every box (`diemcau/all/cmd/ping`) several times and reports the time to
 * the last reply (the target is under 2 s for 1 000 boxes).
 *
 *   node dist/bench/fleet.js [--boxes 1000] [--interval 10] [--settle 30] [--rounds 5] [--tls] [--json]
 *
 * Other options: --batch 50 (boxes started at once), --gap 2 (s between rounds), --reply-timeout
 * 10 (s), --reply-qos 1 (the console's subscription to the replies), --keepalive 30 (s),
 * --deadline 900 (s, the whole run), --mosquitto-conf 'line' (repeatable, added to mosquitto.conf),
 * --cpu-profile DIR (V8 CPU profiles of this process while connecting, in steady state and
 * during the fan-out rounds, saved as .cpuprofile files and summed up by module in the report),
 * --hold S (after the rounds, keep the fleet up S seconds and print the DIEMCAU_FLEET_*
 * settings for trying the console, `node dist/console/main.js send all ping`, against it).
 * Keep --settle a multiple of --interval (each box then sends a whole number of messages).
 * The broker and the boxes share this machine's cores: the broker's figures are its own (from
 * /proc), the times are those of boxes that share one event loop. Needs about 2 file descriptors
 * a box here (socket + outbox segment) and 1 in mosquitto: Node raises its soft RLIMIT_NOFILE to
 * the hard limit by itself; if the hard one is too low, the bench runs itself again under
 * `ulimit -n` (works as root only) or says what to raise.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { ConfigStore } from '../daemon/config/index.js';
import { mosquittoFleetSettings } from '../provisioning/broker.js';
import { Fleet } from '../daemon/fleet/fleet.js';
import { HealthCollector } from '../daemon/health/index.js';
import { createLogger } from '../daemon/log.js';
import { mosquittoAcl } from '../provisioning/acl.js';
import { fleetWithoutMedia } from '../test/helpers/fleet.js';
import { MOSQUITTO } from '../test/helpers/mosquitto.js';
import { startBenchBroker, type BenchBroker } from './fleet-broker.js';
import { fsType } from './filesystem.js';

const { values } = parseArgs({
  options: {
    boxes: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '10' },
    settle: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '50' },
    gap: { type: 'string', default: '2' },
    'reply-timeout': { type: 'string', default: '10' },
    'reply-qos': { type: 'string', default: '1' },
    keepalive: { type: 'string', default: '30' },
    deadline: { type: 'string', default: '900' },
    'mosquitto-conf': { type: 'string', multiple: true, default: [] },
    tls: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'cpu-profile': { type: 'string' },
    hold: { type: 'string', default: '0' },
  },
});
const N = Number(values.boxes);
const INTERVAL_S = Number(values.interval);
const SETTLE_S = Number(values.settle);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const GAP_S = Number(values.gap);
const REPLY_TIMEOUT_S = Number(values['reply-timeout']);
const REPLY_QOS = Number(values['reply-qos']) === 0 ? 0 : 1;
const KEEPALIVE_S = Number(values.keepalive);
const HOLD_S = Number(values.hold);
const DEADLINE_S = Number(values.deadline) + HOLD_S;
const TLS = values.tls!;
for (const [name, v] of Object.entries({ N, HOLD_S, INTERVAL_S, SETTLE_S, ROUNDS, BATCH, GAP_S, REPLY_TIMEOUT_S, KEEPALIVE_S, DEADLINE_S })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad value for ${name}: ${v}`);
}
if (N < 1 || BATCH < 1 || INTERVAL_S < 5) throw new Error('--boxes and --batch must be at least 1, --interval at least 5 (the config minimum)');

// --- open files: mosquitto and this process each hold one socket a box; boxes also an outbox file ----

function nofile(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft = '0', hard = '0'] = (line ?? '').slice('Max open files'.length).trim().split(/\s+/);
  const num = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(soft), hard: num(hard) };
}

const NEEDED_FDS = 2 * N + 256;
{
  // Node raises its soft limit to the hard one when it starts (and mosquitto, started from here,
  // inherits it): only a hard limit that is too low is left, and raising that needs root
  // (CAP_SYS_RESOURCE). Then the bench runs itself again under `ulimit -n`.
  const { soft, hard } = nofile();
  if (soft < NEEDED_FDS) {
    const hint = `fleet bench: ${N} boxes need ~${NEEDED_FDS} open files; the limit is ${soft} (hard ${hard}). Raise it (ulimit -n, as root) or use fewer boxes.\n`;
    if (process.env.DIEMCAU_BENCH_REEXEC) {
      process.stderr.write(hint);
      process.exit(1);
    }
    const target = Math.max(NEEDED_FDS, 4096);
    process.stderr.write(`fleet bench: raising the open-files limit from ${soft} to ${target} (re-executing under ulimit -n)\n`);
    const r = spawnSync('bash', ['-c', `ulimit -n ${target} && exec "$@"`, 'fleet-bench', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, DIEMCAU_BENCH_REEXEC: String(soft) },
    });
    if (r.status !== 0) process.stderr.write(hint);
    process.exit(r.status ?? 1);
  }
}

// --- helpers ------------------------------------------------------------------------------------

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CLK_TCK = 100; // USER_HZ on Linux
const PAGE = 4096;
const MB = 1024 * 1024;
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : NaN);

function procStat(pid: number | 'self'): { ticks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ticks: Number(f[11]) + Number(f[12]), rssBytes: Number(f[21]) * PAGE };
}

/** Busy and total jiffies of the whole machine (for "how loaded were the cores"). */
function machineTicks(): { busy: number; total: number } {
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Bytes this process (all its threads: the outboxes' writes) sent to the block layer. */
function writeBytes(): number {
  return Number(/^write_bytes: (\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function memory(): { rss: number; heapUsed: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** CPU of this process and the broker, and of the machine, over a stretch of time. */
function cpuMeter(brokerPid: number) {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const broker0 = procStat(brokerPid).ticks;
  const machine0 = machineTicks();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(self0);
    const machine = machineTicks();
    const brokerCpuS = (procStat(brokerPid).ticks - broker0) / CLK_TCK;
    const nodeCpuS = (self.user + self.system) / 1e6;
    const machineCpuS = (machine.busy - machine0.busy) / CLK_TCK;
    return {
      seconds,
      brokerCpuS,
      nodeCpuS,
      /** % of one core. */
      brokerPct: (100 * brokerCpuS) / seconds,
      nodePct: (100 * nodeCpuS) / seconds,
      /** % of all cores of the machine busy (anything). */
      machinePct: (100 * (machine.busy - machine0.busy)) / Math.max(1, machine.total - machine0.total),
      /** CPU used by everything else on the machine (other people's tests, the kernel's flushing), s. */
      othersCpuS: Math.max(0, machineCpuS - brokerCpuS - nodeCpuS),
    };
  };
}

// --- where this process spends its CPU (--cpu-profile) ------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}
interface ProfileSummary {
  file: string;
  /** ms sampled, idle excluded. */
  busyMs: number;
  /** Share of busy time by module: npm package, daemon/<part>, node:<area>, GC, … */
  byModule: Array<[string, number]>;
  topFunctions: Array<[string, number]>;
}

function moduleOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/(daemon\/[^/]+|bench|test\/helpers|provisioning)\//.exec(url);
  if (own) return own[1]!;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (internal) return `node:${internal[1]!.replace(/\.js$/, '')}`;
  return url;
}

/** Self time by module and by function, summed over one phase's profiles. */
function summarize(list: readonly CpuProfile[], file: string): ProfileSummary {
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const profile of list) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      const frame = byId.get(samples[i]!)?.callFrame;
      const us = deltas[i + 1] ?? 0; // a sample's time is the gap to the next one
      if (!frame || frame.functionName === '(idle)') continue;
      busy += us;
      const mod = moduleOf(frame);
      modules.set(mod, (modules.get(mod) ?? 0) + us);
      const fn = `${frame.functionName || '(anonymous)'} ${mod}:${frame.lineNumber + 1}`;
      functions.set(fn, (functions.get(fn) ?? 0) + us);
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, z) => z[1] - a[1]).slice(0, n).map(([k, us]): [string, number] => [k, round((100 * us) / Math.max(1, busy))]);
  return { file, busyMs: round(busy / 1000), byModule: top(modules, 12), topFunctions: top(functions, 12) };
}

const profileDir = values['cpu-profile'];
const session = profileDir ? new Session() : undefined;
if (session) {
  mkdirSync(profileDir!, { recursive: true });
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
}
const rawProfiles = new Map<string, CpuProfile[]>();
async function profileStart(): Promise<void> {
  if (session) await session.post('Profiler.start');
}
/** Stops the profiler and keeps its profile under `phase` (saved as <phase>-<n>.cpuprofile). */
async function profileStop(phase: string): Promise<void> {
  if (!session) return;
  const { profile } = await session.post('Profiler.stop');
  const list = rawProfiles.get(phase) ?? [];
  list.push(profile as CpuProfile);
  rawProfiles.set(phase, list);
  writeFileSync(join(profileDir!, `fleet-${N}-${phase}-${list.length}.cpuprofile`), JSON.stringify(profile));
}

// --- clean-up, whatever happens ----------------------------------------------------------------

let broker: BenchBroker | undefined;
let root: string | undefined;
function emergencyExit(why: string): never {
  process.stderr.write(`fleet bench: ${why}; killing the broker and removing temp dirs\n`);
  try {
    broker?.killNow();
  } catch {
    // best effort
  }
  if (root) rmSync(root, { recursive: true, force: true });
  process.exit(2);
}
// A child is not killed when its parent exits: whatever way this process ends (an exception
// included), the broker and the temp dirs go with it.
process.on('exit', () => {
  try {
    broker?.killNow();
  } catch {
    // best effort
  }
  if (root) rmSync(root, { recursive: true, force: true });
});
const deadline = setTimeout(() => emergencyExit(`deadline of ${DEADLINE_S} s exceeded`), DEADLINE_S * 1000);
process.once('SIGINT', () => emergencyExit('interrupted'));
process.once('SIGTERM', () => emergencyExit('terminated'));

// --- the run ------------------------------------------------------------------------------------

const log = createLogger('silent');
const CONSOLE_USER = 'console';
const CONSOLE_PASSWORD = `console-${randomBytes(9).toString('base64url')}`;
const ids = Array.from({ length: N }, (_, i) => `bench-${String(i + 1).padStart(5, '0')}`);
const passwords = new Map(ids.map((id) => [id, `pw-${randomBytes(12).toString('base64url')}`]));
const progress = (text: string) => {
  if (!values.json) process.stderr.write(`  … ${text}\n`);
};

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? '?',
  memGb: round(totalmem() / 1024 ** 3),
  node: process.version,
  mosquitto: /mosquitto version (\S+)/.exec(spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? '?',
  openFilesLimit: nofile().soft,
  /** The soft limit before the bench raised it (re-executed under ulimit -n), if it did. */
  openFilesRaisedFrom: process.env.DIEMCAU_BENCH_REEXEC ? Number(process.env.DIEMCAU_BENCH_REEXEC) : null,
  uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  tmpFs: fsType(tmpdir()),
};


progress(`hashing ${N + 1} passwords and starting mosquitto ${machine.mosquitto}${TLS ? ' (TLS)' : ''}`);
broker = await startBenchBroker({
  users: new Map([[CONSOLE_USER, CONSOLE_PASSWORD], ...passwords]),
  acl: mosquittoAcl({ consoleUsers: [CONSOLE_USER] }),
  tls: TLS,
  // The fleet's recommended settings, then whatever the run adds (a later line wins in mosquitto.conf).
  extraConfig: [...mosquittoFleetSettings(N), ...(values['mosquitto-conf'] ?? [])],
});
const b = broker;
root = await mkdtemp(join(tmpdir(), 'diemcau-fleet-bench-'));
const ca = b.caFile ? [await readFile(b.caFile)] : undefined;

async function consoleClient(name: string): Promise<MqttClient> {
  const options: IClientOptions = {
    clientId: `console-${name}-${randomBytes(4).toString('hex')}`,
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: CONSOLE_USER,
    password: CONSOLE_PASSWORD,
    ...(ca ? { ca } : {}),
  };
  return connectAsync(b.url, options);
}

// One real health sample, taken once and sent by every box: what is measured here is the MQTT
// load of N boxes, not N health samplers (each reads /proc, /sys and runs df) on one machine.
// The payload is the size a real box sends.
// (sample() never rejects: a reader that fails gives null for its field.)
const healthSample = await new HealthCollector({ stateDir: root, firmwareVersion: 'bench', log }).sample();
const health = { sample: async () => healthSample };

// The console side: one client counts telemetry, another sends the commands.
const telemetryClient = await consoleClient('telemetry');
let telemetryCount = 0;
const telemetrySenders = new Set<string>();
let telemetryBytes = 0;
telemetryClient.on('message', (topic, payload) => {
  telemetryCount++;
  telemetryBytes += payload.length;
  telemetrySenders.add(topic.split('/')[1] ?? '');
});
await telemetryClient.subscribeAsync('diemcau/+/telemetry', { qos: 1 });
const commandClient = await consoleClient('command');

const memBefore = memory();
const brokerRssBefore = procStat(b.pid).rssBytes;

// --- N boxes, started in batches ------------------------------------------------------------------

interface BenchBox {
  id: string;
  fleet: Fleet;
  startedAt: number;
  connectedAt: number | undefined;
  connects: number;
  errors: number;
  /** performance.now() when the box got the command of the current fan-out round. */
  gotCommandAt: number | undefined;
}
const boxes: BenchBox[] = [];
let currentRequest = '';

/** A box as test/helpers/fleet.ts `startInProcessBox` makes one, without tap. */
async function createBox(id: string): Promise<BenchBox> {
  const dir = join(root!, id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'broker-password'), `${passwords.get(id)}\n`, { mode: 0o600 });
  const config = {
    device: { id, name: `Nhà văn hoá ${id}`, commune: 'Xã Sơn Thủy', village: `Thôn ${id}` },
    fleet: {
      url: b.url,
      passwordFile: 'broker-password',
      ...(b.caFile ? { caFile: b.caFile } : {}),
      keepaliveS: KEEPALIVE_S,
      telemetryIntervalS: INTERVAL_S,
    },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const store = new ConfigStore({ path: join(dir, 'config.json'), explicit: true, log });
  await store.load();
  const fleet = fleetWithoutMedia({ store, stateDir: dir, log, health, version: 'bench' });
  const box: BenchBox = { id, fleet, startedAt: 0, connectedAt: undefined, connects: 0, errors: 0, gotCommandAt: undefined };
  fleet.connection.on('connected', () => {
    box.connects++;
    box.connectedAt ??= performance.now();
  });
  fleet.connection.on('error', () => void box.errors++);
  // Only to time the fan-out: when this box's handler saw the command (the router runs next).
  fleet.connection.on('message', (topic, payload) => {
    if (topic === 'diemcau/all/cmd/ping' && box.gotCommandAt === undefined && payload.includes(currentRequest)) box.gotCommandAt = performance.now();
  });
  return box;
}

// Built first, all of them, then started: building boxes (config files, state dirs, and once per
// process the compiled JSON-schema checks) would otherwise be counted as connection time.
progress(`building ${N} boxes`);
await profileStart();
const setupCpu = cpuMeter(b.pid);
for (let i = 0; i < N; i += BATCH) boxes.push(...(await Promise.all(ids.slice(i, i + BATCH).map(createBox))));
const setup = setupCpu();
await profileStop('build');

progress(`starting ${N} boxes, ${BATCH} at a time`);
await profileStart();
const connectCpu = cpuMeter(b.pid);
const startAll = performance.now();
for (let i = 0; i < N; i += BATCH) {
  const batch = boxes.slice(i, i + BATCH);
  await Promise.all(
    batch.map((box) => {
      box.startedAt = performance.now();
      return box.fleet.start();
    }),
  );
  // The next batch once this one is in (or after 15 s: a slow batch must not stall the bench).
  const until = performance.now() + 15_000;
  while (batch.some((x) => x.connectedAt === undefined) && performance.now() < until) await sleep(5);
}
while (boxes.some((x) => x.connectedAt === undefined) && performance.now() - startAll < 60_000) await sleep(50);
const connectedAll = boxes.filter((x) => x.connectedAt !== undefined);
const connect = {
  ...connectCpu(),
  buildS: setup.seconds,
  buildNodeCpuS: setup.nodeCpuS,
  connected: connectedAll.length,
  allConnectedS: (Math.max(...connectedAll.map((x) => x.connectedAt!)) - startAll) / 1000,
  perBoxMs: (() => {
    const s = connectedAll.map((x) => x.connectedAt! - x.startedAt).sort((a, c) => a - c);
    return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: quantile(s, 1) };
  })(),
};
await profileStop('connect');
progress(`${connect.connected}/${N} connected in ${round(connect.allConnectedS, 2)} s`);

// --- steady state: telemetry flowing ------------------------------------------------------------------

// Let the first telemetry (2 s after each start) and the retained state go out first.
await sleep(3000);
progress(`telemetry for ${SETTLE_S} s`);
// Resolution 1 ms; the histogram records the whole timer period, so 1 ms is "no delay".
const ELD_RES_MS = 1;
const eld = monitorEventLoopDelay({ resolution: ELD_RES_MS });
const eldMs = (ns: number) => Math.max(0, ns / 1e6 - ELD_RES_MS);
eld.enable();
const telemetry0 = { count: telemetryCount, bytes: telemetryBytes };
telemetrySenders.clear();
await profileStart();
const settleCpu = cpuMeter(b.pid);
const written0 = writeBytes();
await sleep(SETTLE_S * 1000);
const written = writeBytes() - written0;
const settleFigures = settleCpu();
await profileStop('steady');
const steady = {
  ...settleFigures,
  telemetryPerS: (telemetryCount - telemetry0.count) / settleFigures.seconds,
  expectedPerS: N / INTERVAL_S,
  telemetryBytesAvg: (telemetryBytes - telemetry0.bytes) / Math.max(1, telemetryCount - telemetry0.count),
  /** Written to disk by this process (the N outboxes), and per telemetry message. */
  diskKBps: written / 1024 / settleFigures.seconds,
  diskBytesPerMessage: written / Math.max(1, telemetryCount - telemetry0.count),
  distinctSenders: telemetrySenders.size,
  eventLoopDelayMs: { p50: eldMs(eld.percentile(50)), p99: eldMs(eld.percentile(99)), max: eldMs(eld.max) },
  brokerRssMb: procStat(b.pid).rssBytes / MB,
};
const memAfter = memory();
const perBox = {
  rssKb: (memAfter.rss - memBefore.rss) / N / 1024,
  heapKb: (memAfter.heapUsed - memBefore.heapUsed) / N / 1024,
  externalKb: (memAfter.external - memBefore.external) / N / 1024,
  brokerRssKb: (steady.brokerRssMb * MB - brokerRssBefore) / N / 1024,
  processRssMb: memAfter.rss / MB,
};

// --- fan-out: one command to every box, every reply back -----------------------------------------

interface Round {
  requestId: string;
  replies: number;
  missing: number;
  errors: number;
  duplicates: number;
  /** ms from publish to the broker's PUBACK to the console. */
  pubackMs: number;
  /** ms from publish until every box (that got it) had the command; the median box. */
  deliveredLastMs: number;
  deliveredP50Ms: number;
  /** ms from publish to the replies at the console. */
  replyP50Ms: number;
  replyP90Ms: number;
  lastReplyMs: number;
  brokerCpuMs: number;
  nodeCpuMs: number;
  othersCpuMs: number;
  eventLoopMaxMs: number;
  /** Telemetry messages the console received while the round ran. */
  telemetryDuring: number;
}

async function fanOut(index: number): Promise<Round> {
  const requestId = `bench-${index}-${randomBytes(4).toString('hex')}`;
  const filter = `diemcau/+/reply/${requestId}`;
  await commandClient.subscribeAsync(filter, { qos: REPLY_QOS });
  for (const box of boxes) box.gotCommandAt = undefined;
  currentRequest = requestId;
  const replies = new Map<string, number>();
  let errors = 0;
  let duplicates = 0;
  let t0 = 0;
  let all: () => void = () => {};
  const done = new Promise<void>((r) => (all = r));
  const onMessage = (topic: string, payload: Buffer) => {
    const [, id = '', kind, rid] = topic.split('/');
    if (kind !== 'reply' || rid !== requestId) return;
    if (replies.has(id)) return void duplicates++;
    replies.set(id, performance.now() - t0);
    try {
      if ((JSON.parse(payload.toString()) as { ok?: unknown }).ok !== true) errors++;
    } catch {
      errors++;
    }
    if (replies.size >= N) all();
  };
  commandClient.on('message', onMessage);
  const telemetryAt0 = telemetryCount;
  eld.reset();
  const cpu = cpuMeter(b.pid);
  let pubackMs = NaN;
  t0 = performance.now();
  void commandClient.publishAsync('diemcau/all/cmd/ping', JSON.stringify({ requestId }), { qos: 1 }).then(
    () => (pubackMs = performance.now() - t0),
    () => undefined,
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, REPLY_TIMEOUT_S * 1000)))]);
  clearTimeout(timer);
  const c = cpu();
  commandClient.off('message', onMessage);
  await commandClient.unsubscribeAsync(filter);
  const times = [...replies.values()].sort((a, z) => a - z);
  const delivered = boxes.flatMap((x) => (x.gotCommandAt === undefined ? [] : [x.gotCommandAt - t0])).sort((a, z) => a - z);
  return {
    requestId,
    replies: replies.size,
    missing: N - replies.size,
    errors,
    duplicates,
    pubackMs,
    deliveredLastMs: quantile(delivered, 1),
    deliveredP50Ms: quantile(delivered, 0.5),
    replyP50Ms: quantile(times, 0.5),
    replyP90Ms: quantile(times, 0.9),
    lastReplyMs: quantile(times, 1),
    brokerCpuMs: c.brokerCpuS * 1000,
    nodeCpuMs: c.nodeCpuS * 1000,
    othersCpuMs: c.othersCpuS * 1000,
    eventLoopMaxMs: eldMs(eld.max),
    telemetryDuring: telemetryCount - telemetryAt0,
  };
}

progress(`fan-out: 1 warm-up + ${ROUNDS} rounds`);
const warmUp = await fanOut(0);
const rounds: Round[] = [];
for (let i = 1; i <= ROUNDS; i++) {
  await sleep(GAP_S * 1000);
  // Only while a round runs (not the gaps): one profile a round, summed up together below.
  await profileStart();
  rounds.push(await fanOut(i));
  await profileStop('fanout');
}
session?.disconnect();
eld.disable();
const complete = rounds.filter((r) => r.missing === 0).map((r) => r.lastReplyMs).sort((a, z) => a - z);
const fanout = {
  lastReplyMs: { min: quantile(complete, 0), median: quantile(complete, 0.5), max: quantile(complete, 1) },
  roundsComplete: complete.length,
  missingTotal: rounds.reduce((s, r) => s + r.missing, 0),
  errorsTotal: rounds.reduce((s, r) => s + r.errors, 0),
};

if (HOLD_S > 0) {
  const passwordFile = join(root, 'console-password');
  writeFileSync(passwordFile, `${CONSOLE_PASSWORD}\n`, { mode: 0o600 });
  const env = [`DIEMCAU_FLEET_URL=${b.url}`, `DIEMCAU_FLEET_USER=${CONSOLE_USER}`, `DIEMCAU_FLEET_PASSWORD_FILE=${passwordFile}`];
  if (b.caFile) env.push(`DIEMCAU_FLEET_CA=${b.caFile}`);
  process.stderr.write(`fleet bench: the fleet stays up ${HOLD_S} s; for the console:\n  export ${env.join(' ')}\n`);
  await sleep(HOLD_S * 1000);
}

// --- stop everything --------------------------------------------------------------------------

progress('stopping the boxes');
const reconnects = boxes.reduce((s, x) => s + Math.max(0, x.connects - 1), 0);
const connectionErrors = boxes.reduce((s, x) => s + x.errors, 0);
const stopStart = performance.now();
await Promise.all(boxes.map((x) => x.fleet.stop()));
const stopS = (performance.now() - stopStart) / 1000;
await Promise.all([telemetryClient.endAsync(), commandClient.endAsync()]);
const brokerLog = b.counts();
await b.stop();
await rm(root, { recursive: true, force: true });
clearTimeout(deadline);

// --- report -------------------------------------------------------------------------------------

const result = {
  at: new Date().toISOString(),
  machine: { ...machine, shared: 'boxes, console clients and broker on the same machine' },
  options: { boxes: N, intervalS: INTERVAL_S, settleS: SETTLE_S, rounds: ROUNDS, batch: BATCH, tls: TLS, replyQos: REPLY_QOS, keepaliveS: KEEPALIVE_S, mosquittoConf: values['mosquitto-conf'] },
  passwordHashS: b.hashSeconds,
  connect,
  steady,
  perBox,
  fanout,
  warmUp,
  rounds,
  reconnects,
  connectionErrors,
  brokerLog,
  stopS,
  profiles: Object.fromEntries(
    [...rawProfiles].map(([phase, list]) => [phase, summarize(list, join(profileDir ?? '', `fleet-${N}-${phase}-*.cpuprofile`))]),
  ),
};

if (values.json) {
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} else {
  const r0 = (n: number) => String(Math.round(n));
  const row = (label: string, value: string) => `  ${label.padEnd(52)} ${value}`;
  const lines = [
    `diemcau fleet benchmark — ${N} boxes in one Node process, mosquitto ${machine.mosquitto} ${TLS ? 'TLS' : 'plain TCP'}, telemetry every ${INTERVAL_S} s, ${result.at}`,
    `  machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGb} GB, Node ${machine.node}; boxes and broker share it; open files ${machine.openFilesLimit}${machine.openFilesRaisedFrom ? ` (raised from ${machine.openFilesRaisedFrom})` : ''}; temp dirs ${machine.tmpFs}`,
    row('passwords hashed (mosquitto_passwd -U)', `${N + 1} in ${round(b.hashSeconds, 2)} s`),
    row('boxes built (Fleet objects, config, dirs)', `${N} in ${round(connect.buildS, 2)} s (Node CPU ${round(connect.buildNodeCpuS, 2)} s)`),
    row(`boxes started and connected (batches of ${BATCH})`, `${connect.connected}/${N} in ${round(connect.allConnectedS, 2)} s (per box p50 ${r0(connect.perBoxMs.p50)} ms, p99 ${r0(connect.perBoxMs.p99)} ms)`),
    row('  CPU while connecting', `broker ${round(connect.brokerCpuS, 2)} s, Node ${round(connect.nodeCpuS, 2)} s (${round(connect.seconds, 2)} s)`),
    `  steady state over ${round(steady.seconds)} s:`,
    row('  broker CPU', `${round(steady.brokerPct)} % of one core`),
    row('  Node (all boxes + consoles) CPU', `${round(steady.nodePct)} % of one core`),
    row('  machine busy', `${round(steady.machinePct)} % of ${machine.nproc} cores (others than broker and bench: ${round((100 * steady.othersCpuS) / steady.seconds)} % of a core)`),
    row('  telemetry received by the console', `${round(steady.telemetryPerS)} msg/s (expected ${round(steady.expectedPerS)}), from ${steady.distinctSenders} boxes, ${r0(steady.telemetryBytesAvg)} B each`),
    row('  disk writes by the outboxes', `${round(steady.diskKBps)} kB/s, ${r0(steady.diskBytesPerMessage)} B per telemetry message`),
    row('  event-loop delay', `p50 ${round(steady.eventLoopDelayMs.p50)} ms, p99 ${round(steady.eventLoopDelayMs.p99)} ms, max ${round(steady.eventLoopDelayMs.max)} ms`),
    row('  broker RSS', `${round(steady.brokerRssMb)} MB (${round(perBox.brokerRssKb)} kB a box)`),
    row('  memory per simulated box (after GC)', `RSS ${round(perBox.rssKb)} kB, JS heap ${round(perBox.heapKb)} kB, external ${round(perBox.externalKb)} kB`),
    row('  Node process RSS', `${round(perBox.processRssMb)} MB`),
    `  fan-out of diemcau/all/cmd/ping to ${N} boxes (reply subscription QoS ${REPLY_QOS}), time from publish, ms:`,
    `    ${'round'.padEnd(8)}${'PUBACK'.padStart(8)}${'at boxes p50'.padStart(14)}${'last'.padStart(8)}${'replies p50'.padStart(13)}${'p90'.padStart(8)}${'last'.padStart(8)}${'missing'.padStart(9)}${'broker CPU'.padStart(12)}${'Node CPU'.padStart(10)}${'others'.padStart(8)}${'loop max'.padStart(10)}${'telem.'.padStart(8)}`,
    ...[['warm-up', warmUp] as const, ...rounds.map((r, i) => [String(i + 1), r] as const)].map(
      ([name, r]) =>
        `    ${name.padEnd(8)}${r0(r.pubackMs).padStart(8)}${r0(r.deliveredP50Ms).padStart(14)}${r0(r.deliveredLastMs).padStart(8)}${r0(r.replyP50Ms).padStart(13)}${r0(r.replyP90Ms).padStart(8)}${r0(r.lastReplyMs).padStart(8)}${String(r.missing).padStart(9)}${r0(r.brokerCpuMs).padStart(12)}${r0(r.nodeCpuMs).padStart(10)}${r0(r.othersCpuMs).padStart(8)}${r0(r.eventLoopMaxMs).padStart(10)}${String(r.telemetryDuring).padStart(8)}`,
    ),
    row(
      '  time to the last reply (complete rounds)',
      fanout.roundsComplete === 0
        ? `no round got all ${N} replies (target < 2000 ms)`
        : `min ${r0(fanout.lastReplyMs.min)} ms, median ${r0(fanout.lastReplyMs.median)} ms, max ${r0(fanout.lastReplyMs.max)} ms (${fanout.roundsComplete}/${ROUNDS} complete; target < 2000 ms)`,
    ),
    row('  missing replies / error replies', `${fanout.missingTotal} / ${fanout.errorsTotal} (timeout ${REPLY_TIMEOUT_S} s)`),
    row('reconnects / connection errors during the run', `${reconnects} / ${connectionErrors}`),
    row('broker log: keepalive timeouts, drops, errors', `${brokerLog.keepaliveTimeouts}, ${brokerLog.droppedOutgoing}, ${brokerLog.errors}`),
    ...brokerLog.errorLines.map((line) => `    ${line}`),
    row('all boxes stopped in', `${round(stopS, 2)} s`),
    ...Object.entries(result.profiles).flatMap(([phase, p]) => [
      `  CPU profile of this process, ${phase}: ${p.busyMs} ms busy (${p.file})`,
      `    by module:   ${p.byModule.map(([m, pct]) => `${m} ${pct}%`).join(', ')}`,
      `    functions:   ${p.topFunctions.slice(0, 8).map(([f, pct]) => `${f} ${pct}%`).join(', ')}`,
    ]),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `fleet-${N}${TLS ? '-tls' : ''}-${Date.now()}.json`), JSON.stringify(result, null, 2));
process.exit(0);
