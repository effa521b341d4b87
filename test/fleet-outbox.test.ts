import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { pino } from 'pino';
import { createLogger } from '../daemon/log.js';
import { Outbox, RECORD_OVERHEAD, crc32, crc32Fallback, type OutboxOptions } from '../daemon/fleet/outbox.js';
import { waitUntil } from './helpers/wait.js';

const silent = createLogger('silent');
/** The built outbox, for child processes (the kill -9 test checks it is up to date). */
const DIST_OUTBOX = fileURLToPath(new URL('../dist/daemon/fleet/outbox.js', import.meta.url));
const DIST_LOG = fileURLToPath(new URL('../dist/daemon/log.js', import.meta.url));

/** A logger that keeps every record it writes. */
function capturing() {
  const records: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, records, events: (event: string) => records.filter((r) => r.event === event) };
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-outbox-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'outbox');
}

/** Opens an outbox that the test closes at its end (closing twice is fine). */
async function openOutbox(t: Test, dir: string, extra: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, maxMessages: 10_000, maxBytes: 5_000_000, log: silent, ...extra });
  t.teardown(() => outbox.close());
  return outbox;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

const seqs = (outbox: Outbox) => outbox.peek(Infinity).map((m) => m.seq);

t.test('crc32: the standard check value, and the fallback agrees with zlib', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  t.equal(crc32Fallback(Buffer.from('123456789')), 0xcbf43926);
  const data = randomBytes(4096);
  t.equal(crc32Fallback(data.subarray(100), crc32Fallback(data.subarray(0, 100))), crc32Fallback(data), 'running value');
  if (typeof zlib.crc32 === 'function') t.equal(crc32Fallback(data), zlib.crc32(data));
});

t.test('FIFO order and seqs survive a reopen; seqs continue after it', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await outbox.append(`diemcau/box/event`, JSON.stringify({ i })));
  t.same(sent.map((m) => m.seq), [1, 2, 3, 4, 5]);
  t.same(outbox.peek(2), sent.slice(0, 2), 'peek: the oldest, oldest first');
  t.same(outbox.peek(100), sent, 'peek does not remove');
  t.same(outbox.peek(0), []);
  await outbox.close();

  const again = await openOutbox(t, dir);
  t.same(again.peek(100), sent, 'same messages, same order, same seqs');
  const bytes = sent.reduce((sum, m) => sum + RECORD_OVERHEAD + m.topic.length + m.payload.length, 0);
  t.same(again.stats(), { messages: 5, bytes, dropped: 0, torn: 0 });
  t.equal((await again.append('t', '{}')).seq, 6);
});

t.test('concurrent appends keep call order and share writes', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => outbox.append('t', JSON.stringify({ i }))));
  t.same(results.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
  t.same(outbox.peek(1000).map((m) => JSON.parse(m.payload).i), Array.from({ length: 200 }, (_, i) => i));
});

t.test('UTF-8 topics and payloads round-trip; bytes count UTF-8', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  const payload = JSON.stringify({ name: 'Điểm cầu xã Tân Hoà 🎥' });
  await outbox.append('diemcau/điểm-cầu/event', payload);
  await outbox.close();
  const again = await openOutbox(t, dir);
  t.same(again.peek(1)[0], { seq: 1, topic: 'diemcau/điểm-cầu/event', payload });
  t.equal(again.stats().bytes, RECORD_OVERHEAD + Buffer.byteLength('diemcau/điểm-cầu/event') + Buffer.byteLength(payload));
});

t.test('ack removes up to a seq at once, saved by close(); never past the last seq; seqs never reused', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  for (let i = 1; i <= 6; i++) await outbox.append('t', `${i}`);
  await outbox.ack(3);
  t.same(seqs(outbox), [4, 5, 6]);
  await outbox.ack(2);
  t.same(seqs(outbox), [4, 5, 6], 'acking an older seq again changes nothing');
  t.equal(outbox.stats().messages, 3);
  await outbox.close();

  const again = await openOutbox(t, dir);
  t.same(seqs(again), [4, 5, 6], 'acked messages do not come back');
  await again.ack(1000);
  t.same(seqs(again), []);
  const later = await again.append('t', 'later');
  t.equal(later.seq, 7, 'an ack beyond the last seq does not swallow later messages');
  t.same(seqs(again), [7]);
  await again.ack(7);
  await again.close();

  const third = await openOutbox(t, dir);
  t.same(seqs(third), [], 'everything acked, nothing comes back');
  t.equal((await third.append('t', 'x')).seq, 8, 'seq continues after all segments were deleted');
});

const readState = (dir: string) => readFile(join(dir, 'state.json'), 'utf8').then((text) => JSON.parse(text) as unknown);

t.test('acks are saved lazily: not before ackFlushMs, then by the timer, at once by close()', async (t) => {
  const dir = await tempDir(t);
  const setup = await openOutbox(t, dir);
  for (let i = 1; i <= 8; i++) await setup.append('t', `${i}`);
  await setup.ack(1);
  await setup.close();
  t.same(await readState(dir), { version: 1, removedThrough: 1, dropped: 0 }, 'close() saved the ack');

  const ackFlushMs = 1_000;
  const outbox = await openOutbox(t, dir, { ackFlushMs });
  const before = await stat(join(dir, 'state.json'));
  const ackedAt = performance.now();
  await outbox.ack(3);
  t.same(seqs(outbox), [4, 5, 6, 7, 8], 'peek no longer returns the acked messages');
  t.equal(outbox.stats().messages, 5);
  await outbox.ack(4);
  await outbox.append('t', '9');
  t.same(seqs(outbox), [5, 6, 7, 8, 9]);
  const unchanged = await stat(join(dir, 'state.json'));
  t.same([unchanged.ino, unchanged.mtimeMs], [before.ino, before.mtimeMs], 'state.json not rewritten right after the acks');
  t.same(await readState(dir), { version: 1, removedThrough: 1, dropped: 0 });

  await waitUntil('the timer saved the acks', async () => ((await readState(dir)) as { removedThrough: number }).removedThrough === 4, {
    timeoutMs: 10_000,
    intervalMs: 10,
  });
  const savedAfter = performance.now() - ackedAt;
  // setTimeout may fire a millisecond early; polling only makes it look later.
  t.ok(savedAfter >= ackFlushMs - 5, `saved ${Math.round(savedAfter)} ms after the first ack (ackFlushMs ${ackFlushMs})`);
  t.same(await readState(dir), { version: 1, removedThrough: 4, dropped: 0 }, 'one write for both acks');

  await outbox.ack(6);
  t.same(await readState(dir), { version: 1, removedThrough: 4, dropped: 0 }, 'the next ack waits again');
  const closing = performance.now();
  await outbox.close();
  t.same(await readState(dir), { version: 1, removedThrough: 6, dropped: 0 }, 'close() saves at once');
  t.ok(performance.now() - closing < ackFlushMs, 'close() does not wait for the timer');

  const again = await openOutbox(t, dir, { ackFlushMs });
  t.same(seqs(again), [7, 8, 9], 'after close(), no acked message comes back');
});

t.test('ackFlushMs: 0 saves every ack before it resolves', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir, { ackFlushMs: 0 });
  for (let i = 1; i <= 3; i++) await outbox.append('t', `${i}`);
  await outbox.ack(2);
  t.same(await readState(dir), { version: 1, removedThrough: 2, dropped: 0 });
  t.same(seqs(outbox), [3]);
});

t.test('an ack that frees a segment file is saved at once, and the file deleted', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir, { segmentBytes: 256 });
  for (let i = 1; i <= 20; i++) await outbox.append('t', JSON.stringify({ i, pad: 'p'.repeat(40) }));
  const before = await segments(dir);
  t.ok(before.length >= 4, `${before.length} segments`);
  await outbox.ack(2);
  t.same(await segments(dir), before, 'an ack inside the first segment waits for the timer');
  await t.rejects(readState(dir), { code: 'ENOENT' }, 'state.json not written yet');
  const secondFirst = Number(before[1]!.slice(0, 16));
  await outbox.ack(secondFirst);
  t.same(await readState(dir), { version: 1, removedThrough: secondFirst, dropped: 0 }, 'saved at once');
  t.same(await segments(dir), before.slice(1), 'the first segment is deleted');
});

t.test('a process that ends without close(): the timer does not hold it, unsaved acks come back', async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, '..', 'no-close.mjs');
  await writeFile(
    script,
    `
import { Outbox } from ${JSON.stringify(pathToFileURL(DIST_OUTBOX).href)};
import { createLogger } from ${JSON.stringify(pathToFileURL(DIST_LOG).href)};
const outbox = await Outbox.open({ dir: process.argv[2], maxMessages: 100, maxBytes: 100000, log: createLogger('silent') });
for (let i = 1; i <= 3; i++) await outbox.append('t', String(i));
await outbox.ack(2);
`,
  );
  const start = performance.now();
  const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const took = performance.now() - start;
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(0, 500)})`);
  t.ok(took < 8_000, `exited ${Math.round(took)} ms after it started (the 10 s ack timer is unref'd)`);
  const again = await openOutbox(t, dir, { maxMessages: 100, maxBytes: 100000 });
  t.same(seqs(again), [1, 2, 3], 'the ack was not saved: messages 1 and 2 are sent again (at least once)');
  t.equal(again.stats().dropped, 0);
});

t.test('acks not yet saved are never counted as drops after a crash', async (t) => {
  const size = RECORD_OVERHEAD + 2; // topic 't', payloads of one digit
  for (const [cap, opts] of [
    ['count cap', { maxMessages: 5 }],
    ['byte cap', { maxBytes: 5 * size }],
  ] as const) {
    const dir = await tempDir(t);
    const first = await openOutbox(t, dir, opts);
    for (let i = 1; i <= 5; i++) await first.append('t', `${i}`);
    await first.ack(4);
    for (let i = 6; i <= 9; i++) await first.append('t', `${i}`);
    t.same(seqs(first), [5, 6, 7, 8, 9], `${cap}: full, nothing dropped`);
    t.equal(first.stats().dropped, 0);
    // No close(): as after kill -9. Open applies the caps to what is on disk after state.json's
    // removedThrough: had ack(4) not been saved before seq 6 took that over the cap, it would
    // count acked messages as dropped.
    const second = await openOutbox(t, dir, opts);
    t.same(seqs(second), [5, 6, 7, 8, 9], `${cap}: after the crash`);
    t.equal(second.stats().dropped, 0, `${cap}: no drop counted`);

    // Drops not yet saved, then an ack, then more drops: the ack is saved with the drops.
    await second.append('t', 'a');
    await second.append('t', 'b');
    t.equal(second.stats().dropped, 2);
    await second.ack(7);
    t.same(await readState(dir), { version: 1, removedThrough: 7, dropped: 2 }, `${cap}: ack saved at once while drops are unsaved`);
    for (const p of 'cd') await second.append('t', p);
    t.same(second.stats(), { messages: 5, bytes: 5 * size, dropped: 3, torn: 0 }, `${cap}: one more drop`);
    const third = await openOutbox(t, dir, opts);
    t.same(seqs(third), seqs(second), `${cap}: same queue after a second crash`);
    t.equal(third.stats().dropped, 3, `${cap}: same drop count`);
  }
});

t.test('the count cap drops the oldest, counts them, warns, and the count is persisted', async (t) => {
  const dir = await tempDir(t);
  const { log, events } = capturing();
  const outbox = await openOutbox(t, dir, { maxMessages: 5, log });
  for (let i = 1; i <= 8; i++) await outbox.append('t', `${i}`);
  t.same(seqs(outbox), [4, 5, 6, 7, 8], 'the newest five');
  t.equal(outbox.stats().dropped, 3);
  const warning = events('outbox.dropped')[0];
  t.match(warning, { level: 40, count: 1, total: 1 }, 'a warning with how many');
  await outbox.close();

  const again = await openOutbox(t, dir, { maxMessages: 5 });
  t.same(seqs(again), [4, 5, 6, 7, 8]);
  t.equal(again.stats().dropped, 3, 'dropped survives a reopen');
  await again.append('t', '9');
  t.same(again.stats(), { messages: 5, bytes: 5 * (RECORD_OVERHEAD + 2), dropped: 4, torn: 0 });
});

t.test('the byte cap drops the oldest; a message larger than the cap is refused', async (t) => {
  const dir = await tempDir(t);
  const payload = 'x'.repeat(100);
  const size = RECORD_OVERHEAD + 't'.length + payload.length;
  const outbox = await openOutbox(t, dir, { maxBytes: 5 * size + Math.floor(size / 2) });
  for (let i = 0; i < 7; i++) await outbox.append('t', payload);
  t.same(seqs(outbox), [3, 4, 5, 6, 7]);
  t.same(outbox.stats(), { messages: 5, bytes: 5 * size, dropped: 2, torn: 0 });
  await t.rejects(outbox.append('t', 'y'.repeat(6 * size)), RangeError);
  t.equal(outbox.stats().messages, 5, 'the refused message took nothing out');
  await outbox.close();
  const again = await openOutbox(t, dir, { maxBytes: 5 * size + Math.floor(size / 2) });
  t.same(seqs(again), [3, 4, 5, 6, 7]);
  t.equal(again.stats().dropped, 2);
});

t.test('drops not yet saved when the process dies come out the same at the next open', async (t) => {
  const dir = await tempDir(t);
  const first = await openOutbox(t, dir, { maxMessages: 4 });
  for (let i = 0; i < 10; i++) await first.append('t', `${i}`);
  // No close(): as after kill -9, state.json was not told about the last drops.
  const second = await openOutbox(t, dir, { maxMessages: 4 });
  t.same(seqs(second), [7, 8, 9, 10]);
  t.equal(second.stats().dropped, 6);
  const lowered = await openOutbox(t, dir, { maxMessages: 2 });
  t.same(seqs(lowered), [9, 10], 'a lower cap at open drops the oldest');
  t.equal(lowered.stats().dropped, 8);
});

t.test('a truncated last record is cut off; every earlier one is kept', async (t) => {
  const dir = await tempDir(t);
  const { log, events } = capturing();
  const outbox = await openOutbox(t, dir);
  for (let i = 1; i <= 10; i++) await outbox.append('t', JSON.stringify({ i }));
  await outbox.close();
  const [segment] = await segments(dir);
  const path = join(dir, segment!);
  await truncate(path, (await stat(path)).size - 3);

  const again = await openOutbox(t, dir, { log });
  t.same(seqs(again), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.equal(again.stats().torn, 1);
  t.match(events('outbox.torn_record')[0], { level: 40, segment, bytes: RECORD_OVERHEAD + 1 + 8 - 3 });
  t.equal((await again.append('t', 'after')).seq, 10, 'the cut record never got out: its seq is free');
  await again.close();

  const third = await openOutbox(t, dir);
  t.equal(third.stats().torn, 0, 'the cut was made on disk: nothing damaged any more');
  t.same(seqs(third), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.equal(third.peek(100).at(-1)!.payload, 'after');
});

t.test('garbage after the last record (random bytes, zeros) is cut off', async (t) => {
  for (const [what, garbage] of [
    ['random bytes', randomBytes(37)],
    ['zeros', Buffer.alloc(4096)],
    ['a plausible header', Buffer.from([0, 0, 0, 40, 1, 2, 3, 4])],
  ] as const) {
    const dir = await tempDir(t);
    const outbox = await openOutbox(t, dir);
    for (let i = 1; i <= 5; i++) await outbox.append('t', `${i}`);
    await outbox.close();
    await appendFile(join(dir, (await segments(dir))[0]!), garbage);
    const again = await openOutbox(t, dir);
    t.same(seqs(again), [1, 2, 3, 4, 5], `${what}: every record kept`);
    t.equal(again.stats().torn, 1, `${what}: reported torn`);
    t.equal((await again.append('t', '6')).seq, 6);
    await again.close();
    const third = await openOutbox(t, dir);
    t.same(seqs(third), [1, 2, 3, 4, 5, 6], `${what}: appends after the cut are read back`);
  }
});

t.test('a damaged record in the middle keeps the records before it', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  for (let i = 1; i <= 5; i++) await outbox.append('t', 'abcdefgh');
  await outbox.close();
  const path = join(dir, (await segments(dir))[0]!);
  const buf = await readFile(path);
  buf[2 * (RECORD_OVERHEAD + 9) + RECORD_OVERHEAD + 3]! ^= 0x01; // one bit of record 3's payload
  await writeFile(path, buf);
  const again = await openOutbox(t, dir);
  t.same(seqs(again), [1, 2]);
  t.equal(again.stats().torn, 1);
});

t.test('segments rotate, are read back in order, and are deleted once acked', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir, { segmentBytes: 512 });
  for (let i = 1; i <= 60; i++) await outbox.append('t', JSON.stringify({ i, pad: 'p'.repeat(40) }));
  const before = await segments(dir);
  t.ok(before.length >= 5, `${before.length} segments`);
  t.equal(before[0], '0000000000000001.seg', 'named by their first seq');
  await outbox.close();

  const again = await openOutbox(t, dir, { segmentBytes: 512 });
  t.same(seqs(again), Array.from({ length: 60 }, (_, i) => i + 1));
  await again.ack(30);
  t.match(await readState(dir), { removedThrough: 30 }, 'an ack that frees segments is saved at once');
  const after = await segments(dir);
  t.ok(after.length < before.length, 'acked segments deleted');
  t.ok(Number(after[0]!.slice(0, 16)) <= 31, 'the segment holding seq 31 is kept');
  await again.close();
  const third = await openOutbox(t, dir, { segmentBytes: 512 });
  t.same(seqs(third), Array.from({ length: 30 }, (_, i) => i + 31));
});

t.test('1,000 append+ack cycles leave the directory small', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir, { segmentBytes: 4096 });
  const payload = JSON.stringify({ cpu: 12.5, temp: 48.2, uptime: 123456, pad: 'x'.repeat(60) });
  for (let i = 0; i < 1000; i++) {
    const m = await outbox.append('diemcau/box/telemetry', payload);
    await outbox.ack(m.seq);
  }
  const names = await readdir(dir);
  t.ok((await segments(dir)).length <= 1, `segment files: ${names.join(', ')}`);
  t.notOk(names.some((n) => n.includes('.tmp-')), 'no temp files left');
  const bytes = await dirBytes(dir);
  t.ok(bytes < 4096 + 200 + 100, `${bytes} bytes on disk (1,000 messages went through)`);
  await outbox.close();
  const again = await openOutbox(t, dir);
  t.same(again.stats(), { messages: 0, bytes: 0, dropped: 0, torn: 0 });
  t.equal((await again.append('t', 'x')).seq, 1001);
});

t.test('open: creates the directory 0700, removes stray temp files, survives a damaged state file', async (t) => {
  const dir = await tempDir(t);
  const outbox = await openOutbox(t, dir);
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  for (let i = 1; i <= 3; i++) await outbox.append('t', `${i}`);
  await outbox.ack(1);
  await outbox.close();

  await writeFile(join(dir, 'state.json.tmp-123-abc'), '{"version":1');
  const cleaned = await openOutbox(t, dir);
  t.notOk((await readdir(dir)).includes('state.json.tmp-123-abc'));
  t.same(seqs(cleaned), [2, 3]);
  await cleaned.close();

  await writeFile(join(dir, 'state.json'), 'not json');
  const { log, events } = capturing();
  const damaged = await openOutbox(t, dir, { log });
  t.same(seqs(damaged), [1, 2, 3], 'opens; unsent messages kept (the acked one is sent again: at least once)');
  t.equal(events('outbox.state_unreadable').length, 1);
});

t.test('options are checked; after close() appends and acks are refused', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(Outbox.open({ dir, maxMessages: 0, maxBytes: 1000, log: silent }), RangeError);
  await t.rejects(Outbox.open({ dir, maxMessages: 10, maxBytes: 1.5, log: silent }), RangeError);
  await t.rejects(Outbox.open({ dir, maxMessages: 10, maxBytes: 1000, ackFlushMs: -1, log: silent }), RangeError);
  await t.rejects(Outbox.open({ dir, maxMessages: 10, maxBytes: 1000, ackFlushMs: Infinity, log: silent }), RangeError);
  const outbox = await openOutbox(t, dir);
  const pending = outbox.append('t', 'before close');
  await outbox.close();
  t.equal((await pending).seq, 1, 'an append made before close() is written');
  await outbox.close();
  await t.rejects(outbox.append('t', 'x'), /closed/);
  await t.rejects(outbox.ack(1), /closed/);
  const again = await openOutbox(t, dir);
  t.same(seqs(again), [1]);
});

// --- a real kill -9 in the middle of appending ----------------------------------------------

/** The child saves its acks lazily, this often; an ack it completed this long (plus the margin) before the kill is on disk. */
const CHILD_ACK_FLUSH_MS = 50;
/** Time for the timer's state write to get its turn behind the appends and be done: generous. */
const SAVE_MARGIN_MS = 1_000;

/**
 * Appends as fast as it can (four appends in flight at a time, payloads of varying size) and
 * acks every other batch, up to 50 messages behind (some acks free a segment and are saved at
 * once, the others wait for the `ackFlushMs` timer). Prints a JSON line once each append or ack
 * has resolved, and before it asks for an ack: so the test knows what was durable when the
 * process was killed.
 */
const CHILD = `
import { Outbox } from ${JSON.stringify(pathToFileURL(DIST_OUTBOX).href)};
import { createLogger } from ${JSON.stringify(pathToFileURL(DIST_LOG).href)};
const [dir, round, fsync, ackFlushMs] = process.argv.slice(2);
const outbox = await Outbox.open({
  dir, maxMessages: 1e6, maxBytes: 2 ** 30, segmentBytes: 16384, fsync: fsync === 'true', ackFlushMs: Number(ackFlushMs),
  log: createLogger('silent'),
});
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
say({ started: true });
for (let i = 0; ; ) {
  const batch = [];
  for (let k = 0; k < 4; k++, i++) {
    batch.push(outbox.append('t/' + round, JSON.stringify({ round: Number(round), i, pad: 'x'.repeat((i * 7919) % 3000) })));
  }
  const done = await Promise.all(batch);
  say({ appended: done[3].seq });
  if (i % 8 === 0) {
    const upto = done[0].seq - 50;
    say({ acking: upto });
    await outbox.ack(upto);
    say({ acked: upto });
  }
}
`;

t.test('kill -9 while appending and acking: opens, nothing unacked lost, acks saved lazily, every payload whole', async (t) => {
  const srcTime = (await stat(fileURLToPath(new URL('../daemon/fleet/outbox.ts', import.meta.url)))).mtimeMs;
  const distTime = await stat(DIST_OUTBOX).then((s) => s.mtimeMs, () => 0);
  t.ok(distTime >= srcTime, 'dist/daemon/fleet/outbox.js is built from the current source (npm run build)');
  const dir = await tempDir(t);
  const script = join(dir, '..', 'child.mjs');
  await writeFile(script, CHILD);

  let appended = 0; // highest seq the child saw durable
  let acking = 0; // highest ack the child asked for
  let saved = 0; // highest ack that must be on disk: completed long enough before a kill
  for (const [round, fsync] of [[1, true], [2, false], [3, true], [4, false]] as const) {
    const child = spawn(process.execPath, [script, dir, String(round), String(fsync), String(CHILD_ACK_FLUSH_MS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const startAt = appended;
    const acks: Array<{ seq: number; at: number }> = []; // this round's completed acks, when the test heard of them
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { appended?: number; acking?: number; acked?: number };
      appended = Math.max(appended, m.appended ?? 0);
      acking = Math.max(acking, m.acking ?? 0);
      if (m.acked !== undefined && m.acked > 0) acks.push({ seq: m.acked, at: performance.now() });
    });
    // Until an ack of 250 of this round's messages is old enough to be saved by the timer for sure.
    const window = CHILD_ACK_FLUSH_MS + SAVE_MARGIN_MS;
    await waitUntil(
      `round ${round}: the child appended 300 messages and acked 250 over ${window} ms ago`,
      () =>
        (appended >= startAt + 300 && acks.some((a) => a.seq > startAt + 250 && a.at <= performance.now() - window)) ||
        child.exitCode !== null,
      { timeoutMs: 60_000, intervalMs: 5 },
    );
    const killedAt = performance.now();
    child.kill('SIGKILL');
    t.equal(await exited, null, `round ${round}: killed (stderr: ${stderr.slice(0, 500)})`);
    // The test hears of an ack after it completed, and kills after killedAt: both err on the safe side.
    for (const a of acks) if (a.at <= killedAt - window) saved = Math.max(saved, a.seq);
    const lastAcked = acks.at(-1)?.seq ?? 0;

    const outbox = await Outbox.open({ dir, maxMessages: 1e6, maxBytes: 2 ** 30, segmentBytes: 16384, log: silent });
    const messages = outbox.peek(Infinity);
    const got = messages.map((m) => m.seq);
    const first = got[0]!;
    const last = got.at(-1)!;
    t.ok(got.every((s, i) => s === first + i), `round ${round}: seqs ${first}..${last} with no gap`);
    t.ok(first <= acking + 1, `round ${round}: first seq ${first} <= ${acking + 1}: no message lost that was not acked`);
    t.ok(
      first > saved,
      `round ${round}: first seq ${first} > ${saved}: acks done over ${window} ms before the kill do not come back`,
    );
    t.ok(last >= appended, `round ${round}: last seq ${last} >= last one reported durable (${appended})`);
    const broken = messages.filter((m) => {
      try {
        if (m.topic === 't/reopen') return false;
        const p = JSON.parse(m.payload) as { round: number; i: number; pad: string };
        return m.topic !== `t/${p.round}` || p.pad.length !== (p.i * 7919) % 3000;
      } catch {
        return true;
      }
    });
    t.same(broken, [], `round ${round}: every payload is whole JSON`);
    t.equal(outbox.stats().dropped, 0);
    t.comment(
      `round ${round}: ${messages.length} queued, ${Math.max(0, lastAcked - first + 1)} acked but not yet saved (sent again), ` +
        `${outbox.stats().torn} torn record(s) cut off`,
    );
    const next = await outbox.append('t/reopen', JSON.stringify({ round }));
    t.equal(next.seq, last + 1, `round ${round}: appends continue after the last seq`);
    appended = next.seq;
    await outbox.close();
  }
  t.notOk((await readdir(dir)).some((n) => n.includes('.tmp-')), 'no temp state files left');
});
