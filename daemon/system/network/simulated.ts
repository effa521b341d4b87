/**
 * The sim profile's network: a wired link up, a Wi-Fi device with a few halls' networks in
 * reach, joins that succeed with the right password and fail as nmcli's do with a wrong one,
 * and a hotspot. The demo and the browser tests use it; it never touches this machine's network.
 */
import { DcError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { distinctNetworks, ssidBytes, type HotspotSettings, type NetworkDevice, type NetworkManager, type WifiJoin, type WifiNetwork } from './model.js';

export interface SimulatedAccessPoint extends WifiNetwork {
  /** The passphrase it takes; undefined: an open network. */
  password?: string;
}

export const SIM_ACCESS_POINTS: SimulatedAccessPoint[] = [
  { ssid: 'Nha Van Hoa Thon Dong', signal: 78, security: 'WPA2', inUse: false, password: 'thondong2024' },
  { ssid: 'UBND Xã Hòa Bình', signal: 52, security: 'WPA2 WPA3', inUse: false, password: 'hoabinh-xa-01' },
  { ssid: 'Quán cà phê Mai', signal: 31, security: '', inUse: false },
  { ssid: 'Nha Van Hoa Thon Dong', signal: 40, security: 'WPA2', inUse: false, password: 'thondong2024' },
];

export class SimulatedNetworkManager implements NetworkManager {
  private wired: boolean;
  private joined: { ssid: string; signal: number } | null = null;
  private hotspot: HotspotSettings | null = null;
  /** Every join asked for, for tests. */
  readonly joins: WifiJoin[] = [];

  constructor(
    private readonly log: Logger,
    private readonly options: { wired?: boolean; accessPoints?: SimulatedAccessPoint[] } = {},
  ) {
    this.wired = options.wired ?? true;
  }

  /** Tests: the cable pulled out or plugged back. */
  setWired(up: boolean): void {
    this.wired = up;
  }

  get hotspotSettings(): HotspotSettings | null {
    return this.hotspot;
  }

  async devices(): Promise<NetworkDevice[]> {
    return [
      { device: 'eth0', type: 'ethernet', state: this.wired ? 'connected' : 'unavailable', connection: this.wired ? 'Wired connection 1' : null, addresses: this.wired ? ['192.168.1.20/24'] : [] },
      this.hotspot
        ? { device: 'wlan0', type: 'wifi', state: 'connected', connection: 'diemcau-setup', addresses: ['10.42.0.1/24'], ssid: this.hotspot.ssid, signal: null }
        : {
            device: 'wlan0',
            type: 'wifi',
            state: this.joined ? 'connected' : 'disconnected',
            connection: this.joined ? 'diemcau-wifi' : null,
            addresses: this.joined ? ['192.168.43.57/24'] : [],
            ssid: this.joined?.ssid ?? null,
            signal: this.joined?.signal ?? null,
          },
    ];
  }

  async scanWifi(): Promise<WifiNetwork[]> {
    return distinctNetworks(this.accessPoints().map(({ password: _p, ...n }) => ({ ...n, inUse: n.ssid === this.joined?.ssid })));
  }

  async joinWifi(join: WifiJoin): Promise<void> {
    this.joins.push(join);
    // As NetworkManager does: the one radio leaves the hotspot to try the network.
    this.hotspot = null;
    if (ssidBytes(join.ssid) > 32) throw new DcError('DC_NET_INPUT', 'a Wi-Fi name is at most 32 bytes');
    const ap = this.accessPoints().find((a) => a.ssid === join.ssid);
    if (!ap && !join.hidden) throw new DcError('DC_NET_NOT_FOUND', `no Wi-Fi network named "${join.ssid}" is in reach`);
    if (!ap || (ap.password !== undefined && ap.password !== join.password)) {
      throw new DcError('DC_NET_ACTIVATION', 'the connection did not come up (a wrong password, or the network out of reach)');
    }
    this.joined = { ssid: ap.ssid, signal: Math.max(...this.accessPoints().filter((a) => a.ssid === ap.ssid).map((a) => a.signal)) };
    this.log.info({ event: 'network.wifi_joined', ssid: join.ssid, simulated: true }, `joined the Wi-Fi "${join.ssid}" (simulated)`);
  }

  async startHotspot(settings: HotspotSettings): Promise<void> {
    this.hotspot = { ...settings };
    this.log.info({ event: 'network.hotspot_on', ssid: settings.ssid, simulated: true }, `setup hotspot "${settings.ssid}" on (simulated)`);
  }

  async stopHotspot(): Promise<void> {
    this.hotspot = null;
  }

  private accessPoints(): SimulatedAccessPoint[] {
    return this.options.accessPoints ?? SIM_ACCESS_POINTS;
  }
}
