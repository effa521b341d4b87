import { createSocket, type Socket } from 'node:dgram';
import type { MediaStreamTrack, RtpPacket } from 'werift';
import type { Logger } from '../log.js';
import { Pacer } from './pacer.js';

/**
 * Where RTP crosses between the media worker (GStreamer) and werift, on loopback UDP: one
 * datagram a packet, no per-packet call through node-gtk (DESIGN: a signal from a streaming
 * thread costs ~0.4 ms a packet and caps throughput; a UDP socket costs nothing).
 */
export interface RtpBridgePorts {
  /** The encoder's udpsink sends here; the bridge listens. 0: this peer only receives (WHEP). */
  fromMedia: number;
  /** The playout pipeline's udpsrc listens here; the bridge sends. */
  toMedia: number;
}

export interface RtpBridgeCounters {
  /** Packets from the encoder handed to werift. */
  sent: number;
  /** Packets from the far end handed to the playout pipeline. */
  received: number;
  /** RTP payload bytes of those packets (headers and padding left out): what the codec made. */
  bytesSent: number;
  bytesReceived: number;
  /** Packets with the marker bit sent: for video, the last packet of each frame. */
  framesSent: number;
}

const LOOPBACK = '127.0.0.1';
/** A pause in the far end's packets this long is logged when they come back (a cut link healing). */
const RESUME_GAP_MS = 1000;

/**
 * One media kind's RTP in both directions. Outgoing: each datagram from GStreamer goes to
 * `track.writeRtp` (werift rewrites SSRC and payload type to the negotiated ones); when the
 * encoder pipeline restarts (camera ↔ slate, a supervisor restart) its SSRC changes, and the
 * track is told so that sequence numbers and timestamps continue for the far end. Incoming:
 * packets from the remote track get the payload type the playout pipeline expects.
 */
export class RtpBridge {
  readonly counters: RtpBridgeCounters = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, framesSent: 0 };
  private readonly socket: Socket;
  private lastSsrc: number | undefined;
  private local: MediaStreamTrack | undefined;
  private lastReceivedAt: number | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Video only: keyframe bursts are spread out so that they do not push audio off a slow link. */
  private readonly pacer: Pacer | undefined;

  private constructor(
    private readonly kind: 'video' | 'audio',
    private readonly ports: RtpBridgePorts,
    private readonly payloadType: number,
    private readonly log: Logger,
    socket: Socket,
  ) {
    this.socket = socket;
    if (kind === 'video') this.pacer = new Pacer((datagram) => this.forward(datagram));
  }

  /** Binds `fromMedia` on loopback; rejects (EADDRINUSE) if something else holds it. */
  static async open(kind: 'video' | 'audio', ports: RtpBridgePorts, payloadType: number, log: Logger): Promise<RtpBridge> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(ports.fromMedia, LOOPBACK, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const bridge = new RtpBridge(kind, ports, payloadType, log, socket);
    socket.on('error', (e) => log.warn({ event: 'rtc.bridge_error', kind, err: e.message }, 'rtp bridge socket error'));
    return bridge;
  }

  /** From now on, RTP from the encoder goes to `local`. */
  sendTo(local: MediaStreamTrack): void {
    this.local = local;
    this.socket.removeAllListeners('message');
    this.socket.on('message', (datagram) => {
      if (datagram.length < 12) return;
      this.counters.sent++;
      this.counters.bytesSent += rtpPayloadLength(datagram);
      if (datagram[1]! & 0x80) this.counters.framesSent++;
      if (this.pacer) this.pacer.push(datagram);
      else this.forward(datagram);
    });
  }

  /** The encoder's bitrate now: video is paced a little above it. */
  setTargetKbps(kbps: number): void {
    this.pacer?.setTargetKbps(kbps);
  }

  private forward(datagram: Buffer): void {
    const ssrc = datagram.readUInt32BE(8);
    if (this.lastSsrc !== undefined && ssrc !== this.lastSsrc) {
      // A new encoder pipeline: werift keeps sequence and timestamp continuous for the far end.
      this.local?.notifySourceChanged({ sequenceNumber: datagram.readUInt16BE(2), timestamp: datagram.readUInt32BE(4) });
      this.log.debug({ event: 'rtc.source_changed', kind: this.kind }, 'rtp source changed');
    }
    this.lastSsrc = ssrc;
    this.local?.writeRtp(datagram);
  }

  /** From now on, RTP from the far end's `remote` track goes to the playout pipeline. */
  receiveFrom(remote: MediaStreamTrack): void {
    this.unsubscribe?.();
    const { unSubscribe } = remote.onReceiveRtp.subscribe((rtp: RtpPacket) => {
      // The payload type is the low 7 bits of the second byte (the marker bit stays): set it in
      // the serialized packet instead of cloning the packet, on this per-packet path.
      const datagram = rtp.serialize();
      datagram[1] = (datagram[1]! & 0x80) | this.payloadType;
      const now = performance.now();
      if (this.lastReceivedAt !== undefined && now - this.lastReceivedAt > RESUME_GAP_MS) {
        this.log.info({ event: 'rtc.media_resumed', kind: this.kind, gapMs: Math.round(now - this.lastReceivedAt) }, `${this.kind} arriving again`);
      }
      this.lastReceivedAt = now;
      this.counters.received++;
      this.counters.bytesReceived += rtp.payload.length;
      this.socket.send(datagram, this.ports.toMedia, LOOPBACK);
    });
    this.unsubscribe = unSubscribe;
  }

  close(): void {
    this.pacer?.close();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.socket.removeAllListeners('message');
    this.socket.close();
  }
}

/** The payload length of a serialized RTP packet (RFC 3550 5.1: CSRCs, extension, padding off); 0 if malformed. */
export function rtpPayloadLength(datagram: Buffer): number {
  const first = datagram[0] ?? 0;
  let header = 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    if (datagram.length < header + 4) return 0;
    header += 4 + 4 * datagram.readUInt16BE(header + 2);
  }
  const padding = first & 0x20 ? (datagram[datagram.length - 1] ?? 0) : 0;
  return Math.max(0, datagram.length - header - padding);
}
