import type { Config } from '../config/index.js';
import { DcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Part } from '../part.js';
import type { Profile } from '../profile.js';
import type { CallPhase } from '../rtc/call.js';
import { Button } from './buttons.js';
import { openTvControl, type TvControl, type TvKey } from './cec.js';
import { SimulatedTv } from './cec-sim.js';
import { SimulatedGpio, type GpioBackend, type InputPin, type OutputPin } from './gpio.js';
import { RoomControls, type RoomActions } from './room.js';
import { StatusLed, type LedState } from './status-led.js';

export interface HardwareOptions {
  config: Config['hardware'];
  /** 'sim': a simulated TV and GPIO (this machine has neither); 'pi': cec-ctl and onoff. */
  profile: Profile;
  actions: RoomActions;
  holdsFloor: () => boolean;
  log: Logger;
}

/** What `state` says of the hall's hardware. */
export interface HardwareStatus {
  /** How the TV is driven: over CEC, simulated, or not at all (disabled, no tool, no adapter). */
  tv: 'cec' | 'simulated' | 'none';
  /** The status light's state; null without a light. */
  light: LedState | null;
}

/**
 * The hall's hardware as a daemon part: opens the TV control and the GPIO pins at start (each
 * may be missing: the reason is logged and the box carries on), and hands the box's news to
 * RoomControls. News that comes before start is kept and applied then.
 */
export class Hardware implements Part {
  readonly name = 'hardware';
  private room: RoomControls | undefined;
  private tv: TvControl | null = null;
  private tvKind: HardwareStatus['tv'] = 'none';
  private led: StatusLed | null = null;
  private pins: Array<InputPin | OutputPin> = [];
  /** The sim profile's GPIO, whose buttons the `press` command presses. */
  private simGpio: SimulatedGpio | null = null;
  private news: { phase: CallPhase; online: boolean | undefined } = { phase: 'idle', online: undefined };

  constructor(private readonly opts: HardwareOptions) {}

  async start(): Promise<void> {
    const { config, log } = this.opts;
    await this.openTv();
    const gpio = config.gpio.enabled ? await this.openGpio() : null;
    const buttons: Record<string, Button> = {};
    if (gpio) {
      const input = (pin: number) => this.keep(gpio.openInput(pin, { activeLow: config.gpio.buttonsActiveLow }));
      buttons.speak = new Button(input(config.gpio.speakPin));
      buttons.mute = new Button(input(config.gpio.mutePin));
      this.led = new StatusLed(this.keep(gpio.openOutput(config.gpio.ledPin)));
    }
    this.room = new RoomControls({
      tv: this.tv,
      led: this.led,
      buttons,
      actions: this.opts.actions,
      holdsFloor: this.opts.holdsFloor,
      standbyAfterMs: config.cec.standbyAfterMeetingMin * 60_000,
      night: config.cec.night.enabled ? { from: config.cec.night.from, to: config.cec.night.to } : null,
      identifySeconds: config.identifySeconds,
      log,
    });
    this.room.start();
    if (this.news.online !== undefined) this.room.connectivity(this.news.online);
    if (this.news.phase !== 'idle') await this.room.callPhase(this.news.phase);
    log.info({ event: 'hardware.ready', tv: this.tvKind, buttons: Object.keys(buttons), light: this.led !== null }, 'hardware ready');
  }

  async stop(): Promise<void> {
    this.room?.stop();
    this.room = undefined;
    for (const pin of this.pins.splice(0)) pin.close();
    await this.tv?.close().catch(() => undefined);
    this.tv = null;
  }

  async callPhase(phase: CallPhase): Promise<void> {
    this.news.phase = phase;
    await this.room?.callPhase(phase);
  }

  async messageShown(): Promise<void> {
    await this.room?.messageShown();
  }

  connectivity(online: boolean): void {
    this.news.online = online;
    this.room?.connectivity(online);
  }

  /** Blinks the light to identify the box; false when there is no light. */
  identify(seconds: number): boolean {
    if (!this.led) return false;
    this.room?.identify(seconds);
    return true;
  }

  /** The `display` command: the TV on (showing the box) or in standby. */
  async setTv(on: boolean): Promise<'on' | 'standby'> {
    if (!this.tv) {
      throw new DcError('DC_CEC_UNAVAILABLE', 'this box drives no TV: HDMI-CEC is off in the config, or no CEC tool or adapter was found (see the log)', {
        enabled: this.opts.config.cec.enabled,
      });
    }
    if (on) await this.tv.wake();
    else await this.tv.standby();
    this.opts.log.info({ event: on ? 'hardware.tv_wake' : 'hardware.tv_standby', why: 'console' }, `TV ${on ? 'on' : 'in standby'} from the console`);
    return on ? 'on' : 'standby';
  }

  /**
   * Holds a simulated button down for `ms` (the sim profile's stand-in for a finger): the press
   * goes through the same debouncing and timing as on a Pi. Resolves once released.
   */
  async simulatePress(role: 'speak' | 'mute', ms: number): Promise<void> {
    if (!this.simGpio || !this.room) {
      throw new DcError('DC_NOT_AVAILABLE', 'no simulated buttons: this box is not in the sim profile, or its GPIO is off in the config');
    }
    const { speakPin, mutePin } = this.opts.config.gpio;
    const pin = this.simGpio.input(role === 'speak' ? speakPin : mutePin);
    pin.press();
    await new Promise((resolve) => setTimeout(resolve, ms));
    pin.release();
  }

  /** Presses a key of the simulated TV's remote; false when the TV does not pass it on (another input). */
  simulateRemoteKey(key: TvKey): boolean {
    if (!(this.tv instanceof SimulatedTv)) throw new DcError('DC_NOT_AVAILABLE', 'no simulated TV: this box is not in the sim profile, or CEC is off in the config');
    return this.tv.pressKey(key);
  }

  status(): HardwareStatus {
    return { tv: this.tvKind, light: this.led?.state ?? null };
  }

  private keep<P extends InputPin | OutputPin>(pin: P): P {
    this.pins.push(pin);
    return pin;
  }

  private async openTv(): Promise<void> {
    const { config, profile, log } = this.opts;
    if (!config.cec.enabled) return;
    if (profile === 'sim') {
      this.tv = new SimulatedTv();
      await this.tv.start();
      this.tvKind = 'simulated';
    } else {
      const opened = await openTvControl({ device: config.cec.device, osdName: config.cec.osdName, listen: config.cec.listen, log });
      if (opened.error) {
        log.warn({ event: 'hardware.no_cec', err: opened.error.toJSON() }, `no TV control: ${opened.error.message}`);
        return;
      }
      this.tv = opened.tv;
      this.tvKind = 'cec';
    }
  }

  private async openGpio(): Promise<GpioBackend | null> {
    const { profile, log } = this.opts;
    if (profile === 'sim') return (this.simGpio = new SimulatedGpio());
    try {
      // Loaded only here: onoff's native epoll module has no business in the sim profile.
      const { OnoffGpio } = await import('./gpio-onoff.js');
      return await OnoffGpio.open(log);
    } catch (e) {
      log.warn({ event: 'hardware.no_gpio', err: (e as Error).message }, 'no buttons or status light');
      return null;
    }
  }
}
