import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The one logger of a process; parts get `log.child({ part: 'media' })`. JSON lines on stdout,
 * which journald keeps on a box; `DIEMCAU_LOG_LEVEL` overrides the configured level.
 */
export function createLogger(level: LevelWithSilent = 'info', bindings: Record<string, unknown> = {}): Logger {
  const envLevel = process.env.DIEMCAU_LOG_LEVEL as LevelWithSilent | undefined;
  return pino({ level: envLevel ?? level, base: { pid: process.pid, ...bindings } });
}
