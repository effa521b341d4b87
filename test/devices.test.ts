/**
 * Describing devices from what GStreamer says of them: fixtures in gst-device-monitor-1.0's
 * format (see each file's header: written from typical data sheets, not recorded here), passed
 * through real GStreamer caps/structure parsing exactly as GstDeviceWatcher does. And the real
 * device watcher, started and stopped on this machine (which has no camera).
 */
import t from 'tap';
import { Gst } from '../daemon/media/gst.js';
import { GstDeviceWatcher } from '../daemon/media/devices/gst-watcher.js';
import { SimDeviceWatcher } from '../daemon/media/devices/sim-watcher.js';
import { cameraSourceChain, chooseCameraMode, describeDevice, videoModesOf, type MediaDevice, type VideoMode } from '../daemon/media/devices/model.js';
import { numbersOf, parseCaps, parseStructure } from '../daemon/media/devices/caps-text.js';
import { describeCamera } from '../daemon/media/pipelines.js';
import { createPipeline } from '../daemon/media/pipeline.js';
import { createLogger } from '../daemon/log.js';
import { chooseSpeaker } from '../daemon/media/devices/speaker.js';
import { capsText, loadDeviceFixture, propertiesText, type MonitoredDevice } from './helpers/device-monitor.js';

/** What GstDeviceWatcher would pass for this device: GStreamer's own caps/structure strings. */
function asGstText(d: MonitoredDevice): { caps: string; props: string } {
  const caps = Gst.Caps.fromString(capsText(d));
  const props = Gst.Structure.newFromString(propertiesText(d));
  if (!caps) throw new Error(`fixture caps of "${d.name}" are not valid GStreamer caps`);
  if (!props) throw new Error(`fixture properties of "${d.name}" are not a valid GstStructure`);
  return { caps: caps.toString()!, props: props.toString()! };
}

function describe(d: MonitoredDevice): MediaDevice | null {
  const { caps, props } = asGstText(d);
  return describeDevice(d.deviceClass, d.name, caps, props);
}

const webcam = loadDeviceFixture('uvc-webcam.txt');
const alsa = loadDeviceFixture('alsa-speakerphone.txt');
const pulse = loadDeviceFixture('pipewire-pulse.txt');
const pi = loadDeviceFixture('pi-pipewire-hdmi-jabra.txt');

t.test('the fixtures are valid GStreamer caps and structures', async (t) => {
  t.equal(webcam.length, 1, 'uvc-webcam: one device');
  t.equal(alsa.length, 3, 'alsa-speakerphone: three devices');
  t.equal(pulse.length, 3, 'pipewire-pulse: three devices');
  t.equal(pi.length, 4, 'pi-pipewire-hdmi-jabra: four devices');
  for (const d of [...webcam, ...alsa, ...pulse, ...pi]) {
    t.doesNotThrow(() => asGstText(d), `${d.deviceClass} "${d.name}" parses as GStreamer text`);
    t.ok(d.launchElement.length > 0, `${d.name}: the tool printed how to open it`);
  }
  t.equal(webcam[0]!.caps.length, 12, 'the webcam lists 12 modes');
});

t.test('parseCaps and parseStructure read GStreamer text', async (t) => {
  const caps = parseCaps('video/x-raw, format=(string)YUY2, width=(int)640, height=(int)480, framerate=(fraction){ 30/1, 15/2 }; image/jpeg, width=(int)1280, height=(int)720');
  t.equal(caps.length, 2, 'two structures');
  t.same(caps[0], { name: 'video/x-raw', fields: { format: 'YUY2', width: '640', height: '480', framerate: '{ 30/1, 15/2 }' } }, 'fields without their types');
  t.same(numbersOf(caps[0]!.fields.framerate), [30, 7.5], 'a fraction list as numbers');
  t.same(numbersOf('[ 1, 1920 ]'), [1, 1920], 'a range as its bounds');
  t.same(numbersOf('{ (fraction)30/1, (fraction)5/1 }'.replace(/\(fraction\)/g, '')), [30, 5], 'the tool prints types inside lists');
  t.same(parseCaps('EMPTY'), [], 'EMPTY caps have no structure');
  t.same(parseCaps(''), [], 'nor does an empty string');
  const s = parseStructure('v4l2deviceprovider, device.product.name=(string)"HD\\ USB\\ Camera", udev-probed=(boolean)true, v4l2.device.version=(uint)393582;');
  t.equal(s.name, 'v4l2deviceprovider', 'the structure name');
  t.equal(s.fields['device.product.name'], 'HD USB Camera', 'a quoted, escaped string comes back plain');
  t.equal(s.fields['udev-probed'], 'true', 'a boolean');
  t.equal(s.fields['v4l2.device.version'], '393582', 'a uint');
  const commas = parseStructure('alsa-proplist, alsa.long_card_name=(string)"Speakerphone\\ at\\ usb-1\\,\\ full\\ speed", alsa.card=(int)3');
  t.equal(commas.fields['alsa.long_card_name'], 'Speakerphone at usb-1, full speed', 'an escaped comma does not split the field');
  t.equal(commas.fields['alsa.card'], '3', 'the field after it is intact');
});

t.test('a UVC webcam: describeDevice and videoModesOf', async (t) => {
  const d = webcam[0]!;
  const cam = describe(d);
  t.ok(cam, 'the webcam is described');
  t.same(
    { id: cam!.id, kind: cam!.kind, name: cam!.name, api: cam!.api, element: cam!.element },
    { id: '/dev/video0', kind: 'camera', name: 'HD USB Camera', api: 'v4l2', element: 'v4l2src device=/dev/video0' },
    'a V4L2 camera at /dev/video0',
  );
  t.equal(cam!.element, d.launchElement, 'opened the way GStreamer itself would open it');
  t.equal(cam!.connection, 'usb', 'on USB (device.bus)');
  t.equal(cam!.modes.length, 12, 'all 12 modes');
  const find = (media: string, w: number, h: number) => cam!.modes.find((m) => m.media === media && m.width === w && m.height === h);
  t.same(find('video/x-raw', 640, 480), { media: 'video/x-raw', format: 'YUY2', width: 640, height: 480, maxFps: 30 }, 'raw 640x480 up to 30 fps');
  t.same(find('video/x-raw', 1280, 720), { media: 'video/x-raw', format: 'YUY2', width: 1280, height: 720, maxFps: 10 }, 'raw 1280x720 only at 10 fps');
  t.equal(find('video/x-raw', 1920, 1080)?.maxFps, 5, 'raw 1080p at 5 fps (a single fraction, not a list)');
  t.same(find('image/jpeg', 1280, 720), { media: 'image/jpeg', width: 1280, height: 720, maxFps: 30 }, 'MJPEG 1280x720 at 30 fps');
  t.same(find('image/jpeg', 1920, 1080), { media: 'image/jpeg', width: 1920, height: 1080, maxFps: 30 }, 'MJPEG 1920x1080 at 30 fps');

  // The tool prints `{ (fraction)30/1, … }`, GStreamer's caps string `(fraction){ 30/1, … }`: same modes.
  t.same(videoModesOf(capsText(d)), cam!.modes, 'the tool-printed caps give the same modes as GStreamer caps text');
  t.same(videoModesOf('video/x-raw, format=(string)YUY2, width=(int)[ 1, 8192 ], height=(int)[ 1, 8192 ], framerate=(fraction)[ 0/1, 1000/1 ]'), [], 'a virtual device with ranges has no discrete mode');
  t.same(videoModesOf('EMPTY'), [], 'no caps, no modes');
});

t.test('chooseCameraMode picks the cheapest mode that covers the target', async (t) => {
  const modes = describe(webcam[0]!)!.modes;
  const pick = (width: number, height: number, fps: number) => chooseCameraMode(modes, { width, height, fps });
  const brief = (m: VideoMode | null) => (m ? `${m.media} ${m.width}x${m.height}@${m.maxFps}` : 'none');
  t.equal(brief(pick(1280, 720, 30)), 'image/jpeg 1280x720@30', '720p30: raw 720p is only 10 fps, so MJPEG 720p');
  t.equal(brief(pick(640, 360, 30)), 'video/x-raw 640x360@30', '360p30: raw at exactly that size, no decoding');
  t.equal(brief(pick(960, 540, 30)), 'image/jpeg 1280x720@30', '540p30: raw 960x540 is 15 fps; the smallest MJPEG that covers');
  t.equal(brief(pick(1280, 720, 10)), 'video/x-raw 1280x720@10', '720p10: raw wins when it is fast enough');
  t.equal(brief(pick(600, 400, 30)), 'video/x-raw 640x480@30', 'an odd target: the smallest raw mode covering it');
  t.equal(brief(pick(2560, 1440, 30)), 'image/jpeg 1920x1080@30', 'beyond the camera: the largest mode at the target rate');

  const small: VideoMode[] = [
    { media: 'video/x-raw', format: 'YUY2', width: 320, height: 240, maxFps: 30 },
    { media: 'video/x-raw', format: 'YUY2', width: 640, height: 480, maxFps: 15 },
    { media: 'video/x-h264', width: 1280, height: 720, maxFps: 30 },
  ];
  t.equal(brief(chooseCameraMode(small, { width: 1280, height: 720, fps: 30 })), 'video/x-raw 320x240@30', 'nothing covers: the rate comes before the size');
  t.equal(brief(chooseCameraMode(small.slice(2), { width: 1280, height: 720, fps: 30 })), 'none', 'H.264-only cameras are not used');
  t.equal(chooseCameraMode([], { width: 1280, height: 720, fps: 30 }), null, 'no modes, no choice');
});

t.test('cameraSourceChain opens the chosen mode, decoding MJPEG', async (t) => {
  const cam = describe(webcam[0]!)!;
  const mjpeg = chooseCameraMode(cam.modes, { width: 1280, height: 720, fps: 30 });
  const raw = chooseCameraMode(cam.modes, { width: 640, height: 360, fps: 30 });
  t.same(cameraSourceChain(cam, mjpeg), ['v4l2src device=/dev/video0', 'image/jpeg,width=1280,height=720', 'jpegdec'], 'MJPEG: caps then jpegdec');
  t.same(cameraSourceChain(cam, mjpeg, 'v4l2jpegdec'), ['v4l2src device=/dev/video0', 'image/jpeg,width=1280,height=720', 'v4l2jpegdec'], 'the Pi hardware decoder when asked');
  t.same(cameraSourceChain(cam, raw), ['v4l2src device=/dev/video0', 'video/x-raw,width=640,height=360,format=YUY2'], 'raw: caps with the format, no decoder');
  t.same(cameraSourceChain(cam, null), ['v4l2src device=/dev/video0'], 'no mode: the device as it comes');

  // The whole camera pipeline for this device parses (it is not started: there is no camera here).
  for (const [label, mode] of [
    ['MJPEG 720p', mjpeg],
    ['raw 360p', raw],
  ] as const) {
    const desc = describeCamera({ device: cam, mode, size: { width: 1280, height: 720 }, fps: 30, channel: 'devtest' });
    const pipeline = createPipeline(desc);
    t.ok(pipeline.getByName('camsrc'), `${label}: the camera pipeline parses, with its source named camsrc`);
    t.equal(pipeline.getByName('camsrc')?.getFactory()?.name, 'v4l2src', `${label}: the source is v4l2src`);
    pipeline.setState(Gst.State.NULL);
  }
});

t.test('a USB speakerphone on ALSA: microphone and speaker, both kept', async (t) => {
  const described = alsa.map(describe);
  const [mic, speaker, hdmi] = described;
  t.same(
    described.map((d) => [d?.kind, d?.api, d?.element]),
    [
      ['microphone', 'alsa', 'alsasrc device=hw:3,0'],
      ['speaker', 'alsa', 'alsasink device=hw:3,0'],
      ['speaker', 'alsa', 'alsasink device=hw:0,0'],
    ],
    'card 3 as microphone and speaker, the HDMI output as a speaker',
  );
  for (const [i, d] of described.entries()) t.equal(d?.element, alsa[i]!.launchElement, `${alsa[i]!.deviceClass}: opened as GStreamer would open it`);
  t.same(
    described.map((d) => d?.connection),
    ['usb', 'usb', 'hdmi'],
    'plain ALSA: the USB audio driver ("USB-Audio") is USB, the vc4-hdmi card is HDMI',
  );
  t.equal(mic!.name, speaker!.name, 'ALSA names both directions after the card');
  t.not(mic!.id, speaker!.id, 'yet their ids differ');
  t.same(mic!.modes, [], 'audio devices have no video modes');

  // The watcher keeps one device per id: both halves of the speakerphone must survive.
  const watcher = new SimDeviceWatcher(described.filter((d): d is MediaDevice => d !== null));
  watcher.start();
  t.teardown(() => watcher.stop());
  t.equal(watcher.list().length, 3, 'a watcher keeps all three devices');
  t.equal(watcher.pick('microphone')?.element, 'alsasrc device=hw:3,0', 'the microphone is the speakerphone');
  t.equal(watcher.pick('speaker', 'Speakerphone')?.element, 'alsasink device=hw:3,0', 'the speakerphone is found by name');
  t.equal(watcher.pick('speaker', hdmi!.id)?.element, 'alsasink device=hw:0,0', 'and HDMI by id');
});

t.test('PipeWire/PulseAudio devices are opened through the sound server', async (t) => {
  const [mic, monitor, speaker] = pulse.map(describe);
  t.same(
    { kind: mic?.kind, api: mic?.api, name: mic?.name, element: mic?.element },
    { kind: 'microphone', api: 'pulse', name: 'USB Speakerphone Mono', element: 'pulsesrc device=alsa_input.usb-Generic_USB_Speakerphone_0001-00.mono-fallback' },
    'the microphone is a pulsesrc on its node, not alsasrc on hw:3 (which the server holds)',
  );
  t.equal(mic?.element, pulse[0]!.launchElement, 'opened as GStreamer would open it');
  t.equal(monitor, null, 'the "Monitor of …" source is not a microphone');
  t.same(
    { kind: speaker?.kind, api: speaker?.api, element: speaker?.element },
    { kind: 'speaker', api: 'pulse', element: 'pulsesink device=alsa_output.usb-Generic_USB_Speakerphone_0001-00.analog-stereo' },
    'the speaker is a pulsesink on its node',
  );
  t.equal(speaker?.element, pulse[2]!.launchElement, 'opened as GStreamer would open it');
  t.not(mic?.id, speaker?.id, 'microphone and speaker have distinct ids');
  t.same([mic?.connection, speaker?.connection], ['usb', 'usb'], 'both on USB (device.bus)');
});

t.test("a Pi with PipeWire: the TV's HDMI, a USB speakerphone and the headphone jack", async (t) => {
  const described = pi.map(describe);
  t.same(
    described.map((d) => [d?.kind, d?.name, d?.connection]),
    [
      ['microphone', 'Jabra SPEAK 410 USB Mono', 'usb'],
      ['speaker', 'Jabra SPEAK 410 USB Analog Stereo', 'usb'],
      ['speaker', 'Built-in Audio Digital Stereo (HDMI)', 'hdmi'],
      ['speaker', 'Built-in Audio Stereo', 'other'],
    ],
    'the speakerphone is USB, vc4-hdmi is HDMI, the headphone jack is neither',
  );
  for (const [i, d] of described.entries()) t.equal(d?.element, pi[i]!.launchElement, `${d?.name}: opened as GStreamer would open it`);
  // Through PipeWire the HDMI card's description is only "Built-in Audio": the card name says HDMI.
  const hdmiProps = parseStructure(asGstText(pi[2]!).props).fields;
  t.equal(hdmiProps['device.description'], 'Built-in Audio', 'the HDMI sink describes itself as "Built-in Audio"');
  t.equal(describeDevice('Audio/Sink', 'Built-in Audio', '', 'pulse-proplist, alsa.card_name=(string)vc4-hdmi-0, node.name=(string)x')?.connection, 'hdmi', 'the card name alone says HDMI');

  const devices = described.filter((d): d is MediaDevice => d !== null);
  const speakerFor = (output: 'auto' | 'hdmi' | 'usb', preference = '') => chooseSpeaker(devices, { preference, output }).device?.name;
  t.equal(speakerFor('auto'), 'Jabra SPEAK 410 USB Analog Stereo', 'auto: the speakerphone');
  t.equal(speakerFor('hdmi'), 'Built-in Audio Digital Stereo (HDMI)', 'hdmi: the TV');
  t.equal(speakerFor('usb'), 'Jabra SPEAK 410 USB Analog Stereo', 'usb: the speakerphone');
  t.equal(speakerFor('usb', 'Built-in Audio Stereo'), 'Built-in Audio Stereo', 'a speaker named in the config comes first');
  t.equal(speakerFor('hdmi', 'Loa kéo'), 'Built-in Audio Digital Stereo (HDMI)', 'a name that matches nothing: by output');
});

t.test('devices the box does not use are left out', async (t) => {
  const props = 'v4l2deviceprovider, device.api=(string)v4l2, device.path=(string)/dev/video10';
  t.equal(describeDevice('Video/Sink', 'v4l2loopback output', '', props), null, 'a video sink');
  t.equal(describeDevice('Audio/Source', 'Bluetooth thing', 'audio/x-raw', 'props, device.api=(string)bluez5'), null, 'an unknown audio API');
  t.equal(describeDevice('Video/Source', 'Camera without a path', 'video/x-raw', 'v4l2deviceprovider, device.api=(string)v4l2'), null, 'a V4L2 camera without a device path');
});

t.test('GstDeviceWatcher starts, lists and stops on this machine', async (t) => {
  const watcher = new GstDeviceWatcher(createLogger('warn'));
  const added: MediaDevice[] = [];
  const off = watcher.on('added', (d) => added.push(d));
  t.teardown(off);
  t.doesNotThrow(() => watcher.start(), 'start() does not throw');
  const listed = watcher.list();
  t.ok(Array.isArray(listed), `list() is an array (${listed.length} devices here)`);
  t.equal(added.length, listed.length, 'every listed device was announced with "added"');
  for (const d of listed) {
    t.ok(['camera', 'microphone', 'speaker'].includes(d.kind), `${d.name}: a known kind`);
    t.ok(d.element.length > 0, `${d.name}: has an element to open it`);
  }
  t.doesNotThrow(() => watcher.stop(), 'stop() does not throw');
  t.same(watcher.list(), [], 'nothing is listed once stopped');
  t.doesNotThrow(() => watcher.stop(), 'stopping twice is harmless');
});
