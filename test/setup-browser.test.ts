/**
 * The first-run flow as a village cadre does it, on a phone-sized headless Chromium (Debian's,
 * through playwright-core) against the built daemon in the sim profile: the setup code from the
 * TV, a new admin password, the site and the commune's broker (a real TLS mosquitto with the
 * fleet ACL), then the status page shows the broker connected. Every request the page makes
 * must go to the box itself; screenshots of each step are kept in test-artifacts/setup/.
 */
import t from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { mergePatch } from '../daemon/config/merge.js';
import { DAEMON, runNode, simDaemonConfig } from './helpers/daemon.js';
import { startFleetBroker } from './helpers/fleet.js';
import { ARTIFACTS } from './helpers/pictures.js';

t.test('first run from a phone: setup code, password, site and broker, status connected', async (t) => {
  const broker = await startFleetBroker(t, ['hall-w']);
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-setup-browser-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  // A fresh box: no broker yet (the image carries the commune's CA certificate).
  await writeFile(path, JSON.stringify(mergePatch(await simDaemonConfig(), { device: { id: 'hall-w' }, fleet: { caFile: broker.caFile } })));
  const daemon = runNode(DAEMON, ['--config', path, '--screen', 'fake']);
  t.teardown(() => daemon.stop());
  const listening = await daemon.waitForLog('the setup page listens', (r) => r.event === 'setup.listening');
  const origin = `http://127.0.0.1:${listening.port as number}`;
  const codeOnTv = () => [...daemon.logs].reverse().find((r) => r.event === 'setup.code')?.code as string;
  await daemon.waitForLog('the idle screen with the code', (r) => r.event === 'screen.shown' && r.screen === 'idle');

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  // A mid-range Android phone.
  const context = await browser.newContext({ viewport: { width: 393, height: 851 }, deviceScaleFactor: 2.75, isMobile: true, hasTouch: true, locale: 'vi-VN' });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  const shots = join(ARTIFACTS, 'setup');
  await mkdir(shots, { recursive: true });
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  // Opened from a QR code photographed earlier: its code is filled in, but is no longer valid.
  await page.goto(`${origin}/?code=000000`);
  await page.locator('#claim').waitFor({ state: 'visible' });
  t.equal(await page.inputValue('#claim [name=code]'), '000 000', "the QR code's setup code is filled in");
  await shot('1-claim');
  // A wrong code first: the page says so, in Vietnamese.
  await page.fill('#claim [name=password]', 'mat-khau-thon-1');
  await page.fill('#claim [name=again]', 'mat-khau-thon-1');
  await page.click('#claim button');
  await page.locator('#message').waitFor({ state: 'visible' });
  t.match(await page.textContent('#message'), /Sai mã cài đặt/, 'a wrong code is explained');
  // The code as the TV shows it, with its space.
  const code = codeOnTv();
  await page.fill('#claim [name=code]', `${code.slice(0, 3)} ${code.slice(3)}`);
  await page.click('#claim button');
  await page.locator('#site').waitFor({ state: 'visible' });
  await shot('2-site');
  await page.fill('#site-form [name=name]', 'Nhà văn hoá thôn Tây');
  await page.fill('#site-form [name=village]', 'Thôn Tây');
  await page.fill('#site-form [name=commune]', 'Xã Sơn Thủy');
  await page.fill('#site-form [name=url]', broker.url);
  await page.fill('#site-form [name=brokerPassword]', broker.passwords['hall-w']!);
  await page.click('#site-form button');
  await page.locator('#status').waitFor({ state: 'visible' });
  await page.locator('#status-list[data-broker=online]').waitFor({ timeout: 30_000 });
  await shot('3-status');
  const status = await page.textContent('#status-list');
  t.match(status, /Thôn Tây/, 'the status page names the site');
  t.match(status, /đã kết nối · connected/, 'and shows the broker connected');
  await daemon.waitForLog('the daemon joined the fleet with those settings', (r) => r.event === 'fleet.connected');

  // Signed out and back in with the new password.
  await page.click('#logout');
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#login [name=password]', 'mat-khau-thon-1');
  await page.click('#login button');
  await page.locator('#status').waitFor({ state: 'visible' });
  await shot('4-signed-in');

  // The network: a scan lists the hall's Wi-Fi (the sim profile's), a wrong password is
  // explained, the right one joins.
  await page.click('nav [data-view=network]');
  await page.locator('#network-list dd').first().waitFor();
  t.match(await page.textContent('#network-list'), /eth0.*đã kết nối/s, 'the cable is connected');
  await page.click('#wifi-scan');
  await page.locator('#wifi-list button').first().waitFor();
  const networks = await page.locator('#wifi-list button').allTextContents();
  t.match(networks[0], /Nha Van Hoa Thon Dong — 78%/, `the strongest first: ${networks.join(' | ')}`);
  t.equal(networks.filter((n) => n.startsWith('Nha Van Hoa Thon Dong')).length, 1, 'one line per network');
  await page.locator('#wifi-list button').first().click();
  await page.fill('#wifi-join [name=password]', 'sai-mat-khau');
  await page.click('#wifi-join button');
  await page.locator('#message:has-text("không kết nối được")').waitFor();
  await page.fill('#wifi-join [name=password]', 'thondong2024');
  await page.click('#wifi-join button');
  await page.locator('#message:has-text("Đã kết nối")').waitFor();
  await page.locator('#network-list:has-text("Nha Van Hoa Thon Dong")').waitFor();
  await shot('5-network');

  // Camera and sound: the preview shows the camera picture, the meter hears the microphone.
  await page.click('nav [data-view=media]');
  // Page-side functions reach the DOM through globalThis (this project's TypeScript has no DOM
  // types); a string would be eval'd in the page, which its CSP rightly forbids.
  await page.waitForFunction(() => {
    const img = (globalThis as unknown as { document: { getElementById(id: string): { complete: boolean; naturalWidth: number } } }).document.getElementById('camera-picture');
    return img.complete && img.naturalWidth > 0;
  }, undefined, { timeout: 20_000 });
  const picture = await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { naturalWidth: number } } }).document.getElementById('camera-picture').naturalWidth);
  t.equal(picture, 640, 'the camera preview is shown, 640 wide');
  await page.waitForFunction(() => Number((globalThis as unknown as { document: { getElementById(id: string): { value: number } } }).document.getElementById('mic-meter').value) > -40, undefined, { timeout: 10_000 });
  t.match(await page.textContent('#mic-level'), /-1\d dB/, 'the microphone meter moves with the sim microphone');
  await daemon.waitForLog('the TV shows the camera for framing', (r) => r.event === 'screen.shown' && r.screen === 'preview');
  await shot('6-camera');

  // The system view names the version; the log downloads.
  await page.click('nav [data-view=system]');
  await page.locator('#system-list dd').first().waitFor();
  t.match(await page.textContent('#system-list'), /hall-w/, 'the box id');
  const download = await Promise.all([page.waitForEvent('download'), page.click('#logs')]);
  t.match(download[0].suggestedFilename(), /^hall-w-\d{4}-\d\d-\d\d\.log$/, `the log downloads as ${download[0].suggestedFilename()}`);
  await shot('7-system');

  // blob: URLs are the camera's JPEGs from the box, shown from memory: the box's own origin.
  const foreign = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith(`blob:${origin}/`));
  t.same(foreign, [], `the page made ${requests.length} requests, all to the box itself`);
  t.comment(`screenshots in ${shots}`);
});
