/**
 * The setup page's API against built daemons in the sim profile, with a real broker: the camera
 * preview and the microphone through the real media worker, a recording played back, the test
 * call to the commune's test point (another box) with the link's figures, the log download and
 * a reboot (simulated power).
 */
import t from 'tap';
import { parseJpeg } from './helpers/jpeg.js';
import { startFleetBroker, startSimBox } from './helpers/fleet.js';
import { setupClient } from './helpers/setup-client.js';
import { waitUntil } from './helpers/wait.js';

t.test('from the setup page: camera preview, microphone, recording, test call, log, reboot', async (t) => {
  const broker = await startFleetBroker(t, ['hall-a', 'hall-b']);
  const [hallA] = await Promise.all([startSimBox(t, broker, 'hall-a', { calls: { testCall: { peer: 'hall-b' } } }), startSimBox(t, broker, 'hall-b')]);
  const listening = hallA.logs.find((r) => r.event === 'setup.listening');
  t.ok(listening, 'hall-a serves its setup page');
  const codeOnTv = [...hallA.logs].reverse().find((r) => r.event === 'setup.code')?.code as string;
  const page = setupClient('127.0.0.1', () => listening!.port as number);
  t.equal((await page.claim(codeOnTv)).status, 200, 'claimed with the code from the TV');

  // The camera preview: the capture opens without a call, and a JPEG comes back.
  t.equal((await page.call('GET', '/api/camera.jpg')).status, 503, 'no preview yet: no camera picture');
  t.match((await page.call('POST', '/api/preview', undefined, page.withCsrf())).json, { seconds: 20 }, 'preview asked for');
  let picture = await page.call('GET', '/api/camera.jpg');
  await waitUntil('a camera picture', async () => (picture = await page.call('GET', '/api/camera.jpg')).status === 200, { timeoutMs: 15_000, intervalMs: 300 });
  const jpeg = parseJpeg(picture.body);
  t.ok(jpeg.width > 0 && jpeg.width <= 640, `a JPEG of ${picture.body.length} bytes, ${jpeg.width}×${jpeg.height}: at most 640 wide for the phone`);
  t.equal(picture.headers['content-type'], 'image/jpeg');

  // The microphone's level: the sim microphone is a test tone, so it is well above silence.
  let level: { rmsDb: number; peakDb: number } | null = null;
  await waitUntil('a microphone level', async () => (level = (await page.call('GET', '/api/microphone')).json.level) !== null, { timeoutMs: 10_000, intervalMs: 200 });
  t.ok(level!.rmsDb > -40 && level!.rmsDb <= 0, `microphone at ${level!.rmsDb.toFixed(1)} dBFS RMS`);
  t.ok(level!.peakDb >= level!.rmsDb, 'peak ≥ RMS');
  const recorded = await page.call('POST', '/api/recording', { seconds: 1 }, page.withCsrf());
  t.match(recorded.json, { seconds: 1 }, 'one second recorded');
  t.ok(recorded.json.peakDb > -40, `with sound in it (peak ${recorded.json.peakDb} dBFS)`);
  t.match((await page.call('POST', '/api/recording/play', undefined, page.withCsrf())).json, { playing: true }, 'played back on the speaker');

  // The test call: hall-a calls hall-b (calls.testCall) and hangs up by itself.
  const started = await page.call('POST', '/api/test-call', { seconds: 6 }, page.withCsrf());
  t.equal(started.status, 200, 'test call started');
  t.match(started.json, { phase: 'in-call', target: 'hall-b' }, 'and is up');
  t.equal((await page.call('POST', '/api/test-call', { seconds: 6 }, page.withCsrf())).status, 409, 'a second one while it runs: 409');
  let report: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
  await waitUntil('the test call ends', async () => ['passed', 'failed'].includes((report = (await page.call('GET', '/api/test-call')).json).phase), { timeoutMs: 30_000, intervalMs: 500 }, () => report);
  t.equal(report.phase, 'passed', `the test call passed (${JSON.stringify(report.error)})`);
  t.ok(report.joinMs > 0 && report.joinMs < 20_000, `joined in ${report.joinMs} ms`);
  t.ok(report.link.audioReceived, 'the far end was heard');
  t.ok(report.link.receivedVideo.width > 0, `its picture arrived: ${report.link.receivedVideo.width}×${report.link.receivedVideo.height}`);
  t.ok(typeof report.link.rttMs === 'number', `round trip ${report.link.rttMs} ms`);
  await hallA.waitForLog('hall-a left the test call', (r) => r.event === 'setup.test_call_done' && r.passed === true);

  // The log as a file, and a reboot (the sim profile's power only logs it).
  const logs = await page.call('GET', '/api/logs');
  t.match(logs.headers['content-disposition'], /hall-a-/, 'the log file is named after the box');
  t.match(logs.text, /"event":"setup.test_call_done"/, 'and holds what just happened');
  t.match((await page.call('POST', '/api/reboot', undefined, page.withCsrf())).json, { rebooting: true });
  await hallA.waitForLog('the reboot', (r) => r.event === 'system.reboot' && r.reason === 'setup page');
});
