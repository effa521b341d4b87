import { EdidError, formatMode, parseEdid, supportedModes, videoMode, type Edid, type VideoMode } from './edid.js';

/**
 * The Pi decodes and composes at 1080p at most: a larger output only makes the Pi upscale what
 * the TV would upscale as well, at the cost of memory bandwidth the call needs.
 */
export const MAX_OUTPUT = { width: 1920, height: 1080 } as const;

/** 720p60: what every HDMI TV takes, for when the TV does not say what it takes. */
export const SAFE_DEFAULT_MODE: VideoMode = { width: 1280, height: 720, refreshHz: 60, interlaced: false };

export interface OutputModeChoice {
  mode: VideoMode;
  /** Why, in words, for the log and the `state` report. */
  reason: string;
}

/** What the box makes of one TV: its parsed EDID (or why there is none) and the mode chosen. */
export interface TvOutput {
  edid: Edid | null;
  edidProblem: string | null;
  choice: OutputModeChoice;
}

/** Sizes worth driving, best first; only at 50 or 60 Hz, the rates a call's video plays well at. */
const HD_SIZES = [
  { width: 1920, height: 1080 },
  { width: 1280, height: 720 },
] as const;

/** The EDID bytes from sysfs (null or empty when the TV sent none) to a mode and its reason. */
export function outputForEdid(bytes: Uint8Array | null): TvOutput {
  if (!bytes || bytes.length === 0) return { edid: null, edidProblem: 'no EDID', choice: chooseOutputMode(null, 'no EDID') };
  try {
    const edid = parseEdid(bytes);
    return { edid, edidProblem: null, choice: chooseOutputMode(edid) };
  } catch (e) {
    if (!(e instanceof EdidError)) throw e;
    return { edid: null, edidProblem: e.message, choice: chooseOutputMode(null, e.message) };
  }
}

/**
 * The output mode for a TV: its preferred mode when that is 1080p or 720p at 50/60 Hz; else
 * 1080p, else 720p, at the preferred mode's rate family when the TV takes it; else the preferred
 * mode if it fits in 1080p; else the largest listed mode that does. Never above 1080p. Without an
 * EDID (some HDMI switches and old AV receivers pass none), 720p60, and `noEdid` says why.
 */
export function chooseOutputMode(edid: Edid | null, noEdid = 'no EDID'): OutputModeChoice {
  if (!edid) return { mode: SAFE_DEFAULT_MODE, reason: `${noEdid}: ${formatMode(SAFE_DEFAULT_MODE)} as a safe default` };

  const preferred = edid.preferred;
  if (preferred && isHdAtTvRate(preferred)) return { mode: videoMode(preferred), reason: `the TV's preferred mode, ${formatMode(preferred)}` };

  const modes = supportedModes(edid);
  const preferredText = preferred ? `its preferred mode is ${formatMode(preferred)}` : 'it gives no preferred mode';
  const rates = preferred && isNear(preferred.refreshHz, 50) ? [50, 60] : [60, 50];
  for (const size of HD_SIZES) {
    for (const rate of rates) {
      const found = modes.find((m) => !m.interlaced && m.width === size.width && m.height === size.height && isNear(m.refreshHz, rate));
      if (found) return { mode: found, reason: `${formatMode(found)}, the largest the Pi composes that the TV takes (${preferredText})` };
    }
  }

  if (preferred && fits(preferred)) {
    return { mode: videoMode(preferred), reason: `the TV takes neither 1080p nor 720p at 50/60 Hz: its preferred mode, ${formatMode(preferred)}` };
  }
  const largest = modes.filter(fits).sort(byLargest)[0];
  if (largest) return { mode: largest, reason: `the TV takes neither 1080p nor 720p at 50/60 Hz: ${formatMode(largest)}, the largest it lists within 1080p (${preferredText})` };
  return { mode: SAFE_DEFAULT_MODE, reason: `the TV lists no mode within 1080p (${preferredText}): ${formatMode(SAFE_DEFAULT_MODE)} as a safe default` };
}

function isHdAtTvRate(mode: VideoMode): boolean {
  return !mode.interlaced && HD_SIZES.some((s) => s.width === mode.width && s.height === mode.height) && (isNear(mode.refreshHz, 60) || isNear(mode.refreshHz, 50));
}

/** 59.94 counts as 60 (NTSC-derived rates), 49.95 as 50. */
function isNear(refreshHz: number, rate: number): boolean {
  return Math.abs(refreshHz - rate) < 0.5;
}

function fits(mode: VideoMode): boolean {
  return mode.width <= MAX_OUTPUT.width && mode.height <= MAX_OUTPUT.height;
}

/** Progressive before interlaced, then the larger picture, then the rate nearer 60 Hz. */
function byLargest(a: VideoMode, b: VideoMode): number {
  return Number(a.interlaced) - Number(b.interlaced) || b.width * b.height - a.width * a.height || Math.abs(a.refreshHz - 60) - Math.abs(b.refreshHz - 60);
}
