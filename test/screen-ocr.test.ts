/**
 * Every TV screen drawn by the real compositor (the playout pipeline of a media engine on
 * simulated devices), taken from the screen sink, kept as a PNG in test-artifacts/screens/, and
 * read back: Tesseract with its Vietnamese data must find the village's name, the setup code and
 * the screen's words, and zbarimg must read the setup link from the QR code.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { renderScreen, type ScreenView, type SetupAccess, type Site } from '../daemon/screen/art.js';
import { pipelineState, startEngine, type EngineHarness } from './helpers/engine.js';
import { lastSample, savePng } from './helpers/pictures.js';
import type { Gst } from '../daemon/media/gst.js';
import { waitUntil } from './helpers/wait.js';

const run = promisify(execFile);
const W = 1280;
const H = 720;
const SITE: Site = { name: 'Điểm cầu Đông Xá', village: 'Thôn Đông Xá', commune: 'Xã Hòa Bình' };
const SETUP: SetupAccess = { address: 'http://192.168.1.20:8080', link: 'http://192.168.1.20:8080/?code=482913', code: '482913' };
const NOW = new Date(2026, 10, 23, 14, 5);

/** OCR text, normalised: NFC (Tesseract may give decomposed marks), one space between words. */
async function ocr(png: string): Promise<string> {
  const { stdout } = await run('tesseract', [png, 'stdout', '-l', 'vie+eng', '--psm', '11'], { timeout: 60_000 });
  return stdout.normalize('NFC').replace(/\s+/g, ' ').trim();
}

async function qrText(png: string): Promise<string> {
  const { stdout } = await run('zbarimg', ['--quiet', '--raw', png], { timeout: 30_000 });
  return stdout.trim();
}

/**
 * The first frame the compositor made after the art was set: the screen queue holds a few
 * frames for their display time, so the sink's last frame may still be an older one. Frames
 * carry running time; the art's overlays change synchronously, so a frame stamped after that
 * moment was blended with the new art.
 */
async function screenAfter(h: EngineHarness, since: bigint): Promise<Gst.Sample> {
  let sample: Gst.Sample | null = null;
  await waitUntil(
    'the screen shows the new art',
    () => {
      sample = lastSample(h.pipeline('playout').getByName('screen'));
      const pts = sample?.getBuffer()?.pts;
      return pts !== undefined && BigInt(pts) > since;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  return sample!;
}

function runningTime(pipeline: Gst.Pipeline): bigint {
  const clock = pipeline.getClock();
  if (!clock) throw new Error('the playout has no clock yet');
  return BigInt(clock.getTime()) - BigInt(pipeline.getBaseTime());
}

/** Draws `view`, keeps the picture, and returns what OCR reads on it. */
async function drawAndRead(t: Test, h: EngineHarness, name: string, view: ScreenView): Promise<{ text: string; png: string }> {
  h.engine.setScreenArt(renderScreen(view, { width: W, height: H }));
  const sample = await screenAfter(h, runningTime(h.pipeline('playout')));
  await mkdir('test-artifacts/screens', { recursive: true });
  const png = await savePng(sample, W, H, `screens/${name}.png`);
  const text = await ocr(png);
  t.comment(`${name}: ${png}\n  OCR: ${text}`);
  return { text, png };
}

/**
 * Vietnamese without its five tone marks (the vowel marks â, ă, ơ, ư and đ stay): Tesseract's
 * `vie` model sometimes takes one tone for another on large bold text ("Đông" read "Đồng"), so
 * phrases are matched tone-insensitively; the comment says which were read exactly.
 */
const TONES = /[\u0300\u0301\u0303\u0309\u0323]/g;
const toneless = (s: string) => s.normalize('NFD').replace(TONES, '').normalize('NFC');

function reads(t: Test, text: string, expected: string[]): void {
  const exact = expected.filter((phrase) => text.includes(phrase));
  t.comment(`read exactly, tones included: ${exact.length} of ${expected.length}`);
  for (const phrase of expected) t.ok(toneless(text).includes(toneless(phrase)), `OCR reads "${phrase}"`);
}

/**
 * Instructions (not names): matched with no marks at all, đ as d; Tesseract reads "để" as "dé"
 * on some renderings. The names and the code are checked with `reads`.
 */
const bare = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, (c) => (c === 'đ' ? 'd' : 'D'));
function readsWords(t: Test, text: string, expected: string[]): void {
  for (const phrase of expected) t.ok(bare(text).includes(bare(phrase)), `OCR reads the words "${phrase}"`);
}

t.test('every TV screen, through the real compositor, reads back with OCR', async (t) => {
  // A black camera looped back at 720p: the screen is the art alone, or the art over black.
  const h = await startEngine(t, { pattern: 'black', video: { size: '1280x720', encoders: ['x264enc'] } });
  await waitUntil('the screen has a frame', () => lastSample(h.pipeline('playout').getByName('screen')) !== null, { timeoutMs: 10_000 });

  t.test('idle: the village, the commune, the setup address, the code, and a QR code that opens it', async (t) => {
    const { text, png } = await drawAndRead(t, h, 'idle', {
      kind: 'idle',
      site: SITE,
      now: NOW,
      network: 'ok',
      broker: 'online',
      nextMeeting: { title: 'Họp thôn tháng 12', startsAt: new Date(2026, 11, 1, 8, 0) },
      setup: SETUP,
    });
    reads(t, text, ['Thôn Đông Xá', 'Xã Hòa Bình', '14:05', 'Mã cài đặt', '192.168.1.20:8080', 'Họp thôn tháng 12']);
    t.match(text.replace(/\s/g, ''), /482913/, 'the setup code');
    t.equal(await qrText(png), SETUP.link, 'the QR code opens the setup page with the code');
  });

  t.test('connecting: what is happening and with whom', async (t) => {
    const { text } = await drawAndRead(t, h, 'connecting', { kind: 'connecting', site: SITE, peer: 'Ủy ban xã Hòa Bình' });
    reads(t, text, ['Đang kết nối', 'Connecting', 'Ủy ban xã Hòa Bình', 'Thôn Đông Xá']);
  });

  t.test('a call ringing: who calls and how to answer', async (t) => {
    const { text } = await drawAndRead(t, h, 'ringing', { kind: 'ringing', site: SITE, peer: 'Thôn Đoài' });
    reads(t, text, ['Thôn Đoài', 'Thôn Đông Xá']);
    readsWords(t, text, ['Cuộc gọi đến', 'Bấm OK trên điều khiển TV để trả lời']);
  });

  t.test('in a call: who has the floor, the muted microphone, the poor link and a message band', async (t) => {
    const { text } = await drawAndRead(t, h, 'call', { kind: 'call', speaker: 'Ủy ban xã', micMuted: true, quality: 'poor', notice: 'Họp lúc 8 giờ sáng mai' });
    reads(t, text, ['Đang phát biểu', 'Ủy ban xã', 'Micrô đang tắt', 'Đường truyền yếu', 'Họp lúc 8 giờ sáng mai']);
  });

  t.test('a message from the fleet console, full screen', async (t) => {
    const message = 'Mời bà con thôn Đông Xá đến nhà văn hóa lúc 19 giờ để họp về đường điện.';
    const { text } = await drawAndRead(t, h, 'message', { kind: 'message', site: SITE, text: message, now: NOW });
    reads(t, text, ['Thông báo', 'Mời bà con thôn Đông Xá', 'nhà văn hóa', 'Thôn Đông Xá']);
  });

  t.test('identify: the box name, its village and its id', async (t) => {
    const { text } = await drawAndRead(t, h, 'identify', { kind: 'identify', site: SITE, boxId: 'dong-xa-01' });
    reads(t, text, ['Điểm cầu Đông Xá', 'Thôn Đông Xá', 'dong-xa-01']);
  });

  t.test('error: no network, with what to check and the setup code', async (t) => {
    const { text } = await drawAndRead(t, h, 'error-no-network', { kind: 'error', problem: 'no-network', site: SITE, boxId: 'dong-xa-01', setup: SETUP });
    reads(t, text, ['Không có mạng', 'No network', 'dong-xa-01']);
    t.match(text.replace(/\s/g, ''), /482913/, 'the setup code');
  });

  t.test('no network, the setup hotspot open: its name and password, a QR code that joins it, then the page and code', async (t) => {
    const hotspot = { ssid: 'diemcau-dong-xa-01', password: 'k7m2p9x4ab', qr: 'WIFI:T:WPA;S:diemcau-dong-xa-01;P:k7m2p9x4ab;;' };
    const access = { ...SETUP, address: 'http://10.42.0.1:8080', link: 'http://10.42.0.1:8080/?code=482913' };
    const { text, png } = await drawAndRead(t, h, 'error-no-network-hotspot', { kind: 'error', problem: 'no-network', site: SITE, boxId: 'dong-xa-01', setup: access, hotspot });
    reads(t, text, ['Không có mạng', 'diemcau-dong-xa-01', 'k7m2p9x4ab', '10.42.0.1:8080']);
    readsWords(t, text, ['Nối điện thoại vào Wi-Fi']);
    t.match(text.replace(/\s/g, ''), /482913/, 'the setup code');
    t.equal(await qrText(png), hotspot.qr, "the QR code joins the box's Wi-Fi");
  });

  t.test('the camera preview from the setup page: a band over the picture says so', async (t) => {
    const { text } = await drawAndRead(t, h, 'preview', { kind: 'preview' });
    readsWords(t, text, ['Xem thử camera', 'Camera preview']);
  });

  t.test('error: the commune server refused the credentials', async (t) => {
    const { text } = await drawAndRead(t, h, 'error-broker-refused', { kind: 'error', problem: 'broker-refused', site: SITE, boxId: 'dong-xa-01', setup: null });
    reads(t, text, ['Máy chủ xã từ chối hộp này', 'cán bộ CNTT', 'dong-xa-01']);
  });

  t.test('the "no camera" slate the far end and the self-view get', async (t) => {
    h.devices.unplug('sim:camera');
    await waitUntil('the slate runs', () => pipelineState(h.engine, 'slate') === 'running', { timeoutMs: 5000 });
    let sample: Gst.Sample | null = null;
    await waitUntil('the slate has a frame', () => (sample = lastSample(h.pipeline('slate').getByName('sendsink'))) !== null, { timeoutMs: 5000 });
    const png = await savePng(sample!, W, H, 'screens/slate-no-camera.png');
    const text = await ocr(png);
    t.comment(`slate: ${png}\n  OCR: ${text}`);
    reads(t, text, ['Không có camera', 'No camera']);
  });
});
