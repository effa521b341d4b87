/**
 * Call statistics: what each direction of a call carries (codec, picture, frame rate, bitrate)
 * and how well (loss, jitter, round-trip time, freezes), sampled every few seconds from three
 * places that each see part of it:
 *
 * - the RTP bridges' counters: payload bytes and frames crossing between GStreamer and werift,
 *   so the bitrates and the sent frame rate;
 * - the media engine (`MediaStatus.received`, `sentVideo`): the jitter buffers (packets, loss,
 *   jitter) and the decoder (frames, size, freezes) of what the far end sent, and the size the
 *   encoder is given;
 * - werift: the negotiated codecs, and the RTCP of each transport, where the far end's report
 *   blocks on what we send are read here (werift applies only those in RR packets to its
 *   senders; a far end that also sends puts them in its SRs, so its `remote-inbound-rtp`
 *   stays empty in a two-way call).
 *
 * Every figure is measured; one that cannot be (no report from the far end yet, no packet of
 * that kind) is null, never 0.
 */
import type { RTCDtlsTransport, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCStats, RtcpPacket } from 'werift';
import type { MediaControl } from '../media/ipc.js';
import type { MediaStatus, ReceivedStream } from '../media/types.js';
import type { RtpBridge } from './rtp-bridge.js';

export interface StreamStats {
  /** The negotiated codec: "H264", "VP8", "opus". */
  codec: string | null;
  /** Video only: the picture size (sent: what the encoder is given; received: what the decoder makes). */
  width: number | null;
  height: number | null;
  /** Video only: frames a second over the interval (sent: frames packetized; received: decoded). */
  fps: number | null;
  /** RTP payload bitrate over the interval (what the codec made), kbit/s. */
  bitrateKbps: number | null;
  /** Packets so far (sent: handed to werift on this connection; received: played out by the jitter buffer in this call). */
  packets: number | null;
  /** Packets that never arrived, so far (sent: as the far end's last report says; negative counts as 0). */
  packetsLost: number | null;
  /** Received only: packets that arrived after their play time and were dropped (a stalled box, a delay spike). */
  packetsLate: number | null;
  /** Of the packets due, the share that never arrived (sent: the far end's last report; received: over the interval). */
  lossPercent: number | null;
  /** Interarrival jitter, ms (sent: as the far end's last report says). */
  jitterMs: number | null;
  /**
   * Round-trip time of the connection carrying the stream, ms: from the far end's reports on our
   * SRs (RFC 3550 LSR/DLSR; the median of the interval's, else the last one); on a connection
   * that only receives, or before such a report, from the ICE consent checks (every 5 s).
   */
  rttMs: number | null;
  /** Received video only: gaps between decoded frames longer than max(3 frame intervals, 200 ms), this call. */
  freezes: { count: number; totalMs: number } | null;
}

export interface CallStats {
  /** When this sample was taken (epoch ms). */
  at: number;
  /** What the rates are taken over (ms). */
  intervalMs: number;
  /** A direction is null when no connection of the call carries it (a send-only or receive-only call). */
  video: { sent: StreamStats | null; received: StreamStats | null };
  audio: { sent: StreamStats | null; received: StreamStats | null };
}

/** What the sampler reads of a call's peer (a BoxPeer). */
export interface StatsPeer {
  readonly pc: RTCPeerConnection;
  readonly videoBridge: RtpBridge;
  readonly audioBridge: RtpBridge;
}

export interface CallStatsSamplerOptions<P extends StatsPeer = StatsPeer> {
  /** The call's peers now (one for a direct call; a sending and a receiving one in a conference). */
  peers: () => readonly P[];
  media: Pick<MediaControl, 'status'>;
  /** Default 2000 ms. */
  intervalMs?: number;
  /**
   * Each report block the far end sends about one of our streams, as it arrives: its loss
   * fraction (0..1) and the round trip measured from it (ms; undefined when the block answers no
   * SR we know). The link's quality policy feeds on these.
   */
  onReport?: (peer: P, report: FarReport) => void;
}

export interface FarReport {
  ssrc: number;
  lossFraction: number;
  rttMs: number | undefined;
}

type Kind = 'video' | 'audio';

/** A peer that carries a stream, its werift stats and its transceiver of that kind. */
interface Carrier {
  peer: StatsPeer;
  stats: RTCStats[];
  transceiver: RTCRtpTransceiver;
}

/** What the far end reported about one stream we send, and the round trips measured from it. */
interface FarReports {
  reported: boolean;
  packetsLost: number;
  fractionLost: number;
  jitter: number;
  /** Our SRs seen going out: compact NTP timestamp (the far end's LSR) → when it left (s). */
  srSent: Map<number, number>;
  /** Round trips (ms) measured since the last sample, and the last one ever (and when, epoch ms). */
  rtts: number[];
  lastRtt: { ms: number; at: number } | null;
}

interface PeerReading {
  bytesSent: Record<Kind, number>;
  bytesReceived: Record<Kind, number>;
  framesSent: number;
}

interface Reading {
  atMs: number;
  epochMs: number;
  peers: Map<StatsPeer, PeerReading>;
  media: MediaStatus | null;
}

/**
 * werift keeps when its last SR left in private fields (it needs them for the same sum); they
 * are read, never written. Without them (another werift), sent streams fall back to ICE's RTT.
 */
interface SenderSrClock {
  lastSRtimestamp?: number;
  lastSentSRTimestamp?: number;
}

const RTCP_SR = 200;
const RTCP_RR = 201;
const DEFAULT_INTERVAL_MS = 2000;
/** SRs remembered per stream: a report answers one of the last few (werift sends one every 0.5–1.5 s). */
const SR_MEMORY = 8;

/** "video/H264" → "H264", "audio/OPUS" → "opus": one spelling whatever the far end wrote. */
export function codecName(mimeType: string | undefined): string | null {
  const name = mimeType?.slice(mimeType.indexOf('/') + 1);
  if (!name) return null;
  return name.toLowerCase() === 'opus' ? 'opus' : name.toUpperCase();
}

/** A report block's cumulative loss is a 24-bit signed number (negative after duplicates); werift leaves it unsigned. */
export function signed24(value: number): number {
  return value & 0x800000 ? value - 0x1000000 : value;
}

/** RFC 3550 6.4.1: now − when our SR left − how long the far end held it (DLSR, 1/65536 s), in ms. */
export function roundTripMs(nowS: number, srSentS: number, dlsr: number): number {
  return (nowS - srSentS - dlsr / 65536) * 1000;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A rate a second from two cumulative counts; a counter that went back (a new peer, a new call) counts from zero. */
function perSecond(now: number, before: number | undefined, seconds: number): number {
  return (before === undefined || now < before ? now : now - before) / seconds;
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Samples a call's statistics every `intervalMs` (timer unref'd) and keeps the latest, so a
 * synchronous call summary can include them. start() takes the baseline; the first figures
 * come one interval later. stop() ends the timer and the RTCP subscriptions.
 */
export class CallStatsSampler<P extends StatsPeer = StatsPeer> {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private previous: Reading | null = null;
  private last: CallStats | null = null;
  private busy = false;
  private stopped = false;
  /** Per SSRC we send. */
  private readonly far = new Map<number, FarReports>();
  private readonly watched = new Map<RTCDtlsTransport, () => void>();

  constructor(private readonly opts: CallStatsSamplerOptions<P>) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const off of this.watched.values()) off();
    this.watched.clear();
  }

  /** The figures of the last complete interval; null until one has passed. */
  latest(): CallStats | null {
    return this.last;
  }

  /**
   * Reads everything now and, if there is an earlier reading, makes the figures for the time
   * between the two (what the timer does). Never rejects: a part that cannot be read leaves
   * its figures null.
   */
  async sample(): Promise<CallStats | null> {
    if (this.busy || this.stopped) return this.last;
    this.busy = true;
    try {
      const peers = this.opts.peers();
      for (const peer of peers) this.watchReports(peer);
      const [media, werift] = await Promise.all([
        this.opts.media.status().catch(() => null),
        Promise.all(peers.map((p) => p.pc.getStats().then((r) => [...r.values()], () => [] as RTCStats[]))),
      ]);
      if (this.stopped) return this.last;
      const reading: Reading = {
        atMs: performance.now(),
        epochMs: Date.now(),
        media,
        peers: new Map(peers.map((p) => [p, readBridges(p)])),
      };
      const before = this.previous;
      this.previous = reading;
      if (!before) return this.last;
      this.last = this.figures(peers, werift, before, reading);
      return this.last;
    } catch {
      // A peer closing under us: the next interval starts again from what it can read.
      this.previous = null;
      return this.last;
    } finally {
      this.busy = false;
    }
  }

  private figures(peers: readonly StatsPeer[], werift: RTCStats[][], before: Reading, now: Reading): CallStats {
    const seconds = Math.max(0.001, (now.atMs - before.atMs) / 1000);
    const rtts = new Map(peers.map((peer, i) => [peer, this.roundTrip(peer) ?? iceRttMs(werift[i] ?? [])]));
    const stream = (kind: Kind, direction: 'sent' | 'received'): StreamStats | null => {
      const carriers: Carrier[] = [];
      peers.forEach((peer, i) => {
        const transceiver = transceiverOf(peer, kind);
        if (transceiver && carries(transceiver, direction)) carriers.push({ peer, stats: werift[i] ?? [], transceiver });
      });
      const first = carriers[0];
      if (!first) return null;
      const bytes = carriers.reduce((sum, c) => {
        const was = before.peers.get(c.peer);
        const is = now.peers.get(c.peer)!;
        return direction === 'sent'
          ? sum + perSecond(is.bytesSent[kind], was?.bytesSent[kind], seconds)
          : sum + perSecond(is.bytesReceived[kind], was?.bytesReceived[kind], seconds);
      }, 0);
      const s: StreamStats = {
        codec: null,
        width: null,
        height: null,
        fps: null,
        bitrateKbps: round((bytes * 8) / 1000),
        packets: null,
        packetsLost: null,
        packetsLate: null,
        lossPercent: null,
        jitterMs: null,
        rttMs: rtts.get(first.peer) ?? null,
        freezes: null,
      };
      if (direction === 'received') return received(kind, s, first.stats, before, now, seconds);
      this.sent(kind, s, carriers, before, now, seconds);
      return s;
    };
    return {
      at: now.epochMs,
      intervalMs: Math.round(now.atMs - before.atMs),
      video: { sent: stream('video', 'sent'), received: stream('video', 'received') },
      audio: { sent: stream('audio', 'sent'), received: stream('audio', 'received') },
    };
  }

  private sent(kind: Kind, s: StreamStats, carriers: Carrier[], before: Reading, now: Reading, seconds: number): void {
    const { sender } = carriers[0]!.transceiver;
    s.codec = codecName(sender.codec?.mimeType);
    s.packets = carriers.reduce((sum, c) => sum + bridgeOf(c.peer, kind).counters.sent, 0);
    const far = this.far.get(sender.ssrc);
    if (far?.reported) {
      // Duplicates can make the count negative: then none were lost.
      s.packetsLost = Math.max(0, signed24(far.packetsLost));
      s.lossPercent = round((far.fractionLost / 256) * 100);
      const clockRate = sender.codec?.clockRate;
      s.jitterMs = clockRate ? round((far.jitter / clockRate) * 1000, 2) : null;
    }
    if (kind === 'video') {
      s.width = now.media?.sentVideo?.width ?? null;
      s.height = now.media?.sentVideo?.height ?? null;
      const frames = carriers.reduce((sum, c) => sum + perSecond(now.peers.get(c.peer)!.framesSent, before.peers.get(c.peer)?.framesSent, seconds), 0);
      s.fps = round(frames);
    }
  }

  /** The RTCP round trip of `peer`'s connection over the interval (all its sent streams' reports), else its last one. */
  private roundTrip(peer: StatsPeer): number | null {
    const reports = peer.pc
      .getTransceivers()
      .map((t) => this.far.get(t.sender.ssrc))
      .filter((f): f is FarReports => !!f);
    const interval = median(reports.flatMap((f) => f.rtts));
    for (const f of reports) f.rtts = [];
    const last = reports.reduce<FarReports['lastRtt']>((l, f) => (f.lastRtt && (!l || f.lastRtt.at > l.at) ? f.lastRtt : l), null);
    const ms = interval ?? last?.ms ?? null;
    return ms === null ? null : round(ms, 2);
  }

  /** Reads the far end's report blocks on our streams from every RTCP packet of the peer's transport. */
  private watchReports(peer: P): void {
    for (const transceiver of peer.pc.getTransceivers()) {
      // Set once the transceiver is negotiated; bundled transceivers share one.
      const transport: RTCDtlsTransport | undefined = transceiver.sender.dtlsTransport;
      if (!transport || this.watched.has(transport)) continue;
      const { unSubscribe } = transport.onRtcp.subscribe((packet: RtcpPacket) => this.onRtcp(peer, packet));
      this.watched.set(transport, unSubscribe);
    }
  }

  private onRtcp(peer: P, packet: RtcpPacket): void {
    // Any RTCP from the far end is a moment to note which SR each of our senders sent last.
    const senders = peer.pc.getTransceivers().map((t) => t.sender);
    for (const sender of senders) this.noteSr(sender);
    if (packet.type !== RTCP_SR && packet.type !== RTCP_RR) return;
    const nowS = Date.now() / 1000;
    for (const block of packet.reports) {
      const far = this.far.get(block.ssrc);
      if (!far) continue; // not about a stream we send
      far.reported = true;
      far.packetsLost = block.packetsLost;
      far.fractionLost = block.fractionLost;
      far.jitter = block.jitter;
      const sentS = block.lsr ? far.srSent.get(block.lsr) : undefined;
      const rtt = sentS === undefined ? undefined : roundTripMs(nowS, sentS, block.dlsr);
      const measured = rtt !== undefined && rtt >= 0 ? rtt : undefined;
      if (measured !== undefined) {
        far.rtts.push(measured);
        far.lastRtt = { ms: measured, at: Date.now() };
      }
      this.opts.onReport?.(peer, { ssrc: block.ssrc, lossFraction: block.fractionLost / 256, rttMs: measured });
    }
  }

  private noteSr(sender: RTCRtpSender): void {
    const clock = sender as unknown as SenderSrClock;
    let far = this.far.get(sender.ssrc);
    if (!far) {
      far = { reported: false, packetsLost: 0, fractionLost: 0, jitter: 0, srSent: new Map(), rtts: [], lastRtt: null };
      this.far.set(sender.ssrc, far);
    }
    const { lastSRtimestamp: lsr, lastSentSRTimestamp: sentS } = clock;
    if (typeof lsr !== 'number' || typeof sentS !== 'number' || far.srSent.has(lsr)) return;
    far.srSent.set(lsr, sentS);
    if (far.srSent.size > SR_MEMORY) far.srSent.delete(far.srSent.keys().next().value!);
  }
}

function received(kind: Kind, s: StreamStats, werift: RTCStats[], before: Reading, now: Reading, seconds: number): StreamStats {
  const inbound = werift.find((r) => r.type === 'inbound-rtp' && (r as { kind?: string }).kind === kind) as { codecId?: string } | undefined;
  const codec = inbound?.codecId ? (werift.find((r) => r.id === inbound.codecId) as { mimeType?: string } | undefined) : undefined;
  s.codec = codecName(codec?.mimeType);
  const is: ReceivedStream | undefined = now.media?.received[kind];
  if (!is) return s;
  const was: ReceivedStream | undefined = before.media?.received[kind];
  // The jitter buffer gives up on a packet when its play time comes; one that then arrives is
  // late, not lost (as the far end counts ours: expected − received).
  const missing = (r: ReceivedStream) => Math.max(0, r.packetsLost - r.packetsLate);
  s.packets = is.packets;
  s.packetsLost = missing(is);
  s.packetsLate = is.packetsLate;
  s.jitterMs = is.jitterMs;
  // The counters restart with a new call: then the interval counts from zero.
  const fresh = !was || is.packets < was.packets || is.packetsLost < was.packetsLost;
  const lost = Math.max(0, missing(is) - (fresh ? 0 : missing(was)));
  const due = lost + is.packets - (fresh ? 0 : was.packets);
  s.lossPercent = due > 0 ? round((lost / due) * 100) : null;
  if (kind === 'video') {
    const video = now.media!.received.video;
    const wasFrames = fresh ? undefined : before.media?.received.video.frames;
    s.width = video.width;
    s.height = video.height;
    s.fps = video.frames > 0 ? round(perSecond(video.frames, wasFrames, seconds)) : null;
    s.freezes = { ...video.freezes };
  }
  return s;
}

function readBridges(peer: StatsPeer): PeerReading {
  const v = peer.videoBridge.counters;
  const a = peer.audioBridge.counters;
  return {
    bytesSent: { video: v.bytesSent, audio: a.bytesSent },
    bytesReceived: { video: v.bytesReceived, audio: a.bytesReceived },
    framesSent: v.framesSent,
  };
}

function bridgeOf(peer: StatsPeer, kind: Kind): RtpBridge {
  return kind === 'video' ? peer.videoBridge : peer.audioBridge;
}

function transceiverOf(peer: StatsPeer, kind: Kind): RTCRtpTransceiver | undefined {
  return peer.pc.getTransceivers().find((t) => t.kind === kind);
}

/** Whether the negotiated direction of `t` carries media that way. */
function carries(t: RTCRtpTransceiver, direction: 'sent' | 'received'): boolean {
  const d = t.currentDirection;
  return direction === 'sent' ? d === 'sendrecv' || d === 'sendonly' : d === 'sendrecv' || d === 'recvonly';
}

/** The selected ICE pair's last consent-check round trip (ms). */
function iceRttMs(werift: RTCStats[]): number | null {
  const pair = werift.find((r) => r.type === 'candidate-pair' && (r as { nominated?: boolean }).nominated) as
    | { currentRoundTripTime?: number }
    | undefined;
  return pair?.currentRoundTripTime !== undefined ? round(pair.currentRoundTripTime * 1000, 2) : null;
}
