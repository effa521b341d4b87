/**
 * The setup page's first load on a phone over a poor link: bytes transferred and the time until
 * the page can be used (its first form shown, after its script asked the box for the session),
 * on Debian's Chromium with DevTools network throttling (Slow 4G-like: 150 ms, 1.6 Mbit/s down,
 * 750 kbit/s up) and CPU throttling (4× slower). Target: under 150 KB and under 2 s.
 *
 *   npm run bench:setup    (or: node dist/bench/setup-page.js [--runs 5] [--cpu 4] [--json])
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { ConfigStore } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';
import { SetupCode } from '../daemon/setup/access.js';
import { AdminPassword } from '../daemon/setup/password.js';
import { SetupServer } from '../daemon/setup/server.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, cpu: { type: 'string', default: '4' }, json: { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);
const CPU = Number(values.cpu);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`);
if (!(CPU >= 1)) throw new Error(`--cpu must be a slowdown factor ≥ 1, got ${values.cpu}`);

const dir = await mkdtemp(join(tmpdir(), 'diemcau-bench-setup-'));
const log = createLogger('silent');
const path = join(dir, 'config.json');
await writeFile(path, JSON.stringify({ version: 1, profile: 'sim' }));
const config = new ConfigStore({ path, explicit: true, log });
await config.load();
const server = new SetupServer({
  host: '127.0.0.1',
  port: 0,
  config,
  stateDir: dir,
  password: new AdminPassword(join(dir, 'admin-password.json')),
  code: new SetupCode(),
  box: { status: () => ({}) },
  log,
});
await server.start();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });

const results: Array<{ bytes: number; requests: number; interactiveMs: number }> = [];
try {
  for (let i = 0; i < RUNS; i++) {
    // A new context each run: nothing cached, as on the phone's first visit.
    const context = await browser.newContext({ viewport: { width: 393, height: 851 }, deviceScaleFactor: 2.75, isMobile: true });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8) * 0.9, uploadThroughput: (750e3 / 8) * 0.9 });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU });
    let bytes = 0;
    let requests = 0;
    cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
      bytes += e.encodedDataLength;
      requests++;
    });
    const start = performance.now();
    await page.goto(`http://127.0.0.1:${server.port}/`);
    // Usable: the script ran, asked the box whether it is signed in, and showed a form.
    await page.locator('#claim').waitFor({ state: 'visible' });
    const interactiveMs = performance.now() - start;
    // The last response's loadingFinished may trail the form by a moment.
    await page.waitForTimeout(200);
    results.push({ bytes, requests, interactiveMs });
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = {
  runs: RUNS,
  cpuThrottle: CPU,
  bytes: median(results.map((r) => r.bytes)),
  requests: median(results.map((r) => r.requests)),
  interactiveMsMedian: median(results.map((r) => r.interactiveMs)),
  interactiveMsMax: Math.max(...results.map((r) => r.interactiveMs)),
};
if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, results }, null, 2)}\n`);
else {
  process.stdout.write(`setup page, first load on a throttled phone (150 ms, 1.6 Mbit/s, CPU ×${CPU}), ${RUNS} runs\n`);
  process.stdout.write(`  transferred   ${(summary.bytes / 1024).toFixed(1)} KB in ${summary.requests} requests (target < 150 KB)\n`);
  process.stdout.write(`  interactive   median ${summary.interactiveMsMedian.toFixed(0)} ms, max ${summary.interactiveMsMax.toFixed(0)} ms (target < 2000 ms)\n`);
}
