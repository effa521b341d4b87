import { Ajv, type ErrorObject } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';

/**
 * Checking any input at the edge (config files, MQTT payloads, HTTP bodies) against its
 * TypeBox schema, with problems in words a person can act on without reading the schema.
 */

/** One problem in an input. */
export interface FieldProblem {
  /** Dot path, e.g. `media.video.fps`; array items by index, e.g. `media.video.encoders.1`. */
  field: string;
  expected: string;
  /** The offending value as JSON. */
  got: string;
}

export type CheckResult<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

// verbose: errors then carry the offending value and its schema, from which messages are built.
const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true, verbose: true });

/** Compiled validators by schema text: a part rebuilt after a config change compiles nothing again. */
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/**
 * Compiles `schema` once (milliseconds) for many checks (microseconds); the same schema again
 * reuses that work. The checker fills in defaults in the object it is given, so callers pass a
 * copy of anything they keep.
 */
export function compileCheck<S extends TSchema>(schema: S): (input: unknown) => CheckResult<Static<S>> {
  const key = JSON.stringify(schema);
  let check = compiled.get(key);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(key, check);
  }
  const validate = check;
  return (input) =>
    validate(input) ? { ok: true, value: input as Static<S> } : { ok: false, problems: problemsOf(validate.errors ?? []) };
}

/** `field: expected, got value`, one per line. */
export function formatProblems(problems: FieldProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.expected}, got ${p.got}`).join('\n  ');
}

/** One entry per field: a value breaking two rules (pattern and length) reads as one line. */
function problemsOf(errors: ErrorObject[]): FieldProblem[] {
  const byField = new Map<string, FieldProblem>();
  for (const error of errors) {
    const problem = describeError(error);
    const seen = byField.get(problem.field);
    if (!seen) byField.set(problem.field, problem);
    else if (!seen.expected.includes(problem.expected)) seen.expected += `; ${problem.expected}`;
  }
  return [...byField.values()];
}

function describeError(error: ErrorObject): FieldProblem {
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
export function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
