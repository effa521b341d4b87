import type { Logger } from '../log.js';
import type { MediaControl } from './ipc.js';

/**
 * Logs one line of media figures every interval: frames and audio buffers played per second,
 * encoder, what the far end is shown, and any pipeline that is not running. This is how a
 * person watching the journal (or the demo) sees the media is alive.
 */
export class MediaSummary {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; frames: number; audio: number } | null = null;

  constructor(
    private readonly media: Pick<MediaControl, 'status'>,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async report(): Promise<void> {
    try {
      const s = await this.media.status();
      const now = Date.now();
      const seconds = this.last ? (now - this.last.at) / 1000 : 0;
      const rate = (value: number, previous: number | undefined) =>
        seconds > 0 && previous !== undefined && value >= previous ? Math.round(((value - previous) / seconds) * 10) / 10 : null;
      this.log.info(
        {
          fps: rate(s.rendered.videoFrames, this.last?.frames),
          audioBuffersPerS: rate(s.rendered.audioBuffers, this.last?.audio),
          encoder: s.encoder?.name ?? null,
          videoSource: s.videoSource,
          notRunning: s.pipelines.filter((p) => p.state !== 'running' && p.state !== 'stopped').map((p) => `${p.name}:${p.state}`),
        },
        'media',
      );
      this.last = { at: now, frames: s.rendered.videoFrames, audio: s.rendered.audioBuffers };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'media status unavailable');
      this.last = null;
    }
  }
}
