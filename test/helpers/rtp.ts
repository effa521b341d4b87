/** RTP (RFC 3550) headers and H.264 payloads (RFC 6184), as far as the tests need them. */

export interface RtpPacket {
  version: number;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtp(data: Buffer): RtpPacket {
  if (data.length < 12) throw new Error(`RTP packet too short: ${data.length} bytes`);
  const version = data[0]! >> 6;
  if (version !== 2) throw new Error(`not RTP version 2: ${version}`);
  const padding = (data[0]! & 0x20) !== 0;
  const extension = (data[0]! & 0x10) !== 0;
  const csrcCount = data[0]! & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (extension) {
    if (data.length < offset + 4) throw new Error('RTP header extension truncated');
    offset += 4 + 4 * data.readUInt16BE(offset + 2);
  }
  const end = padding ? data.length - data[data.length - 1]! : data.length;
  if (end < offset) throw new Error('RTP padding or header longer than the packet');
  return {
    version,
    marker: (data[1]! & 0x80) !== 0,
    payloadType: data[1]! & 0x7f,
    sequence: data.readUInt16BE(2),
    timestamp: data.readUInt32BE(4),
    ssrc: data.readUInt32BE(8),
    payload: data.subarray(offset, end),
  };
}

export const NAL = { IDR: 5, SEI: 6, SPS: 7, PPS: 8, STAP_A: 24, FU_A: 28 } as const;

/**
 * The NAL unit types that start in an H.264 RTP payload: a single NAL unit gives its type; a
 * STAP-A (24) the types of all its aggregated units; an FU-A (28) its inner type, but only in
 * the fragment with the start bit (continuations start nothing).
 */
export function h264NalTypes(payload: Buffer): number[] {
  if (payload.length < 1) return [];
  const type = payload[0]! & 0x1f;
  if (type >= 1 && type <= 23) return [type];
  if (type === NAL.STAP_A) {
    const types: number[] = [];
    let i = 1;
    while (i + 2 < payload.length) {
      const size = payload.readUInt16BE(i);
      if (size === 0 || i + 2 + size > payload.length) break;
      types.push(payload[i + 2]! & 0x1f);
      i += 2 + size;
    }
    return types;
  }
  if (type === NAL.FU_A) {
    if (payload.length < 2) return [];
    const start = (payload[1]! & 0x80) !== 0;
    return start ? [payload[1]! & 0x1f] : [];
  }
  return [];
}

/** Whether this RTP payload starts (part of) an IDR picture. */
export function startsIdr(payload: Buffer): boolean {
  return h264NalTypes(payload).includes(NAL.IDR);
}

/**
 * Follows an H.264 RTP stream frame by frame: a frame ends at the packet with the marker bit.
 * `onFrame` gets each completed frame's number (from 1) and whether it held an IDR slice.
 */
export class H264FrameTracker {
  frames = 0;
  private idrInFrame = false;

  constructor(private readonly onFrame: (frame: number, idr: boolean) => void = () => {}) {}

  push(packet: RtpPacket): void {
    if (startsIdr(packet.payload)) this.idrInFrame = true;
    if (packet.marker) {
      this.frames++;
      const idr = this.idrInFrame;
      this.idrInFrame = false;
      this.onFrame(this.frames, idr);
    }
  }
}
