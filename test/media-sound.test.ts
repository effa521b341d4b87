/**
 * Sound out: which speaker plays (media.audio.output), and the test tone, heard where the far
 * end's voice is heard. Levels are read off the samples the simulated speaker (a fakesink)
 * last played, polled from JS: no pad probe holds the audio thread.
 */
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Gst } from '../daemon/media/gst.js';
import { DcError } from '../daemon/errors.js';
import { MediaEngine } from '../daemon/media/engine.js';
import { chooseSpeaker, type SoundOutput } from '../daemon/media/devices/speaker.js';
import { connectionOf, type Connection, type MediaDevice } from '../daemon/media/devices/model.js';
import { SimDeviceWatcher, simDevices } from '../daemon/media/devices/sim-watcher.js';
import { validateConfig } from '../daemon/config/validate.js';
import { createLogger } from '../daemon/log.js';
import { CommandRouter, type OutgoingReply } from '../daemon/fleet/router.js';
import { mediaCommands } from '../daemon/fleet/commands/media.js';
import { loopbackPorts, pipelineState, startEngine, type EngineHarness } from './helpers/engine.js';
import { control } from './helpers/calls.js';
import { levelsOver, near, speakerLevel } from './helpers/sound.js';
import { caught, delay, waitUntil } from './helpers/wait.js';

const speaker = (id: string, connection: Connection, name = id): MediaDevice => ({
  id: `speaker:${id}`,
  kind: 'speaker',
  name,
  api: 'sim',
  element: 'fakesink sync=true',
  modes: [],
  connection,
});
const TV = speaker('tv', 'hdmi', 'TV (HDMI)');
const JABRA = speaker('jabra', 'usb', 'Jabra SPEAK 410 USB');
const JACK = speaker('jack', 'other', 'Headphone jack');
/** A USB microphone is no speaker, however it is attached. */
const USB_MIC: MediaDevice = { ...speaker('mic', 'usb'), id: 'microphone:usb', kind: 'microphone', element: 'audiotestsrc' };

/** The tone's amplitude (half scale) as RMS of S16 samples. */
const TONE_RMS = 0.5 * 32767 * Math.SQRT1_2;

t.test('chooseSpeaker: each output with HDMI, USB and other speakers, and the fallbacks', async (t) => {
  const pick = (devices: MediaDevice[], output: SoundOutput, preference = '') => {
    const c = chooseSpeaker(devices, { preference, output });
    return { device: c.device?.name ?? null, fallback: c.fallback };
  };
  const all = [JACK, USB_MIC, TV, JABRA];
  t.same(pick(all, 'auto'), { device: JABRA.name, fallback: false }, 'auto: the USB speakerphone');
  t.same(pick(all, 'usb'), { device: JABRA.name, fallback: false }, 'usb: the USB speakerphone');
  t.same(pick(all, 'hdmi'), { device: TV.name, fallback: false }, 'hdmi: the TV');
  t.same(pick(all, 'hdmi', 'Headphone'), { device: JACK.name, fallback: false }, 'a speaker named in the config comes before the output');
  t.same(pick(all, 'auto', 'speaker:tv'), { device: TV.name, fallback: false }, 'named by id');
  t.same(pick(all, 'usb', 'Loa kéo'), { device: JABRA.name, fallback: false }, 'a name that matches nothing: by output');

  const noUsb = [JACK, USB_MIC, TV];
  t.same(pick(noUsb, 'auto'), { device: TV.name, fallback: false }, 'auto without USB: the TV (the USB microphone is no speaker)');
  t.same(pick(noUsb, 'usb'), { device: TV.name, fallback: true }, 'usb missing: the TV stands in, a fallback');
  t.same(pick([JACK, JABRA], 'hdmi'), { device: JABRA.name, fallback: true }, 'hdmi missing: the speakerphone stands in');
  t.same(pick([JACK], 'auto'), { device: JACK.name, fallback: false }, 'auto with only another speaker: that one, no fallback');
  t.same(pick([JACK], 'hdmi'), { device: JACK.name, fallback: true }, 'hdmi with only another speaker: that one, a fallback');
  t.same(pick([USB_MIC], 'usb'), { device: null, fallback: false }, 'no speaker at all: none (the playout plays into a fakesink)');
  t.same(pick([], 'auto'), { device: null, fallback: false }, 'no device at all: none');
});

t.test('connectionOf reads how a sound device is attached from its properties', async (t) => {
  t.equal(connectionOf('vc4-hdmi-1', { 'alsa.card_name': 'vc4-hdmi-1', 'alsa.driver_name': 'vc4-hdmi' }), 'hdmi', "plain ALSA, the Pi's second HDMI port");
  t.equal(connectionOf('Built-in Audio', { 'device.profile.name': 'hdmi-stereo' }), 'hdmi', 'a sound server HDMI profile');
  t.equal(connectionOf('bcm2835 HDMI 1', {}), 'hdmi', 'the old firmware driver, by its name');
  t.equal(connectionOf('Speakerphone', { 'device.bus': 'usb' }), 'usb', 'device.bus=usb');
  t.equal(connectionOf('USB Audio', { 'alsa.driver_name': 'USB-Audio' }), 'usb', 'plain ALSA, the USB audio driver');
  t.equal(connectionOf('Jabra SPEAK 410 USB at usb-0000:01:00.0-1.3, full speed', {}), 'usb', "plain ALSA's long card name");
  t.equal(connectionOf('Speaker', { 'node.name': 'alsa_output.usb-0b0e_Jabra-00.analog-stereo' }), 'usb', 'a sound server node name');
  t.equal(connectionOf('Built-in Audio Stereo', { 'alsa.card_name': 'bcm2835 Headphones', 'device.bus_path': 'platform-bcm2835_audio' }), 'other', 'the headphone jack');
  t.equal(connectionOf('Bluetooth speaker', { 'device.bus': 'bluetooth' }), 'other', 'Bluetooth');
});

// --- levels at the speaker ----------------------------------------------------------------------

/** RMS of the S16 samples the speaker played last; null before its first buffer. */
t.test('an idle box with the mixer: the screen draws and the speaker plays silence, nothing waits for RTP', async (t) => {
  const h = await startEngine(t, { send: false });
  await waitUntil('the playout runs', () => pipelineState(h.engine, 'playout') === 'running', { timeoutMs: 5000 });
  const before = h.engine.status().rendered;
  await delay(1500);
  const after = h.engine.status().rendered;
  t.ok(after.videoFrames - before.videoFrames >= 4, `the screen drew ${after.videoFrames - before.videoFrames} frames in 1.5 s (5 fps idle)`);
  // 5 ms blocks: ~300 in 1.5 s; the speaker is fed though no RTP arrives.
  t.ok(after.audioBuffers - before.audioBuffers >= 200, `the speaker played ${after.audioBuffers - before.audioBuffers} buffers in 1.5 s`);
  const caps = h.pipeline('playout').getByName('speaker')?.getStaticPad('sink')?.getCurrentCaps()?.getStructure(0);
  t.equal(caps?.getName(), 'audio/x-raw', 'raw audio at the speaker');
  t.same([caps?.getString('format'), caps?.getInt('channels')[1], caps?.getInt('rate')[1]], ['S16LE', 1, 48000], 'S16 mono 48 kHz');
  const quiet = await levelsOver(h, 300);
  t.equal(quiet.median, 0, 'silence');
  t.same(h.engine.status().speaker, { id: 'sim:speaker', name: 'Simulated speaker', connection: 'other' }, 'the status names the speaker in use');
});

t.test('the test tone reaches the speaker at the playback volume, stops by itself, and restarts on a second call', async (t) => {
  const h = await startEngine(t, { send: false });
  await waitUntil('the speaker plays', () => speakerLevel(h) !== null, { timeoutMs: 5000 });
  t.equal((await levelsOver(h, 200)).median, 0, 'silence before the tone');

  h.engine.playTestTone(1.5);
  const heardAfter = await waitUntil('the tone is heard', () => (speakerLevel(h) ?? 0) > TONE_RMS / 2, { timeoutMs: 3000, intervalMs: 10 });
  const full = await levelsOver(h, 500, TONE_RMS / 2);
  t.comment(`tone heard ${heardAfter.toFixed(0)} ms after the call; RMS ${full.median.toFixed(0)} (expected ${TONE_RMS.toFixed(0)}), ${(full.below * 100).toFixed(1)}% of ${full.n} readings below half`);
  t.ok(near(full.median, TONE_RMS, 0.05), `at 100% the speaker gets the tone at its level (RMS ${full.median.toFixed(0)})`);
  t.ok(full.below <= 0.05, 'steadily');
  const lasted = await waitUntil('the tone stops by itself', () => speakerLevel(h) === 0, { timeoutMs: 3000, intervalMs: 10 });
  t.ok(lasted > 500 && lasted < 2000, `it stopped ${lasted.toFixed(0)} ms after the 500 ms measured: about 1.5 s in all`);

  h.engine.setVolume(50);
  h.engine.playTestTone(2);
  await waitUntil('the tone is heard again', () => (speakerLevel(h) ?? 0) > TONE_RMS / 4, { timeoutMs: 3000, intervalMs: 10 });
  const half = await levelsOver(h, 400);
  t.ok(near(half.median, TONE_RMS / 2, 0.05), `at 50% half the level (RMS ${half.median.toFixed(0)})`);
  h.engine.setVolume(0);
  await waitUntil('volume 0 silences the tone', () => speakerLevel(h) === 0, { timeoutMs: 2000, intervalMs: 10 });
  t.equal((await levelsOver(h, 300)).median, 0, 'volume 0: silence while the tone still plays');
  h.engine.setVolume(100);
  await waitUntil('the tone is back at 100%', () => (speakerLevel(h) ?? 0) > TONE_RMS * 0.9, { timeoutMs: 2000, intervalMs: 10 });
  await waitUntil('the tone ends', () => speakerLevel(h) === 0, { timeoutMs: 3000, intervalMs: 10 });

  // A second call restarts it for its own length: 1 s, then 1 s again after 0.6 s.
  h.engine.playTestTone(1);
  await waitUntil('the first tone is heard', () => (speakerLevel(h) ?? 0) > TONE_RMS / 2, { timeoutMs: 3000, intervalMs: 10 });
  const started = performance.now();
  await delay(600);
  h.engine.playTestTone(1);
  await delay(1200 - (performance.now() - started));
  const late = await levelsOver(h, 200, TONE_RMS / 2);
  t.ok(late.median > TONE_RMS / 2, `1.2 s after the first 1 s tone was heard, the restarted one still plays (RMS ${late.median.toFixed(0)})`);
  await waitUntil('the restarted tone ends', () => speakerLevel(h) === 0, { timeoutMs: 3000, intervalMs: 10 });

  for (const bad of [0, -1, 11, Number.NaN, Number.POSITIVE_INFINITY]) {
    const e = await caught(() => h.engine.playTestTone(bad));
    t.equal((e as DcError).code, 'DC_MEDIA_BAD_REQUEST', `${bad} s is refused`);
  }
});

t.test("the far end's voice passes the mixer whole, and the tone adds to it", async (t) => {
  // A loopback: the simulated microphone's 440 Hz sine (0.2 of full scale) comes back as the far
  // end's voice. No DSP (noise suppression takes a steady sine for noise), no DTX.
  const h = await startEngine(t, { audio: { echoCancel: false, noiseSuppression: false, gainControl: false, dtx: false } });
  const voiceRms = 0.2 * 32767 * Math.SQRT1_2;
  await waitUntil('the voice is heard', () => (speakerLevel(h) ?? 0) > voiceRms / 2, { timeoutMs: 10_000, intervalMs: 10 });
  const voice = await levelsOver(h, 1000, voiceRms / 2);
  t.comment(`voice RMS ${voice.median.toFixed(0)} (sent ${voiceRms.toFixed(0)}), ${(voice.below * 100).toFixed(1)}% of ${voice.n} readings below half`);
  t.ok(near(voice.median, voiceRms, 0.2), 'the voice arrives at its level (Opus-coded)');
  t.ok(voice.below <= 0.02, 'without gaps: the mixer never gave up waiting for it');
  h.engine.playTestTone(1);
  const both = Math.hypot(voiceRms, TONE_RMS);
  await waitUntil('voice and tone are heard together', () => (speakerLevel(h) ?? 0) > (TONE_RMS + both) / 2, { timeoutMs: 3000, intervalMs: 10 });
  const mixed = await levelsOver(h, 300);
  t.ok(near(mixed.median, both, 0.1), `mixed, not switched: RMS ${mixed.median.toFixed(0)} ≈ √(voice² + tone²) = ${both.toFixed(0)}`);
});

t.test('the mixer costs the playout 5 ms of latency (its output block)', async (t) => {
  for (const fec of [true, false]) {
    const h = await startEngine(t, { audio: { fec } });
    await waitUntil('the voice is heard', () => (speakerLevel(h) ?? 0) > 0, { timeoutMs: 10_000 });
    const latencyMs = (target: Gst.Element | Gst.Pad) => {
      const q = Gst.Query.newLatency();
      if (!target.query(q)) throw new Error('latency query refused');
      return Number(q.parseLatency()[1]) / 1e6;
    };
    const pad = (name: string) => h.pipeline('playout').getByName(name)!.getStaticPad('src')!;
    const [decoder, mixer, tone, playout] = [latencyMs(pad('adec')), latencyMs(pad('amix')), latencyMs(pad('tonesrc')), latencyMs(h.pipeline('playout'))];
    t.comment(`FEC ${fec ? 'on' : 'off'}: opusdec ${decoder} ms, after the mixer ${mixer} ms, tone source ${tone} ms; playout ${playout.toFixed(1)} ms`);
    t.equal(mixer - decoder, 5, 'the mixer adds its 5 ms output block to the audio path');
    t.ok(tone < decoder, 'the tone source adds nothing: it is below the far end');
    // Before the mixer the playout reported 220 ms with FEC and 133 ms (the video path) without.
    t.ok(playout <= (fec ? 225 : 134), `the playout reports ${playout.toFixed(1)} ms`);
    await h.engine.stop();
  }
});

t.test("stopping the engine stops its tone: the next engine's speaker is quiet", async (t) => {
  const first = await startEngine(t, { send: false });
  first.engine.playTestTone(10);
  await waitUntil('the tone is heard', () => (speakerLevel(first) ?? 0) > TONE_RMS / 2, { timeoutMs: 3000, intervalMs: 10 });
  await first.engine.stop();
  const second = await startEngine(t, { send: false });
  await waitUntil('the speaker plays', () => speakerLevel(second) !== null, { timeoutMs: 5000 });
  const after = await levelsOver(second, 500);
  t.equal(after.median, 0, 'silence: no tone is left feeding the channel');
  const e = await caught(() => first.engine.playTestTone(1));
  t.equal((e as DcError).code, 'DC_MEDIA_NOT_RUNNING', 'a stopped engine plays no tone');
});

// --- the engine's speaker choice -------------------------------------------------------------------

/** An engine on the simulated devices plus `extra` speakers, idle, its warnings kept. */
async function engineWith(t: Test, output: SoundOutput, extra: MediaDevice[]) {
  const warnings: Array<{ event?: string; output?: string; speaker?: string }> = [];
  const sink = new Writable({ write: (line: Buffer, _enc, done) => (warnings.push(JSON.parse(line.toString())), done()) });
  const settings = validateConfig({
    media: { video: { size: '640x360' }, audio: { output }, rtp: { host: '127.0.0.1', ...(await loopbackPorts()) } },
  }).media;
  const devices = new SimDeviceWatcher([...simDevices(), ...extra]);
  const engine = new MediaEngine({ settings, devices, log: pino({ level: 'warn' }, sink), screen: 'fake', outputSize: { width: 1280, height: 720 }, send: false });
  t.teardown(() => engine.stop());
  await engine.start();
  const fallbacks = () => warnings.filter((w) => w.event === 'media.speaker_fallback');
  return { engine, devices, fallbacks };
}

t.test('the engine plays through the chosen speaker, follows speakers plugged in while idle, and warns once per fallback', async (t) => {
  const { engine, devices, fallbacks } = await engineWith(t, 'usb', [TV]);
  const inUse = () => engine.status().speaker?.name;
  t.equal(inUse(), TV.name, 'usb asked, none here: the TV plays');
  t.match(fallbacks(), [{ output: 'usb', speaker: TV.name }], 'with one warning');
  engine.injectFault('playout');
  await waitUntil('the playout restarts', () => engine.supervisor('playout').snapshot.restarts === 1 && pipelineState(engine, 'playout') === 'running', { timeoutMs: 5000 });
  t.equal(inUse(), TV.name, 'after a restart: still the TV');
  t.equal(fallbacks().length, 1, 'and no second warning');

  devices.plug(JABRA);
  await waitUntil('the speakerphone plays', () => inUse() === JABRA.name, { timeoutMs: 3000 });
  t.same(engine.status().speaker, { id: JABRA.id, name: JABRA.name, connection: 'usb' }, 'plugged in while idle: the playout moves to it');
  await waitUntil('the playout runs again', () => pipelineState(engine, 'playout') === 'running', { timeoutMs: 5000 });
  devices.unplug(JABRA.id);
  await waitUntil('back to the TV', () => inUse() === TV.name, { timeoutMs: 3000 });
  t.equal(fallbacks().length, 2, 'falling back again is warned again');

  // During a call the playout is not cut for a speaker plugged in: it moves when the call ends.
  engine.setSending(true);
  await waitUntil('the call plays', () => pipelineState(engine, 'playout') === 'running', { timeoutMs: 5000 });
  devices.plug(JABRA);
  await delay(300);
  t.equal(inUse(), TV.name, 'a speakerphone plugged in mid-call waits');
  engine.setSending(false);
  t.equal(inUse(), JABRA.name, 'and plays once the call ends');
});

t.test("auto: the speakerphone before the TV; 'hdmi': the TV", async (t) => {
  const auto = await engineWith(t, 'auto', [TV, JACK, JABRA]);
  t.equal(auto.engine.status().speaker?.name, JABRA.name, 'auto: the USB speakerphone');
  t.equal(auto.fallbacks().length, 0, 'no warning');
  await auto.engine.stop();
  const hdmi = await engineWith(t, 'hdmi', [JABRA, JACK, TV]);
  t.same(hdmi.engine.status().speaker, { id: TV.id, name: TV.name, connection: 'hdmi' }, 'hdmi: the TV, though listed last');
  t.equal(hdmi.fallbacks().length, 0, 'no warning');
});

t.test('the test-tone fleet command plays the tone and names the speaker', async (t) => {
  const h = await startEngine(t, { send: false });
  const replies: OutgoingReply[] = [];
  const router = new CommandRouter({
    deviceId: 'hall-1',
    groups: [],
    commands: mediaCommands({
      media: () => control(h),
      setVolume: async () => undefined,
      notices: { show: async () => ({ until: 0, drawn: false }), clear: async () => undefined },
      publishBinary: async () => false,
      snapshotTopic: (source) => `diemcau/hall-1/snapshot/${source}`,
      identity: () => ({ name: 'hall-1', commune: '', village: '' }),
      identifyLight: () => false,
    }),
    reply: async (r) => void replies.push(r),
    log: createLogger('silent'),
    maxPayloadBytes: 65_536,
  });
  const ask = async (args: object) => {
    await router.handle({ topic: 'diemcau/hall-1/cmd/test-tone', payload: Buffer.from(JSON.stringify(args)) });
    return replies.at(-1)!.body;
  };
  t.match(await ask({}), { ok: true, result: { playing: true, seconds: 3, speaker: 'Simulated speaker' } }, 'default 3 s, naming the speaker');
  await waitUntil('the tone is heard', () => (speakerLevel(h) ?? 0) > TONE_RMS / 2, { timeoutMs: 3000, intervalMs: 10 });
  t.match(await ask({ seconds: 11 }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, '11 s is refused');
  t.match(await ask({ seconds: 1.5 }), { ok: false, error: { code: 'DC_CMD_INVALID' } }, 'whole seconds only');
  t.match(await ask({ seconds: 1 }), { ok: true, result: { playing: true, seconds: 1 } }, '1 s');
});
