import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { FleetConnection, packageVersion, type FleetConnectionOptions } from '../daemon/fleet/connection.js';
import { createLogger } from '../daemon/log.js';
import { makeClientCert, startMosquitto, type Broker } from './helpers/mosquitto.js';
import { delay, waitUntil } from './helpers/wait.js';

interface Seen {
  topic: string;
  payload: unknown;
  retain: boolean;
}

/** A second, independent client subscribed to `diemcau/#` that records every message. */
async function watcher(t: Test, url: string): Promise<{ client: MqttClient; seen: Seen[] }> {
  const client = await connectAsync(url, { clientId: `watcher-${randomUUID()}`, reconnectPeriod: 0, protocolVersion: 5 });
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString());
    } catch {
      parsed = payload.toString();
    }
    seen.push({ topic, payload: parsed, retain: packet.retain });
  });
  await client.subscribeAsync('diemcau/#', { qos: 1 });
  t.teardown(() => client.endAsync(true));
  return { client, seen };
}

async function startBroker(t: Test, options?: Parameters<typeof startMosquitto>[0]): Promise<Broker> {
  const broker = await startMosquitto(options);
  t.teardown(broker.stop);
  return broker;
}

function box(t: Test, url: string, extra: Partial<FleetConnectionOptions> = {}): FleetConnection {
  const deviceId = `box-${randomUUID().slice(0, 8)}`;
  const conn = new FleetConnection({
    url,
    deviceId,
    keepaliveS: 30,
    log: createLogger('silent'),
    backoff: { baseMs: 50, capMs: 400 },
    ...extra,
  });
  t.teardown(() => conn.stop());
  return conn;
}

const lastOn = (seen: Seen[], topic: string): Seen | undefined => seen.filter((m) => m.topic === topic).at(-1);

t.test('connect publishes the retained online status; publishState the retained state', async (t) => {
  const broker = await startBroker(t);
  const w = await watcher(t, broker.url);
  const conn = box(t, broker.url);
  const connected = conn.waitFor('connected');
  conn.start();
  const [info] = await connected;
  t.equal(info.protocolVersion, 5);
  t.equal(conn.connected, true);

  await waitUntil('the watcher sees status', () => lastOn(w.seen, conn.topics.status) !== undefined, {}, () => w.seen);
  const status = lastOn(w.seen, conn.topics.status)!.payload as Record<string, unknown>;
  t.equal(status.online, true);
  t.equal(status.version, packageVersion());
  t.match(status.version, /^\d+\.\d+\.\d+/);
  t.equal(new Date(status.since as string).toISOString(), status.since, 'since is an ISO time');
  t.same(Object.keys(status).sort(), ['online', 'since', 'version']);

  t.equal(await conn.publishState({ call: null, mute: false, volume: 70 }), true, 'acknowledged');
  await waitUntil('the watcher sees state', () => lastOn(w.seen, conn.topics.state) !== undefined, {}, () => w.seen);
  t.same(lastOn(w.seen, conn.topics.state)!.payload, { call: null, mute: false, volume: 70 });

  // Both are retained: a client that subscribes later gets them at once.
  const late = await watcher(t, broker.url);
  await waitUntil('a late subscriber gets both retained messages', () => late.seen.length >= 2, {}, () => late.seen);
  t.ok(late.seen.every((m) => m.retain), 'delivered as retained');
  t.equal((lastOn(late.seen, conn.topics.status)!.payload as { online: boolean }).online, true);
  t.same(lastOn(late.seen, conn.topics.state)!.payload, { call: null, mute: false, volume: 70 });
});

t.test('a connection that dies abruptly fires the will; the box comes back by itself', async (t) => {
  const broker = await startBroker(t);
  const w = await watcher(t, broker.url);
  const conn = box(t, broker.url);
  const reasons: string[] = [];
  conn.on('disconnected', (r) => reasons.push(r));
  let connects = 0;
  conn.on('connected', () => connects++);
  conn.start();
  await waitUntil('online', () => (lastOn(w.seen, conn.topics.status)?.payload as { online?: boolean })?.online === true);
  await conn.publishState({ volume: 3 });

  const before = w.seen.length;
  (conn.client as any).stream.destroy();
  await waitUntil('the broker publishes the will', () =>
    w.seen.slice(before).some((m) => m.topic === conn.topics.status && (m.payload as { online?: boolean; reason?: string }).online === false && !(m.payload as { reason?: string }).reason),
  );
  await waitUntil('disconnected is emitted', () => reasons.length === 1);
  await waitUntil('the box reconnects', () => connects === 2 && conn.connected, {}, () => ({ connects }));
  await waitUntil(
    'online again after the will',
    () => (lastOn(w.seen, conn.topics.status)?.payload as { online?: boolean })?.online === true,
    {},
    () => w.seen,
  );
  const after = w.seen.slice(before);
  const willAt = after.findIndex((m) => m.topic === conn.topics.status && (m.payload as { online: boolean }).online === false);
  const stateAgain = after.findIndex((m, i) => i > willAt && m.topic === conn.topics.state);
  await waitUntil('the state is re-published', () =>
    w.seen.slice(before).some((m) => m.topic === conn.topics.state && (m.payload as { volume?: number }).volume === 3),
  );
  t.ok(willAt >= 0);
  t.ok(stateAgain === -1 || stateAgain > willAt);
});

t.test('stop() publishes offline with reason shutdown and the will is not fired', async (t) => {
  const broker = await startBroker(t);
  const w = await watcher(t, broker.url);
  const conn = box(t, broker.url);
  conn.start();
  await conn.waitFor('connected');
  const disconnected = conn.waitFor('disconnected');
  await conn.stop();
  t.same(await disconnected, ['shutdown']);
  t.equal(conn.connected, false);
  await waitUntil('the watcher sees the shutdown status', () =>
    w.seen.some((m) => m.topic === conn.topics.status && (m.payload as { reason?: string }).reason === 'shutdown'),
  );
  t.match(lastOn(w.seen, conn.topics.status)!.payload, { online: false, reason: 'shutdown', at: String });
  // A clean DISCONNECT: mosquitto logs it as such (and a will would have been sent right then).
  const clientId = `diemcau-${conn.topics.prefix.split('/')[1]}`;
  await waitUntil('the broker logs a clean disconnect', () => broker.output().includes(`Client ${clientId} disconnected.`), {}, () =>
    broker.output().split('\n').filter((l) => l.includes(clientId)),
  );
  t.notMatch(broker.output(), new RegExp(`Sending will message.*${clientId}|Client ${clientId} closed its connection`));
  const late = await watcher(t, broker.url);
  await waitUntil('a late subscriber gets the retained status', () => lastOn(late.seen, conn.topics.status) !== undefined);
  t.match(lastOn(late.seen, conn.topics.status)!.payload, { online: false, reason: 'shutdown', at: String });
  await conn.stop(); // twice is fine
});

t.test('broker restart: the box reconnects and re-publishes status and the last state', async (t) => {
  const broker = await startBroker(t);
  const conn = box(t, broker.url);
  const errors: Error[] = [];
  conn.on('error', (e) => errors.push(e));
  conn.start();
  await conn.waitFor('connected');
  await conn.publishState({ meeting: 'hop-xa', rev: 1 });
  t.equal(await conn.publishState({ meeting: 'hop-xa', rev: 2 }), true);

  const disconnected = conn.waitFor('disconnected');
  await broker.kill();
  const [reason] = await disconnected;
  t.type(reason, 'string');
  t.equal(conn.connected, false);
  t.equal(await conn.publishState({ meeting: 'hop-xa', rev: 3 }), false, 'offline: kept for later');
  // Down for a while: the box keeps trying (refused connections), then the broker is back.
  await waitUntil('a refused attempt', () => errors.some((e) => (e as { code?: string }).code === 'ECONNREFUSED'), {}, () =>
    errors.map((e) => e.message),
  );
  const reconnected = conn.waitFor('connected');
  await broker.start();
  await reconnected;

  // No persistence: the broker forgot everything, so what a new subscriber sees came from the box.
  const w = await watcher(t, broker.url);
  await waitUntil('retained status and state', () => !!lastOn(w.seen, conn.topics.status) && !!lastOn(w.seen, conn.topics.state), {}, () => w.seen);
  t.equal((lastOn(w.seen, conn.topics.status)!.payload as { online: boolean }).online, true);
  t.same(lastOn(w.seen, conn.topics.state)!.payload, { meeting: 'hop-xa', rev: 3 });
  t.ok(w.seen.every((m) => m.retain));
});

t.test('credentials: a password file broker', async (t) => {
  const broker = await startBroker(t, { users: { box1: 's3cret' } });
  const good = box(t, broker.url, { username: 'box1', password: 's3cret' });
  good.start();
  const [info] = await good.waitFor('connected');
  t.equal(info.protocolVersion, 5);

  const bad = box(t, broker.url, { username: 'box1', password: 'wrong' });
  const refused = bad.waitFor('error', (e) => typeof (e as { code?: unknown }).code === 'number');
  bad.start();
  const [err] = await refused;
  t.equal((err as { code?: number }).code, 0x87, 'MQTT 5: not authorized');
  t.equal(bad.connected, false);
  t.equal(bad.protocolVersion, 5, 'an auth refusal is no reason to fall back');
});

t.test('TLS: mqtts with the CA file; without it the broker certificate is refused', async (t) => {
  const broker = await startBroker(t, { tls: true });
  t.match(broker.url, /^mqtts:\/\//);
  const conn = box(t, broker.url, { caFile: broker.caFile! });
  conn.start();
  const [info] = await conn.waitFor('connected');
  t.equal(info.protocolVersion, 5);
  await waitUntil('the broker logs the TLS client', () => broker.output().includes(`New client connected from 127.0.0.1`));

  const untrusting = box(t, broker.url);
  const refused = untrusting.waitFor('error');
  untrusting.start();
  const [err] = await refused;
  t.match((err as { code?: string }).code, /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/, 'a certificate error');
  t.equal(untrusting.connected, false);

  const missing = box(t, broker.url, { caFile: `${broker.dir}/no-such-ca.crt` });
  const noFile = missing.waitFor('error');
  missing.start();
  const [e2] = await noFile;
  t.equal((e2 as { code?: string }).code, 'ENOENT');
});

t.test('TLS client certificates: the box logs in by certificate; without one it is refused', async (t) => {
  const broker = await startBroker(t, { tls: true, extraConfig: ['require_certificate true', 'use_identity_as_username true'] });
  const { certFile, keyFile } = await makeClientCert(broker.dir, 'box-cert-1');
  const conn = box(t, broker.url, { caFile: broker.caFile!, clientCertFile: certFile, clientKeyFile: keyFile });
  conn.start();
  const [info] = await conn.waitFor('connected');
  t.equal(info.protocolVersion, 5, 'connected with the client certificate');

  const noCert = box(t, broker.url, { caFile: broker.caFile! });
  const refused = noCert.waitFor('error');
  noCert.start();
  await refused;
  await delay(300);
  t.equal(noCert.connected, false, 'a box without a certificate does not get in');
});
