/**
 * The setup hotspot: a box that has had no network for a while (no cable with an address, no
 * Wi-Fi joined) opens its own Wi-Fi, named after it, so a cadre's phone can reach the setup
 * page and give it the hall's Wi-Fi. The TV shows the name and password (and a QR code a phone
 * camera joins with). It closes when the box has a network again: a Wi-Fi joined from the page,
 * or a cable plugged in.
 */
import { randomInt } from 'node:crypto';
import { serializeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { NetworkDevice, NetworkManager, WifiJoin } from './model.js';
import { HOTSPOT_PROFILE } from './nmcli.js';

export type HotspotState = { state: 'off' } | { state: 'on'; ssid: string; password: string; qr: string };

export interface SetupHotspotOptions {
  network: NetworkManager;
  /** The settings now (network.hotspot). */
  settings(): { enabled: boolean; afterS: number };
  /** The box's id: the hotspot is `diemcau-<id>`. */
  boxId(): string;
  log: Logger;
  onChange?(state: HotspotState): void;
  /** How often the network is looked at (ms, default 5000). */
  checkEveryMs?: number;
  now?(): number;
}

/** No 0/O, 1/l/I: the password is read off a TV across a hall and typed on a phone. */
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const PASSWORD_LENGTH = 10;

export class SetupHotspot {
  readonly name = 'hotspot';
  private current: HotspotState = { state: 'off' };
  private offlineSince: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastProblem = '';
  private readonly now: () => number;

  constructor(private readonly opts: SetupHotspotOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): HotspotState {
    return this.current;
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs ?? 5000);
    this.timer.unref();
    void this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.close('the daemon stops');
  }

  /** One look at the network (the timer's job; tests call it with their clock). */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const online = hasNetwork(await this.opts.network.devices());
      this.lastProblem = '';
      const { enabled, afterS } = this.opts.settings();
      if (online || !enabled) {
        this.offlineSince = null;
        await this.close(online ? 'the box has a network' : 'the hotspot is turned off in the settings');
        return;
      }
      this.offlineSince ??= this.now();
      if (this.current.state === 'off' && this.now() - this.offlineSince >= afterS * 1000) await this.open();
    } catch (e) {
      // Said once, not every few seconds: a box without NetworkManager would fill its journal.
      const err = serializeError(e);
      if (err.message !== this.lastProblem) this.opts.log.warn({ event: 'network.hotspot_check_failed', err }, 'setup hotspot: the network could not be read');
      this.lastProblem = err.message;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Joins a Wi-Fi from the page. The hotspot shares the radio: NetworkManager takes it down to
   * try the hall's network. Joined, the hotspot is off for good; refused (a wrong password), the
   * hotspot comes back with the same name and password, so the phone that asked finds it again.
   */
  async joinWifi(join: WifiJoin): Promise<void> {
    try {
      await this.opts.network.joinWifi(join);
    } catch (e) {
      if (this.current.state === 'on') {
        const { ssid, password } = this.current;
        await this.opts.network.startHotspot({ ssid, password }).catch((again) =>
          this.opts.log.error({ event: 'network.hotspot_lost', err: serializeError(again) }, 'setup hotspot: not back after a failed join'),
        );
      }
      throw e;
    }
    this.offlineSince = null;
    this.set({ state: 'off' });
  }

  private async open(): Promise<void> {
    const ssid = `diemcau-${this.opts.boxId()}`.slice(0, 32);
    const password = Array.from({ length: PASSWORD_LENGTH }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
    await this.opts.network.startHotspot({ ssid, password });
    this.opts.log.warn({ event: 'network.hotspot_opened', ssid }, `no network: the setup hotspot "${ssid}" is open`);
    this.set({ state: 'on', ssid, password, qr: wifiQrText(ssid, password) });
  }

  private async close(why: string): Promise<void> {
    if (this.current.state === 'off') return;
    await this.opts.network.stopHotspot();
    this.opts.log.info({ event: 'network.hotspot_closed', why }, `setup hotspot closed: ${why}`);
    this.set({ state: 'off' });
  }

  private set(state: HotspotState): void {
    const changed = JSON.stringify(state) !== JSON.stringify(this.current);
    this.current = state;
    if (changed) this.opts.onChange?.(state);
  }
}

/** A cable or a Wi-Fi with an address, not counting the box's own hotspot. */
export function hasNetwork(devices: NetworkDevice[]): boolean {
  return devices.some((d) => d.state === 'connected' && d.connection !== HOTSPOT_PROFILE && d.addresses.length > 0);
}

/**
 * The text of a Wi-Fi QR code (the ZXing "WIFI:" format Android's camera and iOS join from):
 * `\`, `;`, `,`, `:` and `"` in the name or password are escaped with a backslash.
 */
export function wifiQrText(ssid: string, password: string): string {
  const escape = (s: string) => s.replace(/([\\;,:"])/g, '\\$1');
  return `WIFI:T:WPA;S:${escape(ssid)};P:${escape(password)};;`;
}

/** The network as the setup page uses it: a Wi-Fi joined through the hotspot's care. */
export function throughHotspot(network: NetworkManager, hotspot: SetupHotspot): NetworkManager {
  return {
    devices: () => network.devices(),
    scanWifi: (rescan) => network.scanWifi(rescan),
    joinWifi: (join) => hotspot.joinWifi(join),
    startHotspot: (settings) => network.startHotspot(settings),
    stopHotspot: () => network.stopHotspot(),
  };
}
