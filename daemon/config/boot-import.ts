/**
 * The first-boot import: the provisioning bundle (`diemcau.json`) the IT officer copied onto the
 * SD card's boot partition becomes this box's identity and fleet settings. Its secrets go to
 * the state folder (each its own 0600 file, through `applySite`), and the file leaves the FAT
 * partition, which anyone with a card reader can read. A bundle that is not valid is renamed
 * aside (so it is not tried at every boot) and the box keeps its settings.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeError } from '../errors.js';
import type { Logger } from '../log.js';
import { applySite, bundleSite, parseBundle, type Bundle } from './bundle.js';
import type { ConfigStore } from './store.js';

export const BOOT_BUNDLE = 'diemcau.json';
/** Pi OS Bookworm mounts the boot partition here (earlier releases: /boot). */
export const BOOT_DIRS = ['/boot/firmware', '/boot'];

export interface BootImport {
  bundle: Bundle;
  from: string;
}

/** Imports the first bundle found in `dirs`; null when there is none (or it was refused, and said so). */
export async function importBootBundle(o: { dirs: readonly string[]; store: ConfigStore; stateDir: string; log: Logger }): Promise<BootImport | null> {
  for (const dir of o.dirs) {
    const path = join(dir, BOOT_BUNDLE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    try {
      const bundle = parseBundle(text);
      const { revision } = await applySite(o.store, o.stateDir, bundleSite(bundle));
      await scrub(path);
      o.log.info({ event: 'provisioning.imported', from: path, id: bundle.device.id, revision }, `first boot: this box is ${bundle.device.id} (${bundle.device.name}); its bundle is removed from the boot partition`);
      return { bundle, from: path };
    } catch (e) {
      const aside = join(dir, 'diemcau.invalid.json');
      await rename(path, aside).catch(() => undefined);
      o.log.error({ event: 'provisioning.refused', from: path, movedTo: aside, err: serializeError(e) }, `first boot: ${path} was not imported; the box keeps its settings`);
      return null;
    }
  }
  return null;
}

/**
 * Overwrites the file with zeros before removing it: on a FAT card the removed clusters would
 * otherwise still hold the password (best effort: flash wear levelling may keep old copies).
 */
async function scrub(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    await handle.write(Buffer.alloc(size), 0, size, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rm(path);
}
