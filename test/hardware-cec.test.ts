import t, { type Test } from 'tap';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DcError } from '../daemon/errors.js';
import { createLogger } from '../daemon/log.js';
import { openTvControl, type TvControl, type TvKey } from '../daemon/hardware/cec.js';
import { CEC_CLIENT_COMMANDS, CecClientTv, cecClientArgs, clientKeyOf, clientPowerStatusOf } from '../daemon/hardware/cec-client.js';
import { CecCtlKeyReader, CecCtlTv, cecCtlArgs, physicalAddressOf, powerStatusOf, transmitProblem } from '../daemon/hardware/cec-ctl.js';
import { SimulatedTv } from '../daemon/hardware/cec-sim.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'cec');
const log = createLogger('silent');

const fixture = (name: string) => readFile(join(fixtures, name), 'utf8');

interface CommandDoc {
  argv: string[];
  source: string;
}

/** A directory of stand-in programs, removed when the test ends. */
async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-cec-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An executable shell script standing in for a CEC tool. */
async function standIn(dir: string, name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** The first `count` keys the TV reports, or a rejection naming what came within the deadline. */
function collectKeys(tv: TvControl, count: number, timeoutMs = 5000): Promise<TvKey[]> {
  return new Promise((resolve, reject) => {
    const keys: TvKey[] = [];
    const timer = setTimeout(() => {
      off();
      reject(new Error(`got ${keys.length} of ${count} keys within ${timeoutMs} ms: ${keys.join(', ')}`));
    }, timeoutMs);
    const off = tv.on('key', (key) => {
      keys.push(key);
      if (keys.length < count) return;
      clearTimeout(timer);
      off();
      resolve(keys);
    });
  });
}

/** The DcError a promise rejects with; fails the test when it resolves or rejects with something else. */
async function dcErrorOf(t: Test, work: Promise<unknown>): Promise<DcError> {
  try {
    await work;
  } catch (e) {
    t.ok(e instanceof DcError, 'rejects with a DcError');
    return e as DcError;
  }
  throw new Error('expected a rejection');
}

const MONITOR_KEYS: TvKey[] = ['volume-up', 'volume-up', 'volume-down', 'mute', 'select', 'back'];
const CLIENT_MONITOR_KEYS: TvKey[] = ['volume-up', 'volume-down', 'mute', 'select'];

t.test('cec-ctl command lines are the documented ones', async (t) => {
  const doc = JSON.parse(await fixture('cec-ctl-commands.json')) as {
    device: string;
    osdName: string;
    physicalAddress: string;
    actions: Record<string, CommandDoc>;
  };
  const args = cecCtlArgs(doc.device);
  const built: Record<string, string[]> = {
    register: args.register(doc.osdName),
    driverInfo: args.driverInfo(),
    wake: args.wake(doc.physicalAddress),
    wakeWithoutAddress: args.wake(null),
    standby: args.standby(),
    powerStatus: args.powerStatus(),
    monitor: args.listen('monitor'),
    follower: args.listen('follower'),
  };
  t.strictSame(Object.keys(built).sort(), Object.keys(doc.actions).sort(), 'every documented action is built, and no other');
  for (const [action, argv] of Object.entries(built)) {
    t.strictSame(argv, doc.actions[action]!.argv, action);
    t.match(doc.actions[action]!.source, /l\.\d+/, `${action} names the line it was checked against`);
  }
});

t.test('cec-client command lines and stdin commands are the documented ones', async (t) => {
  const doc = JSON.parse(await fixture('cec-client-commands.json')) as {
    osdName: string;
    command: CommandDoc;
    listen: CommandDoc;
    stdin: Record<string, { line: string; source: string }>;
  };
  const args = cecClientArgs(doc.osdName);
  t.strictSame(args.command(), doc.command.argv);
  t.strictSame(args.listen(), doc.listen.argv);
  t.strictSame(cecClientArgs(doc.osdName, 'RPI').command(), [...doc.command.argv, 'RPI'], 'the adapter is the last argument');
  const lines = Object.fromEntries(Object.entries(doc.stdin).map(([action, { line }]) => [action, line]));
  t.strictSame(CEC_CLIENT_COMMANDS, lines);
});

t.test('the cec-ctl monitor output becomes the remote keys the TV forwarded', async (t) => {
  const reader = new CecCtlKeyReader();
  const keys = (await fixture('cec-ctl-monitor.txt')).split('\n').flatMap((line) => reader.read(line) ?? []);
  t.strictSame(keys, MONITOR_KEYS, 'a held key repeats; 5 is not a key the box uses; releases and other messages are not keys');

  const own = new CecCtlKeyReader();
  t.equal(own.read('Transmitted by Playback Device 1 to TV (4 to 0): USER_CONTROL_PRESSED (0x44):'), undefined);
  t.equal(own.read('\tui-cmd: volume-up (0x41)'), undefined, 'a key the box itself sent is not a key press');
  const unnamed = new CecCtlKeyReader();
  unnamed.read('Received from TV to Playback Device 1 (0 to 4): USER_CONTROL_PRESSED (0x44):');
  t.equal(unnamed.read('\tui-cmd: 160 (0xa0)'), undefined, 'an operand cec-ctl has no name for is ignored');
});

t.test('the cec-client traffic log becomes the remote keys the TV forwarded', async (t) => {
  const keys = (await fixture('cec-client-monitor.txt')).split('\n').flatMap((line) => clientKeyOf(line) ?? []);
  t.strictSame(keys, CLIENT_MONITOR_KEYS);
  t.equal(clientKeyOf('TRAFFIC: [            7011]\t<< 40:44:43'), undefined, 'a frame the box sent is not a key press');
});

t.test('the tools\' answers are read', async (t) => {
  const driverInfo = await fixture('cec-ctl-driver-info.txt');
  t.equal(physicalAddressOf(driverInfo), '1.0.0.0');
  t.equal(physicalAddressOf(driverInfo.replace('1.0.0.0', 'f.f.f.f')), null, 'no address without hotplug');
  t.equal(physicalAddressOf(''), null);

  const standby = await fixture('cec-ctl-power-status-standby.txt');
  t.equal(powerStatusOf(standby), 'standby');
  t.equal(powerStatusOf(standby.replace('standby (0x01)', 'on (0x00)')), 'on');
  t.equal(powerStatusOf(standby.replace('standby (0x01)', 'to-on (0x02)')), 'on', 'warming up counts as on');
  t.equal(powerStatusOf(await fixture('cec-ctl-power-status-no-reply.txt')), 'unknown');
  t.equal(clientPowerStatusOf(await fixture('cec-client-pow.txt')), 'standby');
  t.equal(clientPowerStatusOf('power status: in transition from standby to on\n'), 'on');

  t.equal(transmitProblem({ stdout: await fixture('cec-ctl-wake.txt'), stderr: '' }), null, 'both messages went out');
  t.equal(transmitProblem({ stdout: await fixture('cec-ctl-standby-nack.txt'), stderr: '' }), 'STANDBY (0x36): Tx, Not Acknowledged (4), Max Retries');
  t.equal(transmitProblem({ stdout: '\nTransmit from Playback Device 1 to TV (4 to 0):\nSTANDBY (0x36)\n', stderr: '' }), 'the CEC adapter refused STANDBY (0x36)');
  t.equal(
    transmitProblem({ stdout: '', stderr: '\nAdapter is unconfigured, please configure it first.\n' }),
    'Adapter is unconfigured, please configure it first.',
  );
});

t.test('the simulated TV follows wake and standby and forwards keys only while it shows the box', async (t) => {
  const tv = new SimulatedTv({ boxAddress: '2.0.0.0' });
  const keys: TvKey[] = [];
  const off = tv.on('key', (key) => keys.push(key));
  await tv.start();
  t.equal(await tv.powerStatus(), 'standby');
  t.equal(tv.pressKey('volume-up'), false, 'a TV in standby forwards nothing');

  await tv.wake();
  t.equal(tv.power, 'on');
  t.equal(tv.activeSource, '2.0.0.0', 'the TV shows the box');
  t.equal(await tv.powerStatus(), 'on');
  t.equal(tv.pressKey('volume-up'), true);

  tv.selectInput('3.0.0.0');
  t.equal(tv.pressKey('mute'), false, 'keys go to the input on screen');
  await tv.wake();
  t.equal(tv.activeSource, '2.0.0.0', 'waking takes the screen back');
  t.equal(tv.pressKey('select'), true);

  await tv.standby();
  t.equal(tv.power, 'standby');
  t.equal(tv.activeSource, null);
  off();
  await tv.close();
  t.strictSame(keys, ['volume-up', 'select']);
  t.strictSame(tv.calls, ['start', 'powerStatus', 'wake', 'powerStatus', 'wake', 'standby', 'close']);
});

t.test('without a CEC tool or device, opening reports DC unavailable and does not throw', async (t) => {
  const empty = await scratch(t);
  const none = await openTvControl({ log, searchPath: empty });
  t.equal(none.tv, null);
  t.equal(none.error?.code, 'DC_CEC_UNAVAILABLE');
  t.strictSame(none.error?.details?.packages, ['v4l-utils', 'cec-utils'], 'names the Debian packages to install');
  t.match(none.error?.message, /v4l-utils/);

  const gone = await openTvControl({ log, tool: { name: 'cec-ctl', file: join(empty, 'cec-ctl') } });
  t.equal(gone.error?.code, 'DC_CEC_UNAVAILABLE');
  t.equal(gone.error?.details?.package, 'v4l-utils');

  const cecCtl = await standIn(empty, 'cec-ctl', 'exit 0');
  const noDevice = await openTvControl({ log, tool: { name: 'cec-ctl', file: cecCtl }, device: join(empty, 'cec9') });
  t.equal(noDevice.error?.code, 'DC_CEC_UNAVAILABLE');
  t.equal(noDevice.error?.details?.device, join(empty, 'cec9'));

  const removed = await dcErrorOf(t, new CecCtlTv({ log, file: join(empty, 'gone', 'cec-ctl'), device: '/dev/cec0' }).standby());
  t.equal(removed.code, 'DC_CEC_UNAVAILABLE', 'a tool removed while the daemon runs is unavailable, not a failed command');
});

t.test('the backend is the installed tool, cec-ctl first', async (t) => {
  const both = await scratch(t);
  await standIn(both, 'cec-ctl', 'exit 0');
  await standIn(both, 'cec-client', 'exit 0');
  const device = join(both, 'cec0');
  await writeFile(device, '');
  const preferred = await openTvControl({ log, searchPath: both, device });
  t.ok(preferred.tv instanceof CecCtlTv, 'cec-ctl when both are installed');
  await preferred.tv?.close();

  const clientOnly = await scratch(t);
  await standIn(clientOnly, 'cec-client', 'exit 0');
  const fallback = await openTvControl({ log, searchPath: clientOnly, device });
  t.ok(fallback.tv instanceof CecClientTv, 'cec-client without cec-ctl');
  await fallback.tv?.close();
});

t.test('a failing command rejects with the tool\'s stderr', async (t) => {
  const dir = await scratch(t);
  const failing = await standIn(dir, 'cec-ctl', 'echo "Failed to open /dev/cec0: Permission denied" >&2\nexit 1');
  const tv = new CecCtlTv({ log, file: failing, device: '/dev/cec0' });
  const error = await dcErrorOf(t, tv.standby());
  t.equal(error.code, 'DC_CEC_COMMAND');
  t.match(error.message, 'Failed to open /dev/cec0: Permission denied');
  t.equal(error.details?.stderr, 'Failed to open /dev/cec0: Permission denied\n');
  t.equal(error.details?.exitCode, 1);

  const opened = await openTvControl({ log, tool: { name: 'cec-ctl', file: failing }, device: failing });
  t.equal(opened.tv, null, 'a registration that fails leaves the daemon without CEC');
  t.equal(opened.error?.code, 'DC_CEC_COMMAND');

  const nack = await standIn(dir, 'cec-ctl-nack', `cat '${join(fixtures, 'cec-ctl-standby-nack.txt')}'`);
  const unplugged = new CecCtlTv({ log, file: nack, device: '/dev/cec0' });
  const notHeard = await dcErrorOf(t, unplugged.standby());
  t.equal(notHeard.code, 'DC_CEC_COMMAND', 'a message the TV did not acknowledge fails though cec-ctl exits 0');
  t.match(notHeard.message, 'Not Acknowledged');

  const client = await standIn(dir, 'cec-client', 'echo "autodetect FAILED"\nexit 1');
  const clientError = await dcErrorOf(t, new CecClientTv({ log, file: client }).standby());
  t.equal(clientError.code, 'DC_CEC_COMMAND');
  t.match(clientError.message, 'autodetect FAILED', 'cec-client says why on stdout');

  const noAddress = await standIn(dir, 'cec-client-full', 'echo "ERROR:   [             412]\tfailed to find a free logical address for the client"');
  const libcecError = await dcErrorOf(t, new CecClientTv({ log, file: noAddress }).standby());
  t.equal(libcecError.code, 'DC_CEC_COMMAND', 'a libCEC error fails the command though cec-client exits 0');
  t.match(libcecError.message, 'failed to find a free logical address');
});

t.test('a command that outlives its deadline is killed and rejects', async (t) => {
  const dir = await scratch(t);
  const hanging = await standIn(dir, 'cec-ctl', 'exec sleep 30');
  const tv = new CecCtlTv({ log, file: hanging, device: '/dev/cec0', commandTimeoutMs: 200 });
  const error = await dcErrorOf(t, tv.powerStatus());
  t.equal(error.code, 'DC_CEC_COMMAND');
  t.equal(error.details?.timedOut, true);
  t.match(error.message, 'timed out after 200 ms');
});

t.test('cec-ctl: registers, wakes with the box\'s address, reads power and follows keys', async (t) => {
  const dir = await scratch(t);
  const device = join(dir, 'cec0');
  await writeFile(device, '');
  const calls = join(dir, 'calls');
  const file = await standIn(
    dir,
    'cec-ctl',
    [
      `echo "$*" >> '${calls}'`,
      'case "$*" in',
      `  *--monitor) cat '${join(fixtures, 'cec-ctl-monitor.txt')}'; exec sleep 30 ;;`,
      `  *--image-view-on*) cat '${join(fixtures, 'cec-ctl-wake.txt')}' ;;`,
      `  *--give-device-power-status) cat '${join(fixtures, 'cec-ctl-power-status-standby.txt')}' ;;`,
      `  "--device ${device}") cat '${join(fixtures, 'cec-ctl-driver-info.txt')}' ;;`,
      'esac',
    ].join('\n'),
  );
  const opened = await openTvControl({ log, tool: { name: 'cec-ctl', file }, device });
  const tv = opened.tv!;
  t.ok(tv, 'opened');
  const keys = collectKeys(tv, MONITOR_KEYS.length);
  await tv.wake();
  t.equal(await tv.powerStatus(), 'standby');
  t.strictSame(await keys, MONITOR_KEYS);
  await tv.close();

  const args = cecCtlArgs(device);
  const ran = (await readFile(calls, 'utf8')).trim().split('\n');
  const monitor = args.listen('monitor').join(' ');
  t.ok(ran.includes(monitor), 'the key listener ran');
  t.strictSame(
    ran.filter((line) => line !== monitor),
    [args.register('diemcau'), args.driverInfo(), args.wake('1.0.0.0'), args.powerStatus()].map((argv) => argv.join(' ')),
    'in order, each command once',
  );
});

t.test('cec-client: commands on stdin, keys from the traffic log, a listener restarted when it ends', async (t) => {
  const dir = await scratch(t);
  const calls = join(dir, 'calls');
  const file = await standIn(
    dir,
    'cec-client',
    [
      `if [ "$1" = "-m" ]; then cat '${join(fixtures, 'cec-client-monitor.txt')}'; exit 0; fi`,
      'read -r command',
      `echo "$* <<< $command" >> '${calls}'`,
      `if [ "$command" = "pow 0" ]; then cat '${join(fixtures, 'cec-client-pow.txt')}'; fi`,
    ].join('\n'),
  );
  const tv = new CecClientTv({ log, file, listenerRestartMs: 20 });
  const keys = collectKeys(tv, CLIENT_MONITOR_KEYS.length * 2);
  await tv.start();
  await tv.wake();
  t.equal(await tv.powerStatus(), 'standby');
  await tv.standby();
  t.strictSame(await keys, [...CLIENT_MONITOR_KEYS, ...CLIENT_MONITOR_KEYS], 'the listener ran again after it ended');
  await tv.close();

  const argv = cecClientArgs('diemcau').command().join(' ');
  t.strictSame(
    (await readFile(calls, 'utf8')).trim().split('\n'),
    ['on 0', 'as', 'pow 0', 'standby 0'].map((command) => `${argv} <<< ${command}`),
  );
});
