/**
 * The MQTT outbox on this machine's disk: appends a second with fsync on (one at a time, as
 * the daemon's telemetry does, and 16 in flight, which share one write and one fsync) and off,
 * append+ack cycles a second (a sender keeping up with a reachable broker), bytes on disk per
 * queued message, and bytes written per message. Run it on the disk that matters: on a Pi, a
 * directory on the SD card.
 *
 * Bytes written are `write_bytes` of /proc/self/io, before and after each run: what this process
 * sent toward the block layer. The kernel counts it when a page of the page cache is dirtied, so
 * in whole pages (a 1.2 kB append with fdatasync costs 4 KiB, or 8 when it straddles two pages),
 * and without what the file system writes for it on its own (the ext4 journal, inodes and
 * directories, written by kernel threads) or the card's own write amplification: a lower bound
 * of what the card sees, 0 on tmpfs, "n/a" where the kernel does not account I/O per task.
 *
 * Append+ack cycles run with every ack saved at once (`ackFlushMs: 0`, what every ack did before
 * acks were saved lazily) and with the default `ackFlushMs`; then paced, one cycle every
 * 3 × ackFlushMs (scaled down: the daemon's telemetry comes every 30 s, 3 × the default 10 s),
 * where the timer saves each ack on its own.
 *
 *   node dist/bench/outbox.js [--dir DIR] [--count 2000] [--payload 300] [--paced 50]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Outbox, RECORD_OVERHEAD } from '../daemon/fleet/outbox.js';
import { createLogger } from '../daemon/log.js';
import { fsType } from './filesystem.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    count: { type: 'string', default: '2000' },
    payload: { type: 'string', default: '300' },
    paced: { type: 'string', default: '50' },
  },
});
const COUNT = Number(values.count);
const PACED = Number(values.paced);
/** The paced runs, scaled down: acks saved after 20 ms, a cycle every 60 ms. */
const PACED_FLUSH_MS = 20;
const PACED_EVERY_MS = 3 * PACED_FLUSH_MS;
const TOPIC = 'diemcau/box-0001/telemetry';
// Telemetry-like JSON of about the requested size.
const PAYLOAD = JSON.stringify({ ts: Date.now(), cpu: 12.5, tempC: 48.2, pad: 'x'.repeat(Math.max(0, Number(values.payload) - 60)) });
const log = createLogger('silent');
const base = await mkdtemp(join(resolve(values.dir ?? tmpdir()), 'outbox-bench-'));


async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** `write_bytes` of /proc/self/io (see the top of the file); undefined where there is none. */
function writeBytes(): number | undefined {
  try {
    const match = /^write_bytes:\s*(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

interface RunOptions {
  fsync?: boolean;
  ackFlushMs?: number;
  /** Messages the work goes through (default COUNT). */
  count?: number;
}

/**
 * Runs `work` on a fresh outbox; returns operations a second, the bytes left on disk and the
 * bytes written per message during the work (open excluded; close, which saves the last acks
 * once, included).
 */
async function run(name: string, work: (outbox: Outbox, count: number) => Promise<void>, opts: RunOptions = {}) {
  const dir = join(base, name);
  const count = opts.count ?? COUNT;
  const outbox = await Outbox.open({ dir, maxMessages: count * 2, maxBytes: 2 ** 30, log, fsync: opts.fsync ?? true, ackFlushMs: opts.ackFlushMs });
  const writtenBefore = writeBytes();
  const start = performance.now();
  await work(outbox, count);
  const seconds = (performance.now() - start) / 1000;
  await outbox.close();
  const writtenAfter = writeBytes();
  const written = writtenBefore === undefined || writtenAfter === undefined ? undefined : (writtenAfter - writtenBefore) / count;
  return { perSecond: count / seconds, bytes: await dirBytes(dir), messages: outbox.stats().messages, written };
}

const oneAtATime = async (outbox: Outbox, count: number) => {
  for (let i = 0; i < count; i++) await outbox.append(TOPIC, PAYLOAD);
};
const inFlight = (n: number) => async (outbox: Outbox, count: number) => {
  for (let i = 0; i < count; i += n) await Promise.all(Array.from({ length: Math.min(n, count - i) }, () => outbox.append(TOPIC, PAYLOAD)));
};
const appendAck = async (outbox: Outbox, count: number) => {
  for (let i = 0; i < count; i++) await outbox.ack((await outbox.append(TOPIC, PAYLOAD)).seq);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** One cycle every PACED_EVERY_MS, as telemetry comes (the run ends one interval after the last ack). */
const pacedAppendAck = async (outbox: Outbox, count: number) => {
  for (let i = 0; i < count; i++) {
    const next = sleep(PACED_EVERY_MS);
    await outbox.ack((await outbox.append(TOPIC, PAYLOAD)).seq);
    await next;
  }
};

try {
  const synced = await run('fsync-1', oneAtATime);
  const grouped = await run('fsync-16', inFlight(16));
  const unsynced = await run('nofsync-1', oneAtATime, { fsync: false });
  const eager = await run('append-ack-eager', appendAck, { ackFlushMs: 0 });
  const lazy = await run('append-ack-lazy', appendAck);
  const pacedEager = await run('paced-eager', pacedAppendAck, { ackFlushMs: 0, count: PACED });
  const pacedLazy = await run('paced-lazy', pacedAppendAck, { ackFlushMs: PACED_FLUSH_MS, count: PACED });
  const round = (n: number) => Math.round(n).toLocaleString('en');
  const perMessage = (n: number | undefined) => (n === undefined ? 'n/a (no /proc/self/io)' : `${round(n)} B`);
  const messageBytes = RECORD_OVERHEAD + TOPIC.length + PAYLOAD.length;
  const lines = [
    `diemcau outbox benchmark — ${COUNT} messages of ${PAYLOAD.length} B payload + ${TOPIC.length} B topic, ${fsType(base)}, ${new Date().toISOString()}`,
    `  appends/s, fsync on, one at a time                      ${round(synced.perSecond)}`,
    `  appends/s, fsync on, 16 in flight                       ${round(grouped.perSecond)}`,
    `  appends/s, fsync off, one at a time                     ${round(unsynced.perSecond)}`,
    `  append+ack cycles/s, fsync on, every ack saved          ${round(eager.perSecond)} (ackFlushMs 0: as before lazy acks)`,
    `  append+ack cycles/s, fsync on, acks saved lazily        ${round(lazy.perSecond)} (default ackFlushMs)`,
    `  bytes on disk per queued message                        ${(synced.bytes / synced.messages).toFixed(1)} (record ${messageBytes}: ${RECORD_OVERHEAD} B framing + topic + payload)`,
    `  bytes on disk after the append+ack cycles               ${lazy.bytes} (the open segment, < segmentBytes)`,
    `  bytes written per message (write_bytes, a lower bound: see the top of bench/outbox.ts)`,
    `    append only, fsync on, one at a time                  ${perMessage(synced.written)}`,
    `    append only, fsync on, 16 in flight                   ${perMessage(grouped.written)}`,
    `    append+ack back to back, every ack saved              ${perMessage(eager.written)} (ackFlushMs 0: as before lazy acks)`,
    `    append+ack back to back, acks saved lazily            ${perMessage(lazy.written)} (default ackFlushMs)`,
    `    append+ack paced, every ack saved                     ${perMessage(pacedEager.written)} (${PACED} cycles, one every ${PACED_EVERY_MS} ms, ackFlushMs 0)`,
    `    append+ack paced, acks saved lazily                   ${perMessage(pacedLazy.written)} (same, ackFlushMs ${PACED_FLUSH_MS}: each ack waits, then is saved alone)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await rm(base, { recursive: true, force: true });
}
