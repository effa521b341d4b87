import { MediaStreamTrack, RTCPeerConnection, type RTCIceServer, type RtcpPacket, type RTCRtpTransceiver } from 'werift';
import { DcError } from '../errors.js';
import type { Logger } from '../log.js';
import { AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE } from '../media/pipelines.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { opus, videoCodecs, type VideoCodecName } from './codecs.js';
import { RtpBridge, type RtpBridgePorts } from './rtp-bridge.js';

/** What a call asks of the media engine while it runs. */
export interface PeerMediaControl {
  forceKeyframe(): Promise<void>;
  setBitrate(kbps: number): Promise<void>;
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
  /** Encoder bitrate limits that a bandwidth estimate is clamped to (kbit/s). */
  minBitrateKbps?: number;
  maxBitrateKbps?: number;
  log: Logger;
}

export type PeerState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export type BoxPeerEvents = {
  state: [PeerState];
  /** The far end asked for a keyframe (PLI or FIR); the encoder was asked for one. */
  keyframe: [reason: 'pli' | 'fir'];
  /** A new bandwidth estimate from the far end became the encoder bitrate. */
  bitrate: [kbps: number];
};

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
  private closed = false;
  private rtcpWatched = false;

  private constructor(
    private readonly opts: BoxPeerOptions,
    videoBridge: RtpBridge,
    audioBridge: RtpBridge,
  ) {
    super();
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
    const direction = opts.direction ?? 'sendrecv';
    this.video = this.pc.addTransceiver(videoTrack, { direction });
    this.audio = this.pc.addTransceiver(audioTrack, { direction });
    videoBridge.sendTo(videoTrack);
    audioBridge.sendTo(audioTrack);
    this.video.onTrack.subscribe((remote) => {
      videoBridge.receiveFrom(remote);
      this.askForKeyframes(remote);
    });
    this.audio.onTrack.subscribe((remote) => audioBridge.receiveFrom(remote));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.watchRtcp();
      opts.log.info({ event: 'rtc.state', state }, `call link ${state}`);
      this.emit('state', state);
    });
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
    return new BoxPeer(opts, video, audio);
  }

  get state(): PeerState {
    return this.pc.connectionState as PeerState;
  }

  /** An offer with every candidate in it (gathering waited for), for signalling without trickle. */
  async createOffer(options: { iceRestart?: boolean } = {}): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer(options));
    return this.completeLocalSdp();
  }

  /** Takes the far end's offer and returns the answer, candidates included. */
  async answer(offerSdp: string): Promise<string> {
    await this.setRemote('offer', offerSdp);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.completeLocalSdp();
  }

  async acceptAnswer(answerSdp: string): Promise<void> {
    await this.setRemote('answer', answerSdp);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
    transport.onRtcp.subscribe((packet) => this.onRtcp(packet));
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
      this.applyEstimate(Number(feedback.bitrate) / 1000);
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
      const ssrc = rtp.header.ssrc;
      for (const delayMs of REMOTE_KEYFRAME_ASKS_MS) {
        setTimeout(() => {
          if (!this.closed) this.video.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
        }, delayMs).unref();
      }
    });
  }

  private requestKeyframe(reason: 'pli' | 'fir'): void {
    const now = performance.now();
    if (now - this.lastKeyframeAt < KEYFRAME_MIN_INTERVAL_MS) return;
    this.lastKeyframeAt = now;
    this.opts.media.forceKeyframe().then(
      () => this.emit('keyframe', reason),
      (e: Error) => this.opts.log.warn({ event: 'rtc.keyframe_failed', err: e.message }, 'keyframe request not passed on'),
    );
  }

  /** The far end's estimate, less room for audio and RTP overhead, within the configured range. */
  private applyEstimate(estimateKbps: number): void {
    const min = this.opts.minBitrateKbps ?? 150;
    const max = this.opts.maxBitrateKbps ?? 2500;
    const target = Math.round(Math.min(max, Math.max(min, estimateKbps * 0.85 - 40)));
    if (this.bitrateKbps !== undefined && Math.abs(target - this.bitrateKbps) < this.bitrateKbps * BITRATE_STEP) return;
    this.bitrateKbps = target;
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
