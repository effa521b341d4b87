/**
 * A call between two built daemons on this machine: sim profile, 1280×720 at 30 fps, each with
 * its media worker, `calls.loopbackOnly`, started from a console MQTT client through a local
 * mosquitto as the fleet console would. Each round:
 *
 *   idle   both boxes idle: CPU and memory of each (daemon + media worker)
 *   join   `join {peer: B}` to box A; join time = command sent → the first frame of B's camera
 *          shown on A's screen (the first frame stamp A reads); also → A's `in-call`
 *   hold   the call held: capture → display latency both ways from the frame stamps, CPU and
 *          memory of each box
 *   leave  `leave` to A, until both boxes are idle again
 *
 * Frame stamps (`media.frameStamps`, daemon/media/frame-stamps.ts): the simulated camera draws a
 * QR code with its capture time into the sent picture and the far end's screen reads it back
 * (zbar, on a cropped branch next to the screen sink); capture and display times are on
 * CLOCK_MONOTONIC, which both workers and this process share. Display time is when the screen
 * sink shows the frame (base time + running time + its latency): camera and TV not included.
 * The stamps cost CPU (reported apart, from their threads) and memory: GStreamer 1.22's
 * debugqroverlay leaks ~130 KB a frame, so the workers' RSS is reported with that estimate.
 *
 *   npm run bench:call    (or: node dist/bench/call.js [--rounds 5] [--hold 10] [--idle 5] [--json])
 *
 * Other options: --settle 2 (s after a leave before idle is measured), --fec on|off (Opus FEC,
 * which makes video wait 120 ms for lip sync), --bitrate 1500 (kbit/s), --encoder x264enc,
 * --jitter 80 (ms, the boxes' jitter buffers, `media.jitterBufferMs`), --start (kbit/s a call
 * starts at, `calls.startBitrateKbps`; default the bitrate: loopback is a link known to be good),
 * --deadline 900 (s, the whole run), --keep-logs DIR (the daemons' stdout, for a look after).
 * Recovery from a 10 s link cut needs the boxes in network namespaces: `npm run bench:cut`
 * (bench/call-cut.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { mosquittoAcl } from '../provisioning/acl.js';
import { freeUdpPorts } from '../test/helpers/ports.js';
import type { FrameStampRecord, FrameStampSample } from '../daemon/media/frame-stamps.js';
import { startBenchBroker, type BenchBroker } from './fleet-broker.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    hold: { type: 'string', default: '10' },
    idle: { type: 'string', default: '5' },
    settle: { type: 'string', default: '2' },
    fec: { type: 'string', default: 'on' },
    bitrate: { type: 'string', default: '1500' },
    jitter: { type: 'string', default: '80' },
    start: { type: 'string' },
    encoder: { type: 'string' },
    deadline: { type: 'string', default: '900' },
    'keep-logs': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const HOLD_S = Number(values.hold);
const IDLE_S = Number(values.idle);
const SETTLE_S = Number(values.settle);
const BITRATE = Number(values.bitrate);
const DEADLINE_S = Number(values.deadline);
const FEC = values.fec !== 'off';
const JITTER_MS = Number(values.jitter);
const START_KBPS = Number(values.start ?? values.bitrate);
for (const [name, v] of Object.entries({ ROUNDS, HOLD_S, IDLE_S, SETTLE_S, BITRATE, DEADLINE_S, JITTER_MS, START_KBPS })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad value for ${name}: ${v}`);
}
if (ROUNDS < 1 || HOLD_S < 1 || IDLE_S < 1) throw new Error('--rounds, --hold and --idle must be at least 1');

// --- time, /proc and statistics --------------------------------------------------------------

/** ms on CLOCK_MONOTONIC: the clock of the frame stamps (GstSystemClock) and of process.hrtime. */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CLK_TCK = 100; // USER_HZ on Linux
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : NaN);

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const median = (values: readonly number[]) => quantile(values, 0.5);

/** utime + stime of a process (all its threads), in clock ticks; NaN once it is gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** Ticks of a process's threads whose name matches (GStreamer names a streaming thread after its element). */
function threadTicks(pid: number, name: RegExp): number {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        if (!name.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim())) continue;
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        sum += Number(f[11]) + Number(f[12]);
      } catch {
        // the thread ended between listing and reading
      }
    }
  } catch {
    return NaN;
  }
  return sum;
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine: how much else was running (other people's work). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

// --- the boxes -----------------------------------------------------------------------------------

const DAEMON = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
/** The worker's log line of frame stamps (FRAME_STAMPS_EVENT; not imported: that module loads GStreamer). */
const FRAME_STAMPS_EVENT: FrameStampRecord['event'] = 'media.frame_stamps';

interface Box {
  id: string;
  dir: string;
  proc: ChildProcess;
  workerPid: number | null;
  encoder: string | null;
  /** Every stamp this box's screen read (the far end's frames). */
  samples: FrameStampSample[];
  /** Frames the screen showed again (a late or missing next frame), as the worker counts them. */
  repeats: number;
  sinkLatencyMs: number | null;
  /** Call events of the log (call.connecting, call.joined, call.ended …) with when this process saw them. */
  events: Array<{ event: string; atMs: number }>;
  /** Last log lines and stderr, to say what went wrong. */
  tail: string[];
  log: WriteStream | undefined;
}

interface BoxWindow {
  seconds: number;
  /** % of one core. */
  daemonCpu: number;
  workerCpu: number;
  totalCpu: number;
  daemonMb: number;
  workerMb: number;
  totalMb: number;
  /** % of one core in the frame-stamp threads: the reader (stampq: crop + zbar) and the drawing (sendq: debugqroverlay). */
  stampReadCpu: number;
  stampDrawCpu: number;
}

async function startBox(id: string, broker: BenchBroker, password: string, root: string): Promise<Box> {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'broker-password'), `${password}\n`, { mode: 0o600 });
  const [a, b, c, d] = await freeUdpPorts(4);
  const config = {
    version: 1,
    profile: 'sim',
    device: { id, name: `Nhà văn hoá ${id}` },
    media: {
      video: { size: '1280x720', fps: 30, bitrateKbps: BITRATE, ...(values.encoder ? { encoders: [values.encoder] } : {}) },
      audio: { fec: FEC },
      rtp: { sendVideoPort: a, sendAudioPort: b, receiveVideoPort: c, receiveAudioPort: d },
      frameStamps: true,
      jitterBufferMs: JITTER_MS,
    },
    fleet: { url: broker.url, passwordFile: 'broker-password' },
    calls: { loopbackOnly: true, startBitrateKbps: START_KBPS },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const proc = spawn(process.execPath, [DAEMON, '--config', join(dir, 'config.json'), '--screen', 'fake'], {
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const box: Box = {
    id,
    dir,
    proc,
    workerPid: null,
    encoder: null,
    samples: [],
    repeats: 0,
    sinkLatencyMs: null,
    events: [],
    tail: [],
    log: values['keep-logs'] ? createWriteStream(join(values['keep-logs'], `${id}.log`)) : undefined,
  };
  const keep = (line: string) => {
    box.tail.push(line.slice(0, 400));
    if (box.tail.length > 30) box.tail.shift();
  };
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const atMs = nowMs();
    box.log?.write(line + '\n');
    let r: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      r = JSON.parse(line);
    } catch {
      keep(line);
      return;
    }
    if (r.event === FRAME_STAMPS_EVENT) {
      const record = r as FrameStampRecord;
      box.samples.push(...record.samples);
      box.repeats += record.repeats;
      box.sinkLatencyMs = record.sinkLatencyMs;
      return;
    }
    keep(line);
    if (r.msg === 'media worker state' && r.worker?.state === 'running') box.workerPid = r.worker.pid;
    if (r.msg === 'video encoder chosen') box.encoder = r.encoder;
    if (typeof r.event === 'string' && r.event.startsWith('call.')) box.events.push({ event: r.event, atMs });
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => keep(`stderr: ${line}`));
  return box;
}

function alive(box: Box): boolean {
  return box.proc.exitCode === null && box.proc.signalCode === null;
}

async function stopBox(box: Box): Promise<void> {
  if (alive(box)) {
    const exited = new Promise((r) => box.proc.once('exit', r));
    box.proc.kill('SIGTERM');
    const timer = setTimeout(() => box.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  box.log?.end();
}

/** CPU over a stretch of time and memory at its end, for each box; and the machine's load. */
function meter(list: readonly Box[]) {
  const t0 = nowMs();
  const machine0 = machineTicks();
  const start = list.map((box) => ({
    daemon: cpuTicks(box.proc.pid!),
    worker: box.workerPid ? cpuTicks(box.workerPid) : NaN,
    read: box.workerPid ? threadTicks(box.workerPid, /^stampq/) : NaN,
    draw: box.workerPid ? threadTicks(box.workerPid, /^sendq/) : NaN,
  }));
  return (): { boxes: BoxWindow[]; machineBusyPct: number } => {
    const seconds = (nowMs() - t0) / 1000;
    const machine = machineTicks();
    const pct = (ticks: number) => (100 * ticks) / CLK_TCK / seconds;
    const boxes = list.map((box, i): BoxWindow => {
      const s = start[i]!;
      const worker = box.workerPid ?? 0;
      const daemonCpu = pct(cpuTicks(box.proc.pid!) - s.daemon);
      const workerCpu = pct(cpuTicks(worker) - s.worker);
      const daemonMb = rssMb(box.proc.pid!);
      const workerMb = rssMb(worker);
      return {
        seconds: round(seconds, 2),
        daemonCpu,
        workerCpu,
        totalCpu: daemonCpu + workerCpu,
        daemonMb,
        workerMb,
        totalMb: daemonMb + workerMb,
        stampReadCpu: pct(threadTicks(worker, /^stampq/) - s.read),
        stampDrawCpu: pct(threadTicks(worker, /^sendq/) - s.draw),
      };
    });
    return { boxes, machineBusyPct: (100 * (machine.busy - machine0.busy)) / Math.max(1, machine.total - machine0.total) };
  };
}

// --- the console -------------------------------------------------------------------------------

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Console {
  client: MqttClient;
  /** The latest retained state of each box. */
  state: Map<string, Json>;
  command(id: string, name: string, args?: object, timeoutMs?: number): Promise<Json>;
}

async function consoleClient(broker: BenchBroker, password: string): Promise<Console> {
  const client = await connectAsync(broker.url, {
    clientId: `bench-console-${randomBytes(4).toString('hex')}`,
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: 'console',
    password,
  });
  const state = new Map<string, Json>();
  const waiting = new Map<string, (reply: Json) => void>();
  client.on('message', (topic, payload, packet) => {
    const parts = topic.split('/');
    let json: Json;
    try {
      json = JSON.parse(payload.toString()) as Json;
    } catch {
      return;
    }
    if (parts[2] === 'state') state.set(parts[1]!, json);
    const correlation = packet.properties?.correlationData;
    if (parts[2] === 'reply' && Buffer.isBuffer(correlation)) waiting.get(correlation.toString())?.(json);
  });
  await client.subscribeAsync(['diemcau/+/state', 'diemcau/+/reply/#'], { qos: 1 });
  return {
    client,
    state,
    async command(id, name, args = {}, timeoutMs = 20_000) {
      const correlation = randomUUID();
      const reply = new Promise<Json>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(correlation);
          reject(new Error(`no reply to ${name} from ${id} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(correlation, (json) => {
          clearTimeout(timer);
          waiting.delete(correlation);
          resolve(json);
        });
      });
      await client.publishAsync(`diemcau/${id}/cmd/${name}`, JSON.stringify(args), {
        qos: 1,
        properties: { responseTopic: `diemcau/${id}/reply/${correlation}`, correlationData: Buffer.from(correlation) },
      });
      return reply;
    },
  };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs: number, boxes: readonly Box[] = []): Promise<number> {
  const start = nowMs();
  while (!predicate()) {
    const dead = boxes.find((b) => !alive(b));
    if (dead) throw new Error(`box ${dead.id} exited (${dead.proc.exitCode ?? dead.proc.signalCode}) while waiting until ${what}:\n${dead.tail.join('\n')}`);
    if (nowMs() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(20);
  }
  return nowMs() - start;
}

// --- clean-up, whatever happens ----------------------------------------------------------------

let broker: BenchBroker | undefined;
let root: string | undefined;
const boxes: Box[] = [];
function killAll(): void {
  for (const box of boxes) if (alive(box)) box.proc.kill('SIGKILL');
  try {
    broker?.killNow();
  } catch {
    // best effort
  }
  if (root) rmSync(root, { recursive: true, force: true });
}
function emergencyExit(why: string): never {
  process.stderr.write(`call bench: ${why}; killing the daemons and the broker\n`);
  for (const box of boxes) process.stderr.write(`--- ${box.id}, last lines:\n${box.tail.join('\n')}\n`);
  killAll();
  process.exit(2);
}
// A child is not killed when its parent exits: whatever way this process ends, they go with it.
process.on('exit', killAll);
const deadline = setTimeout(() => emergencyExit(`deadline of ${DEADLINE_S} s exceeded`), DEADLINE_S * 1000);
process.once('SIGINT', () => emergencyExit('interrupted'));
process.once('SIGTERM', () => emergencyExit('terminated'));
const progress = (text: string) => {
  if (!values.json) process.stderr.write(`  … ${text}\n`);
};

// --- set-up ---------------------------------------------------------------------------------------

const benchStart = nowMs();
const [A, B] = ['bench-hall-a', 'bench-hall-b'] as const;
const passwords = { console: `console-${randomBytes(9).toString('base64url')}`, [A]: `pw-${randomBytes(9).toString('base64url')}`, [B]: `pw-${randomBytes(9).toString('base64url')}` };
if (values['keep-logs']) mkdirSync(values['keep-logs'], { recursive: true });

progress('starting mosquitto and two daemons');
broker = await startBenchBroker({ users: new Map(Object.entries(passwords)), acl: mosquittoAcl({ consoleUsers: ['console'] }), tls: false });
root = await mkdtemp(join(tmpdir(), 'diemcau-call-bench-'));
const console_ = await consoleClient(broker, passwords.console);
boxes.push(await startBox(A, broker, passwords[A], root), await startBox(B, broker, passwords[B], root));
const [boxA, boxB] = boxes as [Box, Box];
const startupMs = await waitFor(
  'both boxes are online with media running',
  () => boxes.every((b) => b.workerPid !== null && console_.state.get(b.id)?.call?.available === true && console_.state.get(b.id)?.media?.up === true),
  60_000,
  boxes,
);
progress(`boxes up after ${Math.round(startupMs)} ms (encoder ${boxA.encoder}); ${ROUNDS} rounds of ${IDLE_S} s idle, join, ${HOLD_S} s call, leave`);

// --- the rounds -----------------------------------------------------------------------------------

interface Direction {
  /** Capture → display, ms, of the frames read in the hold window. */
  latencies: number[];
  /** Frames the far end sent in the window (by their numbers) and how many of them were read. */
  framesSent: number;
  framesRead: number;
  /** Frames shown again in the window: the far end's next frame was not there in time. */
  repeats: number;
}

interface RoundRecord {
  round: number;
  /** When the join command left (ms, monotonic). */
  joinAt?: number;
  idle?: ReturnType<ReturnType<typeof meter>>;
  call?: ReturnType<ReturnType<typeof meter>>;
  /** Join command sent → the first frame of B shown on A's screen (its display time); and → read by A's worker. */
  joinMs?: number;
  joinReadMs?: number;
  /** Join → the first frame of A shown on B's screen. */
  joinBMs?: number;
  /** Join → A logs call.joined (the call is up: ICE + DTLS done). */
  inCallMs?: number;
  /** B→A: read on A's screen; A→B: read on B's. */
  bToA?: Direction;
  aToB?: Direction;
  leaveMs?: number;
  /** RSS the QR drawing leaked in each box (A, B) by the end of the hold, estimated (see stampLeakMb). */
  stampLeakMb?: [number, number];
  error?: string;
}

/**
 * GStreamer 1.22's debugqroverlay never frees the picture it draws each frame (the base class
 * wraps it in a buffer it does not unref): ~130 KB a frame at this size, measured with
 * gst-launch (RSS after 300 and 600 frames), so ~4 MB/s while a box sends. It stays in the
 * worker after the call: the worker's in-call RSS carries this call's, the idle RSS of later
 * rounds every earlier call's.
 */
const STAMP_LEAK_KB_PER_FRAME = 130;
const stampLeakMb = (frames: number) => (frames * STAMP_LEAK_KB_PER_FRAME) / 1024;

/** What a box's screen read of the far end's frames captured in [from, to]. */
function direction(box: Box, from: number, to: number, repeats: number): Direction {
  const inWindow = box.samples.filter(([, capture, display]) => capture >= from && display <= to);
  const frames = inWindow.map(([frame]) => frame);
  const framesSent = frames.length ? Math.max(...frames) - Math.min(...frames) + 1 : 0;
  return { latencies: inWindow.map(([, capture, display]) => display - capture), framesSent, framesRead: new Set(frames).size, repeats };
}

const stateOf = (id: string) => console_.state.get(id);

interface Phase {
  name: string;
  run(r: RoundRecord): Promise<void>;
}

const idlePhase: Phase = {
  name: 'idle',
  async run(r) {
    await sleep(SETTLE_S * 1000);
    const idle = meter(boxes);
    await sleep(IDLE_S * 1000);
    r.idle = idle();
  },
};

const joinPhase: Phase = {
  name: 'join',
  async run(r) {
    const t0 = nowMs();
    r.joinAt = t0;
    const reply = await console_.command(A, 'join', { peer: B });
    if (reply.ok !== true) throw new Error(`join refused: ${JSON.stringify(reply.error ?? reply)}`);
    const firstAfter = (box: Box) => box.samples.find(([, , display]) => display > t0);
    await waitFor("each box's screen shows the other's camera", () => firstAfter(boxA) !== undefined && firstAfter(boxB) !== undefined, 20_000, boxes);
    const [, , displayA, seenA] = firstAfter(boxA)!;
    r.joinMs = displayA - t0;
    r.joinReadMs = seenA - t0;
    r.joinBMs = firstAfter(boxB)![2] - t0;
    const joined = boxA.events.find((e) => e.event === 'call.joined' && e.atMs > t0);
    r.inCallMs = joined ? joined.atMs - t0 : NaN;
  },
};

const holdPhase: Phase = {
  name: 'hold',
  async run(r) {
    const from = nowMs();
    const call = meter(boxes);
    const repeats = [boxA.repeats, boxB.repeats];
    await sleep(HOLD_S * 1000);
    r.call = call();
    const to = nowMs();
    // Stamps arrive in one log line a second: wait for the window's last ones.
    await sleep(1200);
    r.bToA = direction(boxA, from, to, boxA.repeats - repeats[0]!);
    r.aToB = direction(boxB, from, to, boxB.repeats - repeats[1]!);
    // Frames each box stamped in this call so far: the newest frame number the far end read.
    const stamped = (reader: Box) => Math.max(0, ...reader.samples.filter(([, capture]) => capture > r.joinAt! && capture <= to).map(([frame]) => frame));
    r.stampLeakMb = [stampLeakMb(stamped(boxB)), stampLeakMb(stamped(boxA))];
  },
};

const leavePhase: Phase = {
  name: 'leave',
  async run(r) {
    const t0 = nowMs();
    const reply = await console_.command(A, 'leave');
    if (reply.ok !== true) throw new Error(`leave refused: ${JSON.stringify(reply.error ?? reply)}`);
    await waitFor(
      'both boxes are idle and stopped sending',
      () => [A, B].every((id) => stateOf(id)?.call?.state === 'idle' && stateOf(id)?.media?.sending === false),
      20_000,
      boxes,
    );
    r.leaveMs = nowMs() - t0;
  },
};

/** One round; a `cut` phase (a 10 s link cut, then time until frames flow again) goes before leave. */
const ROUND: Phase[] = [idlePhase, joinPhase, holdPhase, leavePhase];

const rounds: RoundRecord[] = [];
for (let i = 1; i <= ROUNDS; i++) {
  const r: RoundRecord = { round: i };
  rounds.push(r);
  for (const phase of ROUND) {
    try {
      await phase.run(r);
    } catch (e) {
      r.error = `${phase.name}: ${(e as Error).message}`;
      progress(`round ${i}: ${r.error}`);
      // Back to idle for the next round, if the boxes are still there.
      if (boxes.some((b) => !alive(b))) emergencyExit(r.error);
      await console_.command(A, 'leave').catch(() => undefined);
      await waitFor('idle after a failed round', () => [A, B].every((id) => stateOf(id)?.call?.state === 'idle'), 20_000, boxes).catch(() => undefined);
      break;
    }
  }
  if (!r.error) {
    progress(
      `round ${i}: join ${Math.round(r.joinMs!)} ms (in-call ${Math.round(r.inCallMs!)} ms), latency B→A ${Math.round(median(r.bToA!.latencies))} ms, A→B ${Math.round(median(r.aToB!.latencies))} ms`,
    );
  }
}

// --- report ---------------------------------------------------------------------------------------

const ok = rounds.filter((r) => !r.error);
const all = <T>(pick: (r: RoundRecord) => T | undefined) => ok.map(pick).filter((v): v is T => v !== undefined);
const directionSummary = (list: Direction[]) => {
  const latencies = list.flatMap((d) => d.latencies);
  const sent = list.reduce((a, d) => a + d.framesSent, 0);
  const read = list.reduce((a, d) => a + d.framesRead, 0);
  return {
    samples: latencies.length,
    medianMs: round(median(latencies)),
    p95Ms: round(quantile(latencies, 0.95)),
    minMs: round(Math.min(...latencies)),
    maxMs: round(Math.max(...latencies)),
    /** Share of the far end's frames whose stamp was read (lost, late, or not legible in the rest). */
    readPct: round((100 * read) / Math.max(1, sent)),
    /** Frames shown twice or more (a freeze, however short), per 100 frames sent. */
    repeatsPer100: round((100 * list.reduce((a, d) => a + d.repeats, 0)) / Math.max(1, sent)),
  };
};
const meanOf = (list: number[]) => (list.length ? list.reduce((a, b) => a + b, 0) / list.length : NaN);
const perBox = (index: number) => {
  const idle = all((r) => r.idle?.boxes[index]);
  const call = all((r) => r.call?.boxes[index]);
  const avg = (list: BoxWindow[], key: keyof BoxWindow) => round(meanOf(list.map((w) => w[key])));
  const keys = ['daemonCpu', 'workerCpu', 'totalCpu', 'daemonMb', 'workerMb', 'totalMb', 'stampReadCpu', 'stampDrawCpu'] as const;
  const first = ok[0];
  return {
    stampLeakMb: round(meanOf(all((r) => r.stampLeakMb?.[index]))),
    /** The first round's, before earlier calls' leaks and whatever else accumulates. */
    firstRound: first?.idle && first.call ? { idleMb: round(first.idle.boxes[index]!.totalMb), callMb: round(first.call.boxes[index]!.totalMb) } : null,
    /** Idle RSS, first round → last round: what the calls left behind. */
    idleGrowthMb: ok.length > 1 ? round(ok.at(-1)!.idle!.boxes[index]!.totalMb - first!.idle!.boxes[index]!.totalMb) : NaN,
    idle: Object.fromEntries(keys.map((k) => [k, avg(idle, k)])) as Record<(typeof keys)[number], number>,
    call: Object.fromEntries(keys.map((k) => [k, avg(call, k)])) as Record<(typeof keys)[number], number>,
  };
};

const joins = all((r) => r.joinMs);
const result = {
  when: new Date().toISOString(),
  machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? '?', loadavg: loadavg().map((l) => round(l, 2)), node: process.version },
  settings: { size: '1280x720', fps: 30, bitrateKbps: BITRATE, startKbps: START_KBPS, jitterBufferMs: JITTER_MS, fec: FEC, encoder: boxA.encoder, rounds: ROUNDS, holdS: HOLD_S, idleS: IDLE_S },
  benchSeconds: round((nowMs() - benchStart) / 1000),
  startupMs: round(startupMs),
  roundsOk: ok.length,
  errors: rounds.filter((r) => r.error).map((r) => `round ${r.round}: ${r.error}`),
  joinMs: { median: round(median(joins)), max: round(Math.max(...joins)), all: joins.map((v) => round(v)) },
  joinReadMs: { median: round(median(all((r) => r.joinReadMs))) },
  joinBMs: { median: round(median(all((r) => r.joinBMs))), max: round(Math.max(...all((r) => r.joinBMs))) },
  inCallMs: { median: round(median(all((r) => r.inCallMs))), max: round(Math.max(...all((r) => r.inCallMs))) },
  leaveMs: { median: round(median(all((r) => r.leaveMs))) },
  latency: { bToA: directionSummary(all((r) => r.bToA)), aToB: directionSummary(all((r) => r.aToB)) },
  sinkLatencyMs: { a: boxA.sinkLatencyMs, b: boxB.sinkLatencyMs },
  boxes: { a: perBox(0), b: perBox(1) },
  machineBusyPct: { idle: round(meanOf(all((r) => r.idle?.machineBusyPct))), call: round(meanOf(all((r) => r.call?.machineBusyPct))) },
  rounds: rounds.map((r) => ({
    ...r,
    bToA: r.bToA && { ...directionSummary([r.bToA]), framesSent: r.bToA.framesSent },
    aToB: r.aToB && { ...directionSummary([r.aToB]), framesSent: r.aToB.framesSent },
  })),
};

const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const resultFile = join(resultsDir, `call-${Date.now()}.json`);
writeFileSync(resultFile, JSON.stringify(result, null, 2));

if (values.json) {
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} else {
  const ms = (n: number) => `${Math.round(n)} ms`;
  const l = result.latency;
  const boxRows = (label: string, b: ReturnType<typeof perBox>) => {
    const row = (what: string, idle: number, call: number, unit: string) =>
      `    ${`${label} ${what}`.padEnd(34)} ${`${idle}`.padStart(8)} ${`${call}`.padStart(9)} ${`${call - idle >= 0 ? '+' : ''}${round(call - idle)}`.padStart(9)} ${unit}`;
    return [
      row('daemon CPU', b.idle.daemonCpu, b.call.daemonCpu, '% of a core'),
      row('media worker CPU', b.idle.workerCpu, b.call.workerCpu, '% of a core'),
      row('CPU', b.idle.totalCpu, b.call.totalCpu, '% of a core'),
      row('daemon RSS', b.idle.daemonMb, b.call.daemonMb, 'MB'),
      row('media worker RSS', b.idle.workerMb, b.call.workerMb, 'MB'),
      row('RSS', b.idle.totalMb, b.call.totalMb, 'MB'),
      `      of which the QR drawing's leak in the call (estimate, see STAMP_LEAK_KB_PER_FRAME) ${b.stampLeakMb} MB; idle RSS grew ${b.idleGrowthMb} MB from round 1 to ${ok.length}${b.firstRound ? `; round 1 alone: ${b.firstRound.idleMb} → ${b.firstRound.callMb} MB` : ''}`,
    ];
  };
  const lines = [
    `diemcau call benchmark — two boxes on this machine, 1280x720 at 30 fps, ${result.settings.encoder} ${BITRATE} kbit/s, Opus FEC ${FEC ? 'on' : 'off'}, jitter buffers ${JITTER_MS} ms, calls start at ${START_KBPS} kbit/s, ${ok.length}/${ROUNDS} rounds, ${result.when}`,
    `  machine: ${result.machine.nproc} cores, load ${result.machine.loadavg.join(' ')}; all cores busy ${result.machineBusyPct.idle}% while idle, ${result.machineBusyPct.call}% in the calls`,
    `  join → first frame of B on A's screen       median ${ms(result.joinMs.median)}, max ${ms(result.joinMs.max)} (target ≤ 1000 ms; read by A's worker: median ${ms(result.joinReadMs.median)})`,
    `  join → first frame of A on B's screen       median ${ms(result.joinBMs.median)}, max ${ms(result.joinBMs.max)}`,
    `  join → A in-call                            median ${ms(result.inCallMs.median)}, max ${ms(result.inCallMs.max)}`,
    `  capture → display B→A (read at A)           median ${ms(l.bToA.medianMs)}, p95 ${ms(l.bToA.p95Ms)} (${l.bToA.samples} frames, ${l.bToA.readPct}% of those sent read, ${l.bToA.repeatsPer100} repeats per 100) (target median ≤ 80 ms)`,
    `  capture → display A→B (read at B)           median ${ms(l.aToB.medianMs)}, p95 ${ms(l.aToB.p95Ms)} (${l.aToB.samples} frames, ${l.aToB.readPct}% read, ${l.aToB.repeatsPer100} repeats per 100)`,
    `    of which the playout's own latency (screen sink)  A ${result.sinkLatencyMs.a} ms, B ${result.sinkLatencyMs.b} ms`,
    `  leave → both idle                           median ${ms(result.leaveMs.median)}`,
    `  per box                                  idle   in call  per call`,
    ...boxRows('A', result.boxes.a),
    ...boxRows('B', result.boxes.b),
    `  of which frame stamps in the call (measurement only): reading (crop + zbar) A ${result.boxes.a.call.stampReadCpu}%, B ${result.boxes.b.call.stampReadCpu}%; drawing (QR) A ${result.boxes.a.call.stampDrawCpu}%, B ${result.boxes.b.call.stampDrawCpu}% of a core`,
    ...result.errors.map((e) => `  FAILED ${e}`),
    `  bench took ${Math.round(result.benchSeconds)} s; saved ${resultFile}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

clearTimeout(deadline);
await console_.client.endAsync(true).catch(() => undefined);
await Promise.all(boxes.map(stopBox));
await broker.stop();
rmSync(root, { recursive: true, force: true });
process.exit(ok.length === ROUNDS ? 0 : 1);
