import t from 'tap';
import { Backoff } from '../daemon/fleet/backoff.js';
import {
  ALL_CMD_FILTER,
  allCmdTopic,
  assertTopicId,
  deviceTopics,
  groupCmdFilter,
  groupCmdTopic,
  isValidTopicId,
  parseCommandTopic,
  topicIdProblem,
} from '../daemon/fleet/topics.js';
import { shouldFallBackToV311 } from '../daemon/fleet/connection.js';

/** A random source that returns the given values in turn and records how often it was called. */
function scripted(...values: number[]) {
  let i = 0;
  const fn = () => {
    const v = values[i % values.length]!;
    i++;
    return v;
  };
  return Object.assign(fn, { calls: () => i });
}

t.test('backoff: ceilings double from base up to the cap', async (t) => {
  const b = new Backoff({ baseMs: 100, capMs: 1000, random: scripted(0.999999) });
  const delays = Array.from({ length: 7 }, () => b.next());
  t.same(delays, [99, 199, 399, 799, 999, 999, 999]);
  t.equal(b.attempts, 7);
});

t.test('backoff: full jitter scales the ceiling by the injected random', async (t) => {
  const random = scripted(0, 0.5, 0.25, 0.75);
  const b = new Backoff({ baseMs: 1000, capMs: 60_000, random });
  t.equal(b.next(), 0, 'random 0 → no wait');
  t.equal(b.next(), 1000, '0.5 × 2000');
  t.equal(b.next(), 1000, '0.25 × 4000');
  t.equal(b.next(), 6000, '0.75 × 8000');
  t.equal(random.calls(), 4, 'one random draw per delay');
});

t.test('backoff: every delay stays within [0, min(cap, base·2^n)]', async (t) => {
  const b = new Backoff({ baseMs: 50, capMs: 3000 });
  for (let n = 0; n < 200; n++) {
    const ceiling = Math.min(3000, 50 * 2 ** n);
    t.equal(b.ceiling(), ceiling);
    const d = b.next();
    if (d < 0 || d > ceiling || !Number.isInteger(d)) t.fail(`attempt ${n}: ${d} not in [0, ${ceiling}]`);
  }
  t.equal(b.ceiling(), 3000, 'huge attempt counts stay at the cap (no overflow)');
  // Out-of-range random values are clamped.
  const wild = new Backoff({ baseMs: 100, capMs: 100, random: scripted(7, -3) });
  t.equal(wild.next(), 100);
  t.equal(wild.next(), 0);
});

t.test('backoff: reset starts again from the base', async (t) => {
  const b = new Backoff({ baseMs: 100, capMs: 10_000, random: scripted(0.5) });
  b.next();
  b.next();
  b.next();
  t.equal(b.ceiling(), 800);
  b.reset();
  t.equal(b.attempts, 0);
  t.equal(b.ceiling(), 100);
  t.equal(b.next(), 50);
});

t.test('backoff: defaults and bad options', async (t) => {
  const b = new Backoff();
  t.equal(b.baseMs, 1000);
  t.equal(b.capMs, 60_000);
  t.throws(() => new Backoff({ baseMs: 0 }), RangeError);
  t.throws(() => new Backoff({ baseMs: 100, capMs: 50 }), RangeError);
});

t.test('topics: per-device, group and all', async (t) => {
  const d = deviceTopics('hall-17');
  t.equal(d.prefix, 'diemcau/hall-17');
  t.equal(d.status, 'diemcau/hall-17/status');
  t.equal(d.state, 'diemcau/hall-17/state');
  t.equal(d.telemetry, 'diemcau/hall-17/telemetry');
  t.equal(d.events, 'diemcau/hall-17/events');
  t.equal(d.cmd('mute'), 'diemcau/hall-17/cmd/mute');
  t.equal(d.cmdFilter, 'diemcau/hall-17/cmd/#');
  t.equal(d.reply('r-42'), 'diemcau/hall-17/reply/r-42');
  t.equal(groupCmdTopic('north', 'reboot'), 'diemcau/group/north/cmd/reboot');
  t.equal(groupCmdFilter('north'), 'diemcau/group/north/cmd/#');
  t.equal(allCmdTopic('update'), 'diemcau/all/cmd/update');
  t.equal(ALL_CMD_FILTER, 'diemcau/all/cmd/#');
});

t.test('topics: ids usable as one topic level', async (t) => {
  for (const ok of ['hall-17', 'a', 'Nhà_văn_hoá.3', 'x'.repeat(128)]) t.ok(isValidTopicId(ok), ok);
  for (const bad of ['', 'a/b', 'a+', '#', 'x'.repeat(129), 'a\u0000b', 'tab\there', 'all', 'group']) {
    t.notOk(isValidTopicId(bad), JSON.stringify(bad));
    t.type(topicIdProblem(bad), 'string');
  }
  t.throws(() => deviceTopics('evil/+'), TypeError);
  t.throws(() => assertTopicId('#'), TypeError);
  t.equal(deviceTopics('ok').cmd('config/get'), 'diemcau/ok/cmd/config/get', 'command names may have levels');
  t.throws(() => deviceTopics('ok').cmd('a//b'), TypeError);
  t.throws(() => deviceTopics('ok').cmd('a/+'), TypeError);
  t.throws(() => deviceTopics('ok').reply('+'), TypeError);
  t.throws(() => groupCmdTopic('g#', 'x'), TypeError);
});

t.test('topics: a command topic parsed into name and audience', async (t) => {
  const groups = ['xa-son-thuy'];
  t.same(parseCommandTopic('diemcau/hall-17/cmd/ping', 'hall-17', groups), { name: 'ping', audience: { kind: 'device' } });
  t.same(parseCommandTopic('diemcau/hall-17/cmd/config/set', 'hall-17', groups), {
    name: 'config/set',
    audience: { kind: 'device' },
  });
  t.same(parseCommandTopic('diemcau/group/xa-son-thuy/cmd/mute', 'hall-17', groups), {
    name: 'mute',
    audience: { kind: 'group', groupId: 'xa-son-thuy' },
  });
  t.same(parseCommandTopic('diemcau/all/cmd/identify', 'hall-17', groups), { name: 'identify', audience: { kind: 'all' } });
  for (const other of [
    'diemcau/hall-18/cmd/ping',
    'diemcau/group/other/cmd/ping',
    'diemcau/hall-17/cmd',
    'diemcau/hall-17/state',
    'elsewhere/hall-17/cmd/ping',
  ]) {
    t.equal(parseCommandTopic(other, 'hall-17', groups), undefined, other);
  }
});

t.test('protocol fallback decision', async (t) => {
  t.ok(shouldFallBackToV311(5, { code: 1 }), '3.1.1 broker: unacceptable protocol version');
  t.ok(shouldFallBackToV311(5, { code: 0x84 }), 'v5 reason: unsupported protocol version');
  t.notOk(shouldFallBackToV311(4, { code: 1 }), 'already on 3.1.1');
  t.notOk(shouldFallBackToV311(5, { code: 5 }), 'not authorised (3.1.1)');
  t.notOk(shouldFallBackToV311(5, { code: 0x87 }), 'not authorised (v5)');
  t.notOk(shouldFallBackToV311(5, { code: 'ECONNREFUSED' }), 'network error');
  t.notOk(shouldFallBackToV311(5, new Error('boom')), 'no code');
  t.notOk(shouldFallBackToV311(5, undefined));
});
