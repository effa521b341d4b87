import t, { type Test } from 'tap';
import { ManualClock, SimulatedGpio, systemClock, type RecordedWrite, type SimulatedOutput } from '../daemon/hardware/gpio.js';
import { LED_PATTERNS, StatusLed, type LedState } from '../daemon/hardware/status-led.js';
import { waitUntil } from './helpers/wait.js';

const PIN = 27;

function rig() {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio(clock);
  const led = new StatusLed(gpio.openOutput(PIN), clock);
  const out = gpio.output(PIN);
  /** Ends a test: stop() must leave the LED off and no timer behind. */
  const stop = (t: Test): void => {
    led.stop();
    t.equal(out.value, 0, 'off after stop()');
    t.equal(clock.pending, 0, 'no timer left after stop()');
  };
  return { clock, led, out, stop };
}

/** The writes as [ms, level] pairs, from `since` on (the manual clock makes them exact). */
const trace = (out: SimulatedOutput, since = 0): [number, number][] => out.writes.filter((w) => w.at >= since).map((w) => [w.at, w.value]);

t.test('each state plays its rhythm from start(), on first', async (t) => {
  const rhythms: [LedState, number, [number, number][]][] = [
    ['booting', 2_000, [[0, 1], [500, 0], [1_000, 1], [1_500, 0], [2_000, 1]]],
    ['no-network', 3_000, [[0, 1], [150, 0], [300, 1], [450, 0], [1_500, 1], [1_650, 0], [1_800, 1], [1_950, 0], [3_000, 1]]],
    ['online', 60_000, [[0, 1]]],
    ['in-meeting', 6_000, [[0, 1], [2_800, 0], [3_000, 1], [5_800, 0], [6_000, 1]]],
    ['error', 1_000, [[0, 1], [125, 0], [250, 1], [375, 0], [500, 1], [625, 0], [750, 1], [875, 0], [1_000, 1]]],
  ];
  for (const [state, windowMs, expected] of rhythms) {
    const { clock, led, out, stop } = rig();
    led.setState(state);
    t.same(out.writes, [], `${state}: nothing before start()`);
    led.start();
    clock.advance(windowMs);
    t.same(trace(out), expected, state);
    stop(t);
  }
});

t.test('setState: the same state changes nothing, a new one replaces the pattern at once', async (t) => {
  const { clock, led, out, stop } = rig();
  led.start();
  clock.advance(250);
  led.setState('booting'); // a repeated report must not restart the blink
  clock.advance(250);
  led.setState('online');
  clock.advance(1_000);
  t.same(trace(out), [
    [0, 1],
    [500, 0],
    [500, 1],
  ]);
  t.equal(clock.pending, 0, 'steady on needs no timer');
  stop(t);
});

t.test('identify: 8 Hz for the seconds asked, then the state that is current by then', async (t) => {
  const { clock, led, out, stop } = rig();
  led.setState('online');
  led.start();
  clock.advance(1_000);
  led.identify(2);
  t.ok(led.identifying);
  clock.advance(500);
  led.setState('error'); // arrives while identifying: shown when it ends
  clock.advance(1_500 - 1);
  const blink = trace(out, 1_000);
  t.equal(blink.length, 32, '8 Hz for 2 s: 16 blinks, each an on and an off step');
  t.same(
    blink.slice(0, 4),
    [
      [1_000, 1],
      [1_063, 0],
      [1_125, 1],
      [1_188, 0],
    ],
  );
  t.ok(
    blink.every(([, v], i) => v === (i % 2 === 0 ? 1 : 0)),
    'alternating',
  );
  clock.advance(1);
  t.notOk(led.identifying);
  t.same(trace(out, 3_000), [[3_000, 1]], 'the error blink starts at the end of identify');
  clock.advance(125);
  t.same(out.value, 0, 'and goes on at 4 Hz');
  stop(t);
});

t.test('identify again restarts its count; identify before start() does nothing', async (t) => {
  const { clock, led, out, stop } = rig();
  led.identify(5);
  t.same(out.writes, []);
  t.equal(clock.pending, 0);
  led.setState('online');
  led.start();
  led.identify(1);
  clock.advance(800);
  led.identify(1);
  clock.advance(999);
  t.ok(led.identifying, 'still identifying 1.8 s in');
  clock.advance(1);
  t.notOk(led.identifying);
  t.same(out.writes.at(-1), { value: 1, at: 1_800 }, 'back to steady on');
  stop(t);
});

t.test('stop() clears every timer, turns the LED off and ignores later states', async (t) => {
  const { clock, led, out } = rig();
  led.setState('error');
  led.start();
  led.identify(10);
  clock.advance(100);
  led.stop();
  t.equal(clock.pending, 0);
  t.same(out.writes.at(-1), { value: 0, at: 100 });
  const count = out.writes.length;
  led.setState('in-meeting');
  clock.advance(10_000);
  t.equal(out.writes.length, count, 'nothing written after stop');
  t.equal(led.state, 'in-meeting', 'the state is kept for a later start');
  led.start();
  t.same(out.writes.at(-1), { value: 1, at: 10_100 });
  led.stop();
});

t.test('patterns: each state has its own rhythm', async (t) => {
  const signature = (name: keyof typeof LED_PATTERNS) => JSON.stringify(LED_PATTERNS[name]);
  const names = Object.keys(LED_PATTERNS) as (keyof typeof LED_PATTERNS)[];
  t.equal(new Set(names.map(signature)).size, names.length, 'no two patterns alike');
  const period = (name: keyof typeof LED_PATTERNS) => LED_PATTERNS[name].reduce((sum, step) => sum + step.ms, 0);
  t.equal(period('booting'), 1_000, 'booting 1 Hz');
  t.equal(period('error'), 250, 'error 4 Hz');
  t.equal(period('identify'), 125, 'identify 8 Hz');
  t.equal(period('in-meeting'), 3_000, 'in-meeting: one wink every 3 s');
  t.same(LED_PATTERNS.online.map((s) => s.level), [1], 'online: one step, steady on');
});

t.test('with real timers: the error blink keeps time on a busy machine', async (t) => {
  const out = new SimulatedGpio(systemClock).openOutput(PIN);
  const led = new StatusLed(out, systemClock);
  t.teardown(() => led.stop());
  led.setState('error');
  led.start();
  await waitUntil('nine error steps', () => out.writes.length >= 9, { timeoutMs: 10_000, intervalMs: 20 });
  led.stop();
  const writes: RecordedWrite[] = out.writes.slice(0, 9);
  t.same(
    writes.map((w) => w.value),
    [1, 0, 1, 0, 1, 0, 1, 0, 1],
  );
  const gaps = writes.slice(1).map((w, i) => w.at - (writes[i]?.at ?? 0));
  // Timers never fire early (1 ms of rounding aside) but may fire late under load.
  t.ok(
    gaps.every((gap) => gap >= 124 && gap < 600),
    `each step about 125 ms: ${gaps.map((g) => g.toFixed(0)).join(', ')}`,
  );
  const total = (writes.at(-1)?.at ?? 0) - (writes[0]?.at ?? 0);
  t.ok(total >= 999 && total < 3_000, `eight steps in about 1 s: ${total.toFixed(0)} ms`);
  t.equal(out.value, 0, 'off after stop');
});
