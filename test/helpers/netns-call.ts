/**
 * Calls between built daemons in network namespaces (netns.ts): the fleet broker in the hub,
 * a box per site, console commands sent from the hub. Shared by test/call-netns.test.ts and
 * bench/call-cut.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mergePatch } from '../../daemon/config/merge.js';
import { DAEMON, runNode, simDaemonConfig, type LogRecord, type RunningProcess } from './daemon.js';
import { MOSQUITTO } from './mosquitto.js';
import { PROJECT_ROOT } from './project.js';
import type { Site, Sites, Teardown } from './netns.js';

const execFileP = promisify(execFile);
const CONSOLE = join(PROJECT_ROOT, 'dist/console/main.js');
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function tempDir(t: Teardown, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `diemcau-netns-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** mosquitto in the hub, on every address of it (plain MQTT: the link, not TLS, is under test here). */
export async function startHubBroker(t: Teardown, hub: Site): Promise<string> {
  const dir = await tempDir(t, 'broker');
  const conf = join(dir, 'mosquitto.conf');
  const lines = ['listener 1883 0.0.0.0', 'allow_anonymous true', 'persistence false', 'log_dest stderr'];
  if (process.getuid?.() === 0) lines.push('user root');
  await writeFile(conf, lines.join('\n') + '\n');
  const broker = hub.spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  t.teardown(() => void broker.kill('SIGKILL'));
  return `mqtt://${hub.address}:1883`;
}

/** A built daemon (sim profile, 720p) in `site`, on the hub's broker, once its media is up. */
export async function startSiteBox(t: Teardown, site: Site, id: string, brokerUrl: string, keepaliveS = 30): Promise<RunningProcess> {
  const dir = await tempDir(t, id);
  const path = join(dir, 'config.json');
  const config = mergePatch(await simDaemonConfig(), {
    device: { id, name: `Nhà văn hoá ${id}` },
    media: { video: { size: '1280x720' } },
    fleet: { url: brokerUrl, keepaliveS, telemetryIntervalS: 10, reconnect: { initialDelayMs: 500, maxDelayMs: 2000 } },
  });
  await writeFile(path, JSON.stringify(config));
  const daemon = runNode(DAEMON, ['--config', path, '--screen', 'fake'], {}, ['ip', 'netns', 'exec', site.name]);
  t.teardown(async () => {
    await daemon.stop();
    if (process.env.DIEMCAU_DUMP) await writeFile(`/tmp/netns-${id}.log`, daemon.logs.map((r) => JSON.stringify(r)).join('\n'));
  });
  await daemon.waitForLog(`${id}: media up`, (r) => r.msg === 'media worker state' && (r.worker as Json)?.state === 'running', 60_000);
  await daemon.waitForLog(`${id}: on the broker`, (r) => r.event === 'fleet.connected', 30_000);
  return daemon;
}

/**
 * A console command run in the hub (the caller is outside the namespaces). A reply can be lost
 * with the box's broker connection on a poor link; the commands used here are safe to repeat,
 * so it is sent up to three times.
 */
export async function sendFromHub(sites: Sites, brokerUrl: string, box: string, command: string, args: object): Promise<Json> {
  for (let attempt = 1; ; attempt++) {
    const reply = await sendOnce(sites, brokerUrl, box, command, args).catch((e: { stdout?: string }) => JSON.parse(e.stdout ?? '[{}]')[0] as Json);
    if (reply.ok || attempt === 3) return reply;
  }
}

async function sendOnce(sites: Sites, brokerUrl: string, box: string, command: string, args: object): Promise<Json> {
  const { stdout } = await execFileP(
    'ip',
    ['netns', 'exec', sites.sites.hub.name, process.execPath, CONSOLE, 'send', box, command, JSON.stringify(args), '--json', '--timeout', '25s', '--url', brokerUrl, '--user', 'console'],
    { timeout: 40_000 },
  );
  return (JSON.parse(stdout) as Json[])[0]!;
}

/** A daemon's log records of one event, so far. */
export const eventsOf = (d: RunningProcess, event: string): LogRecord[] => d.logs.filter((r) => r.event === event);
