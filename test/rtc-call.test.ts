/**
 * The call state machine's bad days, with a real media engine: a malformed offer, a peer that
 * never answers, a hang-up for another call. Each ends with a reason, and nothing is left
 * behind: the RTP ports are free again and the camera is closed.
 */
import t from 'tap';
import { parseSignal } from '../daemon/fleet/signal.js';
import { callManager as manager } from './helpers/calls.js';
import type { EngineHarness } from './helpers/engine.js';
import { bindUdp, closeUdp } from './helpers/ports.js';
import { waitUntil } from './helpers/wait.js';

/** The bridge's ports are free again: binding them works. */
async function portsFree(h: EngineHarness): Promise<boolean> {
  try {
    const sockets = await Promise.all([bindUdp(h.ports.sendVideoPort), bindUdp(h.ports.sendAudioPort)]);
    await Promise.all(sockets.map(closeUdp));
    return true;
  } catch {
    return false;
  }
}

t.test('a malformed offer is rejected with a reason and leaves nothing behind', async (t) => {
  const { h, calls, sent } = await manager(t);
  await calls.onSignal('hall-x', { kind: 'offer', callId: 'c-1', sdp: 'v=0\r\nthis is not an SDP\r\n' });
  t.match(sent, [{ to: 'hall-x', message: { kind: 'reject', callId: 'c-1', reason: 'failed' } }]);
  t.match(calls.summary(), { state: 'idle', lastEnd: { reason: 'failed', error: { code: 'DC_RTC_BAD_SDP' } } });
  t.ok(await portsFree(h), 'the RTP bridge ports are free again');
  t.equal(h.engine.status().sending, false, 'the camera is closed');
});

t.test('a peer that never answers ends the call as no-answer', async (t) => {
  const { h, calls, sent } = await manager(t, { answerTimeoutMs: 1500 });
  const ended = calls.waitFor('ended', undefined, 10_000);
  const summary = await calls.join({ peer: 'hall-ghost' });
  t.match(summary, { state: 'connecting', peer: 'hall-ghost', direction: 'outgoing' });
  t.match(sent[0], { to: 'hall-ghost', message: { kind: 'offer' } });
  t.match((sent[0]!.message as { sdp: string }).sdp, /a=candidate:.* 127\.0\.0\.1 /, 'the offer carries a loopback candidate');
  t.equal(h.engine.status().sending, true, 'capture runs while calling');
  const [end] = await ended;
  t.match(end, { state: 'idle', lastEnd: { reason: 'no-answer' } });
  await waitUntil('capture stops', () => h.engine.status().sending === false);
  t.ok(await portsFree(h), 'the RTP bridge ports are free again');
  await t.rejects(calls.leave(), { code: 'DC_CMD_REFUSED' }, 'no call to leave');
});

t.test("asked before answering: the call rings with the camera closed, OK answers it, no answer or leave declines it", async (t) => {
  // A real offer, from a caller box.
  const caller = await manager(t);
  await caller.calls.join({ peer: 'hall-ask' });
  const offer = caller.sent[0]!.message as { kind: 'offer'; callId: string; sdp: string };
  const { h, calls, sent } = await manager(t, { answer: () => 'ask', ringMs: 60_000 });
  await calls.onSignal('hall-caller', offer);
  t.match(calls.summary(), { state: 'ringing', peer: 'hall-caller', direction: 'incoming' }, 'it rings');
  t.same(sent, [], 'nothing is sent while it rings');
  t.equal(h.engine.status().sending, false, 'the camera stays closed until the hall answers');
  await calls.onSignal('hall-other', { kind: 'offer', callId: 'c-9', sdp: 'v=0\r\n' });
  t.match(sent.at(-1), { to: 'hall-other', message: { kind: 'reject', reason: 'busy' } }, 'a second caller hears busy');
  const answered = await calls.answer();
  t.match(answered, { state: 'connecting' }, 'answered');
  t.match(sent.find((m) => m.message.kind === 'answer'), { to: 'hall-caller', message: { kind: 'answer', callId: offer.callId } }, 'the answer goes to the caller');
  await t.rejects(calls.answer(), { code: 'DC_CMD_REFUSED' }, 'nothing left to answer');
  await calls.leave();

  const quiet = await manager(t, { answer: () => 'ask', ringMs: 300 });
  await quiet.calls.onSignal('hall-caller', { kind: 'offer', callId: 'c-2', sdp: 'v=0\r\n' });
  await waitUntil('nobody answers', () => quiet.calls.summary().state === 'idle', { timeoutMs: 3000 });
  t.match(quiet.calls.summary().lastEnd, { reason: 'no-answer' }, 'unanswered: ended as no-answer');
  t.match(quiet.sent, [{ to: 'hall-caller', message: { kind: 'reject', callId: 'c-2', reason: 'no-answer' } }], 'and the caller is told');
  await quiet.calls.onSignal('hall-caller', { kind: 'offer', callId: 'c-3', sdp: 'v=0\r\n' });
  await quiet.calls.leave();
  t.match(quiet.sent.at(-1), { message: { kind: 'reject', callId: 'c-3', reason: 'declined' } }, 'leaving a ringing call declines it');
  t.match(quiet.calls.summary().lastEnd, { reason: 'rejected' });
});

t.test('signalling for another call, or from another box, changes nothing; busy boxes reject', async (t) => {
  const { calls, sent } = await manager(t);
  await calls.join({ peer: 'hall-b' });
  const callId = calls.summary().callId!;
  await calls.onSignal('hall-b', { kind: 'hangup', callId: 'another-call', reason: 'left' });
  await calls.onSignal('hall-c', { kind: 'hangup', callId, reason: 'left' });
  t.equal(calls.summary().state, 'connecting', 'still calling');
  await calls.onSignal('hall-c', { kind: 'offer', callId: 'c-2', sdp: 'v=0\r\n' });
  t.match(sent.at(-1), { to: 'hall-c', message: { kind: 'reject', callId: 'c-2', reason: 'busy' } }, 'a second caller hears busy');
  await calls.onSignal('hall-b', { kind: 'reject', callId, reason: 'busy' });
  t.match(calls.summary(), { state: 'idle', lastEnd: { reason: 'rejected' } });
});

t.test('signalling topics and bodies are checked', async (t) => {
  const ok = parseSignal('diemcau/hall-a/call/hall-b/offer', Buffer.from(JSON.stringify({ callId: 'c-1', sdp: 'v=0\r\no=- 1 1 IN IP4 0\r\n' })), 'hall-b');
  t.match(ok, { ok: true, from: 'hall-a', message: { kind: 'offer', callId: 'c-1' } });
  t.equal(parseSignal('diemcau/hall-a/call/hall-c/offer', Buffer.from('{}'), 'hall-b'), undefined, 'for another box');
  t.equal(parseSignal('diemcau/hall-a/cmd/ping', Buffer.from('{}'), 'hall-b'), undefined, 'not a call topic');
  t.match(parseSignal('diemcau/hall-a/call/hall-b/dance', Buffer.from('{}'), 'hall-b'), { ok: false, problem: /unknown kind/ });
  t.match(parseSignal('diemcau/hall-a/call/hall-b/offer', Buffer.from('{nope'), 'hall-b'), { ok: false, problem: /not JSON/ });
  t.match(parseSignal('diemcau/hall-a/call/hall-b/answer', Buffer.from('{"callId":"c 1","sdp":5}'), 'hall-b'), {
    ok: false,
    problem: /callId|sdp/,
  });
  t.match(parseSignal('diemcau/hall-a/call/hall-b/hangup', Buffer.from(JSON.stringify({ callId: 'c', reason: 'x'.repeat(65) })), 'hall-b'), {
    ok: false,
  });
});
