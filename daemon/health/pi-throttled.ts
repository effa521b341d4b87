import type { OptionalTool } from './command.js';
import type { HostFiles } from './host-files.js';
import type { PiThrottled } from './schema.js';

/** Newer Raspberry Pi kernels expose the firmware's flags here, as hex without 0x ("50005"). */
export const THROTTLED_SYSFS = '/sys/devices/platform/soc/soc:firmware/get_throttled';

/**
 * The firmware's throttling bit field from `vcgencmd get_throttled` ("throttled=0x50005") or
 * the sysfs file ("50005"); null when the text is neither.
 */
export function parseThrottled(text: string): number | null {
  const match = /^\s*(?:throttled=)?(?:0x)?([0-9a-f]{1,8})\s*$/i.exec(text);
  return match ? Number.parseInt(match[1]!, 16) : null;
}

const bit = (value: number, n: number) => (value & (1 << n)) !== 0;

export function decodeThrottled(value: number): PiThrottled {
  return {
    underVoltageNow: bit(value, 0),
    frequencyCappedNow: bit(value, 1),
    throttledNow: bit(value, 2),
    softTempLimitNow: bit(value, 3),
    underVoltageOccurred: bit(value, 16),
    frequencyCappedOccurred: bit(value, 17),
    throttledOccurred: bit(value, 18),
    softTempLimitOccurred: bit(value, 19),
    raw: `0x${(value >>> 0).toString(16)}`,
  };
}

/**
 * Sysfs first (a file read), then `vcgencmd get_throttled` (needs the `video` group for
 * /dev/vcio), else null: not a Pi. Rejects when a source exists but answers nonsense or fails.
 */
export async function readPiThrottled(files: HostFiles, vcgencmd: OptionalTool): Promise<PiThrottled | null> {
  const sysfs = await files.readIfExists(THROTTLED_SYSFS);
  const text = sysfs ?? (await vcgencmd.output(['get_throttled']));
  if (text === null) return null;
  const value = parseThrottled(text);
  if (value === null) throw new Error(`unexpected get_throttled output: ${JSON.stringify(text.slice(0, 80))}`);
  return decodeThrottled(value);
}
