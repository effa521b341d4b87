/**
 * NetworkManager through `nmcli` (Pi OS Bookworm manages its network with it): terse output
 * asked for by field name, each call with a deadline, exit codes (nmcli(1), EXIT STATUS) as
 * errors a person can act on. Secrets never go on a command line, where any user of the box
 * could read them (/proc/<pid>/cmdline): a Wi-Fi profile is added without its key, then brought
 * up with `passwd-file` (nmcli(1), connection up), a file only the daemon can read, removed at
 * once. The key is system-owned (psk-flags 0), so NetworkManager keeps it for the next boots.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DcError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { parseBlocks, parseTable } from './terse.js';
import { distinctNetworks, ssidBytes, type DeviceState, type HotspotSettings, type NetworkDevice, type NetworkManager, type WifiJoin, type WifiNetwork } from './model.js';

export interface NmcliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs nmcli with these arguments (tests answer from fixtures). */
export type NmcliRunner = (args: string[], timeoutMs: number) => Promise<NmcliResult>;

/** The Wi-Fi list's fields, by name (the order nmcli prints them in is the order asked). */
export const WIFI_FIELDS = ['NAME', 'SSID', 'SSID-HEX', 'BSSID', 'MODE', 'CHAN', 'FREQ', 'RATE', 'SIGNAL', 'BARS', 'SECURITY', 'WPA-FLAGS', 'RSN-FLAGS', 'DEVICE', 'ACTIVE', 'IN-USE', 'DBUS-PATH'] as const;

/** The profiles this box makes: the hall's Wi-Fi and its own setup hotspot. */
export const WIFI_PROFILE = 'diemcau-wifi';
export const HOTSPOT_PROFILE = 'diemcau-setup';

const QUICK_MS = 10_000;
/** A scan takes a few seconds; joining waits for DHCP too. */
const SCAN_MS = 25_000;
const ACTIVATE_S = 45;

const EXIT_CODES: Record<number, { code: ErrorCode; what: string }> = {
  1: { code: 'DC_NET_FAILED', what: 'NetworkManager reported an error' },
  2: { code: 'DC_NET_INPUT', what: 'nmcli refused the request' },
  3: { code: 'DC_NET_TIMEOUT', what: 'NetworkManager did not finish in time' },
  4: { code: 'DC_NET_ACTIVATION', what: 'the connection did not come up (a wrong password, or the network out of reach)' },
  5: { code: 'DC_NET_FAILED', what: 'the connection did not go down' },
  6: { code: 'DC_NET_FAILED', what: 'the device did not disconnect' },
  7: { code: 'DC_NET_FAILED', what: 'the connection profile was not deleted' },
  8: { code: 'DC_NET_UNAVAILABLE', what: 'NetworkManager is not running' },
  10: { code: 'DC_NET_NOT_FOUND', what: 'no such connection, device or network' },
};

/** nmcli's exit status as an error, with what it said. */
export function nmcliError(args: string[], result: NmcliResult): DcError {
  const known = EXIT_CODES[result.code] ?? { code: 'DC_NET_FAILED' as const, what: `nmcli failed (exit ${result.code})` };
  const said = result.stderr.trim().replace(/^Error:\s*/, '');
  return new DcError(known.code, said ? `${known.what}: ${said}` : known.what, { exitCode: result.code, command: `nmcli ${args.join(' ')}` });
}

/** The real runner: C locale (English words, stable output), a deadline, no shell. */
export const execNmcli: NmcliRunner = (args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile('nmcli', args, { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      if (e?.code === 'ENOENT') return reject(new DcError('DC_NET_UNAVAILABLE', 'nmcli is not installed (Debian package network-manager)'));
      if (e?.killed) return reject(new DcError('DC_NET_TIMEOUT', `nmcli did not answer within ${timeoutMs / 1000} s`));
      resolve({ code: typeof e?.code === 'number' ? e.code : e ? 1 : 0, stdout, stderr });
    });
  });

export class NmcliNetworkManager implements NetworkManager {
  constructor(
    private readonly log: Logger,
    private readonly run: NmcliRunner = execNmcli,
  ) {}

  async devices(): Promise<NetworkDevice[]> {
    const blocks = parseBlocks(await this.nmcli(['--terse', 'device', 'show']));
    const devices: NetworkDevice[] = [];
    for (const b of blocks) {
      const type = b.get('GENERAL.TYPE')?.[0];
      if (type !== 'ethernet' && type !== 'wifi') continue;
      devices.push({
        device: b.get('GENERAL.DEVICE')?.[0] ?? '',
        type,
        state: stateOf(b.get('GENERAL.STATE')?.[0] ?? ''),
        connection: b.get('GENERAL.CONNECTION')?.[0] || null,
        addresses: (b.get('IP4.ADDRESS') ?? []).filter(Boolean),
      });
    }
    if (devices.some((d) => d.type === 'wifi' && d.state === 'connected')) {
      // The network joined and its signal: the list's row in use (no new scan for that).
      const inUse = (await this.accessPoints(false)).filter((n) => n.inUse);
      for (const d of devices.filter((x) => x.type === 'wifi')) {
        const ap = inUse.find((n) => n.device === d.device);
        d.ssid = ap?.ssid ?? null;
        d.signal = ap?.signal ?? null;
      }
    }
    return devices;
  }

  async scanWifi(rescan: boolean): Promise<WifiNetwork[]> {
    return distinctNetworks((await this.accessPoints(rescan)).map(({ device: _device, ...n }) => n));
  }

  async joinWifi(join: WifiJoin): Promise<void> {
    if (ssidBytes(join.ssid) > 32) throw new DcError('DC_NET_INPUT', 'a Wi-Fi name is at most 32 bytes');
    const wifi = (await this.devices()).find((d) => d.type === 'wifi');
    if (!wifi) throw new DcError('DC_NET_NOT_FOUND', 'this box has no Wi-Fi device');
    // A new profile beside the old one: if it does not come up, the old one is still there.
    const trial = `${WIFI_PROFILE}-new`;
    await this.deleteProfile(trial);
    await this.nmcli([
      'connection', 'add', 'type', 'wifi', 'con-name', trial, 'ifname', wifi.device, 'ssid', join.ssid,
      'connection.autoconnect', 'yes',
      ...(join.hidden ? ['802-11-wireless.hidden', 'yes'] : []),
      ...(join.password !== undefined ? ['wifi-sec.key-mgmt', 'wpa-psk', 'wifi-sec.psk-flags', '0'] : []),
    ]);
    try {
      await this.up(trial, join.password !== undefined ? { '802-11-wireless-security.psk': join.password } : {});
    } catch (e) {
      await this.deleteProfile(trial);
      throw e;
    }
    await this.deleteProfile(WIFI_PROFILE);
    await this.nmcli(['connection', 'modify', trial, 'connection.id', WIFI_PROFILE]);
    this.log.info({ event: 'network.wifi_joined', ssid: join.ssid, device: wifi.device }, `joined the Wi-Fi "${join.ssid}"`);
  }

  async startHotspot(settings: HotspotSettings): Promise<void> {
    const wifi = (await this.devices()).find((d) => d.type === 'wifi');
    if (!wifi) throw new DcError('DC_NET_NOT_FOUND', 'this box has no Wi-Fi device for a hotspot');
    await this.deleteProfile(HOTSPOT_PROFILE);
    // What `nmcli device wifi hotspot` makes, spelt out so the key goes by file: an access point
    // sharing nothing (ipv4.method shared gives the phone an address by DHCP), WPA2 with CCMP
    // only (WPA1/TKIP is refused by today's phones and Pi's brcmfmac alike), never autoconnected.
    await this.nmcli([
      'connection', 'add', 'type', 'wifi', 'con-name', HOTSPOT_PROFILE, 'ifname', wifi.device, 'ssid', settings.ssid,
      'connection.autoconnect', 'no',
      '802-11-wireless.mode', 'ap', '802-11-wireless.band', 'bg',
      'ipv4.method', 'shared', 'ipv6.method', 'disabled',
      'wifi-sec.key-mgmt', 'wpa-psk', 'wifi-sec.proto', 'rsn', 'wifi-sec.pairwise', 'ccmp', 'wifi-sec.group', 'ccmp', 'wifi-sec.psk-flags', '0',
    ]);
    await this.up(HOTSPOT_PROFILE, { '802-11-wireless-security.psk': settings.password });
    this.log.info({ event: 'network.hotspot_on', ssid: settings.ssid, device: wifi.device }, `setup hotspot "${settings.ssid}" on`);
  }

  async stopHotspot(): Promise<void> {
    await this.deleteProfile(HOTSPOT_PROFILE);
    this.log.info({ event: 'network.hotspot_off' }, 'setup hotspot off');
  }

  private async accessPoints(rescan: boolean): Promise<Array<WifiNetwork & { device: string }>> {
    const out = await this.nmcli(['--terse', '--fields', WIFI_FIELDS.join(','), 'device', 'wifi', 'list', '--rescan', rescan ? 'yes' : 'no'], SCAN_MS);
    return parseTable(out, WIFI_FIELDS).map((row) => ({
      // The hex form is the SSID's bytes: a Vietnamese name arrives whole whatever the escaping.
      ssid: ssidFromHex(row['SSID-HEX']) ?? row.SSID,
      signal: Number(row.SIGNAL) || 0,
      security: row.SECURITY === '--' ? '' : row.SECURITY,
      inUse: row['IN-USE'].trim() === '*',
      device: row.DEVICE,
    }));
  }

  /** Brings a profile up with its secrets in a passwd-file (0600, in a 0700 folder, removed after). */
  private async up(profile: string, secrets: Record<string, string>): Promise<void> {
    const entries = Object.entries(secrets);
    if (entries.length === 0) {
      await this.nmcli(['--wait', String(ACTIVATE_S), 'connection', 'up', profile], (ACTIVATE_S + 5) * 1000);
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'diemcau-nm-'));
    const file = join(dir, 'secrets');
    try {
      await writeFile(file, entries.map(([key, value]) => `${key}:${value}\n`).join(''), { mode: 0o600 });
      await this.nmcli(['--wait', String(ACTIVATE_S), 'connection', 'up', profile, 'passwd-file', file], (ACTIVATE_S + 5) * 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Deletes a profile of ours; one that does not exist is fine. */
  private async deleteProfile(profile: string): Promise<void> {
    try {
      await this.nmcli(['connection', 'delete', profile]);
    } catch (e) {
      if (!(e instanceof DcError && e.code === 'DC_NET_NOT_FOUND')) throw e;
    }
  }

  private async nmcli(args: string[], timeoutMs = QUICK_MS): Promise<string> {
    const result = await this.run(args, timeoutMs);
    if (result.code !== 0) throw nmcliError(args, result);
    return result.stdout;
  }
}

/** "100 (connected)" → connected; NetworkManager's device states (nm-dbus-interface.h) folded to five. */
export function stateOf(text: string): DeviceState {
  const n = Number.parseInt(text, 10);
  if (n === 100) return 'connected';
  if (n >= 40 && n < 100) return 'connecting';
  if (n === 30 || n > 100) return 'disconnected';
  if (n === 20) return 'unavailable';
  return 'unmanaged';
}

function ssidFromHex(hex: string): string | null {
  if (!/^([0-9A-Fa-f]{2})+$/.test(hex)) return null;
  return Buffer.from(hex, 'hex').toString('utf8');
}
