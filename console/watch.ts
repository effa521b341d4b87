import { setTimeout as sleep } from 'node:timers/promises';
import { deviceTopics } from '../daemon/fleet/topics.js';
import type { Target, WatchInvocation } from './args.js';
import { EXIT, type ExitCode } from './errors.js';
import { Inventory, isInTarget } from './inventory.js';
import type { FleetLink, InboundMessage } from './link.js';
import { clock, compact, paint, type Output, type Style } from './render.js';
import { decodeEvent, decodeStatus, decodeTelemetry, jsonObject, parseBoxTopic, type TelemetryView } from './wire.js';

/** One line of `watch --json`. */
export interface WatchLine {
  kind: 'telemetry' | 'event' | 'status';
  deviceId: string;
  topic: string;
  message: Record<string, unknown>;
}

function filters(target: Target): string[] {
  if (target.kind === 'box') {
    const t = deviceTopics(target.id);
    return [t.status, t.state, t.telemetry, t.events];
  }
  // A group's members are known from their retained state, so every box's state is needed.
  return ['diemcau/+/status', 'diemcau/+/state', 'diemcau/+/telemetry', 'diemcau/+/events'];
}

/**
 * `watch`: every live telemetry, event and status change of the target, one line each, until
 * `stop` resolves (Ctrl-C), `--count` lines were printed or `--duration` ran out. Retained
 * messages are the current state, not changes: they only tell which boxes are in a group.
 */
export async function runWatch(link: FleetLink, options: WatchInvocation, output: Output, stop: Promise<void>): Promise<ExitCode> {
  const inventory = new Inventory();
  let printed = 0;
  let reachedCount: () => void = () => {};
  const counted = new Promise<void>((resolve) => (reachedCount = resolve));

  link.onMessage((m) => {
    const line = watchLine(m, inventory, options.target);
    if (!line || (options.count !== undefined && printed >= options.count)) return;
    output.out(options.json ? JSON.stringify(line) : humanLine(line, output.style));
    printed++;
    if (options.count !== undefined && printed >= options.count) reachedCount();
  });
  await link.subscribe(filters(options.target));
  if (!options.json) output.err(`watching ${describe(options.target)} on ${link.url}; Ctrl-C stops`);

  const waits: Promise<unknown>[] = [counted, stop, link.lost];
  if (options.durationMs !== undefined) waits.push(sleep(options.durationMs));
  await Promise.race(waits);
  return EXIT.ok;
}

function describe(target: Target): string {
  return target.kind === 'all' ? 'every box' : target.kind === 'group' ? `group ${target.id}` : target.id;
}

/** The line a message makes, or undefined when it is not one to show. */
export function watchLine(m: InboundMessage, inventory: Inventory, target: Target): WatchLine | undefined {
  const record = inventory.note(m.topic, m.payload);
  const parsed = parseBoxTopic(m.topic);
  if (!parsed || parsed.rest.length > 0 || m.retain || parsed.kind === 'state' || parsed.kind === 'reply') return undefined;
  const known = record ?? inventory.get(parsed.deviceId) ?? { id: parsed.deviceId };
  if (!isInTarget(known, target)) return undefined;
  const message = jsonObject(m.payload);
  if (!message) return undefined;
  const kind = parsed.kind === 'events' ? 'event' : parsed.kind;
  return { kind, deviceId: parsed.deviceId, topic: m.topic, message };
}

function humanLine(line: WatchLine, style: Style): string {
  const at = typeof line.message.at === 'string' ? line.message.at : undefined;
  const head = `${clock(at)}  ${line.deviceId}`;
  if (line.kind === 'telemetry') return `${head}  ${paint(style, 'dim', 'telemetry')}  ${telemetrySummary(decodeTelemetry(line.message), style)}`;
  if (line.kind === 'event') {
    const event = decodeEvent(line.message);
    const data = compact(event.data, 120);
    return `${head}  ${paint(style, event.type === 'error' ? 'red' : 'bold', event.type)}${data ? `  ${data}` : ''}`;
  }
  const status = decodeStatus(line.message);
  const text = status.online
    ? paint(style, 'green', `online${status.version ? ` (version ${status.version})` : ''}`)
    : paint(style, 'red', `offline (${status.reason === 'shutdown' ? 'stopped' : (status.reason ?? 'connection lost')})`);
  return `${head}  status  ${text}`;
}

const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${Math.round(v)}%` : '–');

/** `cpu 12% · 48.2 °C · mem 41% · disk 63% · wifi -52 dBm · alerts: none`. */
export function telemetrySummary(t: TelemetryView, style: Style): string {
  const link =
    t.wifi && t.wifi.signalDbm !== undefined ? `wifi ${t.wifi.signalDbm} dBm${t.wifi.ssid ? ` (${t.wifi.ssid})` : ''}` : t.wired ? 'wired' : 'no wifi';
  const parts = [
    `cpu ${pct(t.cpuPercent)}`,
    typeof t.tempC === 'number' ? `${t.tempC.toFixed(1)} °C` : '– °C',
    `mem ${pct(t.memPercent)}`,
    `disk ${pct(t.diskPercent)}`,
    link,
    t.alerts.length ? paint(style, 'yellow', `alerts: ${t.alerts.join(', ')}`) : 'alerts: none',
  ];
  if (t.queueDropped) parts.push(paint(style, 'yellow', `${t.queueDropped} queued dropped`));
  return parts.join(' · ');
}
