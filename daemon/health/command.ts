import { execFile } from 'node:child_process';

/**
 * Runs a program (never through a shell) and resolves with its stdout; rejects when it cannot
 * start, exits non-zero or outlives `timeoutMs`. Injected so tests never run the real tools.
 */
export type RunCommand = (file: string, args: readonly string[], timeoutMs: number) => Promise<string>;

export const runCommand: RunCommand = (file, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, encoding: 'utf8' }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });

/**
 * A tool that is not installed stays not installed while the daemon runs: after ENOENT it is
 * not spawned again, so a box without `vcgencmd` or `iwgetid` pays for the attempt once.
 */
export class OptionalTool {
  private missing = false;

  constructor(
    private readonly run: RunCommand,
    readonly file: string,
    private readonly timeoutMs: number,
  ) {}

  /** Stdout, or null when the tool is not installed; other failures reject. */
  async output(args: readonly string[]): Promise<string | null> {
    if (this.missing) return null;
    try {
      return await this.run(this.file, args, this.timeoutMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.missing = true;
        return null;
      }
      throw e;
    }
  }
}
