import type { Logger } from '../log.js';
import type { OptionalTool } from './command.js';
import type { HostFiles } from './host-files.js';
import type { WifiLink } from './schema.js';

/** cfg80211 reports link quality as signal + 110 dBm, capped at this maximum. */
const MAX_LINK_QUALITY = 70;

export interface WirelessStats {
  interface: string;
  linkQuality: number;
  signalDbm: number;
}

/**
 * Parses /proc/net/wireless: two header lines, then one line per associated interface:
 * ` wlan0: 0000   58.  -52.  -256        0      0      0      0    137        0`
 * (status, link quality, signal level, noise level, then counters). The kernel lists only
 * interfaces with a link, so an empty result means no Wi-Fi connection.
 */
export function parseProcNetWireless(text: string): WirelessStats[] {
  const result: WirelessStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const match = /^\s*([^\s:]+):\s+[0-9a-f]+\s+(-?\d+)\.?\s+(-?\d+)\.?\s/i.exec(line);
    if (!match) continue;
    const level = Number(match[3]);
    result.push({
      interface: match[1]!,
      linkQuality: Number(match[2]),
      // Drivers without dBm support print the level as an unsigned byte (e.g. 204 for -52).
      signalDbm: level > 0 ? level - 256 : level,
    });
  }
  return result;
}

export function qualityPercent(linkQuality: number): number {
  return Math.round(Math.min(100, Math.max(0, (linkQuality / MAX_LINK_QUALITY) * 100)));
}

/** The first associated wireless interface with its SSID from `iwgetid -r`, or null. */
export async function readWifi(files: HostFiles, iwgetid: OptionalTool, log: Logger): Promise<WifiLink | null> {
  const text = await files.readIfExists('/proc/net/wireless');
  const stats = text === null ? undefined : parseProcNetWireless(text)[0];
  if (!stats) return null;
  return {
    interface: stats.interface,
    ssid: await readSsid(iwgetid, stats.interface, log),
    signalDbm: stats.signalDbm,
    qualityPercent: qualityPercent(stats.linkQuality),
    linkQuality: stats.linkQuality,
  };
}

/** Optional: a failure or a missing tool leaves the SSID unknown, not the whole link. */
async function readSsid(iwgetid: OptionalTool, iface: string, log: Logger): Promise<string | null> {
  try {
    const ssid = (await iwgetid.output([iface, '-r']))?.replace(/\n$/, '');
    return ssid ? ssid : null;
  } catch (e) {
    // Exits 255 when not associated (the link may have dropped since /proc was read).
    log.debug({ err: e, reader: 'ssid' }, 'health: iwgetid failed');
    return null;
  }
}
