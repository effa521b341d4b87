import type { Logger } from '../log.js';
import type { Outbox, OutboxMessage } from './outbox.js';

/** How many queued messages are on the wire at once: ordered by MQTT, acknowledged as a batch. */
const BATCH = 64;

/**
 * Empties the outbox into the broker, oldest first, with QoS 1: a batch is published, and the
 * longest run of acknowledged messages from its start is removed from the queue. Anything not
 * acknowledged stays and goes again after the next connect (at least once, in order).
 */
export class OutboxSender {
  private draining: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly send: (message: OutboxMessage) => Promise<boolean>,
    private readonly online: () => boolean,
    private readonly log: Logger,
  ) {}

  /** Starts draining if it is not already; call after each append and each connect. */
  kick(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        void this.kick();
      }
    });
    return this.draining;
  }

  private async drain(): Promise<void> {
    let sent = 0;
    while (this.online()) {
      const batch = this.outbox.peek(BATCH);
      if (batch.length === 0) break;
      const results = await Promise.all(batch.map((m) => this.send(m)));
      const acknowledged = results.indexOf(false);
      const upto = acknowledged === -1 ? batch.length : acknowledged;
      if (upto > 0) {
        await this.outbox.ack(batch[upto - 1]!.seq);
        sent += upto;
      }
      if (upto < batch.length) {
        this.log.info({ event: 'fleet.outbox_paused', sent, left: this.outbox.stats().messages }, 'fleet: queue paused until the broker is back');
        return;
      }
    }
    if (sent > BATCH) this.log.info({ event: 'fleet.outbox_flushed', sent }, 'fleet: queued messages delivered');
  }
}
