import t from 'tap';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import { createLogger } from '../daemon/log.js';
import {
  DEFAULT_THRESHOLDS,
  HealthCollector,
  HealthThresholdsSchema,
  TelemetrySchema,
  deriveAlerts,
  type RunCommand,
  type SystemInformation,
  type Telemetry,
} from '../daemon/health/index.js';
import { OptionalTool } from '../daemon/health/command.js';
import { readDisk } from '../daemon/health/disk.js';
import { HostFiles } from '../daemon/health/host-files.js';
import { readMemory } from '../daemon/health/memory.js';
import { decodeThrottled, parseThrottled, readPiThrottled } from '../daemon/health/pi-throttled.js';
import { systemInformation } from '../daemon/health/system-information.js';
import { FallbackTemperature, parseMillidegrees, readSocTempC } from '../daemon/health/thermal.js';
import { cleanModel, osName, readHostVersions } from '../daemon/health/versions.js';
import { parseProcNetWireless, qualityPercent } from '../daemon/health/wireless.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'health');
const piRoot = join(fixtures, 'pi-root');
const silent = createLogger('silent');

const ajv = new Ajv({ strict: true, allErrors: true });
const checkTelemetry = ajv.compile(TelemetrySchema);

function schemaErrors(sample: unknown): string {
  return checkTelemetry(sample) ? '' : ajv.errorsText(checkTelemetry.errors);
}

/** A fake command runner: answers by program name, records calls; a missing answer is ENOENT. */
function fakeRun(answers: Record<string, string | Error>) {
  const calls: string[] = [];
  const run: RunCommand = async (file, args) => {
    calls.push([file, ...args].join(' '));
    const answer = answers[file];
    if (answer === undefined) throw Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT' });
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { run, calls };
}

/**
 * systeminformation as it answers on the fixture Pi (a 4 GB Pi 4 on Pi OS Bookworm), with
 * `answers` replacing some calls; records which calls were made, sorted (they run in parallel).
 */
function fakeSi(answers: Partial<SystemInformation> = {}) {
  const made: string[] = [];
  const all: SystemInformation = {
    mem: async () => ({ total: 3978645504, available: 3309174784 }),
    osInfo: async () => ({ distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.6.51+rpt-rpi-v8' }),
    system: async () => ({ model: 'Computer' }),
    cpuTemperature: async () => ({ main: null }),
    ...answers,
  };
  const record =
    <K extends keyof SystemInformation>(name: K) =>
    (() => {
      made.push(name);
      return all[name]();
    }) as SystemInformation[K];
  const si: SystemInformation = {
    mem: record('mem'),
    osInfo: record('osInfo'),
    system: record('system'),
    cpuTemperature: record('cpuTemperature'),
  };
  return { si, calls: () => [...made].sort() };
}

/** systeminformation as it answers where it finds nothing (os.totalmem() stands in for memory). */
const UNKNOWN_OS = { distro: 'unknown', release: 'unknown', codename: '', kernel: '6.1.0-test' };

/** A debug logger whose records the test can read. */
function capturingLogger() {
  const records: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { log, records };
}

t.test('throttled: real vcgencmd outputs decode bit by bit', async (t) => {
  const none = decodeThrottled(parseThrottled('throttled=0x0')!);
  t.same(none, {
    underVoltageNow: false,
    frequencyCappedNow: false,
    throttledNow: false,
    softTempLimitNow: false,
    underVoltageOccurred: false,
    frequencyCappedOccurred: false,
    throttledOccurred: false,
    softTempLimitOccurred: false,
    raw: '0x0',
  });

  // Under-voltage and throttling happened earlier (a weak supply at boot), fine now.
  t.same(decodeThrottled(parseThrottled('throttled=0x50000\n')!), {
    ...none,
    underVoltageOccurred: true,
    throttledOccurred: true,
    raw: '0x50000',
  });

  // Under-voltage right now, throttled because of it.
  t.same(decodeThrottled(parseThrottled('throttled=0x50005')!), {
    ...none,
    underVoltageNow: true,
    throttledNow: true,
    underVoltageOccurred: true,
    throttledOccurred: true,
    raw: '0x50005',
  });

  // Hot case earlier: frequency capped, throttled and soft limit since boot, no under-voltage.
  t.same(decodeThrottled(parseThrottled('throttled=0xe0000')!), {
    ...none,
    frequencyCappedOccurred: true,
    throttledOccurred: true,
    softTempLimitOccurred: true,
    raw: '0xe0000',
  });

  t.equal(parseThrottled('50005\n'), 0x50005, 'sysfs form: hex without 0x');
  t.equal(parseThrottled('0xE0008'), 0xe0008, 'upper case hex');
  t.equal(parseThrottled('VCHI initialization failed'), null);
  t.equal(parseThrottled(''), null);
  t.same(decodeThrottled(0x8).softTempLimitNow, true);
  t.same(decodeThrottled(0x2).frequencyCappedNow, true);
});

t.test('throttled: sysfs first, then vcgencmd, else null (not a Pi)', async (t) => {
  const fromSysfs = fakeRun({ vcgencmd: 'throttled=0x0\n' });
  const pi = await readPiThrottled(new HostFiles(piRoot), new OptionalTool(fromSysfs.run, 'vcgencmd', 1000));
  t.equal(pi?.raw, '0x50005');
  t.same(fromSysfs.calls, [], 'vcgencmd not run when sysfs has the flags');

  const bare = t.testdir({});
  const viaTool = fakeRun({ vcgencmd: 'throttled=0xe0000\n' });
  const older = await readPiThrottled(new HostFiles(bare), new OptionalTool(viaTool.run, 'vcgencmd', 1000));
  t.equal(older?.raw, '0xe0000');
  t.same(viaTool.calls, ['vcgencmd get_throttled']);

  const noTool = fakeRun({});
  const tool = new OptionalTool(noTool.run, 'vcgencmd', 1000);
  t.equal(await readPiThrottled(new HostFiles(bare), tool), null);
  t.equal(await readPiThrottled(new HostFiles(bare), tool), null);
  t.same(noTool.calls, ['vcgencmd get_throttled'], 'a missing tool is spawned once, not on every sample');

  const failing = fakeRun({ vcgencmd: 'VCHI initialization failed\n' });
  await t.rejects(readPiThrottled(new HostFiles(bare), new OptionalTool(failing.run, 'vcgencmd', 1000)));
});

t.test('wireless: /proc/net/wireless from a Pi', async (t) => {
  const text = await readFile(join(piRoot, 'proc/net/wireless'), 'utf8');
  t.same(parseProcNetWireless(text), [{ interface: 'wlan0', linkQuality: 58, signalDbm: -52 }]);
  t.equal(qualityPercent(58), 83);
  t.equal(qualityPercent(70), 100);
  t.equal(qualityPercent(0), 0);

  const header = text.split('\n').slice(0, 2).join('\n') + '\n';
  t.same(parseProcNetWireless(header), [], 'no associated interface: header only');
  t.same(
    parseProcNetWireless(`${header}  wlan1: 0000   20    180      0        0      0      0      0      0        0\n`),
    [{ interface: 'wlan1', linkQuality: 20, signalDbm: -76 }],
    'unsigned level from a driver without dBm, no dots',
  );
  t.same(
    parseProcNetWireless(`${header} wlan0: 0000   58.  -52.  -256        0      0      0      0    137        0\n wlp2s0: 0000   30.  -80.  -256        0      0      0      0      3        0\n`).map((w) => w.interface),
    ['wlan0', 'wlp2s0'],
  );
});

t.test('small parsers: OS name, model, millidegrees', async (t) => {
  // As systeminformation's osInfo splits the os-release files of these systems.
  t.equal(osName({ distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm' }), 'Debian GNU/Linux 12 (bookworm)');
  t.equal(osName({ distro: 'Raspbian GNU/Linux', release: '11', codename: 'bullseye' }), 'Raspbian GNU/Linux 11 (bullseye)');
  t.equal(osName({ distro: 'Ubuntu', release: '22.04.4 LTS', codename: 'jammy' }), 'Ubuntu 22.04.4 LTS (jammy)');
  t.equal(osName({ distro: 'Alpine Linux', release: '3.19.1', codename: '' }), 'Alpine Linux 3.19.1');
  t.equal(osName({ distro: 'Debian GNU/Linux', release: 'unknown', codename: '' }), 'Debian GNU/Linux');
  t.equal(osName({ distro: 'unknown', release: 'unknown', codename: '' }), null, 'no os-release at all');

  t.equal(cleanModel('Raspberry Pi 5 Model B Rev 1.0\0'), 'Raspberry Pi 5 Model B Rev 1.0');
  t.equal(cleanModel('\0'), null);

  t.equal(parseMillidegrees('48686\n'), 48.7);
  t.equal(parseMillidegrees('-5000'), -5);
  t.equal(parseMillidegrees(''), null);
  t.equal(parseMillidegrees('n/a'), null);
});

t.test('thermal: the cpu-thermal zone wins over the first one', async (t) => {
  const root = t.testdir({
    sys: {
      class: {
        thermal: {
          thermal_zone0: { type: 'acpitz\n', temp: '27800\n' },
          thermal_zone2: { type: 'x86_pkg_temp\n', temp: '61000\n' },
          thermal_zone10: { type: 'cpu-thermal\n', temp: '55312\n' },
          cooling_device0: { type: 'Processor\n' },
        },
      },
    },
  });
  t.equal(await readSocTempC(new HostFiles(root)), 55.3);

  const noSoc = t.testdir({
    sys: { class: { thermal: { thermal_zone1: { type: 'b\n', temp: '30000\n' }, thermal_zone0: { type: 'a\n', temp: 'bad\n' } } } },
  });
  t.equal(await readSocTempC(new HostFiles(noSoc)), 30, 'first zone that answers');

  t.equal(await readSocTempC(new HostFiles(t.testdir({}))), null, 'no thermal zone at all');
  t.equal(await readSocTempC(new HostFiles(piRoot)), 85.2);
});

t.test('systeminformation: memory, temperature fallback, OS and model', async (t) => {
  t.same(await readMemory(fakeSi().si), { totalBytes: 3978645504, availableBytes: 3309174784, usedPercent: 16.8 });
  await t.rejects(readMemory(fakeSi({ mem: async () => ({ total: 0, available: 0 }) }).si), /implausible/);
  await t.rejects(readMemory(fakeSi({ mem: async () => ({ total: 1000, available: 2000 }) }).si), /implausible/);

  const sensors = fakeSi({ cpuTemperature: async () => ({ main: 61.04 }) });
  const hwmon = new FallbackTemperature(sensors.si);
  t.equal(await hwmon.read(), 61);
  t.equal(await hwmon.read(), 61);
  t.same(sensors.calls(), ['cpuTemperature', 'cpuTemperature'], 'asked on every sample while it answers');
  const noSensors = fakeSi();
  const none = new FallbackTemperature(noSensors.si);
  t.equal(await none.read(), null);
  t.equal(await none.read(), null);
  t.same(noSensors.calls(), ['cpuTemperature'], 'a machine where it finds nothing is asked once');

  const pi = fakeSi();
  t.same(await readHostVersions(new HostFiles(piRoot), pi.si), {
    os: 'Debian GNU/Linux 12 (bookworm)',
    kernel: '6.6.51+rpt-rpi-v8',
    model: 'Raspberry Pi 4 Model B Rev 1.5',
  });
  t.same(pi.calls(), ['osInfo'], 'the device tree names the Pi: system() not asked');

  const pc = fakeSi({ system: async () => ({ model: 'OptiPlex 7090' }) });
  t.equal((await readHostVersions(new HostFiles(t.testdir({})), pc.si)).model, 'OptiPlex 7090', 'no device tree: DMI through system()');
  t.same(pc.calls(), ['osInfo', 'system']);
  const emptyModel = t.testdir({ proc: { 'device-tree': { model: '\0' } } });
  t.equal((await readHostVersions(new HostFiles(emptyModel), pc.si)).model, 'OptiPlex 7090', 'an empty device-tree model is no model');
  const unknown = await readHostVersions(new HostFiles(t.testdir({})), fakeSi({ osInfo: async () => ({ ...UNKNOWN_OS, kernel: '' }) }).si);
  t.same(unknown, { os: null, kernel: release(), model: null }, "'Computer' is the library's placeholder; kernel from os.release() when it gives none");
});

t.test('disk: the filesystem of the state directory, or of its nearest parent', async (t) => {
  const dir = t.testdir({});
  const disk = await readDisk(dir);
  t.equal(disk.path, dir);
  t.ok(disk.totalBytes > 0);
  t.ok(disk.freeBytes <= disk.totalBytes);
  t.ok(disk.usedPercent >= 0 && disk.usedPercent <= 100);

  const notYet = await readDisk(join(dir, 'var/lib/diemcau'));
  t.equal(notYet.path, join(dir, 'var/lib/diemcau'));
  t.equal(notYet.totalBytes, disk.totalBytes, 'measured where it will be created');
});

t.test('alerts: each threshold, defaults and overrides', async (t) => {
  t.ok(new Ajv({ strict: true }).validate(HealthThresholdsSchema, { ...DEFAULT_THRESHOLDS }), 'defaults fit their schema');
  const healthy: Omit<Telemetry, 'alerts'> = {
    cpu: { loadPercent: 10, cores: 4, load1: 0.5, load5: 0.4, load15: 0.3 },
    temperature: { socC: 55 },
    power: { piThrottled: decodeThrottled(0) },
    memory: { totalBytes: 1000, availableBytes: 500, usedPercent: 50 },
    disk: { path: '/var/lib/diemcau', totalBytes: 1000, freeBytes: 500, usedPercent: 50 },
    network: {
      interfaces: [],
      wifi: { interface: 'wlan0', ssid: null, signalDbm: -60, qualityPercent: 71, linkQuality: 50 },
    },
    uptime: { systemS: 100, processS: 10 },
    versions: { firmware: '0.1.0', node: '20.0.0', os: null, kernel: '6.6', model: null },
  };
  const alerts = (patch: Partial<Omit<Telemetry, 'alerts'>>, thresholds = DEFAULT_THRESHOLDS) =>
    deriveAlerts({ ...healthy, ...patch }, thresholds);

  t.same(alerts({}), []);
  t.same(alerts({ power: { piThrottled: decodeThrottled(0x50005) } }), ['under-voltage', 'throttled']);
  t.same(alerts({ power: { piThrottled: decodeThrottled(0x50000) } }), ['under-voltage-occurred']);
  t.same(alerts({ power: { piThrottled: decodeThrottled(0xe0008) } }), ['throttled'], 'soft temperature limit now');
  t.same(alerts({ power: { piThrottled: null } }), []);
  t.same(alerts({ temperature: { socC: 80 } }), ['overheating'], 'at the threshold');
  t.same(alerts({ temperature: { socC: 79.9 } }), []);
  t.same(alerts({ temperature: { socC: 75 } }, { ...DEFAULT_THRESHOLDS, overheatingTempC: 75 }), ['overheating']);
  t.same(alerts({ temperature: { socC: null } }), []);
  t.same(alerts({ disk: { ...healthy.disk!, usedPercent: 90 } }), ['disk-almost-full']);
  t.same(alerts({ disk: null }), []);
  t.same(alerts({ memory: { totalBytes: 1000, availableBytes: 99, usedPercent: 90.1 } }), ['memory-low']);
  t.same(alerts({ memory: { totalBytes: 1000, availableBytes: 100, usedPercent: 90 } }), [], '10 % available is not low');
  t.same(alerts({ network: { interfaces: [], wifi: { ...healthy.network.wifi!, signalDbm: -75 } } }), ['weak-wifi']);
  t.same(alerts({ network: { interfaces: [], wifi: null } }), []);
});

t.test('a sample of the fixture Pi: decoded values, schema, alerts', async (t) => {
  const stateDir = t.testdir({});
  const tools = fakeRun({ iwgetid: 'Nha Van Hoa\n' });
  const si = fakeSi({ cpuTemperature: async () => ({ main: 40 }) });
  const collector = new HealthCollector({
    root: piRoot,
    stateDir,
    firmwareVersion: '0.1.0-test',
    log: silent,
    run: tools.run,
    systemInformation: si.si,
    addresses: () => ({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      wlan0: [
        { address: '192.168.1.42', netmask: '255.255.255.0', family: 'IPv4', mac: 'dc:a6:32:01:02:03', internal: false, cidr: '192.168.1.42/24' },
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: 'dc:a6:32:01:02:03', internal: false, cidr: 'fe80::1/64', scopeid: 3 },
      ],
    }),
  });
  const sample = await collector.sample();

  t.equal(schemaErrors(sample), '', 'valid against TelemetrySchema');
  t.equal(sample.temperature.socC, 85.2);
  t.same(sample.power.piThrottled, decodeThrottled(0x50005));
  t.same(sample.network.wifi, { interface: 'wlan0', ssid: 'Nha Van Hoa', signalDbm: -52, qualityPercent: 83, linkQuality: 58 });
  t.same(tools.calls, ['iwgetid wlan0 -r'], 'only iwgetid ran: the flags came from sysfs');
  t.same(sample.network.interfaces, [
    { name: 'eth0', type: 'wired', up: false, ipv4: [], rxBytes: 0, txBytes: 0 },
    { name: 'lo', type: 'other', up: true, ipv4: ['127.0.0.1'], rxBytes: 48213, txBytes: 48213 },
    { name: 'wlan0', type: 'wireless', up: true, ipv4: ['192.168.1.42'], rxBytes: 918273645, txBytes: 123456789 },
  ]);
  t.same(sample.memory, { totalBytes: 3978645504, availableBytes: 3309174784, usedPercent: 16.8 });
  t.equal(sample.disk?.path, stateDir);
  t.same(sample.versions.model, 'Raspberry Pi 4 Model B Rev 1.5');
  t.same(sample.versions.os, 'Debian GNU/Linux 12 (bookworm)');
  t.equal(sample.versions.kernel, '6.6.51+rpt-rpi-v8');
  t.equal(sample.versions.firmware, '0.1.0-test');
  t.same(si.calls(), ['mem', 'osInfo'], 'thermal zone and device tree present: no cpuTemperature, no system()');
  t.equal(sample.cpu.loadPercent, null, 'first sample: nothing to compare with');

  // The disk is this machine's: leave 'disk-almost-full' out of the comparison.
  t.same(
    sample.alerts.filter((a) => a !== 'disk-almost-full'),
    ['under-voltage', 'throttled', 'overheating'],
  );

  const again = await collector.sample();
  t.same(again.versions, sample.versions);
  t.same(si.calls(), ['mem', 'mem', 'osInfo'], 'OS, kernel and model are read once per collector');

  const cooler = new HealthCollector({
    root: piRoot,
    stateDir,
    firmwareVersion: '0',
    log: silent,
    run: tools.run,
    systemInformation: fakeSi().si,
    thresholds: { overheatingTempC: 90 },
  });
  t.notOk((await cooler.sample()).alerts.includes('overheating'), 'threshold option is used');
  t.equal(cooler.thresholds.diskFullPercent, 90, 'other thresholds keep their defaults');
});

t.test('a machine with nothing to read: nulls and debug records, never a rejection', async (t) => {
  const { log, records } = capturingLogger();
  const tools = fakeRun({});
  const si = fakeSi({
    mem: async () => {
      throw new Error('no /proc/meminfo');
    },
    osInfo: async () => UNKNOWN_OS,
  });
  const collector = new HealthCollector({
    root: t.testdir({}),
    stateDir: t.testdir({}),
    firmwareVersion: '0.1.0',
    log,
    run: tools.run,
    systemInformation: si.si,
  });
  const sample = await collector.sample();
  t.equal(schemaErrors(sample), '');
  t.equal(sample.temperature.socC, null);
  t.equal(sample.power.piThrottled, null);
  t.equal(sample.memory, null);
  t.same(sample.network, { interfaces: [], wifi: null });
  t.equal(sample.versions.model, null);
  t.equal(sample.versions.os, null);
  t.ok(sample.disk, 'the state directory exists');
  t.same(
    records.filter((r) => r.msg === 'health: reader failed').map((r) => r.reader),
    ['memory'],
    'the failing reader is named in a debug record',
  );
  t.same(tools.calls, ['vcgencmd get_throttled']);
  t.same(si.calls(), ['cpuTemperature', 'mem', 'osInfo', 'system'], 'no thermal zone, no device tree: the library is asked');

  await collector.sample();
  t.same(si.calls(), ['cpuTemperature', 'mem', 'mem', 'osInfo', 'system'], 'the second sample asks for memory only');
});

t.test('versions: a failed read is tried again on the next sample', async (t) => {
  let fail = true;
  const si = fakeSi({
    osInfo: async () => {
      if (fail) throw new Error('exec failed');
      return UNKNOWN_OS;
    },
  });
  const collector = new HealthCollector({ root: piRoot, stateDir: t.testdir({}), firmwareVersion: '0', log: silent, run: fakeRun({}).run, systemInformation: si.si });
  const first = await collector.sample();
  t.same(first.versions, { firmware: '0', node: process.versions.node, os: null, kernel: release(), model: null }, 'fallback while it fails');
  fail = false;
  t.same((await collector.sample()).versions.kernel, '6.1.0-test');
  t.same((await collector.sample()).versions.model, 'Raspberry Pi 4 Model B Rev 1.5');
  t.same(
    si.calls().filter((c) => c === 'osInfo'),
    ['osInfo', 'osInfo'],
    'asked again after the failure, then kept',
  );
});

t.test('a sample of this machine', async (t) => {
  const collector = new HealthCollector({ stateDir: t.testdir({}), firmwareVersion: '0.1.0', log: silent });

  let started = performance.now();
  const first = await collector.sample();
  t.comment(`first sample: ${(performance.now() - started).toFixed(1)} ms`);
  t.equal(schemaErrors(first), '', 'first sample valid');

  await new Promise((resolve) => setTimeout(resolve, 200)); // let the CPU counters move
  const durations: number[] = [];
  let sample = first;
  for (let i = 0; i < 10; i++) {
    started = performance.now();
    sample = await collector.sample();
    durations.push(performance.now() - started);
  }
  durations.sort((a, b) => a - b);
  t.comment(`next samples: median ${durations[5]!.toFixed(1)} ms, max ${durations[9]!.toFixed(1)} ms`);

  t.equal(schemaErrors(sample), '', 'valid against TelemetrySchema');
  t.type(sample.cpu.loadPercent, 'number', 'load measured from the second sample on');
  t.ok(sample.cpu.cores >= 1);
  t.ok(sample.memory && sample.memory.totalBytes > 0 && sample.memory.availableBytes <= sample.memory.totalBytes);
  t.ok(sample.disk && sample.disk.totalBytes > 0);
  t.equal(sample.versions.node, process.versions.node);
  t.ok(sample.versions.kernel.length > 0);
  t.ok(sample.uptime.systemS > 0);
  // The default source is systeminformation itself: its answers, read here too, are in the sample.
  const si = (await import('systeminformation')).default;
  t.equal(sample.memory?.totalBytes, (await si.mem()).total);
  t.equal(sample.memory?.totalBytes, totalmem(), 'MemTotal, as Node reads it');
  t.equal(sample.versions.os, osName(await si.osInfo()));
  t.equal(sample.versions.kernel, release());
  if (!existsSync('/proc/device-tree/model')) t.equal(sample.versions.model ?? 'Computer', (await si.system()).model, 'model from system()');
  if (sample.temperature.socC === null) t.equal((await systemInformation.cpuTemperature()).main, null, 'no temperature: the library has none either');
  const lo = sample.network.interfaces.find((i) => i.name === 'lo');
  t.same(lo && { type: lo.type, up: lo.up, ipv4: lo.ipv4 }, { type: 'other', up: true, ipv4: ['127.0.0.1'] });
  t.comment(JSON.stringify({ ...sample, network: { ...sample.network, interfaces: sample.network.interfaces.map((i) => i.name) } }));
});
