import t from 'tap';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connectAsBox, consoleClient, startFleetBroker, startInProcessBox } from './helpers/fleet.js';
import { waitUntil } from './helpers/wait.js';

type Reply = Record<string, unknown> & { ok: boolean; error?: { code: string; message: string }; result?: Record<string, unknown> };

t.test('commands: every kind of request gets its reply, good or coded error, and the box keeps answering', async (t) => {
  const broker = await startFleetBroker(t, ['hall-1']);
  const console = await consoleClient(t, broker);
  const box = await startInProcessBox(t, broker, 'hall-1');
  await waitUntil('the box is online', () => box.fleet.connection.connected);
  const ask = async (name: string, args?: object | string | Buffer) => (await console.command('hall-1', name, args)) as Reply;

  const ping = await ask('ping');
  t.equal(ping.ok, true);
  t.equal(ping.deviceId, 'hall-1');
  t.equal(ping.command, 'ping');
  t.match(ping.result, { pong: true, version: 'test' });

  // Bad inputs of each kind: a structured error, never silence.
  t.match(await ask('ping', '{not json'), { ok: false, error: { code: 'DC_CMD_BAD_JSON' } }, 'bad JSON');
  t.match(await ask('ping', '[1,2]'), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'not an object');
  t.match(await ask('no-such-thing'), { ok: false, error: { code: 'DC_CMD_UNKNOWN' } }, 'unknown command');
  const wrongType = await ask('volume', { percent: 'loud' });
  t.match(wrongType, { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'wrong type');
  t.match(wrongType.error?.message, /percent: an integer from 0 to 150, got "loud"/, 'the error names the field');
  t.match(await ask('volume', { percent: 50, extra: 1 }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'unknown argument');
  t.match(await ask('ping', Buffer.alloc(70_000, 0x20)), { ok: false, error: { code: 'DC_CMD_TOO_LARGE' } }, 'oversized');
  t.match(await ask('ping', { requestId: 'a/b' }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'bad request id');
  t.match(await ask('ping', { expiresAt: Date.now() - 1000 }), { ok: false, error: { code: 'DC_CMD_EXPIRED' } }, 'expired');
  t.match(await ask('join', { whip: 'https://sfu.example/whip' }), { ok: false, error: { code: 'DC_NOT_AVAILABLE' } }, 'calls not built');
  t.match(await ask('display', { on: true }), { ok: false, error: { code: 'DC_NOT_AVAILABLE' } }, 'TV control not built');
  t.match(await ask('mute'), { ok: false, error: { code: 'DC_MEDIA_NOT_RUNNING' } }, 'no media engine in this box');
  t.match((await ask('ping')).ok, true, 'still answering after all that');

  // config/get and config/set with the revision check.
  const got = await ask('config/get');
  const revision = (got.result as { revision: number }).revision;
  t.equal((got.result as { config: { device: { id: string } } }).config.device.id, 'hall-1');
  const set = await ask('config/set', { revision, patch: { device: { name: 'Nhà văn hoá thôn Đông' } } });
  t.match(set, { ok: true, result: { revision: revision + 1, changed: true } });
  t.equal(box.store.current.device.name, 'Nhà văn hoá thôn Đông', 'applied');
  t.match(JSON.parse(await readFile(box.store.path!, 'utf8')), { device: { name: 'Nhà văn hoá thôn Đông' } }, 'saved');
  const stale = await ask('config/set', { revision, patch: { device: { name: 'X' } } });
  t.match(stale, { ok: false, error: { code: 'DC_CONFIG_STALE_REVISION' } }, 'a stale revision is refused');
  const invalid = await ask('config/set', { revision: revision + 1, patch: { media: { video: { fps: 999 } } } });
  t.match(invalid, { ok: false, error: { code: 'DC_CONFIG_INVALID' } });
  t.match(invalid.error?.message, /media\.video\.fps/, 'the field is named');
  t.equal(box.store.current.revision, revision + 1, 'an invalid change leaves the config as it was');
  t.match(await ask('config/set', { patch: {} }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'one box: revision required');

  // volume is kept in the config (so it survives a restart).
  t.match(await ask('volume', { percent: 80 }), { ok: true, result: { volume: 80 } });
  t.equal(box.store.current.media.audio.volume, 80);

  // diagnostics carries the last log lines and the fleet link.
  const diagnostics = await ask('diagnostics', { logLines: 5 });
  t.match(diagnostics.result, { fleet: { connected: true }, versions: { node: process.versions.node } });
  t.ok(Array.isArray((diagnostics.result as { logs: unknown[] }).logs));

  // restart and reboot act only after the reply is out.
  t.match(await ask('reboot'), { ok: true, result: { rebooting: true } });
  await waitUntil('the simulated reboot', () => box.power.reboots.length === 1);
  t.match(await ask('restart'), { ok: true, result: { restarting: 'daemon' } });
  await waitUntil('the restart request', () => box.restarts.length === 1);
});

t.test('commands: a repeated request id gets the same reply without running twice; 3.1.1-style replies', async (t) => {
  const broker = await startFleetBroker(t, ['hall-2']);
  const console = await consoleClient(t, broker);
  const box = await startInProcessBox(t, broker, 'hall-2');
  await waitUntil('the box is online', () => box.fleet.connection.connected);
  // No response topic: the reply goes to diemcau/<id>/reply/<requestId>, as a 3.1.1 client expects.
  const requestId = `r-${randomUUID().slice(0, 8)}`;
  const revision = box.store.current.revision;
  const body = JSON.stringify({ requestId, revision, patch: { device: { village: 'Thôn Bắc' } } });
  for (let i = 0; i < 2; i++) await console.client.publishAsync('diemcau/hall-2/cmd/config/set', body, { qos: 1 });
  const replyTopic = `diemcau/hall-2/reply/${requestId}`;
  await waitUntil('two replies', () => console.seen.filter((m) => m.topic === replyTopic).length === 2);
  const replies = console.seen.filter((m) => m.topic === replyTopic).map((m) => m.json);
  t.same(replies[0], replies[1], 'the same reply twice');
  t.match(replies[0], { ok: true, requestId, result: { revision: revision + 1 } });
  t.equal(box.store.current.revision, revision + 1, 'applied once (a second run would have been refused as stale)');
});

t.test('group and all commands reach every member and only them', async (t) => {
  const ids = ['north-1', 'north-2', 'south-1'];
  const broker = await startFleetBroker(t, ids);
  const console = await consoleClient(t, broker);
  const boxes = await Promise.all(
    ids.map((id) => startInProcessBox(t, broker, id, { fleet: { groups: [id.startsWith('north') ? 'north' : 'south'] } })),
  );
  await waitUntil('all boxes online', () => boxes.every((b) => b.fleet.connection.connected));
  // Subscriptions are made right after CONNACK; wait until the broker has them.
  await waitUntil('subscriptions active', async () => (await console.command('south-1', 'ping')).ok === true);

  const groupRequest = `g-${randomUUID().slice(0, 8)}`;
  await console.client.publishAsync('diemcau/group/north/cmd/ping', JSON.stringify({ requestId: groupRequest }), { qos: 1 });
  const allRequest = `a-${randomUUID().slice(0, 8)}`;
  await console.client.publishAsync('diemcau/all/cmd/ping', JSON.stringify({ requestId: allRequest }), { qos: 1 });
  const repliers = (requestId: string) =>
    console.seen
      .filter((m) => m.topic.endsWith(`/reply/${requestId}`))
      .map((m) => (m.json as { deviceId: string }).deviceId)
      .sort();
  await waitUntil('every box answered the all-box ping', () => repliers(allRequest).length === 3);
  t.same(repliers(allRequest), ids.slice().sort(), 'all: every box');
  t.same(repliers(groupRequest), ['north-1', 'north-2'], 'group: its members only');
  // A group config change needs no revision: each box has its own.
  await console.client.publishAsync('diemcau/group/south/cmd/config/set', JSON.stringify({ patch: { fleet: { telemetryIntervalS: 60 } } }), {
    qos: 1,
  });
  await waitUntil('south-1 applied the group change', () => boxes[2]!.store.current.fleet.telemetryIntervalS === 60);
  t.equal(boxes[0]!.store.current.fleet.telemetryIntervalS, 5, 'north untouched');
});

t.test('ACL: a box cannot publish under another box prefix nor read its commands', async (t) => {
  const broker = await startFleetBroker(t, ['box-a', 'box-b']);
  const console = await consoleClient(t, broker);
  const asBoxA = await connectAsBox(t, broker, 'box-a');
  const received: string[] = [];
  asBoxA.on('message', (topic) => received.push(topic));

  // Publishing as box-b: MQTT 5 PUBACK says "not authorized" (0x87), and nothing arrives.
  const forged = await asBoxA.publishAsync('diemcau/box-b/status', '{"online":true}', { qos: 1, retain: true }).then(
    () => null,
    (e: { code?: number }) => e,
  );
  t.equal(forged?.code, 0x87, 'the broker refused the publish as not authorized');
  // Its own prefix is fine.
  await asBoxA.publishAsync('diemcau/box-a/events', '{"type":"test"}', { qos: 1 });
  await waitUntil('its own event arrived', () => console.seen.some((m) => m.topic === 'diemcau/box-a/events'));
  t.notOk(console.seen.some((m) => m.topic === 'diemcau/box-b/status'), 'no forged status reached the console');

  // Subscribing to box-b's commands: mosquitto 2.0 grants the subscription and applies the ACL
  // to each message, so what counts is that a command sent there never arrives.
  await asBoxA.subscribeAsync('diemcau/box-b/cmd/#', { qos: 1 });
  await asBoxA.subscribeAsync('diemcau/box-a/cmd/#', { qos: 1 });
  await console.client.publishAsync('diemcau/box-b/cmd/ping', '{}', { qos: 1 });
  await console.client.publishAsync('diemcau/box-a/cmd/ping', '{}', { qos: 1 });
  await waitUntil('its own command arrived', () => received.includes('diemcau/box-a/cmd/ping'));
  t.notOk(received.includes('diemcau/box-b/cmd/ping'), "box-a never saw box-b's command");

  // Call signalling: box-a reads only calls addressed to it, and calls only as itself.
  await asBoxA.subscribeAsync(['diemcau/+/call/box-a/#', 'diemcau/+/call/box-b/#'], { qos: 1 });
  await console.client.publishAsync('diemcau/box-c/call/box-b/offer', '{}', { qos: 1 });
  await console.client.publishAsync('diemcau/box-c/call/box-a/offer', '{}', { qos: 1 });
  await waitUntil('a call addressed to box-a arrived', () => received.includes('diemcau/box-c/call/box-a/offer'));
  t.notOk(received.includes('diemcau/box-c/call/box-b/offer'), "box-a never saw a call meant for box-b");
  const spoofed = await asBoxA.publishAsync('diemcau/box-b/call/box-c/offer', '{}', { qos: 1 }).then(
    () => null,
    (e: { code?: number }) => e,
  );
  t.equal(spoofed?.code, 0x87, 'box-a cannot offer a call as box-b');
});
