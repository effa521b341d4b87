/**
 * A meeting host calls a box from a browser: the call page (web-setup/call, served by
 * `startCallPageServer`) in headless Chromium with its fake camera and microphone logs in to a
 * real mosquitto over WebSockets as its own user (box-style ACL) and calls a built daemon (sim
 * profile) with the box↔box signalling. Chromium decodes the box's H.264 and hears its tone;
 * the box receives Chromium's stream and shows it on its screen; a hang-up on either side ends
 * the call on the other, and a second caller meanwhile is told the box is busy.
 */
import t, { type Test } from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCallPageServer } from '../web-setup/call-page.js';
import { consoleClient, startFleetBroker, startSimBox, type ConsoleClient } from './helpers/fleet.js';
import { freeTcpPort } from './helpers/mosquitto.js';
import { delay, waitUntil } from './helpers/wait.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BOX = 'hall-a';
/** The host's broker user: the ACL's box patterns let it call boxes and nothing else. */
const HOST = 'host-laptop';
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');

/** The host presses Call; resolves once the page and the box are both in the call. */
async function callFromPage(page: Page, fleetConsole: ConsoleClient, what: string): Promise<void> {
  await page.click('#call-button');
  await waitUntil(
    what,
    async () => (await pageCall(page)).state === 'in-call' && stateOf(fleetConsole, BOX)?.call?.state === 'in-call',
    { timeoutMs: 30_000, intervalMs: 200 },
    () => stateOf(fleetConsole, BOX)?.call,
  );
}

async function launchChromium(t: Test): Promise<Browser> {
  // launch() gives each run a fresh temporary profile, removed on close.
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Camera and microphone granted without a prompt; the fake camera is a green picture
      // with a pacman, the fake microphone a beep.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      // The box (loopbackOnly) has only 127.0.0.1 candidates; Chromium leaves loopback out otherwise.
      '--allow-loopback-in-peer-connection',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** What the page exposes as `window.diemcauCall`. */
interface PageCall {
  state: string;
  callId: string | null;
  endReason: string | null;
  pc: {
    getStats(): Promise<{ forEach(f: (s: Json) => void): void }>;
    getSenders(): { track: { kind: string; enabled: boolean } | null }[];
  } | null;
}

interface BrowserStats {
  inVideo: Json | null;
  inAudio: Json | null;
  outVideo: Json | null;
  outAudio: Json | null;
  codecs: Record<string, string>;
}

/** The page's call statistics, read with getStats() in the page. */
function browserStats(page: Page): Promise<BrowserStats | null> {
  return page.evaluate(async () => {
    const pc = (globalThis as unknown as { diemcauCall: PageCall }).diemcauCall.pc;
    if (!pc) return null;
    const out: BrowserStats = { inVideo: null, inAudio: null, outVideo: null, outAudio: null, codecs: {} };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'codec') out.codecs[s.id] = `${s.mimeType} ${s.sdpFmtpLine ?? ''}`.trim();
      else if (s.type === 'inbound-rtp') out[s.kind === 'video' ? 'inVideo' : 'inAudio'] = s;
      else if (s.type === 'outbound-rtp') out[s.kind === 'video' ? 'outVideo' : 'outAudio'] = s;
    });
    return out;
  });
}

const pageCall = (page: Page) =>
  page.evaluate(() => {
    const c = (globalThis as unknown as { diemcauCall: PageCall }).diemcauCall;
    return { state: c.state, callId: c.callId, endReason: c.endReason };
  });

const stateOf = (c: ConsoleClient, id: string) => c.lastOn(`diemcau/${id}/state`)?.json as Json | undefined;

/** Opens the call page for `box` and waits until it has read its config. */
async function openPage(browser: Browser, url: string, box: string, query: Record<string, string> = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}?${new URLSearchParams({ box, ...query }).toString()}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  if (problems.length > 0) throw new Error(`the page failed: ${problems.join('; ')}`);
  return page;
}

interface ScreenShot {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Mean RGB of the middle of the picture (clear of the text on top and the self-view). */
  middle: [number, number, number];
}

/**
 * The box's screen as its `snapshot` command publishes it, decoded by Chromium in `scratch`
 * (a blank page: no JPEG decoder needed in Node). Null while the screen has no frame (its
 * pipeline is rebuilt at the call's frame rate when a call starts or ends).
 */
async function screenSnapshot(c: ConsoleClient, scratch: Page): Promise<ScreenShot | null> {
  const topic = `diemcau/${BOX}/snapshot/screen`;
  const seen = c.seen.filter((m) => m.topic === topic).length;
  const reply = await c.command(BOX, 'snapshot', { source: 'screen' }, 20_000);
  if (reply.ok !== true) {
    if ((reply.error as Json | undefined)?.code === 'DC_MEDIA_NOT_RUNNING') return null;
    throw new Error(`snapshot refused: ${JSON.stringify(reply)}`);
  }
  await waitUntil('the snapshot arrives', () => c.seen.filter((m) => m.topic === topic).length > seen);
  const jpeg = c.lastOn(topic)!.payload;
  const decoded = await scratch.evaluate(async (b64) => {
    const g = globalThis as Json;
    const bytes = Uint8Array.from(g.atob(b64) as string, (ch) => ch.charCodeAt(0));
    const bitmap = await g.createImageBitmap(new g.Blob([bytes], { type: 'image/jpeg' }));
    const canvas = new g.OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const [x, y, w, h] = [0.35 * bitmap.width, 0.3 * bitmap.height, 0.3 * bitmap.width, 0.3 * bitmap.height].map(Math.round) as [number, number, number, number];
    const data = ctx.getImageData(x, y, w, h).data as Uint8ClampedArray;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let k = 0; k < 3; k++) sum[k]! += data[i + k]!;
    const n = data.length / 4;
    return { width: bitmap.width as number, height: bitmap.height as number, middle: sum.map((v) => v / n) as [number, number, number] };
  }, jpeg.toString('base64'));
  return { jpeg, ...decoded };
}

/** Snapshots of the box's screen until one passes `accept`; that one. */
async function waitForScreen(c: ConsoleClient, scratch: Page, what: string, accept: (s: ScreenShot) => boolean): Promise<ScreenShot> {
  const last: { shot: ScreenShot | null } = { shot: null };
  await waitUntil(
    what,
    async () => {
      last.shot = await screenSnapshot(c, scratch);
      return last.shot !== null && accept(last.shot);
    },
    { timeoutMs: 20_000, intervalMs: 500 },
    () => last.shot?.middle,
  );
  return last.shot!;
}

/** Chromium's fake camera: a green picture (with a lighter green pacman). */
const isGreen = ([r, g, b]: [number, number, number]) => g > 100 && g > r + 60 && g > b + 60;

t.test('a host calls a box from Chromium: media both ways, hang-ups both ways, busy', async (t) => {
  const started = performance.now();
  await mkdir(ARTIFACTS, { recursive: true });
  const wsPort = await freeTcpPort();
  // A plain WebSockets listener beside the TLS one; the password file and the ACL apply to
  // every listener (no per_listener_settings).
  const broker = await startFleetBroker(t, [BOX, HOST], [`listener ${wsPort} 127.0.0.1`, 'protocol websockets']);
  const fleetConsole = await consoleClient(t, broker);
  const server = await startCallPageServer({
    host: '127.0.0.1',
    port: 0,
    broker: { wsUrl: `ws://127.0.0.1:${wsPort}`, username: HOST, password: broker.passwords[HOST]! },
  });
  t.teardown(() => server.close());
  // Both started side by side; both settled before going on, so a failure of one still
  // leaves the other registered for teardown.
  const [box, launched] = await Promise.allSettled([startSimBox(t, broker, BOX), launchChromium(t)]);
  if (box.status === 'rejected') throw box.reason;
  if (launched.status === 'rejected') throw launched.reason;
  const browser = launched.value;
  const scratch = await browser.newPage();
  await waitUntil('the box is online', () => stateOf(fleetConsole, BOX)?.call?.available === true, { timeoutMs: 30_000 });

  const page = await openPage(browser, server.url, BOX);
  t.equal(await page.inputValue('#user'), HOST, 'the user id comes from config.json');
  t.equal(await page.inputValue('#ws-url'), `ws://127.0.0.1:${wsPort}`, 'the broker address comes from config.json');
  t.equal(await page.inputValue('#box'), BOX, 'the box id comes from the address');
  const idleScreen = await waitForScreen(fleetConsole, scratch, 'a picture of the idle screen', () => true);
  t.notOk(isGreen(idleScreen.middle), `before the call the box's screen is not green: rgb ${idleScreen.middle.map(Math.round)}`);

  // A wrong password (from the address, over config.json's) is refused by the broker, and said so.
  const refused = await openPage(browser, server.url, BOX, { password: 'not-the-password' });
  await refused.click('#call-button');
  await waitUntil('the wrong password is refused', async () => (await pageCall(refused)).state === 'ended', { timeoutMs: 15_000, intervalMs: 200 });
  t.match(await pageCall(refused), { state: 'ended', endReason: 'broker' }, 'a wrong password ends the attempt: broker');
  t.match(await refused.innerText('#status'), /Không kết nối được máy chủ/, 'the page says the broker refused');
  t.equal(stateOf(fleetConsole, BOX)?.call?.state, 'idle', 'the box heard nothing');
  await refused.close();

  // --- the first call: media both ways ---
  await callFromPage(page, fleetConsole, 'the page and the box are in the call');
  const first = await pageCall(page);
  t.match(stateOf(fleetConsole, BOX)?.call, { peer: HOST, direction: 'incoming', callId: first.callId }, 'the box answered the page by itself');
  t.match(await page.innerText('#status'), /Đang trong cuộc gọi với hall-a\s+In call with hall-a/, 'the page says it is in the call');

  // Chromium decodes the box's H.264 picture and hears its audio.
  let a: BrowserStats | null = null;
  await waitUntil(
    'Chromium decodes the box and hears it',
    async () => {
      a = await browserStats(page);
      return (a?.inVideo?.framesDecoded ?? 0) > 10 && (a?.inAudio?.totalAudioEnergy ?? 0) > 0;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
    () => ({ video: a?.inVideo?.framesDecoded, audio: a?.inAudio?.totalAudioEnergy }),
  );
  const before = a!;
  await delay(2000);
  const after = (await browserStats(page))!;
  const inV = after.inVideo!;
  const inA = after.inAudio!;
  t.ok(
    inV.framesDecoded > before.inVideo!.framesDecoded + 10,
    `Chromium's framesDecoded rose from ${before.inVideo!.framesDecoded} to ${inV.framesDecoded} in 2 s`,
  );
  t.match(after.codecs[inV.codecId], /^video\/H264 .*packetization-mode=1/, `Chromium decodes H.264 from the box (${after.codecs[inV.codecId]}; ${inV.decoderImplementation})`);
  t.ok(inV.frameWidth > 0 && inV.frameHeight > 0, `a ${inV.frameWidth}×${inV.frameHeight} picture`);
  t.ok(inA.audioLevel > 0, `Chromium hears the box: audioLevel ${inA.audioLevel}`);
  t.ok(inA.totalAudioEnergy > before.inAudio!.totalAudioEnergy, `totalAudioEnergy rose from ${before.inAudio!.totalAudioEnergy} to ${inA.totalAudioEnergy}`);
  const outV = after.outVideo!;
  t.match(after.codecs[outV.codecId], /^video\/H264/, `Chromium sends H.264 (${outV.encoderImplementation})`);
  t.ok(outV.framesEncoded > 0 && (after.outAudio?.packetsSent ?? 0) > 0, `Chromium sent ${outV.framesEncoded} video frames and ${after.outAudio?.packetsSent} audio packets`);

  // The box receives Chromium's media and plays it: packets over the bridges, frames on the
  // screen and audio buffers on the speaker keep rising.
  const diagnostics = async () => (await fleetConsole.command(BOX, 'diagnostics', { logLines: 0 })).result as Json;
  let d1: Json = {};
  await waitUntil(
    'the box receives Chromium',
    async () => {
      d1 = await diagnostics();
      return d1.call?.packets?.videoReceived > 100 && d1.call?.packets?.audioReceived > 50;
    },
    { timeoutMs: 20_000, intervalMs: 500 },
    () => d1.call?.packets,
  );
  await delay(2000);
  const d2 = await diagnostics();
  const [p1, p2] = [d1.call.packets as Json, d2.call.packets as Json];
  t.ok(p2.videoReceived > p1.videoReceived, `the box's video packets from Chromium rose from ${p1.videoReceived} to ${p2.videoReceived}`);
  t.ok(p2.audioReceived > p1.audioReceived, `the box's audio packets from Chromium rose from ${p1.audioReceived} to ${p2.audioReceived}`);
  const [r1, r2] = [d1.media.rendered as Json, d2.media.rendered as Json];
  t.ok(r2.videoFrames > r1.videoFrames, `the box's screen rendered ${r2.videoFrames - r1.videoFrames} frames in 2 s`);
  // The speaker plays all the time (silence between voices, through the mixer): what shows
  // Chromium is heard is its audio passing the jitter buffer on the way to the decoder.
  const [a1, a2] = [(d1.media.received as Json).audio.packets as number, (d2.media.received as Json).audio.packets as number];
  t.ok(a2 > a1, `the box's audio jitter buffer passed ${a2 - a1} of Chromium's packets to the decoder in 2 s`);
  // The screen renders its black background with or without a far end: what shows the box
  // decodes Chromium is Chromium's green camera picture in the middle of the box's screen.
  const inCallScreen = await waitForScreen(fleetConsole, scratch, 'the box shows Chromium’s picture', (shot) => isGreen(shot.middle));
  t.ok(isGreen(inCallScreen.middle), `the box's screen (${inCallScreen.width}×${inCallScreen.height}) shows Chromium's green picture: rgb ${inCallScreen.middle.map(Math.round)}`);
  await writeFile(join(ARTIFACTS, 'call-box-screen.jpg'), inCallScreen.jpeg);
  await page.screenshot({ path: join(ARTIFACTS, 'call-page.png') });

  // Mute stops the microphone track the page sends; unmute brings it back.
  const micEnabled = () =>
    page.evaluate(() => (globalThis as unknown as { diemcauCall: PageCall }).diemcauCall.pc!.getSenders().find((s) => s.track?.kind === 'audio')!.track!.enabled);
  await page.click('#mute-button');
  t.equal(await page.getAttribute('#mute-button', 'aria-pressed'), 'true', 'the mute button shows it is pressed');
  t.equal(await micEnabled(), false, 'muted: the microphone track is off');
  await page.click('#mute-button');
  t.equal(await micEnabled(), true, 'unmuted: the microphone track is on again');

  // --- the host hangs up: the box ends the call as remote-left ---
  await page.click('#hangup-button');
  await waitUntil('the box hears the hang-up', () => stateOf(fleetConsole, BOX)?.call?.state === 'idle', { timeoutMs: 10_000 });
  t.match(stateOf(fleetConsole, BOX)?.call?.lastEnd, { reason: 'remote-left' }, 'the box ended the call: remote-left');
  t.match(await pageCall(page), { state: 'ended', endReason: 'left', callId: null }, 'the page ended the call: left');
  t.match(await page.innerText('#status'), /Đã kết thúc: Bạn đã kết thúc cuộc gọi\s+Ended: You hung up/, 'the page says the host hung up');

  // --- a second call works; a second caller meanwhile hears "busy" ---
  await callFromPage(page, fleetConsole, 'the second call is on');
  const second = await pageCall(page);
  t.not(second.callId, first.callId, 'a new call id');
  t.equal(stateOf(fleetConsole, BOX)?.call?.callId, second.callId, 'the box is in the second call');
  let s: BrowserStats | null = null;
  await waitUntil('Chromium decodes the box again', async () => ((s = await browserStats(page))?.inVideo?.framesDecoded ?? 0) > 10, {
    timeoutMs: 20_000,
    intervalMs: 250,
  });
  t.ok(s!.inVideo!.framesDecoded > 10, `the second call decodes too (${s!.inVideo!.framesDecoded} frames)`);

  const other = await openPage(browser, server.url, BOX);
  await other.click('#call-button');
  await waitUntil('the second caller is turned away', async () => (await pageCall(other)).state === 'ended', { timeoutMs: 20_000, intervalMs: 200 });
  t.match(await pageCall(other), { state: 'ended', endReason: 'busy' }, 'a second caller: the box is busy');
  t.match(await other.innerText('#status'), /Điểm cầu đang bận/, 'the page says the box is busy');
  t.equal(stateOf(fleetConsole, BOX)?.call?.callId, second.callId, 'the call under way is untouched');
  await other.close();

  // --- the box leaves: the page shows the call ended by the box ---
  t.match(await fleetConsole.command(BOX, 'leave'), { ok: true, result: { state: 'idle', lastEnd: { reason: 'left' } } });
  await waitUntil('the page hears the box leave', async () => (await pageCall(page)).state === 'ended', { timeoutMs: 10_000, intervalMs: 200 });
  t.match(await pageCall(page), { state: 'ended', endReason: 'remote-left' }, 'the page ended the call: remote-left');
  t.match(await page.innerText('#status'), /Đã kết thúc: Điểm cầu đã kết thúc cuộc gọi\s+Ended: The box ended the call/, 'the page says the box ended the call');
  t.comment(`test body took ${Math.round((performance.now() - started) / 1000)} s`);
});
