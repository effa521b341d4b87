import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gst, GstVideo } from '../../daemon/media/gst.js';

export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');

export interface GrayFrame {
  width: number;
  height: number;
  /** Bytes per row (GStreamer pads GRAY8 rows to 4 bytes). */
  stride: number;
  luma: Uint8Array;
}

/** The last frame a sink (with enable-last-sample, the default) saw, or null if none yet. */
export function lastSample(sink: Gst.Element | null): Gst.Sample | null {
  return (sink as (Gst.Element & { lastSample: Gst.Sample | null }) | null)?.lastSample ?? null;
}

function convert(sample: Gst.Sample, caps: string): Uint8Array {
  const converted = GstVideo.videoConvertSample(sample, Gst.Caps.fromString(caps)!, 2_000_000_000);
  const buffer = converted.getBuffer();
  if (!buffer) throw new Error(`conversion to ${caps} gave no buffer`);
  return Uint8Array.from(buffer.extractDup(0, Number(buffer.getSize())) as unknown as number[]);
}

/** The sample as 8-bit luma at the given size. */
export function grayFrame(sample: Gst.Sample, width: number, height: number): GrayFrame {
  const luma = convert(sample, `video/x-raw,format=GRAY8,width=${width},height=${height},pixel-aspect-ratio=1/1`);
  return { width, height, stride: luma.length / height, luma };
}

/** The sample as RGB (3 bytes a pixel, rows padded to 4 bytes). */
export function rgbFrame(sample: Gst.Sample, width: number, height: number): { stride: number; rgb: Uint8Array } {
  const rgb = convert(sample, `video/x-raw,format=RGB,width=${width},height=${height},pixel-aspect-ratio=1/1`);
  return { stride: rgb.length / height, rgb };
}

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function meanLuma(f: GrayFrame, r: Region): number {
  let sum = 0;
  for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) sum += f.luma[y * f.stride + x]!;
  return sum / (r.width * r.height);
}

/** The mean R, G, B over a region of an RGB frame. */
export function meanRgb(f: { stride: number; rgb: Uint8Array }, r: Region): [number, number, number] {
  const sum = [0, 0, 0];
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) for (let c = 0; c < 3; c++) sum[c]! += f.rgb[y * f.stride + x * 3 + c]!;
  }
  const n = r.width * r.height;
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

/** The share (0..1) of pixels in a region whose luma differs by more than `threshold` levels. */
export function changedShare(a: GrayFrame, b: GrayFrame, r: Region, threshold: number): number {
  let changed = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const i = y * a.stride + x;
      if (Math.abs(a.luma[i]! - b.luma[y * b.stride + x]!) > threshold) changed++;
    }
  }
  return changed / (r.width * r.height);
}

/** Writes the sample as a PNG into test-artifacts/ for a person to look at; returns the path. */
export async function savePng(sample: Gst.Sample, width: number, height: number, name: string): Promise<string> {
  const png = convert(sample, `image/png,width=${width},height=${height}`);
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await writeFile(path, png);
  return path;
}
