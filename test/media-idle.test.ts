/**
 * An idle box (no call): the screen lives at a low frame rate, the camera and microphone are
 * closed. Sending opens them and brings the screen to the call's frame rate; a playout restart
 * during a call re-binds the echo canceller to the new echo probe.
 */
import t from 'tap';
import { pipelineState, startEngine } from './helpers/engine.js';
import { delay, waitUntil } from './helpers/wait.js';
import type { MediaEngine } from '../daemon/media/engine.js';

/** Frames per second the screen sink renders, measured over `ms`. */
async function screenFps(engine: MediaEngine, ms = 2000): Promise<number> {
  const before = engine.status().rendered.videoFrames;
  const start = performance.now();
  await delay(ms);
  return ((engine.status().rendered.videoFrames - before) * 1000) / (performance.now() - start);
}

t.test('idle: screen at 5 fps, camera and microphone closed; sending: 30 fps, camera open', async (t) => {
  const h = await startEngine(t, { send: false, video: { encoders: ['x264enc'] } });
  await waitUntil('the screen runs', () => pipelineState(h.engine, 'playout') === 'running');
  t.equal(h.engine.status().sending, false, 'not sending');
  for (const name of ['camera', 'microphone', 'video-send', 'audio-send', 'slate']) {
    t.equal(pipelineState(h.engine, name), 'stopped', `${name} is stopped while idle`);
  }
  const idle = await screenFps(h.engine);
  t.ok(idle > 3 && idle < 7, `the idle screen draws about 5 frames a second (${idle.toFixed(1)})`);

  h.engine.setSending(true);
  await waitUntil('the camera is sent', () => h.engine.status().videoSource === 'camera', { timeoutMs: 10_000 });
  await waitUntil('the screen runs again', () => pipelineState(h.engine, 'playout') === 'running');
  const inCall = await screenFps(h.engine);
  t.ok(inCall > 25, `sending, the screen draws the call's 30 frames a second (${inCall.toFixed(1)})`);

  h.engine.setSending(false);
  await waitUntil('the camera closes', () => pipelineState(h.engine, 'camera') === 'stopped');
  t.equal(h.engine.status().sending, false, 'not sending again');
});

t.test('a playout restart during a call restarts the audio sender on the new echo probe', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] }, restart: { initialDelayMs: 200 } });
  await waitUntil('all run', () => pipelineState(h.engine, 'audio-send') === 'running' && pipelineState(h.engine, 'playout') === 'running');
  const states: string[] = [];
  h.engine.supervisor('audio-send').on('state', (s) => states.push(s.state));
  h.engine.injectFault('playout');
  await waitUntil('audio-send was restarted', () => states.includes('stopped') && pipelineState(h.engine, 'audio-send') === 'running', { timeoutMs: 10_000 });
  t.same(states.slice(0, 2), ['stopped', 'starting'], 'the audio sender went stopped → starting after the playout came back');
  // Bound to the new probe, it must not be restarted again.
  const settled = states.length;
  await delay(1000);
  t.equal(states.length, settled, 'and then stays put');
  t.equal(pipelineState(h.engine, 'audio-send'), 'running');
});
