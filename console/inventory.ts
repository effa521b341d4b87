import type { Target } from './args.js';
import {
  decodeState,
  decodeStatus,
  decodeTelemetry,
  jsonObject,
  parseBoxTopic,
  type BoxStateView,
  type BoxStatus,
  type TelemetryView,
} from './wire.js';

/** What the console knows of one box from its status, state and last telemetry. */
export interface BoxRecord {
  id: string;
  status?: BoxStatus | undefined;
  state?: BoxStateView | undefined;
  telemetry?: TelemetryView | undefined;
}

/** One line of `list`, and one element of `list --json`. */
export interface BoxRow {
  deviceId: string;
  name: string | null;
  village: string | null;
  commune: string | null;
  groups: string[];
  /** null: no status known (retained status cleared or never published). */
  online: boolean | null;
  /** Why it went offline: `shutdown` for a clean stop, null when the will fired (connection lost). */
  offlineReason: string | null;
  version: string | null;
  call: string | null;
  /** When the box connected (its status). */
  since: string | null;
  /** The latest time the box was heard from: status `since`, telemetry `at` or state `updatedAt`. */
  lastSeen: string | null;
  /** Health alerts of its last telemetry, plus `no-camera`, `media-down`, `media-failing`, `offline`, `no-status`. */
  alerts: string[];
  /** Whether a telemetry message was seen (its alerts are then included). */
  telemetryAt: string | null;
}

/**
 * The fleet as the retained status and state (and whatever telemetry passes by) describe it.
 * Fed with every message of `diemcau/+/{status,state,telemetry}`; a cleared retained message
 * (empty payload) forgets that part.
 */
export class Inventory {
  private readonly boxes = new Map<string, BoxRecord>();

  /** Takes one message; returns the box it was about, or undefined if not a status/state/telemetry topic. */
  note(topic: string, payload: Buffer): BoxRecord | undefined {
    const parsed = parseBoxTopic(topic);
    if (!parsed || parsed.rest.length > 0) return undefined;
    const { deviceId, kind } = parsed;
    if (kind !== 'status' && kind !== 'state' && kind !== 'telemetry') return undefined;
    const json = jsonObject(payload);
    const record = this.boxes.get(deviceId) ?? { id: deviceId };
    if (kind === 'status') record.status = json ? decodeStatus(json) : undefined;
    else if (kind === 'state') record.state = json ? decodeState(json) : undefined;
    else if (json) record.telemetry = decodeTelemetry(json);
    if (record.status || record.state || record.telemetry) this.boxes.set(deviceId, record);
    else this.boxes.delete(deviceId);
    return record;
  }

  get(id: string): BoxRecord | undefined {
    return this.boxes.get(id);
  }

  /** Every known box, sorted by id. */
  all(): BoxRecord[] {
    return [...this.boxes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The known boxes a target names; a group's members are those whose state lists it. */
  inTarget(target: Target): BoxRecord[] {
    return this.all().filter((r) => isInTarget(r, target));
  }

  /** Every group some box's state names, sorted. */
  groups(): string[] {
    return [...new Set(this.all().flatMap((r) => r.state?.groups ?? []))].sort();
  }
}

export function isInTarget(record: BoxRecord, target: Target): boolean {
  if (target.kind === 'all') return true;
  if (target.kind === 'box') return record.id === target.id;
  return record.state?.groups.includes(target.id) ?? false;
}

function latest(...times: Array<string | undefined>): string | null {
  let best: { text: string; ms: number } | null = null;
  for (const text of times) {
    const ms = text === undefined ? NaN : Date.parse(text);
    if (Number.isFinite(ms) && (best === null || ms > best.ms)) best = { text: text!, ms };
  }
  return best ? new Date(best.ms).toISOString() : null;
}

/** The alerts a person acts on: the box's own health alerts first, then what the console sees. */
export function alertsOf(record: BoxRecord): string[] {
  const alerts = [...(record.telemetry?.alerts ?? [])];
  const state = record.state;
  if (state) {
    if (!state.hasMedia) alerts.push('media-down');
    else {
      if (state.camera === null || state.videoSource === 'no-camera') alerts.push('no-camera');
      if (state.mediaUp === false) alerts.push('media-failing');
    }
  }
  if (!record.status) alerts.push('no-status');
  else if (!record.status.online) alerts.push('offline');
  return alerts;
}

export function boxRow(record: BoxRecord): BoxRow {
  const { status, state, telemetry } = record;
  return {
    deviceId: record.id,
    name: state?.name ?? null,
    village: state?.village ?? null,
    commune: state?.commune ?? null,
    groups: state?.groups ?? [],
    online: status ? status.online : null,
    offlineReason: status && !status.online ? (status.reason ?? null) : null,
    version: status?.version ?? state?.version ?? null,
    call: state?.call ?? null,
    since: status?.online ? (status.since ?? null) : null,
    lastSeen: latest(status?.since, status?.lastKnown, telemetry?.at, state?.updatedAt),
    alerts: alertsOf(record),
    telemetryAt: telemetry?.at ?? null,
  };
}
