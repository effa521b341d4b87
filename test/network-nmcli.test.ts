/**
 * NetworkManager through nmcli, against a simulated nmcli that records each command line and
 * answers with the real tool's output (test/fixtures/nmcli): the exact command lines, the
 * parsing of terse output, exit statuses as errors, no secret on a command line, deadlines.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DcError } from '../daemon/errors.js';
import { createLogger } from '../daemon/log.js';
import { execNmcli, NmcliNetworkManager, WIFI_FIELDS, type NmcliResult } from '../daemon/system/network/nmcli.js';
import { parseBlocks, parseTable, splitTerse } from '../daemon/system/network/terse.js';
import { PROJECT_ROOT as PROJECT } from './helpers/project.js';
import { caught } from './helpers/wait.js';

const fixture = (name: string) => readFile(join(PROJECT, 'test/fixtures/nmcli', name), 'utf8');
const log = createLogger('silent');
const WIFI_LIST = ['--terse', '--fields', WIFI_FIELDS.join(','), 'device', 'wifi', 'list', '--rescan'];

interface Call {
  args: string[];
  /** What a passwd-file named on the command line held while nmcli ran. */
  passwdFile?: string;
}

/**
 * A simulated NetworkManager behind nmcli: each command line is recorded and answered by the
 * first rule whose prefix matches; anything else is exit 0 with no output.
 */
function simulatedNmcli(rules: Array<[string[], NmcliResult | (() => Promise<NmcliResult>)]>) {
  const calls: Call[] = [];
  const run = async (args: string[]): Promise<NmcliResult> => {
    const call: Call = { args };
    const file = args.indexOf('passwd-file');
    if (file >= 0) call.passwdFile = await readFile(args[file + 1]!, 'utf8');
    calls.push(call);
    const rule = rules.find(([prefix]) => prefix.every((a, i) => args[i] === a));
    const answer = rule?.[1] ?? { code: 0, stdout: '', stderr: '' };
    return typeof answer === 'function' ? answer() : answer;
  };
  return { calls, nm: new NmcliNetworkManager(log, run) };
}
const ok = (stdout: string): NmcliResult => ({ code: 0, stdout, stderr: '' });

t.test('terse output: escapes, tables, multiline blocks', async (t) => {
  t.same(splitTerse('AP[1]:wlan0-ap-2:C0\\:E2\\:BE:a\\\\b:'), ['AP[1]', 'wlan0-ap-2', 'C0:E2:BE', 'a\\b', ''], 'colons and backslashes unescaped; an empty last field kept');
  const rows = parseTable(await fixture('device-status.txt'), ['DEVICE', 'TYPE', 'STATE', 'CONNECTION'] as const);
  t.equal(rows.length, 5, 'device status: five devices, blank lines skipped');
  t.same(rows[0], { DEVICE: 'wlan0', TYPE: 'wifi', STATE: 'connected', CONNECTION: 'con-vpn-1' });
  t.same(rows[1], { DEVICE: 'eth0', TYPE: 'ethernet', STATE: 'disconnected', CONNECTION: '' }, 'an empty field');
  const blocks = parseBlocks(await fixture('device-show.txt'));
  t.ok(blocks.length >= 3, `device show: ${blocks.length} blocks`);
  t.same(blocks[0]!.get('IP4.ADDRESS'), ['192.168.228.18/32', '192.168.209.179/25'], 'IP4.ADDRESS[1] and [2] gathered');
  t.same(blocks[0]!.get('GENERAL.HWADDR'), ['13:E0:74:85:7C:D9'], 'multiline values are not escaped: a MAC address whole');
});

t.test('devices: ethernet and Wi-Fi with state, connection and addresses; the Wi-Fi in use', async (t) => {
  const { calls, nm } = simulatedNmcli([
    [['--terse', 'device', 'show'], ok(await fixture('device-show.txt'))],
    [WIFI_LIST, ok(await fixture('wifi-list-hall.txt'))],
  ]);
  const devices = await nm.devices();
  t.same(calls[0]!.args, ['--terse', 'device', 'show'], 'nmcli --terse device show');
  t.same(calls[1]!.args, [...WIFI_LIST, 'no'], 'then the Wi-Fi list without a new scan, for the network in use');
  t.match(devices[0], { device: 'wlan0', type: 'wifi', state: 'connected', connection: 'con-vpn-1', addresses: ['192.168.228.18/32', '192.168.209.179/25'] });
  t.match(devices[0], { ssid: 'UBND Xã Hòa Bình: tầng 2', signal: 74 }, 'the SSID in use and its signal');
  t.match(devices[1], { device: 'eth0', type: 'ethernet', state: 'disconnected', connection: null });
  t.ok(devices.every((d) => d.type === 'ethernet' || d.type === 'wifi'), 'only Ethernet and Wi-Fi devices');
});

t.test('Wi-Fi scan: the real list, and a hall with a Vietnamese name, duplicates, a hidden and an open network', async (t) => {
  const real = simulatedNmcli([[WIFI_LIST, ok(await fixture('wifi-list.txt'))]]);
  const networks = await real.nm.scanWifi(true);
  t.same(real.calls[0]!.args, [...WIFI_LIST, 'yes'], 'a scan asks the radio again (--rescan yes)');
  t.same(networks.map((n) => [n.ssid, n.signal, n.security]), [
    ['wlan0-ap-2', 92, 'WPA1 WPA2'],
    ['wlan0-ap-1', 81, 'WPA1'],
    ['wlan0-ap-3', 55, 'WPA3'],
    ['wlan1-ap-4', 48, 'WPA1 WPA2'],
  ], 'the real output: every access point of both devices, strongest first');

  const hall = simulatedNmcli([[WIFI_LIST, ok(await fixture('wifi-list-hall.txt'))]]);
  t.same((await hall.nm.scanWifi(false)).map((n) => [n.ssid, n.signal, n.security, n.inUse]), [
    ['UBND Xã Hòa Bình: tầng 2', 74, 'WPA2', true],
    ['Nha Van Hoa Thon Dong', 66, 'WPA2', false],
    ['Quán cà phê Mai', 22, '', false],
  ], 'one entry per SSID (the strongest), the hidden one dropped, open is ""');
});

t.test('joining a Wi-Fi: the command lines, the password only in a passwd-file, the old profile kept on failure', async (t) => {
  const show = ok(await fixture('device-show.txt'));
  const { calls, nm } = simulatedNmcli([
    [['--terse', 'device', 'show'], show],
    [WIFI_LIST, ok(await fixture('wifi-list-hall.txt'))],
    [['connection', 'delete', 'diemcau-wifi-new'], { code: 10, stdout: '', stderr: "Error: unknown connection 'diemcau-wifi-new'.\n" }],
  ]);
  await nm.joinWifi({ ssid: 'Nha Van Hoa Thon Dong', password: 'thondong2024' });
  const lines = calls.map((c) => c.args.join(' '));
  t.same(lines.slice(2), [
    'connection delete diemcau-wifi-new',
    'connection add type wifi con-name diemcau-wifi-new ifname wlan0 ssid Nha Van Hoa Thon Dong connection.autoconnect yes wifi-sec.key-mgmt wpa-psk wifi-sec.psk-flags 0',
    `--wait 45 connection up diemcau-wifi-new passwd-file ${calls[4]!.args[6]}`,
    'connection delete diemcau-wifi',
    'connection modify diemcau-wifi-new connection.id diemcau-wifi',
  ], 'a new profile, brought up with its key from a file, then it replaces the old one');
  t.ok(calls.every((c) => !c.args.some((a) => a.includes('thondong2024'))), 'the password is on no command line');
  t.equal(calls[4]!.passwdFile, '802-11-wireless-security.psk:thondong2024\n', 'it reaches nmcli in the passwd-file (nmcli(1), connection up)');
  await t.rejects(readFile(calls[4]!.args[6]!), 'and the file is gone afterwards');

  // A wrong password: activation fails (exit 4); the trial profile goes, the old one stays.
  const failing = simulatedNmcli([
    [['--terse', 'device', 'show'], show],
    [WIFI_LIST, ok(await fixture('wifi-list-hall.txt'))],
    [['--wait'], { code: 4, stdout: '', stderr: 'Error: Connection activation failed: Secrets were required, but not provided.\n' }],
  ]);
  const e = (await caught(() => failing.nm.joinWifi({ ssid: 'Nha Van Hoa Thon Dong', password: 'wrong-password' }))) as DcError;
  t.equal(e.code, 'DC_NET_ACTIVATION', 'exit 4: activation failed');
  t.match(e.message, /wrong password.*Secrets were required/, "with nmcli's own words");
  const after = failing.calls.map((c) => c.args.join(' ')).slice(-1);
  t.same(after, ['connection delete diemcau-wifi-new'], 'the trial profile is deleted; diemcau-wifi is never touched');

  const hidden = simulatedNmcli([[['--terse', 'device', 'show'], show], [WIFI_LIST, ok('')]]);
  await hidden.nm.joinWifi({ ssid: 'Ẩn', hidden: true });
  t.match(hidden.calls.map((c) => c.args.join(' ')), [/./, /./, /./, /ssid Ẩn connection.autoconnect yes 802-11-wireless.hidden yes$/, /^--wait 45 connection up diemcau-wifi-new$/], 'a hidden open network: hidden yes, no key, no passwd-file');
  t.equal(((await caught(() => hidden.nm.joinWifi({ ssid: 'Nhà văn hoá thôn Đông Xá bản' }))) as DcError).code, 'DC_NET_INPUT', 'an SSID over 32 bytes (Vietnamese letters take 2–3) is refused before nmcli');
});

t.test('the setup hotspot: an access point with the key by file; stopping deletes it', async (t) => {
  const { calls, nm } = simulatedNmcli([[['--terse', 'device', 'show'], ok(await fixture('device-show.txt'))], [WIFI_LIST, ok('')]]);
  await nm.startHotspot({ ssid: 'diemcau-thon-dong', password: 'k7m2p9x4ab' });
  const lines = calls.map((c) => c.args.join(' '));
  t.match(lines, [/device show/, /wifi list/, 'connection delete diemcau-setup', /^connection add type wifi con-name diemcau-setup ifname wlan0 ssid diemcau-thon-dong connection.autoconnect no 802-11-wireless.mode ap .* ipv4.method shared .*wifi-sec.key-mgmt wpa-psk wifi-sec.proto rsn/, /^--wait 45 connection up diemcau-setup passwd-file /]);
  t.ok(calls.every((c) => !c.args.includes('k7m2p9x4ab')), 'its password is on no command line');
  t.equal(calls.at(-1)!.passwdFile, '802-11-wireless-security.psk:k7m2p9x4ab\n');
  await nm.stopHotspot();
  t.same(calls.at(-1)!.args, ['connection', 'delete', 'diemcau-setup']);
});

t.test('exit statuses and failures as errors a person can act on', async (t) => {
  const notRunning = await fixture('not-running.stderr');
  for (const [code, expected] of [
    [1, 'DC_NET_FAILED'],
    [2, 'DC_NET_INPUT'],
    [3, 'DC_NET_TIMEOUT'],
    [4, 'DC_NET_ACTIVATION'],
    [5, 'DC_NET_FAILED'],
    [6, 'DC_NET_FAILED'],
    [7, 'DC_NET_FAILED'],
    [8, 'DC_NET_UNAVAILABLE'],
    [10, 'DC_NET_NOT_FOUND'],
    [42, 'DC_NET_FAILED'],
  ] as const) {
    const { nm } = simulatedNmcli([[['--terse'], { code, stdout: '', stderr: code === 8 ? notRunning : 'Error: something.\n' }]]);
    const e = (await caught(() => nm.devices())) as DcError;
    t.equal(e.code, expected, `exit ${code}: ${e.message}`);
    t.equal(e.details?.exitCode, code);
  }
  const { nm } = simulatedNmcli([[['--terse'], { code: 8, stdout: '', stderr: notRunning }]]);
  t.match(((await caught(() => nm.devices())) as DcError).message, /NetworkManager is not running/, "the real tool's words (exit 8)");

  // nmcli missing from the machine: the real runner says which package brings it.
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const e = (await caught(() => execNmcli(['--version'], 5000))) as DcError;
    t.equal(e.code, 'DC_NET_UNAVAILABLE', 'no nmcli binary: unavailable, not a crash');
    t.match(e.message, /network-manager/, 'naming the Debian package');
  } finally {
    process.env.PATH = saved;
  }
});

t.test('a nmcli that never answers is cut off at its deadline', async (t) => {
  // The real runner with a stand-in nmcli that hangs: execFile's timeout kills it.
  const { mkdtemp, writeFile, chmod, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-nmcli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'nmcli'), '#!/bin/sh\nsleep 30\n');
  await chmod(join(dir, 'nmcli'), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  try {
    const started = Date.now();
    const e = (await caught(() => execNmcli(['--terse', 'device', 'show'], 300))) as DcError;
    t.equal(e.code, 'DC_NET_TIMEOUT', 'timed out');
    t.ok(Date.now() - started < 5000, `after ${Date.now() - started} ms`);
  } finally {
    process.env.PATH = saved;
  }
});
