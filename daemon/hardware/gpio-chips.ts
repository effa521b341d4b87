import { DcError } from '../errors.js';
import type { HostFiles } from '../health/host-files.js';

/** One GPIO controller as /sys/class/gpio/gpiochip<base>/ describes it. */
export interface GpioChip {
  /** The sysfs number of its line 0. */
  base: number;
  label: string;
  ngpio: number;
}

/**
 * Labels of the controllers wired to the 40-pin header: the SoC's own on a Pi 4
 * (`pinctrl-bcm2711`) and on a Pi 0–3 (`pinctrl-bcm2835`), the RP1 south bridge on a Pi 5.
 * Going by label, not base: kernel 6.6 moved the header from base 0 to 512 (Pi 4) and the
 * Pi 5 has four other chips (`gpio-brcmstb@…`) below its RP1 at 571.
 */
export const HEADER_CHIP_LABELS = ['pinctrl-bcm2711', 'pinctrl-bcm2835', 'pinctrl-rp1'] as const;

const GPIO_CLASS = '/sys/class/gpio';

/** Every chip sysfs lists; [] where the kernel has no sysfs GPIO (CONFIG_GPIO_SYSFS off). */
export async function readGpioChips(files: HostFiles): Promise<GpioChip[]> {
  const names = (await files.list(GPIO_CLASS)).filter((name) => /^gpiochip\d+$/.test(name));
  const chips = await Promise.all(
    names.map(async (name) => {
      const read = (attribute: string) => files.read(`${GPIO_CLASS}/${name}/${attribute}`);
      const [base, label, ngpio] = await Promise.all([read('base'), read('label'), read('ngpio')]);
      return { base: Number(base), label: label.trim(), ngpio: Number(ngpio) };
    }),
  );
  return chips.sort((a, b) => a.base - b.base);
}

/** The chip that drives the 40-pin header; throws DC_GPIO_NO_CHIP when none is there. */
export function findHeaderChip(chips: readonly GpioChip[]): GpioChip {
  for (const label of HEADER_CHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip) return chip;
  }
  throw new DcError('DC_GPIO_NO_CHIP', 'no GPIO chip of the 40-pin header in /sys/class/gpio', {
    expected: HEADER_CHIP_LABELS,
    found: chips.map((c) => c.label),
  });
}

/** The sysfs number of BCM pin `bcmPin` (base + pin); throws DC_GPIO_BAD_PIN if the chip has no such line. */
export function sysfsGpioNumber(chip: GpioChip, bcmPin: number): number {
  if (!Number.isInteger(bcmPin) || bcmPin < 0 || bcmPin >= chip.ngpio) {
    throw new DcError('DC_GPIO_BAD_PIN', `BCM pin ${bcmPin} is not a line of ${chip.label} (0–${chip.ngpio - 1})`, {
      pin: bcmPin,
      chip: chip.label,
      ngpio: chip.ngpio,
    });
  }
  return chip.base + bcmPin;
}

/** The header chip of the machine `files` reads. */
export async function readHeaderChip(files: HostFiles): Promise<GpioChip> {
  return findHeaderChip(await readGpioChips(files));
}
