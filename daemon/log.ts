import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The last lines the logger wrote, kept in memory for the `diagnostics` command: a box in a
 * village hall has no one to read its journal.
 */
export class LogTail {
  private readonly lines: string[] = [];

  constructor(private readonly capacity = 200) {}

  /** pino calls this with one JSON line per record. */
  write(line: string): void {
    this.lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** Every line kept, oldest first, as the JSON lines they were written as. */
  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }

  /** The newest `count` records, oldest first, parsed back (a line that is not JSON is kept as text). */
  last(count: number): unknown[] {
    return this.lines.slice(-count).map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return line;
      }
    });
  }
}

/**
 * The one logger of a process; parts get `log.child({ part: 'media' })`. JSON lines on stdout,
 * which journald keeps on a box; `DIEMCAU_LOG_LEVEL` overrides the configured level. With
 * `tail`, every record is also kept there.
 */
export function createLogger(level: LevelWithSilent = 'info', bindings: Record<string, unknown> = {}, tail?: LogTail): Logger {
  const envLevel = process.env.DIEMCAU_LOG_LEVEL as LevelWithSilent | undefined;
  const options = { level: envLevel ?? level, base: { pid: process.pid, ...bindings } };
  if (!tail) return pino(options);
  return pino(options, pino.multistream([{ stream: process.stdout, level: 'trace' }, { stream: tail, level: 'trace' }]));
}
