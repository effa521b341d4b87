import { randomBytes, timingSafeEqual } from 'node:crypto';

/** One signed-in browser: its cookie's id and the token its state-changing requests carry. */
export interface Session {
  id: string;
  csrf: string;
  lastSeen: number;
  created: number;
}

export interface SessionOptions {
  /** Signed out after this long without a request (ms, default 30 min). */
  idleMs?: number;
  /** Signed out after this long whatever happens (ms, default 12 h). */
  maxAgeMs?: number;
  /** Sessions kept at most; the oldest goes first (default 16). */
  max?: number;
  now?: () => number;
}

const token = () => randomBytes(24).toString('base64url');

/**
 * Sessions in memory: a daemon restart signs everyone out, which on a box set up once in a
 * while is a fair price for keeping no session secrets on disk.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;

  constructor(private readonly opts: SessionOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  create(): Session {
    const max = this.opts.max ?? 16;
    while (this.sessions.size >= max) this.sessions.delete(this.sessions.keys().next().value!);
    const now = this.now();
    const session = { id: token(), csrf: token(), lastSeen: now, created: now };
    this.sessions.set(session.id, session);
    return { ...session };
  }

  /** The live session with this id, its idle timer restarted; undefined when none. */
  touch(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (now - session.lastSeen > (this.opts.idleMs ?? 30 * 60_000) || now - session.created > (this.opts.maxAgeMs ?? 12 * 3600_000)) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = now;
    return { ...session };
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Everyone signed out (a new password, a factory reset). */
  clear(): void {
    this.sessions.clear();
  }
}

/** Compares two tokens in constant time. */
export function sameToken(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
