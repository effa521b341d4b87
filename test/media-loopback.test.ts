/**
 * Capture → encoder → RTP/UDP on 127.0.0.1 → jitter buffer → decoder → screen, in one engine
 * whose send ports are its own receive ports. Frames are counted where they really are: on the
 * decoder's output and at the screen sink, with pad probes.
 */
import t, { type Test } from 'tap';
import { startEngine } from './helpers/engine.js';
import { grayFrame, lastSample, meanLuma } from './helpers/pictures.js';
import { waitUntil } from './helpers/wait.js';

const DECODED = 30;

async function loopback(t: Test, encoder: 'x264enc' | 'vp8enc', codec: 'H264' | 'VP8'): Promise<void> {
  const h = await startEngine(t, { video: { encoders: [encoder] } });
  const status = h.engine.status();
  t.equal(status.encoder?.name, encoder, `${encoder} chosen`);
  t.equal(status.encoder?.codec, codec, `codec is ${codec}`);
  // Right after start() the camera pipeline is still starting (the slate covers for it).
  await waitUntil('the camera is the video source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 }, () => h.engine.status().pipelines);

  const decoded = h.count('playout', 'vdec', 'src');
  const shown = h.count('playout', 'screen', 'sink');
  const played = h.count('playout', 'speaker', 'sink');
  const took = await waitUntil(
    `${DECODED} ${codec} frames are decoded and shown`,
    () => decoded.count() > DECODED && shown.count() > DECODED,
    { timeoutMs: 15_000 },
    () => ({ decoded: decoded.count(), shown: shown.count(), status: h.engine.status() }),
  );
  t.comment(`${codec}: ${decoded.count()} frames decoded, ${shown.count()} shown after ${Math.round(took)} ms`);
  t.ok(decoded.count() > DECODED, `more than ${DECODED} frames left the ${codec} decoder`);
  t.ok(shown.count() > DECODED, `more than ${DECODED} frames reached the screen sink`);

  await waitUntil('audio buffers reach the speaker', () => played.count() > 50, { timeoutMs: 10_000 }, () => played.count());
  t.ok(played.count() > 50, `audio reached the speaker sink (${played.count()} buffers)`);

  // What reaches the screen is the decoded picture (SMPTE bars), not the compositor's black
  // background: the centre of the screen is bright.
  let centre = 0;
  await waitUntil(
    'the screen shows the decoded picture',
    () => {
      const screen = lastSample(h.pipeline('playout').getByName('screen'));
      centre = screen ? meanLuma(grayFrame(screen, 320, 180), { x: 80, y: 45, width: 160, height: 90 }) : 0;
      return centre > 60;
    },
    { timeoutMs: 5000 },
    () => centre,
  );
  t.comment(`${codec}: mean luma of the screen centre ${centre.toFixed(1)}`);
  t.ok(centre > 60, `the screen shows the decoded bars, not black (mean luma ${centre.toFixed(1)})`);

  // The sinks' own statistics agree that pictures and sound were rendered.
  const rendered = h.engine.status().rendered;
  t.ok(rendered.videoFrames > 0, `screen sink reports rendered frames (${rendered.videoFrames})`);
  t.ok(rendered.audioBuffers > 0, `speaker sink reports rendered buffers (${rendered.audioBuffers})`);
  // The speaker also plays silence (the mixer): the looped-back voice is what passed the jitter buffer.
  const heard = h.engine.status().received.audio.packets;
  t.ok(heard > 0, `the audio jitter buffer passed ${heard} looped-back packets`);
  t.same(
    h.engine.status().pipelines.filter((p) => p.state !== 'running' && p.name !== 'slate').map((p) => p.name),
    [],
    'every pipeline but the slate is running',
  );
}

t.test('H.264 (x264enc) loopback decodes frames at the screen and plays audio', (t) => loopback(t, 'x264enc', 'H264'));
t.test('VP8 (vp8enc) loopback decodes frames at the screen and plays audio', (t) => loopback(t, 'vp8enc', 'VP8'));
