import type { SystemInformation } from './system-information.js';

export interface MemoryReading {
  totalBytes: number;
  availableBytes: number;
  usedPercent: number;
}

/**
 * Total and available RAM from systeminformation's mem(), which reads MemTotal and MemAvailable
 * from /proc/meminfo (available, not free: the page cache is reclaimable and counts as free).
 * Rejects on numbers that cannot be right rather than reporting them.
 */
export async function readMemory(si: Pick<SystemInformation, 'mem'>): Promise<MemoryReading> {
  const { total, available } = await si.mem();
  if (!Number.isSafeInteger(total) || total <= 0 || !Number.isSafeInteger(available) || available < 0 || available > total) {
    throw new Error(`implausible memory reading: total ${total}, available ${available}`);
  }
  return { totalBytes: total, availableBytes: available, usedPercent: round1(((total - available) / total) * 100) };
}

export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
