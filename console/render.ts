/** Plain-text presentation: tables, colour (a terminal only), times and short value summaries. */

export type Colour = 'red' | 'green' | 'yellow' | 'dim' | 'bold';

const SGR: Record<Colour, number> = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 };

export interface Style {
  readonly color: boolean;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

export function paint(style: Style, colour: Colour | undefined, text: string): string {
  return style.color && colour ? `\u001b[${SGR[colour]}m${text}\u001b[0m` : text;
}

/** Columns a string takes on a terminal: combining marks (Vietnamese tones in NFD) take none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.normalize('NFC')) if (!/\p{M}/u.test(ch)) width++;
  return width;
}

/** At most `max` columns, with an ellipsis when cut; newlines become spaces. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').normalize('NFC');
  if (displayWidth(flat) <= max) return flat;
  let out = '';
  for (const ch of flat) {
    if (displayWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

export type Cell = string | { text: string; colour?: Colour | undefined };

/** A left-aligned table with a header line; two spaces between columns, the last one not padded. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[], style: Style): string {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'string' ? { text: c } : c)));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...cells.map((r) => displayWidth(r[i]?.text ?? ''))));
  const line = (row: readonly { text: string; colour?: Colour | undefined }[]) =>
    row
      .map((c, i) => {
        const pad = i === row.length - 1 ? '' : ' '.repeat(widths[i]! - displayWidth(c.text));
        return paint(style, c.colour, c.text) + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => ({ text: h, colour: 'bold' as const }))), ...cells.map(line)].join('\n');
}

/** `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`; `–` when unknown. */
export function ago(iso: string | null | undefined, now: number): string {
  const at = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(at)) return '–';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** Local wall-clock time `HH:MM:SS` of an ISO time (or of now when it is missing or bad). */
export function clock(iso: string | undefined): string {
  const at = iso ? Date.parse(iso) : NaN;
  const d = new Date(Number.isFinite(at) ? at : Date.now());
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** An object as `key=value key=value` (nested values as JSON), anything else as JSON; cut to `max`. */
export function compact(value: unknown, max = 80): string {
  if (value === undefined) return '';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return truncate(JSON.stringify(value), max);
  const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return truncate(parts.join(' '), max);
}

/** Where a subcommand writes: results on `out` (stdout), diagnostics on `err` (stderr). */
export interface Output {
  readonly style: Style;
  /** One or more lines; a newline is added. */
  out(text: string): void;
  err(text: string): void;
}
