import t, { type Test } from 'tap';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostFiles } from '../daemon/health/host-files.js';
import { DisplayHotplug } from '../daemon/hardware/display-hotplug.js';
import { chooseOutputMode, outputForEdid } from '../daemon/hardware/display-mode.js';
import { EdidError, formatMode, parseEdid, supportedModes, type Edid } from '../daemon/hardware/edid.js';
import { createLogger } from '../daemon/log.js';
import {
  MONITOR_1366,
  TIMING_1366X768,
  TIMING_2160P60,
  TV_1080P,
  TV_4K,
  TV_720P,
  buildEdid,
  corrupt,
} from './fixtures/display/edids.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'display');
const silent = createLogger('silent');
const DRM = 'sys/class/drm';
const HDMI_1 = 'card1-HDMI-A-1';
const HDMI_2 = 'card1-HDMI-A-2';

async function samsungUhd(): Promise<Uint8Array> {
  const hex = await readFile(join(fixtures, 'samsung-uhd-2014.hex'), 'utf8');
  return Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

function edidError(fn: () => unknown): EdidError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EdidError) return e;
    throw e;
  }
  throw new Error('expected an EdidError, nothing was thrown');
}

const modes = (list: readonly { width: number; height: number; refreshHz: number; interlaced: boolean }[]) => list.map(formatMode);

t.test('EDID of a 1080p TV: identity, preferred timing, VICs with the native flag, older timings', async (t) => {
  const edid = parseEdid(buildEdid(TV_1080P));
  t.equal(edid.version, '1.3');
  t.equal(edid.manufacturerId, 'PHL');
  t.equal(edid.productCode, 0xc0de);
  t.equal(edid.productName, 'PHILIPS FHD');
  t.same(edid.preferred, { width: 1920, height: 1080, refreshHz: 60, interlaced: false, pixelClockKHz: 148_500 });
  t.same(modes(edid.detailedTimings), ['1920x1080@60', '1280x720@60', '1920x1080i@60'], 'base block timings, then the CTA block one');
  t.same(
    edid.shortVideoDescriptors.map((svd) => svd.vic),
    [16, 4, 31, 19, 5, 20, 3, 18, 1],
  );
  t.same(
    edid.shortVideoDescriptors.filter((svd) => svd.native).map((svd) => svd.vic),
    [16],
    'only VIC 16 is native',
  );
  const byVic = new Map(edid.shortVideoDescriptors.map((svd) => [svd.vic, svd.mode && formatMode(svd.mode)]));
  t.equal(byVic.get(16), '1920x1080@60');
  t.equal(byVic.get(31), '1920x1080@50');
  t.equal(byVic.get(4), '1280x720@60');
  t.equal(byVic.get(19), '1280x720@50');
  t.equal(byVic.get(5), '1920x1080i@60');
  t.equal(byVic.get(18), '720x576@50');
  t.equal(byVic.get(3), '720x480@60');
  t.same(modes(edid.standardTimings), ['1920x1080@60', '1280x720@60']);
  t.same(modes(edid.establishedTimings), ['640x480@60', '800x600@60', '1024x768@60']);
  t.same(edid.warnings, []);
});

t.test('EDID of an old 720p TV and of a 4K TV', async (t) => {
  const old = parseEdid(buildEdid(TV_720P));
  t.equal(old.productName, 'SONY TV');
  t.equal(old.manufacturerId, 'SNY');
  t.equal(old.preferred && formatMode(old.preferred), '1280x720@60');
  t.same(
    old.shortVideoDescriptors.filter((svd) => svd.native).map((svd) => svd.vic),
    [4],
  );
  t.notOk(
    supportedModes(old).some((m) => m.height === 1080 && !m.interlaced),
    'no progressive 1080 anywhere',
  );

  const uhd = parseEdid(buildEdid(TV_4K));
  t.equal(uhd.productName, 'LG TV');
  t.equal(uhd.manufacturerId, 'GSM');
  t.equal(uhd.preferred && formatMode(uhd.preferred), '3840x2160@60');
  t.same(
    uhd.shortVideoDescriptors.slice(0, 5).map((svd) => svd.mode && formatMode(svd.mode)),
    ['3840x2160@60', '3840x2160@50', '3840x2160@30', '3840x2160@25', '3840x2160@24'],
  );
  t.notOk(
    uhd.shortVideoDescriptors.some((svd) => svd.native),
    'VICs 65-127 carry no native bit',
  );
  t.same(uhd.shortVideoDescriptors.at(-1), { vic: 193, native: false, mode: null }, 'VIC 193 is not 65 marked native; not in the table');
});

t.test('EDID of a real Samsung UHD TV reads as edid-decode read it', async (t) => {
  const edid = parseEdid(await samsungUhd());
  t.equal(edid.manufacturerId, 'SAM');
  t.equal(edid.productCode, 3073);
  t.equal(edid.productName, 'SAMSUNG');
  t.equal(edid.preferred && formatMode(edid.preferred), '3840x2160@60');
  t.same(modes(edid.detailedTimings), ['3840x2160@60', '1920x1080@60', '1920x1080i@50', '1366x768@59.79']);
  t.same(
    edid.shortVideoDescriptors.map((svd) => svd.vic),
    [97, 16, 31, 4, 19, 5, 20, 32, 33, 34, 93, 94, 95, 96, 101, 102, 98, 99, 100, 7, 22, 3, 18],
  );
  t.same(modes(edid.standardTimings), ['1152x864@75', '1280x720@60', '1280x800@60', '1280x1024@60', '1440x900@60', '1600x900@60', '1680x1050@60']);
  t.equal(edid.establishedTimings.length, 14);
  t.same(modes([edid.establishedTimings[0]!, edid.establishedTimings[13]!]), ['720x400@70', '1152x870@75']);
  t.same(edid.warnings, []);

  const { choice } = outputForEdid(await samsungUhd());
  t.equal(formatMode(choice.mode), '1920x1080@60', 'never above 1080p');
});

t.test('a broken EDID is an EdidError with a code, never a crash', async (t) => {
  const good = buildEdid(TV_1080P);
  t.equal(edidError(() => parseEdid(good.subarray(0, 100))).code, 'EDID_TOO_SHORT');
  const noHeader = Uint8Array.from(good);
  noHeader[1] = 0x00;
  t.equal(edidError(() => parseEdid(noHeader)).code, 'EDID_BAD_HEADER');
  t.equal(edidError(() => parseEdid(corrupt(good))).code, 'EDID_BAD_CHECKSUM');

  const badExtension = Uint8Array.from(good);
  badExtension[140] = (badExtension[140]! + 1) & 0xff;
  const withoutCta = parseEdid(badExtension);
  t.equal(withoutCta.productName, 'PHILIPS FHD', 'the base block still reads');
  t.same(withoutCta.shortVideoDescriptors, [], 'the CTA block is left out');
  t.match(withoutCta.warnings, [/block 1 left out: bad checksum/]);

  const cutShort = parseEdid(good.subarray(0, 128));
  t.match(cutShort.warnings, [/announces 1 extension blocks, 0 arrived/]);
});

t.test('output mode for each TV', async (t) => {
  const choose = (bytes: Uint8Array | null) => outputForEdid(bytes).choice;

  const fullHd = choose(buildEdid(TV_1080P));
  t.equal(formatMode(fullHd.mode), '1920x1080@60');
  t.equal(fullHd.reason, "the TV's preferred mode, 1920x1080@60");

  const hdReady = choose(buildEdid(TV_720P));
  t.equal(formatMode(hdReady.mode), '1280x720@60', '1080i is not taken for 1080p');
  t.equal(hdReady.reason, "the TV's preferred mode, 1280x720@60");

  const uhd = choose(buildEdid(TV_4K));
  t.equal(formatMode(uhd.mode), '1920x1080@60', '4K TV: 1080p, the most the Pi composes');
  t.match(uhd.reason, /its preferred mode is 3840x2160@60/);

  const none = choose(null);
  t.equal(formatMode(none.mode), '1280x720@60');
  t.equal(none.reason, 'no EDID: 1280x720@60 as a safe default');
  t.same(choose(new Uint8Array(0)), none, 'an empty edid file is no EDID');

  const broken = outputForEdid(corrupt(buildEdid(TV_1080P)));
  t.equal(formatMode(broken.choice.mode), '1280x720@60');
  t.equal(broken.edid, null);
  t.match(broken.edidProblem, /checksum/);
  t.match(broken.choice.reason, /checksum.*: 1280x720@60 as a safe default/);

  const monitor = choose(buildEdid(MONITOR_1366));
  t.equal(formatMode(monitor.mode), '1366x768@59.79', 'neither 1080p nor 720p: the preferred mode');
  t.match(monitor.reason, /neither 1080p nor 720p/);
});

t.test('output mode: rate family, and never above 1080p', async (t) => {
  const uhd = parseEdid(buildEdid(TV_4K));
  const prefers50: Edid = { ...uhd, preferred: { ...uhd.preferred!, refreshHz: 50 } };
  t.equal(formatMode(chooseOutputMode(prefers50).mode), '1920x1080@50', 'a TV preferring 50 Hz gets 1080p at 50 Hz');

  const only4kAnd1366 = parseEdid(buildEdid({ ...MONITOR_1366, timings: [TIMING_2160P60, TIMING_1366X768] }));
  const largest = chooseOutputMode(only4kAnd1366);
  t.equal(formatMode(largest.mode), '1366x768@59.79', 'the largest listed mode within 1080p');
  t.match(largest.reason, /the largest it lists within 1080p/);

  const only4k = parseEdid(buildEdid({ ...TV_4K, timings: [TIMING_2160P60], standard: [], cta: { vics: [97, 96] } }));
  const fallback = chooseOutputMode(only4k);
  t.equal(formatMode(fallback.mode), '1280x720@60');
  t.match(fallback.reason, /lists no mode within 1080p/);
});

/** The fixture tree copied to a temporary folder the test may rewrite. */
async function piRoot(t: Test): Promise<string> {
  const root = t.testdir();
  await cp(join(fixtures, 'pi4-root'), root, { recursive: true });
  return root;
}

/**
 * Rewrites a file as sysfs changes one: at once. A plain writeFile empties the file first, and a
 * poll could read it empty in between.
 */
async function put(path: string, content: string | Uint8Array): Promise<void> {
  await writeFile(`${path}.new`, content);
  await rename(`${path}.new`, path);
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

t.test('hotplug: the Pi 4 at start, then unplug, another TV, a swap, a broken EDID', async (t) => {
  const root = await piRoot(t);
  const connector = (name: string, file: string) => join(root, DRM, name, file);
  t.same(await readFile(connector(HDMI_1, 'edid')), Buffer.from(buildEdid(TV_1080P)), 'the fixture EDID is what edids.ts builds');

  const hotplug = new DisplayHotplug({ files: new HostFiles(root), log: silent, pollMs: 20 });
  const atStart: string[] = [];
  hotplug.on('connected', (e) => atStart.push(`${e.connector} ${e.tv?.name} ${formatMode(e.mode)}`));
  const timersBefore = timers();
  await hotplug.start();
  t.same(atStart, ['card1-HDMI-A-1 PHILIPS FHD 1920x1080@60'], 'a TV already there is announced at start');
  t.equal(timers(), timersBefore + 1, 'one poll timer');

  const [a1, a2, ...others] = hotplug.current();
  t.same(others, [], 'only HDMI connectors (not Writeback-1, card1, renderD128)');
  t.match(a1, { connector: HDMI_1, status: 'connected', enabled: true, tvName: 'PHILIPS FHD', mode: { width: 1920, height: 1080, refreshHz: 60 }, edidProblem: null });
  t.equal(a1?.kernelModes[0], '1920x1080');
  t.same(a2, { connector: HDMI_2, status: 'disconnected', enabled: false, tvName: null, mode: null, reason: null, edidProblem: null, kernelModes: [] });

  // Unplugged: the kernel says so, then empties the EDID.
  const unplugged = hotplug.waitFor('disconnected', (e) => e.connector === HDMI_1, 2000);
  await put(connector(HDMI_1, 'status'), 'disconnected\n');
  await put(connector(HDMI_1, 'edid'), '');
  t.same(await unplugged, [{ connector: HDMI_1 }]);
  t.match(hotplug.current()[0], { connector: HDMI_1, status: 'disconnected', tvName: null, mode: null });

  // Another TV on the same connector: an old 720p one.
  const plugged = hotplug.waitFor('connected', (e) => e.connector === HDMI_1, 2000);
  await put(connector(HDMI_1, 'edid'), buildEdid(TV_720P));
  await put(connector(HDMI_1, 'status'), 'connected\n');
  const [old] = await plugged;
  t.equal(old.tv?.name, 'SONY TV');
  t.equal(formatMode(old.mode), '1280x720@60');
  t.same(old.tv?.nativeVics, [4]);
  t.match(hotplug.current()[0], { status: 'connected', tvName: 'SONY TV', mode: { width: 1280, height: 720 } });

  // Swapped between two polls: still connected, another EDID.
  const swapped = hotplug.waitFor('changed', (e) => e.connector === HDMI_1, 2000);
  await put(connector(HDMI_1, 'edid'), buildEdid(TV_4K));
  const [uhd] = await swapped;
  t.equal(uhd.tv?.name, 'LG TV');
  t.equal(formatMode(uhd.mode), '1920x1080@60');
  t.match(uhd.reason, /3840x2160@60/);

  // The second port gets a TV whose EDID is broken: 720p, and the state says why.
  const broken = hotplug.waitFor('connected', (e) => e.connector === HDMI_2, 2000);
  await put(connector(HDMI_2, 'edid'), corrupt(buildEdid(TV_1080P)));
  await put(connector(HDMI_2, 'status'), 'connected\n');
  const [second] = await broken;
  t.equal(second.tv, null);
  t.equal(formatMode(second.mode), '1280x720@60');
  t.match(second.edidProblem, /checksum/);
  t.match(hotplug.current()[1], { connector: HDMI_2, status: 'connected', tvName: null, edidProblem: /checksum/, reason: /safe default/ });

  hotplug.stop();
  t.equal(timers(), timersBefore, 'stop() leaves no timer');
  let after = 0;
  hotplug.on('disconnected', () => after++);
  await put(connector(HDMI_2, 'status'), 'disconnected\n');
  await hotplug.poll();
  t.equal(after, 0, 'a stopped watcher reads nothing');
  t.equal(hotplug.current()[1]?.status, 'connected', 'and its state stays as it was');
});

t.test('hotplug: card0 on other kernels, no EDID behind a switch, a connector that goes away', async (t) => {
  const root = t.testdir();
  const dir = join(root, DRM, 'card0-HDMI-A-1');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'status'), 'connected\n');
  await writeFile(join(dir, 'enabled'), 'enabled\n');
  await writeFile(join(dir, 'modes'), '1024x768\n800x600\n');
  await writeFile(join(dir, 'edid'), '');

  const hotplug = new DisplayHotplug({ files: new HostFiles(root), log: silent, pollMs: 20 });
  const connected = hotplug.waitFor('connected', () => true, 2000);
  await hotplug.start();
  const [event] = await connected;
  t.same(event, {
    connector: 'card0-HDMI-A-1',
    tv: null,
    edidProblem: 'no EDID',
    mode: { width: 1280, height: 720, refreshHz: 60, interlaced: false },
    reason: 'no EDID: 1280x720@60 as a safe default',
  });

  const gone = hotplug.waitFor('disconnected', () => true, 2000);
  await rm(dir, { recursive: true });
  t.same(await gone, [{ connector: 'card0-HDMI-A-1' }], 'a connector that disappears (driver unloaded) is disconnected');
  t.same(hotplug.current(), []);
  hotplug.stop();
});

t.test('hotplug: status comes before the EDID, so an empty EDID is believed at the second poll', async (t) => {
  const root = await piRoot(t);
  const connector = (file: string) => join(root, DRM, HDMI_2, file);
  // Polled by hand: the timer does not fire within the test.
  const hotplug = new DisplayHotplug({ files: new HostFiles(root), log: silent, pollMs: 60_000 });
  await hotplug.start();
  const seen: string[] = [];
  hotplug.on('connected', (e) => seen.push(`connected ${e.tv?.name ?? e.edidProblem}`));
  hotplug.on('changed', (e) => seen.push(`changed ${e.tv?.name ?? e.edidProblem}`));

  await put(connector('status'), 'connected\n');
  await hotplug.poll();
  t.same(seen, [], 'connected without an EDID yet: not announced');
  t.equal(hotplug.current()[1]?.status, 'disconnected');
  await put(connector('edid'), buildEdid(TV_720P));
  await hotplug.poll();
  t.same(seen, ['connected SONY TV'], 'announced once, with its EDID');

  // A switch that passes no EDID: announced at the second empty poll.
  await put(connector('status'), 'disconnected\n');
  await put(connector('edid'), '');
  await hotplug.poll();
  await put(connector('status'), 'connected\n');
  await hotplug.poll();
  await hotplug.poll();
  t.same(seen, ['connected SONY TV', 'connected no EDID']);
  t.match(hotplug.current()[1], { status: 'connected', mode: { width: 1280, height: 720 }, reason: 'no EDID: 1280x720@60 as a safe default' });
  hotplug.stop();
});
