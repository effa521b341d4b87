import type { HostFiles } from './host-files.js';
import type { SystemInformation } from './system-information.js';

const THERMAL = '/sys/class/thermal';
/** The SoC zone: `cpu-thermal` on Pi 4/5 with Bookworm kernels, `soc-thermal` or `soc` elsewhere. */
const SOC_ZONE_TYPE = /^(cpu|soc)([-_]thermal)?$/i;

/** Millidegrees as the kernel writes them ("48686\n") to °C with one decimal; null if not a number. */
export function parseMillidegrees(text: string): number | null {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(value) ? Math.round(value / 100) / 10 : null;
}

/**
 * SoC temperature in °C from the thermal zone whose `type` names the CPU/SoC, else from the
 * first zone that answers; null when the machine has no thermal zone (many VMs).
 */
export async function readSocTempC(files: HostFiles): Promise<number | null> {
  const zones = (await files.list(THERMAL))
    .filter((name) => /^thermal_zone\d+$/.test(name))
    .sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  const typed = await Promise.all(
    zones.map(async (zone) => ({ zone, type: (await files.readIfExists(`${THERMAL}/${zone}/type`).catch(() => null))?.trim() ?? '' })),
  );
  const ordered = [...typed.filter((z) => SOC_ZONE_TYPE.test(z.type)), ...typed.filter((z) => !SOC_ZONE_TYPE.test(z.type))];
  for (const { zone } of ordered) {
    // Some zones (ACPI, disabled sensors) fail to read with EINVAL/ENODATA: try the next one.
    const text = await files.readIfExists(`${THERMAL}/${zone}/temp`).catch(() => null);
    const tempC = text === null ? null : parseMillidegrees(text);
    if (tempC !== null) return tempC;
  }
  return null;
}

/**
 * For machines without a thermal zone: systeminformation's cpuTemperature, which also knows
 * hwmon sensors and `sensors`. It spawns shells (one through execSync, blocking the event loop)
 * on every call, so a machine where it finds nothing is not asked again by this collector.
 */
export class FallbackTemperature {
  private none = false;

  constructor(private readonly si: Pick<SystemInformation, 'cpuTemperature'>) {}

  /** °C with one decimal, or null. */
  async read(): Promise<number | null> {
    if (this.none) return null;
    const { main } = await this.si.cpuTemperature();
    if (typeof main !== 'number' || !Number.isFinite(main)) {
      this.none = true;
      return null;
    }
    return Math.round(main * 10) / 10;
  }
}
