import { Gpio, type BinaryValue } from 'onoff';
import { DcError } from '../errors.js';
import { HostFiles } from '../health/host-files.js';
import type { Logger } from '../log.js';
import { readHeaderChip, sysfsGpioNumber, type GpioChip } from './gpio-chips.js';
import type { GpioBackend, InputOptions, InputPin, OutputPin } from './gpio.js';

/**
 * Header pins through the kernel's sysfs GPIO interface, by the `onoff` package. Inputs
 * report both edges and onoff's own debounce stays off: Button debounces, and needs every
 * edge to time a press. Sysfs sets no pull resistors, so a button's pin needs one from
 * config.txt (`gpio=17=ip,pu`) or the board.
 */
export class OnoffGpio implements GpioBackend {
  private constructor(
    private readonly header: GpioChip,
    private readonly log: Logger,
  ) {}

  /**
   * Finds the header's chip first: its sysfs base differs by model and kernel (0, 512, 571).
   * `files` only moves that lookup; onoff itself always uses /sys/class/gpio.
   */
  static async open(log: Logger, files = new HostFiles()): Promise<OnoffGpio> {
    return new OnoffGpio(await readHeaderChip(files), log);
  }

  openInput(pin: number, { activeLow = false }: InputOptions = {}): InputPin {
    const gpio = this.export(pin, (sysfs) => new Gpio(sysfs, 'in', 'both', { activeLow }));
    return {
      watch: (listener) => {
        const onEdge = (err: Error | null | undefined, value: BinaryValue): void => {
          if (err) this.log.warn({ event: 'gpio.edge_failed', pin, err: err.message }, 'reading a GPIO edge failed');
          else listener(value);
        };
        gpio.watch(onEdge);
        return () => gpio.unwatch(onEdge);
      },
      read: () => gpio.readSync(),
      close: () => gpio.unexport(),
    };
  }

  openOutput(pin: number): OutputPin {
    // 'low': the line becomes an output already at 0, with no flash of the LED.
    const gpio = this.export(pin, (sysfs) => new Gpio(sysfs, 'low'));
    return {
      write: (value) => gpio.writeSync(value),
      close: () => gpio.unexport(),
    };
  }

  /** Exports BCM `pin` under its sysfs number; the kernel's refusal becomes a coded error. */
  private export(pin: number, open: (sysfs: number) => Gpio): Gpio {
    const sysfs = sysfsGpioNumber(this.header, pin);
    try {
      return open(sysfs);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new DcError('DC_GPIO_EXPORT', `cannot open GPIO ${pin} (sysfs ${sysfs}): ${message}`, { pin, sysfs }, { cause: e });
    }
  }
}
