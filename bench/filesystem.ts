import { readFileSync } from 'node:fs';

/** The file system type and mount point under `path` (on tmpfs, fsync figures mean nothing). */
export function fsType(path: string): string {
  let best = { mount: '', type: '?' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mount = '', type = '?'] = line.split(' ');
    const under = path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (under && mount.length > best.mount.length) best = { mount, type };
  }
  return `${best.type} on ${best.mount}`;
}
