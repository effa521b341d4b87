import { Type, type Static } from '@sinclair/typebox';
import type { SignalMessage } from '../rtc/call.js';
import { compileCheck, formatProblems } from '../util/schema-check.js';
import { TOPIC_ROOT } from './topics.js';

/**
 * Direct-call signalling over the fleet broker: box A sends to box B on
 * `diemcau/A/call/B/<kind>` — under A's own prefix, where the ACL lets A write, and readable by
 * B through `pattern read diemcau/+/call/%u/#`. So no box can speak for another here either.
 */
export function callSignalFilter(deviceId: string): string {
  return `${TOPIC_ROOT}/+/call/${deviceId}/+`;
}

const SIGNAL_KINDS = ['offer', 'answer', 'reject', 'hangup'] as const;
const CallId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' });
/** An SDP of a few kilobytes; 64 KiB is far beyond any real one. */
const Sdp = Type.String({ minLength: 10, maxLength: 65_536 });
const Reason = Type.String({ maxLength: 64 });
/** The caller's offers in one call, numbered from 0 (later ones restart the link). */
const Attempt = Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 }));
const Bodies = {
  offer: Type.Object({ callId: CallId, sdp: Sdp, attempt: Attempt, renegotiate: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  answer: Type.Object({ callId: CallId, sdp: Sdp, attempt: Attempt }, { additionalProperties: false }),
  reject: Type.Object({ callId: CallId, reason: Reason }, { additionalProperties: false }),
  hangup: Type.Object({ callId: CallId, reason: Reason }, { additionalProperties: false }),
};
const checks = Object.fromEntries(SIGNAL_KINDS.map((k) => [k, compileCheck(Bodies[k])])) as {
  [K in keyof typeof Bodies]: (input: unknown) => ReturnType<ReturnType<typeof compileCheck<(typeof Bodies)[K]>>>;
};

export type SignalParse = { ok: true; from: string; message: SignalMessage } | { ok: false; problem: string };

/** The message on a signalling topic for `deviceId`, undefined if the topic is not one. */
export function parseSignal(topic: string, payload: Buffer, deviceId: string): SignalParse | undefined {
  const [root, from, call, to, kind, ...rest] = topic.split('/');
  if (root !== TOPIC_ROOT || call !== 'call' || to !== deviceId || rest.length > 0 || !from || !kind) return undefined;
  if (!(SIGNAL_KINDS as readonly string[]).includes(kind)) return { ok: false, problem: `unknown kind "${kind}"` };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    return { ok: false, problem: `not JSON: ${(e as Error).message}` };
  }
  const checked = checks[kind as keyof typeof Bodies](body);
  if (!checked.ok) return { ok: false, problem: formatProblems(checked.problems) };
  return { ok: true, from, message: { kind, ...(checked.value as Static<(typeof Bodies)['offer']>) } as SignalMessage };
}
