import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { ConnectionError } from './errors.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  /** Sent from the broker's retained store at subscription (current state, not a change). */
  retain: boolean;
  correlationData?: Buffer | undefined;
}

export interface PublishExtras {
  /** MQTT 5 request/response; ignored on 3.1.1. */
  responseTopic?: string;
  correlationData?: Buffer;
}

/**
 * The console's live session with the broker: subscribe, publish, receive. Whatever the broker
 * refuses, and a connection that drops, become ConnectionErrors naming the URL.
 */
export class FleetLink {
  /** Rejects with a ConnectionError when the connection drops; never resolves. Race waits against it. */
  readonly lost: Promise<never>;
  private closing = false;
  private lastError: Error | undefined;

  constructor(
    private readonly client: MqttClient,
    readonly url: string,
    readonly protocolVersion: 5 | 4,
  ) {
    this.client.on('error', (err) => (this.lastError = err));
    this.lost = new Promise<never>((_, reject) => {
      this.client.on('close', () => {
        if (this.closing) return;
        reject(new ConnectionError(url, `the connection was lost${this.lastError ? `: ${this.lastError.message}` : ''}`));
      });
    });
    this.lost.catch(() => {}); // awaited where it matters; not an unhandled rejection otherwise
  }

  onMessage(listener: (message: InboundMessage) => void): void {
    this.client.on('message', (topic, payload, packet) => {
      const correlationData = packet.properties?.correlationData;
      listener({ topic, payload, retain: packet.retain, correlationData: Buffer.isBuffer(correlationData) ? correlationData : undefined });
    });
  }

  /** Subscribes (QoS 1) and resolves once the broker granted every filter. */
  async subscribe(filters: readonly string[]): Promise<void> {
    try {
      await Promise.race([this.client.subscribeAsync([...filters], { qos: 1 }), this.lost]);
    } catch (e) {
      if (e instanceof ConnectionError) throw e;
      throw new ConnectionError(this.url, `the broker refused the subscription to ${filters.join(', ')}: ${(e as Error).message} (is this user a console user in the ACL?)`);
    }
  }

  /** Publishes (QoS 1) and resolves once the broker acknowledged it. */
  async publish(topic: string, payload: string, extras: PublishExtras = {}): Promise<void> {
    const options: IClientPublishOptions = { qos: 1 };
    if (this.protocolVersion === 5 && (extras.responseTopic || extras.correlationData)) {
      options.properties = {
        ...(extras.responseTopic ? { responseTopic: extras.responseTopic } : {}),
        ...(extras.correlationData ? { correlationData: extras.correlationData } : {}),
      };
    }
    try {
      await Promise.race([this.client.publishAsync(topic, payload, options), this.lost]);
    } catch (e) {
      if (e instanceof ConnectionError) throw e;
      throw new ConnectionError(this.url, `the broker refused the message on ${topic}: ${(e as Error).message} (is this user a console user in the ACL?)`);
    }
  }

  /** Ends the session with a normal DISCONNECT (at most one second's wait). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.race([this.client.endAsync(false), new Promise((resolve) => setTimeout(resolve, 1000).unref())]).catch(() => undefined);
    this.client.end(true);
  }
}
