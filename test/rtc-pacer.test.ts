/**
 * The video pacer on its own, on the real clock: an ordinary frame leaves at once, a
 * keyframe-sized burst is spread over time at 1.5x the target, in order; nothing waits
 * longer than the queue limit; close stops it.
 */
import t from 'tap';
import { Pacer } from '../daemon/rtc/pacer.js';
import { delay, waitUntil } from './helpers/wait.js';

const PACKET = 1200;

/** A pacer whose sends are recorded with their time (ms since `start`) and their first byte. */
function recorded(opts?: ConstructorParameters<typeof Pacer>[1]) {
  const start = performance.now();
  const sent: Array<{ at: number; id: number; bytes: number }> = [];
  const pacer = new Pacer((d) => sent.push({ at: performance.now() - start, id: d[0]!, bytes: d.length }), opts);
  const burst = (count: number, bytes = PACKET) => {
    for (let i = 0; i < count; i++) pacer.push(Buffer.alloc(bytes, i % 256));
  };
  return { pacer, sent, burst };
}

t.test('without a target, packets pass straight through', async (t) => {
  const { sent, burst } = recorded();
  burst(10);
  t.equal(sent.length, 10, 'all ten sent before push returned');
});

t.test('a keyframe-sized burst is spread at 1.5x the target, in order', async (t) => {
  const { pacer, sent, burst } = recorded();
  pacer.setTargetKbps(800); // paced at 1200 kbit/s: 150 bytes a millisecond
  burst(30); // 36 kB, a 720p keyframe at a modest bitrate: 240 ms at the paced rate
  // An ordinary frame (at 800 kbit/s and 30 fps, 3.3 kB) leaves at once; the rest waits.
  t.ok(sent.length >= 2 && sent.length <= 6, `40 ms at the paced rate (6 kB) leaves at once (${sent.length} packets)`);
  await waitUntil('the burst has left', () => sent.length === 30, { timeoutMs: 2000, intervalMs: 5 });
  const last = sent.at(-1)!.at;
  t.comment(`30 packets left over ${last.toFixed(0)} ms`);
  // The 30 kB after the first frame's worth take 200 ms at 150 bytes a millisecond.
  t.ok(last >= 170, `the burst took at least 170 ms (${last.toFixed(0)})`);
  t.ok(last < 800, `and not much more than 200 ms (${last.toFixed(0)})`);
  const firstFifty = sent.filter((s) => s.at < 50).reduce((n, s) => n + s.bytes, 0);
  t.ok(firstFifty <= 150 * (50 + 40) + PACKET, `no more than the paced rate in the first 50 ms, after the first frame's worth (${firstFifty} bytes)`);
  t.same(
    sent.map((s) => s.id),
    Array.from({ length: 30 }, (_, i) => i),
    'in the order they came',
  );
  t.equal(pacer.queuedBytes, 0, 'nothing left queued');
});

t.test('nothing waits longer than the queue limit: the rate rises to drain it', async (t) => {
  const { pacer, sent, burst } = recorded({ maxQueueMs: 300 });
  pacer.setTargetKbps(100); // 150 kbit/s: 100 kB would take 5.3 s at that rate
  burst(84); // ~100 kB
  await waitUntil('the queue has drained', () => sent.length === 84, { timeoutMs: 3000, intervalMs: 5 });
  const last = sent.at(-1)!.at;
  t.comment(`100 kB left over ${last.toFixed(0)} ms`);
  t.ok(last < 600, `drained close to the 300 ms limit, well before the 5.3 s the target rate would take (${last.toFixed(0)} ms)`);
});

t.test('an idle spell does not license a burst afterwards', async (t) => {
  const { pacer, sent, burst } = recorded();
  pacer.setTargetKbps(800);
  burst(1);
  await delay(300);
  const before = sent.length;
  burst(20);
  t.ok(sent.length - before <= 6, `after 300 ms idle, at most 40 ms at the paced rate leaves at once (${sent.length - before} packets)`);
  await waitUntil('the burst has left', () => sent.length === 21, { timeoutMs: 2000, intervalMs: 5 });
});

t.test('close drops the queue and sends nothing more', async (t) => {
  const { pacer, sent, burst } = recorded();
  pacer.setTargetKbps(200);
  burst(30);
  const atClose = sent.length;
  pacer.close();
  await delay(100);
  t.equal(sent.length, atClose, 'nothing sent after close');
  t.equal(pacer.queuedBytes, 0, 'the queue is empty');
});
