import { DcError, serializeError, type SerializedError } from '../errors.js';
import type { Logger } from '../log.js';
import { withDeadline } from '../util/deadline.js';
import { compileCheck, formatProblems, type CheckResult } from '../util/schema-check.js';
import type { CommandContext, CommandDefinition } from './command.js';
import { deviceTopics, parseCommandTopic, topicIdProblem, type CommandAudience, type DeviceTopics } from './topics.js';

/** A command as it arrived: topic, raw payload and the MQTT 5 request/response properties. */
export interface IncomingCommand {
  topic: string;
  payload: Buffer;
  responseTopic?: string | undefined;
  correlationData?: Buffer | undefined;
}

/** Where and what to answer; the fleet part publishes it (QoS 1, not retained). */
export interface OutgoingReply {
  topic: string;
  body: ReplyBody;
  correlationData?: Buffer | undefined;
}

export type ReplyBody = {
  deviceId: string;
  command: string;
  requestId?: string;
} & ({ ok: true; result: unknown } | { ok: false; error: SerializedError });

export interface CommandRouterOptions {
  deviceId: string;
  groups: readonly string[];
  commands: readonly CommandDefinition[];
  /** Sends a reply; resolves once it left (or failed: the router logs, a reply is never retried). */
  reply(reply: OutgoingReply): Promise<void>;
  log: Logger;
  /** Larger payloads are refused unread (DC_CMD_TOO_LARGE). */
  maxPayloadBytes: number;
  /** Commands running at once; more get DC_CMD_BUSY instead of piling up (default 8). */
  maxInFlight?: number;
  /** Clock for `expiresAt` (tests). */
  now?: () => number;
}

/** Replies kept for requests seen again (QoS 1 may deliver twice; a console may retry). */
const REMEMBERED_REPLIES = 256;
const DEFAULT_TIMEOUT_MS = 10_000;

class CommandFailure extends DcError {}

/**
 * Turns command messages into replies: checks size, JSON, envelope, name and arguments, runs
 * the command with a time limit and a cap on how many run at once, and answers every request
 * — success or a coded error — on the MQTT 5 response topic (with its correlation data) or on
 * `diemcau/<id>/reply/<requestId>`. Nothing a payload contains can throw out of `handle`.
 */
export class CommandRouter {
  private readonly topics: DeviceTopics;
  private readonly commands = new Map<string, { definition: CommandDefinition; check: (input: unknown) => CheckResult<unknown> }>();
  private readonly log: Logger;
  /** Replies by command and request id; a promise while the first delivery still runs. */
  private readonly recentReplies = new Map<string, Promise<ReplyBody>>();
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;

  constructor(private readonly opts: CommandRouterOptions) {
    this.topics = deviceTopics(opts.deviceId);
    this.log = opts.log;
    for (const definition of opts.commands) {
      if (this.commands.has(definition.name)) throw new Error(`command ${definition.name} is defined twice`);
      this.commands.set(definition.name, { definition, check: compileCheck(definition.args) });
    }
  }

  get names(): string[] {
    return [...this.commands.keys()].sort();
  }

  /** Handles one message; resolves when its reply has been sent (or the message was not ours). */
  handle(message: IncomingCommand): Promise<void> {
    const parsed = parseCommandTopic(message.topic, this.opts.deviceId, this.opts.groups);
    if (!parsed) return Promise.resolve();
    const done = this.process(message, parsed.name, parsed.audience).catch((e: unknown) => {
      this.log.error({ event: 'fleet.command_crashed', topic: message.topic, err: serializeError(e) }, 'fleet: command handling failed');
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return done;
  }

  /** Waits (at most `timeoutMs`) for the commands being handled to send their replies. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
  }

  private async process(message: IncomingCommand, name: string, audience: CommandAudience): Promise<void> {
    const started = performance.now();
    const after: Array<() => void | Promise<void>> = [];
    let requestId: string | undefined;
    let body: ReplyBody;
    let settle: ((body: ReplyBody) => void) | undefined;
    try {
      const { requestId: rawRequestId, expiresAt, ...args } = this.decode(message.payload);
      requestId = this.requestIdOf(rawRequestId);
      if (requestId !== undefined) {
        const key = `${name}\u0000${requestId}`;
        const remembered = this.recentReplies.get(key);
        if (remembered) {
          this.log.info({ event: 'fleet.command_repeated', command: name, requestId }, 'fleet: repeated request, same reply');
          return await this.send(message, await remembered, requestId);
        }
        this.remember(key, new Promise((resolve) => (settle = resolve)));
      }
      this.checkExpiry(expiresAt);
      const result = await this.run(name, args, audience, after);
      body = { ok: true, deviceId: this.opts.deviceId, command: name, ...(requestId ? { requestId } : {}), result };
    } catch (e) {
      const error = serializeError(e);
      body = { ok: false, deviceId: this.opts.deviceId, command: name, ...(requestId ? { requestId } : {}), error };
    }
    settle?.(body);
    const ms = Math.round(performance.now() - started);
    const record = { event: 'fleet.command', command: name, audience: audience.kind, requestId, ok: body.ok, ms };
    if (body.ok) this.log.info(record, `fleet: command ${name}`);
    else this.log.warn({ ...record, error: body.error }, `fleet: command ${name} failed`);
    await this.send(message, body, requestId);
    for (const action of after) {
      try {
        await action();
      } catch (e) {
        this.log.error({ event: 'fleet.after_reply_failed', command: name, err: serializeError(e) }, 'fleet: follow-up failed');
      }
    }
  }

  /** The payload as an object: refused unread when too large, then JSON, then an object. */
  private decode(payload: Buffer): Record<string, unknown> {
    if (payload.length > this.opts.maxPayloadBytes) {
      throw new CommandFailure('DC_CMD_TOO_LARGE', `payload is ${payload.length} bytes; at most ${this.opts.maxPayloadBytes} are accepted`, {
        bytes: payload.length,
        limit: this.opts.maxPayloadBytes,
      });
    }
    const text = payload.toString('utf8').trim();
    if (text === '') return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new CommandFailure('DC_CMD_BAD_JSON', `payload is not JSON: ${(e as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CommandFailure('DC_CMD_INVALID', 'payload must be a JSON object (or empty)');
    }
    return value as Record<string, unknown>;
  }

  private requestIdOf(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    const problem = typeof value === 'string' ? topicIdProblem(value) : 'must be a string';
    if (problem) throw new CommandFailure('DC_CMD_INVALID', `requestId ${problem}`, { field: 'requestId' });
    return value as string;
  }

  /** A command queued while the box was offline must not run hours later. */
  private checkExpiry(expiresAt: unknown): void {
    if (expiresAt === undefined) return;
    const at = typeof expiresAt === 'number' ? expiresAt : typeof expiresAt === 'string' ? Date.parse(expiresAt) : NaN;
    if (!Number.isFinite(at)) {
      throw new CommandFailure('DC_CMD_INVALID', 'expiresAt must be an ISO time or milliseconds since 1970', { field: 'expiresAt' });
    }
    const now = (this.opts.now ?? Date.now)();
    if (at <= now) throw new CommandFailure('DC_CMD_EXPIRED', `the command expired at ${new Date(at).toISOString()}`, { expiresAt: at });
  }

  private async run(
    name: string,
    rawArgs: Record<string, unknown>,
    audience: CommandAudience,
    after: Array<() => void | Promise<void>>,
  ): Promise<unknown> {
    const entry = this.commands.get(name);
    if (!entry) {
      throw new CommandFailure('DC_CMD_UNKNOWN', `no command "${name}"; known: ${this.names.join(', ')}`, { known: this.names });
    }
    const checked = entry.check(structuredClone(rawArgs));
    if (!checked.ok) {
      throw new CommandFailure('DC_CMD_INVALID', `invalid arguments for ${name}:\n  ${formatProblems(checked.problems)}`, {
        errors: checked.problems,
      });
    }
    const limit = this.opts.maxInFlight ?? 8;
    if (this.inFlight >= limit) throw new CommandFailure('DC_CMD_BUSY', `${limit} commands are already running; try again`);
    this.inFlight++;
    const ctx: CommandContext = { audience, log: this.log.child({ command: name }), afterReply: (a) => void after.push(a) };
    try {
      const ms = entry.definition.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const work = entry.definition.run(checked.value as Record<string, unknown>, ctx);
      return await withDeadline(work, ms, () => new CommandFailure('DC_CMD_TIMEOUT', `${name} did not finish within ${ms} ms`));
    } finally {
      this.inFlight--;
    }
  }

  private async send(message: IncomingCommand, body: ReplyBody, requestId: string | undefined): Promise<void> {
    const topic = message.responseTopic || (requestId ? this.topics.reply(requestId) : `${this.topics.prefix}/reply`);
    try {
      await this.opts.reply({ topic, body, correlationData: message.correlationData });
    } catch (e) {
      this.log.warn({ event: 'fleet.reply_failed', topic, err: serializeError(e) }, 'fleet: reply not sent');
    }
  }

  private remember(key: string, body: Promise<ReplyBody>): void {
    this.recentReplies.delete(key);
    this.recentReplies.set(key, body);
    if (this.recentReplies.size > REMEMBERED_REPLIES) {
      const oldest = this.recentReplies.keys().next().value;
      if (oldest !== undefined) this.recentReplies.delete(oldest);
    }
  }
}
