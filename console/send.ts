import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { allCmdTopic, deviceTopics, groupCmdTopic } from '../daemon/fleet/topics.js';
import type { SendInvocation, Target } from './args.js';
import { EXIT, type ExitCode } from './errors.js';
import { Inventory, boxRow, type BoxRecord } from './inventory.js';
import type { FleetLink } from './link.js';
import { ago, compact, table, truncate, type Cell, type Output } from './render.js';
import { decodeReply, jsonObject, parseBoxTopic, type Reply } from './wire.js';

/** What became of the command at one box. */
export type Outcome = 'ok' | 'error' | 'no-reply' | 'offline';

export interface BoxOutcome {
  deviceId: string;
  outcome: Outcome;
  /** The box's reply, or one made up by the console (DC_NO_REPLY, DC_BOX_OFFLINE) for `--json`. */
  reply: Reply;
  record: BoxRecord | undefined;
}

function commandTopic(target: Target, command: string): string {
  if (target.kind === 'box') return deviceTopics(target.id).cmd(command);
  if (target.kind === 'group') return groupCmdTopic(target.id, command);
  return allCmdTopic(command);
}

/**
 * `send`: one box by MQTT 5 request/response (response topic under the box's own prefix, the
 * only place its ACL lets it write, and correlation data); a group or all boxes by a request id
 * in the payload and `diemcau/+/reply/<requestId>`. The retained status and state say which
 * boxes should answer: online members of the target. It waits until they all have, or the
 * timeout.
 */
export async function runSend(link: FleetLink, options: SendInvocation, output: Output, now = Date.now): Promise<ExitCode> {
  const { target, command } = options;
  const requestId = typeof options.args.requestId === 'string' ? options.args.requestId : `fleet-${randomBytes(6).toString('hex')}`;
  const correlation = randomBytes(16);
  const inventory = new Inventory();
  const replies = new Map<string, Reply>();
  let allAnswered: () => void = () => {};
  const answered = new Promise<void>((resolve) => (allAnswered = resolve));

  const expected = () => inventory.inTarget(target).filter((r) => r.status?.online === true);
  link.onMessage((m) => {
    inventory.note(m.topic, m.payload);
    const parsed = parseBoxTopic(m.topic);
    if (!parsed || parsed.kind !== 'reply' || parsed.rest.join('/') !== requestId) return;
    if (target.kind === 'box' && (parsed.deviceId !== target.id || (m.correlationData && !m.correlationData.equals(correlation)))) return;
    const json = jsonObject(m.payload);
    if (!json || replies.has(parsed.deviceId)) return;
    replies.set(parsed.deviceId, decodeReply(json, parsed.deviceId, command));
    // The retained status and state came before any reply (subscribed before publishing).
    const waitingFor = target.kind === 'box' ? [target.id] : expected().map((r) => r.id);
    if (waitingFor.length > 0 && waitingFor.every((id) => replies.has(id))) allAnswered();
  });

  const single = target.kind === 'box' ? deviceTopics(target.id) : undefined;
  const replyTopic = single ? single.reply(requestId) : `diemcau/+/reply/${requestId}`;
  await link.subscribe([replyTopic, ...(single ? [single.status, single.state] : ['diemcau/+/status', 'diemcau/+/state'])]);
  await link.publish(
    commandTopic(target, command),
    JSON.stringify({ ...options.args, requestId }),
    single ? { responseTopic: replyTopic, correlationData: correlation } : {},
  );
  await Promise.race([answered, sleep(options.timeoutMs), link.lost]);

  const outcomes = collectOutcomes(target, command, requestId, inventory, replies, options.timeoutMs, now());
  if (options.json) output.out(JSON.stringify(outcomes.map((o) => o.reply), null, 2));
  else if (outcomes.length === 0) output.err(nobodyText(target, inventory, options.timeoutMs));
  else {
    output.out(renderOutcomes(outcomes, output));
    output.out(summaryText(outcomes));
    // One box's result that did not fit on its line (config/get, diagnostics): all of it, after.
    const only = outcomes[0];
    if (target.kind === 'box' && only?.outcome === 'ok' && compact(only.reply.result, Infinity) !== compact(only.reply.result, RESULT_WIDTH)) {
      output.out(JSON.stringify(only.reply.result, null, 2));
    }
  }
  return outcomes.length > 0 && outcomes.every((o) => o.outcome === 'ok') ? EXIT.ok : EXIT.failed;
}

/** Every box that answered or is known in the target, sorted by id. */
export function collectOutcomes(
  target: Target,
  command: string,
  requestId: string,
  inventory: Inventory,
  replies: ReadonlyMap<string, Reply>,
  timeoutMs: number,
  now: number,
): BoxOutcome[] {
  const ids = target.kind === 'box' ? [target.id] : [...new Set([...inventory.inTarget(target).map((r) => r.id), ...replies.keys()])].sort();
  return ids.map((deviceId) => {
    const record = inventory.get(deviceId);
    const reply = replies.get(deviceId);
    if (reply) return { deviceId, outcome: reply.ok ? 'ok' : 'error', reply, record };
    const missing = (code: string, message: string): Reply => ({ deviceId, command, requestId, ok: false, error: { code, message } });
    if (record?.status?.online === false) {
      const row = boxRow(record);
      const why = row.offlineReason === 'shutdown' ? 'stopped' : 'connection lost';
      const seen = row.lastSeen ? `, last seen ${ago(row.lastSeen, now)}` : '';
      return { deviceId, outcome: 'offline', reply: missing('DC_BOX_OFFLINE', `not reached: the box is offline (${why}${seen})`), record };
    }
    const unknown = record?.status === undefined && target.kind === 'box' ? '; the broker has no status for this box: is the id right?' : '';
    return { deviceId, outcome: 'no-reply', reply: missing('DC_NO_REPLY', `no reply within ${seconds(timeoutMs)}${unknown}`), record };
  });
}

/** Columns of a result on its table line. */
const RESULT_WIDTH = 100;

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

function renderOutcomes(outcomes: readonly BoxOutcome[], output: Output): string {
  const cells: Cell[][] = outcomes.map(({ deviceId, outcome, reply }) => {
    switch (outcome) {
      case 'ok':
        return [deviceId, { text: 'ok', colour: 'green' }, compact(reply.result, RESULT_WIDTH)];
      case 'error':
        return [deviceId, { text: reply.error!.code, colour: 'red' }, truncate(reply.error!.message, 120)];
      case 'no-reply':
        return [deviceId, { text: 'no reply', colour: 'red' }, reply.error!.message];
      case 'offline':
        return [deviceId, { text: 'offline', colour: 'red' }, reply.error!.message];
    }
  });
  return table(['BOX', 'RESULT', 'DETAIL'], cells, output.style);
}

function summaryText(outcomes: readonly BoxOutcome[]): string {
  const of = (o: Outcome) => outcomes.filter((x) => x.outcome === o).map((x) => x.deviceId);
  const ok = of('ok').length;
  const parts = [`${ok} of ${outcomes.length} ok`];
  if (of('error').length) parts.push(`failed: ${of('error').join(', ')}`);
  if (of('no-reply').length) parts.push(`no reply: ${of('no-reply').join(', ')}`);
  if (of('offline').length) parts.push(`offline: ${of('offline').join(', ')}`);
  return parts.join(' · ');
}

function nobodyText(target: Target, inventory: Inventory, timeoutMs: number): string {
  if (target.kind === 'group') {
    const known = inventory.groups();
    return `no box answered within ${seconds(timeoutMs)}, and no box is known in group "${target.id}"${known.length ? ` (known groups: ${known.join(', ')})` : ''}`;
  }
  return `no box answered within ${seconds(timeoutMs)}, and no box is known to the broker`;
}
