/**
 * Frame stamps (`media.frameStamps`, the measurement aid of bench/call.ts), end to end in one
 * built daemon (sim profile, 720p) that plays its own stream back (--loopback): the camera
 * draws a QR time code into each sent frame, the screen reads it back, and the media worker
 * logs (capture, display) pairs on the machine's monotonic clock. Only that the pairs come and
 * are sane is checked here: the figures are the benchmark's.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergePatch } from '../daemon/config/merge.js';
import type { FrameStampRecord, FrameStampSample } from '../daemon/media/frame-stamps.js';
import { DAEMON, runNode, simDaemonConfig } from './helpers/daemon.js';
import { waitUntil } from './helpers/wait.js';

const WANTED = 60;
/** ms on CLOCK_MONOTONIC, the clock the stamps are on. */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

t.test('a loopback daemon stamps its frames and reads them back at the screen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-stamps-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  // 720p: the reader looks for the stamp where a sender at the screen's size puts it.
  await writeFile(path, JSON.stringify(mergePatch(await simDaemonConfig(), { media: { video: { size: '1280x720' }, frameStamps: true } })));
  const started = nowMs();
  const daemon = runNode(DAEMON, ['--config', path, '--loopback', '--screen', 'fake']);
  t.teardown(() => daemon.stop());

  const records = () => daemon.logs.filter((r): r is FrameStampRecord & typeof r => r.event === 'media.frame_stamps');
  const samples = (): FrameStampSample[] => records().flatMap((r) => r.samples);
  await waitUntil(`${WANTED} frame stamps read back`, () => samples().length >= WANTED, { timeoutMs: 30_000 }, () => ({
    samples: samples().length,
    last: daemon.logs.slice(-3).map((r) => r.msg),
    stderr: daemon.stderr().slice(-300),
  }));
  const ended = nowMs();
  const list = samples();
  const latencies = list.map(([, capture, display]) => display - capture);

  t.ok(list.length >= WANTED, `${list.length} stamps read back`);
  t.ok(
    list.every(([, capture, , seen]) => capture > started && capture < ended && seen < ended),
    'capture and read times are on this process\'s monotonic clock, within the test',
  );
  t.ok(
    latencies.every((ms) => ms > 0 && ms < 1000),
    `capture → display is positive and under 1 s (${Math.round(Math.min(...latencies))}–${Math.round(Math.max(...latencies))} ms)`,
  );
  const frames = list.map(([frame]) => frame);
  t.ok(
    frames.every((frame, i) => i === 0 || frame > frames[i - 1]!),
    'frame numbers rise: each stamp is read once, in order',
  );
  const sink = records().at(-1)?.sinkLatencyMs ?? NaN;
  t.ok(sink > 0 && sink < 1000, `the screen sink's latency comes with them (${sink} ms)`);
  const sorted = [...latencies].sort((a, b) => a - b);
  t.comment(`${list.length} stamps, capture → display median ${Math.round(sorted[sorted.length >> 1]!)} ms (not a benchmark figure)`);
});
