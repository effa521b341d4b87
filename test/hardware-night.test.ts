/**
 * The night window's arithmetic (daemon/hardware/night.ts) on the box's local time: a window
 * that wraps midnight, one that does not, the exact boundaries, an empty one, and the config
 * fields that carry it.
 */
// The box's zone (no daylight saving), set before any Date is made: each test file is its own process.
process.env.TZ = 'Asia/Ho_Chi_Minh';

import t from 'tap';
import { validateConfig } from '../daemon/config/index.js';
import { isNight, msUntilNextNightStart, type NightWindow } from '../daemon/hardware/night.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const NIGHT: NightWindow = { from: '22:00', to: '05:30' };
const EARLY: NightWindow = { from: '01:00', to: '05:00' };

/** 15 January 2024 (or `day`) at h:m:s.ms, local time. */
const at = (h: number, m = 0, s = 0, ms = 0, day = 15) => new Date(2024, 0, day, h, m, s, ms);

t.test('a window that wraps midnight (22:00–05:30): start included, end excluded', async (t) => {
  t.notOk(isNight(at(12), NIGHT), 'noon');
  t.notOk(isNight(at(21, 59, 59, 999), NIGHT), 'the last millisecond of the evening');
  t.ok(isNight(at(22), NIGHT), '22:00 exactly is night');
  t.ok(isNight(at(23, 59, 59, 999), NIGHT), 'just before midnight');
  t.ok(isNight(at(0), NIGHT), 'midnight');
  t.ok(isNight(at(5, 29, 59, 999), NIGHT), 'the last millisecond of the night');
  t.notOk(isNight(at(5, 30), NIGHT), '05:30 exactly is morning');
});

t.test('a window within one day (01:00–05:00)', async (t) => {
  t.notOk(isNight(at(0, 59, 59, 999), EARLY), 'before the start');
  t.ok(isNight(at(1), EARLY), '01:00 exactly');
  t.ok(isNight(at(4, 59), EARLY), '04:59');
  t.notOk(isNight(at(5), EARLY), '05:00 exactly is over');
  t.notOk(isNight(at(23), EARLY), 'late evening is not in it');
  t.equal(msUntilNextNightStart(at(0, 30), EARLY), 30 * MINUTE, 'from 00:30: half an hour');
  t.equal(msUntilNextNightStart(at(3), EARLY), 22 * HOUR, 'from inside it: tomorrow 01:00');
});

t.test('the next start is strictly after now, across a day, a month and a year', async (t) => {
  t.equal(msUntilNextNightStart(at(21), NIGHT), HOUR, 'from 21:00: one hour');
  t.equal(msUntilNextNightStart(at(21, 59, 59, 999), NIGHT), 1, 'one millisecond before');
  t.equal(msUntilNextNightStart(at(22), NIGHT), 24 * HOUR, 'at the start itself: the next day');
  t.equal(msUntilNextNightStart(at(2, 15), NIGHT), 19 * HOUR + 45 * MINUTE, 'from 02:15 (night): 22:00 the same day');
  t.equal(msUntilNextNightStart(new Date(2024, 0, 31, 23), NIGHT), 23 * HOUR, '31 January 23:00 to 1 February 22:00');
  t.equal(msUntilNextNightStart(new Date(2024, 11, 31, 22, 30), NIGHT), 23.5 * HOUR, 'New Year: to 1 January 2025 22:00');
  const next = new Date(at(23).getTime() + (msUntilNextNightStart(at(23), NIGHT) ?? 0));
  t.same([next.getDate(), next.getHours(), next.getMinutes()], [16, 22, 0], 'lands on the next day at 22:00 local');
});

t.test("local wall-clock time of the box's zone, with no daylight saving", async (t) => {
  // 15:00 UTC is 22:00 in Vietnam (UTC+7).
  t.ok(isNight(new Date(Date.UTC(2024, 0, 15, 15, 0)), NIGHT), '15:00 UTC is 22:00 on the box: night');
  t.notOk(isNight(new Date(Date.UTC(2024, 0, 15, 14, 59)), NIGHT), '14:59 UTC is 21:59: evening');
  t.equal(msUntilNextNightStart(new Date(Date.UTC(2024, 0, 15, 14, 0)), NIGHT), HOUR, 'from 14:00 UTC: one hour');
  // Every night of a year, Europe's and America's clock changes included, is 24 hours apart.
  const lengths = new Set<number | null>();
  for (let day = 1; day <= 366; day++) lengths.add(msUntilNextNightStart(new Date(2024, 0, day, 22), NIGHT));
  t.same([...lengths], [24 * HOUR], 'from each 22:00 of 2024 to the next: exactly 24 h');
});

t.test('from == to is no night at all; a malformed time is refused', async (t) => {
  const none = { from: '22:00', to: '22:00' };
  t.notOk(isNight(at(22), none), 'not at the shared minute');
  t.notOk(isNight(at(3), none), 'nor at any other');
  t.equal(msUntilNextNightStart(at(21), none), null, 'no next start');
  t.throws(() => isNight(at(12), { from: '24:00', to: '05:00' }), RangeError, '24:00 is not a time of day');
  t.throws(() => msUntilNextNightStart(at(12), { from: '7:00', to: '05:00' }), RangeError, 'hours take two digits');
});

t.test('config: hardware.cec.night defaults on, 22:00–05:30; times checked as HH:MM', async (t) => {
  t.same(validateConfig({}).hardware.cec.night, { enabled: true, from: '22:00', to: '05:30' });
  const night = (value: Record<string, unknown>) => ({ hardware: { cec: { night: value } } });
  t.same(validateConfig(night({ from: '00:00', to: '23:59' })).hardware.cec.night, { enabled: true, from: '00:00', to: '23:59' }, 'the day\'s two ends');
  for (const bad of ['24:00', '22:60', '7:30', '22h00', ' 22:00', ''])
    t.throws(() => validateConfig(night({ from: bad })), { code: 'DC_CONFIG_INVALID', message: /hardware\.cec\.night\.from/ }, `from ${JSON.stringify(bad)} is refused`);
  t.throws(() => validateConfig(night({ to: '25:00' })), { code: 'DC_CONFIG_INVALID', message: /hardware\.cec\.night\.to/ }, 'so is a bad end');
  t.throws(() => validateConfig(night({ at: '22:00' })), { code: 'DC_CONFIG_INVALID', message: /hardware\.cec\.night/ }, 'and an unknown key');
});
