/**
 * A test call from the setup page ("gọi thử"): the box calls the commune's test target
 * (calls.testCall: a box at the commune office, or a conference server's test room) for a few
 * seconds and hangs up, and the page says whether it got through and how the link was. It goes
 * through the same calls part as a meeting, so it proves the whole path: network, broker,
 * TURN, camera, microphone, encoder, the far end's picture on the TV.
 */
import { DcError, serializeError, type SerializedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallSummary, JoinTarget } from '../rtc/call.js';
import type { StreamStats } from '../rtc/stats.js';

/** The calls part, as a test call needs it. */
export interface TestCallCalls {
  join(target: JoinTarget): Promise<CallSummary>;
  leave(): Promise<CallSummary>;
  summary(): CallSummary;
}

export type TestCallPhase = 'idle' | 'calling' | 'in-call' | 'passed' | 'failed';

/** What the page shows: the last test call, or the one under way. */
export interface TestCallReport {
  phase: TestCallPhase;
  /** Who it calls: a box id or the conference server's host. */
  target: string | null;
  startedAt: string | null;
  /** From the start to the call being up, ms. */
  joinMs: number | null;
  /** The link as the call's last statistics saw it. */
  link: {
    rttMs: number | null;
    sentKbps: number | null;
    receivedKbps: number | null;
    lossPercent: number | null;
    receivedVideo: { width: number | null; height: number | null; fps: number | null } | null;
    audioReceived: boolean;
  } | null;
  error: SerializedError | null;
}

export interface TestCallOptions {
  calls: TestCallCalls;
  /** The configured target now (the setting can change while the box runs); null: none set. */
  target(): JoinTarget | null;
  log: Logger;
}

export const TEST_CALL_SECONDS = { min: 5, max: 60, default: 15 };

export class TestCall {
  private report: TestCallReport = idleReport();
  private hangUp: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly opts: TestCallOptions) {}

  get current(): TestCallReport {
    // While up, the figures are live.
    if (this.report.phase === 'in-call') this.report = { ...this.report, link: linkOf(this.opts.calls.summary()) };
    return this.report;
  }

  /** Starts a test call of `seconds`; resolves once it is up or has failed (the report says which). */
  async start(seconds: number): Promise<TestCallReport> {
    const target = this.opts.target();
    if (!target) throw new DcError('DC_NOT_AVAILABLE', 'no test call target is set (calls.testCall): ask the commune’s IT officer');
    if (this.running || this.opts.calls.summary().state !== 'idle') {
      throw new DcError('DC_CMD_BUSY', 'the box is in a call: a test call waits until it ends');
    }
    this.running = true;
    const started = Date.now();
    const name = 'peer' in target ? target.peer : hostOf(target.whip);
    this.report = { ...idleReport(), phase: 'calling', target: name, startedAt: new Date(started).toISOString() };
    this.opts.log.info({ event: 'setup.test_call', target: name, seconds }, `test call to ${name}`);
    try {
      await this.opts.calls.join(target);
      this.report = { ...this.report, phase: 'in-call', joinMs: Date.now() - started };
      this.hangUp = setTimeout(() => void this.finish(), seconds * 1000);
    } catch (e) {
      this.running = false;
      this.report = { ...this.report, phase: 'failed', error: serializeError(e) };
      this.opts.log.warn({ event: 'setup.test_call_failed', target: name, err: this.report.error }, 'test call failed');
    }
    return this.report;
  }

  /** Ends a test call under way (the page's stop button, the daemon stopping). */
  async stop(): Promise<void> {
    if (this.running) await this.finish();
  }

  private async finish(): Promise<void> {
    clearTimeout(this.hangUp);
    this.hangUp = undefined;
    const summary = this.opts.calls.summary();
    const link = linkOf(summary);
    // A call that dropped before the end, or never carried the far end's sound, did not pass.
    const up = summary.state === 'in-call' || summary.state === 'reconnecting';
    const passed = up && link?.audioReceived === true;
    try {
      if (summary.state !== 'idle') await this.opts.calls.leave();
    } catch (e) {
      this.opts.log.warn({ err: serializeError(e) }, 'test call: hanging up failed');
    }
    this.running = false;
    const error = passed
      ? null
      : summary.lastEnd?.error ?? { code: 'DC_RTC_TIMEOUT', message: up ? 'no sound came from the far end' : `the call ended early (${summary.lastEnd?.reason ?? 'unknown'})` };
    this.report = { ...this.report, phase: passed ? 'passed' : 'failed', link: link ?? this.report.link, error: error as SerializedError | null };
    this.opts.log.info({ event: 'setup.test_call_done', passed, link }, `test call ${passed ? 'passed' : 'failed'}`);
  }
}

function idleReport(): TestCallReport {
  return { phase: 'idle', target: null, startedAt: null, joinMs: null, link: null, error: null };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function linkOf(summary: CallSummary): TestCallReport['link'] {
  const stats = summary.stats;
  if (!stats) return null;
  const sum = (a: StreamStats | null, b: StreamStats | null) => (a?.bitrateKbps ?? null) === null && (b?.bitrateKbps ?? null) === null ? null : Math.round((a?.bitrateKbps ?? 0) + (b?.bitrateKbps ?? 0));
  const video = stats.video.received;
  return {
    rttMs: stats.video.sent?.rttMs ?? stats.audio.sent?.rttMs ?? stats.audio.received?.rttMs ?? null,
    sentKbps: sum(stats.video.sent, stats.audio.sent),
    receivedKbps: sum(video, stats.audio.received),
    lossPercent: video?.lossPercent ?? stats.audio.received?.lossPercent ?? null,
    receivedVideo: video ? { width: video.width, height: video.height, fps: video.fps } : null,
    audioReceived: (summary.packets?.audioReceived ?? stats.audio.received?.packets ?? 0) > 0,
  };
}
