/**
 * The daemon as systemd runs it: the built diemcaud in its own process, with its media worker.
 * Bad config never starts a half-configured box and never costs a running box its config; a
 * crashed media worker comes back by itself; SIGTERM stops everything cleanly.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON, alive, runNode, simDaemonConfig, type LogRecord } from './helpers/daemon.js';
import { waitUntil } from './helpers/wait.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-daemon-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const workerPid = (r: LogRecord) => r.msg === 'media worker started' && typeof r.pid === 'number';

/** A daemon running on a fresh, valid config file; resolves once its media worker has started. */
async function runningDaemon(t: Test, extraArgs: string[] = []) {
  const dir = await tempDir();
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(await simDaemonConfig()));
  const daemon = runNode(DAEMON, ['--config', path, ...extraArgs]);
  t.teardown(() => daemon.stop());
  await daemon.waitForLog('the daemon runs', (r) => r.msg === 'running');
  const worker = (await daemon.waitForLog('worker started', workerPid)).pid as number;
  return { daemon, path, worker };
}

t.test('bad config files stop the daemon at start with an error naming the field', async (t) => {
  const dir = await tempDir();
  const cases: Array<{ name: string; content: string | null; expect: RegExp }> = [
    { name: 'wrong type', content: JSON.stringify({ media: { video: { fps: 'thirty' } } }), expect: /media\.video\.fps/ },
    { name: 'unknown key', content: JSON.stringify({ media: { audio: { loudness: 3 } } }), expect: /media\.audio\.loudness: unknown field/ },
    { name: 'out of range', content: JSON.stringify({ media: { audio: { volume: 400 } } }), expect: /media\.audio\.volume: .*0 to 150.*got 400/ },
    { name: 'bad enum', content: JSON.stringify({ profile: 'laptop' }), expect: /profile: .*sim.*pi.*auto/ },
    { name: 'invalid JSON', content: '{"media": {', expect: /JSON/i },
    { name: 'missing file', content: null, expect: /not found|does not exist|no such/i },
  ];
  for (const c of cases) {
    const path = join(dir, `${c.name.replace(/ /g, '-')}.json`);
    if (c.content !== null) await writeFile(path, c.content);
    const daemon = runNode(DAEMON, ['--config', path]);
    const { code } = await daemon.exited;
    t.equal(code, 78, `${c.name}: exits with EX_CONFIG`);
    t.match(daemon.stderr(), c.expect, `${c.name}: stderr names the problem`);
    const fatal = daemon.logs.find((r) => r.level === 60);
    t.ok(fatal, `${c.name}: a fatal log record for the journal`);
  }
});

t.test('a running daemon refuses a bad config on reload, keeps its own, and the file is not touched', async (t) => {
  const { daemon, path, worker: firstWorker } = await runningDaemon(t, ['--stats-every', '1']);

  const bad = '{ "media": { "video": { "fps": 500 } } }';
  await writeFile(path, bad);
  const before = await stat(path);
  daemon.proc.kill('SIGHUP');
  const refused = await daemon.waitForLog('reload refused', (r) => r.msg === 'config reload refused; keeping the running config');
  t.match(JSON.stringify(refused.err), /media\.video\.fps/, 'the refusal names the field');
  t.equal(await readFile(path, 'utf8'), bad, 'the file on disk is unchanged');
  t.equal((await stat(path)).mtimeMs, before.mtimeMs, 'and not rewritten');
  t.ok(alive(daemon.proc.pid!), 'the daemon is still running');
  t.ok(alive(firstWorker), 'the media worker was not restarted');
  t.notOk(daemon.logs.some((r) => r.msg === 'media settings changed; restarting the media worker'), 'media kept its settings');
  // Media is still alive after the refusal: the idle screen (5 fps, no call) keeps drawing.
  await daemon.waitForLog('media still plays', (r) => r.msg === 'media' && typeof r.fps === 'number' && r.fps >= 4);

  // A good file is taken, and media restarts with it.
  const next = await simDaemonConfig();
  (next.media as Record<string, Record<string, unknown>>).audio = { volume: 80 };
  await writeFile(path, JSON.stringify(next));
  daemon.proc.kill('SIGHUP');
  await daemon.waitForLog('reloaded', (r) => r.msg === 'config reloaded');
  await daemon.waitForLog('media restarted', (r) => r.msg === 'media settings changed; restarting the media worker');
  await waitUntil('a new worker runs', () => daemon.logs.filter(workerPid).length >= 2, { timeoutMs: 20_000 });
  t.not(daemon.logs.filter(workerPid)[1]!.pid, firstWorker, 'a new worker process');
  await waitUntil('the old worker is gone', () => !alive(firstWorker), { timeoutMs: 5000 });
});

t.test('a media worker that crashes is restarted and the daemon stays up', async (t) => {
  const { daemon, worker: first } = await runningDaemon(t, ['--stats-every', '1']);

  process.kill(first, 'SIGKILL'); // what a native crash inside GStreamer looks like from outside
  await daemon.waitForLog('the crash is noticed', (r) => r.msg === 'media worker exited; restarting' && r.signal === 'SIGKILL');
  await waitUntil('a second worker starts', () => daemon.logs.filter(workerPid).length >= 2, { timeoutMs: 20_000 });
  const second = daemon.logs.filter(workerPid)[1]!.pid as number;
  t.not(second, first, 'a new worker process');
  const crashAt = daemon.logs.findIndex((r) => r.msg === 'media worker exited; restarting');
  await waitUntil(
    'the new worker plays media',
    () => daemon.logs.slice(crashAt).some((r) => r.msg === 'media' && typeof r.fps === 'number' && r.fps >= 4),
    { timeoutMs: 30_000 },
  );
  t.ok(alive(daemon.proc.pid!), 'the daemon never went down');
});

t.test('SIGTERM stops the daemon and its worker cleanly within 5 seconds', async (t) => {
  const { daemon, worker } = await runningDaemon(t);
  const started = performance.now();
  daemon.proc.kill('SIGTERM');
  const { code, signal } = await daemon.exited;
  const tookMs = performance.now() - started;
  t.equal(code, 0, 'exit code 0');
  t.equal(signal, null);
  t.ok(tookMs < 5000, `stopped in ${Math.round(tookMs)} ms`);
  t.ok(daemon.logs.some((r) => r.msg === 'stopped'), 'said it stopped');
  await waitUntil('the worker is gone', () => !alive(worker), { timeoutMs: 3000 });
});

t.test('bad command-line arguments are refused with usage', async (t) => {
  const daemon = runNode(DAEMON, ['--profile', 'laptop']);
  const { code } = await daemon.exited;
  t.equal(code, 2);
  t.match(daemon.stderr(), /--profile must be one of sim, pi, auto/);
});
