import { ConfigError } from '../errors.js';
import { CONFIG_VERSION } from './schema.js';

/** Turns a config object of layout `from` into layout `to` (to > from). Gets a private copy. */
export interface Migration {
  from: number;
  to: number;
  migrate(obj: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Version 1 is the first released layout, so nothing to migrate yet. When the layout changes:
 * bump CONFIG_VERSION and append `{ from: 1, to: 2, migrate }` here; never edit a shipped entry,
 * boxes in the field may still hold any older file.
 */
export const MIGRATIONS: readonly Migration[] = [];

/** Files written before `version` existed are the first released layout. */
const UNVERSIONED = 1;

/**
 * Brings a parsed config file up to `target` by chaining migrations. Returns the input itself
 * when nothing needs doing; anything that is not an object, or whose `version` is not an
 * integer, is passed through for validateConfig to report with a field-naming message.
 */
export function migrateConfig(
  raw: unknown,
  migrations: readonly Migration[] = MIGRATIONS,
  target: number = CONFIG_VERSION,
): unknown {
  if (!isRecord(raw)) return raw;
  const declared = raw.version ?? UNVERSIONED;
  if (typeof declared !== 'number' || !Number.isInteger(declared)) return raw;
  if (declared > target) {
    throw new ConfigError(
      'DC_CONFIG_MIGRATION',
      `config version ${declared} is newer than this firmware understands (version ${target}); update the firmware or restore an older config`,
      { from: declared, to: target },
    );
  }
  let version = declared;
  let obj = raw;
  while (version < target) {
    const step = migrations.find((m) => m.from === version);
    // A step that does not move forward would loop for ever; one that overshoots skips a layout.
    if (!step || step.to <= step.from || step.to > target) {
      throw new ConfigError(
        'DC_CONFIG_MIGRATION',
        `no migration path for config version ${declared} to version ${target} (stuck at version ${version})`,
        { from: declared, to: target, at: version },
      );
    }
    let next: unknown;
    try {
      // A copy each step: a migration may edit in place without touching the caller's object.
      next = step.migrate(structuredClone(obj));
    } catch (e) {
      throw new ConfigError(
        'DC_CONFIG_MIGRATION',
        `migrating config version ${step.from} to version ${step.to} failed: ${(e as Error).message}`,
        { from: declared, to: target, at: version },
        { cause: e },
      );
    }
    if (!isRecord(next)) {
      throw new ConfigError(
        'DC_CONFIG_MIGRATION',
        `migrating config version ${step.from} to version ${step.to} did not return an object`,
        { from: declared, to: target, at: version },
      );
    }
    obj = { ...next, version: step.to };
    version = step.to;
  }
  return obj;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
