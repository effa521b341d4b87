import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replaces `target` so that after a power cut (a box is unplugged at any moment) it holds
 * either the old or the new content, never a mix or nothing: write a temp file in the same
 * directory (rename is only atomic within one file system), fsync it, rename it over the
 * target, fsync the directory so the rename itself is on disk.
 *
 * Throws, with the target untouched and the temp file removed, if anything before the rename
 * fails. A failed directory fsync comes after the rename, when the new content is already in
 * place, so it is reported to `onDirSyncError` instead of thrown.
 */
export async function writeFileAtomic(
  target: string,
  data: string,
  onDirSyncError: (error: Error) => void = () => {},
): Promise<void> {
  // pid and random part: two writers (daemon and CLI) never share a temp file.
  const temp = `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: FileHandle | undefined;
  try {
    // 0600: only the daemon's user reads or changes the box's settings.
    handle = await open(temp, 'wx', 0o600);
    await handle.writeFile(data, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (e) {
    await handle?.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw e;
  }
  try {
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (e) {
    onDirSyncError(e as Error);
  }
}
