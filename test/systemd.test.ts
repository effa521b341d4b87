/**
 * The systemd unit and the daemon's side of it (issue 8): `systemd-analyze verify` and
 * `security` on the unit; the built daemon under a stand-in notification socket says READY=1,
 * pings the watchdog while it is well, stops pinging while its media worker is stuck (SIGSTOP),
 * resumes when it is back, and says STOPPING=1 on its way out.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { DAEMON, runNode, simDaemonConfig } from './helpers/daemon.js';
import { PROJECT_ROOT } from './helpers/project.js';
import { delay, waitUntil } from './helpers/wait.js';

const run = promisify(execFile);
const UNIT = join(PROJECT_ROOT, 'systemd/diemcau.service');

t.test('the unit: systemd-analyze verify is clean, security rates it 4.0 or better', async (t) => {
  const verify = await run('systemd-analyze', ['verify', UNIT]);
  t.equal(verify.stderr.trim(), '', 'verify: no warnings');
  const security = await run('systemd-analyze', ['security', '--offline=true', UNIT]).catch((e: { stdout: string }) => e);
  const exposure = Number(/Overall exposure level for diemcau\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
  t.ok(exposure <= 4.0, `exposure ${exposure} (4.0 or better)`);
  const unit = await readFile(UNIT, 'utf8');
  for (const line of ['Type=notify', 'WatchdogSec=30', 'Restart=on-failure', 'User=diemcau', 'SupplementaryGroups=video render audio gpio', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'StateDirectory=diemcau']) {
    t.ok(unit.split('\n').includes(line), line);
  }
});

t.test('READY=1 once up, WATCHDOG=1 only while the media worker answers, STOPPING=1 at the end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-notify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'notify.sock');
  const listener = spawn('/usr/bin/python3', [join(PROJECT_ROOT, 'test/peers/notify-socket.py'), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void listener.kill());
  const messages: Array<{ at: number; message: string }> = [];
  let listening = false;
  createInterface({ input: listener.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as { at?: number; message?: string; listening?: string };
    if (m.listening) listening = true;
    if (m.message !== undefined) messages.push({ at: m.at!, message: m.message });
  });
  await waitUntil('the socket listens', () => listening, { timeoutMs: 5000 });
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify(await simDaemonConfig()));
  // A 2 s watchdog: a ping a second while well.
  const daemon = runNode(DAEMON, ['--config', config, '--screen', 'fake'], { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '2000000' });
  t.teardown(() => daemon.stop());
  const pings = (since = 0) => messages.filter((m) => m.message === 'WATCHDOG=1' && m.at >= since).length;

  await waitUntil('READY=1', () => messages.some((m) => m.message.startsWith('READY=1')), { timeoutMs: 60_000 });
  t.match(messages.find((m) => m.message.startsWith('READY=1'))?.message, /STATUS=running as /, 'with a status line');
  await waitUntil('watchdog pings', () => pings() >= 3, { timeoutMs: 10_000 });
  t.ok(pings() >= 3, `${pings()} pings while well`);

  // The media worker stuck: it answers nothing, the screen makes no frames.
  const worker = daemon.logs.find((r) => r.msg === 'media worker state' && (r.worker as { state?: string })?.state === 'running')?.worker as { pid: number };
  t.ok(worker?.pid > 0, `media worker pid ${worker?.pid}`);
  process.kill(worker.pid, 'SIGSTOP');
  let resumed = false;
  t.teardown(() => {
    if (!resumed) process.kill(worker.pid, 'SIGCONT');
  });
  await daemon.waitForLog('the ping withheld', (r) => r.event === 'systemd.watchdog_withheld', 10_000);
  const quietFrom = Date.now();
  await delay(3000);
  t.equal(pings(quietFrom), 0, 'no WATCHDOG=1 for 3 s while the media worker is stuck (systemd would restart the box)');
  process.kill(worker.pid, 'SIGCONT');
  resumed = true;
  const back = Date.now();
  await waitUntil('pings resume', () => pings(back) >= 1, { timeoutMs: 15_000 });
  t.ok(pings(back) >= 1, 'pings resume once it answers again');

  await daemon.stop();
  await waitUntil('STOPPING=1', () => messages.some((m) => m.message === 'STOPPING=1'), { timeoutMs: 5000 });
  t.pass('STOPPING=1 on the way out');
});
