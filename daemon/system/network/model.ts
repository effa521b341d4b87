/** The box's network as the setup page sees and changes it, whatever manages it. */
import { Type, type Static } from '@sinclair/typebox';

export type DeviceKind = 'ethernet' | 'wifi';
export type DeviceState = 'connected' | 'connecting' | 'disconnected' | 'unavailable' | 'unmanaged';

export interface NetworkDevice {
  /** The interface: eth0, wlan0. */
  device: string;
  type: DeviceKind;
  state: DeviceState;
  /** The connection profile in use, if any. */
  connection: string | null;
  /** IPv4 addresses with their prefix: 192.168.1.20/24. */
  addresses: string[];
  /** Wi-Fi only: the network joined and its signal (0–100 %). */
  ssid?: string | null;
  signal?: number | null;
}

export interface WifiNetwork {
  ssid: string;
  /** 0–100 %. */
  signal: number;
  /** WPA2, WPA3, ...; '' for an open network. */
  security: string;
  inUse: boolean;
}

/**
 * A Wi-Fi to join. SSIDs are up to 32 bytes (more than 32 characters never fit; the byte
 * length is checked where joined); a WPA passphrase is 8–63 printable ASCII characters, or 64
 * hex digits (the key itself).
 */
export const WifiJoinSchema = Type.Object(
  {
    ssid: Type.String({ minLength: 1, maxLength: 32 }),
    password: Type.Optional(Type.String({ pattern: '^([\\x20-\\x7e]{8,63}|[0-9a-fA-F]{64})$' })),
    hidden: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type WifiJoin = Static<typeof WifiJoinSchema>;

export interface HotspotSettings {
  ssid: string;
  password: string;
}

/** What the box's network manager does for the setup page and the setup hotspot. */
export interface NetworkManager {
  /** Ethernet and Wi-Fi devices, with their state and addresses. */
  devices(): Promise<NetworkDevice[]>;
  /** Wi-Fi networks in reach, strongest first, one per SSID; `rescan` asks the radio again. */
  scanWifi(rescan: boolean): Promise<WifiNetwork[]>;
  /** Joins a Wi-Fi and keeps it for the next boots; the one joined before stays if this fails. */
  joinWifi(join: WifiJoin): Promise<void>;
  /** The box's own Wi-Fi (access point) for setting it up when it has no network. */
  startHotspot(settings: HotspotSettings): Promise<void>;
  stopHotspot(): Promise<void>;
}

/** The SSID's length in bytes: the 32 the standard allows are bytes, and Vietnamese letters take 2–3. */
export function ssidBytes(ssid: string): number {
  return Buffer.byteLength(ssid, 'utf8');
}

/** One entry per SSID (the strongest), hidden ones dropped, strongest first. */
export function distinctNetworks(networks: WifiNetwork[]): WifiNetwork[] {
  const best = new Map<string, WifiNetwork>();
  for (const n of networks) {
    if (n.ssid === '') continue;
    const seen = best.get(n.ssid);
    if (!seen || n.signal > seen.signal) best.set(n.ssid, { ...n, inUse: n.inUse || (seen?.inUse ?? false) });
    else if (n.inUse) seen.inUse = true;
  }
  return [...best.values()].sort((a, b) => b.signal - a.signal || a.ssid.localeCompare(b.ssid));
}
