/**
 * nmcli's terse output (`--terse`, escaping on, its default): fields separated by `:`, a `:` or
 * `\` inside a value written `\:` and `\\` (nmcli(1), --escape). Tabular mode is one line per
 * row; multiline mode (`device show`) is `NAME:value` lines, one block per device, blocks
 * separated by an empty line, list values as `IP4.ADDRESS[1]`, `IP4.ADDRESS[2]`, and values
 * not escaped (test/fixtures/nmcli shows both).
 */

/** One terse line split into its fields, escapes undone. */
export function splitTerse(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      field += line[++i];
    } else if (c === ':') {
      fields.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}

/** Tabular terse output: a row per non-empty line, by the field names asked for. */
export function parseTable<F extends string>(output: string, fields: readonly F[]): Array<Record<F, string>> {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const values = splitTerse(line);
      return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? ''])) as Record<F, string>;
    });
}

/** Multiline terse output: a map per block, each name to its values (`X[1]`, `X[2]` gathered under `X`). */
export function parseBlocks(output: string): Array<Map<string, string[]>> {
  const blocks: Array<Map<string, string[]>> = [];
  let block: Map<string, string[]> | null = null;
  for (const line of output.split('\n')) {
    if (line.trim() === '') {
      block = null;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    // Names hold no colon; the value is the rest of the line, unescaped in this mode (a MAC
    // address reads GENERAL.HWADDR:13:E0:74:85:7C:D9).
    const name = line.slice(0, colon).replace(/\[\d+\]$/, '');
    const value = line.slice(colon + 1);
    if (!block) blocks.push((block = new Map()));
    block.set(name, [...(block.get(name) ?? []), value]);
  }
  return blocks;
}
