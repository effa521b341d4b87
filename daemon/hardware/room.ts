import type { Logger } from '../log.js';
import type { CallPhase } from '../rtc/call.js';
import { buttonAction, type Button, type ButtonAction, type ButtonRole, type Press } from './buttons.js';
import type { TvControl, TvKey } from './cec.js';
import { systemClock, type Clock } from './gpio.js';
import { isNight, msUntilNextNightStart, type NightWindow } from './night.js';
import type { LedState, StatusLed } from './status-led.js';

/**
 * What the hall's hardware does as the box's state changes, and what its buttons ask for: the
 * TV woken and switched to the box when a meeting starts or a message arrives, put in standby
 * a while after the meeting and when the night begins; the status light following the box's
 * state; the speak and mute buttons turned into actions. Each piece of hardware is optional
 * (no CEC on this TV, no buttons wired): what is missing is skipped.
 */

/** What the buttons ask the rest of the box to do. */
export interface RoomActions {
  /** The speak button: a raised hand, an event the host sees. */
  raiseHand(): void;
  toggleMute(): void;
  /** The TV remote's volume keys: the speaker's volume up or down by `deltaPercent`. */
  changeVolume(deltaPercent: number): void;
  /** A long press: the box shows who it is (TV notice, light). */
  identify(seconds: number): void;
  /** A very long press: back to setup mode. */
  enterSetupMode(): void;
  /** OK on the TV remote: answers the call that rings; false when none does. */
  answer(): boolean;
}

export interface RoomControlsOptions {
  tv: TvControl | null;
  led: StatusLed | null;
  buttons: Partial<Record<ButtonRole, Button>>;
  actions: RoomActions;
  /** Whether the host has given this hall the floor (the speak button then mutes and unmutes). */
  holdsFloor: () => boolean;
  /** How long after a meeting the TV goes to standby (ms); 0: left on. */
  standbyAfterMs: number;
  /** When the TV goes to standby for the night (the box's local time); null or absent: never. */
  night?: NightWindow | null;
  identifySeconds: number;
  log: Logger;
  clock?: Clock;
}

/** One press of the remote's volume keys moves the volume this much (percent of 0–150). */
const VOLUME_STEP = 10;

/**
 * The night timer never waits longer than this: a timer set from a wrong wall clock (a Pi has
 * no RTC: it boots in the past until NTP answers) is corrected within this time.
 */
const NIGHT_CHECK_MS = 15 * 60_000;

export class RoomControls {
  private readonly clock: Clock;
  private unsubscribes: Array<() => void> = [];
  private cancelStandby: (() => void) | undefined;
  private cancelNightCheck: (() => void) | undefined;
  /** Whether it was night at the last check; undefined before the first (booting at night is no night start). */
  private wasNight: boolean | undefined;
  private phase: CallPhase = 'idle';
  private online: boolean | undefined;
  private failure = false;

  constructor(private readonly opts: RoomControlsOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.opts.led?.start();
    for (const [role, button] of Object.entries(this.opts.buttons) as Array<[ButtonRole, Button]>) {
      const off = button.on('press', (press: Press) => this.onPress(role, press));
      button.start();
      this.unsubscribes.push(() => {
        off();
        button.stop();
      });
    }
    if (this.opts.tv) this.unsubscribes.push(this.opts.tv.on('key', (key) => this.onTvKey(key)));
    this.showState();
    this.checkNight();
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.cancelPendingStandby();
    this.cancelNightCheck?.();
    this.cancelNightCheck = undefined;
    this.wasNight = undefined;
    this.opts.led?.stop();
  }

  /** The call's phase: a meeting starting wakes the TV; one ended sends it to standby later. */
  async callPhase(phase: CallPhase): Promise<void> {
    const before = this.phase;
    this.phase = phase;
    this.showState();
    // A call that rings wakes the TV too: the hall must see who calls to answer it.
    if ((phase === 'connecting' || phase === 'ringing') && before === 'idle') await this.wakeTv('meeting');
    if (phase === 'idle' && before !== 'idle') this.scheduleStandby();
  }

  /**
   * A message from the fleet console is on the screen: the hall must see it, at night too. It
   * sets no standby of its own: the TV stays on until a meeting ends or the next night begins.
   */
  async messageShown(): Promise<void> {
    await this.wakeTv('message');
  }

  /** The broker connection: the light says "no network" while it is down. */
  connectivity(online: boolean): void {
    this.online = online;
    this.showState();
  }

  /** Something needs a person (credentials refused, no camera and no slate): the error pattern. */
  setFailure(failure: boolean): void {
    this.failure = failure;
    this.showState();
  }

  identify(seconds: number): void {
    this.opts.led?.identify(seconds);
  }

  /** The light's state from the box's: error over all, then a meeting, then the network. */
  ledState(): LedState {
    if (this.failure) return 'error';
    if (this.phase !== 'idle') return 'in-meeting';
    if (this.online === undefined) return 'booting';
    return this.online ? 'online' : 'no-network';
  }

  private showState(): void {
    this.opts.led?.setState(this.ledState());
  }

  private onPress(role: ButtonRole, press: Press): void {
    const action: ButtonAction = buttonAction(role, press.kind, this.opts.holdsFloor());
    this.opts.log.info({ event: 'hardware.button', role, kind: press.kind, durationMs: press.durationMs, action }, `${role} button: ${action}`);
    if (action === 'raise-hand') this.opts.actions.raiseHand();
    else if (action === 'toggle-mute') this.opts.actions.toggleMute();
    else if (action === 'identify') {
      this.identify(this.opts.identifySeconds);
      this.opts.actions.identify(this.opts.identifySeconds);
    } else this.opts.actions.enterSetupMode();
  }

  /** The TV's remote, forwarded over CEC while the TV shows the box. */
  private onTvKey(key: TvKey): void {
    this.opts.log.info({ event: 'hardware.tv_key', key }, `TV remote: ${key}`);
    if (key === 'volume-up') this.opts.actions.changeVolume(VOLUME_STEP);
    else if (key === 'volume-down') this.opts.actions.changeVolume(-VOLUME_STEP);
    else if (key === 'mute') this.opts.actions.toggleMute();
    else if (key === 'select') this.opts.actions.answer();
  }

  private async wakeTv(why: 'meeting' | 'message'): Promise<void> {
    this.cancelPendingStandby();
    if (!this.opts.tv) return;
    try {
      await this.opts.tv.wake();
      this.opts.log.info({ event: 'hardware.tv_wake', why }, `TV woken for a ${why}`);
    } catch (e) {
      // The meeting goes on without CEC: the cadre can still turn the TV on by hand.
      this.opts.log.warn({ event: 'hardware.tv_wake_failed', why, err: (e as Error).message }, 'the TV did not wake');
    }
  }

  /**
   * A meeting has ended: standby after `standbyAfterMs`. At night, after the usual delay too
   * (simple, and the hall may still be leaving), but even when the config leaves the TV on
   * after meetings (0): then right away, since the night asks for it off.
   */
  private scheduleStandby(): void {
    this.cancelPendingStandby();
    if (!this.opts.tv) return;
    if (this.opts.standbyAfterMs > 0) {
      this.cancelStandby = this.clock.after(this.opts.standbyAfterMs, () => {
        this.cancelStandby = undefined;
        this.standby('hardware.tv_standby', 'TV in standby after the meeting');
      });
    } else if (this.nightNow()) this.standby('hardware.tv_night_standby', 'TV in standby: a meeting ended at night');
  }

  private cancelPendingStandby(): void {
    this.cancelStandby?.();
    this.cancelStandby = undefined;
  }

  private standby(event: string, message: string): void {
    this.opts.tv?.standby().then(
      () => this.opts.log.info({ event }, message),
      (e: Error) => this.opts.log.warn({ event: 'hardware.tv_standby_failed', err: e.message }, 'the TV did not go to standby'),
    );
  }

  private nightNow(): boolean {
    return this.opts.night ? isNight(new Date(this.clock.wallNow()), this.opts.night) : false;
  }

  /**
   * Acts on the night beginning since the last check, then sets the one night timer: to the
   * next start, recomputed from the wall clock each time so a clock that jumped is followed.
   * The end of the night does nothing: only a meeting or a message wakes the TV.
   */
  private checkNight(): void {
    const schedule = this.opts.night;
    if (!schedule || !this.opts.tv) return;
    const now = new Date(this.clock.wallNow());
    const night = isNight(now, schedule);
    if (night && this.wasNight === false) this.nightBegins();
    this.wasNight = night;
    const wait = msUntilNextNightStart(now, schedule);
    if (wait === null) return; // from == to: no night
    this.cancelNightCheck = this.clock.after(Math.min(wait, NIGHT_CHECK_MS), () => {
      this.cancelNightCheck = undefined;
      this.checkNight();
    });
  }

  /** During a meeting the TV stays on: its end sets the standby (scheduleStandby). */
  private nightBegins(): void {
    if (this.phase !== 'idle') {
      this.opts.log.info({ event: 'hardware.night_during_meeting' }, 'night began during a meeting: the TV goes to standby after it');
      return;
    }
    this.cancelPendingStandby();
    this.standby('hardware.tv_night_standby', 'TV in standby for the night');
  }
}
