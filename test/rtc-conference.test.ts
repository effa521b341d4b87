/**
 * The box joins a conference server: it publishes with WHIP and watches with WHEP, against a
 * real HTTP server whose WebRTC side is GStreamer webrtcbin (test/helpers/whip-server.ts).
 */
import t from 'tap';
import { callManager } from './helpers/calls.js';
import { startWhipServer } from './helpers/whip-server.js';
import { waitUntil } from './helpers/wait.js';

const TOKEN = 'xa-son-thuy-2026';

t.test('WHIP publish and WHEP play: the server decodes the box, the box decodes the server, leave deletes both', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN, iceServers: [] });
  const { h, calls } = await callManager(t);
  const joined = calls.waitFor('joined', undefined, 30_000);
  const started = await calls.join({ whip: `${server.url}/whip/hop-xa`, whep: `${server.url}/whep/hop-xa`, token: TOKEN });
  t.match(started, { state: 'connecting', kind: 'conference', peer: new URL(server.url).host });
  await joined;
  t.equal(calls.summary().state, 'in-call', 'both links connected');

  const [publish, play] = [server.sessions().find((s) => s.kind === 'whip')!, server.sessions().find((s) => s.kind === 'whep')!];
  t.ok(publish && play, 'one WHIP and one WHEP session on the server');
  for (const r of server.requests.filter((x) => x.method === 'POST')) t.equal(r.headers.authorization, `Bearer ${TOKEN}`, 'the token was sent');
  await waitUntil(
    'the server decodes the box',
    () => (publish.peer.lastStats()?.video.frames ?? 0) > 30 && (publish.peer.lastStats()?.audio.buffers ?? 0) > 50,
    { timeoutMs: 20_000 },
    () => publish.peer.lastStats(),
  );
  t.match(publish.peer.lastStats()!.video, { width: 640, height: 360 }, 'the WHIP session decodes the box’s 640×360');
  // Counted on the playout that runs now: sending (the camera on) restarted it at the call's frame rate.
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil('the box decodes the WHEP stream', () => decoded.count() > 30, { timeoutMs: 20_000 }, () => ({ packets: calls.summary().packets, server: play.peer.lastStats()?.sent }));
  t.ok(decoded.count() > 30, `the box decoded ${decoded.count()} frames played from the server`);

  const left = await calls.leave();
  t.match(left, { state: 'idle', lastEnd: { reason: 'left' } });
  t.ok(publish.deleted && play.deleted, 'DELETE ended both sessions on the server');
  t.equal(h.engine.status().sending, false, 'the camera is closed again');
});

t.test('a refused token and a server error end the join with a clear reason', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN, iceServers: [] });
  const { h, calls } = await callManager(t);
  await t.rejects(calls.join({ whip: `${server.url}/whip/hop-xa`, token: 'wrong' }), { code: 'DC_RTC_SERVER', message: /access token was refused/ });
  t.match(calls.summary(), { state: 'idle', lastEnd: { reason: 'failed', error: { code: 'DC_RTC_SERVER' } } });
  server.failNext(503);
  await t.rejects(calls.join({ whip: `${server.url}/whip/hop-xa`, token: TOKEN }), { message: /busy/ });
  t.equal(server.sessions().length, 0, 'no session was left on the server');
  t.equal(h.engine.status().sending, false, 'the camera is closed');
});

t.test('the server side of the played stream dies: ICE restart refused (422), a new session, back in the call', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN, iceServers: [] });
  const { h, calls } = await callManager(t);
  const joined = calls.waitFor('joined', undefined, 30_000);
  await calls.join({ whip: `${server.url}/whip/hop-xa`, whep: `${server.url}/whep/hop-xa`, token: TOKEN });
  await joined;
  const play = server.sessions().find((s) => s.kind === 'whep')!;
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil('the box decodes the WHEP stream', () => decoded.count() > 10, { timeoutMs: 20_000 });

  // The server's WebRTC peer of the played stream is gone; its HTTP side still answers.
  process.kill(play.peer.pid, 'SIGKILL');
  await waitUntil('the call notices', () => calls.summary().state === 'reconnecting', { timeoutMs: 10_000 });
  await waitUntil('back in the call', () => calls.summary().state === 'in-call', { timeoutMs: 45_000 }, () => ({
    call: calls.summary().state,
    requests: server.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
  }));

  const patch = server.requests.find((r) => r.method === 'PATCH' && r.path === play.location);
  t.ok(patch, 'the box asked the server to restart ICE by PATCH');
  t.match(patch, { headers: { 'if-match': '"*"', 'content-type': 'application/trickle-ice-sdpfrag' }, body: /a=ice-ufrag:/ }, 'with new credentials, If-Match "*"');
  t.ok(patch && [404, 422].includes(patch.status), `the server could not restart it (${patch?.status})`);
  t.ok(server.requests.some((r) => r.method === 'DELETE' && r.path === play.location), 'the old session was deleted');
  const plays = server.sessions().filter((s) => s.kind === 'whep');
  t.equal(plays.length, 2, 'a new WHEP session was made');
  t.equal(server.requests.filter((r) => r.method === 'POST').at(-1)?.headers.authorization, `Bearer ${TOKEN}`, 'with the token');
  t.equal(server.sessions().filter((s) => s.kind === 'whip').length, 1, 'the publishing session was left alone');
  const before = decoded.count();
  await waitUntil('the box decodes the new session', () => decoded.count() > before + 30, { timeoutMs: 20_000 });
  t.ok(decoded.count() > before + 30, `${decoded.count() - before} frames decoded from the new session`);
  await calls.leave();
  t.ok(plays[1]!.deleted, 'leave deleted the new session');
});
