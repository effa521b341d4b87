import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, parseDuration } from '../console/args.js';
import { BOX_COMMANDS } from '../console/commands.js';
import { UsageError } from '../console/errors.js';
import { displayWidth, table, useColor } from '../console/render.js';
import { CONSOLE_PASSWORD, CONSOLE_USER, connectAsBox, consoleClient, startFleetBroker, startInProcessBox, type InProcessBox } from './helpers/fleet.js';
import { freeTcpPort } from './helpers/mosquitto.js';
import { waitUntil } from './helpers/wait.js';

/** The built console, as an IT officer runs it (npm test builds before running the suite). */
const CONSOLE = fileURLToPath(new URL('../dist/console/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the console to its end with only the given DIEMCAU_FLEET_* variables set. */
function fleet(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DIEMCAU_FLEET_')));
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CONSOLE, ...args], { env: { ...base, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The row of a table that starts with `id`. */
const row = (text: string, id: string) => text.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';

t.before(() => {
  if (!existsSync(CONSOLE)) throw new Error(`${CONSOLE} is missing: build first (node_modules/.bin/tsc -p tsconfig.json)`);
});

t.test('fleet console against a real broker and boxes', async (t) => {
  const ids = ['north-1', 'north-2', 'south-1', 'gone-1', 'ghost-1', 'late-1'];
  const broker = await startFleetBroker(t, ids);
  const env = {
    DIEMCAU_FLEET_URL: broker.url,
    DIEMCAU_FLEET_USER: CONSOLE_USER,
    DIEMCAU_FLEET_PASSWORD: CONSOLE_PASSWORD,
    DIEMCAU_FLEET_CA: broker.caFile,
  };
  const observer = await consoleClient(t, broker);
  const group = (id: string) => ({ fleet: { groups: [id.startsWith('north') ? 'north' : 'south'] } });
  const boxes = new Map<string, InProcessBox>();
  for (const id of ['north-1', 'north-2', 'south-1', 'gone-1']) boxes.set(id, await startInProcessBox(t, broker, id, group(id)));
  const box = (id: string) => boxes.get(id)!;
  // Online, and subscribed to their commands: each answers a ping.
  for (const id of boxes.keys()) await waitUntil(`${id} answers`, async () => box(id).fleet.connection.connected && (await observer.command(id, 'ping')).ok === true);
  await box('gone-1').stop();
  await waitUntil('gone-1 is offline', () => (observer.lastOn('diemcau/gone-1/status')?.json as { online?: boolean })?.online === false);

  t.test('help lists the subcommands and every command a box answers', async (t) => {
    t.same(BOX_COMMANDS.map((c) => c.name).sort(), box('north-1').fleet.commandNames, "the console's list matches the box's commands");
    const help = await fleet(['--help']);
    t.equal(help.code, 0);
    for (const word of ['list', 'watch', 'send', ...BOX_COMMANDS.map((c) => c.name)]) t.match(help.stdout, word);
    t.equal((await fleet(['help'])).stdout, help.stdout, '`help` is the same text');
  });

  t.test('list: every box with name, site and presence, sorted by id', async (t) => {
    const list = await fleet(['list', '--wait', '1s'], env);
    t.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    t.match(lines[0], /^BOX\s+NAME\s+SITE\s+STATUS\s+VERSION\s+CALL\s+LAST SEEN\s+ALERTS$/);
    t.same(
      lines.slice(1, 5).map((l) => l.split(' ')[0]),
      ['gone-1', 'north-1', 'north-2', 'south-1'],
      'one row per box, sorted',
    );
    for (const id of ['north-1', 'north-2', 'south-1']) {
      t.match(row(list.stdout, id), new RegExp(`Nhà văn hoá ${id}\\s+Thôn ${id} · Xã Sơn Thủy\\s+online\\s+test\\s+idle\\s+\\d+ s ago`), `${id} online`);
    }
    t.match(row(list.stdout, 'gone-1'), /offline \(stopped\).*offline/, 'the stopped box is offline, also in its alerts');
    t.match(lines.at(-1), '4 boxes: 3 online, 1 offline');
    t.equal((await fleet(['list', '--wait', '500ms', '--fail-on-offline'], env)).code, 1, '--fail-on-offline: non-zero');

    // The same with flags only, and the password from a file.
    const dir = await mkdtemp(join(tmpdir(), 'diemcau-console-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'password'), `${CONSOLE_PASSWORD}\n`, { mode: 0o600 });
    const flags = ['--url', broker.url, '--user', CONSOLE_USER, '--password-file', join(dir, 'password'), '--ca', broker.caFile];
    const north = await fleet(['list', '--group', 'north', '--wait', '500ms', ...flags]);
    t.equal(north.code, 0, north.stderr);
    t.same(
      north.stdout.trim().split('\n').slice(1, -1).map((l) => l.split(' ')[0]),
      ['north-1', 'north-2'],
      '--group: its members only',
    );
  });

  t.test('list --json: one object per box with the fields', async (t) => {
    const list = await fleet(['list', '--json', '--wait', '500ms'], env);
    t.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    t.same(
      rows.map((r) => r.deviceId),
      ['gone-1', 'north-1', 'north-2', 'south-1'],
    );
    t.match(rows[1], {
      deviceId: 'north-1',
      name: 'Nhà văn hoá north-1',
      village: 'Thôn north-1',
      commune: 'Xã Sơn Thủy',
      groups: ['north'],
      online: true,
      version: 'test',
      call: 'idle',
      since: String,
      lastSeen: String,
      alerts: Array,
    });
    t.notOk((rows[1]!.alerts as string[]).includes('offline'));
    // These boxes run without a media engine: the state has no media section.
    t.ok((rows[1]!.alerts as string[]).includes('media-down'), 'no media engine is an alert');
    t.match(rows[0], { deviceId: 'gone-1', online: false, offlineReason: 'shutdown', since: null });
    t.ok((rows[0]!.alerts as string[]).includes('offline'));
  });

  t.test('send to one box: request/response, coded errors, nested key=value', async (t) => {
    const ping = await fleet(['send', 'north-1', 'ping'], env);
    t.equal(ping.code, 0, ping.stderr);
    t.match(row(ping.stdout, 'north-1'), /^north-1\s+ok\s+pong=true time=\S+ uptimeS=\d+ version=test$/);
    t.match(ping.stdout, '1 of 1 ok');

    const v311 = await fleet(['send', 'north-1', 'ping', '--protocol', '3.1.1', '--json'], env);
    t.equal(v311.code, 0, v311.stderr);
    t.match(JSON.parse(v311.stdout), [{ ok: true, deviceId: 'north-1', command: 'ping', result: { pong: true } }], 'MQTT 3.1.1: reply by request id');

    const invalid = await fleet(['send', 'north-1', 'volume', 'percent=loud'], env);
    t.equal(invalid.code, 1);
    t.match(row(invalid.stdout, 'north-1'), /DC_CMD_INVALID\s+invalid arguments for volume: percent: an integer from 0 to 150, got "loud"/);

    const revision = box('north-1').store.current.revision;
    const set = await fleet(['send', 'north-1', 'config/set', `revision=${revision}`, 'patch.device.name=Thôn Đông', 'patch.media.audio.volume=90'], env);
    t.equal(set.code, 0, set.stdout + set.stderr);
    t.equal(box('north-1').store.current.device.name, 'Thôn Đông', 'nested keys, text kept');
    t.equal(box('north-1').store.current.media.audio.volume, 90, 'numbers parsed');
    const get = await fleet(['send', 'north-1', 'config/get'], env);
    t.equal(get.code, 0, get.stderr);
    t.match(get.stdout, /^north-1\s+ok\s+revision=1 config=\{.*…$/m, 'a cut summary on the line');
    t.match(get.stdout, /^ {6}"name": "Thôn Đông",$/m, 'and the whole result after the table');

    const json = await fleet(['send', 'north-2', 'volume', '{"percent":70}', '--json'], env);
    t.equal(json.code, 0, json.stderr);
    t.match(JSON.parse(json.stdout), [{ ok: true, deviceId: 'north-2', result: { volume: 70 } }], 'JSON arguments');

    const offline = await fleet(['send', 'gone-1', 'ping', '--timeout', '500ms'], env);
    t.equal(offline.code, 1);
    t.match(row(offline.stdout, 'gone-1'), /offline\s+not reached: the box is offline \(stopped/);
    const unknown = await fleet(['send', 'no-such-box', 'ping', '--timeout', '500ms'], env);
    t.equal(unknown.code, 1);
    t.match(row(unknown.stdout, 'no-such-box'), /no reply\s+no reply within 0.5 s; the broker has no status for this box/);
  });

  t.test('send to a group and to all boxes: who answered, who did not', async (t) => {
    const north = await fleet(['send', 'group:north', 'ping', '--timeout', '10s'], env);
    t.equal(north.code, 0, north.stderr);
    t.match(row(north.stdout, 'north-1'), /^north-1\s+ok\s+pong=true/);
    t.match(row(north.stdout, 'north-2'), /^north-2\s+ok\s+pong=true/);
    t.notMatch(north.stdout, 'south-1');
    t.ok(north.ms < 8000, `done once every member answered, not at the timeout (${Math.round(north.ms)} ms)`);

    // A box the broker still lists online but that does not answer (hung, or its link died
    // and the broker has not noticed yet): its retained status says online, nothing answers.
    const ghost = await connectAsBox(t, broker, 'ghost-1');
    await ghost.publishAsync('diemcau/ghost-1/status', JSON.stringify({ online: true, since: new Date().toISOString(), version: 'old' }), { qos: 1, retain: true });
    await ghost.publishAsync('diemcau/ghost-1/state', JSON.stringify({ name: 'Ghost', groups: ['south'] }), { qos: 1, retain: true });
    await ghost.endAsync();

    const all = await fleet(['send', 'all', 'ping', '--timeout', '2s'], env);
    t.equal(all.code, 1, 'not every box answered');
    for (const id of ['north-1', 'north-2', 'south-1']) t.match(row(all.stdout, id), new RegExp(`^${id}\\s+ok`));
    t.match(row(all.stdout, 'gone-1'), /^gone-1\s+offline\s+not reached/);
    t.match(row(all.stdout, 'ghost-1'), /^ghost-1\s+no reply\s+no reply within 2 s/);
    t.match(all.stdout, '3 of 5 ok · no reply: ghost-1 · offline: gone-1');

    const south = await fleet(['send', 'group:south', 'ping', '--timeout', '1s', '--json'], env);
    t.equal(south.code, 1);
    t.match(JSON.parse(south.stdout), [
      { deviceId: 'ghost-1', ok: false, command: 'ping', requestId: String, error: { code: 'DC_NO_REPLY' } },
      { deviceId: 'gone-1', ok: false, error: { code: 'DC_BOX_OFFLINE' } },
      { deviceId: 'south-1', ok: true, result: { pong: true } },
    ]);

    const typo = await fleet(['send', 'group:nort', 'ping', '--timeout', '500ms'], env);
    t.equal(typo.code, 1);
    t.match(typo.stderr, 'no box is known in group "nort" (known groups: north, south)');
  });

  t.test('watch: live telemetry and events as JSON lines, filtered by target', async (t) => {
    // Events are not retained: keep raising them until the console has what it waits for.
    const pump = setInterval(() => {
      box('north-1').fleet.event('camera-plugged', { camera: 'USB Camera' });
      box('south-1').fleet.event('media-restarted', { restarts: 1 });
    }, 200);
    t.teardown(() => clearInterval(pump));

    const all = await fleet(['watch', '--all', '--count', '2', '--json'], env);
    t.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; deviceId: string; message: Record<string, unknown> });
    t.equal(lines.length, 2, 'exactly --count lines');
    for (const line of lines) {
      t.ok(['telemetry', 'event'].includes(line.kind), line.kind);
      t.ok(['north-1', 'north-2', 'south-1'].includes(line.deviceId));
      t.match(line.message, { seq: Number, deviceId: line.deviceId, at: String, runId: String });
    }

    const south = await fleet(['watch', '--group', 'south', '--count', '3', '--json'], env);
    t.equal(south.code, 0, south.stderr);
    t.same(
      [...new Set(south.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { deviceId: string }).deviceId))],
      ['south-1'],
      'only the members of the group',
    );

    const one = await fleet(['watch', 'north-1', '--duration', '1500ms'], env);
    t.equal(one.code, 0, one.stderr);
    t.match(one.stdout, /^\d\d:\d\d:\d\d  north-1  camera-plugged  camera=USB Camera$/m, 'events in one line');
    t.notMatch(one.stdout, 'south-1');
    t.match(one.stderr, `watching north-1 on ${broker.url}`);

    // north-2 raises no events: its first line is its telemetry (every 5 s here).
    const telemetry = await fleet(['watch', 'north-2', '--count', '1'], env);
    t.equal(telemetry.code, 0, telemetry.stderr);
    t.match(
      telemetry.stdout,
      /^\d\d:\d\d:\d\d  north-2  telemetry  cpu (\d+%|–) · (\d+\.\d|–) °C · mem \d+% · disk \d+% · (wired|wifi -?\d+ dBm.*|no wifi) · alerts: \S.*$/m,
      'telemetry in one line',
    );
  });

  t.test('watch: status changes as they happen; Ctrl-C ends it cleanly', async (t) => {
    const proc = spawn(process.execPath, [CONSOLE, 'watch', 'late-1'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    t.teardown(() => void proc.kill('SIGKILL'));
    await waitUntil('the console watches', () => stderr.includes('watching late-1'), {}, () => stderr);
    const late = await startInProcessBox(t, broker, 'late-1');
    await waitUntil('the console saw it come online', () => /late-1  status  online \(version test\)/.test(stdout), {}, () => stdout);
    await late.stop();
    await waitUntil('the console saw it stop', () => /late-1  status  offline \(stopped\)/.test(stdout), {}, () => stdout);
    proc.kill('SIGINT');
    t.equal(await exited, 0, 'Ctrl-C: exit 0');
  });

  t.test('usage errors exit 2, connection failures exit 3 naming the URL and the reason', async (t) => {
    const unknown = await fleet(['frobnicate'], env);
    t.equal(unknown.code, 2);
    t.match(unknown.stderr, 'unknown subcommand "frobnicate"');
    t.equal((await fleet([], env)).code, 2, 'no subcommand');
    const notKeyValue = await fleet(['send', 'north-1', 'volume', 'percent'], env);
    t.equal(notKeyValue.code, 2);
    t.match(notKeyValue.stderr, '"percent" is not key=value');
    t.equal((await fleet(['list', '--count', '2'], env)).code, 2, 'an option of another subcommand');
    t.equal((await fleet(['send', 'group:a/b', 'ping'], env)).code, 2, 'a bad group id');
    t.equal((await fleet(['list'], {})).code, 2, 'no broker URL');

    const wrongPassword = await fleet(['list'], { ...env, DIEMCAU_FLEET_PASSWORD: 'not-the-password' });
    t.equal(wrongPassword.code, 3);
    t.match(wrongPassword.stderr, `cannot use the broker at ${broker.url}: the broker refused the login: `);
    t.match(wrongPassword.stderr, /bad user name or password|not authorized/);

    const port = await freeTcpPort();
    const nobody = await fleet(['list'], { ...env, DIEMCAU_FLEET_URL: `mqtts://127.0.0.1:${port}` });
    t.equal(nobody.code, 3);
    t.match(nobody.stderr, `cannot use the broker at mqtts://127.0.0.1:${port}: connection refused`);

    const noCa = await fleet(['list'], { ...env, DIEMCAU_FLEET_CA: '' });
    t.equal(noCa.code, 3);
    t.match(noCa.stderr, /TLS: .*--ca/, 'an unknown CA is a TLS error that says what to give');
  });
});

t.test('arguments, durations and rendering', async (t) => {
  t.same(parseCommandArgs([]), {});
  t.same(parseCommandArgs(['percent=80', 'force=true', 'mute=false', 'code=007', 'ratio=-1.5e2', 'text=', 'note=a=b']), {
    percent: 80,
    force: true,
    mute: false,
    code: '007',
    ratio: -150,
    text: '',
    note: 'a=b',
  });
  t.same(parseCommandArgs(['patch.device.name=Thôn Đông', 'patch.device.village=Bắc', 'revision=3']), {
    patch: { device: { name: 'Thôn Đông', village: 'Bắc' } },
    revision: 3,
  });
  t.same(parseCommandArgs(['{"patch":{"media":{"video":{"fps":15}}}}']), { patch: { media: { video: { fps: 15 } } } });
  for (const bad of [['a'], ['=1'], ['a=1', 'a=2'], ['a=1', 'a.b=2'], ['a..b=1'], ['__proto__.x=1'], ['[1]'], ['{nope']]) {
    t.throws(() => parseCommandArgs(bad), UsageError, JSON.stringify(bad));
  }
  t.equal(parseDuration('500ms', '--wait'), 500);
  t.equal(parseDuration('2s', '--wait'), 2000);
  t.equal(parseDuration('1.5m', '--wait'), 90_000);
  t.equal(parseDuration('3', '--wait'), 3000, 'a bare number is seconds');
  t.equal(parseDuration('0', '--wait', { allowZero: true }), 0);
  for (const bad of ['0', '-1s', 'soon', '5 days']) t.throws(() => parseDuration(bad, '--timeout'), UsageError, bad);

  t.equal(useColor({ isTTY: true }, {}), true, 'a terminal gets colour');
  t.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false, 'NO_COLOR turns it off');
  t.equal(useColor({ isTTY: false }, {}), false, 'a pipe gets none');
  // Vietnamese typed in decomposed form (base letter + combining marks) still lines up.
  t.equal(displayWidth('Thôn Đông'.normalize('NFD')), 9);
  t.equal(
    table(['A', 'B'], [['Thôn'.normalize('NFD'), 'x'], ['Đ', 'y']], { color: false }).normalize('NFC'),
    'A     B\nThôn  x\nĐ     y',
  );
  t.match(table(['A'], [[{ text: 'ok', colour: 'green' }]], { color: true }), '\u001b[32mok\u001b[0m');
});
