/**
 * Choosing the encoder: the configured order is tried by really encoding a few frames, a
 * missing element is reported with the Debian package that provides it, and with no usable
 * encoder start() fails with DC_MEDIA_NO_ENCODER instead of running half an engine.
 */
import t, { type Test } from 'tap';
import { DcError } from '../daemon/errors.js';
import { debianPackageOf, hasElement, requireElements } from '../daemon/media/elements.js';
import { createPipeline } from '../daemon/media/pipeline.js';
import { LaunchBuilder } from '../daemon/media/launch.js';
import { startEngine } from './helpers/engine.js';
import { caught, waitUntil } from './helpers/wait.js';

/** The error `fn` throws, checked to be a DcError with `code`. */
async function dcError(t: Test, fn: () => unknown, code: string): Promise<DcError> {
  const e = await caught(fn);
  t.type(e, DcError, 'a DcError');
  t.equal((e as DcError).code, code, `error code ${code}`);
  return e as DcError;
}

t.test('this machine has no V4L2 hardware encoder (the premise of the fallback tests)', async (t) => {
  t.notOk(hasElement('v4l2h264enc'), 'v4l2h264enc is absent');
  for (const e of ['x264enc', 'openh264enc', 'vp8enc']) t.ok(hasElement(e), `${e} is installed`);
});

t.test('v4l2h264enc missing: openh264enc is chosen, and the failure is recorded', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['v4l2h264enc', 'openh264enc'] } });
  const status = h.engine.status();
  t.same(status.encoder, { name: 'openh264enc', codec: 'H264' }, 'openh264enc chosen');
  t.equal(status.encoderCandidates.length, 2, 'two candidates tried');
  const [first, second] = status.encoderCandidates;
  t.equal(first?.name, 'v4l2h264enc', 'the hardware encoder was tried first');
  t.equal(first?.ok, false, 'and failed');
  t.equal(first?.error?.code, 'DC_MEDIA_ELEMENT_MISSING', 'because the element is missing');
  t.match(first?.error?.message, /v4l2h264enc/, 'the message names the element');
  t.match(first?.error?.details?.package, /gstreamer1\.0-plugins-good/, 'details name the package');
  t.same(second, { name: 'openh264enc', codec: 'H264', ok: true }, 'openh264enc worked');

  // And the chosen encoder really works end to end.
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil('openh264 frames are decoded', () => decoded.count() > 30, { timeoutMs: 15_000 }, () => decoded.count());
  t.ok(decoded.count() > 30, `openh264enc → avdec loopback decodes frames (${decoded.count()})`);
});

t.test('with x264enc and openh264enc left out, VP8 is chosen and decodes in a loopback', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['v4l2h264enc', 'vp8enc'] } });
  const status = h.engine.status();
  t.same(status.encoder, { name: 'vp8enc', codec: 'VP8' }, 'vp8enc chosen');
  t.same(
    status.encoderCandidates.map((c) => [c.name, c.ok, c.error?.code]),
    [
      ['v4l2h264enc', false, 'DC_MEDIA_ELEMENT_MISSING'],
      ['vp8enc', true, undefined],
    ],
    'v4l2h264enc failed, vp8enc worked, nothing else was tried',
  );
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil('VP8 frames are decoded', () => decoded.count() > 30, { timeoutMs: 15_000 }, () => decoded.count());
  t.ok(decoded.count() > 30, `VP8 loopback decodes frames (${decoded.count()})`);
  t.equal(h.pipeline('playout').getByName('vdec')?.getFactory()?.name, 'vp8dec', 'the playout decodes with vp8dec');
});

t.test('no usable encoder: start() rejects with DC_MEDIA_NO_ENCODER', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['v4l2h264enc'] }, start: false });
  const e = await dcError(t, () => h.engine.start(), 'DC_MEDIA_NO_ENCODER');
  t.match(e.message, /v4l2h264enc/, 'the message lists what was tried');
  const candidates = e.details?.candidates as Array<{ name: string; ok: boolean; error?: { code: string } }>;
  t.same(
    candidates.map((c) => [c.name, c.ok, c.error?.code]),
    [['v4l2h264enc', false, 'DC_MEDIA_ELEMENT_MISSING']],
    'details carry each candidate and why it failed',
  );
  t.same(h.engine.status().pipelines, [], 'no pipeline was started');
  // A failed start leaves the engine stopped: trying again fails again, it does not pretend to run.
  await dcError(t, () => h.engine.start(), 'DC_MEDIA_NO_ENCODER');
});

t.test('requireElements names the missing element and its package', async (t) => {
  t.doesNotThrow(() => requireElements(['x264enc', 'videotestsrc', 'compositor']), 'installed elements pass');

  const unknown = await dcError(t, () => requireElements(['x264enc', 'nosuchelement']), 'DC_MEDIA_ELEMENT_MISSING');
  t.match(unknown.message, /"nosuchelement"/, 'message names the element');
  t.equal(unknown.details?.element, 'nosuchelement', 'details name the element');
  t.equal(unknown.details?.package, debianPackageOf('nosuchelement'), 'details name the (unknown) package');
  t.match(unknown.message, unknown.details?.package as string, 'and so does the message');
  t.match(unknown.details?.package, /gst-inspect-1\.0 nosuchelement/, 'an unknown element says how to find its package');

  const known = await dcError(t, () => requireElements(['v4l2h264enc']), 'DC_MEDIA_ELEMENT_MISSING');
  t.match(known.message, /gstreamer1\.0-plugins-good/, 'v4l2h264enc: the message names gstreamer1.0-plugins-good');
  t.match(known.details?.package, /^gstreamer1\.0-plugins-good/, 'and so do the details');
  t.equal(known.recoverable, false, 'a missing element is not recoverable by retrying');
});

t.test('createPipeline of a description naming a missing element', async (t) => {
  const b = new LaunchBuilder();
  b.chain(b.el('videotestsrc', { 'num-buffers': 1 }), b.el('v4l2h264enc', { name: 'venc' }), b.el('fakesink'));
  const e = await dcError(t, () => createPipeline(b.build('hw-encode')), 'DC_MEDIA_ELEMENT_MISSING');
  t.equal(e.details?.element, 'v4l2h264enc', 'details name the element');
  t.match(e.message, /v4l2h264enc.*gstreamer1\.0-plugins-good/, 'the message names the element and the package');
  t.match(e.details?.package, /gstreamer1\.0-plugins-good/, 'details name the package');

  const fromFragment = new LaunchBuilder();
  fromFragment.chain(fromFragment.fragment('nosuchsrc device=/dev/video0'), fromFragment.el('fakesink'));
  const e2 = await dcError(t, () => createPipeline(fromFragment.build('device')), 'DC_MEDIA_ELEMENT_MISSING');
  t.equal(e2.details?.element, 'nosuchsrc', 'an element from a device fragment is checked too');

  // The same description with only installed elements builds.
  const ok = new LaunchBuilder();
  ok.chain(ok.el('videotestsrc', { 'num-buffers': 1 }), ok.el('x264enc', { name: 'venc' }), ok.el('fakesink'));
  const pipeline = createPipeline(ok.build('sw-encode'));
  t.equal(pipeline.name, 'sw-encode', 'a valid description builds a pipeline with its name');
  t.ok(pipeline.getByName('venc'), 'with its named elements');
});
