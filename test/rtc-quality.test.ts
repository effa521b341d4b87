/**
 * SendQuality on its own: observations in, decisions out, on a clock the test moves. Budgets
 * below use the defaults: budget = 0.85 · estimate − 40 (audio first, 15% headroom).
 */
import t from 'tap';
import { SendQuality, ladderFor, type QualityDecision, type QualityObservation } from '../daemon/rtc/quality.js';

const HD = { width: 1280, height: 720 };
/** The estimate that leaves `budget` kbit/s for video with the defaults. */
const est = (budget: number) => (budget + 40) / 0.85;

/** Feeds observations every `stepMs` from `from` to `to` (inclusive); returns every decision with its time. */
function drive(q: SendQuality, from: number, to: number, stepMs: number, obs: (at: number) => Omit<QualityObservation, 'at'>) {
  const out: Array<QualityDecision & { at: number }> = [];
  for (let at = from; at <= to; at += stepMs) out.push({ ...q.observe({ ...obs(at), at }), at });
  return out;
}
const changes = (ds: Array<QualityDecision & { at: number }>) => ds.filter((d) => d.changed).map((d) => `${d.at}:${d.rung}`);

t.test('each rung: the size and bitrate for a steady budget', async (t) => {
  const cases: Array<[budget: number, rung: string, size: [number, number] | null]> = [
    [2400, '720p', [1280, 720]],
    [1201, '720p', [1280, 720]],
    [1199, '540p', [960, 540]],
    [701, '540p', [960, 540]],
    [699, '480p', [848, 480]],
    [451, '480p', [848, 480]],
    [449, '360p', [640, 360]],
    [250, '360p', [640, 360]],
    [151, '360p', [640, 360]],
    [149, 'audio-only', null],
    [0, 'audio-only', null],
  ];
  for (const [budget, rung, size] of cases) {
    const q = new SendQuality({ captureSize: HD });
    const d = q.observe({ estimateKbps: est(budget), lossFraction: 0, rttMs: 50, at: 0 });
    t.equal(d.rung, rung, `budget ${budget} kbit/s → ${rung}`);
    t.same(d.size, size ? { width: size[0], height: size[1] } : null, `budget ${budget}: size ${size?.join('×') ?? 'none'}`);
    t.equal(d.videoKbps, size ? budget : 0, `budget ${budget}: the encoder gets ${size ? budget : 0} kbit/s`);
  }
  // Exactly at a threshold the rung is kept (≥): with no headroom the arithmetic is exact.
  const exact = new SendQuality({ captureSize: HD, headroom: 0 });
  t.equal(exact.observe({ estimateKbps: 1240, at: 0 }).rung, '720p', 'a budget of exactly 1200 is 720p');
  t.equal(exact.observe({ estimateKbps: 1239, at: 1 }).rung, '540p', 'one below is 540p');

  const q = new SendQuality({ captureSize: HD });
  t.equal(q.observe({ estimateKbps: 3000, at: 0 }).videoKbps, 2500, 'the encoder bitrate stops at maxVideoKbps (2500)');
  t.equal(q.observe({ estimateKbps: 1000, at: 1 }).videoKbps, 810, 'and is 0.85·estimate − 40 below it (1000 → 810)');
  const negative = new SendQuality({ captureSize: HD }).observe({ estimateKbps: 10, at: 0 });
  t.same([negative.rung, negative.videoKbps, negative.budgetKbps], ['audio-only', 0, -31], 'less than audio needs: audio only, budget −31 (−31.5 rounded)');
});

t.test('never above the capture size', async (t) => {
  t.same(
    ladderFor({ width: 960, height: 540 }).map((r) => r.name),
    ['540p', '480p', '360p', 'audio-only'],
    '960×540: the ladder starts at 540p',
  );
  t.same(
    ladderFor({ width: 640, height: 360 }).map((r) => r.name),
    ['360p', 'audio-only'],
    '640×360: 360p or nothing',
  );
  t.throws(() => new SendQuality({ captureSize: { width: 320, height: 240 } }), RangeError, 'a capture below 360p is refused');
  const q = new SendQuality({ captureSize: { width: 960, height: 540 }, upHoldMs: 1000 });
  const ds = drive(q, 0, 20_000, 250, () => ({ estimateKbps: 5000, lossFraction: 0, rttMs: 40 }));
  t.same(new Set(ds.map((d) => d.rung)), new Set(['540p']), 'a 5 Mbit/s link for 20 s stays at 540p');
  t.same(ds.at(-1)!.size, { width: 960, height: 540 }, 'at 960×540');
  t.equal(ds.at(-1)!.videoKbps, 2500, 'at the bitrate ceiling');
});

t.test('up one rung at a time, each after the hold time', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  t.equal(q.observe({ estimateKbps: est(200), at: 0 }).rung, '360p', 'a poor link starts at 360p');
  // The link recovers at 1 s to plenty; observations every 500 ms.
  const ds = drive(q, 1000, 30_000, 500, () => ({ estimateKbps: est(2400), lossFraction: 0, rttMs: 40 }));
  t.same(changes(ds), ['6000:480p', '11000:540p', '16000:720p'], 'one rung per 5 s: 480p at 6 s, 540p at 11 s, 720p at 16 s');
  t.same(
    ds.filter((d) => d.changed).map((d) => d.reason),
    ['up', 'up', 'up'],
    'each step says "up"',
  );
  t.equal(ds.find((d) => d.at === 5500)!.rung, '360p', 'still 360p at 5.5 s (4.5 s of hold)');
  t.equal(ds.find((d) => d.at === 5500)!.videoKbps, 2400, 'but the encoder already has the whole budget');

  const custom = new SendQuality({ captureSize: HD, upHoldMs: 2000 });
  custom.observe({ estimateKbps: est(500), at: 0 });
  const cs = drive(custom, 100, 10_000, 100, () => ({ estimateKbps: est(2400) }));
  t.same(changes(cs), ['2100:540p', '4100:720p'], 'upHoldMs 2000: 480p → 540p at 2.1 s, 720p at 4.1 s');
});

t.test('a budget wandering around a threshold does not flap', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  // 1200 ± 60 kbit/s, a 3 s period, for a minute; it first dips under 1200 at 0.8 s.
  const ds = drive(q, 0, 60_000, 200, (at) => ({ estimateKbps: est(1200 + 60 * Math.cos((2 * Math.PI * at) / 3000)), lossFraction: 0, rttMs: 40 }));
  t.same(changes(ds), ['800:540p'], 'one step down (the first dip), never back up');
  t.equal(ds.filter((d) => d.rung === '720p').length, 4, 'only the four observations before the dip are 720p');

  // Around the step-up level (1380): above it for 2 s, below for 1 s, over and over.
  const up = new SendQuality({ captureSize: HD });
  up.observe({ estimateKbps: est(1000), at: 0 });
  const us = drive(up, 100, 60_000, 100, (at) => ({ estimateKbps: est(at % 3000 < 2000 ? 1420 : 1300), lossFraction: 0 }));
  t.same(changes(us), [], 'above the step-up level for less than the hold time at a stretch: stays at 540p');
  t.same([...new Set(us.map((d) => d.videoKbps))].sort(), [1300, 1420], 'while the bitrate follows the budget');

  // Just above a rung's threshold but under its step-up level: no rung change either way.
  const mid = new SendQuality({ captureSize: HD });
  mid.observe({ estimateKbps: est(300), at: 0 });
  const ms = drive(mid, 100, 30_000, 100, () => ({ estimateKbps: est(500), lossFraction: 0 }));
  t.same(changes(ms), [], 'a budget of 500 (480p needs 450, its step-up 517.5) keeps 360p');
});

t.test('loss: above 10% cuts the budget, 2-10% holds, below 2% grows back', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  t.equal(q.observe({ estimateKbps: 2000, lossFraction: 0, rttMs: 100, at: 0 }).videoKbps, 1660, '2000 kbit/s, no loss: 1660 for video');
  // 30% loss from 1 s: one cut per 300 ms + RTT (400 ms), each to (1 − 0.15) of the last.
  const lossy = drive(q, 1000, 2000, 200, () => ({ estimateKbps: 2000, lossFraction: 0.3, rttMs: 100 }));
  t.same(
    lossy.map((d) => d.videoKbps),
    [1405, 1405, 1188, 1188, 1004, 1004],
    'budget 1405, then 1188, then 1004 (2000 · 0.85ⁿ · 0.85 − 40)',
  );
  t.same(changes(lossy), ['1400:540p'], 'down to 540p at the second cut (1188 < 1200)');
  t.equal(lossy.find((d) => d.at === 1400)!.reason, 'down', 'reason "down"');

  const held = drive(q, 2200, 12_000, 200, () => ({ estimateKbps: 2000, lossFraction: 0.05, rttMs: 100 }));
  t.same([...new Set(held.map((d) => d.videoKbps))], [1004], '5% loss for 10 s: the budget holds at 1004');
  t.same(changes(held), [], 'and the size too');

  const exactly = drive(q, 12_200, 13_000, 200, () => ({ estimateKbps: 2000, lossFraction: 0.1, rttMs: 100 }));
  t.same([...new Set(exactly.map((d) => d.videoKbps))], [1004], 'exactly 10% loss cuts nothing');

  // Loss gone at 13.2 s: the limit (1445 · 0.85 = 1228.25) grows 5% a second.
  const clear = drive(q, 13_200, 40_000, 200, () => ({ estimateKbps: 2000, lossFraction: 0, rttMs: 100 }));
  const grownAt = (kbps: number) => clear.find((d) => d.videoKbps >= kbps)!.at - 13_200;
  // 1228.25 · 1.05^t · 0.85 − 40 ≥ 1380 → t ≥ 6.01 s; 720p then after 5 s more.
  t.ok(Math.abs(grownAt(1380) - 6000) <= 200, `the budget reaches the 720p step-up level after ${grownAt(1380)} ms (6 s computed)`);
  const up = clear.find((d) => d.changed)!;
  t.equal(up.rung, '720p', 'then 720p');
  t.ok(Math.abs(up.at - 13_200 - 11_000) <= 200, `720p ${up.at - 13_200} ms after the loss cleared (11 s computed)`);
  t.equal(clear.at(-1)!.videoKbps, 1660, 'in the end the estimate leads again: 1660');

  // A cut is taken from what the link carries now: a lower estimate lowers the base.
  const low = new SendQuality({ captureSize: HD });
  low.observe({ estimateKbps: 2000, lossFraction: 0, at: 0 });
  t.equal(low.observe({ estimateKbps: 1000, lossFraction: 0.4, rttMs: 50, at: 100 }).videoKbps, 640, '40% loss on 1000 kbit/s: 1000 · 0.8 · 0.85 − 40 = 640');
});

t.test('loss or a growing RTT keeps the picture from growing', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  q.observe({ estimateKbps: est(1000), at: 0 });
  const lossy = drive(q, 200, 20_000, 200, () => ({ estimateKbps: est(2000), lossFraction: 0.05, rttMs: 60 }));
  t.same(changes(lossy), [], '5% loss: no step up in 20 s though the budget is 2000');
  t.equal(lossy.at(-1)!.videoKbps, 2000, 'the bitrate still follows the estimate (no cut below 10%)');
  const clean = drive(q, 20_200, 30_000, 200, () => ({ estimateKbps: est(2000), lossFraction: 0.01, rttMs: 60 }));
  t.same(changes(clean), ['25200:720p'], '1% loss: up 5 s later');

  const r = new SendQuality({ captureSize: HD });
  r.observe({ estimateKbps: est(1000), rttMs: 50, at: 0 });
  drive(r, 200, 1000, 200, () => ({ estimateKbps: est(1000), rttMs: 50 }));
  // From 1.2 s the RTT is 250 ms over its minimum: a queue is building.
  const queued = drive(r, 1200, 45_000, 200, () => ({ estimateKbps: est(2000), rttMs: 300 }));
  const stepped = changes(queued).map((c) => c.split(':') as [string, string]);
  // A queue building up cuts the rate (×0.85 per RTT + 300 ms) before it overflows: down at once.
  t.ok(stepped.length > 0 && Number(stepped[0]![0]) < 6000 && stepped[0]![1] !== '720p', `the picture steps down while the queue builds: ${stepped.map((c) => c.join(':')).join(', ')}`);
  // The last 50 ms sample (at 1 s) leaves the window after 31 s: no step up before.
  const order = ['audio-only', '360p', '480p', '540p', '720p'];
  const ups = stepped.filter(([, rung], i) => i > 0 && order.indexOf(rung) > order.indexOf(stepped[i - 1]![1]));
  t.ok(ups.every(([at]) => Number(at) > 31_200), 'no step up while the RTT shows the queue');
});

t.test('audio only and back', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  q.observe({ estimateKbps: est(800), at: 0 });
  const d = q.observe({ estimateKbps: 150, lossFraction: 0, at: 1000 });
  t.same([d.rung, d.size, d.videoKbps, d.changed, d.reason], ['audio-only', null, 0, true, 'down'], '150 kbit/s: audio only, video paused');
  t.equal(d.budgetKbps, 88, 'the video budget was 88 (0.85 · 150 − 40)');

  const starved = drive(q, 1200, 20_000, 200, () => ({ estimateKbps: 225 }));
  t.same(changes(starved), [], '225 kbit/s (a budget of 151, under 360p’s step-up 172.5): still audio only after 19 s');
  const back = drive(q, 20_200, 30_000, 200, () => ({ estimateKbps: 300, lossFraction: 0, rttMs: 80 }));
  t.same(changes(back), ['25200:360p'], '300 kbit/s: 360p after the 5 s hold');
  const resumed = back.find((x) => x.changed)!;
  t.same([resumed.size, resumed.videoKbps], [{ width: 640, height: 360 }, 215], 'at 640×360, 215 kbit/s');

  // Audio is paid first: a bigger audio share leaves no video on the same link.
  const opus64 = new SendQuality({ captureSize: HD, audioKbps: 64 });
  t.equal(new SendQuality({ captureSize: HD }).observe({ estimateKbps: 240, at: 0 }).rung, '360p', '240 kbit/s with 40 for audio: 360p');
  t.equal(opus64.observe({ estimateKbps: 240, at: 0 }).rung, 'audio-only', 'with 64 for audio: audio only');
});

t.test('bad input', async (t) => {
  const q = new SendQuality({ captureSize: HD });
  t.throws(() => q.observe({ estimateKbps: NaN, at: 0 }), RangeError, 'a NaN estimate is refused');
  t.throws(() => q.observe({ estimateKbps: 1000, at: Infinity }), RangeError, 'an infinite time is refused');
  t.equal(q.current, null, 'refused observations leave no decision');
  q.observe({ estimateKbps: est(300), at: 10_000 });
  // A clock that steps back counts as no time passing.
  const ds = drive(q, 0, 4800, 200, () => ({ estimateKbps: est(2400), lossFraction: 0 }));
  t.same(changes(ds), [], 'observations dated before the last count as "now": no hold time gained');
  t.equal(q.observe({ estimateKbps: est(2400), lossFraction: 0, at: 15_000 }).rung, '480p', 'the hold runs from the 10 s clock: 480p at 15 s');
  t.throws(() => new SendQuality({ captureSize: HD, headroom: 1 }), RangeError, 'headroom 1 leaves nothing: refused');
  t.throws(() => new SendQuality({ captureSize: HD, upMargin: 0.9 }), RangeError, 'an up margin below 1 would flap: refused');
});
