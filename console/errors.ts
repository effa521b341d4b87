/**
 * How the console ends. Scripts rely on these exit codes: 0 every box did it, 1 a box failed or
 * did not answer, 2 the command line was wrong, 3 the broker could not be reached or refused us.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, connection: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A wrong command line: unknown subcommand or option, a bad value. Exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The broker cannot be reached, refused the login, or refused what the console asked of it. Exit 3. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';

  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot use the broker at ${url}: ${reason}`);
  }
}
