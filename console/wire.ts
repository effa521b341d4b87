/**
 * What boxes publish, decoded defensively: a box of another firmware version, or any client
 * with write access, may send fields missing, renamed or of the wrong type, and the console must
 * still draw the rest. Every decoder takes parsed JSON and never throws.
 */
import { TOPIC_ROOT, topicIdProblem } from '../daemon/fleet/topics.js';

export type BoxTopicKind = 'status' | 'state' | 'telemetry' | 'events' | 'reply';

/** `diemcau/<id>/<kind>[/…]` as its parts, or undefined for any other topic. */
export function parseBoxTopic(topic: string): { deviceId: string; kind: BoxTopicKind; rest: string[] } | undefined {
  const [root, deviceId, kind, ...rest] = topic.split('/');
  if (root !== TOPIC_ROOT || deviceId === undefined || topicIdProblem(deviceId)) return undefined;
  if (kind !== 'status' && kind !== 'state' && kind !== 'telemetry' && kind !== 'events' && kind !== 'reply') return undefined;
  return { deviceId, kind, rest };
}

/** The payload as a JSON object, or undefined (empty, not JSON, not an object). */
export function jsonObject(payload: Buffer | string): Record<string, unknown> | undefined {
  const text = payload.toString().trim();
  if (text === '') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Retained `status`: `{"online":true,"since","version"}`; the will `{"online":false,"onlineSince"}`;
 * a clean stop `{"online":false,"reason":"shutdown","at"}`.
 */
export interface BoxStatus {
  online: boolean;
  since?: string | undefined;
  version?: string | undefined;
  reason?: string | undefined;
  /** When the box went offline (a clean stop), or when its lost session had begun (the will). */
  lastKnown?: string | undefined;
}

export function decodeStatus(json: Record<string, unknown>): BoxStatus {
  return {
    online: json.online === true,
    since: str(json.since),
    version: str(json.version),
    reason: str(json.reason),
    lastKnown: str(json.at) ?? str(json.onlineSince),
  };
}

/** The fields of the retained `state` the console shows (daemon/fleet/state.ts). */
export interface BoxStateView {
  name?: string | undefined;
  commune?: string | undefined;
  village?: string | undefined;
  groups: string[];
  version?: string | undefined;
  call?: string | undefined;
  /** undefined: no media section (media engine not running); null: no camera. */
  camera?: string | null | undefined;
  videoSource?: string | undefined;
  mediaUp?: boolean | undefined;
  hasMedia: boolean;
  updatedAt?: string | undefined;
}

export function decodeState(json: Record<string, unknown>): BoxStateView {
  const media = obj(json.media);
  return {
    name: str(json.name),
    commune: str(json.commune),
    village: str(json.village),
    groups: strings(json.groups),
    version: str(json.version),
    call: str(obj(json.call)?.state),
    camera: media ? (media.camera === null ? null : str(media.camera)) : undefined,
    videoSource: str(media?.videoSource),
    mediaUp: typeof media?.up === 'boolean' ? media.up : undefined,
    hasMedia: media !== undefined,
    updatedAt: str(json.updatedAt),
  };
}

/** The figures of one telemetry message that fit on a line (daemon/health/schema.ts). */
export interface TelemetryView {
  at?: string | undefined;
  seq?: number | undefined;
  cpuPercent?: number | null | undefined;
  tempC?: number | null | undefined;
  memPercent?: number | null | undefined;
  diskPercent?: number | null | undefined;
  wifi?: { signalDbm?: number | undefined; ssid?: string | undefined } | null | undefined;
  /** A wired interface is up (the box is on Ethernet). */
  wired: boolean;
  alerts: string[];
  queueDropped?: number | undefined;
}

export function decodeTelemetry(json: Record<string, unknown>): TelemetryView {
  const health = obj(json.health);
  const network = obj(health?.network);
  const wifi = network?.wifi === null ? null : obj(network?.wifi);
  const interfaces = Array.isArray(network?.interfaces) ? network.interfaces.map(obj) : [];
  const nullable = (parent: Record<string, unknown> | undefined, key: string, field: string) => {
    const section = parent?.[key];
    if (section === null) return null;
    const value = obj(section)?.[field];
    return value === null ? null : num(value);
  };
  return {
    at: str(json.at),
    seq: num(json.seq),
    cpuPercent: nullable(health, 'cpu', 'loadPercent'),
    tempC: nullable(health, 'temperature', 'socC'),
    memPercent: nullable(health, 'memory', 'usedPercent'),
    diskPercent: nullable(health, 'disk', 'usedPercent'),
    wifi: wifi === null ? null : wifi ? { signalDbm: num(wifi.signalDbm), ssid: str(wifi.ssid) } : undefined,
    wired: interfaces.some((i) => i?.type === 'wired' && i.up === true),
    alerts: strings(health?.alerts),
    queueDropped: num(obj(json.queue)?.dropped),
  };
}

const ENVELOPE_KEYS = new Set(['seq', 'deviceId', 'at', 'bootId', 'runId', 'type']);

export interface EventView {
  at?: string | undefined;
  type: string;
  /** Everything but the envelope. */
  data: Record<string, unknown>;
}

export function decodeEvent(json: Record<string, unknown>): EventView {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (!ENVELOPE_KEYS.has(k)) data[k] = v;
  return { at: str(json.at), type: str(json.type) ?? 'unknown', data };
}

/** A reply as daemon/fleet/router.ts sends it. */
export interface Reply {
  ok: boolean;
  deviceId: string;
  command: string;
  requestId?: string;
  result?: unknown;
  error?: { code: string; message: string; details?: unknown };
}

/** A reply body, with the box named by its topic (the ACL guarantees that one, not the body). */
export function decodeReply(json: Record<string, unknown>, deviceId: string, command: string): Reply {
  const error = obj(json.error);
  const reply: Reply = { ...json, ok: json.ok === true, deviceId, command: str(json.command) ?? command };
  if (reply.ok) return reply;
  return {
    ...reply,
    error: {
      ...error,
      code: str(error?.code) ?? 'DC_INTERNAL',
      message: str(error?.message) ?? 'the box sent an error without a message',
    },
  };
}
