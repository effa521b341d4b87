import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's folder (where package.json is), found from this file: helpers run from
 * source under tap and compiled under dist/ when a benchmark uses them, so paths relative to
 * the file would differ between the two.
 */
function findRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && !dir.endsWith('/dist')) return dir;
    if (dirname(dir) === dir) throw new Error('package.json not found above test/helpers');
  }
}

export const PROJECT_ROOT = findRoot();
