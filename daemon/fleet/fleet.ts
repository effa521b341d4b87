import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { IPublishPacket } from 'mqtt';
import type { Config } from '../config/index.js';
import { DcError, serializeError } from '../errors.js';
import type { Telemetry } from '../health/index.js';
import type { Logger, LogTail } from '../log.js';
import type { MediaControl } from '../media/ipc.js';
import type { MediaStatus } from '../media/types.js';
import type { Part } from '../part.js';
import type { NoticeBoard } from '../screen/notices.js';
import type { SystemPower } from '../system/power.js';
import type { CommandDefinition } from './command.js';
import type { CallSummary, SignalMessage } from '../rtc/call.js';
import { callCommands, type CallControl } from './commands/call.js';
import { configCommands, type ConfigAccess } from './commands/config.js';
import { mediaCommands } from './commands/media.js';
import type { HardwareStatus } from '../hardware/index.js';
import type { ScreenStatus } from './state.js';
import { displayCommands, type DisplayControl } from './commands/display.js';
import { floorCommands } from './commands/floor.js';
import { simulationCommands, type SimulatedHall } from './commands/simulate.js';
import type { Floor } from '../rtc/floor.js';
import { systemCommands } from './commands/system.js';
import { pendingCommands } from './commands/unavailable.js';
import { FleetConnection } from './connection.js';
import { Outbox, type OutboxMessage } from './outbox.js';
import { CommandRouter, type OutgoingReply } from './router.js';
import { OutboxSender } from './sender.js';
import { callSignalFilter, parseSignal } from './signal.js';
import { boxState } from './state.js';
import { ALL_CMD_FILTER, groupCmdFilter } from './topics.js';

/** What the fleet part needs from the rest of the daemon; main.ts provides it. */
export interface FleetDeps {
  config: ConfigAccess;
  /** Directory of the config file: relative file names in `fleet` and the queue live there. */
  stateDir: string;
  media(): MediaControl | undefined;
  restartMedia(): Promise<void>;
  restartDaemon(reason: string): void;
  power: SystemPower;
  /** The calls part; absent where calls cannot run (media loopback, in-process test boxes). */
  calls?: FleetCalls;
  /** The sim profile's buttons, pressed by the `press` command; absent on a real box. */
  simulatedHall?: SimulatedHall;
  /** Who holds the meeting's floor (with calls). */
  floor?: Floor;
  health: { sample(): Promise<Telemetry> };
  notices: NoticeBoard;
  /** Blinks the status light to identify the box; false when the box has no light. */
  identifyLight?(seconds: number): boolean;
  /** The TV control and status light, for the state. */
  hardware?(): HardwareStatus;
  /** What the TV shows and the HDMI connectors; absent where no screen runs. */
  screen?(): ScreenStatus;
  /** The hall's TV for the `display` command; absent: the command says it is not available. */
  display?: DisplayControl;
  logTail: LogTail;
  log: Logger;
  version: string;
  startedAt: number;
}

/** What the fleet needs of the calls part. */
export interface FleetCalls extends CallControl {
  readonly inCall: boolean;
  summary(): CallSummary;
  /** A direct-call signalling message from box `from`. */
  onSignal(from: string, message: SignalMessage): Promise<void>;
}

/** Event types a box sends on `diemcau/<id>/events`. */
export type FleetEventType =
  | 'started'
  | 'camera-plugged'
  | 'camera-unplugged'
  | 'media-restarted'
  | 'config-changed'
  | 'call-joined'
  | 'call-ended'
  | 'hand-raised'
  | 'tv-connected'
  | 'tv-disconnected'
  | 'error';

/** Waits at most this long on stop for replies and the offline status to leave. */
const STOP_DRAIN_MS = 1500;
/** Several state changes in a burst (a media restart) make one retained message. */
const STATE_SETTLE_MS = 100;
/** Call signalling older than this is dropped by the broker (MQTT 5 message expiry, s). */
const SIGNAL_EXPIRY_S = 30;
/** A broker that does not acknowledge within this long counts as out of reach (ms). */
const PROBE_TIMEOUT_MS = 2500;

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * The box on the fleet broker: presence and retained state, commands and replies, telemetry
 * every N seconds and events, the last two through an on-disk queue so that nothing produced
 * while the broker is away is lost. Built from the config at hand; main.ts rebuilds it when
 * the fleet or device settings change.
 */
export class Fleet implements Part {
  readonly name = 'fleet';
  readonly connection: FleetConnection;
  private readonly router: CommandRouter;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly bootId = readBootId();
  /** A new one per daemon start: with bootId, tells a console "restarted" from "rebooted". */
  private readonly runId = randomUUID();
  private outbox: Outbox | undefined;
  private sender: OutboxSender | undefined;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private firstTelemetryTimer: NodeJS.Timeout | undefined;
  private stateTimer: NodeJS.Timeout | undefined;
  private media: MediaStatus | null = null;
  /** The last sample's alerts, kept in the retained state so a console sees them at once. */
  private alerts: readonly string[] | null = null;
  private lastState = '';
  /** Events raised before start() opened the queue. */
  private readonly early: Array<[FleetEventType, Record<string, unknown>]> = [];

  constructor(private readonly deps: FleetDeps) {
    this.config = deps.config.current;
    this.log = deps.log;
    const f = this.config.fleet;
    const file = (name: string) => (name === '' ? undefined : isAbsolute(name) ? name : resolve(deps.stateDir, name));
    this.connection = new FleetConnection({
      url: f.url,
      deviceId: this.config.device.id,
      username: f.username || this.config.device.id,
      passwordFile: file(f.passwordFile),
      caFile: file(f.caFile),
      clientCertFile: file(f.clientCertFile),
      clientKeyFile: file(f.clientKeyFile),
      keepaliveS: f.keepaliveS,
      backoff: { baseMs: f.reconnect.initialDelayMs, capMs: f.reconnect.maxDelayMs },
      log: this.log,
      version: deps.version,
    });
    this.router = new CommandRouter({
      deviceId: this.config.device.id,
      groups: f.groups,
      commands: this.commands(),
      reply: (r) => this.sendReply(r),
      log: this.log,
      maxPayloadBytes: f.commandMaxBytes,
    });
  }

  /** The store-and-forward queue's figures (null before start). */
  queueStats(): ReturnType<Outbox['stats']> | null {
    return this.outbox?.stats() ?? null;
  }

  /** The names of every command this box answers. */
  get commandNames(): string[] {
    return this.router.names;
  }

  async start(): Promise<void> {
    const f = this.config.fleet;
    this.outbox = await Outbox.open({
      dir: join(this.deps.stateDir, 'outbox'),
      maxMessages: f.queue.maxMessages,
      maxBytes: f.queue.maxBytes,
      log: this.log.child({ part: 'outbox' }),
    });
    const stats = this.outbox.stats();
    if (stats.messages > 0 || stats.torn > 0) {
      this.log.info({ event: 'fleet.outbox_opened', ...stats }, `fleet: ${stats.messages} queued messages from before`);
    }
    this.sender = new OutboxSender(this.outbox, (m) => this.sendQueued(m), () => this.connection.connected, this.log);
    this.connection.setSubscriptions([
      this.connection.topics.cmdFilter,
      ...(this.deps.calls ? [callSignalFilter(this.config.device.id)] : []),
      ...f.groups.map((g) => groupCmdFilter(g)),
      ALL_CMD_FILTER,
    ]);
    this.connection.on('message', (topic, payload, packet) => void this.onMessage(topic, payload, packet));
    this.connection.on('connected', () => void this.sender?.kick());
    this.connection.start();
    this.publishState();
    for (const [type, data] of this.early.splice(0)) this.event(type, data);
    this.telemetryTimer = setInterval(() => void this.sendTelemetry(), f.telemetryIntervalS * 1000);
    // The first sample soon after start, not N seconds later: the console wants to see the box now.
    this.firstTelemetryTimer = setTimeout(() => void this.sendTelemetry(), 2000);
  }

  async stop(): Promise<void> {
    clearInterval(this.telemetryTimer);
    clearTimeout(this.firstTelemetryTimer);
    clearTimeout(this.stateTimer);
    this.telemetryTimer = undefined;
    await this.router.drain(STOP_DRAIN_MS);
    await this.connection.stop();
    await this.outbox?.close();
    this.outbox = undefined;
  }

  /** The media engine's latest status (main.ts forwards every change). */
  noteMediaStatus(status: MediaStatus | null): void {
    this.media = status;
    this.publishState();
  }

  /** Something a person should know about, queued on disk and sent in order. */
  event(type: FleetEventType, data: Record<string, unknown> = {}): void {
    if (!this.outbox) {
      this.early.push([type, data]);
      return;
    }
    this.enqueue(this.connection.topics.events, { type, ...data });
  }

  /** Publishes the retained state if it changed, once a burst of changes has settled. */
  publishState(): void {
    clearTimeout(this.stateTimer);
    this.stateTimer = setTimeout(() => {
      const state = boxState({
        config: this.deps.config.current,
        version: this.deps.version,
        startedAt: this.deps.startedAt,
        media: this.media,
        call: this.deps.calls?.summary() ?? null,
        floor: this.deps.floor?.current ?? null,
        alerts: this.alerts,
        notice: this.deps.notices.current(),
        hardware: this.deps.hardware?.() ?? null,
        screen: this.deps.screen?.() ?? null,
      });
      const text = JSON.stringify(state);
      if (text === this.lastState) return;
      this.lastState = text;
      void this.connection.publishState({ ...state, updatedAt: new Date().toISOString() });
    }, STATE_SETTLE_MS);
  }

  /** Versions, pipelines, call and fleet link, for the `diagnostics` command. */
  async diagnostics(): Promise<Record<string, unknown>> {
    const media = this.deps.media();
    let mediaStatus: unknown = null;
    try {
      mediaStatus = media ? await media.status() : null;
    } catch (e) {
      mediaStatus = { error: serializeError(e) };
    }
    return {
      versions: { firmware: this.deps.version, node: process.versions.node, mqtt: this.connection.protocolVersion === 5 ? '5' : '3.1.1' },
      bootId: this.bootId,
      runId: this.runId,
      configRevision: this.deps.config.current.revision,
      media: mediaStatus,
      call: this.deps.calls?.summary() ?? { state: 'idle', available: false },
      fleet: { url: this.config.fleet.url, connected: this.connection.connected, queue: this.outbox?.stats() ?? null },
      commands: this.router.names,
    };
  }

  private commands(): CommandDefinition[] {
    const deps = this.deps;
    return [
      ...systemCommands({
        version: deps.version,
        startedAt: deps.startedAt,
        inCall: () => deps.calls?.inCall ?? false,
        power: deps.power,
        restartDaemon: deps.restartDaemon,
        restartMedia: deps.restartMedia,
        diagnostics: () => this.diagnostics(),
        logTail: deps.logTail,
      }),
      ...mediaCommands({
        media: deps.media,
        setVolume: async (percent) => {
          await deps.config.update({ media: { audio: { volume: percent } } });
        },
        notices: {
          // The state carries the message on the TV: publish it when a notice changes.
          show: async (text, seconds, kind) => {
            const shown = await deps.notices.show(text, seconds, kind);
            this.publishState();
            setTimeout(() => this.publishState(), shown.until - Date.now() + 50).unref();
            return shown;
          },
          clear: async () => {
            await deps.notices.clear();
            this.publishState();
          },
        },
        publishBinary: (topic, payload) => this.connection.publish(topic, payload, { qos: 1 }),
        snapshotTopic: (source) => `${this.connection.topics.prefix}/snapshot/${source}`,
        identity: () => {
          const d = deps.config.current.device;
          return { name: d.name, commune: d.commune, village: d.village };
        },
        identifyLight: (seconds) => deps.identifyLight?.(seconds) ?? false,
      }),
      ...configCommands(deps.config),
      ...(deps.calls ? callCommands(deps.calls) : []),
      ...(deps.calls && deps.floor ? floorCommands(deps.floor, () => deps.calls!.inCall) : []),
      ...(deps.display ? displayCommands(deps.display) : []),
      ...(deps.simulatedHall ? simulationCommands(deps.simulatedHall) : []),
      ...pendingCommands([
        ...(deps.calls ? ['join', 'leave', 'answer'] : []),
        ...(deps.calls && deps.floor ? ['floor'] : []),
        ...(deps.display ? ['display'] : []),
        ...(deps.simulatedHall ? ['press', 'remote'] : []),
      ]),
    ];
  }

  /** Sends a direct-call message to box `to` (under this box's prefix: the ACL lets `to` read it). */
  /**
   * One QoS 1 round trip to the broker on the box's own `probe` topic (nobody subscribes):
   * whether the broker answers now, not whether the connection still looks up.
   */
  async probeBroker(): Promise<boolean> {
    return this.connection.publish(`${this.connection.topics.prefix}/probe`, '', { qos: 1, timeoutMs: PROBE_TIMEOUT_MS });
  }

  async sendSignal(to: string, message: SignalMessage): Promise<void> {
    const { kind, ...body } = message;
    const topic = `${this.connection.topics.prefix}/call/${to}/${kind}`;
    // An offer delivered after the caller has moved on would only restart the link again.
    const properties = { messageExpiryInterval: SIGNAL_EXPIRY_S };
    if (!(await this.connection.publish(topic, JSON.stringify(body), { qos: 1, properties }))) {
      throw new DcError('DC_RTC_SIGNALING', `could not reach ${to} through the broker (offline?)`);
    }
  }

  private async onMessage(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const signal = parseSignal(topic, payload, this.config.device.id);
    if (signal) {
      if (signal.ok) await this.deps.calls?.onSignal(signal.from, signal.message).catch((e: unknown) => this.log.warn({ event: 'call.signal_failed', err: serializeError(e) }, 'call signal failed'));
      else this.log.warn({ event: 'call.bad_signal', topic, problem: signal.problem }, 'call: a bad signalling message was ignored');
      return;
    }
    const properties = packet.properties;
    await this.router.handle({
      topic,
      payload,
      responseTopic: properties?.responseTopic,
      correlationData: properties?.correlationData,
    });
  }

  private async sendReply({ topic, body, correlationData }: OutgoingReply): Promise<void> {
    const ok = await this.connection.publish(topic, JSON.stringify(body), {
      qos: 1,
      ...(correlationData ? { properties: { correlationData } } : {}),
    });
    if (!ok) this.log.warn({ event: 'fleet.reply_lost', topic, command: body.command }, 'fleet: reply not delivered');
  }

  private async sendTelemetry(): Promise<void> {
    if (!this.outbox) return;
    try {
      const health = await this.deps.health.sample();
      if (JSON.stringify(health.alerts) !== JSON.stringify(this.alerts)) {
        this.alerts = health.alerts;
        this.publishState();
      }
      const media = this.media;
      this.enqueue(this.connection.topics.telemetry, {
        health,
        media: media
          ? {
              encoder: media.encoder?.name ?? null,
              bitrateKbps: media.bitrateKbps,
              sending: media.sending,
              videoSource: media.videoSource,
              renderedVideoFrames: media.rendered.videoFrames,
              renderedAudioBuffers: media.rendered.audioBuffers,
              pipelineRestarts: media.pipelines.reduce((n, p) => n + p.restarts, 0),
            }
          : null,
        call: this.deps.calls?.summary() ?? null,
        floor: this.deps.floor?.current ?? null,
        queue: this.outbox.stats(),
      });
    } catch (e) {
      this.log.warn({ event: 'fleet.telemetry_failed', err: serializeError(e) }, 'fleet: telemetry sample failed');
    }
  }

  /**
   * Every telemetry and event message carries who, when, which boot and which run; the
   * sequence number is the queue's (added on sending), so a console sees gaps and restarts.
   */
  private enqueue(topic: string, body: Record<string, unknown>): void {
    const outbox = this.outbox;
    if (!outbox) return;
    const envelope = { deviceId: this.config.device.id, at: new Date().toISOString(), bootId: this.bootId, runId: this.runId, ...body };
    outbox.append(topic, JSON.stringify(envelope)).then(
      () => void this.sender?.kick(),
      (e: unknown) => this.log.error({ event: 'fleet.queue_failed', topic, err: serializeError(e) }, 'fleet: could not queue a message'),
    );
  }

  private sendQueued(message: OutboxMessage): Promise<boolean> {
    // `{"seq":N,` + the rest: the sequence number is known only once the message is queued.
    const payload = `{"seq":${message.seq},${message.payload.slice(1)}`;
    return this.connection.publish(message.topic, payload, { qos: 1 });
  }
}
