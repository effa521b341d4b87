/**
 * How a person on the hall's LAN reaches the setup page: the box's address, and a one-time
 * code shown only on the TV, so that only someone in the room can change the box.
 */
import { randomInt } from 'node:crypto';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { SetupAccess } from '../screen/art.js';

/** Six digits, drawn again after each use (the setup page's login) and at each start. */
export class SetupCode {
  private value: string;

  constructor(private readonly draw: () => number = () => randomInt(0, 1_000_000)) {
    this.value = this.next();
  }

  get code(): string {
    return this.value;
  }

  rotate(): string {
    this.value = this.next();
    return this.value;
  }

  private next(): string {
    return String(this.draw()).padStart(6, '0');
  }
}

/**
 * The box's IPv4 address on the LAN: wired first, then Wi-Fi, then anything else that is not
 * loopback or link-local (169.254/16: no DHCP answered, no phone can reach it). Null: no network.
 */
export function lanAddress(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string | null {
  const rank = (name: string) => (/^(eth|en)/.test(name) ? 0 : /^(wlan|wl)/.test(name) ? 1 : 2);
  const candidates = Object.entries(interfaces)
    .flatMap(([name, infos]) => (infos ?? []).map((info) => ({ name, info })))
    .filter(({ info }) => info.family === 'IPv4' && !info.internal && !info.address.startsWith('169.254.'))
    .sort((a, b) => rank(a.name) - rank(b.name));
  return candidates[0]?.info.address ?? null;
}

/** What the TV shows to reach the setup page; null without a LAN address. */
export function setupAccess(address: string | null, port: number, code: string): SetupAccess | null {
  if (!address) return null;
  const base = port === 80 ? `http://${address}` : `http://${address}:${port}`;
  return { address: base, link: `${base}/?code=${code}`, code };
}
