/**
 * The setup page's camera and sound checks on a real engine (sim devices): a preview opens the
 * camera and microphone without a call and closes them at its end, shows the camera full
 * screen on the TV, gives JPEGs scaled for a phone and the microphone's level; a recording
 * is played back through the speaker; a call started during a preview keeps its capture.
 */
import t from 'tap';
import { DcError } from '../daemon/errors.js';
import { parseLevelMessage, wavPeakDb, SILENCE_DB } from '../daemon/media/microphone.js';
import { scaledToWidth } from '../daemon/media/engine.js';
import { pipelineState, startEngine } from './helpers/engine.js';
import { parseJpeg } from './helpers/jpeg.js';
import { levelsOver, speakerLevel } from './helpers/sound.js';
import { caught, waitUntil } from './helpers/wait.js';

t.test('level messages and WAV peaks are read right', async (t) => {
  const message =
    'level, endtime=(guint64)100000000, timestamp=(guint64)0, stream-time=(guint64)0, running-time=(guint64)0, duration=(guint64)100000000, rms=(GValueArray)< -9.0315170914022538 >, peak=(GValueArray)< -6.0211300740902418 >, decay=(GValueArray)< -6.0211300740902418 >;';
  t.same(parseLevelMessage(message), { rmsDb: -9, peakDb: -6 }, 'gst-launch -m output of level (GStreamer 1.22)');
  t.same(parseLevelMessage('level, rms=(GValueArray)< -30.5, -20.34 >, peak=(GValueArray)< -12, -700 >;'), { rmsDb: -20.3, peakDb: -12 }, 'two channels: the louder');
  t.same(parseLevelMessage('level, rms=(GValueArray)< -inf >, peak=(GValueArray)< -inf >;'), { rmsDb: SILENCE_DB, peakDb: SILENCE_DB }, 'digital silence');
  t.equal(parseLevelMessage('GstMessageStateChanged, old-state=(GstState)null'), null, 'not a level message');

  const wav = Buffer.alloc(44 + 8);
  wav.write('RIFF', 0, 'latin1');
  wav.write('WAVE', 8, 'latin1');
  wav.write('data', 36, 'latin1');
  wav.writeInt16LE(16384, 44);
  wav.writeInt16LE(-8192, 46);
  t.equal(wavPeakDb(wav), -6, 'half scale: -6 dBFS');
  t.equal(wavPeakDb(Buffer.concat([wav.subarray(0, 44), Buffer.alloc(8)])), SILENCE_DB, 'silence');
  t.same(scaledToWidth({ width: 1280, height: 720 }, 640), { width: 640, height: 360 });
  t.same(scaledToWidth({ width: 640, height: 360 }, 1000), { width: 640, height: 360 }, 'never scaled up');
});

t.test('a preview opens the camera and microphone for a while, without sending', async (t) => {
  const h = await startEngine(t, { send: false });
  await waitUntil('the playout runs', () => pipelineState(h.engine, 'playout') === 'running', { timeoutMs: 5000 });
  t.equal(((await caught(() => h.engine.snapshot('camera'))) as DcError).code, 'DC_MEDIA_NOT_RUNNING', 'idle: no camera picture');
  t.equal(h.engine.microphoneLevel(), null, 'idle: no microphone level');

  const pad = h.engine.pipelineObject('playout')!.getByName('comp')!.getStaticPad('sink_2')!;
  const prop = (name: string) => (pad as unknown as Record<string, number>)[name];
  const corner = [prop('xpos'), prop('ypos'), prop('width'), prop('height')];
  h.engine.preview(3);
  t.match(h.engine.status(), { previewing: true, sending: false }, 'previewing, not sending');
  await waitUntil('the camera runs', () => pipelineState(h.engine, 'camera') === 'running', { timeoutMs: 10_000 });
  let jpeg: Buffer | undefined;
  await waitUntil('a camera picture', () => {
    try {
      jpeg = h.engine.snapshot('camera', { maxWidth: 640 });
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 5000, intervalMs: 100 });
  const info = parseJpeg(jpeg!);
  t.same([info.width, info.height], [640, 360], `a 640×360 JPEG for the phone (${jpeg!.length} bytes)`);
  const started = performance.now();
  for (let i = 0; i < 5; i++) h.engine.snapshot('camera', { maxWidth: 640 });
  t.comment(`a preview snapshot takes ${((performance.now() - started) / 5).toFixed(1)} ms`);

  // The TV shows the camera picture full screen meanwhile.
  t.same([prop('xpos'), prop('ypos'), prop('width'), prop('height'), prop('alpha')], [0, 0, 1280, 720, 1], 'the self-view fills the TV');

  await waitUntil('a microphone level', () => h.engine.microphoneLevel() !== null, { timeoutMs: 5000, intervalMs: 50 });
  const level = h.engine.microphoneLevel()!;
  // The sim microphone: a sine at 0.2 of full scale, RMS 20·log10(0.2/√2) = -17 dBFS.
  t.ok(Math.abs(level.rmsDb - -17) < 1.5, `the sim microphone's sine reads ${level.rmsDb} dBFS RMS (expected -17)`);
  t.ok(Math.abs(level.peakDb - -14) < 1.5, `peak ${level.peakDb} dBFS (expected -14)`);

  h.engine.preview(1);
  t.equal(h.engine.status().previewing, true, 'a second request sets a new end');
  await waitUntil('the preview ends', () => h.engine.status().previewing === false, { timeoutMs: 4000, intervalMs: 50 });
  t.equal(pipelineState(h.engine, 'camera'), 'stopped', 'the camera is closed again');
  t.equal(pipelineState(h.engine, 'microphone'), 'stopped', 'so is the microphone');
  t.equal(h.engine.microphoneLevel(), null, 'no level');
  t.same([prop('xpos'), prop('ypos'), prop('width'), prop('height')], corner, `the self-view is back in its corner (${corner.join(', ')})`);
  for (const bad of [0, -1, 121, Number.NaN]) t.equal(((await caught(() => h.engine.preview(bad))) as DcError).code, 'DC_MEDIA_BAD_REQUEST', `${bad} s is refused`);
});

t.test('a recording is played back through the speaker', async (t) => {
  const h = await startEngine(t, { send: false });
  await waitUntil('the speaker plays', () => speakerLevel(h) !== null, { timeoutMs: 5000 });
  t.equal(((await caught(() => h.engine.playRecording())) as DcError).code, 'DC_MEDIA_BAD_REQUEST', 'nothing recorded yet');
  t.equal((await levelsOver(h, 200)).median, 0, 'silence before');
  const recording = h.engine.recordMicrophone(1);
  t.equal(((await caught(() => h.engine.recordMicrophone(1))) as DcError).code, 'DC_MEDIA_BAD_REQUEST', 'one recording at a time');
  const result = await recording;
  t.equal(result.seconds, 1);
  t.ok(Math.abs(result.peakDb - -14) < 1.5, `the recording holds the sim microphone's sine (peak ${result.peakDb} dBFS)`);
  t.equal(h.engine.status().previewing, true, 'recording opened the microphone for a while');

  h.engine.playRecording();
  // The sine at 0.2 of full scale, at 100% volume: RMS 4634.
  await waitUntil('the recording is heard', () => (speakerLevel(h) ?? 0) > 2000, { timeoutMs: 3000, intervalMs: 10 });
  const heard = await levelsOver(h, 400, 2000);
  t.ok(heard.median > 3500 && heard.median < 5800, `played back at its level (RMS ${heard.median.toFixed(0)}, recorded 4634)`);
  const stopped = await waitUntil('the playback ends by itself', () => speakerLevel(h) === 0, { timeoutMs: 3000, intervalMs: 10 });
  t.ok(stopped < 2000, `it ended ${stopped.toFixed(0)} ms later`);
  for (const bad of [0, 11, 2.5]) t.equal(((await caught(() => h.engine.recordMicrophone(bad))) as DcError).code, 'DC_MEDIA_BAD_REQUEST', `${bad} s is refused`);
});

t.test('a call that starts during a preview keeps the camera when the preview ends', async (t) => {
  const h = await startEngine(t, { send: false });
  await waitUntil('the playout runs', () => pipelineState(h.engine, 'playout') === 'running', { timeoutMs: 5000 });
  h.engine.preview(1);
  await waitUntil('the camera runs', () => pipelineState(h.engine, 'camera') === 'running', { timeoutMs: 10_000 });
  h.engine.setSending(true);
  await waitUntil('the preview ends', () => h.engine.status().previewing === false, { timeoutMs: 4000, intervalMs: 50 });
  t.equal(pipelineState(h.engine, 'camera'), 'running', 'the call keeps the camera');
  t.equal(pipelineState(h.engine, 'microphone'), 'running', 'and the microphone');
  await waitUntil('the playout is back after its call-rate restart', () => pipelineState(h.engine, 'playout') === 'running', { timeoutMs: 5000 });
  const pad = h.engine.pipelineObject('playout')!.getByName('comp')!.getStaticPad('sink_2')!;
  t.ok(((pad as unknown as Record<string, number>).width ?? 1280) < 1280, "in a call the self-view stays in its corner");
  h.engine.setSending(false);
  h.engine.preview(2);
  h.engine.setSending(true);
  h.engine.setSending(false);
  t.equal(pipelineState(h.engine, 'camera') !== 'stopped', true, 'a call ending during a preview leaves the camera to the preview');
});
