import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { withDeadline } from '../util/deadline.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { deviceTopics, type DeviceTopics } from './topics.js';

export type MqttProtocolVersion = 5 | 4;

export interface FleetConnectionOptions {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  url: string;
  deviceId: string;
  username?: string;
  password?: string;
  /** File holding the password; read at each attempt, so provisioning can put it in place later. */
  passwordFile?: string;
  /** PEM CA bundle that signs the broker's certificate (mqtts). */
  caFile?: string;
  /** PEM client certificate and key, for brokers that authenticate boxes by certificate. */
  clientCertFile?: string;
  clientKeyFile?: string;
  keepaliveS: number;
  log: Logger;
  /** 5 (default); falls back to 4 (3.1.1) by itself if the broker refuses 5. */
  protocolVersion?: MqttProtocolVersion;
  /** Firmware version put in the status message; the package.json version by default. */
  version?: string;
  /** Reconnection delays (default: base 1 s, cap 60 s, full jitter). */
  backoff?: BackoffOptions;
  /** How long to wait for CONNACK, ms (default 15 000). */
  connectTimeoutMs?: number;
  /** How long stop() waits for the broker to acknowledge the offline status, ms (default 3000). */
  stopTimeoutMs?: number;
}

export interface ConnectedInfo {
  protocolVersion: MqttProtocolVersion;
  sessionPresent: boolean;
}

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
  /** MQTT 5 properties (correlation data of a reply, message expiry…); dropped on 3.1.1. */
  properties?: IClientPublishOptions['properties'];
  /** Give up waiting for the broker's acknowledgement after this long (default 10 s). */
  timeoutMs?: number;
}

export type FleetConnectionEvents = {
  connected: [info: ConnectedInfo];
  /** A message on one of the subscriptions. */
  message: [topic: string, payload: Buffer, packet: IPublishPacket];
  /** The session that was up ended; `reason` says why (`shutdown` from stop()). */
  disconnected: [reason: string];
  /** A failed connection attempt, a refused CONNACK, a failed publish. Never fatal. */
  error: [error: Error];
};

/** MQTT 3.1.1 CONNACK return code 1 and MQTT 5 reason code 0x84: unsupported protocol version. */
const V311_UNACCEPTABLE_PROTOCOL = 1;
const V5_UNSUPPORTED_PROTOCOL = 0x84;

/**
 * Whether a connection error means "this broker does not speak MQTT 5": the attempt was made
 * with protocol 5 and the CONNACK refused it for its protocol version (a 3.1.1 broker answers
 * return code 1; a v5-aware one 0x84). Network errors (string codes) never qualify.
 */
export function shouldFallBackToV311(attempted: MqttProtocolVersion, error: unknown): boolean {
  if (attempted !== 5) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return code === V311_UNACCEPTABLE_PROTOCOL || code === V5_UNSUPPORTED_PROTOCOL;
}

/**
 * CONNACK codes that mean "these credentials are not welcome": 3.1.1's 4 (bad user name or
 * password) and 5 (not authorized); MQTT 5's 0x86, 0x87 and 0x8C (bad authentication method).
 * Retrying will not fix them: a person must.
 */
const CREDENTIAL_REFUSALS = new Set([4, 5, 0x86, 0x87, 0x8c]);

export function isCredentialRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && CREDENTIAL_REFUSALS.has(code);
}

let cachedVersion: string | undefined;

/** The version of the nearest package.json above this module (works from the sources and dist/). */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'diemcau' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // not here: go up
    }
    const parent = dirname(dir);
    if (parent === dir) return (cachedVersion = 'unknown');
    dir = parent;
  }
}


/**
 * The box's MQTT session with presence. Builds without I/O; `start()` connects and keeps
 * reconnecting (own backoff with full jitter; mqtt.js's fixed-period reconnect is off) until
 * `stop()`. The last will marks the box offline (retained) if it vanishes; each connect
 * publishes the retained online status and re-publishes the latest state.
 */
export class FleetConnection extends TypedEmitter<FleetConnectionEvents> {
  readonly topics: DeviceTopics;
  private readonly opts: FleetConnectionOptions;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private protocol: MqttProtocolVersion;
  private mqtt: MqttClient | undefined;
  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private isConnected = false;
  private lastError: Error | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastState: string | undefined;
  private version = 'unknown';
  private subscriptions: readonly string[] = [];

  constructor(opts: FleetConnectionOptions) {
    super();
    this.topics = deviceTopics(opts.deviceId);
    this.opts = opts;
    this.log = opts.log;
    this.protocol = opts.protocolVersion ?? 5;
    this.backoff = new Backoff(opts.backoff);
    // An 'error' without a listener would throw out of an EventEmitter: errors are logged here,
    // listening is optional.
    this.on('error', () => {});
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The protocol in use (or to be used by the next attempt). */
  get protocolVersion(): MqttProtocolVersion {
    return this.protocol;
  }

  /** The current mqtt.js client, if any (diagnostics and tests). */
  get client(): MqttClient | undefined {
    return this.mqtt;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.version = this.opts.version ?? packageVersion();
    this.connectNow();
  }

  /**
   * Publishes `state` retained (QoS 1) on `state`, and keeps it to re-publish after each
   * reconnect. Resolves true once the broker acknowledged it, false if it is only kept for the
   * next connection (offline) or the publish failed (logged and emitted as `error`).
   */
  publishState(state: object): Promise<boolean> {
    const payload = JSON.stringify(state);
    this.lastState = payload;
    return this.publish(this.topics.state, payload, { retain: true });
  }

  /**
   * The topic filters to receive messages from (QoS 1), made again on every connect (clean
   * session) and changed at once on a live session. A filter the broker refuses (ACL) is logged.
   */
  setSubscriptions(filters: readonly string[]): void {
    const previous = this.subscriptions;
    this.subscriptions = [...filters];
    const client = this.mqtt;
    if (!client || !this.isConnected) return;
    const gone = previous.filter((f) => !filters.includes(f));
    const added = filters.filter((f) => !previous.includes(f));
    if (gone.length > 0) client.unsubscribe(gone);
    this.subscribe(client, added);
  }

  /**
   * Publishes with QoS 1 (default) and resolves true once the broker acknowledged it; false if
   * offline, refused (MQTT 5 reason code, e.g. not authorized) or unanswered in time — the
   * caller decides whether to keep the message. Never rejects.
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<boolean> {
    const client = this.mqtt;
    if (!client || !this.isConnected || !client.connected) return Promise.resolve(false);
    const { qos = 1, retain = false, properties, timeoutMs = 10_000 } = options;
    const publishOptions: IClientPublishOptions = { qos, retain };
    if (properties && this.protocol === 5) publishOptions.properties = properties;
    const published = new Promise<boolean>((resolve) => {
      client.publish(topic, payload, publishOptions, (err) => {
        if (!err) return resolve(true);
        this.log.warn({ event: 'fleet.publish_failed', topic, err: err.message }, 'fleet: publish failed');
        this.emit('error', err);
        resolve(false);
      });
    });
    return withDeadline(published, timeoutMs).catch(() => false);
  }

  /**
   * Publishes the retained offline status with reason `shutdown`, then ends the session with a
   * normal DISCONNECT (the broker does not fire the will). Safe to call twice or before start().
   */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    if (!this.started) return Promise.resolve();
    this.stopPromise = this.doStop().finally(() => (this.stopPromise = undefined));
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.mqtt;
    if (!client) {
      this.started = false;
      return;
    }
    // One deadline for the whole goodbye: the daemon must be gone within 5 s.
    const deadline = performance.now() + (this.opts.stopTimeoutMs ?? 3000);
    const left = () => Math.max(1, deadline - performance.now());
    if (this.isConnected && client.connected) {
      const offline = JSON.stringify({ online: false, reason: 'shutdown', at: new Date().toISOString() });
      await this.publish(this.topics.status, offline, { retain: true, timeoutMs: left() });
      await withDeadline(client.endAsync(false), left()).catch(() => undefined);
    }
    // Whatever is left (not connected, or a DISCONNECT that did not finish) goes now.
    await withDeadline(client.endAsync(true), 1000).catch(() => undefined);
    this.detach(client);
    this.mqtt = undefined;
    this.started = false;
    if (this.isConnected) {
      this.isConnected = false;
      this.log.info({ event: 'fleet.disconnected', reason: 'shutdown' }, 'fleet: disconnected (shutdown)');
      this.emit('disconnected', 'shutdown');
    }
  }

  private clientOptions(): IClientOptions {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: `diemcau-${o.deviceId}`,
      protocolVersion: this.protocol,
      keepalive: o.keepaliveS,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs ?? 15_000,
      // The broker publishes it when the box vanishes; it carries when this session began, the
      // last moment the box is known to have been well.
      will: {
        topic: this.topics.status,
        payload: Buffer.from(JSON.stringify({ online: false, onlineSince: new Date().toISOString() })),
        qos: 1,
        retain: true,
      },
      rejectUnauthorized: true,
    };
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    if (o.passwordFile) options.password = readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
    if (o.caFile) options.ca = readFileSync(o.caFile);
    if (o.clientCertFile) options.cert = readFileSync(o.clientCertFile);
    if (o.clientKeyFile) options.key = readFileSync(o.clientKeyFile);
    return options;
  }

  private connectNow(): void {
    this.retryTimer = undefined;
    if (this.stopping || !this.started) return;
    this.lastError = undefined;
    const attempted = this.protocol;
    this.log.debug({ event: 'fleet.connecting', url: this.opts.url, protocolVersion: attempted }, 'fleet: connecting');
    let client: MqttClient;
    try {
      // Unreadable TLS files or a URL mqtt.js cannot use: reported, and retried with backoff
      // (provisioning may put the files in place later).
      client = connect(this.opts.url, this.clientOptions());
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.log.error({ event: 'fleet.setup_failed', err: err.message }, 'fleet: cannot set up the connection');
      this.emit('error', err);
      this.scheduleReconnect();
      return;
    }
    this.mqtt = client;

    client.on('connect', (connack) => {
      if (this.mqtt !== client) return;
      this.isConnected = true;
      this.backoff.reset();
      const info: ConnectedInfo = { protocolVersion: attempted, sessionPresent: connack.sessionPresent };
      this.log.info({ event: 'fleet.connected', url: this.opts.url, ...info }, 'fleet: connected');
      const status = JSON.stringify({ online: true, since: new Date().toISOString(), version: this.version });
      void this.publish(this.topics.status, status, { retain: true });
      if (this.lastState !== undefined) void this.publish(this.topics.state, this.lastState, { retain: true });
      this.subscribe(client, this.subscriptions);
      this.emit('connected', info);
    });

    client.on('message', (topic, payload, packet) => {
      if (this.mqtt !== client) return;
      this.emit('message', topic, payload, packet);
    });

    client.on('disconnect', (packet) => {
      // MQTT 5: the broker says why before closing.
      if (this.mqtt !== client) return;
      this.lastError = new Error(`broker sent DISCONNECT (reason code ${packet.reasonCode ?? 0})`);
    });

    client.on('error', (err) => {
      if (this.mqtt !== client || this.stopping) return;
      if (err === this.lastError) return; // mqtt.js reports some TLS errors twice
      this.lastError = err;
      if (shouldFallBackToV311(attempted, err)) {
        this.protocol = 4;
        this.log.warn({ event: 'fleet.protocol_fallback', url: this.opts.url }, 'fleet: broker refused MQTT 5, using 3.1.1');
      } else {
        this.log.warn(
          { event: 'fleet.error', url: this.opts.url, code: (err as { code?: unknown }).code, err: err.message },
          'fleet: connection error',
        );
      }
      this.emit('error', err);
    });

    client.on('close', () => {
      if (this.mqtt !== client || this.stopping) return;
      this.detach(client);
      client.end(true);
      this.mqtt = undefined;
      if (this.isConnected) {
        this.isConnected = false;
        const reason = this.lastError?.message ?? 'connection closed';
        this.log.warn({ event: 'fleet.disconnected', reason }, 'fleet: disconnected');
        this.emit('disconnected', reason);
      }
      this.scheduleReconnect(attempted !== this.protocol ? 0 : undefined);
    });
  }

  private subscribe(client: MqttClient, filters: readonly string[]): void {
    if (filters.length === 0) return;
    client.subscribe([...filters], { qos: 1 }, (err, granted) => {
      if (err) {
        this.log.warn({ event: 'fleet.subscribe_failed', filters, err: err.message }, 'fleet: subscribe failed');
        return;
      }
      // SUBACK codes ≥ 0x80 are refusals (3.1.1: 0x80; MQTT 5: 0x87 not authorized, …).
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length > 0) {
        this.log.error({ event: 'fleet.subscribe_refused', filters: refused }, 'fleet: the broker refused a subscription (ACL?)');
      }
    });
  }

  /**
   * For a client that is no longer ours: our handlers already ignore it (they compare with
   * `this.mqtt`); a late error must not crash. mqtt.js's own listeners stay (they clear its timers).
   */
  private detach(client: MqttClient): void {
    client.on('error', () => {});
  }

  private scheduleReconnect(delayMs = this.backoff.next()): void {
    if (this.stopping || !this.started) return;
    this.log.debug({ event: 'fleet.reconnect_in', delayMs }, 'fleet: reconnecting later');
    this.retryTimer = setTimeout(() => this.connectNow(), delayMs);
  }
}
