/**
 * The built daemon (sim profile, with its media worker) on a real TLS mosquitto with passwords
 * and the fleet ACL: presence through the last will, retained state after a restart, media
 * commands reaching the engine, and store-and-forward across a broker outage and a daemon restart.
 */
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { mergePatch } from '../daemon/config/merge.js';
import { DAEMON, runNode, simDaemonConfig, type RunningProcess } from './helpers/daemon.js';
import { boxConfig, consoleClient, CONSOLE_PASSWORD, CONSOLE_USER, startFleetBroker, startInProcessBox, type FleetBroker } from './helpers/fleet.js';
import { delay, waitUntil } from './helpers/wait.js';

const KEEPALIVE_S = 5;

async function boxFiles(t: Test, broker: FleetBroker, id: string, extra: object = {}) {
  const dir = await mkdtemp(join(tmpdir(), `diemcau-fleetd-${id}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  const fleet = await boxConfig(broker, id, dir, {
    fleet: { keepaliveS: KEEPALIVE_S, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } },
    ...extra,
  });
  await writeFile(path, JSON.stringify(mergePatch(await simDaemonConfig(), fleet)));
  return { dir, path };
}

function startDaemon(t: Test, path: string): RunningProcess {
  const daemon = runNode(DAEMON, ['--config', path, '--screen', 'fake']);
  t.teardown(() => daemon.stop());
  return daemon;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

t.test('kill -9: the will marks the box offline within the keepalive window; a restart brings it online with the current state', async (t) => {
  const broker = await startFleetBroker(t, ['hall-k']);
  const console = await consoleClient(t, broker);
  const { path } = await boxFiles(t, broker, 'hall-k');
  const first = startDaemon(t, path);
  await waitUntil('online', () => (console.lastOn('diemcau/hall-k/status')?.json as Json)?.online === true, { timeoutMs: 30_000 });
  await waitUntil('a retained state with media up', () => (console.lastOn('diemcau/hall-k/state')?.json as Json)?.media?.up === true, {
    timeoutMs: 30_000,
  });

  const killedAt = performance.now();
  first.proc.kill('SIGKILL');
  await waitUntil('the will says offline', () => (console.lastOn('diemcau/hall-k/status')?.json as Json)?.online === false, {
    timeoutMs: KEEPALIVE_S * 1500 + 2000,
  });
  const offlineAfterMs = performance.now() - killedAt;
  t.ok(offlineAfterMs <= KEEPALIVE_S * 1500, `offline after ${Math.round(offlineAfterMs)} ms (keepalive window ${KEEPALIVE_S * 1.5} s)`);
  const will = console.lastOn('diemcau/hall-k/status')?.json as Json;
  t.notOk(will.reason, 'the last will, not a clean shutdown');
  t.ok(Date.parse(will.onlineSince) <= Date.now(), 'it says since when the lost session was up');

  // Changed while the box was down: the state after the restart must say so.
  const config = JSON.parse(await readFile(path, 'utf8')) as Json;
  config.device.name = 'Nhà văn hoá thôn Mới';
  await writeFile(path, JSON.stringify(config));
  startDaemon(t, path);
  await waitUntil('online again', () => (console.lastOn('diemcau/hall-k/status')?.json as Json)?.online === true, { timeoutMs: 30_000 });
  await waitUntil('the state is current', () => (console.lastOn('diemcau/hall-k/state')?.json as Json)?.name === 'Nhà văn hoá thôn Mới', {
    timeoutMs: 30_000,
  });

  // A late subscriber gets both retained, as a console opened now would.
  const late = await consoleClient(t, broker);
  await waitUntil('retained status and state', () => !!late.lastOn('diemcau/hall-k/state') && !!late.lastOn('diemcau/hall-k/status'));
  t.match(late.lastOn('diemcau/hall-k/state'), { retain: true, json: { deviceId: 'hall-k', name: 'Nhà văn hoá thôn Mới' } });
  t.match(late.lastOn('diemcau/hall-k/status'), { retain: true, json: { online: true } });
});

t.test('media commands reach the engine of a running daemon', async (t) => {
  const broker = await startFleetBroker(t, ['hall-m']);
  const console = await consoleClient(t, broker);
  const { path } = await boxFiles(t, broker, 'hall-m');
  const daemon = startDaemon(t, path);
  await daemon.waitForLog('media up', (r) => r.msg === 'media worker state' && (r.worker as Json)?.state === 'running', 60_000);
  await waitUntil('online', () => (console.lastOn('diemcau/hall-m/status')?.json as Json)?.online === true, { timeoutMs: 30_000 });

  t.match(await console.command('hall-m', 'mute', { what: 'both' }), { ok: true, result: { audioMuted: true, videoMuted: true } });
  await waitUntil('state shows muted', () => (console.lastOn('diemcau/hall-m/state')?.json as Json)?.media?.audioMuted === true);
  t.match(await console.command('hall-m', 'unmute', { what: 'video' }), { ok: true, result: { audioMuted: true, videoMuted: false } });
  t.match(await console.command('hall-m', 'volume', { percent: 40 }), { ok: true });
  await waitUntil('volume applied live', () => (console.lastOn('diemcau/hall-m/state')?.json as Json)?.media?.volume === 40);
  const message = await console.command('hall-m', 'message', { text: 'Họp lúc 8 giờ', seconds: 2 });
  t.match(message, { ok: true, result: { shown: true } });
  await daemon.waitForLog('the message wakes the TV', (r) => r.event === 'hardware.tv_wake' && r.why === 'message');
  await waitUntil('state carries the message', () => (console.lastOn('diemcau/hall-m/state')?.json as Json)?.message?.text === 'Họp lúc 8 giờ');
  await waitUntil('and drops it when it ends', () => (console.lastOn('diemcau/hall-m/state')?.json as Json)?.message === null, {
    timeoutMs: 5000,
  });
  t.match(await console.command('hall-m', 'identify', { seconds: 1 }), { ok: true, result: { screen: true, light: true } }, 'identify shows on the TV and blinks the light');
  t.match((console.lastOn('diemcau/hall-m/state')?.json as Json)?.display, { available: true, control: 'simulated', light: 'online' }, 'the state shows the TV control and the light');
  t.match(await console.command('hall-m', 'display', { on: false }), { ok: true, result: { tv: 'standby' } }, 'display off: the TV in standby');
  t.match(await console.command('hall-m', 'display', { on: true }), { ok: true, result: { tv: 'on' } }, 'display on: the TV on the box');
  t.match(await console.command('hall-m', 'display', { on: 'yes' }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'a bad argument is refused');

  // A snapshot of the TV picture, published as JPEG where asked (under the box prefix: the ACL).
  const topic = `diemcau/hall-m/snapshot/test-${randomUUID().slice(0, 6)}`;
  const shot = await console.command('hall-m', 'snapshot', { source: 'screen', topic }, 20_000);
  t.match(shot, { ok: true, result: { topic, contentType: 'image/jpeg' } });
  await waitUntil('the picture arrived', () => !!console.lastOn(topic));
  const jpeg = console.lastOn(topic)!.payload;
  t.equal(jpeg.subarray(0, 2).toString('hex'), 'ffd8', 'a JPEG');
  t.equal(jpeg.length, (shot.result as Json).bytes);
  // Elsewhere the ACL refuses it, and the reply says so.
  t.match(await console.command('hall-m', 'snapshot', { source: 'screen', topic: 'diemcau/other-box/snapshot' }, 20_000), {
    ok: false,
    error: { code: 'DC_CMD_REFUSED' },
  });
  t.match(await console.command('hall-m', 'restart', { what: 'media' }, 40_000), { ok: true, result: { restarted: 'media' } });
  await waitUntil('the mute survived the media restart', async () => {
    const reply = await console.command('hall-m', 'diagnostics', { logLines: 0 });
    return (reply.result as Json)?.media?.audioMuted === true;
  });
});

/** A console whose session (and queued messages) survives a broker restart: persistence on, clean start off. */
async function persistentConsole(t: Test, broker: FleetBroker, clientId: string): Promise<{ seen: Json[]; client: () => MqttClient }> {
  const seen: Json[] = [];
  let current: MqttClient | undefined;
  const connect = async () => {
    const client = await connectAsync(broker.url, {
      clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 300,
      username: CONSOLE_USER,
      password: CONSOLE_PASSWORD,
      ca: [await readFile(broker.caFile)],
    });
    client.on('message', (topic, payload) => seen.push({ topic, ...JSON.parse(payload.toString()) }));
    await client.subscribeAsync(['diemcau/+/telemetry', 'diemcau/+/events'], { qos: 1 });
    current = client;
  };
  await connect();
  t.teardown(() => current?.endAsync(true));
  return { seen, client: () => current! };
}

t.test('store-and-forward: queued during an outage and across a daemon restart, delivered once and in order', async (t) => {
  const broker = await startFleetBroker(t, ['hall-q'], persistenceConfig(t));
  const watcher = await persistentConsole(t, broker, `queue-watch-${randomUUID().slice(0, 6)}`);
  const { path } = await boxFiles(t, broker, 'hall-q', {});
  const daemon = startDaemon(t, path);
  await waitUntil('first telemetry', () => watcher.seen.some((m) => m.topic === 'diemcau/hall-q/telemetry'), { timeoutMs: 30_000 });
  const lastBefore = Math.max(...watcher.seen.map((m) => m.seq as number));

  await broker.kill();
  // Telemetry every 5 s keeps coming into the queue; then the daemon restarts, broker still down.
  await delay(11_000);
  t.equal((await daemon.stop()).code, 0, 'stopped cleanly while offline');
  startDaemon(t, path);
  await delay(7_000);
  await broker.start();

  // Everything produced while the broker was away arrives, once each, in order.
  await waitUntil(
    'the queue is delivered',
    () => watcher.seen.filter((m) => m.seq > lastBefore && m.topic === 'diemcau/hall-q/telemetry').length >= 3,
    { timeoutMs: 30_000 },
  );
  await delay(1500); // let the rest of the queue land
  const after = watcher.seen.filter((m) => (m.seq as number) > lastBefore);
  const seqs = after.map((m) => m.seq as number);
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  t.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => lastBefore + 1 + i), 'no gaps: nothing lost');
  const runs = new Set(after.map((m) => m.runId));
  t.ok(runs.size >= 2, 'messages from before and after the daemon restart');
  t.ok(after.some((m) => m.topic === 'diemcau/hall-q/events' && m.type === 'started'), "the second run's start event is among them");
  const telemetryWhileOffline = after.filter((m) => m.topic === 'diemcau/hall-q/telemetry');
  t.ok(telemetryWhileOffline.length >= 3, `${telemetryWhileOffline.length} telemetry messages made while offline`);
});

t.test('store-and-forward: the cap drops the oldest and telemetry reports how many', async (t) => {
  const broker = await startFleetBroker(t, ['hall-c'], persistenceConfig(t));
  const watcher = await persistentConsole(t, broker, `cap-watch-${randomUUID().slice(0, 6)}`);
  const box = await startInProcessBox(t, broker, 'hall-c', {
    fleet: { reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }, queue: { maxMessages: 100 } },
  });
  await waitUntil('online', () => box.fleet.connection.connected);
  await broker.kill();
  await waitUntil('offline', () => !box.fleet.connection.connected);
  for (let i = 0; i < 150; i++) box.fleet.event('error', { test: i });
  await waitUntil('all 150 queued', () => box.fleet.queueStats()?.dropped === 50 || (box.fleet.queueStats()?.messages ?? 0) >= 100, {
    timeoutMs: 10_000,
  });
  await broker.start();
  await waitUntil('the kept events arrive', () => watcher.seen.filter((m) => m.test !== undefined).length >= 100, { timeoutMs: 30_000 });
  const kept = watcher.seen.filter((m) => m.test !== undefined).map((m) => m.test as number);
  t.equal(kept.length, 100, 'as many as the cap');
  t.same(kept, Array.from({ length: 100 }, (_, i) => 50 + i), 'the newest 100, in order: the oldest 50 were dropped');
  await waitUntil('telemetry reports the drop', () => watcher.seen.some((m) => m.topic === 'diemcau/hall-c/telemetry' && m.queue?.dropped >= 50), {
    timeoutMs: 15_000,
  });
});

/** mosquitto keeps sessions and queued messages across its own restart. */
function persistenceConfig(t: Test): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-mosq-db-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return ['persistence true', `persistence_location ${dir}/`];
}
