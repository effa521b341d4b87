import { release } from 'node:os';
import type { HostFiles } from './host-files.js';
import type { SystemInformation } from './system-information.js';

export interface HostVersions {
  os: string | null;
  kernel: string;
  model: string | null;
}

/**
 * The OS as one string from systeminformation's osInfo ("Debian GNU/Linux", "12", "bookworm"
 * become "Debian GNU/Linux 12 (bookworm)", as PRETTY_NAME reads on Debian and Pi OS); null
 * when the library found no distribution.
 */
export function osName({ distro, release, codename }: { distro: string; release: string; codename: string }): string | null {
  if (!distro || distro === 'unknown') return null;
  const version = release && release !== 'unknown' ? ` ${release}` : '';
  return `${distro}${version}${codename ? ` (${codename})` : ''}`;
}

/** Device-tree strings end with NUL ("Raspberry Pi 4 Model B Rev 1.5\0"). */
export function cleanModel(text: string): string | null {
  const model = text.replace(/\0+$/, '').trim();
  return model === '' ? null : model;
}

/** systeminformation's placeholder when neither DMI nor /proc/cpuinfo names the machine. */
const UNKNOWN_MODEL = 'Computer';

/**
 * The board from the device tree when there is one: on a Pi it names the revision too
 * ("Raspberry Pi 4 Model B Rev 1.5"), and systeminformation's system() is not needed.
 * Elsewhere system().model (DMI product name; 'Docker Container', 'Virtual machine' are its guesses).
 */
async function readModel(files: HostFiles, si: Pick<SystemInformation, 'system'>): Promise<string | null> {
  const deviceTree = await files.readIfExists('/proc/device-tree/model');
  const fromDeviceTree = deviceTree === null ? null : cleanModel(deviceTree);
  if (fromDeviceTree !== null) return fromDeviceTree;
  const model = (await si.system()).model.trim();
  return model === '' || model === UNKNOWN_MODEL ? null : model;
}

/** OS, kernel and board. They do not change while the daemon runs: the collector asks once. */
export async function readHostVersions(files: HostFiles, si: Pick<SystemInformation, 'osInfo' | 'system'>): Promise<HostVersions> {
  const [os, model] = await Promise.all([si.osInfo(), readModel(files, si)]);
  return { os: osName(os), kernel: os.kernel || release(), model };
}
