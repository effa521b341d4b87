import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMissing } from './host-files.js';
import { round1 } from './memory.js';

export interface DiskReading {
  path: string;
  totalBytes: number;
  freeBytes: number;
  usedPercent: number;
}

/**
 * The filesystem holding `stateDir`, by one statfs(2) call (no `df` process). A state directory
 * not created yet is measured at its nearest existing parent: the filesystem it will live on.
 */
export async function readDisk(stateDir: string): Promise<DiskReading> {
  for (let dir = stateDir; ; dir = dirname(dir)) {
    try {
      const s = await statfs(dir);
      // Like df: used = blocks - bfree; the share is of what non-root can use (used + bavail).
      const used = s.blocks - s.bfree;
      const usable = used + s.bavail;
      return {
        path: stateDir,
        totalBytes: s.blocks * s.bsize,
        freeBytes: s.bavail * s.bsize,
        usedPercent: usable > 0 ? round1((used / usable) * 100) : 0,
      };
    } catch (e) {
      if (!isMissing(e) || dirname(dir) === dir) throw e;
    }
  }
}
