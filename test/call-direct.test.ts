/**
 * A direct call between two built daemons (sim profile, each with its media worker), started
 * from the fleet console: offer and answer cross the real broker under each box's prefix,
 * media crosses werift ↔ werift on 127.0.0.1, and both boxes report the call in their state
 * and events; leaving ends it on both sides with a reason.
 */
import t from 'tap';
import { consoleClient, startFleetBroker, startSimBox, type ConsoleClient } from './helpers/fleet.js';
import { waitUntil } from './helpers/wait.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const stateOf = (c: ConsoleClient, id: string) => c.lastOn(`diemcau/${id}/state`)?.json as Json | undefined;
const events = (c: ConsoleClient, id: string, type: string) =>
  c.seen.filter((m) => m.topic === `diemcau/${id}/events` && (m.json as Json)?.type === type).map((m) => m.json as Json);

t.test('join: two boxes call each other through the broker, and leave ends it on both sides', async (t) => {
  const broker = await startFleetBroker(t, ['hall-a', 'hall-b']);
  const console = await consoleClient(t, broker);
  const boxes = await Promise.all([startSimBox(t, broker, 'hall-a'), startSimBox(t, broker, 'hall-b')]);
  await waitUntil('both online', () => stateOf(console, 'hall-a')?.call?.available === true && stateOf(console, 'hall-b')?.call?.available === true, {
    timeoutMs: 30_000,
  });

  const joined = await console.command('hall-a', 'join', { peer: 'hall-b' }, 20_000);
  t.match(joined, { ok: true, result: { state: 'connecting', peer: 'hall-b', direction: 'outgoing' } });
  await waitUntil(
    'both boxes in the call',
    () => stateOf(console, 'hall-a')?.call?.state === 'in-call' && stateOf(console, 'hall-b')?.call?.state === 'in-call',
    { timeoutMs: 20_000 },
    () => [stateOf(console, 'hall-a')?.call, stateOf(console, 'hall-b')?.call],
  );
  t.match(stateOf(console, 'hall-b')?.call, { peer: 'hall-a', direction: 'incoming' }, 'the callee answered by itself');
  t.match(stateOf(console, 'hall-a')?.media, { sending: true }, 'the caller captures and sends');
  // Each hall's TV is woken and switched to the box (the sim profile's simulated TV), and the
  // status light shows the meeting.
  for (const [i, id] of (['hall-a', 'hall-b'] as const).entries()) {
    await boxes[i]!.waitForLog(`${id} wakes its TV`, (r) => r.event === 'hardware.tv_wake' && r.why === 'meeting');
    await waitUntil(`${id}'s light shows the meeting`, () => stateOf(console, id)?.display?.light === 'in-meeting');
    t.match(stateOf(console, id)?.display, { available: true, control: 'simulated', light: 'in-meeting' }, `${id}: TV woken, light in meeting`);
  }

  // Media really flows both ways: the bridges count RTP from the far end.
  const packets = async (id: string) => ((await console.command(id, 'diagnostics', { logLines: 0 })).result as Json).call?.packets as Json;
  let seen: [Json | undefined, Json | undefined] = [undefined, undefined];
  await waitUntil(
    'video and audio arrive at both boxes',
    async () => {
      seen = await Promise.all([packets('hall-a'), packets('hall-b')]);
      return seen.every((p) => p?.videoReceived > 100 && p?.audioReceived > 50);
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  );
  for (const [id, p] of [['hall-a', seen[0]], ['hall-b', seen[1]]] as const) {
    t.ok(p?.videoReceived > 100, `${id} received ${p?.videoReceived} video packets from the far end`);
    t.ok(p?.audioReceived > 50, `${id} received ${p?.audioReceived} audio packets from the far end`);
  }
  await waitUntil('call-joined events', () => events(console, 'hall-a', 'call-joined').length > 0 && events(console, 'hall-b', 'call-joined').length > 0);

  // The hall's speak button (simulated) raises a hand the host sees.
  const callId = (joined.result as Json).callId as string;
  t.match(await console.command('hall-a', 'press', { button: 'speak' }), { ok: true, result: { pressed: 'speak' } });
  await waitUntil('a hand-raised event', () => events(console, 'hall-a', 'hand-raised').length > 0);
  t.match(events(console, 'hall-a', 'hand-raised')[0], { callId }, 'the host sees hall-a ask for the floor, in this call');
  // The host gives hall-a the floor: both boxes know who speaks; hall-a's speak button now mutes and unmutes.
  for (const id of ['hall-a', 'hall-b']) {
    t.match(await console.command(id, 'floor', { holder: 'hall-a', name: 'Thôn A' }), { ok: true, result: { floor: { holder: 'hall-a', name: 'Thôn A' }, here: id === 'hall-a' } });
  }
  await waitUntil('the state says who holds the floor', () => stateOf(console, 'hall-b')?.call?.floor?.holder === 'hall-a');
  t.match(await console.command('hall-a', 'press', { button: 'speak' }), { ok: true });
  await waitUntil('holding the floor, speak mutes', () => stateOf(console, 'hall-a')?.media?.audioMuted === true);
  t.match(await console.command('hall-a', 'press', { button: 'speak' }), { ok: true });
  await waitUntil('and unmutes', () => stateOf(console, 'hall-a')?.media?.audioMuted === false);
  t.equal(events(console, 'hall-a', 'hand-raised').length, 1, 'no more raised hands while holding the floor');
  t.match(await console.command('hall-a', 'floor', { holder: '' }), { ok: true, result: { floor: null } }, 'the floor taken back');

  // A second call while in one is refused with a reason.
  t.match(await console.command('hall-a', 'join', { peer: 'hall-b' }), { ok: false, error: { code: 'DC_CMD_REFUSED' } });
  // Reboot is refused during the call unless forced.
  t.match(await console.command('hall-b', 'reboot'), { ok: false, error: { code: 'DC_CMD_REFUSED' } });

  t.match(await console.command('hall-a', 'leave'), { ok: true, result: { state: 'idle', lastEnd: { reason: 'left' } } });
  await waitUntil('the callee hears the hang-up', () => stateOf(console, 'hall-b')?.call?.state === 'idle', { timeoutMs: 10_000 });
  t.match(stateOf(console, 'hall-b')?.call?.lastEnd, { reason: 'remote-left' });
  await waitUntil('call-ended events', () => events(console, 'hall-b', 'call-ended').length > 0);
  t.match(events(console, 'hall-b', 'call-ended')[0], { peer: 'hall-a', reason: 'remote-left' });
  await waitUntil('the caller stops sending', () => stateOf(console, 'hall-a')?.media?.sending === false, { timeoutMs: 10_000 });
  t.match(await console.command('hall-a', 'leave'), { ok: false, error: { code: 'DC_CMD_REFUSED' } }, 'nothing to leave');
  t.equal(stateOf(console, 'hall-b')?.call?.floor, null, 'the floor ends with the meeting');
  t.match(await console.command('hall-b', 'floor', { holder: 'hall-b' }), { ok: false, error: { code: 'DC_CMD_REFUSED' } }, 'no floor outside a meeting');
  // A long press of speak (2 s) makes the box say who it is on the TV.
  t.match(await console.command('hall-b', 'press', { button: 'speak', seconds: 2.5 }), { ok: true });
  await boxes[1]!.waitForLog('the identify screen', (r) => r.event === 'screen.shown' && r.screen === 'identify', 10_000);

  // Asked before answering (changed live, as the setup page would): the call rings on hall-b's
  // TV, with its camera closed, until OK on the TV remote answers it.
  const { revision } = (await console.command('hall-b', 'config/get')).result as Json;
  t.match(await console.command('hall-b', 'config/set', { revision, patch: { calls: { answer: 'ask' } } }), { ok: true });
  t.match(await console.command('hall-a', 'join', { peer: 'hall-b' }, 20_000), { ok: true });
  await waitUntil('hall-b rings', () => stateOf(console, 'hall-b')?.call?.state === 'ringing', { timeoutMs: 10_000 });
  await boxes[1]!.waitForLog('the ringing screen', (r) => r.event === 'screen.shown' && r.screen === 'ringing', 10_000);
  t.equal(stateOf(console, 'hall-b')?.media?.sending, false, 'the camera is closed while it rings');
  t.match(await console.command('hall-b', 'remote', { key: 'select' }), { ok: true, result: { forwarded: true } }, 'OK on the remote');
  await waitUntil(
    'answered: both in the call',
    () => stateOf(console, 'hall-a')?.call?.state === 'in-call' && stateOf(console, 'hall-b')?.call?.state === 'in-call',
    { timeoutMs: 20_000 },
  );
  t.match(await console.command('hall-b', 'leave'), { ok: true, result: { state: 'idle' } });
});
