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
});
