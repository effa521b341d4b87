/**
 * The MQTT outbox on this machine's disk: appends a second with fsync on (one at a time, as
 * the daemon's telemetry does, and 16 in flight, which share one write and one fsync) and off,
 * append+ack cycles a second (a sender keeping up with a reachable broker), and bytes on disk
 * per queued message. Run it on the disk that matters: on a Pi, a directory on the SD card.
 *
 *   node dist/bench/outbox.js [--dir DIR] [--count 2000] [--payload 300]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Outbox, RECORD_OVERHEAD } from '../daemon/fleet/outbox.js';
import { createLogger } from '../daemon/log.js';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, count: { type: 'string', default: '2000' }, payload: { type: 'string', default: '300' } },
});
const COUNT = Number(values.count);
const TOPIC = 'diemcau/box-0001/telemetry';
// Telemetry-like JSON of about the requested size.
const PAYLOAD = JSON.stringify({ ts: Date.now(), cpu: 12.5, tempC: 48.2, pad: 'x'.repeat(Math.max(0, Number(values.payload) - 60)) });
const log = createLogger('silent');
const base = await mkdtemp(join(resolve(values.dir ?? tmpdir()), 'outbox-bench-'));

/** The file system type under `path` (tmpfs makes the fsync figures meaningless). */
function fsType(path: string): string {
  let best = { mount: '', type: '?' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mount = '', type = '?'] = line.split(' ');
    const under = path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (under && mount.length > best.mount.length) best = { mount, type };
  }
  return `${best.type} on ${best.mount}`;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** Runs `work` on a fresh outbox; returns operations a second and the bytes left on disk. */
async function run(name: string, fsync: boolean, work: (outbox: Outbox) => Promise<void>) {
  const dir = join(base, name);
  const outbox = await Outbox.open({ dir, maxMessages: COUNT * 2, maxBytes: 2 ** 30, log, fsync });
  const start = performance.now();
  await work(outbox);
  const seconds = (performance.now() - start) / 1000;
  await outbox.close();
  return { perSecond: COUNT / seconds, bytes: await dirBytes(dir), messages: outbox.stats().messages };
}

const oneAtATime = async (outbox: Outbox) => {
  for (let i = 0; i < COUNT; i++) await outbox.append(TOPIC, PAYLOAD);
};
const inFlight = (n: number) => async (outbox: Outbox) => {
  for (let i = 0; i < COUNT; i += n) await Promise.all(Array.from({ length: Math.min(n, COUNT - i) }, () => outbox.append(TOPIC, PAYLOAD)));
};
const appendAck = async (outbox: Outbox) => {
  for (let i = 0; i < COUNT; i++) await outbox.ack((await outbox.append(TOPIC, PAYLOAD)).seq);
};

try {
  const synced = await run('fsync-1', true, oneAtATime);
  const grouped = await run('fsync-16', true, inFlight(16));
  const unsynced = await run('nofsync-1', false, oneAtATime);
  const cycles = await run('append-ack', true, appendAck);
  const round = (n: number) => Math.round(n).toLocaleString('en');
  const messageBytes = RECORD_OVERHEAD + TOPIC.length + PAYLOAD.length;
  const lines = [
    `diemcau outbox benchmark — ${COUNT} messages of ${PAYLOAD.length} B payload + ${TOPIC.length} B topic, ${fsType(base)}, ${new Date().toISOString()}`,
    `  appends/s, fsync on, one at a time          ${round(synced.perSecond)}`,
    `  appends/s, fsync on, 16 in flight           ${round(grouped.perSecond)}`,
    `  appends/s, fsync off, one at a time         ${round(unsynced.perSecond)}`,
    `  append+ack cycles/s, fsync on               ${round(cycles.perSecond)}`,
    `  bytes on disk per queued message            ${(synced.bytes / synced.messages).toFixed(1)} (record ${messageBytes}: ${RECORD_OVERHEAD} B framing + topic + payload)`,
    `  bytes on disk after the append+ack cycles   ${cycles.bytes} (the open segment, < segmentBytes)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await rm(base, { recursive: true, force: true });
}
