import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from './atomic-write.js';
import { mergePatch } from './merge.js';
import { migrateConfig } from './migrate.js';
import type { Config } from './schema.js';
import { validateConfig } from './validate.js';

export interface ConfigStoreOptions {
  /** The config file; `undefined` keeps the config in memory only (simulations, tests). */
  path: string | undefined;
  /** The path was given by the operator: a missing file is an error, not a first boot. */
  explicit: boolean;
  log: Logger;
}

export type ConfigListener = (next: Config, previous: Config) => void;

/**
 * The one owner of the config: memory and file change together or not at all. Operations run
 * one at a time, so a SIGHUP reload cannot interleave with a remote update and lose it.
 * Configs handed out are deeply frozen: a change must go through update(), which validates.
 */
export class ConfigStore {
  readonly path: string | undefined;
  readonly explicit: boolean;
  private readonly log: Logger;
  private config: Config | undefined;
  private readonly listeners = new Set<ConfigListener>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: ConfigStoreOptions) {
    this.path = options.path;
    this.explicit = options.explicit;
    this.log = options.log.child({ part: 'config' });
  }

  get current(): Config {
    if (!this.config) throw new Error('ConfigStore: load() must complete before the config is read');
    return this.config;
  }

  /** Reads the file (or takes the defaults on a first boot) and makes it current. */
  load(): Promise<Config> {
    return this.serially(async () => {
      const next = await this.readConfig();
      const previous = this.config;
      this.config = next;
      if (previous) this.notify(next, previous);
      return next;
    });
  }

  /** Re-reads the file, e.g. on SIGHUP after a hand edit. A bad file throws and changes nothing. */
  reload(): Promise<Config> {
    return this.load();
  }

  /**
   * Applies a partial config (objects merge, arrays and other values replace), validates the
   * result, saves it with the revision bumped and makes it current. Throws without changing
   * memory or disk if the result is invalid or cannot be saved. A patch that changes nothing
   * is not saved and notifies nobody, so retried remote updates are harmless.
   * With `expectedRevision`, a config that has changed since the caller read it is refused
   * (DC_CONFIG_STALE_REVISION), so two consoles cannot silently undo each other.
   */
  update(patch: unknown, { expectedRevision }: { expectedRevision?: number } = {}): Promise<Config> {
    return this.serially(async () => {
      const previous = this.current;
      if (expectedRevision !== undefined && expectedRevision !== previous.revision) {
        throw new ConfigError(
          'DC_CONFIG_STALE_REVISION',
          `config revision is ${previous.revision}, not ${expectedRevision}: read it again and re-apply the change`,
          { revision: previous.revision, expectedRevision },
        );
      }
      const merged = validateConfig(mergePatch(previous, patch));
      // The revision is the store's to count; a patch cannot set it.
      if (isDeepStrictEqual({ ...merged, revision: previous.revision }, previous)) return previous;
      const next = deepFreeze({ ...merged, revision: previous.revision + 1 });
      await this.save(next);
      this.config = next;
      this.log.info({ revision: next.revision }, 'config updated');
      this.notify(next, previous);
      return next;
    });
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private async readConfig(): Promise<Config> {
    const path = this.path;
    // Memory only: nothing to re-read, so a reload keeps what updates made.
    if (path === undefined) return this.config ?? deepFreeze(validateConfig({}));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !this.explicit) {
        this.log.info({ path }, 'no config file yet, using defaults');
        return deepFreeze(validateConfig({}));
      }
      if (code === 'ENOENT') {
        throw new ConfigError('DC_CONFIG_NOT_FOUND', `config file ${path} does not exist`, { path }, { cause: e });
      }
      throw ioError(`cannot read config file ${path}`, path, e);
    }
    const raw = parseJson(text, path);
    const migrated = migrateConfig(raw);
    const config = validateConfig(migrated);
    this.log.info({ path, revision: config.revision, migrated: migrated !== raw }, 'config loaded');
    return deepFreeze(config);
  }

  private async save(config: Config): Promise<void> {
    const path = this.path;
    if (path === undefined) return;
    try {
      // On a first boot the state directory may not exist yet (outside systemd).
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, (e) =>
        this.log.warn({ path, err: e }, 'config saved but its directory could not be synced'),
      );
    } catch (e) {
      throw ioError(`cannot save config file ${path}`, path, e);
    }
  }

  private notify(next: Config, previous: Config): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch (e) {
        // One broken subscriber must not stop the others from hearing about the change.
        this.log.error({ err: e }, 'config change listener failed');
      }
    }
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => {});
    return result;
  }
}

function ioError(message: string, path: string, cause: unknown): ConfigError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new ConfigError('DC_CONFIG_IO', `${message}: ${(cause as Error).message}`, { path, errno: code }, { cause });
}

/** JSON.parse with the file name and, where V8 gives a position, line and column. */
function parseJson(text: string, path: string): unknown {
  // A BOM is what Windows editors leave; JSON.parse rejects it, people cannot see it.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (e) {
    const reason = (e as Error).message;
    const at = errorPosition(reason, body);
    const where = at ? ` at line ${at.line}, column ${at.column}` : '';
    throw new ConfigError(
      'DC_CONFIG_PARSE',
      `config file ${path} is not valid JSON${where}: ${reason}`,
      { path, ...at },
      { cause: e },
    );
  }
}

function errorPosition(reason: string, text: string): { line: number; column: number } | undefined {
  const lineColumn = /line (\d+) column (\d+)/.exec(reason); // newer V8 says it directly
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /at position (\d+)/.exec(reason);
  const offset = position ? Number(position[1]) : /Unexpected end of JSON input/.test(reason) ? text.length : undefined;
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
