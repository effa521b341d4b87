/**
 * Telling systemd how the daemon is (sd_notify(3)): READY=1 once every part has started,
 * WATCHDOG=1 every half watchdog period but only while the box is really well — the main loop
 * turns (the timer fired on time) and the media worker answers with its screen producing frames
 * — and STOPPING=1 on the way out. A box whose pipelines are stuck stops pinging, and systemd
 * restarts it. Node cannot send on a datagram Unix socket by itself: `systemd-notify` does
 * (hence NotifyAccess=all in the unit). Nothing happens without NOTIFY_SOCKET (not under systemd).
 */
import { execFile } from 'node:child_process';
import { serializeError } from '../errors.js';
import type { Logger } from '../log.js';

export interface Health {
  /** Resolves true when the box is well; false or a rejection skips the ping. */
  check(): Promise<boolean>;
}

export type NotifySender = (assignments: string[]) => Promise<void>;

export const systemdNotify: NotifySender = (assignments) =>
  new Promise((resolve, reject) => execFile('systemd-notify', assignments, { timeout: 5000 }, (error) => (error ? reject(error) : resolve())));

export class SystemdNotifier {
  readonly name = 'sd-notify';
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number | null;
  private lastPing = 0;
  private unwell = false;
  private checking = false;

  constructor(
    private readonly o: { env: NodeJS.ProcessEnv; health: Health; log: Logger; send?: NotifySender },
  ) {
    const usec = Number(o.env.WATCHDOG_USEC);
    // Half the period, as sd_watchdog_enabled(3) advises: one late ping is no restart.
    this.intervalMs = o.env.NOTIFY_SOCKET && Number.isFinite(usec) && usec > 0 ? Math.max(100, usec / 2000) : null;
  }

  get enabled(): boolean {
    return Boolean(this.o.env.NOTIFY_SOCKET);
  }

  async ready(status: string): Promise<void> {
    await this.send(['--ready', `STATUS=${status}`]);
    if (this.intervalMs !== null) {
      this.lastPing = Date.now();
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
    }
  }

  async stopping(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.send(['STOPPING=1']);
  }

  private async tick(): Promise<void> {
    // A check still waiting (a stuck worker) is no second check.
    if (this.checking) return;
    this.checking = true;
    try {
      await this.check();
    } finally {
      this.checking = false;
    }
  }

  private async check(): Promise<void> {
    const started = Date.now();
    // A main loop that was blocked fires late: that is unwell even if it turns again now.
    const lateMs = started - this.lastPing - this.intervalMs!;
    let well = lateMs < this.intervalMs!;
    if (well) {
      try {
        well = await this.o.health.check();
      } catch {
        well = false;
      }
    }
    this.lastPing = started;
    if (!well) {
      if (!this.unwell) this.o.log.error({ event: 'systemd.watchdog_withheld', lateMs }, 'the box is not well: no watchdog ping (systemd restarts it if this lasts)');
      this.unwell = true;
      return;
    }
    if (this.unwell) this.o.log.info({ event: 'systemd.watchdog_resumed' }, 'the box is well again: watchdog pings resume');
    this.unwell = false;
    await this.send(['WATCHDOG=1']);
  }

  private async send(assignments: string[]): Promise<void> {
    if (!this.enabled) return;
    try {
      await (this.o.send ?? systemdNotify)(assignments);
    } catch (e) {
      this.o.log.warn({ event: 'systemd.notify_failed', err: serializeError(e) }, 'systemd-notify failed');
    }
  }
}
