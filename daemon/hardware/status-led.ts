import { systemClock, type Clock, type OutputPin, type PinValue } from './gpio.js';

/** What the box is doing, as the light on its front tells someone across the hall. */
export type LedState = 'booting' | 'no-network' | 'online' | 'in-meeting' | 'error';

export interface LedStep {
  level: PinValue;
  ms: number;
}

/** Steps played in a loop; a pattern of one step is a steady level. */
export type LedPattern = readonly LedStep[];

const on = (ms: number): LedStep => ({ level: 1, ms });
const off = (ms: number): LedStep => ({ level: 0, ms });

/**
 * One pattern per state, told apart by rhythm alone (the light has one colour):
 * - booting: slow blink, 1 Hz;
 * - no-network: two quick blinks, then a pause (1.5 s cycle);
 * - online: steady on;
 * - in-meeting: steady on, dark for 200 ms every 3 s — still reads as "on", but someone
 *   who looks for a few seconds sees the box is in a call (a short wink, not a blink, so the
 *   light does not distract the room);
 * - error: fast blink, 4 Hz;
 * - identify: very fast blink, 8 Hz, for the seconds asked, then back to the state's pattern.
 */
export const LED_PATTERNS: Readonly<Record<LedState | 'identify', LedPattern>> = {
  booting: [on(500), off(500)],
  'no-network': [on(150), off(150), on(150), off(1_050)],
  online: [on(Infinity)],
  'in-meeting': [on(2_800), off(200)],
  error: [on(125), off(125)],
  identify: [on(63), off(62)],
};

/**
 * Plays the pattern of the box's state on one LED. start() lights it, setState() switches
 * pattern (the same state again changes nothing, so a repeated report does not restart the
 * blink), identify() overlays the 8 Hz blink for a while, stop() clears every timer and
 * leaves the LED off. The pin stays open: whoever opened it closes it.
 */
export class StatusLed {
  private current: LedState = 'booting';
  private running = false;
  private identifyingNow = false;
  private cancelStep: (() => void) | undefined;
  private cancelIdentify: (() => void) | undefined;

  constructor(
    private readonly pin: OutputPin,
    private readonly clock: Clock = systemClock,
  ) {}

  get state(): LedState {
    return this.current;
  }

  get identifying(): boolean {
    return this.identifyingNow;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.showCurrent();
  }

  setState(state: LedState): void {
    if (state === this.current) return;
    this.current = state;
    this.showCurrent();
  }

  /** Blinks at 8 Hz for `seconds` (a new call restarts the count), then shows the state again. */
  identify(seconds: number): void {
    if (!this.running) return;
    this.cancelIdentify?.();
    this.identifyingNow = true;
    this.play(LED_PATTERNS.identify, 0);
    this.cancelIdentify = this.clock.after(seconds * 1000, () => {
      this.cancelIdentify = undefined;
      this.identifyingNow = false;
      this.showCurrent();
    });
  }

  stop(): void {
    this.running = false;
    this.identifyingNow = false;
    this.cancelStep?.();
    this.cancelIdentify?.();
    this.cancelStep = this.cancelIdentify = undefined;
    this.pin.write(0);
  }

  /** The state's pattern, unless stopped or identifying (which shows the state when it ends). */
  private showCurrent(): void {
    if (this.running && !this.identifyingNow) this.play(LED_PATTERNS[this.current], 0);
  }

  private play(pattern: LedPattern, index: number): void {
    this.cancelStep?.();
    this.cancelStep = undefined;
    const step = pattern[index];
    if (!step) return;
    this.pin.write(step.level);
    if (pattern.length > 1) this.cancelStep = this.clock.after(step.ms, () => this.play(pattern, (index + 1) % pattern.length));
  }
}
