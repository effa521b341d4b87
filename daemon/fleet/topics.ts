/**
 * MQTT topic names of the fleet API (DESIGN.md, "Fleet API over MQTT"). Everything a box
 * publishes lives under `diemcau/<deviceId>/`; commands for several boxes go to the group and
 * all prefixes.
 */

export const TOPIC_ROOT = 'diemcau';

/** Names that would collide with the shared command prefixes. */
const RESERVED_IDS = new Set(['all', 'group']);

/**
 * Why `id` cannot be used as one level of a topic, or undefined if it can: non-empty, at most
 * 128 characters, no `+`, `#` or `/` (MQTT wildcards and level separator), no control
 * characters or NUL, and not one of the reserved names `all` and `group`.
 */
export function topicIdProblem(id: string): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'must be a non-empty string';
  if (id.length > 128) return 'must be at most 128 characters';
  if (/[+#/]/.test(id)) return 'must not contain "+", "#" or "/"';
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'must not contain control characters';
  if (RESERVED_IDS.has(id)) return `"${id}" is reserved`;
  return undefined;
}

export function isValidTopicId(id: string): boolean {
  return topicIdProblem(id) === undefined;
}

/** Throws a TypeError naming the problem if `id` cannot be used as a topic level. */
export function assertTopicId(id: string, what = 'deviceId'): void {
  const problem = topicIdProblem(id);
  if (problem) throw new TypeError(`${what} ${JSON.stringify(id)} ${problem}`);
}

/** Command names may have levels (`config/get`); each level follows the id rules. */
function commandName(name: string): string {
  for (const level of name.split('/')) assertTopicId(level, 'command name level');
  return name;
}

/** The topics of one box. */
export interface DeviceTopics {
  readonly prefix: string;
  /** Retained presence: `{"online":true,...}`; the last will sets `{"online":false}`. */
  readonly status: string;
  /** Retained full current state. */
  readonly state: string;
  readonly telemetry: string;
  readonly events: string;
  /** A command addressed to this box. */
  cmd(name: string): string;
  /** Subscription filter for every command addressed to this box. */
  readonly cmdFilter: string;
  /** Where a v3.1.1 reply goes (MQTT 5 uses the request's response topic). */
  reply(requestId: string): string;
}

export function deviceTopics(deviceId: string): DeviceTopics {
  assertTopicId(deviceId);
  const prefix = `${TOPIC_ROOT}/${deviceId}`;
  return {
    prefix,
    status: `${prefix}/status`,
    state: `${prefix}/state`,
    telemetry: `${prefix}/telemetry`,
    events: `${prefix}/events`,
    cmd: (name) => `${prefix}/cmd/${commandName(name)}`,
    cmdFilter: `${prefix}/cmd/#`,
    reply: (requestId) => {
      assertTopicId(requestId, 'requestId');
      return `${prefix}/reply/${requestId}`;
    },
  };
}

/** `diemcau/group/<groupId>/cmd/<name>`. */
export function groupCmdTopic(groupId: string, name: string): string {
  assertTopicId(groupId, 'groupId');
  return `${TOPIC_ROOT}/group/${groupId}/cmd/${commandName(name)}`;
}

export function groupCmdFilter(groupId: string): string {
  assertTopicId(groupId, 'groupId');
  return `${TOPIC_ROOT}/group/${groupId}/cmd/#`;
}

/** `diemcau/all/cmd/<name>`. */
export function allCmdTopic(name: string): string {
  return `${TOPIC_ROOT}/all/cmd/${commandName(name)}`;
}

export const ALL_CMD_FILTER = `${TOPIC_ROOT}/all/cmd/#`;

/** Who a command was addressed to: this box alone, one of its groups, or every box. */
export type CommandAudience = { kind: 'device' } | { kind: 'group'; groupId: string } | { kind: 'all' };

/**
 * The command name and audience of a topic this box subscribed to, or undefined if the topic
 * is not a command for this box (another box, a group it is not in, no name).
 */
export function parseCommandTopic(
  topic: string,
  deviceId: string,
  groups: readonly string[],
): { name: string; audience: CommandAudience } | undefined {
  const levels = topic.split('/');
  if (levels[0] !== TOPIC_ROOT) return undefined;
  let audience: CommandAudience;
  let rest: string[];
  if (levels[1] === 'all') {
    audience = { kind: 'all' };
    rest = levels.slice(2);
  } else if (levels[1] === 'group' && levels[2] !== undefined && groups.includes(levels[2])) {
    audience = { kind: 'group', groupId: levels[2] };
    rest = levels.slice(3);
  } else if (levels[1] === deviceId) {
    audience = { kind: 'device' };
    rest = levels.slice(2);
  } else {
    return undefined;
  }
  if (rest[0] !== 'cmd' || rest.length < 2) return undefined;
  return { name: rest.slice(1).join('/'), audience };
}
