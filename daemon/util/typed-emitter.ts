import { EventEmitter } from 'node:events';

/** A Node EventEmitter whose event names and listener arguments are checked by the compiler. */
export class TypedEmitter<Events extends Record<string, unknown[]>> {
  private readonly emitter = new EventEmitter();

  on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): () => void {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return () => this.emitter.off(event, listener as (...args: unknown[]) => void);
  }

  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    this.emitter.emit(event, ...args);
  }

  /** Resolves with the first event that satisfies `predicate`, or rejects after `timeoutMs`. */
  waitFor<K extends keyof Events & string>(
    event: K,
    predicate: (...args: Events[K]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
      }, timeoutMs);
      const off = this.on(event, (...args) => {
        if (!predicate(...args)) return;
        clearTimeout(timer);
        off();
        resolve(args);
      });
    });
  }
}
