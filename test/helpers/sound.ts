/**
 * What the simulated speaker (a fakesink) plays, read off the last samples it played, polled
 * from JS: no pad probe holds the audio thread.
 */
import { lastSample } from './pictures.js';
import type { EngineHarness } from './engine.js';
import { delay } from './wait.js';

/** RMS of the S16 samples the speaker played last; null before it played any. */
export function speakerLevel(h: EngineHarness): number | null {
  const buffer = lastSample(h.engine.pipelineObject('playout')?.getByName('speaker') ?? null)?.getBuffer();
  if (!buffer) return null;
  const bytes = Buffer.from(buffer.extractDup(0, Number(buffer.getSize())) as unknown as number[]);
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes.readInt16LE(i) ** 2;
  return Math.sqrt(sum / Math.max(1, bytes.length / 2));
}

/** The speaker's levels polled every 10 ms for `ms`: [median, share of readings below `floor`]. */
export async function levelsOver(h: EngineHarness, ms: number, floor = 0): Promise<{ median: number; below: number; n: number }> {
  const levels: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    levels.push(speakerLevel(h) ?? 0);
    await delay(10);
  }
  levels.sort((a, b) => a - b);
  return { median: levels[Math.floor(levels.length / 2)] ?? 0, below: levels.filter((l) => l < floor).length / levels.length, n: levels.length };
}

export const near = (value: number, target: number, share: number) => Math.abs(value - target) <= share * target;
