import { TypedEmitter } from '../util/typed-emitter.js';

/** Who holds the floor in the meeting: a box id and the name the hall is known by. */
export interface FloorHolder {
  holder: string;
  name: string;
  since: string;
}

/**
 * The floor of the current meeting, as the host gives it (the `floor` command from the host's
 * console). The hall holding it sees "Đang phát biểu" with its own name, and its speak button
 * then mutes and unmutes instead of raising a hand; the others see who speaks. A meeting that
 * ends takes the floor back.
 */
export class Floor extends TypedEmitter<{ change: [FloorHolder | null] }> {
  private holding: FloorHolder | null = null;

  constructor(private readonly selfId: () => string) {
    super();
  }

  get current(): FloorHolder | null {
    return this.holding ? { ...this.holding } : null;
  }

  /** Whether this box holds the floor. */
  heldHere(): boolean {
    return this.holding?.holder === this.selfId();
  }

  give(holder: string, name: string, now = new Date()): FloorHolder {
    this.holding = { holder, name, since: now.toISOString() };
    this.emit('change', this.current);
    return this.current!;
  }

  clear(): void {
    if (!this.holding) return;
    this.holding = null;
    this.emit('change', null);
  }
}
