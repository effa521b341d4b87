/**
 * Frame stamps (`media.frameStamps`): a measurement aid for bench/call.ts, never on a real box.
 *
 * The simulated camera draws a QR code into each sent frame (debugqroverlay, pipelines.ts)
 * holding the frame's pts and the camera pipeline's base time, so capture = base + pts on the
 * camera pipeline's clock. The far end's playout reads it with zbar from the frames the screen
 * sink gets (a cropped branch beside the sink: pipelines.ts) and this module pairs it with the
 * time the sink shows that frame: its base time + the frame's running time + the sink's latency
 * (exact for a frame that reaches the sink in time; a late one is shown when it arrives, later
 * than that). Both pipelines run on GstSystemClock, CLOCK_MONOTONIC, which every process on the
 * machine shares (and Node's process.hrtime too), so the two times come from two worker
 * processes yet compare directly.
 *
 * The pairs leave as one log line a second on the worker's stdout, which is the daemon's:
 * no IPC message, no status field, nothing the daemon itself has to know about.
 */
import type GstBase from '@girs/node-gstbase-1.0';
import { Gst } from './gst.js';
import type { MediaEngine } from './engine.js';
import { FRAME_STAMP, FRAME_STAMP_BASE_KEY } from './pipelines.js';
import type { Logger } from '../log.js';

/** The `event` of the log line; bench/call.ts and the test look for it. */
export const FRAME_STAMPS_EVENT = 'media.frame_stamps';

/** [frame number at the sender, capture, display, seen]: ms on CLOCK_MONOTONIC, to the µs. */
export type FrameStampSample = [frame: number, captureMs: number, displayMs: number, seenMs: number];

/**
 * The log record. `displayMs` is when the screen sink shows the frame (it waits for that time).
 * `seenMs` is when this worker's JS got zbar's message, after zbar read the frame and before or
 * after the sink showed it: a seen time after the display time means the frame may have reached
 * the sink late, and then was shown between the two.
 */
export interface FrameStampRecord {
  event: typeof FRAME_STAMPS_EVENT;
  samples: FrameStampSample[];
  /** The screen sink's latency (the pipeline's: jitter buffer, decoder, lip sync …), ms. */
  sinkLatencyMs: number;
  /**
   * Frames read again, left out of `samples`: the compositor repeats the last picture when the
   * far end's next one is not there in time (a freeze, however short).
   */
  repeats: number;
}

/** Frame number and capture time (ns) in a stamp's text, or null for any other code. */
export function parseFrameStamp(symbol: string): { frame: number; captureNs: bigint } | null {
  const pts = /"TIMESTAMP":(\d+)/.exec(symbol)?.[1];
  const frame = /"BUFFERCOUNT":(\d+)/.exec(symbol)?.[1];
  const base = new RegExp(`"${FRAME_STAMP_BASE_KEY}":"(\\d+)"`).exec(symbol)?.[1];
  // No base: a camera pipeline this module did not prepare (it started before the watch).
  if (pts === undefined || frame === undefined || base === undefined) return null;
  return { frame: Number(frame), captureNs: BigInt(base) + BigInt(pts) };
}

/** node-gtk gives clock times as BigInt; the generated types say number. */
const ns = (value: unknown): bigint => BigInt(value as bigint);
const ms = (value: bigint): number => Math.round(Number(value) / 1e3) / 1e3;

/**
 * Gives the camera pipeline a base time of our choosing before it plays, and writes it into the
 * stamp: set now, before any frame exists, the overlay's extra data is never changed under its
 * streaming thread (debugqroverlay does not lock it). Returns false for a pipeline without a
 * stamp (a real camera, the slate).
 */
function prepareCamera(pipeline: Gst.Pipeline, clock: Gst.Clock): boolean {
  const stamp = pipeline.getByName(FRAME_STAMP);
  if (!stamp) return false;
  // The sim source offers no clock of its own: this only makes the system clock certain.
  pipeline.useClock(clock);
  // Start time NONE: GStreamer then keeps the base time it is given instead of choosing one.
  pipeline.setStartTime(Gst.CLOCK_TIME_NONE);
  const base = ns(clock.getTime());
  pipeline.setBaseTime(base as unknown as number);
  // Assigned, not setProperty: node-gtk's setProperty takes no plain string for a plugin's own class.
  (stamp as Gst.Element & { extraDataArray: string }).extraDataArray = String(base);
  return true;
}

/** A zbar message at the screen as a sample, or null (another code, another message). */
function readStamp(engine: MediaEngine, msg: Gst.Message, clock: Gst.Clock): { sample: FrameStampSample; latencyNs: bigint } | null {
  const seen = ns(clock.getTime());
  const structure = msg.getStructure();
  if (structure?.getName() !== 'barcode') return null;
  const stamp = parseFrameStamp(structure.getString('symbol') ?? '');
  const [ok, running] = structure.getUint64('running-time') as [boolean, unknown];
  const playout = engine.pipelineObject('playout');
  const sink = playout?.getByName('screen') as GstBase.BaseSink | null | undefined;
  if (!stamp || !ok || !playout || !sink) return null;
  // The sink shows a frame at base time + running time + latency (+ render delay, 0 here).
  const latencyNs = ns(sink.getLatency()) + ns(sink.getRenderDelay());
  let display = ns(playout.getBaseTime()) + ns(running) + latencyNs;
  // On a box the playout may run on an audio sink's clock: carried over by the clocks' offset now.
  const own = playout.getClock();
  if (own && own !== clock) display += ns(clock.getTime()) - ns(own.getTime());
  return { sample: [stamp.frame, ms(stamp.captureNs), ms(display), ms(seen)], latencyNs };
}

/**
 * Prepares every camera pipeline started from now on and logs the far end's stamps read at the
 * screen, batched once every `everyMs`. Call after engine.start() and before the camera starts
 * (the worker holds a loopback's sending back until then). Returns a function that stops it.
 */
export function watchFrameStamps(engine: MediaEngine, log: Logger, everyMs = 1000): () => void {
  const clock = Gst.SystemClock.obtain();
  let samples: FrameStampSample[] = [];
  let latencyNs = 0n;
  let repeats = 0;
  /** The newest capture time read: a frame shown first is the latency; shown again, a repeat. */
  let newest = -Infinity;
  const offs = [
    engine.supervisor('camera').on('started', (pipeline) => {
      if (prepareCamera(pipeline, clock)) log.debug('frame stamps on the camera picture');
    }),
    engine.supervisor('playout').on('element', (msg) => {
      const read = readStamp(engine, msg, clock);
      if (!read) return;
      if (read.sample[1] <= newest) {
        repeats++;
        return;
      }
      newest = read.sample[1];
      samples.push(read.sample);
      latencyNs = read.latencyNs;
    }),
  ];
  const flush = () => {
    if (samples.length === 0 && repeats === 0) return;
    const record: FrameStampRecord = { event: FRAME_STAMPS_EVENT, samples, sinkLatencyMs: ms(latencyNs), repeats };
    samples = [];
    repeats = 0;
    log.info(record, 'frame stamps');
  };
  const timer = setInterval(flush, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    flush();
    for (const off of offs) off();
  };
}
