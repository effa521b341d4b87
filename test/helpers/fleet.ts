/** A fleet on this machine: a TLS mosquitto with passwords and the fleet ACL, boxes and a console client. */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { ConfigStore, type Config } from '../../daemon/config/index.js';
import { mergePatch } from '../../daemon/config/merge.js';
import { Fleet, type FleetDeps } from '../../daemon/fleet/fleet.js';
import { HealthCollector } from '../../daemon/health/index.js';
import { createLogger, LogTail, type Logger } from '../../daemon/log.js';
import { ScreenDirector } from '../../daemon/screen/director.js';
import { SimulatedPower } from '../../daemon/system/power.js';
import { mosquittoAcl } from '../../provisioning/acl.js';
import { DAEMON, runNode, simDaemonConfig, type RunningProcess } from './daemon.js';
import { startMosquitto, type Broker } from './mosquitto.js';
import { waitUntil } from './wait.js';

export const CONSOLE_USER = 'console';
export const CONSOLE_PASSWORD = 'console-secret-1';

export interface FleetBroker extends Broker {
  /** Password of each box user (= device id). */
  passwords: Record<string, string>;
  caFile: string;
}

/** mosquitto on a free loopback port with TLS, a password per box and the fleet ACL. */
export async function startFleetBroker(t: Test, boxIds: readonly string[], extraConfig: string[] = []): Promise<FleetBroker> {
  const passwords: Record<string, string> = {};
  for (const id of boxIds) passwords[id] = `pw-${randomUUID()}`;
  const aclDir = await mkdtemp(join(tmpdir(), 'diemcau-acl-'));
  t.teardown(() => rm(aclDir, { recursive: true, force: true }));
  const aclFile = join(aclDir, 'acl');
  await writeFile(aclFile, mosquittoAcl({ consoleUsers: [CONSOLE_USER] }));
  const broker = await startMosquitto({
    tls: true,
    users: { [CONSOLE_USER]: CONSOLE_PASSWORD, ...passwords },
    extraConfig: [`acl_file ${aclFile}`, ...extraConfig],
  });
  t.teardown(broker.stop);
  return { ...broker, passwords, caFile: broker.caFile! };
}

/** A box's config for the broker: its own user and password file, TLS with the test CA. */
export async function boxConfig(broker: FleetBroker, id: string, dir: string, extra: object = {}): Promise<Record<string, unknown>> {
  const passwordFile = join(dir, 'broker-password');
  await writeFile(passwordFile, `${broker.passwords[id] ?? 'unknown'}\n`, { mode: 0o600 });
  return mergePatch(
    {
      device: { id, name: `Nhà văn hoá ${id}`, commune: 'Xã Sơn Thủy', village: `Thôn ${id}` },
      fleet: { url: broker.url, passwordFile: 'broker-password', caFile: broker.caFile, keepaliveS: 5, telemetryIntervalS: 5 },
    },
    extra,
  ) as Record<string, unknown>;
}

/**
 * A built daemon in the sim profile on the fleet broker as box `id`, calls on 127.0.0.1 only;
 * resolves once its media runs. Stopped, and its directory removed, when the test ends.
 */
export async function startSimBox(t: Test, broker: FleetBroker, id: string, patch: Record<string, unknown> = {}): Promise<RunningProcess> {
  const dir = await mkdtemp(join(tmpdir(), `diemcau-box-${id}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  const fleet = await boxConfig(broker, id, dir, { calls: { loopbackOnly: true } });
  const config = mergePatch(await simDaemonConfig(), { ...fleet, device: { ...(fleet.device as Record<string, unknown>), id } });
  await writeFile(path, JSON.stringify(mergePatch(config, patch)));
  const daemon = runNode(DAEMON, ['--config', path, '--screen', 'fake']);
  t.teardown(() => daemon.stop());
  await daemon.waitForLog(`${id}: media up`, (r) => r.msg === 'media worker state' && (r.worker as { state?: string } | undefined)?.state === 'running', 60_000);
  return daemon;
}

export interface InProcessBox {
  id: string;
  fleet: Fleet;
  store: ConfigStore;
  dir: string;
  power: SimulatedPower;
  restarts: string[];
  stop(): Promise<void>;
}

/**
 * The real fleet part with no media engine (media commands answer DC_MEDIA_NOT_RUNNING) and no
 * calls, as in-process test boxes and the fleet benchmark run it.
 */
export function fleetWithoutMedia(o: {
  store: ConfigStore;
  stateDir: string;
  log: Logger;
  health: FleetDeps['health'];
  power?: SimulatedPower;
  restartDaemon?: (reason: string) => void;
  version: string;
}): Fleet {
  return new Fleet({
    config: o.store,
    stateDir: o.stateDir,
    media: () => undefined,
    restartMedia: async () => undefined,
    restartDaemon: o.restartDaemon ?? (() => undefined),
    power: o.power ?? new SimulatedPower(o.log),
    health: o.health,
    notices: screenWithoutMedia(o.log),
    logTail: new LogTail(),
    log: o.log,
    version: o.version,
    startedAt: Date.now(),
  });
}

/** The screen of a box without media: notices are kept and timed, never drawn. */
function screenWithoutMedia(log: Logger): ScreenDirector {
  return new ScreenDirector({
    surface: () => undefined,
    size: () => ({ width: 1280, height: 720 }),
    facts: () => ({
      site: { name: 'test', village: '', commune: '' },
      boxId: 'test',
      network: 'ok',
      broker: 'online',
      call: { phase: 'idle', peer: null, speaker: null, micMuted: false, quality: 'good' },
      setup: null,
      nextMeeting: null,
    }),
    log,
  });
}

/**
 * The real fleet part of a box without its media engine (media commands then answer
 * DC_MEDIA_NOT_RUNNING): cheap enough to run many in one process.
 */
export async function startInProcessBox(
  t: Test,
  broker: FleetBroker,
  id: string,
  extra: object = {},
  log: Logger = createLogger('silent'),
): Promise<InProcessBox> {
  const dir = await mkdtemp(join(tmpdir(), `diemcau-box-${id}-`));
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(await boxConfig(broker, id, dir, extra)));
  const store = new ConfigStore({ path, explicit: true, log });
  await store.load();
  const power = new SimulatedPower(log);
  const restarts: string[] = [];
  const fleet = fleetWithoutMedia({
    store,
    stateDir: dir,
    log,
    power,
    health: new HealthCollector({ stateDir: dir, firmwareVersion: 'test', log }),
    restartDaemon: (reason) => void restarts.push(reason),
    version: 'test',
  });
  await fleet.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  return { id, fleet, store, dir, power, restarts, stop };
}

/** A bare MQTT 5 client logged in as box `id` (to act as a box, or as an intruder using its credentials). */
export async function connectAsBox(t: Test, broker: FleetBroker, id: string, clientId = `as-${id}-${randomUUID().slice(0, 6)}`): Promise<MqttClient> {
  const client = await connectAsync(broker.url, {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: id,
    password: broker.passwords[id] ?? '',
    ca: [await readFile(broker.caFile)],
  });
  t.teardown(() => client.endAsync(true));
  return client;
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  json: unknown;
  retain: boolean;
  correlationData?: Buffer | undefined;
}

export interface ConsoleClient {
  client: MqttClient;
  seen: ReceivedMessage[];
  /** Sends a command to one box (MQTT 5 response topic + correlation data) and waits for the reply. */
  command(deviceId: string, name: string, args?: object | string | Buffer, timeoutMs?: number): Promise<Record<string, unknown>>;
  lastOn(topic: string): ReceivedMessage | undefined;
}

/** An MQTT 5 client logged in as the console user (or `user`), recording everything under `diemcau/#`. */
export async function consoleClient(
  t: Test,
  broker: FleetBroker,
  { user = CONSOLE_USER, password = CONSOLE_PASSWORD, subscribe = 'diemcau/#' }: { user?: string; password?: string; subscribe?: string | null } = {},
): Promise<ConsoleClient> {
  const options: IClientOptions = {
    clientId: `console-${randomUUID()}`,
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: user,
    password,
    ca: [await readFile(broker.caFile)],
  };
  const client = await connectAsync(broker.url, options);
  t.teardown(() => client.endAsync(true));
  const seen: ReceivedMessage[] = [];
  client.on('message', (topic, payload, packet) => {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      json = undefined;
    }
    const correlationData = packet.properties?.correlationData;
    seen.push({ topic, payload, json, retain: packet.retain, correlationData: Buffer.isBuffer(correlationData) ? correlationData : undefined });
  });
  if (subscribe) await client.subscribeAsync(subscribe, { qos: 1 });
  return {
    client,
    seen,
    lastOn: (topic) => seen.filter((m) => m.topic === topic).at(-1),
    async command(deviceId, name, args = {}, timeoutMs = 10_000) {
      const correlation = Buffer.from(randomUUID());
      const responseTopic = `diemcau/${deviceId}/reply/${randomUUID()}`;
      await client.subscribeAsync(responseTopic, { qos: 1 });
      const payload = typeof args === 'string' || Buffer.isBuffer(args) ? args : JSON.stringify(args);
      await client.publishAsync(`diemcau/${deviceId}/cmd/${name}`, payload, {
        qos: 1,
        properties: { responseTopic, correlationData: correlation },
      });
      await waitUntil(`a reply to ${name} from ${deviceId}`, () => seen.some((m) => m.topic === responseTopic), { timeoutMs });
      const reply = seen.find((m) => m.topic === responseTopic)!;
      if (!reply.correlationData?.equals(correlation)) throw new Error('reply without the request correlation data');
      await client.unsubscribeAsync(responseTopic);
      return reply.json as Record<string, unknown>;
    },
  };
}

export type { Config };
