/**
 * Small SVG building blocks for the TV screens: escaped text, word wrap by estimated width, a
 * QR code as one path. The media worker renders the SVG (librsvg through gdk-pixbuf), so fonts
 * come from fontconfig: Noto Sans, with DejaVu Sans behind it; both carry Vietnamese.
 */
import qrcode from 'qrcode-generator';

export const FONT = "'Noto Sans', 'DejaVu Sans', sans-serif";
/**
 * Average advance of a character in Noto Sans, in em: ~0.52 regular, ~0.56 bold (Vietnamese
 * lower case measured). Used to wrap and fit text without a layout engine; a little generous
 * so that an estimate never runs off the screen.
 */
const EM_PER_CHAR = { normal: 0.55, bold: 0.6 } as const;

export type Weight = keyof typeof EM_PER_CHAR;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function textWidth(text: string, size: number, weight: Weight = 'normal'): number {
  return [...text].length * size * EM_PER_CHAR[weight];
}

export interface TextStyle {
  size: number;
  fill: string;
  weight?: Weight;
  anchor?: 'start' | 'middle' | 'end';
}

/** One line of text with its baseline at (x, y). */
export function text(x: number, y: number, content: string, s: TextStyle): string {
  const weight = s.weight === 'bold' ? ' font-weight="bold"' : '';
  const anchor = s.anchor && s.anchor !== 'start' ? ` text-anchor="${s.anchor}"` : '';
  return `<text x="${r(x)}" y="${r(y)}" font-family="${FONT}" font-size="${r(s.size)}" fill="${s.fill}"${weight}${anchor}>${escapeXml(content)}</text>`;
}

/**
 * Two languages on one line: the Vietnamese first and bright, the English after it, paler.
 * Both at `size` or larger: legibility from the back of the hall is the point. No-break spaces
 * around the dot: SVG collapses ordinary ones, and librsvg drops them at a tspan's start.
 */
export function bilingual(x: number, y: number, vi: string, en: string, s: TextStyle & { enFill: string }): string {
  const weight = s.weight === 'bold' ? ' font-weight="bold"' : '';
  const anchor = s.anchor && s.anchor !== 'start' ? ` text-anchor="${s.anchor}"` : '';
  return (
    `<text x="${r(x)}" y="${r(y)}" font-family="${FONT}" font-size="${r(s.size)}" fill="${s.fill}"${weight}${anchor}>` +
    `${escapeXml(vi)}\u00a0\u00a0<tspan fill="${s.enFill}" font-weight="normal">·\u00a0\u00a0${escapeXml(en)}</tspan></text>`
  );
}

/** Words into lines no wider than `maxWidth`; a word longer than a line is cut. */
export function wrap(content: string, size: number, maxWidth: number, weight: Weight = 'normal'): string[] {
  const perLine = Math.max(1, Math.floor(maxWidth / (size * EM_PER_CHAR[weight])));
  const lines: string[] = [];
  for (const paragraph of content.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      let rest = word;
      while ([...rest].length > perLine) {
        if (line) lines.push(line);
        lines.push([...rest].slice(0, perLine).join(''));
        rest = [...rest].slice(perLine).join('');
        line = '';
      }
      const candidate = line ? `${line} ${rest}` : rest;
      if ([...candidate].length <= perLine) line = candidate;
      else {
        lines.push(line);
        line = rest;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** At most `max` lines; the last one kept ends with an ellipsis when some were cut. */
export function clampLines(lines: string[], max: number): string[] {
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  kept[max - 1] = `${kept[max - 1]!.replace(/\s*\S{0,3}$/, '')}…`;
  return kept;
}

/** The largest size from `sizes` (largest first) at which `content` fits `maxWidth` on one line. */
export function fitSize(content: string, sizes: number[], maxWidth: number, weight: Weight = 'normal'): number {
  return sizes.find((s) => textWidth(content, s, weight) <= maxWidth) ?? sizes.at(-1)!;
}

/** Cuts `content` with an ellipsis to fit `maxWidth` at `size`. */
export function ellipsize(content: string, size: number, maxWidth: number, weight: Weight = 'normal'): string {
  const chars = [...content];
  const fits = Math.floor(maxWidth / (size * EM_PER_CHAR[weight]));
  return chars.length <= fits ? content : `${chars.slice(0, Math.max(1, fits - 1)).join('')}…`;
}

/**
 * A QR code `size` pixels square at (x, y), dark on white with the 4-module quiet zone the
 * standard asks for (phones fail without it on a dark screen). Level M: a TV's glare and a
 * phone held across the hall lose some modules.
 */
export function qrCode(x: number, y: number, size: number, data: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(data, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  const cell = size / (n + 2 * quiet);
  let path = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) if (qr.isDark(row, col)) path += `M${col + quiet} ${row + quiet}h1v1h-1z`;
  }
  return (
    `<rect x="${r(x)}" y="${r(y)}" width="${r(size)}" height="${r(size)}" fill="#ffffff"/>` +
    `<path transform="translate(${r(x)} ${r(y)}) scale(${cell.toFixed(4)})" d="${path}" fill="#000000" shape-rendering="crispEdges"/>`
  );
}

/** An SVG document of the given pixel size. */
export function svgDocument(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body.join('')}</svg>`;
}

export function r(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
