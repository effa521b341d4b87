/**
 * Every pipeline is supervised: an error or an unexpected EOS restarts that pipeline alone
 * (after restart.initialDelayMs), the others keep running, and nothing throws out of the engine.
 */
import t, { type Test } from 'tap';
import { Gst } from '../daemon/media/gst.js';
import type { PipelineStatus } from '../daemon/media/types.js';
import { startEngine, type EngineHarness } from './helpers/engine.js';
import { waitUntil } from './helpers/wait.js';

const restartsOf = (h: EngineHarness) => Object.fromEntries(h.engine.status().pipelines.map((p) => [p.name, p.restarts]));

/** Records every state the named supervisor goes through from now on. */
function recordStates(h: EngineHarness, name: string): PipelineStatus[] {
  const seen: PipelineStatus[] = [];
  h.engine.supervisor(name).on('state', (s) => seen.push(s));
  return seen;
}

async function decodes(t: Test, h: EngineHarness, what: string, frames = 30): Promise<void> {
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil(what, () => decoded.count() > frames, { timeoutMs: 10_000 }, () => decoded.count());
  t.ok(decoded.count() > frames, `${what} (${decoded.count()} frames)`);
}

t.test('a fault in video-send restarts it once, and frames decode again', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await decodes(t, h, 'frames decode before the fault');
  const states = recordStates(h, 'video-send');
  const running = h.engine.supervisor('video-send').waitFor('state', (s) => s.state === 'running', 10_000);
  const fault = h.engine.supervisor('video-send').waitFor('fault', () => true, 5000);
  const old = h.pipeline('video-send');

  t.doesNotThrow(() => h.engine.injectFault('video-send'), 'injectFault does not throw');
  const [error] = await fault;
  t.equal(error.code, 'DC_MEDIA_PIPELINE', 'the fault is reported as DC_MEDIA_PIPELINE');
  t.match(error.message, /injected fault/, 'carrying the element error message');
  const [status] = await running;
  t.equal(status.restarts, 1, 'restarts === 1');
  t.same(
    states.map((s) => s.state),
    ['restarting', 'running'],
    'the supervisor went restarting → running',
  );
  t.not(h.pipeline('video-send'), old, 'a new pipeline object runs');
  t.same(restartsOf(h), { playout: 0, camera: 0, slate: 0, microphone: 0, 'video-send': 1, 'audio-send': 0 }, 'no other pipeline restarted');

  // The probe on the playout decoder survives: playout was never touched.
  await decodes(t, h, 'frames decode again after the restart');
});

t.test('a fault in playout restarts it, and decoded frames keep growing', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await decodes(t, h, 'frames decode before the fault');
  // The probe must go before playout is set to NULL by the restart.
  await h.removeProbes();
  const running = h.engine.supervisor('playout').waitFor('state', (s) => s.state === 'running', 10_000);
  t.doesNotThrow(() => h.engine.injectFault('playout'), 'injectFault does not throw');
  const [status] = await running;
  t.equal(status.restarts, 1, 'restarts === 1');
  t.equal(h.engine.status().pipelines.find((p) => p.name === 'playout')?.lastError?.code, 'DC_MEDIA_PIPELINE', 'lastError is kept');
  t.same(restartsOf(h), { playout: 1, camera: 0, slate: 0, microphone: 0, 'video-send': 0, 'audio-send': 0 }, 'no other pipeline restarted');
  await decodes(t, h, 'the new playout decodes frames');
  const speaker = h.count('playout', 'speaker', 'sink');
  await waitUntil('audio plays again', () => speaker.count() > 20, { timeoutMs: 10_000 });
  t.ok(speaker.count() > 20, 'audio reaches the new speaker sink');
});

t.test('an injected fault never throws out of the engine', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await waitUntil('all pipelines run', () => h.engine.status().pipelines.every((p) => p.state === 'running' || p.name === 'slate'), { timeoutMs: 10_000 });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  t.teardown(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  const names = ['camera', 'microphone', 'audio-send', 'video-send'];
  const back = names.map((name) => h.engine.supervisor(name).waitFor('state', (s) => s.state === 'running', 10_000));
  for (const name of names) t.doesNotThrow(() => h.engine.injectFault(name), `injectFault('${name}') does not throw`);
  await Promise.all(back);
  t.same(uncaught, [], 'no exception escaped');
  for (const name of names) t.equal(h.engine.supervisor(name).snapshot.restarts, 1, `${name} restarted once`);
  t.equal(h.engine.status().videoSource, 'camera', 'the camera is the source again');
  await decodes(t, h, 'frames still decode');
});

t.test('EOS from the camera restarts it (the slate is started meanwhile)', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  const states = recordStates(h, 'camera');
  const slateStates = recordStates(h, 'slate');
  const fault = h.engine.supervisor('camera').waitFor('fault', () => true, 5000);
  const running = h.engine.supervisor('camera').waitFor('state', (s) => s.state === 'running', 10_000);

  t.ok(h.pipeline('camera').sendEvent(Gst.Event.newEos()), 'the camera pipeline accepted the EOS event');
  const [error] = await fault;
  t.match(error.message, /EOS/, 'the supervisor saw the EOS');
  const [status] = await running;
  t.equal(status.restarts, 1, 'the camera restarted once');
  t.same(states.map((s) => s.state), ['restarting', 'running'], 'camera: restarting → running');
  t.comment(`slate: ${slateStates.map((s) => s.state).join(' → ')}`);
  // With a 200 ms restart delay the camera is often back before the slate reaches PLAYING.
  t.ok(slateStates.length > 0 && slateStates[0]!.state !== 'stopped', 'the slate was started when the camera failed');
  await waitUntil('the camera is the source again', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  await waitUntil('the slate stops again', () => h.engine.supervisor('slate').snapshot.state === 'stopped', { timeoutMs: 5000 });
  t.equal(h.engine.supervisor('slate').snapshot.state, 'stopped', 'the slate stopped once the camera was back');
  await decodes(t, h, 'frames decode after the camera restart');
});

t.test('injectFault on a pipeline that is not running is refused with DC_MEDIA_NOT_RUNNING', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  t.throws(() => h.engine.injectFault('slate'), { code: 'DC_MEDIA_NOT_RUNNING' }, 'the slate is stopped');
  t.throws(() => h.engine.injectFault('nosuchpipeline'), { code: 'DC_MEDIA_NOT_RUNNING' }, 'an unknown pipeline');
});
