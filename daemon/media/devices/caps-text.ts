/**
 * Reads the text form of GStreamer caps and structures ("video/x-raw, width=(int)640, …; image/jpeg, …")
 * as printed by gst-device-monitor-1.0 and Gst.Caps.toString(). Working on text keeps device
 * description free of node-gtk, so it runs in the main process and in tests against fixtures.
 */
export interface TextStructure {
  name: string;
  fields: Record<string, string>;
}

/** Splits on `sep` where it is not inside braces, brackets, parentheses or quotes. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && (c === '{' || c === '[' || c === '(' || c === '<')) depth++;
    else if (!quoted && (c === '}' || c === ']' || c === ')' || c === '>')) depth--;
    else if (!quoted && depth === 0 && c === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Drops GStreamer type annotations: `(int)640` → `640`, `{ (fraction)30/1, … }` keeps the list. */
function stripTypes(value: string): string {
  return value.replace(/\((?:string|int|fraction|boolean|uint|guint64|double|float|bitmask)\)/g, '').trim();
}

function unquote(value: string): string {
  return value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
}

export function parseStructure(text: string): TextStructure {
  const [name = '', ...rest] = splitTopLevel(text.replace(/;\s*$/, ''), ',');
  const fields: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    fields[part.slice(0, eq).trim()] = unquote(stripTypes(part.slice(eq + 1)));
  }
  return { name: name.trim(), fields };
}

export function parseCaps(text: string): TextStructure[] {
  if (text.trim() === '' || text.trim() === 'EMPTY' || text.trim() === 'NONE') return [];
  return splitTopLevel(text, ';').map(parseStructure);
}

/** All the values a field allows: `640` → [640]; `{ 30/1, 15/1 }` → [30, 15]; `[ 1, 1920 ]` → [1, 1920]. */
export function numbersOf(value: string | undefined): number[] {
  if (value === undefined) return [];
  return value
    .replace(/[{}[\]]/g, '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0)
    .map((v) => {
      const [num, den] = v.split('/').map(Number);
      return den ? (num ?? 0) / den : (num ?? NaN);
    })
    .filter((n) => Number.isFinite(n));
}
