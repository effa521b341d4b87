import { MediaStreamTrack, RTCPeerConnection, type RTCIceServer, type RtcpPacket, type RTCRtpTransceiver } from 'werift';
import { DcError } from '../errors.js';
import type { Logger } from '../log.js';
import { AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE } from '../media/pipelines.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { opus, videoCodecs, type VideoCodecName } from './codecs.js';
import { withIceFragment } from './ice-fragment.js';
import { SendQuality, type FrameSize } from './quality.js';
import type { FarReport } from './stats.js';
import { RtpBridge, type RtpBridgePorts } from './rtp-bridge.js';
import { limitNackRepeats, limitRetransmissions } from './retransmissions.js';

/** What a call asks of the media engine while it runs. */
export interface PeerMediaControl {
  forceKeyframe(): Promise<void>;
  setBitrate(kbps: number): Promise<void>;
  /** The picture size sent, smaller on a poor link; null: video paused, audio only. */
  setSendSize?(size: FrameSize | null): Promise<void>;
}

export interface BoxPeerOptions {
  /** What the engine's encoder makes; offered and sent. */
  videoCodec: VideoCodecName;
  /**
   * sendrecv (a direct call, default), sendonly (publishing with WHIP) or recvonly (playing with
   * WHEP). A peer that does not send leaves the encoder's ports alone (another peer has them).
   */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly';
  video: RtpBridgePorts;
  audio: RtpBridgePorts;
  media: PeerMediaControl;
  iceServers?: RTCIceServer[];
  /** Tests on one machine: ICE on 127.0.0.1 only. */
  loopbackOnly?: boolean;
  /** How long gathering may take before the SDP is handed out anyway (ms, default 5000). */
  gatherTimeoutMs?: number;
  /**
   * No packet (RTP or RTCP) from the far end for this long counts as a lost link, long before
   * ICE consent (30 s) expires (ms; default 3000 for a peer that receives media, 8000 for a
   * sending-only one, which hears RTCP only every few seconds).
   */
  silenceMs?: number;
  /** Encoder bitrate limits that a bandwidth estimate is clamped to (kbit/s). */
  minBitrateKbps?: number;
  maxBitrateKbps?: number;
  /**
   * The camera's size, the top of the picture-size ladder a poor link steps down (see
   * quality.ts); without it only the bitrate follows the link.
   */
  captureSize?: FrameSize;
  /**
   * What the link is first taken to carry (kbit/s; `calls.startBitrateKbps`): a call starts
   * there and grows while the link shows no loss and no queue — starting above a rural link's
   * capacity would fill its queue (and drop audio) before the first report came back.
   */
  startKbps?: number;
  log: Logger;
}

export type PeerState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export type BoxPeerEvents = {
  state: [PeerState];
  /** The far end asked for a keyframe (PLI or FIR); the encoder was asked for one. */
  keyframe: [reason: 'pli' | 'fir' | 'connected'];
  /** A new bandwidth estimate from the far end became the encoder bitrate. */
  bitrate: [kbps: number];
  /** The link's quality changed the picture size sent (null: audio only). */
  size: [size: FrameSize | null];
};

/** Reports arriving this long after the far end is heard again still cover the outage (ms). */
const OUTAGE_REPORTS_MS = 3000;
/** How often the far end's silence is checked (ms). */
const SILENCE_CHECK_MS = 500;
/** RTCP payload-specific feedback (RFC 4585) and its formats. */
const PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;
const FMT_REMB = 15;
/** A burst of PLIs (one per lost frame) makes one keyframe, not a keyframe storm. */
const KEYFRAME_MIN_INTERVAL_MS = 500;
/** When to ask the far end for a keyframe after its video starts (ms). */
const REMOTE_KEYFRAME_ASKS_MS = [0, 1000, 3000];
/** Bitrate changes smaller than this are noise; the encoder is left alone. */
const BITRATE_STEP = 0.1;

/**
 * One WebRTC peer connection of the box: werift does ICE, DTLS, SRTP and RTCP; audio and
 * video stay in the media engine, crossing over the RTP bridges. The far end's keyframe
 * requests become a keyframe of the encoder; its bandwidth estimate becomes the encoder's
 * bitrate.
 */
export class BoxPeer extends TypedEmitter<BoxPeerEvents> {
  readonly pc: RTCPeerConnection;
  readonly videoBridge: RtpBridge;
  readonly audioBridge: RtpBridge;
  private readonly video: RTCRtpTransceiver;
  private readonly audio: RTCRtpTransceiver;
  private lastKeyframeAt = 0;
  private bitrateKbps: number | undefined;
  private readonly quality: SendQuality | undefined;
  /** The far end's last bandwidth estimate (REMB) and loss report for our video. */
  private link: { estimateKbps?: number; lossFraction?: number; rttMs?: number } = {};
  private closed = false;
  private rtcpWatched = false;
  private rtcpReceived = 0;
  private remoteVideoSsrc: number | undefined;
  /** Inbound packets counted at the last check, and when that count last moved. */
  private heard = { packets: 0, at: 0 };
  private silent = false;
  /** When the far end was heard again after a silence (performance.now()). */
  private heardAgainAt = -Infinity;
  /** Set once DTLS is up: from then on ICE and the far end's packets tell the link's state. */
  private established = false;
  private silenceTimer: NodeJS.Timeout | undefined;
  private reportedState: PeerState = 'new';

  private constructor(
    private readonly opts: BoxPeerOptions,
    videoBridge: RtpBridge,
    audioBridge: RtpBridge,
  ) {
    super();
    // A camera below the ladder's lowest rung (360p) keeps its size; only the bitrate follows.
    const ladder = opts.captureSize && opts.direction !== 'recvonly' && opts.captureSize.height >= 360 && opts.captureSize.width >= 640;
    if (ladder) this.quality = new SendQuality({ captureSize: opts.captureSize!, maxVideoKbps: opts.maxBitrateKbps ?? 2500, ...(opts.startKbps ? { startKbps: opts.startKbps } : {}) });
    this.videoBridge = videoBridge;
    this.audioBridge = audioBridge;
    this.pc = new RTCPeerConnection({
      codecs: { video: videoCodecs(opts.videoCodec), audio: [opus()] },
      iceServers: opts.iceServers ?? [],
      bundlePolicy: 'max-bundle',
      ...(opts.loopbackOnly ? { iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' } } : {}),
    });
    const videoTrack = new MediaStreamTrack({ kind: 'video' });
    const audioTrack = new MediaStreamTrack({ kind: 'audio' });
    const { direction } = this;
    this.video = this.pc.addTransceiver(videoTrack, { direction });
    this.audio = this.pc.addTransceiver(audioTrack, { direction });
    limitRetransmissions(this.video.sender, () => this.link.rttMs);
    limitNackRepeats(this.video.receiver);
    videoBridge.sendTo(videoTrack);
    audioBridge.sendTo(audioTrack);
    this.video.onTrack.subscribe((remote) => {
      videoBridge.receiveFrom(remote);
      this.askForKeyframes(remote);
    });
    this.audio.onTrack.subscribe((remote) => audioBridge.receiveFrom(remote));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        if (!this.established) {
          // The encoder's first keyframe went out before the link was up: the far end's decoder
          // would wait for the next one (or for its PLI's round trip). Send one now.
          if (this.direction !== 'recvonly') this.requestKeyframe('connected');
        }
        this.established = true;
        this.watchRtcp();
        this.watchSilence();
      }
      this.reportState();
    });
    this.pc.iceConnectionStateChange.subscribe(() => this.reportState());
  }

  /** Opens the RTP bridges on their ports and builds the peer connection (no network yet). */
  static async create(opts: BoxPeerOptions): Promise<BoxPeer> {
    const sends = (opts.direction ?? 'sendrecv') !== 'recvonly';
    const ports = (p: RtpBridgePorts): RtpBridgePorts => (sends ? p : { ...p, fromMedia: 0 });
    const video = await RtpBridge.open('video', ports(opts.video), VIDEO_PAYLOAD_TYPE, opts.log);
    let audio: RtpBridge;
    try {
      audio = await RtpBridge.open('audio', ports(opts.audio), AUDIO_PAYLOAD_TYPE, opts.log);
    } catch (e) {
      video.close();
      throw e;
    }
    const peer = new BoxPeer(opts, video, audio);
    // Not awaited: the media worker applies it once its pipelines are up (~200 ms after a call
    // starts them), while the offer and ICE go ahead; it is done well before the link is.
    peer.startSending().catch((e: Error) => opts.log.warn({ event: 'rtc.send_size_failed', err: e.message }, 'starting size and bitrate not applied'));
    return peer;
  }

  /**
   * The encoder's settings before the first packet: with the ladder, the size and bitrate that
   * `startKbps` allows (a first keyframe at full size and bitrate would fill a slow link's
   * queue, and the RTT measured through that queue would pass for the link's own); without it,
   * the configured bitrate. A new peer connection starts afresh, whatever the last one reached.
   */
  private async startSending(): Promise<void> {
    if (this.direction === 'recvonly') return;
    if (this.quality) this.followLink({});
    else if (this.opts.maxBitrateKbps) await this.opts.media.setBitrate(this.opts.maxBitrateKbps);
  }

  /** No estimate from the far end yet: as much as the encoder may use, so that only loss and queueing limit it. */
  private assumedEstimateKbps(): number {
    return this.link.estimateKbps ?? ((this.opts.maxBitrateKbps ?? 2500) + 40) / 0.85;
  }

  get direction(): 'sendrecv' | 'sendonly' | 'recvonly' {
    return this.opts.direction ?? 'sendrecv';
  }

  /**
   * The link's state. Once connected, it follows ICE (an ICE restart keeps the DTLS session, so
   * the peer connection's own state would stay `connected` or `failed` through it) and the far
   * end's packets: `disconnected` while it is silent.
   */
  get state(): PeerState {
    const state = this.pc.connectionState as PeerState;
    if (!this.established || state === 'closed') return state;
    const ice = this.pc.iceConnectionState;
    if (ice === 'failed') return 'failed';
    // Hearing the far end is not enough: after an ICE restart that never reached it, there is
    // no selected pair to send on.
    const canSend = this.pc.dtlsTransports.every((d) => d.iceTransport.connection.nominated !== undefined);
    return (ice === 'connected' || ice === 'completed') && !this.silent && canSend ? 'connected' : 'disconnected';
  }

  /**
   * An offer with every candidate in it (gathering waited for), for signalling without trickle.
   * With `iceRestart`, new ICE credentials: both ends gather and check again, on the same DTLS
   * session, so media resumes without a new handshake.
   */
  async createOffer(options: { iceRestart?: boolean } = {}): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer(options));
    return this.completeLocalSdp();
  }

  /**
   * The far end's answer to an ICE restart that came as an SDP fragment (WHIP/WHEP PATCH): its
   * new credentials and candidates put into its last full answer.
   */
  async acceptRestartFragment(fragment: string): Promise<void> {
    const previous = this.pc.remoteDescription?.sdp;
    if (!previous) throw new DcError('DC_RTC_BAD_SDP', 'no earlier answer to restart from');
    await this.acceptAnswer(withIceFragment(previous, fragment));
  }

  /** Takes the far end's offer and returns the answer, candidates included. */
  async answer(offerSdp: string): Promise<string> {
    await this.setRemote('offer', offerSdp);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    const sdp = await this.completeLocalSdp();
    this.startRestartedIce();
    return sdp;
  }

  async acceptAnswer(answerSdp: string): Promise<void> {
    await this.setRemote('answer', answerSdp);
    this.startRestartedIce();
  }

  /**
   * werift (0.25) starts ICE checks only while DTLS is not yet up, so after an ICE restart on an
   * established session nothing would check the new candidates (and no pair is selected): start
   * them here.
   */
  private startRestartedIce(): void {
    if (!this.established) return;
    for (const dtls of this.pc.dtlsTransports) {
      const ice = dtls.iceTransport;
      if (ice.connection.nominated || ice.state === 'closed') continue;
      ice.start().catch((e: Error) => this.opts.log.warn({ event: 'rtc.ice_restart_failed', err: e.message }, 'ICE restart checks failed'));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.silenceTimer);
    this.videoBridge.close();
    this.audioBridge.close();
    await this.pc.close();
  }

  private async setRemote(type: 'offer' | 'answer', sdp: string): Promise<void> {
    // werift takes an SDP without any media section and answers it: a call with nothing in it.
    const problem = sdpProblem(sdp);
    if (problem) throw new DcError('DC_RTC_BAD_SDP', `the far end's ${type} cannot be used: ${problem}`, { type });
    try {
      await this.pc.setRemoteDescription({ type, sdp });
    } catch (e) {
      throw new DcError('DC_RTC_BAD_SDP', `the far end's ${type} cannot be used: ${(e as Error).message}`, { type }, { cause: e });
    }
    const negotiated = this.video.sender.codec?.name;
    if (this.video.currentDirection !== 'inactive' && negotiated && negotiated.toUpperCase() !== this.opts.videoCodec) {
      throw new DcError('DC_RTC_CODEC', `the far end chose ${negotiated}; this box sends ${this.opts.videoCodec}`);
    }
  }

  private async completeLocalSdp(): Promise<string> {
    if (this.pc.iceGatheringState !== 'complete') {
      const timeout = this.opts.gatherTimeoutMs ?? 5000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeout);
        const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
          if (state !== 'complete') return;
          clearTimeout(timer);
          unSubscribe();
          resolve();
        });
      });
    }
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new DcError('DC_RTC_BAD_SDP', 'no local description');
    return sdp;
  }

  /**
   * Keyframe requests and bandwidth estimates for our video, read from all the RTCP of the
   * (bundled) transport: werift routes a PLI by its sender SSRC first, which on a sendrecv
   * bundle can be our own receiver, so the sender's own RTCP event misses it.
   */
  private watchRtcp(): void {
    if (this.rtcpWatched) return;
    const transport = this.video.sender.dtlsTransport;
    if (!transport) return;
    this.rtcpWatched = true;
    transport.onRtcp.subscribe((packet) => {
      this.rtcpReceived++;
      this.onRtcp(packet);
    });
  }

  /**
   * Watches that the far end is still heard. A cut link shows as `disconnected` within
   * `silenceMs` (the call says "reconnecting"); when packets come back, the state returns to
   * `connected` and the far end is asked for a keyframe, since the decoder lost the picture.
   */
  private watchSilence(): void {
    if (this.silenceTimer) return;
    const receives = this.direction !== 'sendonly';
    const limit = this.opts.silenceMs ?? (receives ? 3000 : 8000);
    this.heard = { packets: this.inboundPackets(), at: performance.now() };
    this.silenceTimer = setInterval(() => {
      const packets = this.inboundPackets();
      const now = performance.now();
      if (packets !== this.heard.packets) this.heard = { packets, at: now };
      const silent = now - this.heard.at >= limit;
      if (silent !== this.silent) {
        this.silent = silent;
        if (!silent) {
          this.heardAgainAt = now;
          this.askForKeyframe();
        }
      }
      // Also catches a selected pair lost or found again (an ICE restart), which has no event.
      this.reportState();
    }, SILENCE_CHECK_MS);
    this.silenceTimer.unref();
  }

  private inboundPackets(): number {
    return this.videoBridge.counters.received + this.audioBridge.counters.received + this.rtcpReceived;
  }

  private reportState(): void {
    const state = this.state;
    if (state === this.reportedState || this.closed) return;
    this.reportedState = state;
    this.opts.log.info({ event: 'rtc.state', state }, `call link ${state}`);
    this.emit('state', state);
  }

  private onRtcp(packet: RtcpPacket): void {
    if (packet.type !== PSFB) return;
    const ours = this.video.sender.ssrc;
    const feedback = (packet as { feedback: { count: number; mediaSsrc?: number; bitrate?: bigint; ssrcFeedbacks?: number[] } })
      .feedback;
    if (feedback.count === FMT_PLI && feedback.mediaSsrc === ours) this.requestKeyframe('pli');
    // A FIR names its SSRCs in its entries; on this bundle only our video can be meant.
    else if (feedback.count === FMT_FIR) this.requestKeyframe('fir');
    else if (feedback.count === FMT_REMB && feedback.bitrate !== undefined && (feedback.ssrcFeedbacks ?? []).includes(ours)) {
      this.followLink({ estimateKbps: Number(feedback.bitrate) / 1000 });
    }
  }

  /**
   * The decoder can start only at a keyframe, and a sender may make one only every few seconds
   * (or, for an SFU relaying someone else, rarely): ask with PLIs when the far end's video
   * starts, and a few times more in case one is lost.
   */
  private askForKeyframes(remote: MediaStreamTrack): void {
    const { unSubscribe } = remote.onReceiveRtp.subscribe((rtp) => {
      unSubscribe();
      this.remoteVideoSsrc = rtp.header.ssrc;
      for (const delayMs of REMOTE_KEYFRAME_ASKS_MS) setTimeout(() => this.askForKeyframe(), delayMs).unref();
    });
  }

  private askForKeyframe(): void {
    if (this.closed || this.remoteVideoSsrc === undefined) return;
    this.video.receiver.sendRtcpPLI(this.remoteVideoSsrc).catch(() => undefined);
  }

  private requestKeyframe(reason: 'pli' | 'fir' | 'connected'): void {
    const now = performance.now();
    if (now - this.lastKeyframeAt < KEYFRAME_MIN_INTERVAL_MS) return;
    this.lastKeyframeAt = now;
    this.opts.media.forceKeyframe().then(
      () => this.emit('keyframe', reason),
      (e: Error) => this.opts.log.warn({ event: 'rtc.keyframe_failed', err: e.message }, 'keyframe request not passed on'),
    );
  }

  /**
   * The far end's report block on one of our streams (read by the call's statistics sampler,
   * which also measures the round trip): reports on our video drive the link's quality.
   */
  noteReport(report: FarReport): void {
    // Our video's reports; while video is paused (audio only) our audio's, on the same path —
    // else the link could never show the room to bring video back.
    const about = this.quality?.current?.size === null ? this.audio.sender.ssrc : this.video.sender.ssrc;
    if (report.ssrc !== about) return;
    // Loss while the link was down (and in the first reports after, whose interval spans the
    // outage) is the cut, not congestion: it must not send the call to audio only.
    if (this.state !== 'connected' || performance.now() - this.heardAgainAt < OUTAGE_REPORTS_MS) return;
    this.followLink({ lossFraction: report.lossFraction, ...(report.rttMs !== undefined ? { rttMs: report.rttMs } : {}) });
  }

  /**
   * A new view of the link from the far end (an estimate, a loss report, a round trip): the
   * picture size and the encoder bitrate follow it (quality.ts). Without an estimate yet, loss
   * and queueing alone drive.
   */
  private followLink(news: { estimateKbps?: number; lossFraction?: number; rttMs?: number }): void {
    this.link = { ...this.link, ...news };
    const min = this.opts.minBitrateKbps ?? 150;
    const max = this.opts.maxBitrateKbps ?? 2500;
    if (!this.quality) {
      if (news.estimateKbps !== undefined) this.applyBitrate(Math.round(Math.min(max, Math.max(min, news.estimateKbps * 0.85 - 40))), news.estimateKbps);
      return;
    }
    const estimateKbps = this.assumedEstimateKbps();
    const decision = this.quality.observe({
      estimateKbps,
      ...(this.link.lossFraction !== undefined ? { lossFraction: this.link.lossFraction } : {}),
      ...(news.rttMs !== undefined ? { rttMs: news.rttMs } : {}),
      at: performance.now(),
    });
    // The first decision is always applied: the engine may still be at a previous call's size.
    if (decision.changed || decision.reason === 'start') {
      this.opts.log.info({ event: 'rtc.send_size', rung: decision.rung, budgetKbps: decision.budgetKbps, loss: this.link.lossFraction }, `the link carries ${decision.rung}`);
      this.opts.media.setSendSize?.(decision.size).then(
        () => this.emit('size', decision.size),
        (e: Error) => this.opts.log.warn({ event: 'rtc.send_size_failed', err: e.message }, 'picture size not applied'),
      );
    }
    if (decision.size) this.applyBitrate(Math.max(min, decision.videoKbps), estimateKbps);
  }

  private applyBitrate(target: number, estimateKbps: number): void {
    if (this.bitrateKbps !== undefined && Math.abs(target - this.bitrateKbps) < this.bitrateKbps * BITRATE_STEP) return;
    this.bitrateKbps = target;
    this.videoBridge.setTargetKbps(target);
    const { lossFraction: loss, rttMs } = this.link;
    this.opts.log.info({ event: 'rtc.bitrate', kbps: target, estimateKbps: Math.round(estimateKbps), loss, rttMs }, 'encoder bitrate follows the link');
    this.opts.media.setBitrate(target).then(
      () => this.emit('bitrate', target),
      (e: Error) => this.opts.log.warn({ event: 'rtc.bitrate_failed', err: e.message }, 'bitrate not applied'),
    );
  }
}

/** Why `sdp` cannot carry a call, or undefined: a session line first, and audio or video in it. */
export function sdpProblem(sdp: string): string | undefined {
  if (!/^v=0\r?\n/.test(sdp)) return 'it does not start with "v=0"';
  if (!/^o=.+$/m.test(sdp)) return 'it has no origin ("o=") line';
  if (!/^m=(audio|video) \d+ [A-Z/]+ [\d ]+\r?$/m.test(sdp)) return 'it has no audio or video section';
  return undefined;
}
