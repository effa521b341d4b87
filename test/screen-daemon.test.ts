/**
 * The built daemon's TV: display hotplug through a fake sysfs tree (a Pi 4's, copied and then
 * rewritten as a person unplugs the TV and plugs another in), the screen rebuilt in the mode
 * chosen from each TV's EDID, and the screen following the box's state, all seen from the
 * fleet console (state, events, a snapshot of the picture) and the daemon's log.
 */
import t, { type Test } from 'tap';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { mergePatch } from '../daemon/config/merge.js';
import { DAEMON, runNode, simDaemonConfig, type RunningProcess } from './helpers/daemon.js';
import { boxConfig, consoleClient, startFleetBroker, type FleetBroker } from './helpers/fleet.js';
import { parseJpeg } from './helpers/jpeg.js';
import { waitUntil } from './helpers/wait.js';
import { buildEdid, TV_720P } from './fixtures/display/edids.js';
import { PROJECT_ROOT } from './helpers/project.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startBox(t: Test, broker: FleetBroker, id: string, env: NodeJS.ProcessEnv, extra: object = {}): Promise<RunningProcess> {
  const dir = await tempDir(t, `diemcau-screen-${id}-`);
  const path = join(dir, 'config.json');
  const fleet = await boxConfig(broker, id, dir, { fleet: { keepaliveS: 5, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } } });
  await writeFile(path, JSON.stringify(mergePatch(mergePatch(await simDaemonConfig(), fleet), extra)));
  const daemon = runNode(DAEMON, ['--config', path, '--screen', 'fake'], env);
  t.teardown(() => daemon.stop());
  return daemon;
}

t.test('display hotplug: the mode from the EDID, the TV unplugged, another TV plugged in and the picture back in its mode', async (t) => {
  const broker = await startFleetBroker(t, ['hall-d']);
  const console = await consoleClient(t, broker);
  // A Pi 4's /sys with a 1080p TV on HDMI-A-1 (test/fixtures/display/README.md).
  const root = await tempDir(t, 'diemcau-sysfs-');
  await cp(join(PROJECT_ROOT, 'test/fixtures/display/pi4-root'), root, { recursive: true });
  const connector = join(root, 'sys/class/drm/card1-HDMI-A-1');
  const daemon = await startBox(t, broker, 'hall-d', { DIEMCAU_HOST_ROOT: root });
  const state = () => console.lastOn('diemcau/hall-d/state')?.json as Json | undefined;
  const events = () => console.seen.filter((m) => m.topic === 'diemcau/hall-d/events').map((m) => m.json as Json);

  await waitUntil('the screen is rebuilt at 1080p', () => state()?.display?.output?.width === 1920, { timeoutMs: 40_000 }, () => state()?.display);
  t.match(state()!.display, { output: { width: 1920, height: 1080 }, connectors: [{ connector: 'card1-HDMI-A-1', status: 'connected', tv: 'PHILIPS FHD', mode: { width: 1920, height: 1080 } }] }, 'the state names the TV and its mode');
  t.match(events().find((e) => e.type === 'tv-connected'), { connector: 'card1-HDMI-A-1', tv: 'PHILIPS FHD', mode: { width: 1920, height: 1080 } }, 'a tv-connected event');
  await waitUntil('the idle screen is on', () => state()?.display?.showing === 'idle', { timeoutMs: 20_000 }, () => state()?.display?.showing);

  // Unplugged: the kernel says disconnected and the EDID is gone.
  await writeFile(join(connector, 'status'), 'disconnected\n');
  await writeFile(join(connector, 'edid'), '');
  await waitUntil('a tv-disconnected event', () => events().some((e) => e.type === 'tv-disconnected'), { timeoutMs: 10_000 });
  await waitUntil('the state says so', () => state()?.display?.connectors?.[0]?.status === 'disconnected', { timeoutMs: 5000 });
  t.match(events().find((e) => e.type === 'tv-disconnected'), { connector: 'card1-HDMI-A-1' }, 'the event names the connector');

  // Another TV, 720p, plugged into the same port.
  await writeFile(join(connector, 'edid'), buildEdid(TV_720P));
  await writeFile(join(connector, 'status'), 'connected\n');
  await waitUntil('the screen is rebuilt at 720p', () => state()?.display?.output?.width === 1280, { timeoutMs: 15_000 }, () => state()?.display);
  t.match(state()!.display.connectors[0], { status: 'connected', mode: { width: 1280, height: 720 } }, 'the new TV and its mode');
  await daemon.waitForLog('the screen was rebuilt for it', (r) => r.event === 'media.output' && (r.to as Json | undefined)?.width === 1280 && r.rebuild === true);

  // The picture is back, in that mode.
  const topic = `diemcau/hall-d/snapshot/t-${randomUUID().slice(0, 6)}`;
  await waitUntil('a snapshot of the new screen', async () => (await console.command('hall-d', 'snapshot', { source: 'screen', topic }, 20_000)).ok === true, { timeoutMs: 20_000 });
  await waitUntil('the picture arrives', () => !!console.lastOn(topic));
  const jpeg = parseJpeg(console.lastOn(topic)!.payload);
  t.same([jpeg.width, jpeg.height], [1280, 720], 'the picture is back at 1280×720');
  await waitUntil('the idle screen is drawn again', () => state()?.display?.showing === 'idle', { timeoutMs: 10_000 });
});

t.test('the TV follows the box: a message, identify, back to idle; refused credentials shown for a person to fix', async (t) => {
  const broker = await startFleetBroker(t, ['hall-s']);
  const console = await consoleClient(t, broker);
  const daemon = await startBox(t, broker, 'hall-s', {});
  const showing = () => (console.lastOn('diemcau/hall-s/state')?.json as Json | undefined)?.display?.showing;
  await waitUntil('idle', () => showing() === 'idle', { timeoutMs: 40_000 }, showing);
  t.match(await console.command('hall-s', 'message', { text: 'Họp lúc 8 giờ', seconds: 2 }), { ok: true, result: { shown: true } });
  await waitUntil('the message, full screen', () => showing() === 'message', { timeoutMs: 5000 }, showing);
  await waitUntil('back to idle when it ends', () => showing() === 'idle', { timeoutMs: 8000 }, showing);
  t.match(await console.command('hall-s', 'identify', { seconds: 1 }), { ok: true, result: { screen: true } });
  await daemon.waitForLog('the identify screen', (r) => r.event === 'screen.shown' && r.screen === 'identify');
  await waitUntil('back to idle', () => showing() === 'idle', { timeoutMs: 8000 }, showing);

  // The setup page the idle screen points to answers on the box's LAN (here on loopback).
  const listening = await daemon.waitForLog('the setup page listens', (r) => r.event === 'setup.listening');
  const base = `http://127.0.0.1:${listening.port as number}`;
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200, 'the setup page answers');
  t.match(await page.text(), /Cài đặt điểm cầu/, 'in Vietnamese');
  t.equal((await fetch(`${base}/api/status`)).status, 401, 'its API wants a session');

  // A box the broker has no password for: nobody sees its state, the TV says it.
  const refused = await startBox(t, broker, 'hall-r', {});
  const shown = await refused.waitForLog('the refused-credentials screen', (r) => r.event === 'screen.shown' && r.screen === 'error:broker-refused', 40_000);
  t.equal(shown.screen, 'error:broker-refused', 'the TV says the commune server refused the box');
});
