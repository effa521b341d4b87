/**
 * The provisioning output folder, written whole or not at all: everything goes into a new
 * sibling folder first, which then takes the old one's place by rename (the old one is kept
 * until the new one is in place). A run that fails half-way leaves the last good output as it was.
 *
 *   registry.json              every box's identity and password (keep it safe: 0600)
 *   mosquitto/passwd           the broker's password file (mosquitto's own hash format)
 *   mosquitto/acl              the broker's ACL: each box under its own prefix only
 *   boxes/<id>/diemcau.json    the first-boot bundle, for the SD card's boot partition
 *   labels.html                labels to print
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ProvisionResult, Registry } from './provision.js';

export async function readRegistry(dir: string): Promise<Registry | null> {
  let text: string;
  try {
    text = await readFile(join(dir, 'registry.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const registry = JSON.parse(text) as Registry;
  if (registry.version !== 1 || typeof registry.boxes !== 'object') throw new Error(`${join(dir, 'registry.json')} is not a diemcau registry`);
  return registry;
}

export async function writeOutput(dir: string, result: ProvisionResult): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  const next = `${dir}.new-${tag}`;
  const old = `${dir}.old-${tag}`;
  await mkdir(dirname(dir), { recursive: true });
  try {
    const put = async (path: string, content: string, mode = 0o600) => {
      await mkdir(dirname(join(next, path)), { recursive: true, mode: 0o700 });
      await writeFile(join(next, path), content, { mode });
    };
    await put('registry.json', `${JSON.stringify(result.registry, null, 2)}\n`);
    await put('mosquitto/passwd', result.passwd);
    await put('mosquitto/acl', result.acl, 0o644);
    for (const [id, bundle] of result.bundles) await put(`boxes/${id}/diemcau.json`, `${JSON.stringify(bundle, null, 2)}\n`);
    await put('labels.html', result.labels, 0o644);
  } catch (e) {
    await rm(next, { recursive: true, force: true });
    throw e;
  }
  let moved = false;
  try {
    await rename(dir, old);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      await rm(next, { recursive: true, force: true });
      throw e;
    }
  }
  await rename(next, dir);
  if (moved) await rm(old, { recursive: true, force: true });
}
