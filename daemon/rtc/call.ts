import { randomUUID } from 'node:crypto';
import { DcError, serializeError, type SerializedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MediaControl } from '../media/ipc.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { VideoCodecName } from './codecs.js';
import { BoxPeer } from './peer.js';
import type { RtpBridgePorts } from './rtp-bridge.js';
import { WhipSession } from './whip.js';

export type CallPhase = 'idle' | 'connecting' | 'in-call' | 'reconnecting';

/** Why a call ended: said in the state, the event and the reply. */
export type EndReason =
  | 'left' // this box's host (or the console) ended it
  | 'remote-left' // the far end hung up
  | 'rejected' // the far end refused (busy)
  | 'no-answer'
  | 'link-lost' // the link did not come back in time
  | 'failed'; // bad SDP, codec mismatch, media not running…

/** Who to call: another box directly, or a conference server through WHIP (and WHEP to watch). */
export type JoinTarget = { peer: string } | { whip: string; whep?: string | undefined; token?: string | undefined };

export interface CallSummary {
  state: CallPhase;
  callId: string | null;
  /** The other box's id, or the conference server's host. */
  peer: string | null;
  kind: 'direct' | 'conference' | null;
  direction: 'outgoing' | 'incoming' | null;
  since: string | null;
  lastEnd: { reason: EndReason; at: string; error?: SerializedError } | null;
  /** RTP packets crossing the bridges while in a call. */
  packets: { videoSent: number; videoReceived: number; audioSent: number; audioReceived: number } | null;
}

/** A message of a direct call, carried over MQTT by `DirectSignaling`. */
export type SignalMessage =
  | { kind: 'offer'; callId: string; sdp: string }
  | { kind: 'answer'; callId: string; sdp: string }
  | { kind: 'reject'; callId: string; reason: string }
  | { kind: 'hangup'; callId: string; reason: string };

/** How signalling messages reach the other box (MQTT in the daemon). */
export interface SignalChannel {
  send(to: string, message: SignalMessage): Promise<void>;
}

export interface CallManagerOptions {
  media(): MediaControl | undefined;
  signal: SignalChannel;
  ports: { video: RtpBridgePorts; audio: RtpBridgePorts };
  iceServers?: { urls: string; username?: string; credential?: string }[];
  loopbackOnly?: boolean;
  /** No answer within this long ends the call as `no-answer` (default 20 s). */
  answerTimeoutMs?: number;
  /** A lost link not back within this long ends the call as `link-lost` (default 30 s). */
  reconnectTimeoutMs?: number;
  log: Logger;
}

export type CallManagerEvents = {
  state: [CallSummary];
  joined: [CallSummary];
  ended: [CallSummary];
};

/** One peer connection of a call, with its WHIP/WHEP session when it goes to a server. */
interface Link {
  box: BoxPeer;
  session?: WhipSession;
}

interface ActiveCall {
  id: string;
  peer: string;
  kind: 'direct' | 'conference';
  direction: 'outgoing' | 'incoming';
  since: number;
  links: Link[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * The box's call, one at a time, as a state machine: idle → connecting → in-call ⇄
 * reconnecting → (ended, with a reason) → idle. A conference: one peer publishes with WHIP,
 * another plays with WHEP; DELETE on leave. Direct calls between boxes: the caller sends
 * an offer, the callee (idle) answers at once — a village hall has no one to press "answer" —
 * or rejects when busy. Capture and sending run only during a call.
 */
export class CallManager extends TypedEmitter<CallManagerEvents> {
  private call: ActiveCall | undefined;
  private phase: CallPhase = 'idle';
  private lastEnd: CallSummary['lastEnd'] = null;

  constructor(private readonly opts: CallManagerOptions) {
    super();
  }

  get inCall(): boolean {
    return this.phase !== 'idle';
  }

  summary(): CallSummary {
    const c = this.call;
    const boxes = c?.links.map((l) => l.box) ?? [];
    const sum = (f: (b: BoxPeer) => number) => boxes.reduce((n, b) => n + f(b), 0);
    return {
      state: this.phase,
      callId: c?.id ?? null,
      peer: c?.peer ?? null,
      kind: c?.kind ?? null,
      direction: c?.direction ?? null,
      since: c ? new Date(c.since).toISOString() : null,
      lastEnd: this.lastEnd,
      packets:
        boxes.length > 0
          ? {
              videoSent: sum((b) => b.videoBridge.counters.sent),
              videoReceived: sum((b) => b.videoBridge.counters.received),
              audioSent: sum((b) => b.audioBridge.counters.sent),
              audioReceived: sum((b) => b.audioBridge.counters.received),
            }
          : null,
    };
  }

  /**
   * Calls another box directly, or joins a conference server (publish with WHIP, watch with
   * WHEP); resolves once the call is under way (the state says the rest).
   */
  async join(target: JoinTarget): Promise<CallSummary> {
    if (this.call) throw new DcError('DC_CMD_REFUSED', `already in a call with ${this.call.peer}; leave it first`);
    if ('peer' in target) return this.callBox(target.peer);
    const call = this.begin(randomUUID(), new URL(target.whip).host, 'outgoing', 'conference');
    try {
      await this.openSession(call, 'sendonly', target.whip, target.token);
      if (target.whep && this.isCurrent(call)) await this.openSession(call, 'recvonly', target.whep, target.token);
      this.arm(call, this.opts.answerTimeoutMs ?? 20_000, 'no-answer');
    } catch (e) {
      await this.end(call, 'failed', e);
      throw e;
    }
    return this.summary();
  }

  /** Ends the call, telling the far end (a hang-up to a box, DELETE to a server). */
  async leave(reason: EndReason = 'left'): Promise<CallSummary> {
    const call = this.call;
    if (!call) throw new DcError('DC_CMD_REFUSED', 'there is no call to leave');
    if (call.kind === 'direct') await this.opts.signal.send(call.peer, { kind: 'hangup', callId: call.id, reason }).catch(() => undefined);
    await this.end(call, reason);
    return this.summary();
  }

  private async callBox(peer: string): Promise<CallSummary> {
    const call = this.begin(randomUUID(), peer, 'outgoing', 'direct');
    try {
      const box = await this.openPeer(call, 'sendrecv');
      const sdp = await box.createOffer();
      // Left (or ended) while the offer was being made.
      if (!this.isCurrent(call)) return this.summary();
      await this.opts.signal.send(peer, { kind: 'offer', callId: call.id, sdp });
      this.arm(call, this.opts.answerTimeoutMs ?? 20_000, 'no-answer');
    } catch (e) {
      await this.end(call, 'failed', e);
      throw e;
    }
    return this.summary();
  }

  /** A peer connection to a conference server, set up by one WHIP or WHEP exchange. */
  private async openSession(call: ActiveCall, direction: 'sendonly' | 'recvonly', endpoint: string, token: string | undefined): Promise<void> {
    const box = await this.openPeer(call, direction);
    const offer = await box.createOffer();
    const { session, answer } = await WhipSession.start({ endpoint, ...(token ? { token } : {}), log: this.opts.log }, offer);
    const link = call.links.find((l) => l.box === box);
    if (link) link.session = session;
    await box.acceptAnswer(answer.sdp);
  }

  /** A signalling message from box `from`. */
  async onSignal(from: string, message: SignalMessage): Promise<void> {
    const call = this.call;
    switch (message.kind) {
      case 'offer': {
        if (call) {
          await this.opts.signal.send(from, { kind: 'reject', callId: message.callId, reason: 'busy' });
          return;
        }
        const incoming = this.begin(message.callId, from, 'incoming', 'direct');
        try {
          const box = await this.openPeer(incoming, 'sendrecv');
          const sdp = await box.answer(message.sdp);
          await this.opts.signal.send(from, { kind: 'answer', callId: message.callId, sdp });
          this.arm(incoming, this.opts.answerTimeoutMs ?? 20_000, 'no-answer');
        } catch (e) {
          await this.opts.signal.send(from, { kind: 'reject', callId: message.callId, reason: 'failed' }).catch(() => undefined);
          await this.end(incoming, 'failed', e);
        }
        return;
      }
      case 'answer':
        if (call?.id !== message.callId || call.peer !== from || !call.links[0]) return;
        try {
          await call.links[0].box.acceptAnswer(message.sdp);
        } catch (e) {
          await this.opts.signal.send(from, { kind: 'hangup', callId: call.id, reason: 'failed' }).catch(() => undefined);
          await this.end(call, 'failed', e);
        }
        return;
      case 'reject':
        if (call?.id === message.callId && call.peer === from) await this.end(call, 'rejected');
        return;
      case 'hangup':
        if (call?.id === message.callId && call.peer === from) await this.end(call, 'remote-left');
        return;
    }
  }

  /** Ends any call (daemon shutdown). */
  async stop(): Promise<void> {
    if (this.call) await this.leave('left').catch(() => undefined);
  }

  private isCurrent(call: ActiveCall): boolean {
    return this.call === call;
  }

  private begin(id: string, peer: string, direction: 'outgoing' | 'incoming', kind: 'direct' | 'conference'): ActiveCall {
    const call: ActiveCall = { id, peer, kind, direction, since: Date.now(), links: [], timer: undefined };
    this.call = call;
    this.setPhase('connecting');
    this.opts.log.info({ event: 'call.connecting', callId: id, peer, direction }, `call ${direction} with ${peer}`);
    return call;
  }

  private async openPeer(call: ActiveCall, direction: 'sendrecv' | 'sendonly' | 'recvonly'): Promise<BoxPeer> {
    const media = this.opts.media();
    if (!media) throw new DcError('DC_MEDIA_NOT_RUNNING', 'the media engine is restarting; try again in a few seconds');
    const status = await media.status();
    if (!status.encoder) throw new DcError('DC_MEDIA_NO_ENCODER', 'no video encoder works on this box');
    if (direction !== 'recvonly') await media.setSending(true);
    const box = await BoxPeer.create({
      videoCodec: status.encoder.codec as VideoCodecName,
      direction,
      video: this.opts.ports.video,
      audio: this.opts.ports.audio,
      media,
      iceServers: this.opts.iceServers ?? [],
      loopbackOnly: this.opts.loopbackOnly ?? false,
      log: this.opts.log,
    });
    call.links.push({ box });
    box.on('state', () => void this.onLinkState(call));
    return box;
  }

  /** In the call when every link is connected; reconnecting when one drops. */
  private async onLinkState(call: ActiveCall): Promise<void> {
    if (this.call !== call) return;
    const states = call.links.map((l) => l.box.state);
    if (states.every((s) => s === 'connected')) {
      clearTimeout(call.timer);
      const rejoined = this.phase === 'reconnecting';
      this.setPhase('in-call');
      this.opts.log.info({ event: rejoined ? 'call.recovered' : 'call.joined', callId: call.id, peer: call.peer }, 'in the call');
      if (!rejoined) this.emit('joined', this.summary());
    } else if (states.some((s) => s === 'disconnected' || s === 'failed') && this.phase === 'in-call') {
      this.setPhase('reconnecting');
      this.arm(call, this.opts.reconnectTimeoutMs ?? 30_000, 'link-lost');
    }
  }

  /** Ends `call` with `reason` unless it has changed phase to in-call by then. */
  private arm(call: ActiveCall, ms: number, reason: EndReason): void {
    clearTimeout(call.timer);
    call.timer = setTimeout(() => {
      if (this.call === call && this.phase !== 'in-call') void this.end(call, reason);
    }, ms);
    call.timer.unref();
  }

  private async end(call: ActiveCall, reason: EndReason, error?: unknown): Promise<void> {
    if (this.call !== call) return;
    clearTimeout(call.timer);
    const ended = this.summary();
    this.call = undefined;
    this.lastEnd = { reason, at: new Date().toISOString(), ...(error ? { error: serializeError(error) } : {}) };
    for (const link of call.links) {
      await link.session?.end().catch((e: unknown) => this.opts.log.warn({ event: 'call.delete_failed', err: serializeError(e) }, 'conference session not ended'));
      await link.box.close().catch(() => undefined);
    }
    await this.opts
      .media()
      ?.setSending(false)
      .catch(() => undefined);
    this.setPhase('idle');
    this.opts.log.info({ event: 'call.ended', callId: call.id, peer: call.peer, reason, error: this.lastEnd.error }, `call ended: ${reason}`);
    this.emit('ended', { ...ended, state: 'idle', lastEnd: this.lastEnd });
  }

  private setPhase(phase: CallPhase): void {
    this.phase = phase;
    this.emit('state', this.summary());
  }
}
