/**
 * The commune's list of sites, one row per village hall, as the IT officer keeps it in a
 * spreadsheet. Columns by header name (English or Vietnamese, any case, any order):
 *
 *   commune (xa) · village (thon) · name (ten) · group (nhom) — required
 *   id (ma) · wifi_ssid · wifi_password — optional
 *
 * Every problem is reported with its line and column; none stops the check of the others.
 */
import { asciiSlug } from '../daemon/util/slug.js';
import { parseCsv, CsvError } from './csv.js';

export interface Site {
  line: number;
  id: string;
  name: string;
  commune: string;
  village: string;
  group: string;
  wifi: { ssid: string; password?: string } | null;
}

export interface SiteProblem {
  line: number;
  /** 1-based column number and its header; 0 for a problem with the whole row or file. */
  column: number;
  header: string;
  message: string;
}

const COLUMNS = {
  commune: ['commune', 'xa', 'xã'],
  village: ['village', 'thon', 'thôn'],
  name: ['name', 'box_name', 'ten', 'tên'],
  group: ['group', 'nhom', 'nhóm'],
  id: ['id', 'box_id', 'ma', 'mã'],
  wifi_ssid: ['wifi_ssid', 'wifi'],
  wifi_password: ['wifi_password', 'mat_khau_wifi'],
} as const;
type Column = keyof typeof COLUMNS;
const REQUIRED: Column[] = ['commune', 'village', 'name', 'group'];
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function parseSites(text: string): { sites: Site[]; problems: SiteProblem[] } {
  let rows;
  try {
    rows = parseCsv(text);
  } catch (e) {
    if (e instanceof CsvError) return { sites: [], problems: [{ line: e.line, column: 0, header: '', message: e.message.replace(/^line \d+: /, '') }] };
    throw e;
  }
  const [head, ...body] = rows;
  if (!head) return { sites: [], problems: [{ line: 1, column: 0, header: '', message: 'the file is empty: a header row (commune,village,name,group) comes first' }] };
  const index = new Map<Column, number>();
  const problems: SiteProblem[] = [];
  head.fields.forEach((h, i) => {
    const key = h.trim().toLowerCase().replace(/\s+/g, '_');
    const column = (Object.keys(COLUMNS) as Column[]).find((c) => (COLUMNS[c] as readonly string[]).includes(key));
    if (column) index.set(column, i);
    else if (key !== '') problems.push({ line: head.line, column: i + 1, header: h, message: `unknown column "${h}" (known: ${Object.keys(COLUMNS).join(', ')})` });
  });
  for (const c of REQUIRED) if (!index.has(c)) problems.push({ line: head.line, column: 0, header: c, message: `the column "${c}" is missing` });
  if (problems.length > 0) return { sites: [], problems };

  const sites: Site[] = [];
  const seen = new Map<string, number>();
  for (const row of body) {
    const problem = (column: Column, message: string) => {
      const i = index.get(column)!;
      problems.push({ line: row.line, column: i + 1, header: head.fields[i]!, message });
    };
    const get = (column: Column) => (index.has(column) ? (row.fields[index.get(column)!] ?? '').trim() : '');
    const before = problems.length;
    const [commune, village, name, group] = [get('commune'), get('village'), get('name'), get('group')];
    if (name === '') problem('name', 'the box needs a name (what the other halls see)');
    if (name.length > 64) problem('name', 'at most 64 characters');
    if (village.length > 100) problem('village', 'at most 100 characters');
    if (commune.length > 100) problem('commune', 'at most 100 characters');
    if (!ID.test(group)) problem('group', `"${group}" is not a group id: lower-case letters, digits and dashes (e.g. xa-hoa-binh)`);
    let id = get('id');
    // Made from the place when not given: stable across runs, readable in the console.
    if (id === '') id = asciiSlug(`${commune} ${village || name}`) || 'box';
    else if (!ID.test(id)) problem('id', `"${id}" is not a box id: lower-case letters, digits and dashes, at most 63`);
    const ssid = get('wifi_ssid');
    const wifiPassword = get('wifi_password');
    if (ssid !== '' && Buffer.byteLength(ssid) > 32) problem('wifi_ssid', 'a Wi-Fi name is at most 32 bytes');
    if (wifiPassword !== '' && !/^([\x20-\x7e]{8,63}|[0-9a-fA-F]{64})$/.test(wifiPassword)) problem('wifi_password', 'a Wi-Fi password has 8 to 63 characters (no accents)');
    if (wifiPassword !== '' && ssid === '') problem('wifi_password', 'a Wi-Fi password without a Wi-Fi name');
    const first = seen.get(id);
    if (first !== undefined) {
      if (index.has('id') && get('id') !== '') problem('id', `the id "${id}" is already used on line ${first}`);
      else problems.push({ line: row.line, column: 0, header: '', message: `the same commune and village as line ${first} (id "${id}"): give this row an id` });
    }
    if (problems.length > before) continue;
    seen.set(id, row.line);
    sites.push({ line: row.line, id, name, commune, village, group, wifi: ssid ? { ssid, ...(wifiPassword ? { password: wifiPassword } : {}) } : null });
  }
  if (sites.length === 0 && problems.length === 0) problems.push({ line: head.line, column: 0, header: '', message: 'no sites under the header' });
  return { sites, problems };
}

export function formatProblem(p: SiteProblem): string {
  return p.column > 0 ? `line ${p.line}, column ${p.column} (${p.header}): ${p.message}` : `line ${p.line}: ${p.message}`;
}
