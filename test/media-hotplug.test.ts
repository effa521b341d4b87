/**
 * A USB camera pulled out mid-meeting: the far end gets the "no camera" slate without a gap in
 * the stream, snapshots of the camera are refused, and plugging it back in restores the camera
 * by itself. Runs as a loopback, so "the far end" is this engine's own screen.
 */
import t from 'tap';
import { DcError } from '../daemon/errors.js';
import { pipelineState, startEngine } from './helpers/engine.js';
import { grayFrame, lastSample, meanLuma, meanRgb, rgbFrame } from './helpers/pictures.js';
import { caught, waitUntil } from './helpers/wait.js';

t.test('unplugging the camera sends the slate; plugging it back restores the camera', async (t) => {
  // A white camera against the dark-blue slate: the far end can tell them apart.
  const h = await startEngine(t, { pattern: 'white', video: { encoders: ['x264enc'] } });
  const camera = h.devices.list('camera')[0]!;
  t.equal(camera.id, 'sim:camera', 'the simulated camera is plugged in');
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });

  const decoded = h.count('playout', 'vdec', 'src');
  const screenSink = () => h.pipeline('playout').getByName('screen');
  // The middle of the screen shows the decoded far-end picture (the self-view is bottom right).
  const middle = { x: 40, y: 20, width: 160, height: 90 };
  const centreLuma = () => {
    const s = lastSample(screenSink());
    return s ? meanLuma(grayFrame(s, 320, 180), middle) : NaN;
  };
  const centreRgb = (): [number, number, number] => {
    const s = lastSample(screenSink());
    return s ? meanRgb(rgbFrame(s, 320, 180), middle) : [NaN, NaN, NaN];
  };
  let luma = NaN;
  await waitUntil('the far end shows the white camera', () => (luma = centreLuma()) > 200, { timeoutMs: 10_000 }, () => luma);
  const cameraLuma = luma;
  const cameraRgb = centreRgb();

  // --- unplug -----------------------------------------------------------------------------
  const lost = h.engine.waitFor('camera-lost', () => true, 2000);
  h.devices.unplug('sim:camera');
  const [lostDevice] = await lost;
  t.equal(lostDevice.id, 'sim:camera', 'camera-lost names the camera');
  t.equal(h.engine.status().videoSource, 'no-camera', 'videoSource is "no-camera"');
  t.equal(h.engine.status().camera, null, 'status has no camera');
  t.equal(pipelineState(h.engine, 'camera'), 'stopped', 'the camera pipeline is stopped');
  await waitUntil('the slate runs', () => pipelineState(h.engine, 'slate') === 'running', { timeoutMs: 5000 });
  t.equal(pipelineState(h.engine, 'slate'), 'running', 'the slate pipeline is running');

  const e = await caught(() => h.engine.snapshot('camera'));
  t.type(e, DcError, 'snapshot("camera") is refused');
  t.equal((e as DcError).code, 'DC_MEDIA_NOT_RUNNING', 'with DC_MEDIA_NOT_RUNNING');
  t.match((e as DcError).message, /no-camera/, 'saying why');

  const atUnplug = decoded.count();
  await waitUntil('the far end decodes the slate', () => decoded.count() > atUnplug + 30, { timeoutMs: 10_000 }, () => decoded.count() - atUnplug);
  t.ok(decoded.count() > atUnplug + 30, `frames keep arriving at the far end (${decoded.count() - atUnplug} since the unplug)`);
  t.equal(pipelineState(h.engine, 'video-send'), 'running', 'the sender ran throughout');
  t.equal(h.engine.supervisor('video-send').snapshot.restarts, 0, 'and never restarted');

  await waitUntil('the far end shows the dark slate', () => (luma = centreLuma()) < 100, { timeoutMs: 10_000 }, () => luma);
  const slateLuma = luma;
  const [r, g, b] = centreRgb();
  t.comment(`mean luma at the far end: camera ${cameraLuma.toFixed(0)}, slate ${slateLuma.toFixed(0)}; slate RGB ${[r, g, b].map((v) => v.toFixed(0)).join(',')} (camera ${cameraRgb.map((v) => v.toFixed(0)).join(',')})`);
  t.ok(cameraLuma - slateLuma > 100, 'the slate is clearly darker than the white camera');
  // The slate is 0x1d3557: blue above green above red.
  t.ok(b > g && g > r, `the slate is dark blue (RGB ${[r, g, b].map((v) => v.toFixed(0)).join(',')})`);
  t.ok(b > 60 && r < 60, 'blue shows, red hardly');

  // --- plug back ---------------------------------------------------------------------------
  const found = h.engine.waitFor('camera-found', () => true, 2000);
  h.devices.plug(camera);
  const [foundDevice] = await found;
  t.equal(foundDevice.id, 'sim:camera', 'camera-found names the camera');
  await waitUntil('the camera is the source again', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  t.equal(h.engine.status().videoSource, 'camera', 'back to "camera" by itself');
  t.same(h.engine.status().camera, { id: 'sim:camera', name: camera.name }, 'status names the camera');
  await waitUntil('the slate stops', () => pipelineState(h.engine, 'slate') === 'stopped', { timeoutMs: 5000 });
  t.equal(pipelineState(h.engine, 'slate'), 'stopped', 'the slate is stopped');
  await waitUntil('the far end shows the camera again', () => (luma = centreLuma()) > 200, { timeoutMs: 10_000 }, () => luma);
  t.ok(luma > 200, `the far end shows the white camera again (luma ${luma.toFixed(0)})`);
  const jpeg = h.engine.snapshot('camera');
  t.same([jpeg[0], jpeg[1]], [0xff, 0xd8], 'snapshot("camera") works again');
});

t.test('unplugging a device that is not in use changes nothing', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  h.devices.unplug('sim:speaker');
  h.devices.unplug('no-such-device');
  t.equal(h.engine.status().videoSource, 'camera', 'still the camera');
  t.equal(pipelineState(h.engine, 'slate'), 'stopped', 'no slate');
  t.same(
    h.engine.status().pipelines.map((p) => [p.name, p.restarts]),
    [['playout', 0], ['camera', 0], ['slate', 0], ['microphone', 0], ['video-send', 0], ['audio-send', 0]],
    'no pipeline restarted',
  );
});

t.test('unplugging the microphone keeps audio flowing (silence), plugging it back reopens it', async (t) => {
  // Without DTX, so that silence is still a steady 50 packets a second.
  const h = await startEngine(t, { video: { encoders: ['x264enc'] }, audio: { dtx: false } });
  const mic = h.devices.list('microphone')[0]!;
  await waitUntil('the microphone runs', () => pipelineState(h.engine, 'microphone') === 'running', { timeoutMs: 5000 });
  h.devices.unplug(mic.id);
  t.equal(h.engine.status().microphone, null, 'no microphone in the status');
  t.equal(pipelineState(h.engine, 'microphone'), 'stopped', 'the microphone pipeline is stopped');
  const speaker = h.count('playout', 'speaker', 'sink');
  await waitUntil('audio still reaches the far end', () => speaker.count() > 30, { timeoutMs: 10_000 }, () => speaker.count());
  t.ok(speaker.count() > 30, 'the audio stream goes on without a microphone');
  t.equal(h.engine.supervisor('audio-send').snapshot.restarts, 0, 'the audio sender was not restarted');
  h.devices.plug(mic);
  await waitUntil('the microphone runs again', () => pipelineState(h.engine, 'microphone') === 'running', { timeoutMs: 5000 });
  t.same(h.engine.status().microphone, { id: mic.id, name: mic.name }, 'the microphone is back');
});
