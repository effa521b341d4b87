import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LogTail } from '../log.js';

const execFileP = promisify(execFile);

/** What a download of the log holds at most: a day of a busy box, a few MB. */
const JOURNAL_LINES = 20_000;

/**
 * The daemon's log as JSON lines, oldest first. Under systemd (INVOCATION_ID is set) the
 * journal has this boot's whole log, earlier restarts included; elsewhere, or if journalctl
 * cannot be read (the user is not in systemd-journal), the lines this process kept in memory.
 */
export async function readDaemonLog(tail: LogTail, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.INVOCATION_ID) {
    try {
      const { stdout } = await execFileP('journalctl', ['--unit=diemcau.service', '--boot', '--output=cat', `--lines=${JOURNAL_LINES}`, '--no-pager'], {
        timeout: 10_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      if (stdout.trim() !== '') return stdout;
    } catch {
      // fall through to the lines kept in memory
    }
  }
  return tail.text();
}
