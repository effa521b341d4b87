import { parseArgs } from 'node:util';
import { topicIdProblem } from '../daemon/fleet/topics.js';
import { UsageError } from './errors.js';

/** Who a command or a watch is for. */
export type Target = { kind: 'box'; id: string } | { kind: 'group'; id: string } | { kind: 'all' };

/** The connection flags as given; `connect.ts` adds the environment and reads the files. */
export interface ConnectionFlags {
  url?: string | undefined;
  user?: string | undefined;
  passwordFile?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  protocol?: string | undefined;
}

export interface ListInvocation {
  kind: 'list';
  connection: ConnectionFlags;
  group: string | undefined;
  waitMs: number;
  json: boolean;
  failOnOffline: boolean;
}

export interface WatchInvocation {
  kind: 'watch';
  connection: ConnectionFlags;
  target: Target;
  json: boolean;
  count: number | undefined;
  durationMs: number | undefined;
}

export interface SendInvocation {
  kind: 'send';
  connection: ConnectionFlags;
  target: Target;
  command: string;
  args: Record<string, unknown>;
  timeoutMs: number;
  json: boolean;
}

export type Invocation = { kind: 'help' } | ListInvocation | WatchInvocation | SendInvocation;

export const DEFAULT_LIST_WAIT_MS = 2000;
export const DEFAULT_SEND_TIMEOUT_MS = 5000;

const OPTIONS = {
  url: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  protocol: { type: 'string' },
  group: { type: 'string' },
  wait: { type: 'string' },
  json: { type: 'boolean' },
  'fail-on-offline': { type: 'boolean' },
  all: { type: 'boolean' },
  count: { type: 'string' },
  duration: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;

const CONNECTION_OPTIONS: readonly OptionName[] = ['url', 'user', 'password-file', 'ca', 'cert', 'key', 'protocol'];
const SUBCOMMAND_OPTIONS: Record<'list' | 'watch' | 'send', readonly OptionName[]> = {
  list: ['group', 'wait', 'json', 'fail-on-offline'],
  watch: ['group', 'all', 'json', 'count', 'duration'],
  send: ['timeout', 'json'],
};

/** The command line as one of the subcommands with typed options; throws UsageError. */
export function parseCli(argv: readonly string[]): Invocation {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [subcommand, ...rest] = positionals;
  if (values.help || subcommand === 'help') return { kind: 'help' };
  if (subcommand === undefined) throw new UsageError('no subcommand given');
  if (subcommand !== 'list' && subcommand !== 'watch' && subcommand !== 'send') {
    throw new UsageError(`unknown subcommand "${subcommand}" (known: list, watch, send, help)`);
  }
  const accepted = new Set<string>([...CONNECTION_OPTIONS, ...SUBCOMMAND_OPTIONS[subcommand], 'help']);
  for (const given of Object.keys(values)) {
    if (!accepted.has(given)) throw new UsageError(`${subcommand} does not take --${given}`);
  }
  const connection: ConnectionFlags = {
    url: values.url,
    user: values.user,
    passwordFile: values['password-file'],
    ca: values.ca,
    cert: values.cert,
    key: values.key,
    protocol: values.protocol,
  };
  const json = values.json ?? false;
  switch (subcommand) {
    case 'list': {
      if (rest.length > 0) throw new UsageError(`list takes no arguments, got "${rest.join(' ')}"`);
      return {
        kind: 'list',
        connection,
        group: values.group === undefined ? undefined : topicId(values.group, '--group'),
        waitMs: values.wait === undefined ? DEFAULT_LIST_WAIT_MS : parseDuration(values.wait, '--wait', { allowZero: true }),
        json,
        failOnOffline: values['fail-on-offline'] ?? false,
      };
    }
    case 'watch': {
      if (rest.length > 1) throw new UsageError(`watch takes at most one box, got "${rest.join(' ')}"`);
      const chosen = [rest[0] !== undefined, values.group !== undefined, values.all === true].filter(Boolean).length;
      if (chosen > 1) throw new UsageError('watch: give one of a box, --group or --all');
      const target: Target =
        rest[0] !== undefined ? parseTarget(rest[0]) : values.group !== undefined ? { kind: 'group', id: topicId(values.group, '--group') } : { kind: 'all' };
      return {
        kind: 'watch',
        connection,
        target,
        json,
        count: values.count === undefined ? undefined : parseCount(values.count),
        durationMs: values.duration === undefined ? undefined : parseDuration(values.duration, '--duration'),
      };
    }
    case 'send': {
      const [target, command, ...words] = rest;
      if (target === undefined || command === undefined) throw new UsageError('send needs a target and a command: send <box|group:<id>|all> <command> [args]');
      const args = parseCommandArgs(words);
      // A request id of one's own makes a retry safe: the box answers it again without running it twice.
      if (typeof args.requestId === 'number') args.requestId = String(args.requestId);
      if (args.requestId !== undefined) {
        if (typeof args.requestId !== 'string') throw new UsageError('requestId must be a string');
        topicId(args.requestId, 'requestId');
      }
      return {
        kind: 'send',
        connection,
        target: parseTarget(target),
        command: commandName(command),
        args,
        timeoutMs: values.timeout === undefined ? DEFAULT_SEND_TIMEOUT_MS : parseDuration(values.timeout, '--timeout'),
        json,
      };
    }
  }
}

/** `all`, `group:<id>` or a box id. */
export function parseTarget(text: string): Target {
  if (text === 'all') return { kind: 'all' };
  if (text.startsWith('group:')) return { kind: 'group', id: topicId(text.slice('group:'.length), 'group') };
  return { kind: 'box', id: topicId(text, 'box id') };
}

function topicId(text: string, what: string): string {
  const problem = topicIdProblem(text);
  if (problem) throw new UsageError(`${what} ${JSON.stringify(text)} ${problem}`);
  return text;
}

/** `ping`, `config/get`: each level is a valid topic level. */
function commandName(text: string): string {
  for (const level of text.split('/')) topicId(level, 'command name');
  return text;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `2s`, `1.5m`, `1h`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(text: string, option: string, { allowZero = false } = {}): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!) : NaN;
  if (!Number.isFinite(ms) || (ms === 0 && !allowZero)) {
    throw new UsageError(`${option} must be a ${allowZero ? '' : 'positive '}duration such as 500ms, 2s or 1m, got "${text}"`);
  }
  return ms;
}

function parseCount(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new UsageError(`--count must be a positive whole number, got "${text}"`);
  return Number(text);
}

/** JSON numbers only: `007` stays a string (a code), `-1.5e3` is a number. */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER.test(text)) return Number(text);
  return text;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A command's arguments from the words after its name: one JSON object (`'{"percent":80}'`),
 * or `key=value` words where numbers and true/false are parsed, everything else is a string,
 * and dots make nested objects (`patch.device.name=Thôn Đông`). No words: `{}`.
 */
export function parseCommandArgs(words: readonly string[]): Record<string, unknown> {
  if (words.length === 1 && words[0]!.trimStart().startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(words[0]!);
    } catch (e) {
      throw new UsageError(`the arguments are not valid JSON: ${(e as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('the JSON arguments must be an object');
    return value as Record<string, unknown>;
  }
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new UsageError(`"${word}" is not key=value (or give all the arguments as one JSON object)`);
    const path = word.slice(0, eq).split('.');
    if (path.some((k) => k === '' || FORBIDDEN_KEYS.has(k))) throw new UsageError(`"${word.slice(0, eq)}" is not a usable key`);
    let node = args;
    for (const [i, key] of path.entries()) {
      const last = i === path.length - 1;
      const existing = node[key];
      if (last) {
        if (existing !== undefined) throw new UsageError(`"${path.join('.')}" is given twice`);
        node[key] = scalar(word.slice(eq + 1));
      } else {
        if (existing === undefined) node[key] = {};
        else if (typeof existing !== 'object' || existing === null) {
          throw new UsageError(`"${path.slice(0, i + 1).join('.')}" is given both as a value and as an object`);
        }
        node = node[key] as Record<string, unknown>;
      }
    }
  }
  return args;
}
