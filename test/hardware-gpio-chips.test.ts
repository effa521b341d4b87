import t from 'tap';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DcError } from '../daemon/errors.js';
import { createLogger } from '../daemon/log.js';
import { HostFiles } from '../daemon/health/host-files.js';
import { OnoffGpio } from '../daemon/hardware/gpio-onoff.js';
import { findHeaderChip, readGpioChips, readHeaderChip, sysfsGpioNumber, type GpioChip } from '../daemon/hardware/gpio-chips.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'gpio');
const machine = (name: string): HostFiles => new HostFiles(join(fixtures, name));

t.test('Pi 4 on kernel 6.6: the header chip starts at 512', async (t) => {
  const chips = await readGpioChips(machine('pi4-6.6'));
  t.same(chips, [
    { base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
    { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
  ]);
  const header = findHeaderChip(chips);
  t.equal(header.base, 512);
  t.equal(sysfsGpioNumber(header, 17), 529);
  t.equal(sysfsGpioNumber(header, 0), 512);
  t.equal(sysfsGpioNumber(header, 57), 569, 'the last line of 58');
});

t.test('Pi 5 on kernel 6.6: the RP1 at 571, not the brcmstb chips below it', async (t) => {
  const chips = await readGpioChips(machine('pi5-6.6'));
  t.same(
    chips.map((c) => c.base),
    [512, 544, 548, 565, 571],
  );
  t.equal(chips[0]?.label, 'gpio-brcmstb@107d508500', 'labels are read without their newline');
  const header = await readHeaderChip(machine('pi5-6.6'));
  t.same(header, { base: 571, label: 'pinctrl-rp1', ngpio: 54 });
  t.equal(sysfsGpioNumber(header, 17), 588);
  t.equal(sysfsGpioNumber(header, 27), 598);
});

t.test('Pi 4 on kernel 5.15: the header chip at base 0, sysfs number = BCM number', async (t) => {
  const header = await readHeaderChip(machine('pi4-5.15'));
  t.same(header, { base: 0, label: 'pinctrl-bcm2711', ngpio: 58 });
  t.equal(sysfsGpioNumber(header, 17), 17);
});

t.test('Pi 0–3 (pinctrl-bcm2835) and a Pi 5 on its first kernel (RP1 at 399) are found by label', async (t) => {
  const pi3: GpioChip[] = [
    { base: 566, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    { base: 512, label: 'pinctrl-bcm2835', ngpio: 54 },
  ];
  t.equal(findHeaderChip(pi3).base, 512);
  const pi5First: GpioChip[] = [
    { base: 453, label: 'gpio-brcmstb@107d517c00', ngpio: 17 },
    { base: 399, label: 'pinctrl-rp1', ngpio: 54 },
  ];
  t.equal(sysfsGpioNumber(findHeaderChip(pi5First), 4), 403);
});

t.test('no header chip: a coded error that names what was found', async (t) => {
  const noSysfs = new HostFiles(join(fixtures, 'no-such-machine'));
  t.same(await readGpioChips(noSysfs), [], 'no /sys/class/gpio: no chips');
  const err = await readHeaderChip(noSysfs).catch((e: unknown) => e);
  t.ok(err instanceof DcError);
  t.match(err, { code: 'DC_GPIO_NO_CHIP', details: { found: [] } });

  const onlyExpander = () => findHeaderChip([{ base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 }]);
  t.throws(onlyExpander, { code: 'DC_GPIO_NO_CHIP', details: { found: ['raspberrypi-exp-gpio'] } });
});

t.test('a pin outside the chip is refused with a coded error', async (t) => {
  const header = await readHeaderChip(machine('pi5-6.6'));
  for (const pin of [54, -1, 2.5, Number.NaN]) {
    t.throws(() => sysfsGpioNumber(header, pin), { code: 'DC_GPIO_BAD_PIN', details: { chip: 'pinctrl-rp1', ngpio: 54 } }, `pin ${pin}`);
  }
  t.equal(sysfsGpioNumber(header, 53), 624, 'the last line is fine');
});

t.test('the onoff backend finds the header chip first and refuses a bad pin before touching sysfs', async (t) => {
  const gpio = await OnoffGpio.open(createLogger('silent'), machine('pi5-6.6'));
  t.throws(() => gpio.openInput(54, { activeLow: true }), { code: 'DC_GPIO_BAD_PIN', details: { chip: 'pinctrl-rp1', pin: 54 } });
  t.throws(() => gpio.openOutput(-1), { code: 'DC_GPIO_BAD_PIN' });
  await t.rejects(OnoffGpio.open(createLogger('silent'), new HostFiles(join(fixtures, 'no-such-machine'))), { code: 'DC_GPIO_NO_CHIP' });
});
