import { Gst } from '../../daemon/media/gst.js';
import { delay } from './wait.js';

export interface BufferCounter {
  /** Buffers that went through the pad since the probe was added. */
  count(): number;
  /**
   * Removes the probe, then lets the event loop turn once more. Do this BEFORE the pipeline
   * goes to NULL (engine.stop, an injected fault): a probe callback blocks the streaming thread
   * until the JS thread runs it, so a state change to NULL with a probe attached can deadlock.
   */
  remove(): Promise<void>;
}

/** Counts buffers (and buffer lists, by their length) passing `pad`, with a JS pad probe. */
export function countBuffers(pad: Gst.Pad, onBuffer?: (info: Gst.PadProbeInfo) => void): BufferCounter {
  let count = 0;
  let removed = false;
  const id = pad.addProbe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, (_pad: Gst.Pad, info: Gst.PadProbeInfo) => {
    if (!removed) {
      const list = (info.type & Gst.PadProbeType.BUFFER_LIST) !== 0 ? info.getBufferList() : null;
      count += list ? list.length() : 1;
      onBuffer?.(info);
    }
    return Gst.PadProbeReturn.OK;
  });
  return {
    count: () => count,
    remove: async () => {
      if (removed) return;
      removed = true;
      pad.removeProbe(id);
      await delay(50);
    },
  };
}

/** The named element's static pad, failing loudly (a test asserting on a missing pad is useless). */
export function padOf(pipeline: Gst.Pipeline | null, element: string, pad: 'sink' | 'src'): Gst.Pad {
  const el = pipeline?.getByName(element);
  if (!el) throw new Error(`no element "${element}" in pipeline ${pipeline?.name ?? '(none)'}`);
  const found = el.getStaticPad(pad);
  if (!found) throw new Error(`element "${element}" has no static ${pad} pad`);
  return found;
}
