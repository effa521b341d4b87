import { TypedEmitter } from '../util/typed-emitter.js';
import type { TvControl, TvControlEvents, TvKey, TvPowerStatus } from './cec.js';

export type SimulatedTvCall = 'start' | 'wake' | 'standby' | 'powerStatus' | 'close';

export interface SimulatedTvOptions {
  /** The TV's state when the simulation begins; default 'standby'. */
  power?: 'on' | 'standby';
  /** The box's HDMI physical address; default '1.0.0.0'. */
  boxAddress?: string;
}

/**
 * A TV for the sim profile and tests: it keeps its power state and which input (physical
 * address) it shows, records what the box asked, and forwards remote keys the way a real TV
 * does, to the box only while it is on and showing the box.
 */
export class SimulatedTv extends TypedEmitter<TvControlEvents> implements TvControl {
  power: 'on' | 'standby';
  /** The physical address of the input on screen; null in standby. */
  activeSource: string | null = null;
  readonly calls: SimulatedTvCall[] = [];
  readonly boxAddress: string;

  constructor(opts: SimulatedTvOptions = {}) {
    super();
    this.power = opts.power ?? 'standby';
    this.boxAddress = opts.boxAddress ?? '1.0.0.0';
  }

  async start(): Promise<void> {
    this.calls.push('start');
  }

  async wake(): Promise<void> {
    this.calls.push('wake');
    this.power = 'on';
    this.activeSource = this.boxAddress;
  }

  async standby(): Promise<void> {
    this.calls.push('standby');
    this.power = 'standby';
    this.activeSource = null;
  }

  async powerStatus(): Promise<TvPowerStatus> {
    this.calls.push('powerStatus');
    return this.power;
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  /** Someone picks another input with the TV's remote. */
  selectInput(physicalAddress: string): void {
    this.power = 'on';
    this.activeSource = physicalAddress;
  }

  /** A key on the TV's remote; true when the TV forwarded it to the box. */
  pressKey(key: TvKey): boolean {
    if (this.power !== 'on' || this.activeSource !== this.boxAddress) return false;
    this.emit('key', key);
    return true;
  }
}
