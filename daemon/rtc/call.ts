import { randomUUID } from 'node:crypto';
import { DcError, serializeError, type SerializedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MediaControl } from '../media/ipc.js';
import type { MediaStatus } from '../media/types.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { VideoCodecName } from './codecs.js';
import type { FrameSize } from './quality.js';
import { CallStatsSampler, type CallStats } from './stats.js';
import { BoxPeer } from './peer.js';
import type { RtpBridgePorts } from './rtp-bridge.js';
import { iceFragmentOf } from './ice-fragment.js';
import { WhipSession, type IceServerLink } from './whip.js';

/** `ringing`: another box calls and the hall is asked to answer (calls.answer = 'ask'). */
export type CallPhase = 'idle' | 'ringing' | 'connecting' | 'in-call' | 'reconnecting';

/** Why a call ended: said in the state, the event and the reply. */
export type EndReason =
  | 'left' // this box's host (or the console) ended it
  | 'remote-left' // the far end hung up
  | 'rejected' // the far end refused (busy)
  | 'no-answer'
  | 'link-lost' // the link did not come back within calls.giveUpAfterS
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
  /** Codec, size, fps, bitrate, loss, jitter, RTT and freezes each way, sampled every 2 s (stats.ts). */
  stats: CallStats | null;
}

/**
 * A message of a direct call, carried over MQTT. `attempt` numbers the caller's offers within a
 * call (0 the first; later ones restart ICE, or with `renegotiate` replace the peer connection),
 * and an answer repeats the number of the offer it answers.
 */
export type SignalMessage =
  | { kind: 'offer'; callId: string; sdp: string; attempt?: number; renegotiate?: boolean }
  | { kind: 'answer'; callId: string; sdp: string; attempt?: number }
  | { kind: 'reject'; callId: string; reason: string }
  | { kind: 'hangup'; callId: string; reason: string };

/** How signalling messages reach the other box (MQTT in the daemon). */
export interface SignalChannel {
  send(to: string, message: SignalMessage): Promise<void>;
  /**
   * Whether the broker answers right now (a round trip, a few seconds at most); undefined counts
   * as yes. A connection can look up for a keepalive period after the network went away.
   */
  reachable?(): Promise<boolean>;
}

/** How a lost link is won back: ICE restarts, then new peer connections, spaced out. */
export interface RecoveryOptions {
  /** A link silent this long (after the peer noticed it) gets its first ICE restart (ms, default 1000). */
  firstAttemptAfterMs?: number;
  /** The wait after the first attempt; doubled after each (ms, default 3000). */
  retryMs?: number;
  /** The longest wait between attempts (ms, default 15000). */
  maxRetryMs?: number;
  /** ICE restarts tried before every further attempt renegotiates from scratch (default 2). */
  iceRestarts?: number;
}

export interface CallManagerOptions {
  media(): MediaControl | undefined;
  signal: SignalChannel;
  ports: { video: RtpBridgePorts; audio: RtpBridgePorts };
  iceServers?: { urls: string; username?: string; credential?: string }[];
  /** What a call starts sending at: the configured picture size and bitrate, the most a good link gets. */
  sending?: { captureSize: FrameSize; bitrateKbps: number; startKbps?: number };
  loopbackOnly?: boolean;
  /** No answer within this long ends the call as `no-answer` (default 20 s). */
  answerTimeoutMs?: number;
  /**
   * 'auto' (default): a box called by another answers at once (a hall has no one to press
   * "answer"); 'ask': it rings, and OK on the TV remote (or the `answer` command) answers.
   */
  answer?: () => 'auto' | 'ask';
  /** How long a call rings before it is refused as not answered (default 15 s, under the caller's 20). */
  ringMs?: number;
  /**
   * A lost link not back within this long ends the call as `link-lost`; by default (0) the box
   * keeps trying until the link is back or the host ends the call.
   */
  giveUpAfterMs?: number;
  recovery?: RecoveryOptions;
  log: Logger;
}

export type CallManagerEvents = {
  state: [CallSummary];
  joined: [CallSummary];
  ended: [CallSummary];
};

type LinkDirection = 'sendrecv' | 'sendonly' | 'recvonly';

/** One peer connection of a call, with its WHIP/WHEP session when it goes to a server. */
interface Link {
  box: BoxPeer;
  direction: LinkDirection;
  /** The WHIP or WHEP endpoint (conference links). */
  endpoint?: string;
  session?: WhipSession;
  /** False once the server has refused an ICE restart: recover with a new session instead. */
  restartable: boolean;
}

interface Recovery {
  attempts: number;
  lostAt: number;
  nextAt: number;
  busy: boolean;
  timer: NodeJS.Timeout;
}

interface ActiveCall {
  id: string;
  peer: string;
  kind: 'direct' | 'conference';
  direction: 'outgoing' | 'incoming';
  since: number;
  links: Link[];
  timer: NodeJS.Timeout | undefined;
  token?: string | undefined;
  /** ICE servers a conference server offered in its Link headers, used for its later sessions. */
  serverIceServers: IceServerLink[];
  /** Offers sent (caller) or the highest offer number answered (callee). */
  offers: number;
  /** While ringing: the caller's offer, answered when the hall says yes. */
  pendingOffer?: string;
  recovery: Recovery | undefined;
  /** Whether the call has been in-call once (a later in-call is a recovery). */
  joined: boolean;
  stats: CallStatsSampler<BoxPeer>;
}

/** How often a lost link's recovery is looked at (ms). */
const RECOVERY_TICK_MS = 250;
/** Conference server answers that no retry will change: the call ends with the reason. */
const FINAL_HTTP_STATUS = new Set([400, 401, 403, 404, 415]);
/** PATCH answers that mean "no ICE restart here": a new session is the way back. */
const NO_RESTART_STATUS = new Set([404, 405, 422, 501]);

/**
 * The box's call, one at a time, as a state machine: idle → connecting → in-call ⇄
 * reconnecting → (ended, with a reason) → idle. A conference: one peer publishes with WHIP,
 * another plays with WHEP; DELETE on leave. Direct calls between boxes: the caller sends
 * an offer, the callee (idle) answers at once — a village hall has no one to press "answer" —
 * or, asked to, rings until OK on the TV remote; it rejects when busy. Capture and sending run only during a call.
 *
 * A lost link (the far end silent for a few seconds) makes the call `reconnecting`; the side
 * that made the offers — the caller, or the box towards a conference server — first restarts
 * ICE (a new offer over MQTT, or a PATCH to the server), then builds new peer connections, with
 * growing waits, until the link is back, the host leaves, or `giveUpAfterMs` passes. While the
 * broker is out of reach too, nothing is restarted: if the same path comes back, media simply
 * resumes.
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
      stats: c?.stats.latest() ?? null,
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
    call.token = target.token;
    try {
      await this.openSession(call, this.addLink(call, await this.openPeer(call, 'sendonly'), target.whip));
      if (target.whep && this.isCurrent(call)) await this.openSession(call, this.addLink(call, await this.openPeer(call, 'recvonly'), target.whep));
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
    // Ringing, leaving is declining: the caller hears a refusal, not a hang-up.
    const message: SignalMessage = this.phase === 'ringing' ? { kind: 'reject', callId: call.id, reason: 'declined' } : { kind: 'hangup', callId: call.id, reason };
    if (call.kind === 'direct') await this.opts.signal.send(call.peer, message).catch(() => undefined);
    await this.end(call, this.phase === 'ringing' ? 'rejected' : reason);
    return this.summary();
  }

  private async callBox(peer: string): Promise<CallSummary> {
    const call = this.begin(randomUUID(), peer, 'outgoing', 'direct');
    try {
      const box = this.addLink(call, await this.openPeer(call, 'sendrecv')).box;
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

  /** Sets up a conference link's peer connection by one WHIP or WHEP exchange. */
  private async openSession(call: ActiveCall, link: Link): Promise<void> {
    const offer = await link.box.createOffer();
    const { session, answer } = await WhipSession.start(
      { endpoint: link.endpoint ?? '', ...(call.token ? { token: call.token } : {}), log: this.opts.log },
      offer,
    );
    link.session = session;
    link.restartable = true;
    if (answer.iceServers.length > 0) call.serverIceServers = answer.iceServers;
    await link.box.acceptAnswer(answer.sdp);
  }

  /** Answers the call that rings (OK on the TV remote, the `answer` command). */
  async answer(): Promise<CallSummary> {
    const call = this.call;
    if (!call || this.phase !== 'ringing' || call.pendingOffer === undefined) throw new DcError('DC_CMD_REFUSED', 'no call is ringing');
    const offer = call.pendingOffer;
    delete call.pendingOffer;
    this.setPhase('connecting');
    this.opts.log.info({ event: 'call.answered', callId: call.id, peer: call.peer }, `answered ${call.peer}`);
    await this.acceptOffer(call, offer);
    return this.summary();
  }

  /** The callee's side: a peer connection, the answer sent, media when ICE connects. */
  private async acceptOffer(call: ActiveCall, sdp: string): Promise<void> {
    try {
      const box = this.addLink(call, await this.openPeer(call, 'sendrecv')).box;
      const answer = await box.answer(sdp);
      await this.opts.signal.send(call.peer, { kind: 'answer', callId: call.id, sdp: answer });
      this.arm(call, this.opts.answerTimeoutMs ?? 20_000, 'no-answer');
    } catch (e) {
      await this.opts.signal.send(call.peer, { kind: 'reject', callId: call.id, reason: 'failed' }).catch(() => undefined);
      await this.end(call, 'failed', e);
    }
  }

  /** A signalling message from box `from`. */
  async onSignal(from: string, message: SignalMessage): Promise<void> {
    const call = this.call;
    switch (message.kind) {
      case 'offer': {
        if (call?.id === message.callId && call.peer === from) return this.onReoffer(call, message);
        if (call) {
          await this.opts.signal.send(from, { kind: 'reject', callId: message.callId, reason: 'busy' });
          return;
        }
        const ask = this.opts.answer?.() === 'ask';
        const incoming = this.begin(message.callId, from, 'incoming', 'direct', ask ? 'ringing' : 'connecting');
        incoming.offers = message.attempt ?? 0;
        if (!ask) return this.acceptOffer(incoming, message.sdp);
        incoming.pendingOffer = message.sdp;
        clearTimeout(incoming.timer);
        incoming.timer = setTimeout(() => {
          if (this.call !== incoming || this.phase !== 'ringing') return;
          this.opts.log.info({ event: 'call.unanswered', callId: incoming.id, peer: from }, 'nobody answered');
          void this.opts.signal.send(from, { kind: 'reject', callId: incoming.id, reason: 'no-answer' }).catch(() => undefined);
          void this.end(incoming, 'no-answer');
        }, this.opts.ringMs ?? 15_000);
        incoming.timer.unref();
        return;
      }
      case 'answer':
        // Only the answer to the latest offer: an older one carries credentials no longer in use.
        if (call?.id !== message.callId || call.peer !== from || !call.links[0] || (message.attempt ?? 0) !== call.offers) return;
        if (call.offers > 0) {
          await call.links[0].box.acceptAnswer(message.sdp).catch((e: unknown) => this.recoveryFailed(call, e));
          return;
        }
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

  /**
   * The caller's later offer in the call: an ICE restart on the same peer connection, or with
   * `renegotiate` a new one. A repeated or older offer (delayed by the broker) is dropped.
   */
  private async onReoffer(call: ActiveCall, message: Extract<SignalMessage, { kind: 'offer' }>): Promise<void> {
    const attempt = message.attempt ?? 0;
    if (attempt <= call.offers) return;
    call.offers = attempt;
    this.opts.log.info({ event: 'call.reoffer', callId: call.id, attempt, renegotiate: message.renegotiate ?? false }, 'the caller restarts the link');
    try {
      const link = call.links[0] ?? this.addLink(call, await this.openPeer(call, 'sendrecv'));
      if (message.renegotiate) await this.replacePeer(call, link);
      const sdp = await link.box.answer(message.sdp);
      if (this.isCurrent(call)) await this.opts.signal.send(call.peer, { kind: 'answer', callId: call.id, sdp, attempt });
    } catch (e) {
      // The caller tries again; the call stays.
      this.recoveryFailed(call, e);
    }
  }

  /** Ends any call (daemon shutdown). */
  async stop(): Promise<void> {
    if (this.call) await this.leave('left').catch(() => undefined);
  }

  private isCurrent(call: ActiveCall): boolean {
    return this.call === call;
  }

  private begin(id: string, peer: string, direction: 'outgoing' | 'incoming', kind: 'direct' | 'conference', phase: 'ringing' | 'connecting' = 'connecting'): ActiveCall {
    const links: Link[] = [];
    const call: ActiveCall = {
      id,
      peer,
      kind,
      direction,
      since: Date.now(),
      links,
      timer: undefined,
      serverIceServers: [],
      offers: 0,
      recovery: undefined,
      joined: false,
      stats: new CallStatsSampler({
        peers: () => links.map((l) => l.box),
        media: { status: () => this.mediaStatus() },
        onReport: (peer, report) => peer.noteReport(report),
      }),
    };
    call.stats.start();
    this.call = call;
    this.setPhase(phase);
    this.opts.log.info({ event: phase === 'ringing' ? 'call.ringing' : 'call.connecting', callId: id, peer, direction }, `call ${direction} with ${peer}${phase === 'ringing' ? ': ringing' : ''}`);
    return call;
  }

  private addLink(call: ActiveCall, box: BoxPeer, endpoint?: string): Link {
    const link: Link = { box, direction: box.direction, restartable: true, ...(endpoint ? { endpoint } : {}) };
    call.links.push(link);
    return link;
  }

  /** A new peer connection in place of `link`'s (a full renegotiation); the old one is closed first, freeing its ports. */
  private async replacePeer(call: ActiveCall, link: Link): Promise<void> {
    await link.box.close();
    link.box = await this.openPeer(call, link.direction);
  }

  private async openPeer(call: ActiveCall, direction: LinkDirection): Promise<BoxPeer> {
    const media = this.opts.media();
    if (!media) throw new DcError('DC_MEDIA_NOT_RUNNING', 'the media engine is restarting; try again in a few seconds');
    const status = await media.status();
    if (!status.encoder) throw new DcError('DC_MEDIA_NO_ENCODER', 'no video encoder works on this box');
    const sending = this.opts.sending;
    // The peer sets the size and bitrate each new link starts at.
    if (direction !== 'recvonly') await media.setSending(true);
    const box = await BoxPeer.create({
      videoCodec: status.encoder.codec as VideoCodecName,
      direction,
      video: this.opts.ports.video,
      audio: this.opts.ports.audio,
      media,
      ...(sending ? { captureSize: sending.captureSize, maxBitrateKbps: sending.bitrateKbps, startKbps: sending.startKbps } : {}),
      iceServers: [...(this.opts.iceServers ?? []), ...call.serverIceServers],
      loopbackOnly: this.opts.loopbackOnly ?? false,
      log: this.opts.log,
    });
    box.on('state', () => void this.onLinkState(call));
    return box;
  }

  /** In the call when every link is connected; reconnecting when one drops. */
  private async onLinkState(call: ActiveCall): Promise<void> {
    if (this.call !== call) return;
    const states = call.links.map((l) => l.box.state);
    if (states.every((s) => s === 'connected')) {
      if (this.phase === 'in-call') return;
      clearTimeout(call.timer);
      const recovery = call.recovery;
      this.stopRecovery(call);
      const first = !call.joined;
      call.joined = true;
      this.setPhase('in-call');
      if (recovery && !first) {
        const lostMs = Date.now() - recovery.lostAt;
        this.opts.log.info({ event: 'call.recovered', callId: call.id, peer: call.peer, lostMs, attempts: recovery.attempts }, 'the call is back');
      } else {
        this.opts.log.info({ event: 'call.joined', callId: call.id, peer: call.peer }, 'in the call');
        this.emit('joined', this.summary());
      }
    } else if (states.some((s) => s === 'disconnected' || s === 'failed') && this.phase === 'in-call') {
      this.startRecovery(call);
    } else if (states.some((s) => s === 'failed') && this.phase === 'connecting' && !call.recovery) {
      // The first connection failed (a lossy link can lose the handshake): try again the same
      // way, still `connecting`, until the answer timeout.
      this.startRecovery(call, 'connecting');
    }
  }

  private startRecovery(call: ActiveCall, phase: CallPhase = 'reconnecting'): void {
    const now = Date.now();
    const timer = setInterval(() => void this.recoveryTick(call), RECOVERY_TICK_MS);
    timer.unref();
    call.recovery = { attempts: 0, lostAt: now, nextAt: now + (this.opts.recovery?.firstAttemptAfterMs ?? 1000), busy: false, timer };
    if (phase === 'reconnecting') this.opts.log.warn({ event: 'call.link_lost', callId: call.id, peer: call.peer }, 'the call link is lost; reconnecting');
    else this.opts.log.warn({ event: 'call.connect_failed', callId: call.id, peer: call.peer }, 'the call did not connect; trying again');
    this.setPhase(phase);
  }

  private stopRecovery(call: ActiveCall): void {
    if (call.recovery) clearInterval(call.recovery.timer);
    call.recovery = undefined;
  }

  /** One step of a lost link's recovery: give up, wait, or make the next attempt. */
  private async recoveryTick(call: ActiveCall): Promise<void> {
    const r = call.recovery;
    if (!r || r.busy || !this.isCurrent(call)) return;
    const now = Date.now();
    const giveUp = this.opts.giveUpAfterMs ?? 0;
    if (giveUp > 0 && now - r.lostAt >= giveUp) return this.end(call, 'link-lost');
    // The callee waits for the caller's new offer: two restarting sides would cross.
    const drives = call.kind === 'conference' || call.direction === 'outgoing';
    if (!drives || now < r.nextAt) return;
    r.busy = true;
    // An ICE restart that cannot be signalled only breaks a path that may yet come back by itself.
    if (call.kind === 'direct' && this.opts.signal.reachable && !(await this.opts.signal.reachable())) {
      r.busy = false;
      return;
    }
    if (!this.isCurrent(call) || call.recovery !== r) return;
    const attempt = ++r.attempts;
    const { iceRestarts = 2, retryMs = 3000, maxRetryMs = 15_000 } = this.opts.recovery ?? {};
    const renegotiate = attempt > iceRestarts;
    this.opts.log.info({ event: 'call.recovery_attempt', callId: call.id, attempt, renegotiate }, renegotiate ? 'renegotiating the call' : 'restarting ICE');
    try {
      if (call.kind === 'direct') await this.reofferBox(call, renegotiate);
      else await this.restartConference(call, renegotiate);
    } catch (e) {
      if (isFinal(e)) return this.end(call, 'failed', e);
      this.recoveryFailed(call, e);
    } finally {
      r.busy = false;
    }
    r.nextAt = Date.now() + Math.min(maxRetryMs, retryMs * 2 ** (attempt - 1));
  }

  /** The caller's new offer to the other box: an ICE restart, or a new peer connection. */
  private async reofferBox(call: ActiveCall, renegotiate: boolean): Promise<void> {
    const link = call.links[0];
    if (!link) return;
    if (renegotiate) await this.replacePeer(call, link);
    const sdp = await link.box.createOffer({ iceRestart: !renegotiate });
    if (!this.isCurrent(call)) return;
    const attempt = ++call.offers;
    await this.opts.signal.send(call.peer, { kind: 'offer', callId: call.id, sdp, attempt, ...(renegotiate ? { renegotiate } : {}) });
  }

  /**
   * Each lost conference link: an ICE restart by PATCH while the server takes them, else (or
   * when renegotiating) a new session — DELETE the old one, POST a new offer.
   */
  private async restartConference(call: ActiveCall, renegotiate: boolean): Promise<void> {
    for (const link of call.links) {
      if (link.box.state === 'connected' || !this.isCurrent(call)) continue;
      if (!renegotiate && link.restartable && link.session) {
        try {
          const offer = await link.box.createOffer({ iceRestart: true });
          await link.box.acceptRestartFragment(await link.session.restartIce(iceFragmentOf(offer)));
          continue;
        } catch (e) {
          if (!NO_RESTART_STATUS.has(httpStatus(e) ?? 0)) throw e;
          this.opts.log.info({ event: 'call.ice_restart_refused', status: httpStatus(e) }, 'the server cannot restart ICE; making a new session');
          link.restartable = false;
        }
      }
      await link.session?.end().catch(() => undefined);
      delete link.session;
      await this.replacePeer(call, link);
      await this.openSession(call, link);
    }
  }

  private recoveryFailed(call: ActiveCall, e: unknown): void {
    this.opts.log.warn({ event: 'call.recovery_failed', callId: call.id, err: serializeError(e) }, 'a reconnection attempt failed; trying again');
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
    this.stopRecovery(call);
    call.stats.stop();
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

  private async mediaStatus(): Promise<MediaStatus> {
    const media = this.opts.media();
    if (!media) throw new DcError('DC_MEDIA_NOT_RUNNING', 'the media engine is restarting');
    return media.status();
  }

  private setPhase(phase: CallPhase): void {
    this.phase = phase;
    this.emit('state', this.summary());
  }
}

function httpStatus(e: unknown): number | undefined {
  const status = (e as { details?: { status?: unknown } }).details?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A conference server's answer that no retry will change: no such room, token refused… */
function isFinal(e: unknown): boolean {
  return FINAL_HTTP_STATUS.has(httpStatus(e) ?? 0);
}
