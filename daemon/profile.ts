import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Profile = 'sim' | 'pi';

/**
 * `auto` becomes `pi` on a Raspberry Pi (its device tree says so) and `sim` anywhere else.
 * `root` lets tests point /proc at a fixture tree.
 */
export async function resolveProfile(wanted: Profile | 'auto', root = '/'): Promise<Profile> {
  if (wanted !== 'auto') return wanted;
  try {
    const model = await readFile(join(root, 'proc/device-tree/model'), 'utf8');
    return model.includes('Raspberry Pi') ? 'pi' : 'sim';
  } catch {
    return 'sim';
  }
}
