import type { Logger } from '../log.js';

/** What the TV shows while the box identifies itself: its name, and its village and commune. */
export function identityText(d: { name: string; commune: string; village: string }): string {
  const site = [d.village, d.commune].filter(Boolean).join(' · ');
  return site ? `${d.name}\n${site}` : d.name;
}

/** Where notices are drawn: the media engine's text layer over the TV picture. */
export interface TextLayer {
  setOverlayText(text: string): Promise<void>;
}

interface Notice {
  text: string;
  until: number;
}

/**
 * Timed text on the TV (a message from the fleet console, the box's name while identifying).
 * The newest notice that has not expired is shown; when it expires the one under it, if still
 * due, comes back, else the text layer is cleared. `reapply()` redraws after a media restart.
 */
export class TvNotices {
  private readonly notices: Notice[] = [];
  private readonly shownListeners: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private shown = '';

  constructor(
    private readonly layer: () => TextLayer | undefined,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Shows `text` for `seconds`: returns when it ends (ms since 1970) and whether it is on the
   * screen now — while the media engine restarts it is kept and drawn by reapply(). Throws if
   * the engine refused to draw it.
   */
  async show(text: string, seconds: number): Promise<{ until: number; drawn: boolean }> {
    const until = this.now() + seconds * 1000;
    this.notices.push({ text, until });
    await this.refresh();
    for (const listener of this.shownListeners) listener();
    return { until, drawn: this.shown === text };
  }

  /** Called after each new notice: the TV must be on for the hall to read it. */
  onShown(listener: () => void): void {
    this.shownListeners.push(listener);
  }

  /** Removes every notice. */
  async clear(): Promise<void> {
    this.notices.length = 0;
    await this.refresh();
  }

  /** The notice on screen now, if any. */
  current(): { text: string; until: number } | null {
    this.prune();
    const top = this.notices.at(-1);
    return top ? { ...top } : null;
  }

  reapply(): Promise<void> {
    this.shown = '\u0000'; // force a redraw
    return this.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private prune(): void {
    const now = this.now();
    for (let i = this.notices.length - 1; i >= 0; i--) if (this.notices[i]!.until <= now) this.notices.splice(i, 1);
  }

  private async refresh(): Promise<void> {
    this.prune();
    clearTimeout(this.timer);
    const top = this.notices.at(-1);
    const text = top?.text ?? '';
    const next = this.notices.reduce((min, n) => Math.min(min, n.until), Infinity);
    if (Number.isFinite(next)) {
      this.timer = setTimeout(() => void this.refresh().catch(() => undefined), Math.max(10, next - this.now()));
      this.timer.unref();
    }
    if (text === this.shown) return;
    const layer = this.layer();
    if (!layer) return;
    try {
      await layer.setOverlayText(text);
      this.shown = text;
    } catch (e) {
      // The media worker may be restarting; reapply() after it is back draws it.
      this.log.warn({ event: 'screen.notice_failed', err: (e as Error).message }, 'could not draw the notice');
      throw e;
    }
  }
}
