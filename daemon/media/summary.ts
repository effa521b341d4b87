import type { Logger } from '../log.js';
import type { CallStats, StreamStats } from '../rtc/stats.js';
import type { MediaControl } from './ipc.js';

/**
 * Logs one line of media figures every interval: frames and audio buffers played per second,
 * encoder, what the far end is shown, any pipeline that is not running, and during a call its
 * video each way. This is how a person watching the journal (or the demo) sees the media is alive.
 */
export class MediaSummary {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; frames: number; audio: number } | null = null;

  constructor(
    private readonly media: Pick<MediaControl, 'status'>,
    private readonly log: Logger,
    private readonly intervalMs: number,
    /** The call's latest statistics, when there is a call. */
    private readonly callStats: () => CallStats | null = () => null,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private callFields(): { videoSent?: string; videoReceived?: string } {
    const stats = this.callStats();
    if (!stats) return {};
    return {
      ...(stats.video.sent ? { videoSent: describeVideo(stats.video.sent) } : {}),
      ...(stats.video.received ? { videoReceived: describeVideo(stats.video.received) } : {}),
    };
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
          ...this.callFields(),
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

/** "H264 848x480 30 fps 470 kbit/s, 0% lost": one glance at a direction of the call's video. */
function describeVideo(v: StreamStats): string {
  const size = v.width && v.height ? `${v.width}x${v.height}` : '?';
  const fps = v.fps === null ? '?' : Math.round(v.fps);
  const kbps = v.bitrateKbps === null ? '?' : Math.round(v.bitrateKbps);
  const lost = v.lossPercent === null ? '' : `, ${Math.round(v.lossPercent)}% lost`;
  return `${v.codec ?? '?'} ${size} ${fps} fps ${kbps} kbit/s${lost}`;
}
