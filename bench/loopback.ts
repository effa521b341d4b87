/**
 * The 720p30 media loopback on this machine: camera (test pattern) → encoder → RTP/UDP →
 * decoder → compositor → screen. Prints frames per second sustained, CPU in all and per stage
 * (from the kernel's per-thread counters; GStreamer names each streaming thread after its
 * element), latency from capture to render (GStreamer's latency query, and measured by
 * flipping the camera from black to white and timing the first white frame at the screen),
 * and the daemon's memory idle and in loopback.
 *
 *   npm run bench            (or: node dist/bench/loopback.js [--seconds 20])
 */
import { readdirSync, readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Gst } from '../daemon/media/gst.js';
import { MediaEngine } from '../daemon/media/engine.js';
import { SimDeviceWatcher, simDevices } from '../daemon/media/devices/sim-watcher.js';
import { validateConfig } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, flips: { type: 'string', default: '12' } } });
const SECONDS = Number(values.seconds);
const FLIPS = Number(values.flips);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100; // USER_HZ on Linux

// --- CPU per thread ------------------------------------------------------------------------

type Ticks = Map<string, { name: string; ticks: number }>;

function threadTicks(pid: number | 'self' = 'self'): Ticks {
  const out: Ticks = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

/** Which stage of the loopback a GStreamer streaming thread belongs to, by the element that named it. */
const STAGES: Array<[RegExp, string]> = [
  [/^(camsrc|sendq|selfq)/, 'capture: camera, convert, scale, self-view scale'],
  [/^(vsendsrc|encq)/, 'encode + RTP payload + UDP send (incl. encoder threads)'],
  [/^(micsrc|asendsrc)/, 'audio: microphone, echo cancel/noise/AGC, Opus, RTP send'],
  [/^(vrtp|vjitter|remoteq)/, 'receive: UDP, jitter buffer, depay, decode, scale'],
  [/^(bgsrc|selfsrc|pipq|comp|screenq)/, 'compose + overlay + render'],
  [/^(artp|ajitter)/, 'audio playout: jitter buffer, Opus decode, echo probe, sink'],
  [/^node$/, 'Node main thread (JS, GLib pump)'],
  [/^pool-/, 'GStreamer thread pools (video convert/scale/blend workers)'],
];

function perStage(before: Ticks, after: Ticks, seconds: number): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const [tid, now] of after) {
    const delta = now.ticks - (before.get(tid)?.ticks ?? 0);
    if (delta <= 0) continue;
    const stage = STAGES.find(([re]) => re.test(now.name))?.[1] ?? `other (${now.name.replace(/[0-9]+/g, '#')})`;
    sums.set(stage, (sums.get(stage) ?? 0) + delta);
  }
  return [...sums].map(([stage, ticks]): [string, number] => [stage, ticks / CLK_TCK / seconds]).sort((a, b) => b[1] - a[1]);
}

// --- measurements on an in-process engine -----------------------------------------------------

function countBuffers(pad: Gst.Pad): { count: () => number; remove: () => Promise<void> } {
  let n = 0;
  const id = pad.addProbe(Gst.PadProbeType.BUFFER, () => {
    n++;
    return Gst.PadProbeReturn.OK;
  });
  return {
    count: () => n,
    // A probe blocks the streaming thread until JS runs it: let pending calls drain before NULL.
    remove: async () => {
      pad.removeProbe(id);
      await sleep(100);
    },
  };
}

function loopbackEngine(fec: boolean): MediaEngine {
  const config = validateConfig({ media: { video: { size: '1280x720', fps: 30 }, audio: { fec } } });
  const rtp = { ...config.media.rtp, receiveVideoPort: config.media.rtp.sendVideoPort, receiveAudioPort: config.media.rtp.sendAudioPort };
  return new MediaEngine({
    settings: { ...config.media, rtp },
    devices: new SimDeviceWatcher(simDevices('smpte')),
    log: createLogger('warn'),
    screen: 'fake',
    outputSize: { width: 1280, height: 720 },
    send: true,
  });
}

/** Capture → render with Opus FEC off (the default is on): what lip sync with FEC costs. */
async function latencyWithoutFec() {
  const engine = loopbackEngine(false);
  await engine.start();
  await sleep(3000);
  const measured = await measureGlassToGlass(engine);
  await engine.stop();
  return measured;
}

async function loopbackFigures() {
  const engine = loopbackEngine(true);
  await engine.start();
  await sleep(3000); // warm up: encoder probe done, jitter buffers filled

  const playout = engine.pipelineObject('playout')!;
  const decoded = countBuffers(playout.getByName('vdec')!.getStaticPad('src')!);
  const rendered0 = engine.status().rendered.videoFrames;
  const cpu0 = process.cpuUsage();
  const threads0 = threadTicks();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stages = perStage(threads0, threadTicks(), seconds);
  const decodedFps = decoded.count() / seconds;
  await decoded.remove();
  const renderedFps = (engine.status().rendered.videoFrames - rendered0) / seconds;
  const status = engine.status();

  // GStreamer's own view of latency: what each pipeline reports it must buffer.
  const latencyQuery = (name: string) => {
    const q = Gst.Query.newLatency();
    if (!engine.pipelineObject(name)?.query(q)) return null;
    const [live, min] = q.parseLatency();
    return { live, minMs: Number(min) / 1e6 };
  };
  const queried = { videoSend: latencyQuery('video-send'), playout: latencyQuery('playout') };

  const measured = await measureGlassToGlass(engine);
  await engine.stop();
  return {
    encoder: status.encoder?.name,
    seconds: Math.round(seconds * 10) / 10,
    decodedFps,
    renderedFps,
    cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    stages,
    queried,
    measured,
  };
}

/**
 * Flips the camera from black to white (and back) and times the first frame at the screen that
 * shows it. The render time is when the sink shows the frame: its running time plus the
 * pipeline latency on the shared system clock (never earlier than when it reaches the sink).
 */
async function measureGlassToGlass(
  engine: MediaEngine,
): Promise<{ samples: number[]; medianMs: number; maxMs: number; minMs: number; atSinkMedianMs: number; latencyMs: number }> {
  const camera = engine.pipelineObject('camera')!.getByName('camsrc')!;
  const playout = engine.pipelineObject('playout')!;
  const clock = Gst.SystemClock.obtain();
  const sinkPad = playout.getByName('screen')!.getStaticPad('sink')!;
  const centre = 360 * 1280 + 640; // luma byte at the centre of a 1280x720 I420 frame
  // The sink shows a frame at its running time plus the pipeline latency (from the query).
  const query = Gst.Query.newLatency();
  playout.query(query);
  const latencyNs = Number(query.parseLatency()[1]);
  let wantWhite = false;
  let flippedAt = 0;
  let resolveFlip: ((ms: number) => void) | null = null;
  const arrivals: number[] = [];
  const id = sinkPad.addProbe(Gst.PadProbeType.BUFFER, (_pad: Gst.Pad, info: Gst.PadProbeInfo) => {
    if (!resolveFlip) return Gst.PadProbeReturn.OK;
    const buffer = info.getBuffer();
    const [luma = 0] = (buffer?.extractDup(centre, 1) as unknown as number[]) ?? [];
    if (wantWhite ? luma > 180 : luma < 60) {
      const now = Number(clock.getTime());
      const renderAt = Math.max(now, Number(playout.getBaseTime()) + Number(buffer!.pts) + latencyNs);
      const done = resolveFlip;
      resolveFlip = null;
      arrivals.push((now - flippedAt) / 1e6);
      done((renderAt - flippedAt) / 1e6);
    }
    return Gst.PadProbeReturn.OK;
  });
  camera.setProperty('pattern', 2); // black
  await sleep(1500);
  const samples: number[] = [];
  for (let i = 0; i < FLIPS; i++) {
    wantWhite = !wantWhite;
    const result = new Promise<number>((resolve) => (resolveFlip = resolve));
    flippedAt = Number(clock.getTime());
    camera.setProperty('pattern', wantWhite ? 3 : 2);
    samples.push(await Promise.race([result, sleep(3000).then(() => NaN)]));
    resolveFlip = null;
    await sleep(400 + Math.random() * 200); // land flips at random phases of the frame clock
  }
  sinkPad.removeProbe(id);
  await sleep(100);
  const ok = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const atSink = [...arrivals].sort((a, b) => a - b);
  return {
    atSinkMedianMs: atSink[Math.floor(atSink.length / 2)] ?? NaN,
    latencyMs: latencyNs / 1e6,
    samples: samples.map((s) => Math.round(s)),
    medianMs: ok[Math.floor(ok.length / 2)] ?? NaN,
    minMs: ok[0] ?? NaN,
    maxMs: ok[ok.length - 1] ?? NaN,
  };
}

// --- the daemon's memory -------------------------------------------------------------------------

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The running daemon's two processes: resident memory, and CPU over 10 s. */
async function daemonFootprint(
  loopback: boolean,
): Promise<{ mainMb: number; workerMb: number; totalMb: number; mainCpu: number; workerCpu: number }> {
  const daemon = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-bench-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ profile: 'sim' }));
  const args = [daemon, '--config', join(dir, 'config.json'), ...(loopback ? ['--loopback'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' } });
  let workerPid = 0;
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line.includes('"media worker started"')) workerPid = (JSON.parse(line) as { pid: number }).pid ?? workerPid;
    }
  });
  await sleep(8_000); // started and settled
  const ticks0 = [cpuTicks(child.pid!), workerPid ? cpuTicks(workerPid) : NaN];
  await sleep(10_000);
  const mainCpu = (cpuTicks(child.pid!) - ticks0[0]!) / CLK_TCK / 10;
  const workerCpu = workerPid ? (cpuTicks(workerPid) - ticks0[1]!) / CLK_TCK / 10 : NaN;
  const mainMb = rssMb(child.pid!);
  const workerMb = workerPid ? rssMb(workerPid) : NaN;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { mainMb, workerMb, totalMb: mainMb + workerMb, mainCpu, workerCpu };
}

// --- report ---------------------------------------------------------------------------------------

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

const loop = await loopbackFigures();
const noFec = await latencyWithoutFec();
const idle = await daemonFootprint(false);
const inLoopback = await daemonFootprint(true);

const lines = [
  `diemcau loopback benchmark — 1280x720 at 30 fps, ${loop.encoder}, ${loop.seconds} s, ${new Date().toISOString()}`,
  `  frames/s decoded (pad probe on the decoder)   ${round(loop.decodedFps)}`,
  `  frames/s rendered at the screen sink          ${round(loop.renderedFps)}`,
  `  CPU, whole loopback (cores)                   ${round(loop.cpuCores, 2)}`,
  ...loop.stages.map(([stage, cores]) => `    ${stage.padEnd(62)} ${round(cores * 100)} %`),
  `  latency reported by GStreamer (min)           send ${loop.queried.videoSend?.minMs ?? '?'} ms, playout ${loop.queried.playout?.minMs ?? '?'} ms`,
  `  capture → render measured (${loop.measured.samples.length} flips)        median ${round(loop.measured.medianMs)} ms, min ${round(loop.measured.minMs)} ms, max ${round(loop.measured.maxMs)} ms`,
  `    of which: capture → at the screen sink      median ${round(loop.measured.atSinkMedianMs)} ms; then held for its display time (pipeline latency ${round(loop.measured.latencyMs)} ms)`,
  `  capture → render with Opus FEC off           median ${round(noFec.medianMs)} ms, min ${round(noFec.minMs)} ms, max ${round(noFec.maxMs)} ms (pipeline latency ${round(noFec.latencyMs)} ms)`,
  `  daemon RSS idle                               main ${round(idle.mainMb)} MB + media worker ${round(idle.workerMb)} MB = ${round(idle.totalMb)} MB`,
  `  daemon RSS in loopback                        main ${round(inLoopback.mainMb)} MB + media worker ${round(inLoopback.workerMb)} MB = ${round(inLoopback.totalMb)} MB`,
  `  daemon CPU idle                               main ${round(idle.mainCpu * 100)} % + media worker ${round(idle.workerCpu * 100)} % of a core`,
  `  daemon CPU in loopback                        main ${round(inLoopback.mainCpu * 100)} % + media worker ${round(inLoopback.workerCpu * 100)} % of a core`,
];
process.stdout.write(lines.join('\n') + '\n');
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}/loopback-${Date.now()}.json`, JSON.stringify({ loop, noFec, idle, inLoopback }, null, 2));
process.exit(0);
