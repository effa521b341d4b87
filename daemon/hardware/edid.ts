/**
 * EDID, what a TV says about itself over HDMI's DDC wire, as the kernel exposes it in
 * /sys/class/drm/cardN-HDMI-A-M/edid: a 128-byte base block (VESA E-EDID 1.3/1.4) and, on a TV,
 * CTA-861 extension blocks of 128 bytes each. Only what choosing an output mode and naming the
 * TV need is read; edid-decode prints the rest.
 */

export interface VideoMode {
  width: number;
  /** Lines of the whole frame, also when interlaced (1080 for 1080i). */
  height: number;
  /** Frames a second, or fields a second when interlaced; two decimals (59.94). */
  refreshHz: number;
  interlaced: boolean;
}

/** A Detailed Timing Descriptor: a mode given by its timings rather than by a code. */
export interface DetailedTiming extends VideoMode {
  pixelClockKHz: number;
}

/** One entry of a CTA-861 Video Data Block. */
export interface ShortVideoDescriptor {
  vic: number;
  /** The TV marks its panel's own format(s) native. */
  native: boolean;
  /** null for a VIC outside the table below (odd pixel-repeated or 8K formats). */
  mode: VideoMode | null;
}

export interface Edid {
  /** "1.3" or "1.4". */
  version: string;
  /** Three-letter PNP id: "SAM", "GSM" (LG), "SNY". */
  manufacturerId: string;
  productCode: number;
  /** The Display Product Name descriptor (0xFC), e.g. "SAMSUNG"; null when the TV gives none. */
  productName: string | null;
  /** The first detailed timing, which EDID 1.3 and 1.4 make the preferred mode. */
  preferred: DetailedTiming | null;
  /** Every detailed timing, base block first, then the CTA blocks'. */
  detailedTimings: DetailedTiming[];
  establishedTimings: VideoMode[];
  standardTimings: VideoMode[];
  shortVideoDescriptors: ShortVideoDescriptor[];
  /** Extension blocks left out (bad checksum, cut short), in words for the log. */
  warnings: string[];
}

export type EdidProblem = 'EDID_TOO_SHORT' | 'EDID_BAD_HEADER' | 'EDID_BAD_VERSION' | 'EDID_BAD_CHECKSUM';

/** A base block that cannot be trusted; `code` says why. */
export class EdidError extends Error {
  constructor(
    readonly code: EdidProblem,
    message: string,
  ) {
    super(message);
    this.name = 'EdidError';
  }
}

const BLOCK = 128;
const HEADER = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
const CTA_EXTENSION_TAG = 0x02;
const CTA_VIDEO_DATA_BLOCK = 2;
const DESCRIPTOR_SIZE = 18;
const PRODUCT_NAME_TAG = 0xfc;

/**
 * Parses an EDID as the kernel gives it. Throws EdidError when the base block is short, has no
 * EDID header or a bad checksum; a broken extension block is only left out (the kernel does the
 * same), with a warning.
 */
export function parseEdid(bytes: Uint8Array): Edid {
  if (bytes.length < BLOCK) throw new EdidError('EDID_TOO_SHORT', `EDID of ${bytes.length} bytes, a base block has ${BLOCK}`);
  if (HEADER.some((b, i) => bytes[i] !== b)) throw new EdidError('EDID_BAD_HEADER', 'EDID does not start with the 00 FF FF FF FF FF FF 00 header');
  if (!checksumOk(bytes, 0)) throw new EdidError('EDID_BAD_CHECKSUM', 'EDID base block checksum is wrong (the bytes do not add up to 0 mod 256)');
  if (bytes[18] !== 1) throw new EdidError('EDID_BAD_VERSION', `EDID version ${bytes[18]}.${bytes[19]}, only 1.x is read`);

  const base = baseDescriptors(bytes);
  const extensions = ctaExtensions(bytes);
  return {
    version: `${bytes[18]}.${bytes[19]}`,
    manufacturerId: manufacturerId(bytes[8]!, bytes[9]!),
    productCode: bytes[10]! | (bytes[11]! << 8),
    productName: base.productName,
    preferred: base.timings[0] ?? null,
    detailedTimings: [...base.timings, ...extensions.timings],
    establishedTimings: establishedTimings(bytes),
    standardTimings: standardTimings(bytes),
    shortVideoDescriptors: extensions.svds,
    warnings: extensions.warnings,
  };
}

/** Bytes 54–125: four 18-byte descriptors, each a detailed timing or a display descriptor (tag in byte 3). */
function baseDescriptors(bytes: Uint8Array): { timings: DetailedTiming[]; productName: string | null } {
  const timings: DetailedTiming[] = [];
  let productName: string | null = null;
  for (let slot = 0; slot < 4; slot++) {
    const at = 54 + slot * DESCRIPTOR_SIZE;
    if (isTimingDescriptor(bytes, at)) {
      const timing = detailedTiming(bytes, at);
      if (timing) timings.push(timing);
    } else if (bytes[at + 3] === PRODUCT_NAME_TAG) {
      productName = descriptorText(bytes, at);
    }
  }
  return { timings, productName };
}

/** The CTA-861 blocks among the extensions byte 126 announces; other kinds (block map, DisplayID) are skipped. */
function ctaExtensions(bytes: Uint8Array): { svds: ShortVideoDescriptor[]; timings: DetailedTiming[]; warnings: string[] } {
  const svds: ShortVideoDescriptor[] = [];
  const timings: DetailedTiming[] = [];
  const warnings: string[] = [];
  const announced = bytes[126]!;
  const present = Math.floor(bytes.length / BLOCK) - 1;
  if (present < announced) warnings.push(`EDID announces ${announced} extension blocks, ${present} arrived`);
  for (let n = 1; n <= Math.min(announced, present); n++) {
    const start = n * BLOCK;
    if (bytes[start] !== CTA_EXTENSION_TAG) continue;
    if (!checksumOk(bytes, start)) {
      warnings.push(`CTA-861 extension block ${n} left out: bad checksum`);
      continue;
    }
    const cta = parseCtaBlock(bytes, start);
    if (cta.problem) warnings.push(`CTA-861 extension block ${n}: ${cta.problem}`);
    svds.push(...cta.svds);
    timings.push(...cta.timings);
  }
  return { svds, timings, warnings };
}

/** What events and the state report carry of an EDID: who the TV is and what it prefers. */
export interface EdidSummary {
  /** The product name, else manufacturer and product code ("SAM 0x0c01"). */
  name: string;
  manufacturerId: string;
  productCode: number;
  preferred: VideoMode | null;
  vics: number[];
  nativeVics: number[];
}

export function summarizeEdid(edid: Edid): EdidSummary {
  return {
    name: edid.productName ?? `${edid.manufacturerId} 0x${edid.productCode.toString(16).padStart(4, '0')}`,
    manufacturerId: edid.manufacturerId,
    productCode: edid.productCode,
    preferred: edid.preferred ? videoMode(edid.preferred) : null,
    vics: edid.shortVideoDescriptors.map((svd) => svd.vic),
    nativeVics: edid.shortVideoDescriptors.filter((svd) => svd.native).map((svd) => svd.vic),
  };
}

/** Every mode the TV lists, preferred first, once each. */
export function supportedModes(edid: Edid): VideoMode[] {
  const all = [
    ...(edid.preferred ? [edid.preferred] : []),
    ...edid.detailedTimings,
    ...edid.shortVideoDescriptors.flatMap((svd) => (svd.mode ? [svd.mode] : [])),
    ...edid.standardTimings,
    ...edid.establishedTimings,
  ];
  const seen = new Map<string, VideoMode>();
  for (const m of all) {
    const key = formatMode(m);
    if (!seen.has(key)) seen.set(key, videoMode(m));
  }
  return [...seen.values()];
}

/** Only the mode of a detailed timing (no pixel clock): the shape events and the state report carry. */
export function videoMode(m: VideoMode): VideoMode {
  return { width: m.width, height: m.height, refreshHz: m.refreshHz, interlaced: m.interlaced };
}

/** "1920x1080@60", "1920x1080i@50", "1366x768@59.79". */
export function formatMode(mode: VideoMode): string {
  return `${mode.width}x${mode.height}${mode.interlaced ? 'i' : ''}@${round2(mode.refreshHz)}`;
}

function checksumOk(bytes: Uint8Array, start: number): boolean {
  let sum = 0;
  for (let at = start; at < start + BLOCK; at++) sum += bytes[at]!;
  return (sum & 0xff) === 0;
}

/** Three 5-bit letters, 1 = A, big-endian with the top bit reserved. */
function manufacturerId(high: number, low: number): string {
  const word = (high << 8) | low;
  return [10, 5, 0].map((shift) => letter((word >> shift) & 0x1f)).join('');
}

function letter(code: number): string {
  return code >= 1 && code <= 26 ? String.fromCharCode(64 + code) : '?';
}

/** An 18-byte descriptor is a timing when its pixel clock (first two bytes) is not zero. */
function isTimingDescriptor(bytes: Uint8Array, at: number): boolean {
  return bytes[at] !== 0 || bytes[at + 1] !== 0;
}

/**
 * Byte layout of a Detailed Timing Descriptor: pixel clock in 10 kHz units (little-endian),
 * then active and blanking pixels and lines as 8 low bits plus a nibble of high bits; byte 17
 * bit 7 marks interlace, where the lines given are those of one field.
 */
function detailedTiming(bytes: Uint8Array, at: number): DetailedTiming | null {
  const b = (i: number) => bytes[at + i]!;
  const pixelClockKHz = (b(0) | (b(1) << 8)) * 10;
  const hActive = b(2) | ((b(4) & 0xf0) << 4);
  const hBlank = b(3) | ((b(4) & 0x0f) << 8);
  const vActive = b(5) | ((b(7) & 0xf0) << 4);
  const vBlank = b(6) | ((b(7) & 0x0f) << 8);
  const interlaced = (b(17) & 0x80) !== 0;
  const hTotal = hActive + hBlank;
  const vTotal = vActive + vBlank;
  if (hActive === 0 || vActive === 0 || hTotal === 0 || vTotal === 0) return null;
  // An interlaced frame is two fields plus half a line each (1080i: 2 × 562 + 1 = 1125 lines).
  const refreshHz = interlaced ? (2 * pixelClockKHz * 1000) / (hTotal * (2 * vTotal + 1)) : (pixelClockKHz * 1000) / (hTotal * vTotal);
  return { width: hActive, height: interlaced ? vActive * 2 : vActive, refreshHz: round2(refreshHz), interlaced, pixelClockKHz };
}

/** The 13 text bytes of a display descriptor, ended by a line feed and padded with spaces. */
function descriptorText(bytes: Uint8Array, at: number): string | null {
  let text = '';
  for (let k = at + 5; k < at + DESCRIPTOR_SIZE; k++) {
    const c = bytes[k]!;
    if (c === 0x0a || c === 0x00) break;
    text += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return text.trim() || null;
}

const p = (width: number, height: number, refreshHz: number): VideoMode => ({ width, height, refreshHz, interlaced: false });
const i = (width: number, height: number, refreshHz: number): VideoMode => ({ width, height, refreshHz, interlaced: true });

/** Bytes 35–37, bit 7 of byte 35 first: the VESA/IBM/Apple modes of the CRT era. */
const ESTABLISHED: readonly VideoMode[] = [
  p(720, 400, 70), p(720, 400, 88), p(640, 480, 60), p(640, 480, 67), p(640, 480, 72), p(640, 480, 75), p(800, 600, 56), p(800, 600, 60),
  p(800, 600, 72), p(800, 600, 75), p(832, 624, 75), i(1024, 768, 87), p(1024, 768, 60), p(1024, 768, 70), p(1024, 768, 75), p(1280, 1024, 75),
  p(1152, 870, 75),
];

function establishedTimings(bytes: Uint8Array): VideoMode[] {
  return ESTABLISHED.filter((_, n) => (bytes[35 + (n >> 3)]! & (0x80 >> (n & 7))) !== 0);
}

/**
 * Bytes 38–53, eight pairs: width = (first + 31) × 8; second byte bits 7–6 the aspect ratio
 * (16:10, 4:3, 5:4, 16:9; 1:1 before EDID 1.3), bits 5–0 the refresh rate − 60. 01 01 is unused.
 */
function standardTimings(bytes: Uint8Array): VideoMode[] {
  const modes: VideoMode[] = [];
  const aspects: readonly (readonly [number, number])[] = [bytes[19]! < 3 ? [1, 1] : [16, 10], [4, 3], [5, 4], [16, 9]];
  for (let at = 38; at < 54; at += 2) {
    const first = bytes[at]!;
    const second = bytes[at + 1]!;
    if (first <= 0x01) continue;
    const width = (first + 31) * 8;
    const [w, h] = aspects[second >> 6]!;
    modes.push(p(width, Math.round((width * h) / w), (second & 0x3f) + 60));
  }
  return modes;
}

/**
 * The CTA-861 VICs a box in a village hall meets: SD, HD, Full HD and 4K. Nominal rates: a TV
 * that takes 60 Hz also takes 59.94. VICs 6, 7, 21, 22 travel as 1440 pixels, each sent twice.
 */
const VIC_MODES: ReadonlyMap<number, VideoMode> = new Map([
  [1, p(640, 480, 60)], [2, p(720, 480, 60)], [3, p(720, 480, 60)],
  [4, p(1280, 720, 60)], [5, i(1920, 1080, 60)], [6, i(720, 480, 60)], [7, i(720, 480, 60)],
  [16, p(1920, 1080, 60)], [17, p(720, 576, 50)], [18, p(720, 576, 50)], [19, p(1280, 720, 50)],
  [20, i(1920, 1080, 50)], [21, i(720, 576, 50)], [22, i(720, 576, 50)],
  [31, p(1920, 1080, 50)], [32, p(1920, 1080, 24)], [33, p(1920, 1080, 25)], [34, p(1920, 1080, 30)],
  [60, p(1280, 720, 24)], [61, p(1280, 720, 25)], [62, p(1280, 720, 30)],
  [63, p(1920, 1080, 120)], [64, p(1920, 1080, 100)],
  [93, p(3840, 2160, 24)], [94, p(3840, 2160, 25)], [95, p(3840, 2160, 30)], [96, p(3840, 2160, 50)], [97, p(3840, 2160, 60)],
  [98, p(4096, 2160, 24)], [99, p(4096, 2160, 25)], [100, p(4096, 2160, 30)], [101, p(4096, 2160, 50)], [102, p(4096, 2160, 60)],
  // 103–107: the 3840x2160 rates again, for a 64:27 picture.
  [103, p(3840, 2160, 24)], [104, p(3840, 2160, 25)], [105, p(3840, 2160, 30)], [106, p(3840, 2160, 50)], [107, p(3840, 2160, 60)],
  [117, p(3840, 2160, 100)], [118, p(3840, 2160, 120)],
]);

/** The timings of a VIC, or null when it is not in the table. */
export function vicMode(vic: number): VideoMode | null {
  return VIC_MODES.get(vic) ?? null;
}

/**
 * A short video descriptor: 1–64 plain, 129–192 the VIC (byte − 128) marked native; 65–127 and
 * 193–255 are VICs as they stand (CTA-861-F gave the top bit to VICs above 192).
 */
function shortVideoDescriptor(byte: number): ShortVideoDescriptor | null {
  if ((byte & 0x7f) === 0) return null;
  const plain = ((byte - 1) & 0x40) !== 0;
  const vic = plain ? byte : byte & 0x7f;
  return { vic, native: !plain && (byte & 0x80) !== 0, mode: vicMode(vic) };
}

/**
 * A CTA-861 extension: byte 2 is where its detailed timings start (data blocks sit between byte 4
 * and there; 0 means neither); each data block opens with tag (bits 7–5) and length (bits 4–0).
 */
function parseCtaBlock(bytes: Uint8Array, start: number): { svds: ShortVideoDescriptor[]; timings: DetailedTiming[]; problem?: string } {
  const svds: ShortVideoDescriptor[] = [];
  const timings: DetailedTiming[] = [];
  const dtdOffset = bytes[start + 2]!;
  if (dtdOffset === 0) return { svds, timings };
  if (dtdOffset < 4 || dtdOffset > BLOCK - 1) return { svds, timings, problem: `detailed timings said to start at byte ${dtdOffset}` };

  let problem: string | undefined;
  for (let at = start + 4; at < start + dtdOffset; ) {
    const tag = bytes[at]! >> 5;
    const length = bytes[at]! & 0x1f;
    if (at + 1 + length > start + dtdOffset) {
      problem = `a data block runs past byte ${dtdOffset}`;
      break;
    }
    if (tag === CTA_VIDEO_DATA_BLOCK) {
      for (let k = at + 1; k <= at + length; k++) {
        const svd = shortVideoDescriptor(bytes[k]!);
        if (svd) svds.push(svd);
      }
    }
    at += 1 + length;
  }
  // The last byte is the checksum, so a descriptor must end by byte 126.
  for (let at = start + dtdOffset; at + DESCRIPTOR_SIZE <= start + BLOCK - 1 && isTimingDescriptor(bytes, at); at += DESCRIPTOR_SIZE) {
    const timing = detailedTiming(bytes, at);
    if (timing) timings.push(timing);
  }
  return problem ? { svds, timings, problem } : { svds, timings };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
