/**
 * What the TV screens cost: the CPU to blend each screen's layers over a frame (the playout's
 * two gdkpixbufoverlay elements, as built by pipelines.ts), and the time to render a screen's
 * SVG when it changes (librsvg through gdk-pixbuf, on the media worker's thread).
 *
 *   npm run bench:screen    (or: node dist/bench/screen.js [--frames 600] [--size 1280x720] [--json])
 *
 * Each case pushes `--frames` frames as fast as they go through
 * videotestsrc ! I420 WxH ! art0 ! art1 ! fakesink; the figure is the process's CPU time per
 * frame minus that of the same pipeline with both overlays empty (alpha 0: passthrough).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gst } from '../daemon/media/gst.js';
import { renderScreen, type ScreenView } from '../daemon/screen/art.js';
import { ScreenFiles } from '../daemon/media/screen-files.js';
import type { ScreenArt } from '../daemon/media/types.js';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '600' }, size: { type: 'string', default: '1280x720' }, json: { type: 'boolean', default: false } } });
const FRAMES = Number(values.frames);
const [WIDTH, HEIGHT] = values.size.split('x').map(Number) as [number, number];
if (!Number.isInteger(FRAMES) || FRAMES < 30) throw new Error(`--frames must be a whole number ≥ 30, got ${values.frames}`);
if (!WIDTH || !HEIGHT) throw new Error(`--size must be WxH, got ${values.size}`);

const site = { name: 'Điểm cầu Đông Xá', village: 'Thôn Đông Xá', commune: 'Xã Hòa Bình' };
const setup = { address: 'http://192.168.1.20:8080', link: 'http://192.168.1.20:8080/?code=482913', code: '482913' };
const now = new Date();
const cases: Array<[string, ScreenView | null, number]> = [
  // [name, view, the frame rate the playout runs at with it: 5 idle, 30 in a call]
  ['nothing (passthrough)', null, 30],
  ['call: band', { kind: 'call', speaker: 'Ủy ban xã', micMuted: true, quality: 'poor', notice: null }, 30],
  ['call: band + message', { kind: 'call', speaker: 'Ủy ban xã', micMuted: true, quality: 'poor', notice: 'Họp lúc 8 giờ sáng mai tại nhà văn hóa' }, 30],
  ['idle screen (full)', { kind: 'idle', site, now, network: 'ok', broker: 'online', nextMeeting: null, setup }, 5],
  ['message (full)', { kind: 'message', site, text: 'Mời bà con thôn Đông Xá đến nhà văn hóa lúc 19 giờ.', now }, 5],
];

const dir = mkdtempSync(join(tmpdir(), 'diemcau-bench-screen-'));
const files = new ScreenFiles();

/** CPU ms per frame of one run, and the ms it took to load (render) its layers. */
function run(art: ScreenArt): { cpuMsPerFrame: number; renderMs: number } {
  const pipeline = Gst.parseLaunch(
    `videotestsrc pattern=black num-buffers=${FRAMES} ! video/x-raw,format=I420,width=${WIDTH},height=${HEIGHT},framerate=30/1 ! ` +
      `gdkpixbufoverlay name=art0 positioning-mode=pixels-absolute alpha=0 ! gdkpixbufoverlay name=art1 positioning-mode=pixels-absolute alpha=0 ! fakesink sync=false`,
  ) as Gst.Pipeline;
  const layers = files.writeArt(art);
  const renderStart = performance.now();
  layers.forEach((layer, i) => {
    const element = pipeline.getByName(`art${i}`)!;
    if (!layer) return;
    element.setProperty('offset-x', layer.x);
    element.setProperty('offset-y', layer.y);
    element.setProperty('location', layer.path);
    element.setProperty('alpha', 1);
  });
  const renderMs = performance.now() - renderStart;
  const before = process.cpuUsage();
  pipeline.setState(Gst.State.PLAYING);
  const message = pipeline.getBus()!.timedPopFiltered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR);
  const used = process.cpuUsage(before);
  pipeline.setState(Gst.State.NULL);
  if (message?.type === Gst.MessageType.ERROR) throw new Error(`pipeline failed: ${message.parseError()[0]?.message}`);
  return { cpuMsPerFrame: (used.user + used.system) / 1000 / FRAMES, renderMs };
}

try {
  const size = { width: WIDTH, height: HEIGHT };
  // A first run warms fonts and the SVG loader up: its render time is not the steady one.
  run(renderScreen(cases[3]![1]!, size));
  const results = cases.map(([name, view, fps]) => {
    const art = view ? renderScreen(view, size) : { name: 'none', layers: [] };
    const runs = [run(art), run(art), run(art)];
    const cpu = Math.min(...runs.map((r) => r.cpuMsPerFrame));
    const render = Math.min(...runs.map((r) => r.renderMs));
    return { name, fps, layers: art.layers.length, cpuMsPerFrame: cpu, renderMs: render };
  });
  const base = results[0]!.cpuMsPerFrame;
  const rows = results.map((r) => ({ ...r, extraMsPerFrame: r.cpuMsPerFrame - base, extraCorePercent: ((r.cpuMsPerFrame - base) * r.fps) / 10 }));
  if (values.json) process.stdout.write(`${JSON.stringify({ size, frames: FRAMES, rows }, null, 2)}\n`);
  else {
    process.stdout.write(`screen art at ${WIDTH}×${HEIGHT}, ${FRAMES} frames a run, best of 3\n`);
    process.stdout.write(`${'case'.padEnd(24)} layers  render ms  CPU ms/frame  extra ms/frame  extra % core at its fps\n`);
    for (const r of rows) {
      process.stdout.write(
        `${r.name.padEnd(24)} ${String(r.layers).padStart(6)} ${r.renderMs.toFixed(1).padStart(10)} ${r.cpuMsPerFrame.toFixed(3).padStart(13)} ${r.extraMsPerFrame.toFixed(3).padStart(15)} ${`${r.extraCorePercent.toFixed(1)} % at ${r.fps} fps`.padStart(24)}\n`,
      );
    }
  }
} finally {
  files.remove();
  rmSync(dir, { recursive: true, force: true });
}
