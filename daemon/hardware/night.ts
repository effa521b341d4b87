import { HHMM_PATTERN } from '../config/schema.js';

/**
 * The night window's arithmetic, on the box's local wall-clock time (its TZ: Asia/Ho_Chi_Minh
 * on the image, which has no daylight saving). Pure: RoomControls owns the timer.
 *
 * A window runs from `from` (included) to `to` (excluded); it wraps midnight when from > to
 * (22:00–05:30) and stays within one day otherwise (01:00–05:00). from == to is no night at
 * all: "the whole day" would turn the TV off at the same minute every day, which nobody means.
 */
export interface NightWindow {
  /** "HH:MM", 24-hour, local time. */
  from: string;
  to: string;
}

const HHMM = new RegExp(HHMM_PATTERN);

/** Minutes since local midnight of an "HH:MM" (the config's pattern guarantees the form). */
function minutesOf(hhmm: string): number {
  if (!HHMM.test(hhmm)) throw new RangeError(`not a time of day (HH:MM, 00:00–23:59): ${JSON.stringify(hhmm)}`);
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Whether `now` (local time) is inside the window. */
export function isNight(now: Date, { from, to }: NightWindow): boolean {
  const start = minutesOf(from);
  const end = minutesOf(to);
  // Seconds count: 21:59:59.5 is still evening, 22:00:00.0 is night.
  const minute = now.getHours() * 60 + now.getMinutes() + (now.getSeconds() * 1000 + now.getMilliseconds()) / 60_000;
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * Milliseconds from `now` to the next start of the window, strictly after `now` (a timer that
 * fires at the start then finds the following one); null when the window is empty (from == to).
 */
export function msUntilNextNightStart(now: Date, window: NightWindow): number | null {
  const start = minutesOf(window.from);
  if (start === minutesOf(window.to)) return null;
  // Built from local fields, so the result is the local "HH:MM", whatever UTC offset applies.
  const next = new Date(now.getFullYear(), now.getMonth(), now.getDate(), Math.floor(start / 60), start % 60);
  if (next.getTime() <= now.getTime()) next.setDate(next.getDate() + 1);
  return next.getTime() - now.getTime();
}
