import { GenericNack, RtcpTransportLayerFeedback, type RTCRtpReceiver, type RTCRtpSender, type RtcpPacket } from 'werift';

/**
 * werift 0.25's NACK handling, made fit for a slow link. Its receiver sends its list of lost
 * packets every 5 ms, each up to 11 times, and its sender retransmits on every request: over a
 * 200 ms round trip one lost packet came back 11 times. At 5% loss on a 1 Mbit/s link the
 * retransmissions filled the link, the bottleneck dropped 1,700 packets a second and the
 * audio with them (measured in test/call-netns.test.ts). libwebrtc's sender resends a packet
 * at most once a round trip; so does ours now, and our receiver asks three times, not eleven.
 */

/** The same packet is retransmitted at most once in this long, or a round trip if longer. */
const MIN_RESEND_INTERVAL_MS = 50;
/** A round trip assumed until one is measured. */
const ASSUMED_RTT_MS = 100;
/** Our receiver's NACK for a packet is sent this many times more (5 ms apart: against a lost NACK). */
const NACK_REPEATS = 2;

/** Drops the NACKed sequence numbers that `sender` retransmitted less than a round trip ago. */
export function limitRetransmissions(sender: RTCRtpSender, rttMs: () => number | undefined): void {
  const resentAt = new Map<number, number>();
  const handle = sender.handleRtcpPacket.bind(sender);
  sender.handleRtcpPacket = (packet: RtcpPacket) => {
    if (!(packet instanceof RtcpTransportLayerFeedback) || !(packet.feedback instanceof GenericNack)) return handle(packet);
    const now = performance.now();
    const interval = Math.max(MIN_RESEND_INTERVAL_MS, rttMs() ?? ASSUMED_RTT_MS);
    const lost = packet.feedback.lost.filter((seq) => {
      const last = resentAt.get(seq);
      if (last !== undefined && now - last < interval) return false;
      resentAt.set(seq, now);
      return true;
    });
    // Sequence numbers wrap: forget what is long past rather than grow without end.
    if (resentAt.size > 4096) for (const [seq, at] of resentAt) if (now - at > 10 * interval) resentAt.delete(seq);
    if (lost.length === 0) return;
    packet.feedback.lost = lost;
    handle(packet);
  };
}

/** Our receiver's NACKs: each lost packet asked for three times in 10 ms, not eleven in 55. */
export function limitNackRepeats(receiver: RTCRtpReceiver): void {
  // `nack` is private in werift's types; retryCount is its public knob.
  const nack = (receiver as unknown as { nack?: { retryCount: number } }).nack;
  if (nack) nack.retryCount = NACK_REPEATS;
}
