/**
 * What the setup page's status shows, gathered from the parts that know it: the site and the
 * broker (as the TV says them), the media devices, the TV, the call, the health alerts. Cheap:
 * the page asks every few seconds, so the health sample is the last one taken, not a new one.
 */
import type { Telemetry } from '../health/schema.js';
import type { ConnectorState } from '../hardware/display-hotplug.js';
import type { MediaStatus } from '../media/types.js';
import type { ScreenFacts } from '../screen/director.js';

export interface SetupStatusSources {
  facts(): ScreenFacts;
  media(): MediaStatus | null;
  /** The screen the TV shows now ("idle", "call", "error:no-network"). */
  screen(): string;
  connectors(): ConnectorState[];
  /** The last health sample, if one was taken. */
  health(): Telemetry | null;
  /** The setup hotspot, when it is on. */
  hotspot?(): { ssid: string } | null;
  /** The page's mDNS name (diemcau-<name>.local), once announced. */
  hostname?(): string | null;
}

export interface SetupStatus {
  boxId: string;
  name: string;
  village: string;
  commune: string;
  network: 'ok' | 'down';
  address: string | null;
  hostname: string | null;
  hotspot: { ssid: string } | null;
  broker: ScreenFacts['broker'];
  camera: string | null;
  microphone: string | null;
  speaker: string | null;
  tv: { connected: boolean; name: string | null; mode: string | null };
  screen: string;
  call: ScreenFacts['call']['phase'];
  alerts: Telemetry['alerts'];
  temperatureC: number | null;
}

export function setupStatus(src: SetupStatusSources): SetupStatus {
  const facts = src.facts();
  const media = src.media();
  const health = src.health();
  const tv = src.connectors().find((c) => c.status === 'connected');
  return {
    boxId: facts.boxId,
    name: facts.site.name,
    village: facts.site.village,
    commune: facts.site.commune,
    network: facts.network,
    address: facts.setup?.address ?? null,
    hostname: src.hostname?.() ?? null,
    hotspot: src.hotspot?.() ?? null,
    broker: facts.broker,
    camera: media?.camera?.name ?? null,
    microphone: media?.microphone?.name ?? null,
    speaker: media?.speaker?.name ?? null,
    tv: { connected: tv !== undefined, name: tv?.tvName ?? null, mode: tv?.mode ? `${tv.mode.width}x${tv.mode.height}` : null },
    screen: src.screen(),
    call: facts.call.phase,
    alerts: health?.alerts ?? [],
    temperatureC: health?.temperature.socC ?? null,
  };
}
