/**
 * How a person on the hall's LAN reaches the setup page: the box's address, and a one-time
 * code shown only on the TV, so that only someone in the room can change the box.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { SetupAccess } from '../screen/art.js';

/**
 * Six digits, shown on the TV only: drawn at start, again after each use, after a burst of
 * wrong tries, and when it has been shown `validMs` (30 min); the TV reads it at each redraw.
 */
export class SetupCode {
  private value = '';
  private drawnAt = 0;
  private readonly now: () => number;

  constructor(
    private readonly draw: () => number = () => randomInt(0, 1_000_000),
    private readonly opts: { validMs?: number; now?: () => number; onChange?: (code: string) => void } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.rotate();
  }

  get code(): string {
    if (this.now() - this.drawnAt >= (this.opts.validMs ?? 30 * 60_000)) this.rotate();
    return this.value;
  }

  /** Whether `candidate` is the code now (constant time). */
  matches(candidate: string): boolean {
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.code);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  rotate(): string {
    this.value = String(this.draw()).padStart(6, '0');
    this.drawnAt = this.now();
    this.opts.onChange?.(this.value);
    return this.value;
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
