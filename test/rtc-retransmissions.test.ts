/**
 * werift's NACK handling tamed (retransmissions.ts): a packet NACKed again within a round trip
 * is not retransmitted again; other RTCP passes untouched; our receiver repeats its NACKs
 * three times, not eleven.
 */
import t, { type Test } from 'tap';
import { GenericNack, PictureLossIndication, RTCPeerConnection, RtcpPayloadSpecificFeedback, RtcpTransportLayerFeedback, type RTCRtpSender, type RtcpPacket } from 'werift';
import { limitNackRepeats, limitRetransmissions } from '../daemon/rtc/retransmissions.js';
import { delay } from './helpers/wait.js';

const nack = (...lost: number[]) => new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 2, lost }) });

/** A real peer connection's video sender whose own RTCP handling records what reaches it. */
function guardedSender(t: Test, rttMs: () => number | undefined) {
  const pc = new RTCPeerConnection();
  t.teardown(() => pc.close());
  const { sender } = pc.addTransceiver('video', { direction: 'sendonly' });
  const reached: RtcpPacket[] = [];
  (sender as RTCRtpSender).handleRtcpPacket = (p: RtcpPacket) => void reached.push(p);
  limitRetransmissions(sender, rttMs);
  const lostReached = () => reached.flatMap((p) => (p instanceof RtcpTransportLayerFeedback && p.feedback instanceof GenericNack ? p.feedback.lost : []));
  return { sender, reached, lostReached };
}

t.test('a packet NACKed again within a round trip is retransmitted once', async (t) => {
  const { sender, lostReached } = guardedSender(t, () => 120);
  sender.handleRtcpPacket(nack(10, 11));
  for (let i = 0; i < 10; i++) sender.handleRtcpPacket(nack(10, 11)); // werift's receiver: every 5 ms
  sender.handleRtcpPacket(nack(11, 12));
  t.same(lostReached(), [10, 11, 12], 'each lost packet reaches the sender once');
  await delay(150);
  sender.handleRtcpPacket(nack(10));
  t.same(lostReached(), [10, 11, 12, 10], 'asked again after a round trip (its retransmission was lost too), it is resent');
});

t.test('without a measured round trip, 100 ms is assumed; never less than 50 ms', async (t) => {
  const unknown = guardedSender(t, () => undefined);
  unknown.sender.handleRtcpPacket(nack(1));
  await delay(70);
  unknown.sender.handleRtcpPacket(nack(1));
  t.same(unknown.lostReached(), [1], 'not resent 70 ms later with no RTT known');
  const short = guardedSender(t, () => 2);
  short.sender.handleRtcpPacket(nack(1));
  await delay(10);
  short.sender.handleRtcpPacket(nack(1));
  t.same(short.lostReached(), [1], 'not resent 10 ms later on a 2 ms loopback round trip');
});

t.test('other RTCP passes untouched', async (t) => {
  const { sender, reached } = guardedSender(t, () => 100);
  const pli = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: 2 }) });
  sender.handleRtcpPacket(pli);
  sender.handleRtcpPacket(pli);
  t.equal(reached.length, 2, 'both keyframe requests reach the sender');
  t.equal(reached[0], pli, 'as they came');
});

t.test('our receiver repeats a NACK three times, not eleven', async (t) => {
  const pc = new RTCPeerConnection();
  t.teardown(() => pc.close());
  const { receiver } = pc.addTransceiver('video', { direction: 'recvonly' });
  const nackHandler = (receiver as unknown as { nack: { retryCount: number } }).nack;
  t.equal(nackHandler.retryCount, 10, "werift's own setting, as found");
  limitNackRepeats(receiver);
  t.equal(nackHandler.retryCount, 2, 'two repeats after the first request');
});
