/**
 * Header pins as the buttons and the status light need them, behind a backend: the real one
 * (gpio-onoff.ts, sysfs) on a box, `SimulatedGpio` in tests and the sim profile.
 */

/** A line's logical level: 1 is active (button pressed, LED lit), whatever the wiring. */
export type PinValue = 0 | 1;

export interface InputPin {
  /** Calls `listener` with the new level on every edge, rising and falling; the returned function stops it. */
  watch(listener: (value: PinValue) => void): () => void;
  read(): PinValue;
  close(): void;
}

export interface OutputPin {
  write(value: PinValue): void;
  close(): void;
}

export interface InputOptions {
  /** The line reads low when active: a button to ground with a pull-up, the usual wiring. */
  activeLow?: boolean;
}

/** Opens header pins by BCM number (GPIO17 is 17 on every Pi, whatever sysfs calls it). */
export interface GpioBackend {
  openInput(pin: number, options?: InputOptions): InputPin;
  openOutput(pin: number): OutputPin;
}

/** Time and timers, passed in so tests step through seconds of presses and blinks at once. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Wall-clock time, ms since 1970 (Date.now()): for schedules by time of day; it may jump (NTP). */
  wallNow(): number;
  /** Calls `callback` once after `ms`; the returned function cancels it. */
  after(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

interface ManualTimer {
  at: number;
  callback: () => void;
}

/**
 * A clock that moves only when a test calls advance(); timers run at their exact due time. Its
 * wall clock starts at `wallStart` (ms since 1970) and moves with advance(); setWall() jumps it.
 */
export class ManualClock implements Clock {
  private current = 0;
  private timers: ManualTimer[] = [];
  /** wallNow() minus now(). */
  private wallOffset: number;

  constructor(wallStart = 0) {
    this.wallOffset = wallStart;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.current + this.wallOffset;
  }

  /** Sets the wall clock, as NTP or a person would; monotonic time and timers are not moved. */
  setWall(ms: number): void {
    this.wallOffset = ms - this.current;
  }

  after(ms: number, callback: () => void): () => void {
    const timer = { at: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time on by `ms`, running each timer due on the way at its own time, earliest first. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      // Strictly earlier only: of timers due at the same time, the one set first runs first.
      for (const t of this.timers) if (t.at <= until && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = next.at;
      next.callback();
    }
    this.current = until;
  }

  /** Timers set and not yet run or cancelled: 0 after a part's stop(). */
  get pending(): number {
    return this.timers.length;
  }
}

/** An input a test drives as a finger would. */
export class SimulatedInput implements InputPin {
  private value: PinValue = 0;
  private readonly listeners = new Set<(value: PinValue) => void>();
  closed = false;

  constructor(
    readonly pin: number,
    readonly activeLow: boolean,
  ) {}

  watch(listener: (value: PinValue) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  read(): PinValue {
    return this.value;
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /** Sets the (logical) level; like the kernel's edge detection, only a change reaches the watchers. */
  set(value: PinValue): void {
    if (value === this.value) return;
    this.value = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  press(): void {
    this.set(1);
  }

  release(): void {
    this.set(0);
  }

  get watchers(): number {
    return this.listeners.size;
  }
}

export interface RecordedWrite {
  value: PinValue;
  /** clock.now() when it was written. */
  at: number;
}

/** An output that keeps every write with its time, for tests to read back a blink pattern. */
export class SimulatedOutput implements OutputPin {
  readonly writes: RecordedWrite[] = [];
  closed = false;

  constructor(
    readonly pin: number,
    private readonly clock: Clock,
  ) {}

  write(value: PinValue): void {
    if (this.closed) throw new Error(`write to GPIO ${this.pin} after close`);
    this.writes.push({ value, at: this.clock.now() });
  }

  /** The level last written (0 before any write). */
  get value(): PinValue {
    return this.writes.at(-1)?.value ?? 0;
  }

  close(): void {
    this.closed = true;
  }
}

/** The backend of tests and the sim profile; `input(pin)` and `output(pin)` hand a test what a part opened. */
export class SimulatedGpio implements GpioBackend {
  private readonly inputs = new Map<number, SimulatedInput>();
  private readonly outputs = new Map<number, SimulatedOutput>();

  constructor(private readonly clock: Clock = systemClock) {}

  openInput(pin: number, { activeLow = false }: InputOptions = {}): SimulatedInput {
    const input = new SimulatedInput(pin, activeLow);
    this.inputs.set(pin, input);
    return input;
  }

  openOutput(pin: number): SimulatedOutput {
    const output = new SimulatedOutput(pin, this.clock);
    this.outputs.set(pin, output);
    return output;
  }

  input(pin: number): SimulatedInput {
    return opened(this.inputs, pin, 'input');
  }

  output(pin: number): SimulatedOutput {
    return opened(this.outputs, pin, 'output');
  }
}

function opened<T>(pins: Map<number, T>, pin: number, kind: string): T {
  const found = pins.get(pin);
  if (!found) throw new Error(`GPIO ${pin} was not opened as an ${kind}`);
  return found;
}
