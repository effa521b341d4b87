import t, { type Test } from 'tap';
import { Button, DEFAULT_BUTTON_TIMINGS, buttonAction, classifyPress, type Press } from '../daemon/hardware/buttons.js';
import { ManualClock, SimulatedGpio, systemClock, type SimulatedInput } from '../daemon/hardware/gpio.js';

const PIN = 17;

/** A started button on a simulated pin, a manual clock and the presses it emitted with their times. */
function rig(timings = {}) {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio(clock);
  const button = new Button(gpio.openInput(PIN, { activeLow: true }), timings, clock);
  const presses: (Press & { at: number })[] = [];
  button.on('press', (press) => presses.push({ ...press, at: clock.now() }));
  button.start();
  /** Ends a test: stop() must leave no timer behind. */
  const stop = (t: Test): void => {
    button.stop();
    t.equal(clock.pending, 0, 'no timer left after stop()');
  };
  return { clock, pin: gpio.input(PIN), button, presses, stop };
}

/** Toggles the pin every `everyMs`, `times` times: a contact settling. */
function bounce(clock: ManualClock, pin: SimulatedInput, times: number, everyMs: number): void {
  for (let i = 0; i < times; i++) {
    pin.set(pin.read() === 1 ? 0 : 1);
    clock.advance(everyMs);
  }
}

t.test('a short press is reported once, at release, with its duration', async (t) => {
  const { clock, pin, button, presses, stop } = rig();
  pin.press();
  clock.advance(120);
  t.ok(button.pressed, 'pressed once the level held 30 ms');
  t.same(presses, [], 'nothing while a short press is held');
  pin.release();
  clock.advance(29);
  t.same(presses, [], 'nothing before the release has settled');
  clock.advance(1);
  t.same(presses, [{ kind: 'short', durationMs: 120, at: 150 }]);
  clock.advance(10_000);
  t.equal(presses.length, 1, 'once');
  stop(t);
});

t.test('bounces and spikes shorter than the debounce never make a press', async (t) => {
  const { clock, pin, button, presses, stop } = rig();
  pin.press();
  clock.advance(29);
  pin.release();
  clock.advance(500);
  bounce(clock, pin, 6, 5); // ends released: six toggles from 0
  clock.advance(500);
  t.same(presses, []);
  t.notOk(button.pressed);
  stop(t);
});

t.test('a bouncy press and release make one press, timed from the last bounce of each', async (t) => {
  const { clock, pin, presses, stop } = rig();
  bounce(clock, pin, 5, 4); // 1,0,1,0,1: pressed from the fifth edge, at 16
  t.equal(pin.read(), 1);
  clock.advance(400 - 20); // t = 400
  bounce(clock, pin, 3, 4); // 0,1,0: released from the third edge, at 408
  clock.advance(100);
  t.same(presses, [{ kind: 'short', durationMs: 408 - 16, at: 408 + 30 }]);
  stop(t);
});

t.test('a long press is reported at 2 s while the button is still held, not at release', async (t) => {
  const { clock, pin, button, presses, stop } = rig();
  pin.press();
  clock.advance(1_999);
  t.same(presses, []);
  clock.advance(1);
  t.same(presses, [{ kind: 'long', durationMs: 2_000, at: 2_000 }]);
  t.ok(button.pressed, 'still held');
  clock.advance(1_000);
  pin.release();
  clock.advance(100);
  t.equal(presses.length, 1, 'the release adds nothing');
  stop(t);
});

t.test('a very long press reports long at 2 s, then very-long at 8 s', async (t) => {
  const { clock, pin, presses, stop } = rig();
  pin.press();
  clock.advance(8_000);
  t.same(presses, [
    { kind: 'long', durationMs: 2_000, at: 2_000 },
    { kind: 'very-long', durationMs: 8_000, at: 8_000 },
  ]);
  t.equal(clock.pending, 0, 'nothing more to wait for while held');
  clock.advance(20_000);
  pin.release();
  clock.advance(100);
  t.equal(presses.length, 2);
  stop(t);
});

t.test('a release that starts just before 2 s is short even though it settles after', async (t) => {
  const { clock, pin, presses, stop } = rig();
  pin.press();
  clock.advance(1_990);
  pin.release();
  clock.advance(100);
  t.same(presses, [{ kind: 'short', durationMs: 1_990, at: 2_020 }]);
  stop(t);
});

t.test('a glitch across the 2 s mark does not lose the long press', async (t) => {
  const { clock, pin, presses, stop } = rig();
  pin.press();
  clock.advance(1_995);
  pin.release(); // a 15 ms dropout: shorter than the debounce
  clock.advance(15);
  pin.press();
  clock.advance(100);
  t.same(presses, [{ kind: 'long', durationMs: 2_040, at: 2_040 }], 'reported when the glitch has settled');
  clock.advance(6_000);
  t.same(
    presses.map((p) => p.kind),
    ['long', 'very-long'],
  );
  stop(t);
});

t.test('a button held at start does not count; the next press does', async (t) => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio(clock);
  const pin = gpio.openInput(PIN);
  pin.press();
  const button = new Button(pin, {}, clock);
  const presses: Press[] = [];
  button.on('press', (press) => presses.push(press));
  button.start();
  t.ok(button.pressed);
  clock.advance(10_000);
  pin.release();
  clock.advance(100);
  t.same(presses, [], 'a stuck button does not send the box to setup mode');
  pin.press();
  clock.advance(50);
  pin.release();
  clock.advance(50);
  t.same(presses, [{ kind: 'short', durationMs: 50 }]);
  button.stop();
});

t.test('custom timings', async (t) => {
  const { clock, pin, presses, stop } = rig({ debounceMs: 10, longMs: 300, veryLongMs: 600 });
  pin.press();
  clock.advance(600);
  t.same(
    presses.map((p) => [p.kind, p.at]),
    [
      ['long', 300],
      ['very-long', 600],
    ],
  );
  stop(t);
});

t.test('stop() clears every timer and stops watching, even mid-press', async (t) => {
  const { clock, pin, button, presses } = rig();
  pin.press();
  clock.advance(10);
  t.ok(clock.pending > 0, 'a debounce timer is set');
  button.stop();
  t.equal(clock.pending, 0);
  t.equal(pin.watchers, 0);
  pin.release();
  clock.advance(10_000);
  t.same(presses, []);
  t.equal(clock.pending, 0);
});

t.test('with the system clock: a real 100 ms press', async (t) => {
  const gpio = new SimulatedGpio();
  const pin = gpio.openInput(PIN);
  const button = new Button(pin, {}, systemClock);
  t.teardown(() => button.stop());
  button.start();
  const reported = button.waitFor('press', () => true, 5_000);
  pin.press();
  setTimeout(() => pin.release(), 100);
  const [press] = await reported;
  t.equal(press.kind, 'short');
  t.ok(press.durationMs >= 95 && press.durationMs < 1_000, `duration ${press.durationMs} ms is about 100 ms`);
});

t.test('classifyPress: the thresholds are inclusive', async (t) => {
  t.equal(classifyPress(0), 'short');
  t.equal(classifyPress(1_999.9), 'short');
  t.equal(classifyPress(2_000), 'long');
  t.equal(classifyPress(7_999), 'long');
  t.equal(classifyPress(8_000), 'very-long');
  t.equal(classifyPress(100, { ...DEFAULT_BUTTON_TIMINGS, longMs: 100 }), 'long');
});

t.test('buttonAction: the role decides only the short press', async (t) => {
  t.equal(buttonAction('speak', 'short', false), 'raise-hand');
  t.equal(buttonAction('speak', 'short', true), 'toggle-mute', 'the box holds the floor');
  t.equal(buttonAction('mute', 'short', false), 'toggle-mute');
  t.equal(buttonAction('mute', 'short', true), 'toggle-mute');
  for (const role of ['speak', 'mute'] as const) {
    t.equal(buttonAction(role, 'long', false), 'identify');
    t.equal(buttonAction(role, 'very-long', true), 'setup-mode');
  }
});
