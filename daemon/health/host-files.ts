import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Reads /sys and /proc below a root directory, so tests point the readers at a fixture
 * tree (test/fixtures/health/pi-root) instead of the machine they run on.
 */
export class HostFiles {
  constructor(readonly root: string = '/') {}

  /** `path` is absolute on the host, e.g. `/proc/net/wireless`. */
  path(path: string): string {
    return join(this.root, path);
  }

  async read(path: string): Promise<string> {
    return readFile(this.path(path), 'utf8');
  }

  /** The file's text, or null when it does not exist; other errors (permission, I/O) throw. */
  async readIfExists(path: string): Promise<string | null> {
    try {
      return await this.read(path);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /** Entry names of a directory, or [] when it does not exist. */
  async list(path: string): Promise<string[]> {
    try {
      return await readdir(this.path(path));
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await access(this.path(path));
      return true;
    } catch {
      return false;
    }
  }
}

export function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
