import type { Config } from '../config/index.js';
import type { MediaStatus } from '../media/types.js';
import type { CallSummary } from '../rtc/call.js';
import type { FloorHolder } from '../rtc/floor.js';
import type { HardwareStatus } from '../hardware/index.js';
import type { ConnectorState } from '../hardware/display-hotplug.js';

/** What the TV shows (the screen's name) and what the HDMI connectors say. */
export interface ScreenStatus {
  showing: string;
  connectors: ConnectorState[];
}

/** The inputs the retained `state` is made of; each part reports its own. */
export interface StateInputs {
  config: Config;
  version: string;
  startedAt: number;
  media: MediaStatus | null;
  /** The calls part's summary; null where calls cannot run here. */
  call: CallSummary | null;
  /** Who holds the meeting's floor; null: nobody, or no meeting. */
  floor: FloorHolder | null;
  /** Health alert codes of the last telemetry sample (null before the first). */
  alerts: readonly string[] | null;
  notice: { text: string; until: number } | null;
  /** The hall's TV control and status light; null where the hardware part does not run. */
  hardware: HardwareStatus | null;
  screen: ScreenStatus | null;
}

/**
 * The retained `diemcau/<id>/state`: everything a console needs to draw the box, in one
 * message that is current the moment anyone subscribes. Only fields a person acts on: the
 * pipeline-by-pipeline detail is in `diagnostics`.
 */
export function boxState({ config, version, startedAt, media, call, floor, alerts, notice, hardware, screen }: StateInputs) {
  return {
    deviceId: config.device.id,
    name: config.device.name,
    commune: config.device.commune,
    village: config.device.village,
    groups: config.fleet.groups,
    version,
    startedAt: new Date(startedAt).toISOString(),
    configRevision: config.revision,
    call: call
      ? { available: true, state: call.state, callId: call.callId, peer: call.peer, direction: call.direction, since: call.since, lastEnd: call.lastEnd, stats: call.stats, floor }
      : { available: false, state: 'idle' as const },
    // How the TV is driven (HDMI-CEC, simulated, or not at all), the status light's state, what
    // the TV shows, the size it is drawn at, and each HDMI connector (a TV unplugged shows here).
    display: {
      ...(hardware ? { available: hardware.tv !== 'none', control: hardware.tv, light: hardware.light } : { available: false }),
      showing: screen?.showing ?? null,
      output: media?.output ?? null,
      connectors: (screen?.connectors ?? []).map((c) => ({ connector: c.connector, status: c.status, tv: c.tvName, mode: c.mode, reason: c.reason })),
    },
    media: media
      ? {
          // Stopped pipelines are normal (the camera is closed outside a meeting); failing ones are not.
          up: !media.pipelines.some((p) => p.state === 'failed' || p.state === 'restarting'),
          sending: media.sending,
          videoSource: media.videoSource,
          camera: media.camera?.name ?? null,
          microphone: media.microphone?.name ?? null,
          // Where the meeting is heard: the TV (hdmi), a USB speakerphone, or another output.
          speaker: media.speaker ? { name: media.speaker.name, connection: media.speaker.connection } : null,
          encoder: media.encoder?.name ?? null,
          audioMuted: media.audioMuted,
          videoMuted: media.videoMuted,
          volume: media.volume,
          selfView: media.selfView,
        }
      : null,
    alerts,
    message: notice ? { text: notice.text, until: new Date(notice.until).toISOString() } : null,
  };
}

export type BoxState = ReturnType<typeof boxState>;
