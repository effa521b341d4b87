import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

/** One problem in a config, in words an installer can act on without reading the schema. */
export interface ConfigProblem {
  /** Dot path, e.g. `media.video.fps`; array items by index, e.g. `media.video.encoders.1`. */
  field: string;
  expected: string;
  /** The offending value as JSON. */
  got: string;
}

// Compiled once at import: compiling costs milliseconds, validating microseconds.
// verbose: errors then carry the offending value and its schema, from which messages are built.
const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true, verbose: true });
const check = ajv.compile(ConfigSchema);

/**
 * Returns a complete config with defaults filled in, or throws DC_CONFIG_INVALID listing every
 * problem. Works on a copy: ajv writes defaults into the object it validates.
 */
export function validateConfig(input: unknown): Config {
  const data = cloneInput(input);
  if (!check(data)) throw invalid(problemsOf(check.errors ?? []));
  return checkCrossField(data as Config);
}

/** Rules one JSON schema cannot express without $data tricks. */
function checkCrossField(config: Config): Config {
  const { initialDelayMs, maxDelayMs } = config.media.restart;
  if (maxDelayMs < initialDelayMs) {
    throw invalid(
      [
        {
          field: 'media.restart.maxDelayMs',
          expected: `at least media.restart.initialDelayMs (${initialDelayMs})`,
          got: show(maxDelayMs),
        },
      ],
    );
  }
  return config;
}

function invalid(problems: ConfigProblem[], options?: ErrorOptions): ConfigError {
  const lines = problems.map((p) => `${p.field}: ${p.expected}, got ${p.got}`);
  return new ConfigError('DC_CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`, { errors: problems }, options);
}

function cloneInput(input: unknown): unknown {
  try {
    return structuredClone(input);
  } catch (e) {
    // Functions, symbols and the like: not something a JSON file or a remote patch can carry.
    throw invalid([{ field: '(root)', expected: 'plain JSON data', got: (e as Error).message }], { cause: e });
  }
}

/** One entry per field: a value breaking two rules (pattern and length) reads as one line. */
function problemsOf(errors: ErrorObject[]): ConfigProblem[] {
  const byField = new Map<string, ConfigProblem>();
  for (const error of errors) {
    const problem = describeError(error);
    const seen = byField.get(problem.field);
    if (!seen) byField.set(problem.field, problem);
    else if (!seen.expected.includes(problem.expected)) seen.expected += `; ${problem.expected}`;
  }
  return [...byField.values()];
}

function describeError(error: ErrorObject): ConfigProblem {
  const path = pathOf(error.instancePath);
  const schema = (error.parentSchema ?? {}) as SchemaLike;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(schema.properties ?? {}).join(', ');
      const value = (error.data as Record<string, unknown>)[key];
      return { field: join(path, key), expected: `unknown field (allowed: ${allowed})`, got: show(value) };
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      return { field: join(path, key), expected: `required ${describeSchema(schema.properties?.[key] ?? {})}`, got: show(undefined) };
    }
    case 'uniqueItems': {
      const { i, j } = error.params as { i: number; j: number };
      return {
        field: path || '(root)',
        expected: `${describeSchema(schema)} (items ${j} and ${i} are the same)`,
        got: show(error.data),
      };
    }
    default:
      // type, enum, const, minimum, maximum, pattern, minLength, maxLength, minItems…: the
      // whole rule for the field says more than the one keyword that failed.
      return { field: path || '(root)', expected: describeSchema(schema), got: show(error.data) };
  }
}

interface SchemaLike {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  uniqueItems?: boolean;
  items?: SchemaLike;
  properties?: Record<string, SchemaLike>;
}

/** What a schema accepts, as a phrase: "an integer from 5 to 60", "one of "a", "b"". */
function describeSchema(schema: SchemaLike): string {
  if (schema.const !== undefined) return `exactly ${show(schema.const)}`;
  if (schema.enum) return `one of ${schema.enum.map(show).join(', ')}`;
  switch (schema.type) {
    case 'integer':
    case 'number':
      return [schema.type === 'integer' ? 'an integer' : 'a number', range(schema.minimum, schema.maximum, '')]
        .filter(Boolean)
        .join(' ');
    case 'string': {
      const parts = ['a string'];
      if (schema.minLength !== undefined || schema.maxLength !== undefined) {
        parts.push(range(schema.minLength, schema.maxLength, ' characters').replace(/^from /, 'of '));
      }
      if (schema.pattern !== undefined) parts.push(`matching /${schema.pattern}/`);
      return parts.join(' ');
    }
    case 'boolean':
      return 'true or false';
    case 'array': {
      const what = schema.uniqueItems ? 'a list of distinct values' : 'a list';
      const size = schema.minItems ? ` with at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` : '';
      const each = schema.items ? `, each ${describeSchema(schema.items)}` : '';
      return what + size + each;
    }
    case 'object':
      return 'an object';
    default:
      return schema.type ? `a value of type ${schema.type}` : 'a valid value';
  }
}

function range(min: number | undefined, max: number | undefined, unit: string): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}${unit}`;
  if (min !== undefined) return `of at least ${min}${unit}`;
  if (max !== undefined) return `of at most ${max}${unit}`;
  return '';
}

/** ajv's JSON pointer (`/media/video/fps`) as the dot path people write (`media.video.fps`). */
function pathOf(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** A value as JSON for a message, cut short so one huge value cannot flood the log. */
function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
