/**
 * Store-and-forward outbox for the MQTT messages the box publishes: a bounded on-disk FIFO that
 * survives daemon restarts and power cuts. Producers `append()`; the sender `peek()`s the oldest
 * messages, publishes them with QoS 1 and, after the broker's PUBACK, `ack()`s them.
 *
 * On disk, in `dir` (mode 0700), written for an SD card: append-only, a few small writes per
 * message, never a rewrite of the whole queue.
 *
 *   <first seq, 16 digits>.seg   segment files, append-only; records back to back:
 *       u32 BE  body length N (>= 12)
 *       u32 BE  CRC-32 of the 4 length bytes followed by the body
 *       body:   u64 BE seq · u32 BE topic length T · T bytes topic (UTF-8) · payload (UTF-8, the rest)
 *   state.json                   {"version":1,"removedThrough":S,"dropped":D}, replaced atomically
 *                                (temp, fsync, rename, fsync dir): every seq <= S was acked or
 *                                dropped; D counts drops by the caps since the queue was created.
 *
 * Opening reads every segment; the first record that is short, fails its CRC or does not have
 * a larger seq than the one before ends that segment: the file is cut there (counted in `torn`),
 * and everything before it is kept. The last segment takes the appends until it reaches
 * `segmentBytes`; a segment none of whose records are still queued (per state.json) is deleted.
 * One process owns the directory at a time.
 *
 * Acks are saved lazily. Rewriting state.json costs a few blocks (temp file, two fsyncs,
 * rename), several times the record itself, so `ack()` takes the messages out of the queue in
 * memory at once but writes state.json at most once every `ackFlushMs` (60 s by default, on an
 * unref'd timer), and at once only when that lets a whole segment file be deleted (by the ack,
 * or when the segment it emptied is closed for a new one: disk space is freed right away, never
 * before state.json says so); `close()` always saves it. This saves writes only where acks come
 * closer together than `ackFlushMs` (a backlog drained after a reconnect, bursts of events,
 * telemetry every 30 s: two acks a save). After a crash
 * or a power cut, messages acknowledged in the last `ackFlushMs` or so before it (those not saved
 * yet) are therefore queued again and sent a second time: delivery was at least once already,
 * every message carries its seq, and a console drops the repeats. `ackFlushMs: 0` saves every
 * ack before it resolves.
 *
 * Drops by the caps are counted right across a crash without a state write per drop: open
 * applies the caps again to the records after removedThrough, which gives the same drops as
 * long as those records hold no acked message. So acks not yet saved are saved first whenever
 * they could mix with drops: by an ack while drops are unsaved, and by an append that would put
 * the records after removedThrough over a cap (then the ack is saved before the record is
 * written). Both only happen while the queue is near a cap.
 */
import * as zlib from 'node:zlib';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../config/atomic-write.js';
import type { Logger } from '../log.js';

export interface OutboxOptions {
  /** Directory owned by the outbox (created with mode 0700 if missing). */
  dir: string;
  /** Cap on queued messages (a positive integer). */
  maxMessages: number;
  /**
   * Cap on queued bytes, counted as the records' size on disk: `RECORD_OVERHEAD` (20) + topic
   * + payload as UTF-8. A single message larger than this is refused.
   */
  maxBytes: number;
  log: Logger;
  /** Default true: append() resolves only once the data is durable (fdatasync); false for benchmarks. */
  fsync?: boolean;
  /** A new segment file is started once the current one reaches this size (default 256 KiB). */
  segmentBytes?: number;
  /**
   * Acks are written to disk (state.json) at most this often, in ms (default 10 000); messages
   * acked in this window before a crash are sent again after it. 0: every ack is saved at once.
   */
  ackFlushMs?: number;
}

export interface OutboxMessage {
  /** Strictly increasing, never handed out twice, survives restarts. */
  seq: number;
  topic: string;
  payload: string;
}

export interface OutboxStats {
  messages: number;
  /** Queued bytes as counted for `maxBytes`. */
  bytes: number;
  /** Messages dropped by the caps since the queue was created (persisted). */
  dropped: number;
  /** Damaged records found, and cut off, when this outbox was opened. */
  torn: number;
}

/** Bytes a record takes on disk besides its topic and payload: length, CRC, seq, topic length. */
export const RECORD_OVERHEAD = 20;
const HEADER = 8;
const MIN_BODY = RECORD_OVERHEAD - HEADER;
const DEFAULT_SEGMENT_BYTES = 256 * 1024;
/** Longer than the default telemetry interval (30 s), so a quiet box saves one ack in two. */
const DEFAULT_ACK_FLUSH_MS = 60_000;
/** The longest delay setTimeout takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const STATE_FILE = 'state.json';
const SEGMENT_RE = /^(\d{16})\.seg$/;
/** While the queue is full, at most one drop warning a minute (a day offline is not 8 000 log lines). */
const DROP_WARNING_INTERVAL_MS = 60_000;

let crcTable: Int32Array | undefined;

/** Table-driven CRC-32 (the zlib/PNG one), same signature as `zlib.crc32` (Node >= 20.15). */
export function crc32Fallback(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~value;
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// A namespace import: a named import of a missing export would fail to link on older Node 20.
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : crc32Fallback;

function recordCrc(record: Buffer, start: number, end: number): number {
  return crc32(record.subarray(start + HEADER, end), crc32(record.subarray(start, start + 4)));
}

interface Entry {
  message: OutboxMessage;
  bytes: number;
}

interface Segment {
  name: string;
  size: number;
  /** Seq of its last record; undefined while it has none. */
  lastSeq: number | undefined;
}

interface PendingAppend {
  topic: string;
  payload: string;
  bytes: number;
  resolve: (message: OutboxMessage) => void;
  reject: (error: Error) => void;
}

interface StateFile {
  version: 1;
  removedThrough: number;
  dropped: number;
}

const segmentName = (firstSeq: number): string => `${String(firstSeq).padStart(16, '0')}.seg`;

/** Parses one segment's bytes: its valid records and the length of the valid prefix. */
function parseSegment(buf: Buffer, afterSeq: number): { entries: Entry[]; validLength: number } {
  const entries: Entry[] = [];
  let off = 0;
  let prev = afterSeq;
  while (buf.length - off >= RECORD_OVERHEAD) {
    const len = buf.readUInt32BE(off);
    const end = off + HEADER + len;
    if (len < MIN_BODY || end > buf.length) break;
    if (recordCrc(buf, off, end) !== buf.readUInt32BE(off + 4)) break;
    const hi = buf.readUInt32BE(off + 8);
    const seq = hi * 2 ** 32 + buf.readUInt32BE(off + 12);
    const topicLength = buf.readUInt32BE(off + 16);
    // A seq beyond 2^53 or not after the previous one, or a topic longer than the body: not ours.
    if (hi >= 2 ** 21 || seq <= prev || topicLength > len - MIN_BODY) break;
    const topicEnd = off + RECORD_OVERHEAD + topicLength;
    const topic = buf.toString('utf8', off + RECORD_OVERHEAD, topicEnd);
    const message = Object.freeze({ seq, topic, payload: buf.toString('utf8', topicEnd, end) });
    entries.push({ message, bytes: HEADER + len });
    prev = seq;
    off = end;
  }
  return { entries, validLength: off };
}

function encode(batch: readonly PendingAppend[], firstSeq: number): Buffer {
  const out = Buffer.allocUnsafe(batch.reduce((sum, p) => sum + p.bytes, 0));
  let off = 0;
  batch.forEach((p, i) => {
    const seq = firstSeq + i;
    const start = off;
    out.writeUInt32BE(p.bytes - HEADER, off);
    out.writeUInt32BE(Math.floor(seq / 2 ** 32), off + 8);
    out.writeUInt32BE(seq >>> 0, off + 12);
    const topicLength = out.write(p.topic, off + RECORD_OVERHEAD, 'utf8');
    out.writeUInt32BE(topicLength, off + 16);
    out.write(p.payload, off + RECORD_OVERHEAD + topicLength, 'utf8');
    off += p.bytes;
    out.writeUInt32BE(recordCrc(out, start, off), start + 4);
  });
  return out;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function delayMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be a delay in ms from 0 to ${MAX_TIMER_MS}, got ${value}`);
  }
  return value;
}

export class Outbox {
  private readonly dir: string;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly ackFlushMs: number;
  private readonly log: Logger;

  /** Queued messages, oldest first, from `first` on (removal from the front without shifting). */
  private entries: Entry[] = [];
  private first = 0;
  private bytes = 0;
  private nextSeq = 1;
  /** Every seq <= head is acked or dropped (in memory); state.json has persistedHead. */
  private head = 0;
  private persistedHead = 0;
  private dropped = 0;
  private persistedDropped = 0;
  private torn = 0;
  /**
   * Set when an ack moved `head` since state.json was last written, with the messages and bytes
   * it took out: open would queue them again. Never set while drops are unsaved (see the class
   * comment); cleared by every state write.
   */
  private acksUnsaved = false;
  private unsavedAckMessages = 0;
  private unsavedAckBytes = 0;
  /** Writes the acks not yet saved; armed by an ack that leaves state.json behind. */
  private flushTimer: NodeJS.Timeout | undefined;

  /** Oldest first; the last one is `active` when it is open for appending. */
  private segments: Segment[] = [];
  private active: (Segment & { fd: FileHandle }) | undefined;

  private pending: PendingAppend[] = [];
  /** Every write to the directory runs in turn on this chain. */
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private lastDropWarningAt = -Infinity;
  private unreportedDrops = 0;

  private constructor(opts: OutboxOptions) {
    this.dir = opts.dir;
    this.maxMessages = positiveInteger('maxMessages', opts.maxMessages);
    this.maxBytes = positiveInteger('maxBytes', opts.maxBytes);
    this.segmentBytes = positiveInteger('segmentBytes', opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    this.fsync = opts.fsync ?? true;
    this.ackFlushMs = delayMs('ackFlushMs', opts.ackFlushMs ?? DEFAULT_ACK_FLUSH_MS);
    this.log = opts.log;
  }

  /** Opens (or creates) the outbox in `opts.dir`, cutting off any damaged tail. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(opts);
    try {
      await outbox.load();
    } catch (e) {
      await outbox.active?.fd.close().catch(() => {});
      throw e;
    }
    return outbox;
  }

  /**
   * Queues a message; resolves once it is on disk (durable unless `fsync: false`). Concurrent
   * calls keep their order and share one write and one fsync. If the queue is then over a cap,
   * the oldest messages are dropped.
   */
  append(topic: string, payload: string): Promise<OutboxMessage> {
    if (this.closed) return Promise.reject(new Error('outbox is closed'));
    const bytes = RECORD_OVERHEAD + Buffer.byteLength(topic, 'utf8') + Buffer.byteLength(payload, 'utf8');
    if (bytes > this.maxBytes) {
      return Promise.reject(new RangeError(`message of ${bytes} bytes exceeds the outbox's maxBytes (${this.maxBytes})`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ topic, payload, bytes, resolve, reject });
      // The first one waiting schedules a write; later ones join its batch until it starts.
      if (this.pending.length === 1) void this.serial(() => this.writePending());
    });
  }

  /** Up to `max` of the oldest queued messages, oldest first; nothing is removed. */
  peek(max: number): OutboxMessage[] {
    const end = Math.min(this.entries.length, this.first + Math.max(0, max));
    const out: OutboxMessage[] = [];
    for (let i = this.first; i < end; i++) out.push(this.entries[i]!.message);
    return out;
  }

  /**
   * Removes every message with seq <= uptoSeq from the queue: `peek()` no longer returns them
   * once this resolves (after the appends already under way). It is saved to disk lazily, within
   * `ackFlushMs` (see the class comment); when it is saved at once (it frees a segment file, drops
   * are unsaved, or `ackFlushMs` is 0), it resolves once that is durable.
   */
  ack(uptoSeq: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('outbox is closed'));
    if (!Number.isSafeInteger(uptoSeq)) return Promise.reject(new RangeError(`uptoSeq must be an integer, got ${uptoSeq}`));
    return this.serial(async () => {
      // Never past the last seq handed out: a later message must not be born acknowledged.
      const target = Math.min(uptoSeq, this.nextSeq - 1);
      if (target <= this.head) return;
      if (this.ackFlushMs === 0 || this.dropped !== this.persistedDropped) {
        // Saved before it takes effect: open must never count an acked message as a drop, so an
        // ack is not left unsaved while drops are (and a failed write leaves the queue as it was).
        await this.persistState(target);
        this.removeThrough(target);
        await this.sweep();
        return;
      }
      const removed = this.removeThrough(target);
      this.acksUnsaved = true;
      this.unsavedAckMessages += removed.messages;
      this.unsavedAckBytes += removed.bytes;
      if (this.freesSegment()) await this.save('outbox: could not save the acks (the freed segment stays for now)');
      else this.scheduleFlush();
    });
  }

  stats(): OutboxStats {
    return { messages: this.entries.length - this.first, bytes: this.bytes, dropped: this.dropped, torn: this.torn };
  }

  /** Finishes the appends already made, saves the acks and the drop count, closes the file. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.closing ??= this.serial(async () => {
      try {
        if (this.head !== this.persistedHead || this.dropped !== this.persistedDropped) await this.persistState(this.head);
      } finally {
        await this.active?.fd.close();
        this.active = undefined;
      }
    });
    return this.closing;
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(job);
    this.tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = (await readdir(this.dir)).sort();
    // Temp files of a state write that a crash interrupted (see writeFileAtomic).
    for (const name of names) if (name.startsWith(`${STATE_FILE}.tmp-`)) await rm(join(this.dir, name), { force: true });
    const state = await this.readState();
    this.head = this.persistedHead = state.removedThrough;
    this.dropped = this.persistedDropped = state.dropped;

    let lastSeq = 0;
    for (const name of names.filter((n) => SEGMENT_RE.test(n))) {
      const path = join(this.dir, name);
      const buf = await readFile(path);
      const { entries, validLength } = parseSegment(buf, lastSeq);
      if (validLength < buf.length) await this.cutDamagedTail(name, validLength, buf.length - validLength);
      for (const entry of entries) {
        if (entry.message.seq <= this.head) continue;
        this.entries.push(entry);
        this.bytes += entry.bytes;
      }
      lastSeq = entries.at(-1)?.message.seq ?? lastSeq;
      this.segments.push({ name, size: validLength, lastSeq: entries.at(-1)?.message.seq });
    }
    this.nextSeq = Math.max(lastSeq, this.head) + 1;

    const last = this.segments.at(-1);
    if (last) this.active = Object.assign(last, { fd: await open(join(this.dir, last.name), 'a') });
    // Caps may be lower than last time, or drops not yet saved when the process died.
    if (this.enforceCaps() > 0) await this.persistState(this.head);
    await this.sweep();
  }

  private async readState(): Promise<StateFile> {
    const path = join(this.dir, STATE_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, removedThrough: 0, dropped: 0 };
      throw e;
    }
    try {
      const state = JSON.parse(text) as Partial<StateFile>;
      const { removedThrough, dropped } = state;
      if (state.version === 1 && Number.isSafeInteger(removedThrough) && Number.isSafeInteger(dropped)) {
        return { version: 1, removedThrough: removedThrough!, dropped: dropped! };
      }
    } catch {
      // reported below
    }
    // Written atomically, so only a damaged card gets here. Opening anyway keeps the unsent
    // messages; acknowledged ones still in a segment are sent again (at least once).
    this.log.error({ event: 'outbox.state_unreadable', path }, 'outbox: state file unreadable, starting from the segments alone');
    return { version: 1, removedThrough: 0, dropped: 0 };
  }

  private async cutDamagedTail(name: string, offset: number, bytes: number): Promise<void> {
    this.torn++;
    this.log.warn({ event: 'outbox.torn_record', segment: name, offset, bytes }, 'outbox: damaged record cut off (interrupted write)');
    // Cut it so that the next appends are not written after bytes that would hide them.
    const handle = await open(join(this.dir, name), 'r+');
    try {
      await handle.truncate(offset);
      if (this.fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private async writePending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // The acked messages not yet saved are still on disk after removedThrough, and open applies
    // the caps to all of it: if this batch takes that over a cap, save the acks first, or after a
    // crash they would be counted as drops.
    if (this.acksUnsaved) {
      const messages = this.entries.length - this.first + this.unsavedAckMessages + batch.length;
      const bytes = this.bytes + this.unsavedAckBytes + batch.reduce((sum, p) => sum + p.bytes, 0);
      if (messages > this.maxMessages || bytes > this.maxBytes) {
        await this.save('outbox: could not save the acks before the queue reached its cap (a crash now may count them as dropped)');
      }
    }
    let seg: Segment & { fd: FileHandle };
    let sizeBefore: number;
    try {
      seg = await this.segmentForAppend();
      sizeBefore = seg.size;
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
      return;
    }
    const firstSeq = this.nextSeq;
    const data = encode(batch, firstSeq);
    try {
      for (let off = 0; off < data.length; ) off += (await seg.fd.write(data, off)).bytesWritten;
      if (this.fsync) await seg.fd.datasync();
    } catch (e) {
      await this.undoFailedWrite(seg, sizeBefore, batch.length);
      for (const p of batch) p.reject(e as Error);
      return;
    }
    seg.size += data.length;
    seg.lastSeq = firstSeq + batch.length - 1;
    this.nextSeq = seg.lastSeq + 1;
    batch.forEach((p, i) => {
      const entry = { message: Object.freeze({ seq: firstSeq + i, topic: p.topic, payload: p.payload }), bytes: p.bytes };
      this.entries.push(entry);
      this.bytes += p.bytes;
      p.resolve(entry.message);
    });
    // Drops are saved lazily (ack, timer, close), unless they free a segment file: after a crash,
    // open applies the caps again to what is on disk and counts the same drops.
    if (this.enforceCaps() > 0 && this.freesSegment()) await this.save('outbox: could not save the drops');
  }

  /** The segment to append to: the open one, or a new one once it is full (or after a failure). */
  private async segmentForAppend(): Promise<Segment & { fd: FileHandle }> {
    if (this.active && this.active.size < this.segmentBytes) return this.active;
    if (this.active) {
      await this.active.fd.close();
      this.active = undefined;
    }
    const name = segmentName(this.nextSeq);
    const fd = await open(join(this.dir, name), 'ax', 0o600);
    const seg = { name, size: 0, lastSeq: undefined, fd };
    this.segments.push(seg);
    this.active = seg;
    // The new file's directory entry must be durable before the records in it can be.
    if (this.fsync) await syncDir(this.dir);
    // The one just closed may be all acked already (a sender keeping up): save that, delete it.
    if (this.freesSegment()) await this.save('outbox: could not save the acks (the freed segment stays for now)');
    else await this.sweep();
    return seg;
  }

  private async undoFailedWrite(seg: Segment & { fd: FileHandle }, size: number, count: number): Promise<void> {
    try {
      await seg.fd.truncate(size);
      if (this.fsync) await seg.fd.datasync();
    } catch (e) {
      // The file may end in part of a record: write no more to it (open will cut that off) and
      // never hand out the seqs that may be in it.
      this.log.error(
        { event: 'outbox.write_failed', segment: seg.name, err: e },
        'outbox: failed write could not be undone, starting a new segment',
      );
      await seg.fd.close().catch(() => {});
      this.active = undefined;
      this.nextSeq += count;
    }
  }

  /** Drops the oldest messages while over a cap; returns how many. */
  private enforceCaps(): number {
    let n = 0;
    while (this.entries.length - this.first > this.maxMessages || this.bytes > this.maxBytes) {
      this.head = this.entries[this.first]!.message.seq;
      this.removeOldest();
      n++;
    }
    if (n === 0) return 0;
    this.dropped += n;
    this.unreportedDrops += n;
    const now = performance.now();
    if (now - this.lastDropWarningAt >= DROP_WARNING_INTERVAL_MS) {
      this.log.warn(
        {
          event: 'outbox.dropped',
          count: this.unreportedDrops,
          total: this.dropped,
          maxMessages: this.maxMessages,
          maxBytes: this.maxBytes,
        },
        'outbox full: dropped the oldest messages',
      );
      this.lastDropWarningAt = now;
      this.unreportedDrops = 0;
    }
    return n;
  }

  /** Takes out every queued message with seq <= `seq`; returns how many and their bytes. */
  private removeThrough(seq: number): { messages: number; bytes: number } {
    const removed = { messages: 0, bytes: 0 };
    while (this.first < this.entries.length && this.entries[this.first]!.message.seq <= seq) {
      removed.messages++;
      removed.bytes += this.removeOldest();
    }
    this.head = Math.max(this.head, seq);
    return removed;
  }

  /** Takes out the oldest queued message; returns its bytes. */
  private removeOldest(): number {
    const { bytes } = this.entries[this.first]!;
    this.bytes -= bytes;
    this.first++;
    // Compact now and then so that removal from the front stays O(1) amortized.
    if (this.first >= 1024 && this.first * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
    return bytes;
  }

  /** Whether a segment other than the open one holds only seqs removed in memory but not in state.json. */
  private freesSegment(): boolean {
    return this.segments.some(
      (s) => s !== this.active && s.lastSeq !== undefined && s.lastSeq > this.persistedHead && s.lastSeq <= this.head,
    );
  }

  /** Arms the timer that saves the acks, unless it is armed already. */
  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.serial(async () => {
        if (this.head !== this.persistedHead || this.dropped !== this.persistedDropped) {
          // Not armed again on failure: the next ack does, and close() saves anyway.
          await this.save('outbox: could not save the acks');
        }
      });
    }, this.ackFlushMs);
    // Nothing to wait for at exit: what is not saved is sent again (at least once).
    this.flushTimer.unref();
  }

  /** Saves the position in memory and deletes the segments that frees; logs a failure. */
  private async save(failure: string): Promise<void> {
    try {
      await this.persistState(this.head);
      await this.sweep();
    } catch (err) {
      this.log.warn({ event: 'outbox.state_write_failed', err }, failure);
    }
  }

  /** Writes state.json; `removedThrough` is never below `head`, so nothing is left unsaved after it. */
  private async persistState(removedThrough: number): Promise<void> {
    const state: StateFile = { version: 1, removedThrough, dropped: this.dropped };
    await writeFileAtomic(join(this.dir, STATE_FILE), `${JSON.stringify(state)}\n`, (err) =>
      this.log.warn({ event: 'outbox.dir_sync_failed', err }, 'outbox: directory fsync failed after a state write'),
    );
    this.persistedHead = removedThrough;
    this.persistedDropped = state.dropped;
    this.acksUnsaved = false;
    this.unsavedAckMessages = 0;
    this.unsavedAckBytes = 0;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Deletes the segments (but the open one) whose records state.json says are all gone. */
  private async sweep(): Promise<void> {
    const kept: Segment[] = [];
    for (const seg of this.segments) {
      if (seg === this.active || (seg.lastSeq !== undefined && seg.lastSeq > this.persistedHead)) {
        kept.push(seg);
        continue;
      }
      try {
        await rm(join(this.dir, seg.name), { force: true });
      } catch (err) {
        this.log.warn({ event: 'outbox.segment_delete_failed', segment: seg.name, err }, 'outbox: could not delete a used segment');
        kept.push(seg);
      }
    }
    this.segments = kept;
  }
}
