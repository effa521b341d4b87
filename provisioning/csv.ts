/**
 * CSV as spreadsheets write it (RFC 4180): fields in double quotes may hold commas, line breaks
 * and doubled quotes; CRLF or LF line ends; a UTF-8 byte-order mark (Excel's "CSV UTF-8") is
 * dropped. Each row keeps the line it starts on, so a problem can be reported where a person
 * will look for it.
 */

export interface CsvRow {
  /** 1-based line in the file where the row starts. */
  line: number;
  fields: string[];
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export function parseCsv(text: string): CsvRow[] {
  const src = text.replace(/^\uFEFF/, '');
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let quoteLine = 0;
  let fieldStarted = false;
  const endRow = () => {
    fields.push(field);
    // A blank line is no row (a spreadsheet's trailing empty lines).
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      quoteLine = line;
      fieldStarted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\r' && src[i + 1] === '\n') {
      continue;
    } else if (c === '\n') {
      endRow();
      line++;
      rowLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new CsvError(quoteLine, 'a quoted field is never closed (a " is missing)');
  if (field !== '' || fields.length > 0 || fieldStarted) endRow();
  return rows;
}
