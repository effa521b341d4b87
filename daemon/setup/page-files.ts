import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PageFile {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * `web-setup/<page>/` in the source tree, found by walking up from this module: it runs from
 * the sources and from dist/ alike, and tsc copies no HTML into dist/.
 */
export function webSetupDir(page: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'web-setup', page);
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`web-setup/${page}/index.html not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A page's files, read once into memory by name: a request can never name a path on disk. */
export async function loadPageFiles(dir: string, names: readonly string[]): Promise<Map<string, PageFile>> {
  const files = new Map<string, PageFile>();
  for (const name of names) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (!type) throw new Error(`no content type for ${name}`);
    files.set(name, { body: await readFile(join(dir, name)), type });
  }
  return files;
}

/** The setup page's files. */
export const SETUP_PAGE_FILES = ['index.html', 'setup.css', 'setup.js', 'api.js', 'status.js', 'network.js', 'site.js', 'media.js', 'testcall.js', 'system.js'] as const;

export function loadPage(): Promise<Map<string, PageFile>> {
  return loadPageFiles(webSetupDir('setup'), SETUP_PAGE_FILES);
}
