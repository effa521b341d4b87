/** What the TV shows while the box identifies itself: its name, and its village and commune. */
export function identityText(d: { name: string; commune: string; village: string }): string {
  const site = [d.village, d.commune].filter(Boolean).join(' · ');
  return site ? `${d.name}\n${site}` : d.name;
}

/** A message from the fleet console, or the box saying who it is (identify). */
export type NoticeKind = 'message' | 'identify';

export interface Notice {
  kind: NoticeKind;
  text: string;
  /** When it ends, ms since 1970. */
  until: number;
}

/** Where notices are shown and whether they made it to the screen (the screen director). */
export interface NoticeBoard {
  /** Shows `text` for `seconds`: when it ends and whether it is on the TV now. */
  show(text: string, seconds: number, kind?: NoticeKind): Promise<{ until: number; drawn: boolean }>;
  /** Removes every notice. */
  clear(): Promise<void>;
  /** The notice on screen now, if any. */
  current(): Notice | null;
}

/**
 * Timed notices, newest on top: when the newest expires the one under it, if still due, comes
 * back. Listeners hear every change (a new notice, a clear, an expiry) and redraw the screen.
 */
export class TvNotices {
  private readonly notices: Notice[] = [];
  private readonly listeners: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  push(kind: NoticeKind, text: string, seconds: number): Notice {
    const notice = { kind, text, until: this.now() + seconds * 1000 };
    this.notices.push(notice);
    this.changed();
    return { ...notice };
  }

  clear(): void {
    this.notices.length = 0;
    this.changed();
  }

  current(): Notice | null {
    this.prune();
    const top = this.notices.at(-1);
    return top ? { ...top } : null;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private prune(): void {
    const now = this.now();
    for (let i = this.notices.length - 1; i >= 0; i--) if (this.notices[i]!.until <= now) this.notices.splice(i, 1);
  }

  private changed(): void {
    this.prune();
    clearTimeout(this.timer);
    const next = this.notices.reduce((min, n) => Math.min(min, n.until), Infinity);
    if (Number.isFinite(next)) {
      this.timer = setTimeout(() => this.changed(), Math.max(10, next - this.now()));
      this.timer.unref();
    }
    for (const listener of this.listeners) listener();
  }
}
