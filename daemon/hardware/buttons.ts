import { TypedEmitter } from '../util/typed-emitter.js';
import { systemClock, type Clock, type InputPin, type PinValue } from './gpio.js';

export interface ButtonTimings {
  /** A level must hold this long to count; contact bounce is shorter (default 30 ms). */
  debounceMs: number;
  /** Held this long, a press is long (default 2 s: identify). */
  longMs: number;
  /** Held this long, a press is very long (default 8 s: back to setup mode). */
  veryLongMs: number;
}

export const DEFAULT_BUTTON_TIMINGS: ButtonTimings = { debounceMs: 30, longMs: 2_000, veryLongMs: 8_000 };

export type PressKind = 'short' | 'long' | 'very-long';

export interface Press {
  kind: PressKind;
  /** How long the button had been held: the whole press for `short`, the time so far for the others. */
  durationMs: number;
}

export interface ButtonEvents extends Record<string, unknown[]> {
  press: [Press];
}

/** The kind of a press held `durationMs` (the core of the classification, kept pure). */
export function classifyPress(durationMs: number, timings: ButtonTimings = DEFAULT_BUTTON_TIMINGS): PressKind {
  if (durationMs >= timings.veryLongMs) return 'very-long';
  if (durationMs >= timings.longMs) return 'long';
  return 'short';
}

/**
 * One push button, debounced and classified. `press` is emitted once per threshold a press
 * reaches: `short` at release; `long` the moment the hold reaches longMs, while the finger is
 * still down, so the box answers before the user lets go; `very-long` likewise at veryLongMs
 * (after its `long`: the identify blink tells the user the hold is counting).
 *
 * Debounce waits until the line has been quiet for debounceMs and then takes its level, so a
 * bounce or a spike shorter than that never makes a press. Durations run from the last edge
 * of the press to the last edge of the release. A button already held at start() counts from
 * its next press: a stuck button must not send the box to setup mode at every boot.
 */
export class Button extends TypedEmitter<ButtonEvents> {
  private readonly timings: ButtonTimings;
  private stable: PinValue = 0;
  private latest: PinValue = 0;
  private lastEdgeAt = 0;
  private pressedAt = 0;
  private reached = new Set<PressKind>();
  private unwatch: (() => void) | undefined;
  private cancelSettle: (() => void) | undefined;
  private cancelEscalation: (() => void) | undefined;

  constructor(
    private readonly pin: InputPin,
    timings: Partial<ButtonTimings> = {},
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.timings = { ...DEFAULT_BUTTON_TIMINGS, ...timings };
  }

  start(): void {
    if (this.unwatch) return;
    this.stable = this.latest = this.pin.read();
    // A press under way at start is not one we saw begin: mark it past every threshold.
    if (this.stable === 1) this.reached = new Set(['short', 'long', 'very-long']);
    this.unwatch = this.pin.watch((value) => this.onEdge(value));
  }

  /** Stops watching and clears every timer; the pin stays open (its opener closes it). */
  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.cancelSettle?.();
    this.cancelEscalation?.();
    this.cancelSettle = this.cancelEscalation = undefined;
  }

  /** The debounced state. */
  get pressed(): boolean {
    return this.stable === 1;
  }

  private onEdge(value: PinValue): void {
    this.latest = value;
    this.lastEdgeAt = this.clock.now();
    this.cancelSettle?.();
    this.cancelSettle = this.clock.after(this.timings.debounceMs, () => this.settle());
  }

  private settle(): void {
    this.cancelSettle = undefined;
    if (this.latest === this.stable) {
      // A glitch during a hold may have made an escalation timer stand down: catch up.
      if (this.stable === 1) this.escalate();
      return;
    }
    this.stable = this.latest;
    if (this.stable === 1) this.pressStarted();
    else this.pressEnded(this.lastEdgeAt - this.pressedAt);
  }

  private pressStarted(): void {
    this.pressedAt = this.lastEdgeAt;
    this.reached = new Set();
    this.escalate();
  }

  private pressEnded(durationMs: number): void {
    this.cancelEscalation?.();
    this.cancelEscalation = undefined;
    // A release that began just before a threshold, and settled after it, is judged by its edge.
    this.reach(classifyPress(durationMs, this.timings), durationMs);
  }

  /** Emits the thresholds the hold has reached and waits for the next one. */
  private escalate(): void {
    this.cancelEscalation?.();
    this.cancelEscalation = undefined;
    if (this.latest !== 1) return; // a release is settling: pressEnded() decides
    const heldMs = this.clock.now() - this.pressedAt;
    const kind = classifyPress(heldMs, this.timings);
    if (kind !== 'short') this.reach(kind, heldMs);
    const next = !this.reached.has('long') ? this.timings.longMs : !this.reached.has('very-long') ? this.timings.veryLongMs : undefined;
    if (next !== undefined) this.cancelEscalation = this.clock.after(next - heldMs, () => this.escalate());
  }

  /** Emits `kind`, and `long` before a `very-long`, unless this press already did. */
  private reach(kind: PressKind, durationMs: number): void {
    if (kind === 'very-long') this.reach('long', durationMs);
    if (this.reached.has(kind) || (kind === 'short' && this.reached.size > 0)) return;
    this.reached.add(kind);
    this.emit('press', { kind, durationMs });
  }
}

/** What a button is for on the box. */
export type ButtonRole = 'speak' | 'mute';

export type ButtonAction = 'raise-hand' | 'toggle-mute' | 'identify' | 'setup-mode';

/**
 * The action of a press: long identifies the box, very long returns it to setup mode, both
 * on either button. A short press on `mute` toggles the microphone; on `speak` it raises
 * the hand, or toggles mute once the box holds the floor (it has been given the word).
 */
export function buttonAction(role: ButtonRole, kind: PressKind, holdsFloor: boolean): ButtonAction {
  if (kind === 'long') return 'identify';
  if (kind === 'very-long') return 'setup-mode';
  return role === 'speak' && !holdsFloor ? 'raise-hand' : 'toggle-mute';
}
