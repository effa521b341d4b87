/** Just enough JPEG parsing to check a snapshot: markers, and the frame size from the SOF. */

export interface JpegInfo {
  /** 0xc0 baseline, 0xc1 extended, 0xc2 progressive. */
  sof: number;
  width: number;
  height: number;
  components: number;
}

/**
 * Walks the marker segments from SOI to the first SOF and reads its size. Throws if the data
 * does not start with SOI (FF D8), does not end with EOI (FF D9), or has no SOF before SOS.
 */
export function parseJpeg(data: Uint8Array): JpegInfo {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) throw new Error('not a JPEG: no SOI (FF D8) at the start');
  if (data[data.length - 2] !== 0xff || data[data.length - 1] !== 0xd9) throw new Error('truncated JPEG: no EOI (FF D9) at the end');
  let i = 2;
  while (i + 4 <= data.length) {
    if (data[i] !== 0xff) throw new Error(`JPEG marker expected at byte ${i}`);
    const marker = data[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = (data[i + 2]! << 8) | data[i + 3]!;
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        sof: marker,
        height: (data[i + 5]! << 8) | data[i + 6]!,
        width: (data[i + 7]! << 8) | data[i + 8]!,
        components: data[i + 9]!,
      };
    }
    if (marker === 0xda) break; // SOS: entropy-coded data follows, no SOF was seen
    i += 2 + length;
  }
  throw new Error('JPEG has no SOF segment before the image data');
}
