/**
 * Reading the microphone's measurements: the `level` element's messages, and the loudest
 * sample of a recording. Pure functions, so they are tested without GStreamer.
 */

export interface MicrophoneLevel {
  /** Loudness over the last interval, dBFS (−∞ … 0; silence is below −60). */
  rmsDb: number;
  /** The loudest sample of the interval, dBFS. */
  peakDb: number;
}

/** Digital silence reads −∞ (−700 or so from `level`); the meter stops at this. */
export const SILENCE_DB = -100;

/**
 * The level of a `level` element message, from its serialised structure
 * (`level, …, rms=(GValueArray)< -9.03 >, peak=(GValueArray)< -6.02 >, …`; one value per
 * channel, the loudest taken). Reading the GValueArray through introspection is clumsier than
 * this text, which GStreamer has written the same way since 1.0. Null if it is not one.
 */
export function parseLevelMessage(text: string): MicrophoneLevel | null {
  if (!text.startsWith('level,')) return null;
  const rms = loudest(text, 'rms');
  const peak = loudest(text, 'peak');
  if (rms === null || peak === null) return null;
  return { rmsDb: rms, peakDb: peak };
}

function loudest(text: string, field: string): number | null {
  const match = new RegExp(`[ ,]${field}=\\(GValueArray\\)< ([^>]*) >`).exec(text);
  if (!match) return null;
  // Digital silence is written "-inf".
  const values = match[1]!.split(',').map((v) => (v.trim() === '-inf' ? SILENCE_DB : Number(v.trim())));
  if (values.length === 0 || values.some((v) => Number.isNaN(v))) return null;
  return round1(Math.max(SILENCE_DB, ...values));
}

/** The loudest sample of a 16-bit PCM WAV file, dBFS; SILENCE_DB for silence or no samples. */
export function wavPeakDb(wav: Buffer): number {
  // The samples follow the "data" chunk header: find it rather than assume a 44-byte header.
  const data = wav.indexOf('data', 12, 'latin1');
  if (data < 0) return SILENCE_DB;
  let peak = 0;
  for (let i = data + 8; i + 1 < wav.length; i += 2) peak = Math.max(peak, Math.abs(wav.readInt16LE(i)));
  return peak === 0 ? SILENCE_DB : round1(Math.max(SILENCE_DB, 20 * Math.log10(peak / 32768)));
}

const round1 = (v: number) => Math.round(v * 10) / 10;
