import t, { type Test } from 'tap';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { DcError } from '../daemon/errors.js';
import {
  CONFIG_VERSION,
  ConfigStore,
  DEFAULT_CONFIG_PATH,
  migrateConfig,
  parseVideoSize,
  resolveConfigPath,
  validateConfig,
  type Config,
  type Migration,
} from '../daemon/config/index.js';
import { writeFileAtomic } from '../daemon/config/atomic-write.js';
import { caught } from './helpers/wait.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'config');
const log = pino({ level: 'silent' });

interface Problem {
  field: string;
  expected: string;
  got: string;
}

/** The error thrown by `fn`, checked to be a DcError with `code`. */
async function rejection(t: Test, fn: () => unknown, code: string): Promise<DcError> {
  try {
    await fn();
  } catch (e) {
    t.type(e, DcError);
    t.equal((e as DcError).code, code, `error code ${code}`);
    return e as DcError;
  }
  t.fail(`expected ${code}, nothing was thrown`);
  throw new Error('unreachable');
}

/** Validates `input`, expecting DC_CONFIG_INVALID; returns the problems by field. */
async function problems(t: Test, input: unknown): Promise<Map<string, Problem>> {
  const error = await rejection(t, () => validateConfig(input), 'DC_CONFIG_INVALID');
  const list = (error.details?.errors ?? []) as Problem[];
  for (const p of list) t.match(error.message, `${p.field}: `, `message names ${p.field}`);
  return new Map(list.map((p) => [p.field, p]));
}

async function tempStore(t: Test, content?: string, explicit = true) {
  const dir = t.testdir();
  const path = join(dir, 'config.json');
  if (content !== undefined) await writeFile(path, content);
  return { dir, path, store: new ConfigStore({ path, explicit, log }) };
}

t.test('defaults fill an empty object into a complete config', async (t) => {
  const config = validateConfig({});
  t.equal(config.version, CONFIG_VERSION);
  t.equal(config.revision, 0);
  t.equal(config.profile, 'auto');
  t.same(config.device, { id: 'diemcau-dev', name: 'Điểm cầu', commune: '', village: '' });
  t.equal(config.fleet.url, '', 'off the fleet until a broker is set');
  t.equal(config.fleet.telemetryIntervalS, 30);
  t.equal(config.log.level, 'info');
  t.same(config.media.video, {
    size: '1280x720',
    fps: 30,
    bitrateKbps: 1500,
    keyframeIntervalS: 2,
    encoders: ['v4l2h264enc', 'x264enc', 'openh264enc', 'vp8enc'],
    camera: '',
  });
  t.equal(config.media.audio.bitrateKbps, 32);
  t.equal(config.media.audio.volume, 100);
  t.equal(config.media.output.sink, 'auto');
  t.same(config.media.rtp, {
    host: '127.0.0.1',
    sendVideoPort: 5000,
    sendAudioPort: 5002,
    receiveVideoPort: 5004,
    receiveAudioPort: 5006,
  });
  t.same(config.media.restart, { initialDelayMs: 1000, maxDelayMs: 30000 });
  // The result is itself valid, and a default array is not shared between results.
  t.same(validateConfig(config), config);
  config.media.video.encoders.pop();
  t.equal(validateConfig({}).media.video.encoders.length, 4);
});

t.test('validation does not touch the caller object', async (t) => {
  const input = { media: { video: { fps: 25 } } };
  const config = validateConfig(input);
  t.equal(config.media.video.fps, 25);
  t.same(input, { media: { video: { fps: 25 } } });
});

t.test('wrong types name the field', async (t) => {
  const byField = await problems(t, {
    profile: 7,
    device: { name: 12 },
    media: { video: { fps: '30' }, audio: { echoCancel: 'yes' }, output: null },
  });
  t.same([...byField.keys()].sort(), [
    'device.name',
    'media.audio.echoCancel',
    'media.output',
    'media.video.fps',
    'profile',
  ]);
  t.equal(byField.get('media.video.fps')?.got, '"30"');
  t.match(byField.get('media.video.fps')?.expected, /integer/);
  t.equal(byField.get('media.output')?.got, 'null');
  await problems(t, [1, 2]).then((m) => t.ok(m.has('(root)'), 'a non-object config is named as the root'));
  await problems(t, { media: { video: { fps: 29.97 } } }).then((m) => t.ok(m.has('media.video.fps')));
});

t.test('unknown keys are rejected at any depth, listing the allowed ones', async (t) => {
  const byField = await problems(t, { colour: 'red', media: { video: { colour: 'blue' }, rtp: { ttl: 3 } } });
  t.same([...byField.keys()].sort(), ['colour', 'media.rtp.ttl', 'media.video.colour']);
  t.match(byField.get('media.video.colour')?.expected, /unknown field.*size, fps/);
  // A key named like an Object.prototype member is data, not a way to change the prototype.
  const hostile = JSON.parse('{"device": {"__proto__": {"id": "x"}}}') as unknown;
  t.ok((await problems(t, hostile)).has('device.__proto__'));
});

t.test('out-of-range numbers name the field and the range', async (t) => {
  const byField = await problems(t, {
    revision: -1,
    media: {
      video: { fps: 61, bitrateKbps: 99 },
      audio: { volume: 151 },
      rtp: { receiveVideoPort: 80 },
      restart: { initialDelayMs: 99 },
    },
  });
  t.same([...byField.keys()].sort(), [
    'media.audio.volume',
    'media.restart.initialDelayMs',
    'media.rtp.receiveVideoPort',
    'media.video.bitrateKbps',
    'media.video.fps',
    'revision',
  ]);
  t.match(byField.get('media.video.fps')?.expected, /5.*60/);
  t.equal(byField.get('media.video.fps')?.got, '61');
  // The edges themselves are allowed.
  t.equal(validateConfig({ media: { video: { fps: 60 } } }).media.video.fps, 60);
  t.equal(validateConfig({ media: { audio: { volume: 0 } } }).media.audio.volume, 0);
});

t.test('bad enum values, patterns, lengths and lists name the field', async (t) => {
  const byField = await problems(t, {
    version: 2,
    log: { level: 'verbose' },
    device: { id: 'Box_1', name: '' },
    media: { video: { size: '1920x1080', encoders: ['x264enc', 'nvh264enc', 'x264enc'] }, output: { sink: 'hdmi' } },
  });
  t.same([...byField.keys()].sort(), [
    'device.id',
    'device.name',
    'log.level',
    'media.output.sink',
    'media.video.encoders',
    'media.video.encoders.1',
    'media.video.size',
    'version',
  ]);
  t.match(byField.get('log.level')?.expected, /"fatal".*"trace"/);
  t.match(byField.get('media.video.size')?.expected, /"1280x720", "960x540", "640x360"/);
  t.equal(byField.get('media.video.encoders.1')?.got, '"nvh264enc"');
  t.ok((await problems(t, { media: { video: { encoders: [] } } })).has('media.video.encoders'));
  t.ok((await problems(t, { device: { id: 'a'.repeat(64) } })).has('device.id'));
  t.equal(validateConfig({ device: { id: 'a'.repeat(63) } }).device.id.length, 63);
});

t.test('a restart ceiling below the initial delay is refused', async (t) => {
  const byField = await problems(t, { media: { restart: { initialDelayMs: 5000, maxDelayMs: 2000 } } });
  t.ok(byField.has('media.restart.maxDelayMs'));
});

t.test('parseVideoSize', async (t) => {
  t.same(parseVideoSize('1280x720'), { width: 1280, height: 720 });
  t.same(parseVideoSize('640x360'), { width: 640, height: 360 });
});

t.test('migration mechanism', async (t) => {
  // A made-up earlier layout: version 0 called the picture size "resolution".
  const renameResolution: Migration = {
    from: 0,
    to: 1,
    migrate(obj) {
      const media = obj.media as { video: Record<string, unknown> };
      media.video.size = media.video.resolution;
      delete media.video.resolution;
      return obj;
    },
  };
  const raw = JSON.parse(await readFile(join(fixtures, 'v0.json'), 'utf8')) as Record<string, unknown>;
  const before = structuredClone(raw);
  const migrated = migrateConfig(raw, [renameResolution]);
  t.same(migrated, { version: 1, media: { video: { size: '640x360', fps: 15 } } });
  t.same(raw, before, 'the parsed file is not modified');
  t.equal(validateConfig(migrated).media.video.size, '640x360');

  t.test('the real list has nothing to do for a version 1 file, nor for one without version', async (t) => {
    const v1 = { version: 1, profile: 'pi' };
    t.equal(migrateConfig(v1), v1);
    const unversioned = { profile: 'pi' };
    t.equal(migrateConfig(unversioned), unversioned);
  });

  t.test('steps chain', async (t) => {
    const steps: Migration[] = [
      { from: 2, to: 3, migrate: (o) => ({ ...o, c: true }) },
      { from: 1, to: 2, migrate: (o) => ({ ...o, b: true }) },
    ];
    t.same(migrateConfig({ a: true }, steps, 3), { a: true, b: true, c: true, version: 3 });
  });

  t.test('a newer version is refused, naming both versions', async (t) => {
    const e = await rejection(t, () => migrateConfig({ version: CONFIG_VERSION + 1 }), 'DC_CONFIG_MIGRATION');
    t.match(e.message, String(CONFIG_VERSION + 1));
    t.match(e.message, String(CONFIG_VERSION));
  });

  t.test('a version without a path is refused', async (t) => {
    const e = await rejection(t, () => migrateConfig({ version: 0 }), 'DC_CONFIG_MIGRATION');
    t.match(e.message, /version 0/);
    await rejection(t, () => migrateConfig({ version: -1 }, [renameResolution]), 'DC_CONFIG_MIGRATION');
  });

  t.test('a failing migration is a migration error', async (t) => {
    const broken: Migration = { from: 0, to: 1, migrate: () => { throw new Error('boom'); } };
    const e = await rejection(t, () => migrateConfig({ version: 0 }, [broken]), 'DC_CONFIG_MIGRATION');
    t.match(e.message, /boom/);
  });

  t.test('a non-integer version is left for validation to report', async (t) => {
    const byField = await problems(t, migrateConfig({ version: '1' }));
    t.ok(byField.has('version'));
  });
});

t.test('store: loading', async (t) => {
  t.test('a valid file', async (t) => {
    const { path, store } = await tempStore(t);
    await copyFile(join(fixtures, 'valid.json'), path);
    const config = await store.load();
    t.equal(config.revision, 7);
    t.equal(config.device.id, 'xa-tan-lap');
    t.same(config.media.video.encoders, ['v4l2h264enc', 'openh264enc']);
    t.equal(config.media.video.bitrateKbps, 1500, 'defaults fill what the file leaves out');
    t.equal(store.current, config);
    t.throws(() => {
      (store.current.media.video as { fps: number }).fps = 1;
    }, 'the current config cannot be changed behind the store');
  });

  t.test('invalid JSON is DC_CONFIG_PARSE naming the file and line', async (t) => {
    const { path, store } = await tempStore(t);
    await copyFile(join(fixtures, 'broken.json'), path);
    const e = await rejection(t, () => store.load(), 'DC_CONFIG_PARSE');
    t.match(e.message, path);
    t.equal(e.details?.line, 3);
    t.throws(() => store.current, 'nothing was loaded');
  });

  t.test('an empty file is DC_CONFIG_PARSE', async (t) => {
    const { store } = await tempStore(t, '');
    await rejection(t, () => store.load(), 'DC_CONFIG_PARSE');
  });

  t.test('a valid JSON file with a bad value is DC_CONFIG_INVALID', async (t) => {
    const { store } = await tempStore(t, '{"media": {"video": {"fps": 0}}}');
    const e = await rejection(t, () => store.load(), 'DC_CONFIG_INVALID');
    t.match(e.message, 'media.video.fps');
  });

  t.test('a file from newer firmware is DC_CONFIG_MIGRATION', async (t) => {
    const { store } = await tempStore(t, JSON.stringify({ version: 99 }));
    await rejection(t, () => store.load(), 'DC_CONFIG_MIGRATION');
  });

  t.test('a byte order mark is tolerated', async (t) => {
    const { store } = await tempStore(t, '\uFEFF{"profile": "sim"}');
    t.equal((await store.load()).profile, 'sim');
  });

  t.test('a missing explicit file is DC_CONFIG_NOT_FOUND naming the path', async (t) => {
    const { path, store } = await tempStore(t);
    const e = await rejection(t, () => store.load(), 'DC_CONFIG_NOT_FOUND');
    t.match(e.message, path);
  });

  t.test('a missing default file is a first boot: defaults, nothing written', async (t) => {
    const { dir, store } = await tempStore(t, undefined, false);
    const config = await store.load();
    t.same(config, validateConfig({}));
    t.same(await readdir(dir), []);
  });

  t.test('an unreadable path is DC_CONFIG_IO', async (t) => {
    const { path, store } = await tempStore(t);
    await mkdir(path); // a directory where the file should be
    await rejection(t, () => store.load(), 'DC_CONFIG_IO');
  });
});

t.test('store: updates', async (t) => {
  t.test('a good update saves, bumps the revision and notifies', async (t) => {
    const { dir, path, store } = await tempStore(t, undefined, false);
    const first = await store.load();
    const seen: Array<[Config, Config]> = [];
    const unsubscribe = store.onChange((next, previous) => seen.push([next, previous]));

    const next = await store.update({ media: { video: { fps: 15, encoders: ['x264enc'] } } });
    t.equal(next.revision, first.revision + 1);
    t.equal(next.media.video.fps, 15);
    t.same(next.media.video.encoders, ['x264enc'], 'arrays replace, not merge');
    t.equal(next.media.video.size, first.media.video.size, 'untouched fields are kept');
    t.equal(store.current, next);
    t.same(JSON.parse(await readFile(path, 'utf8')), next, 'the file holds the new config');
    t.equal(seen.length, 1);
    t.equal(seen[0]?.[0], next);
    t.equal(seen[0]?.[1], first);

    // Saved atomically: only the file is left, readable by its owner only.
    t.same(await readdir(dir), ['config.json']);
    t.equal((await stat(path)).mode & 0o777, 0o600);

    const again = await store.update({ profile: 'sim' });
    t.equal(again.revision, first.revision + 2);
    t.equal(seen.length, 2);

    unsubscribe();
    await store.update({ profile: 'pi' });
    t.equal(seen.length, 2, 'an unsubscribed listener hears nothing');

    // A fresh store reads back exactly what was saved.
    const reread = new ConfigStore({ path, explicit: true, log });
    t.same(await reread.load(), store.current);
  });

  t.test('a patch cannot set the revision, and a no-op patch saves nothing', async (t) => {
    const { path, store } = await tempStore(t, '{"revision": 3}');
    await store.load();
    t.equal((await store.update({ revision: 100, device: { name: 'Xã A' } })).revision, 4);
    const bytes = await readFile(path);
    const unchanged = await store.update({ device: { name: 'Xã A' } });
    t.equal(unchanged.revision, 4);
    t.same(await readFile(path), bytes);
  });

  t.test('a bad patch throws and changes neither memory nor disk', async (t) => {
    const { dir, path, store } = await tempStore(t);
    await copyFile(join(fixtures, 'valid.json'), path);
    const before = await store.load();
    const bytes = await readFile(path);
    const { mtimeMs } = await stat(path);
    let notified = 0;
    store.onChange(() => notified++);

    for (const patch of [
      { media: { video: { fps: 500 } } },
      { media: { video: { colour: 'blue' } } },
      { profile: null },
      { version: 2 },
      'not an object',
    ]) {
      const e = await rejection(t, () => store.update(patch), 'DC_CONFIG_INVALID');
      t.ok(((e.details?.errors ?? []) as Problem[]).length > 0, `problems listed for ${JSON.stringify(patch)}`);
    }
    const e = await rejection(t, () => store.update({ media: { video: { fps: 500 } } }), 'DC_CONFIG_INVALID');
    t.match(e.message, 'media.video.fps');

    t.equal(store.current, before);
    t.same(await readFile(path), bytes);
    t.equal((await stat(path)).mtimeMs, mtimeMs);
    t.same(await readdir(dir), ['config.json']);
    t.equal(notified, 0);
  });

  t.test('a failed save throws DC_CONFIG_IO, keeps memory and leaves no temp file', async (t) => {
    const { dir, path, store } = await tempStore(t, '{}');
    const before = await store.load();
    // Replace the file by a non-empty directory: the rename over it must fail.
    await rm(path);
    await mkdir(join(path, 'blocker'), { recursive: true });
    await rejection(t, () => store.update({ profile: 'pi' }), 'DC_CONFIG_IO');
    t.equal(store.current, before);
    t.same(await readdir(dir), ['config.json']);
  });

  t.test('a throwing listener does not stop the others or the update', async (t) => {
    const { store } = await tempStore(t, '{}');
    await store.load();
    let heard = false;
    store.onChange(() => {
      throw new Error('listener bug');
    });
    store.onChange(() => {
      heard = true;
    });
    t.equal((await store.update({ profile: 'pi' })).profile, 'pi');
    t.ok(heard);
  });

  t.test('concurrent updates are applied one after the other', async (t) => {
    const { path, store } = await tempStore(t, '{}');
    await store.load();
    await Promise.all([store.update({ profile: 'pi' }), store.update({ log: { level: 'debug' } })]);
    t.equal(store.current.revision, 2);
    t.equal(store.current.profile, 'pi');
    t.equal(store.current.log.level, 'debug');
    t.same(JSON.parse(await readFile(path, 'utf8')), store.current);
  });

  t.test('an update naming a stale revision is refused and changes nothing', async (t) => {
    const { path, store } = await tempStore(t, undefined, false);
    const first = await store.load();
    const second = await store.update({ device: { name: 'Thôn Đông' } }, { expectedRevision: first.revision });
    t.equal(second.revision, first.revision + 1, 'the current revision is accepted');
    const onDisk = await readFile(path, 'utf8');
    const error = await caught(() => store.update({ device: { name: 'Thôn Tây' } }, { expectedRevision: first.revision }));
    t.equal((error as DcError).code, 'DC_CONFIG_STALE_REVISION');
    t.match((error as DcError).details, { revision: second.revision, expectedRevision: first.revision });
    t.equal(store.current, second, 'memory unchanged');
    t.equal(await readFile(path, 'utf8'), onDisk, 'disk unchanged');
  });

  t.test('an in-memory store (no path) keeps updates across reload', async (t) => {
    const store = new ConfigStore({ path: undefined, explicit: false, log });
    await store.load();
    await store.update({ profile: 'sim' });
    t.equal((await store.reload()).profile, 'sim');
  });
});

t.test('store: reload', async (t) => {
  t.test('picks up a good edit and notifies', async (t) => {
    const { path, store } = await tempStore(t, '{"profile": "pi"}');
    await store.load();
    let notified = 0;
    store.onChange((next, previous) => {
      notified++;
      t.equal(previous.profile, 'pi');
      t.equal(next.profile, 'sim');
    });
    await writeFile(path, '{"profile": "sim"}');
    t.equal((await store.reload()).profile, 'sim');
    t.equal(notified, 1);
  });

  t.test('a file made bad keeps the old config', async (t) => {
    const { path, store } = await tempStore(t, '{"profile": "pi"}');
    const before = await store.load();
    let notified = 0;
    store.onChange(() => notified++);

    await writeFile(path, '{"profile": ');
    await rejection(t, () => store.reload(), 'DC_CONFIG_PARSE');
    t.equal(store.current, before);

    await writeFile(path, '{"profile": "mars"}');
    const e = await rejection(t, () => store.reload(), 'DC_CONFIG_INVALID');
    t.match(e.message, 'profile');
    t.equal(store.current, before);

    await rm(path);
    await rejection(t, () => store.reload(), 'DC_CONFIG_NOT_FOUND');
    t.equal(store.current, before);
    t.equal(notified, 0);
  });
});

t.test('atomic write', async (t) => {
  const dir = t.testdir({ 'config.json': 'old' });
  const path = join(dir, 'config.json');
  await writeFileAtomic(path, 'new');
  t.equal(await readFile(path, 'utf8'), 'new');
  t.equal((await stat(path)).mode & 0o777, 0o600);
  t.same(await readdir(dir), ['config.json']);

  // A target that cannot be replaced: the error surfaces and the temp file is gone.
  await mkdir(join(dir, 'busy', 'inside'), { recursive: true });
  await t.rejects(writeFileAtomic(join(dir, 'busy'), 'x'));
  t.same((await readdir(dir)).sort(), ['busy', 'config.json']);
});

t.test('resolveConfigPath', async (t) => {
  const env = { DIEMCAU_CONFIG: '/etc/diemcau/from-env.json' };
  t.same(resolveConfigPath(['--config', '/a.json'], env), { path: '/a.json', explicit: true });
  t.same(resolveConfigPath(['--config=/b.json'], env), { path: '/b.json', explicit: true });
  t.same(resolveConfigPath(['--verbose', '--config=/b.json', '--config', '/c.json'], env), {
    path: '/c.json',
    explicit: true,
  }, 'the last --config wins');
  t.same(resolveConfigPath(['--verbose'], env), { path: '/etc/diemcau/from-env.json', explicit: true });
  t.same(resolveConfigPath([], {}), { path: DEFAULT_CONFIG_PATH, explicit: false });
  t.same(resolveConfigPath([], { DIEMCAU_CONFIG: '' }), { path: DEFAULT_CONFIG_PATH, explicit: false });
  t.same(resolveConfigPath(['--', '--config=/x.json'], {}), { path: DEFAULT_CONFIG_PATH, explicit: false });
  t.same(resolveConfigPath(['--config', 'rel/c.json'], {}), { path: resolve('rel/c.json'), explicit: true });
  await rejection(t, () => resolveConfigPath(['--config'], env), 'DC_USAGE');
  await rejection(t, () => resolveConfigPath(['--config='], env), 'DC_USAGE');
});
