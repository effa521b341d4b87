/**
 * The hall's hardware following the box, through the simulated TV and GPIO on a manual clock:
 * a meeting wakes the TV and switches it to the box, standby comes a while after it; a message
 * wakes it too; the night sends it to standby; the light follows the box's state; the buttons
 * become actions.
 */
// The box's zone (no daylight saving) for the night tests' local times: each test file is its own process.
process.env.TZ = 'Asia/Ho_Chi_Minh';

import { pino } from 'pino';
import t, { type Test } from 'tap';
import { Button } from '../daemon/hardware/buttons.js';
import { SimulatedTv } from '../daemon/hardware/cec-sim.js';
import { ManualClock, SimulatedGpio } from '../daemon/hardware/gpio.js';
import type { NightWindow } from '../daemon/hardware/night.js';
import { RoomControls, type RoomActions } from '../daemon/hardware/room.js';
import { StatusLed } from '../daemon/hardware/status-led.js';

const STANDBY_AFTER_MS = 5 * 60_000;
const PINS = { speak: 17, mute: 27, led: 22 };

interface HallOptions {
  tv?: SimulatedTv | null;
  holdsFloor?: boolean;
  night?: NightWindow | null;
  /** The wall clock at the start, ms since 1970. */
  wallStart?: number;
  standbyAfterMs?: number;
}

function hall(t: Test, opts: HallOptions = {}) {
  const clock = new ManualClock(opts.wallStart);
  const gpio = new SimulatedGpio(clock);
  const tv = opts.tv === undefined ? new SimulatedTv() : opts.tv;
  const led = new StatusLed(gpio.openOutput(PINS.led), clock);
  const done: string[] = [];
  /** The `event` of each log record. */
  const events: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void events.push((JSON.parse(line) as { event: string }).event) });
  const actions: RoomActions = {
    raiseHand: () => void done.push('raise-hand'),
    toggleMute: () => void done.push('toggle-mute'),
    changeVolume: (delta) => void done.push(`volume ${delta > 0 ? '+' : ''}${delta}`),
    identify: (seconds) => void done.push(`identify ${seconds}`),
    enterSetupMode: () => void done.push('setup-mode'),
    answer: () => {
      done.push('answer');
      return true;
    },
  };
  const room = new RoomControls({
    tv,
    led,
    buttons: { speak: new Button(gpio.openInput(PINS.speak), {}, clock), mute: new Button(gpio.openInput(PINS.mute), {}, clock) },
    actions,
    holdsFloor: () => opts.holdsFloor ?? false,
    standbyAfterMs: opts.standbyAfterMs ?? STANDBY_AFTER_MS,
    night: opts.night ?? null,
    identifySeconds: 10,
    log,
    clock,
  });
  room.start();
  t.teardown(() => room.stop());
  /** A finger on a button for `ms`. */
  const hold = (role: 'speak' | 'mute', ms: number) => {
    gpio.input(PINS[role]).press();
    clock.advance(ms);
    gpio.input(PINS[role]).release();
    clock.advance(100);
  };
  /** Moves the clocks on until the wall clock reads `wall` (ms since 1970). */
  const until = (wall: number) => clock.advance(wall - clock.wallNow());
  return { clock, gpio, tv, led, room, done, events, hold, until };
}

const NIGHT: NightWindow = { from: '22:00', to: '05:30' };
/** `day` January 2024 at h:m, the box's local time. */
const local = (day: number, h: number, m = 0) => new Date(2024, 0, day, h, m).getTime();
/** Lets the TV's answer and the log line after it through. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('a meeting wakes the TV on the box input; standby comes 5 minutes after it', async (t) => {
  const { clock, tv, room } = hall(t);
  t.equal(tv!.power, 'standby', 'the TV starts in standby');
  await room.callPhase('connecting');
  t.equal(tv!.power, 'on', 'a join wakes the TV');
  t.equal(tv!.activeSource, tv!.boxAddress, 'and switches it to the box');
  await room.callPhase('in-call');
  await room.callPhase('idle');
  clock.advance(STANDBY_AFTER_MS - 1000);
  t.equal(tv!.power, 'on', 'still on just before the standby delay');
  clock.advance(1000);
  await Promise.resolve();
  t.equal(tv!.power, 'standby', 'in standby once the delay has passed');
  t.same(tv!.calls, ['wake', 'standby'], 'one wake, one standby');
});

t.test('a call that rings wakes the TV, so the hall sees who calls', async (t) => {
  const { tv, room } = hall(t);
  await room.callPhase('ringing');
  t.equal(tv!.power, 'on', 'ringing wakes the TV');
  t.equal(tv!.activeSource, tv!.boxAddress, 'on the box input');
  await room.callPhase('connecting');
  t.same(tv!.calls, ['wake'], 'answering does not wake it twice');
});

t.test('a new meeting or a message before the standby keeps the TV on', async (t) => {
  const { clock, tv, room } = hall(t);
  await room.callPhase('connecting');
  await room.callPhase('idle');
  clock.advance(60_000);
  await room.messageShown();
  clock.advance(STANDBY_AFTER_MS);
  t.equal(tv!.power, 'on', 'a message cancels the pending standby');
  await room.callPhase('connecting');
  await room.callPhase('in-call');
  clock.advance(2 * STANDBY_AFTER_MS);
  t.equal(tv!.power, 'on', 'no standby during a meeting');
  t.notOk(tv!.calls.includes('standby'), 'standby was never sent');
});

t.test('the light follows the box: booting, online, no network, in a meeting, error', async (t) => {
  const { room, led, gpio } = hall(t);
  t.equal(led.state, 'booting', 'booting until the broker connection is known');
  room.connectivity(true);
  t.equal(led.state, 'online');
  t.equal(gpio.output(PINS.led).value, 1, 'online is steady on');
  room.connectivity(false);
  t.equal(led.state, 'no-network');
  await room.callPhase('connecting');
  t.equal(led.state, 'in-meeting', 'a meeting shows over the network state');
  room.setFailure(true);
  t.equal(led.state, 'error', 'an error shows over everything');
  room.setFailure(false);
  await room.callPhase('idle');
  t.equal(led.state, 'no-network', 'back to the network state after the meeting');
});

t.test('the buttons: speak raises a hand (or mutes when holding the floor), mute mutes', async (t) => {
  const plain = hall(t);
  plain.hold('speak', 200);
  plain.hold('mute', 200);
  t.same(plain.done, ['raise-hand', 'toggle-mute'], 'a short press on each');
  const speaking = hall(t, { holdsFloor: true });
  speaking.hold('speak', 200);
  t.same(speaking.done, ['toggle-mute'], 'with the floor, speak mutes and unmutes');
});

t.test('a long press identifies the box (light at 8 Hz), a very long one returns to setup', async (t) => {
  const { hold, done, led, clock } = hall(t);
  hold('speak', 2500);
  t.same(done, ['identify 10'], 'held 2.5 s: identify for 10 s');
  t.ok(led.identifying, 'the light blinks to identify');
  clock.advance(10_000);
  t.notOk(led.identifying, 'and stops after 10 s');
  hold('mute', 9000);
  t.same(done, ['identify 10', 'identify 10', 'setup-mode'], 'held 9 s: identify at 2 s, then setup mode at 8 s');
});

t.test("the TV remote's keys: volume up and down, mute, OK answers; none while the TV shows another input", async (t) => {
  const { tv, room, done } = hall(t);
  await room.callPhase('connecting');
  for (const key of ['volume-up', 'volume-up', 'volume-down', 'mute', 'select'] as const) t.ok(tv!.pressKey(key), `${key} forwarded by the TV`);
  t.same(done, ['volume +10', 'volume +10', 'volume -10', 'toggle-mute', 'answer'], 'each key acted on once; OK answers');
  tv!.selectInput('2.0.0.0');
  t.notOk(tv!.pressKey('volume-up'), 'on another input the TV keeps its keys');
  t.equal(done.length, 5, 'nothing more happened');
  room.stop();
  tv!.selectInput(tv!.boxAddress);
  tv!.pressKey('volume-up');
  t.equal(done.length, 5, 'after stop the keys are no longer followed');
});

t.test('no CEC on this TV, or a TV that does not answer: the meeting goes on', async (t) => {
  const none = hall(t, { tv: null });
  await none.room.callPhase('connecting');
  t.equal(none.led.state, 'in-meeting', 'without a TV control the light still follows');
  const deaf = new SimulatedTv();
  deaf.wake = async () => {
    throw new Error('cec-ctl: the TV did not acknowledge <Image View On>');
  };
  const silent = hall(t, { tv: deaf });
  await t.resolves(silent.room.callPhase('connecting'), 'a failed wake does not fail the call');
  t.equal(silent.led.state, 'in-meeting');
});

t.test('the night begins while idle: the TV goes to standby at 22:00 exactly, every night', async (t) => {
  const { tv, until, events } = hall(t, { tv: new SimulatedTv({ power: 'on' }), night: NIGHT, wallStart: local(15, 21) });
  until(local(15, 22) - 1);
  t.equal(tv!.power, 'on', 'on until the last millisecond of the evening');
  until(local(15, 22));
  await settle();
  t.equal(tv!.power, 'standby', 'in standby at 22:00');
  t.ok(events.includes('hardware.tv_night_standby'), 'logged as the night standby');
  until(local(16, 22) - 1);
  t.same(tv!.calls, ['standby'], 'nothing more through the night, its end and the next day');
  until(local(16, 22));
  t.same(tv!.calls, ['standby', 'standby'], 'and again the next night');
});

t.test('a meeting when the night begins keeps the TV on; standby follows the meeting', async (t) => {
  const { tv, room, until, clock, events } = hall(t, { night: NIGHT, wallStart: local(15, 21, 30) });
  await room.callPhase('connecting');
  await room.callPhase('in-call');
  until(local(15, 23));
  await settle();
  t.equal(tv!.power, 'on', 'still on an hour into the night');
  t.same(tv!.calls, ['wake'], 'no standby sent during the meeting');
  t.ok(events.includes('hardware.night_during_meeting'), 'the deferral is logged');
  await room.callPhase('idle');
  clock.advance(STANDBY_AFTER_MS - 1);
  t.equal(tv!.power, 'on', 'the usual delay after the meeting');
  clock.advance(1);
  t.equal(tv!.power, 'standby', 'then standby');
  t.same(tv!.calls, ['wake', 'standby']);
});

t.test('with the TV left on after meetings (0), a meeting ending at night still turns it off', async (t) => {
  const { tv, room, until } = hall(t, { night: NIGHT, wallStart: local(15, 20), standbyAfterMs: 0 });
  await room.callPhase('connecting');
  await room.callPhase('idle');
  until(local(15, 22) - 1);
  t.equal(tv!.power, 'on', 'by day it is left on, as configured');
  until(local(15, 23));
  t.equal(tv!.power, 'standby', 'until the night begins');
  await room.callPhase('connecting');
  t.equal(tv!.power, 'on', 'a meeting at night wakes it');
  await room.callPhase('idle');
  t.equal(tv!.power, 'standby', 'and its end at night sends it to standby right away');
  t.same(tv!.calls, ['wake', 'standby', 'wake', 'standby']);
});

t.test('a message or a meeting at night wakes the TV; the end of the night never does', async (t) => {
  const { tv, room, until, clock } = hall(t, { night: NIGHT, wallStart: local(15, 21) });
  until(local(16, 1));
  t.equal(tv!.power, 'standby', 'in standby since 22:00');
  await room.messageShown();
  t.equal(tv!.power, 'on', 'a message at 01:00 wakes it');
  t.equal(tv!.activeSource, tv!.boxAddress, 'on the box');
  await room.callPhase('connecting');
  await room.callPhase('idle');
  clock.advance(STANDBY_AFTER_MS);
  t.equal(tv!.power, 'standby', 'a meeting at night, then standby after it');
  const calls = tv!.calls.length;
  until(local(16, 21, 59));
  t.equal(tv!.power, 'standby', 'still in standby at 21:59 the next day');
  t.equal(tv!.calls.length, calls, 'nothing was sent at 05:30 or during the day');
});

t.test('booting at night leaves the TV alone until the next night begins', async (t) => {
  const { tv, until } = hall(t, { tv: new SimulatedTv({ power: 'on' }), night: NIGHT, wallStart: local(15, 23) });
  until(local(16, 22) - 1);
  t.same(tv!.calls, [], 'a box started at 23:00 sends nothing that night');
  until(local(16, 22));
  t.same(tv!.calls, ['standby'], 'the next night it does');
});

t.test('one night timer at most, following a wall clock set after boot (NTP)', async (t) => {
  // A Pi without RTC boots in 1970 (08:00 local then): no night for 14 hours by that clock.
  const { tv, room, clock, until } = hall(t, { tv: new SimulatedTv({ power: 'on' }), night: NIGHT, wallStart: 0 });
  room.connectivity(true); // a steady light: the night timer is the only one
  t.equal(clock.pending, 1, 'one timer after start');
  clock.advance(60_000);
  clock.setWall(local(15, 21));
  until(local(15, 22) - 1);
  t.equal(tv!.power, 'on', 'the new time is followed: on until 22:00');
  t.equal(clock.pending, 1, 'still one timer');
  until(local(15, 22));
  t.equal(tv!.power, 'standby', 'in standby at 22:00 exactly');
  t.equal(clock.pending, 1, 'one timer, for the next night');
  room.stop();
  t.equal(clock.pending, 0, 'none after stop');
  const empty = hall(t, { night: { from: '22:00', to: '22:00' }, wallStart: local(15, 12) });
  empty.room.connectivity(true);
  t.equal(empty.clock.pending, 0, 'from == to: no night, no timer');
  const off = hall(t, { night: null, wallStart: local(15, 12) });
  off.room.connectivity(true);
  t.equal(off.clock.pending, 0, 'night standby disabled: no timer');
});

t.test('stop leaves no timer and the light off', async (t) => {
  const { room, clock, gpio } = hall(t, { night: NIGHT, wallStart: local(15, 12) });
  room.connectivity(false);
  await room.callPhase('connecting');
  await room.callPhase('idle');
  gpio.input(PINS.speak).press();
  clock.advance(500);
  room.stop();
  t.equal(clock.pending, 0, 'no standby, blink or button timer left');
  t.equal(gpio.output(PINS.led).value, 0, 'the light is off');
  t.equal(gpio.input(PINS.speak).watchers, 0, 'the buttons are no longer watched');
});
