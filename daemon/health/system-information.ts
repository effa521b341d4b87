import type { Systeminformation } from 'systeminformation';

/**
 * The calls of the `systeminformation` library the collector makes, narrowed to the fields it
 * reads; the library itself fits this type. Tests pass a fake that answers like the library
 * would on the machine a fixture tree stands for.
 */
export interface SystemInformation {
  /** Reads /proc/meminfo (no process). */
  mem(): Promise<Pick<Systeminformation.MemData, 'total' | 'available'>>;
  /** Spawns shells, two of them through execSync: asked once per collector. */
  osInfo(): Promise<Pick<Systeminformation.OsData, 'distro' | 'release' | 'codename' | 'kernel'>>;
  /** Spawns dmidecode and shells, three through execSync: asked once, and only without a device tree. */
  system(): Promise<Pick<Systeminformation.SystemData, 'model'>>;
  /** Spawns shells (one through execSync) and `sensors`: only where no thermal zone answers. */
  cpuTemperature(): Promise<{ main: number | null }>;
}

type Library = typeof import('systeminformation');
let library: Promise<Library> | undefined;

/** Loaded on first use: the import costs ~60 ms, which a process that only wants the schema should not pay. */
function load(): Promise<Library> {
  library ??= import('systeminformation').then((m) => m.default);
  return library;
}

/** The real library. */
export const systemInformation: SystemInformation = {
  mem: async () => (await load()).mem(),
  osInfo: async () => (await load()).osInfo(),
  system: async () => (await load()).system(),
  cpuTemperature: async () => (await load()).cpuTemperature(),
};
