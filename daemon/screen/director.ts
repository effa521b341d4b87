/**
 * Which screen the TV shows, from what the box knows (its site, the network, the commune's
 * broker, the call, the notices), drawn through the media engine: one view at a time, redrawn
 * when something changes and every few seconds for the clock and the network.
 */
import type { Logger } from '../log.js';
import type { CallPhase } from '../rtc/call.js';
import type { ScreenArt } from '../media/types.js';
import type { Part } from '../part.js';
import { renderScreen, type BrokerState, type CallQuality, type FrameSize, type HotspotInfo, type LinkState, type ScreenView, type SetupAccess, type Site } from './art.js';
import { TvNotices, type Notice, type NoticeBoard, type NoticeKind } from './notices.js';

export interface ScreenFacts {
  site: Site;
  boxId: string;
  network: LinkState;
  /** `refused`: the broker turned the box's credentials down, a person must fix them. */
  broker: BrokerState | 'refused';
  /** `peer`: the other end (a box, a conference server); `speaker`: who holds the floor, if anyone is named. */
  call: { phase: CallPhase; peer: string | null; speaker: string | null; micMuted: boolean; quality: CallQuality };
  setup: SetupAccess | null;
  nextMeeting: { title: string; startsAt: Date } | null;
  /** The setup page's camera preview: the TV shows the camera picture, for framing. */
  previewing?: boolean;
  /** The box's own setup Wi-Fi, open while it has no network: the TV says how to join it. */
  hotspot?: HotspotInfo | null;
}

/**
 * The view for the facts: a meeting first (a notice then shows as a band over it), then a
 * notice, then a problem a person must fix, else the idle screen.
 */
export function chooseView(f: ScreenFacts, notice: Notice | null, now: Date): ScreenView {
  const { phase } = f.call;
  if (phase === 'in-call' || phase === 'reconnecting') {
    return {
      kind: 'call',
      speaker: f.call.speaker,
      micMuted: f.call.micMuted,
      quality: phase === 'reconnecting' && f.call.quality === 'good' ? 'poor' : f.call.quality,
      notice: notice ? notice.text.replace(/\n/g, ' · ') : null,
    };
  }
  if (phase === 'ringing') return { kind: 'ringing', site: f.site, peer: f.call.peer ?? '' };
  if (phase === 'connecting') return { kind: 'connecting', site: f.site, peer: f.call.peer };
  if (f.previewing) return { kind: 'preview' };
  if (notice?.kind === 'identify') return { kind: 'identify', site: f.site, boxId: f.boxId };
  if (notice) return { kind: 'message', site: f.site, text: notice.text, now };
  if (f.broker === 'refused') return { kind: 'error', problem: 'broker-refused', site: f.site, boxId: f.boxId, setup: f.setup };
  if (f.network === 'down') return { kind: 'error', problem: 'no-network', site: f.site, boxId: f.boxId, setup: f.setup, hotspot: f.hotspot ?? null };
  return { kind: 'idle', site: f.site, now, network: f.network, broker: f.broker, nextMeeting: f.nextMeeting, setup: f.setup };
}

/** Where screens are drawn: the media engine (through its worker). */
export interface ScreenSurface {
  setScreenArt(art: ScreenArt): Promise<void>;
}

export interface ScreenDirectorOptions {
  /** The media engine while its worker runs. */
  surface: () => ScreenSurface | undefined;
  /** The TV's mode, the size screens are drawn at. */
  size: () => FrameSize;
  facts: () => ScreenFacts;
  log: Logger;
  now?: () => Date;
  /** How often the screen is recomputed without news: the clock, a network cable (ms). */
  refreshEveryMs?: number;
}

export class ScreenDirector implements NoticeBoard, Part {
  readonly name = 'screen';
  private readonly notices: TvNotices;
  private readonly now: () => Date;
  private readonly shownListeners: Array<(kind: NoticeKind) => void> = [];
  private readonly screenListeners: Array<(screen: string) => void> = [];
  /** The art on the TV now (its name, size and SVG); null: nothing drawn yet, or to redraw. */
  private drawnKey: string | null = null;
  private drawnName = 'none';
  private queue: Promise<boolean> = Promise.resolve(false);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ScreenDirectorOptions) {
    this.now = opts.now ?? (() => new Date());
    this.notices = new TvNotices(() => this.now().getTime());
    this.notices.onChange(() => void this.refresh());
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshEveryMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.notices.stop();
  }

  /** The name of the screen on the TV ("idle", "call", "error:no-network"). */
  get screen(): string {
    return this.drawnName;
  }

  /** Draws the screen for the current facts if it changed; true when the TV shows it. */
  refresh(): Promise<boolean> {
    // One drawing at a time, in order: the last news wins.
    this.queue = this.queue.then(() => this.draw());
    return this.queue;
  }

  /** Draws again even if nothing changed: a new media worker starts blank. */
  reapply(): Promise<boolean> {
    this.drawnKey = null;
    return this.refresh();
  }

  async show(text: string, seconds: number, kind: NoticeKind = 'message'): Promise<{ until: number; drawn: boolean }> {
    const { until } = this.notices.push(kind, text, seconds);
    const drawn = await this.refresh();
    for (const listener of this.shownListeners) listener(kind);
    return { until, drawn };
  }

  async clear(): Promise<void> {
    this.notices.clear();
    await this.refresh();
  }

  current(): Notice | null {
    return this.notices.current();
  }

  /** Called after each new notice: the TV must be on for the hall to read it. */
  onShown(listener: (kind: NoticeKind) => void): void {
    this.shownListeners.push(listener);
  }

  /** Called when the TV shows another screen (the fleet's state says which). */
  onScreenChange(listener: (screen: string) => void): void {
    this.screenListeners.push(listener);
  }

  private async draw(): Promise<boolean> {
    const now = this.now();
    const size = this.opts.size();
    const art = renderScreen(chooseView(this.opts.facts(), this.notices.current(), now), size);
    const key = `${size.width}x${size.height}|${art.layers.map((l) => `${l.x},${l.y}:${l.svg}`).join('|')}`;
    if (key === this.drawnKey) return true;
    const surface = this.opts.surface();
    if (!surface) return false; // drawn by reapply() when the worker is up
    try {
      await surface.setScreenArt(art);
    } catch (e) {
      this.opts.log.warn({ event: 'screen.draw_failed', screen: art.name, err: (e as Error).message }, 'could not draw the screen');
      return false;
    }
    const changed = art.name !== this.drawnName;
    if (changed) this.opts.log.info({ event: 'screen.shown', screen: art.name, from: this.drawnName }, `screen: ${art.name}`);
    this.drawnKey = key;
    this.drawnName = art.name;
    if (changed) for (const listener of this.screenListeners) listener(art.name);
    return true;
  }
}
