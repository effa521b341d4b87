/**
 * What the TV shows, as SVG drawn over the compositor's picture: one pure function per screen,
 * from a view (what the box knows) and the output size to layers the media worker renders.
 * Vietnamese first, English second and paler; no text smaller than 1/25 of the screen height,
 * the size a cadre reads from the back of a hall.
 */
import type { ScreenArt, ScreenLayer } from '../media/types.js';
import { bilingual, clampLines, ellipsize, fitSize, qrCode, svgDocument, text, textWidth, wrap, r } from './svg.js';

export interface FrameSize {
  width: number;
  height: number;
}

export interface Site {
  /** The box's own name (device.name). */
  name: string;
  village: string;
  commune: string;
}

export interface SetupAccess {
  /** What a person types, e.g. "http://192.168.1.20:8080". */
  address: string;
  /** What the QR code opens: the address with the code in it. */
  link: string;
  /** The one-time code the setup page asks for, six digits. */
  code: string;
}

export type LinkState = 'ok' | 'down';
export type BrokerState = 'online' | 'offline' | 'not-configured';
export type CallQuality = 'good' | 'poor' | 'audio-only';

export type ScreenView =
  | {
      kind: 'idle';
      site: Site;
      now: Date;
      network: LinkState;
      broker: BrokerState;
      nextMeeting: { title: string; startsAt: Date } | null;
      setup: SetupAccess | null;
    }
  | { kind: 'connecting'; site: Site; peer: string | null }
  /** Another hall calls and the box asks before answering (calls.answer = 'ask'). */
  | { kind: 'ringing'; site: Site; peer: string }
  | {
      kind: 'call';
      /** Who holds the floor (the far end's name in a two-hall call); null: nobody named. */
      speaker: string | null;
      micMuted: boolean;
      quality: CallQuality;
      /** A fleet message during the call: a band at the top, the meeting stays visible. */
      notice: string | null;
    }
  | { kind: 'message'; site: Site; text: string; now: Date }
  | { kind: 'identify'; site: Site; boxId: string }
  /** The camera's picture fills the screen (the setup page's preview); a band says why. */
  | { kind: 'preview' }
  | { kind: 'error'; site: Site; problem: ScreenProblem; boxId: string; setup: SetupAccess | null; hotspot?: HotspotInfo | null };

/** The setup hotspot as the TV tells it: its name, its password, the text of its Wi-Fi QR code. */
export interface HotspotInfo {
  ssid: string;
  password: string;
  qr: string;
}

/** What needs a person: said on the TV with what to do about it. */
export type ScreenProblem = 'no-network' | 'broker-refused';

export type SlateKind = 'no-camera' | 'muted';

const COLORS = {
  idle: '#0b2545',
  panel: '#13315c',
  text: '#ffffff',
  en: '#b8c4d6',
  accent: '#ffd166',
  ok: '#3ddc84',
  bad: '#ff5a5f',
  warn: '#ffb020',
  error: '#6b1d1d',
  identify: '#ffd166',
  dark: '#10151c',
  shade: '#000000',
} as const;

const WEEKDAYS = ['Chủ nhật', 'Thứ Hai', 'Thứ Ba', 'Thứ Tư', 'Thứ Năm', 'Thứ Sáu', 'Thứ Bảy'];

const two = (n: number) => String(n).padStart(2, '0');
export const clockText = (d: Date) => `${two(d.getHours())}:${two(d.getMinutes())}`;
export const dateText = (d: Date) => `${WEEKDAYS[d.getDay()]}, ${two(d.getDate())}/${two(d.getMonth() + 1)}/${d.getFullYear()}`;
/** "482913" → "482 913": two groups read out more easily across a room. */
export const spacedCode = (code: string) => (code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code);

/** Text sizes for a screen height: `small` is the floor, 1/25 of the height. */
export function textSizes(height: number) {
  const small = Math.ceil(height / 25);
  return { small, body: Math.round(small * 1.15), large: Math.round(small * 1.5), title: Math.round(small * 2.2), huge: Math.round(small * 3) };
}

/** The art for a view at an output size. */
export function renderScreen(view: ScreenView, size: FrameSize): ScreenArt {
  switch (view.kind) {
    case 'idle':
      return full('idle', size, idleScreen(view, size));
    case 'connecting':
      return full('connecting', size, connectingScreen(view, size));
    case 'ringing':
      return full('ringing', size, ringingScreen(view, size));
    case 'call':
      return { name: 'call', layers: callLayers(view, size) };
    case 'message':
      return full('message', size, messageScreen(view, size));
    case 'identify':
      return full('identify', size, identifyScreen(view, size));
    case 'error':
      return full(`error:${view.problem}`, size, errorScreen(view, size));
    case 'preview':
      return { name: 'preview', layers: [topBand(['Xem thử camera: chỉnh cho thấy cả bàn chủ tọa', 'Camera preview: frame the head table'], size)] };
  }
}

/** The picture sent and shown in the self-view when there is no camera picture. */
export function renderSlate(kind: SlateKind, size: FrameSize): string {
  const t = textSizes(size.height);
  const cx = size.width / 2;
  const cy = size.height * 0.42;
  const [vi, en] = kind === 'muted' ? ['Camera đang tắt', 'Camera off'] : ['Không có camera', 'No camera'];
  return svgDocument(size.width, size.height, [
    cameraOffIcon(cx, cy - t.large * 1.6, t.large * 2.4),
    text(cx, cy + t.large * 1.2, vi, { size: t.large, fill: COLORS.text, weight: 'bold', anchor: 'middle' }),
    text(cx, cy + t.large * 1.2 + t.body * 1.5, en, { size: t.body, fill: COLORS.en, anchor: 'middle' }),
  ]);
}

// --- screens --------------------------------------------------------------------------------

function full(name: string, size: FrameSize, body: string[]): ScreenArt {
  return { name, layers: [{ svg: svgDocument(size.width, size.height, body), x: 0, y: 0 }] };
}

const margin = (size: FrameSize) => Math.round(size.height * 0.05);

function background(size: FrameSize, fill: string): string {
  return `<rect width="${size.width}" height="${size.height}" fill="${fill}"/>`;
}

/** Village (or the box's name) big, commune under it, at the top left. */
function siteHeading(site: Site, size: FrameSize, maxWidth: number, fill: string = COLORS.text): string[] {
  const t = textSizes(size.height);
  const m = margin(size);
  const first = site.village || site.name;
  const titleSize = fitSize(first, [t.title, t.large, t.body], maxWidth, 'bold');
  const out = [text(m, m + titleSize, ellipsize(first, titleSize, maxWidth, 'bold'), { size: titleSize, fill, weight: 'bold' })];
  const second = site.village ? site.commune : '';
  if (second) out.push(text(m, m + titleSize + t.large * 1.35, ellipsize(second, t.large, maxWidth), { size: t.large, fill }));
  return out;
}

function idleScreen(v: Extract<ScreenView, { kind: 'idle' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const m = margin(size);
  const { width: w, height: h } = size;
  const body = [background(size, COLORS.idle), ...siteHeading(v.site, size, w * 0.62)];
  // Clock, top right.
  body.push(text(w - m, m + t.huge * 0.9, clockText(v.now), { size: t.huge, fill: COLORS.text, weight: 'bold', anchor: 'end' }));
  body.push(text(w - m, m + t.huge * 0.9 + t.body * 1.5, dateText(v.now), { size: t.body, fill: COLORS.en, anchor: 'end' }));
  // Status rows.
  const rows: Array<[string, string, string]> = [
    v.network === 'ok' ? [COLORS.ok, 'Mạng: đã kết nối', 'Network: connected'] : [COLORS.bad, 'Mạng: mất kết nối', 'Network: down'],
    v.broker === 'online'
      ? [COLORS.ok, 'Máy chủ xã: trực tuyến', 'Commune server: online']
      : v.broker === 'offline'
        ? [COLORS.bad, 'Máy chủ xã: chưa kết nối', 'Commune server: offline']
        : [COLORS.warn, 'Máy chủ xã: chưa cài đặt', 'Commune server: not set up'],
  ];
  let y = h * 0.34;
  for (const [color, vi, en] of rows) {
    body.push(`<circle cx="${r(m + t.body * 0.35)}" cy="${r(y - t.body * 0.35)}" r="${r(t.body * 0.32)}" fill="${color}"/>`);
    body.push(bilingual(m + t.body * 1.1, y, vi, en, { size: t.body, fill: COLORS.text, enFill: COLORS.en }));
    y += t.body * 1.6;
  }
  if (v.nextMeeting) {
    const when = `${clockText(v.nextMeeting.startsAt)} ${dateText(v.nextMeeting.startsAt)}`;
    body.push(bilingual(m, y, 'Cuộc họp tới', 'Next meeting', { size: t.small, fill: COLORS.accent, enFill: COLORS.en }));
    y += t.body * 1.3;
    body.push(text(m, y, ellipsize(`${v.nextMeeting.title} — ${when}`, t.body, w - 2 * m), { size: t.body, fill: COLORS.text }));
  }
  if (v.setup) body.push(...setupPanel(v.setup, size, h * 0.6));
  return body;
}

/** The setup address, the one-time code and a QR code that opens the page with it. */
function setupPanel(setup: SetupAccess, size: FrameSize, top: number): string[] {
  const t = textSizes(size.height);
  return qrPanel(size, top, 4, setup.link, [
    { vi: 'Cài đặt hộp tại', en: 'Set up this box at', size: t.small, fill: COLORS.accent, at: 0.8 },
    { vi: setup.address, size: t.large, fill: COLORS.text, at: 1.8 },
    { vi: 'Mã cài đặt', en: 'Setup code', size: t.small, fill: COLORS.accent, at: 2.8 },
    // The big code sits a little lower: clear of the line above, for the eye and for OCR.
    { vi: spacedCode(setup.code), size: t.title, fill: COLORS.text, at: 3.85 },
  ]);
}

interface PanelRow {
  vi: string;
  /** English after it, smaller; none: the line alone, shortened to fit. */
  en?: string;
  size: number;
  fill: string;
  /** The baseline, in slots from the top (default: the row's index + 0.85). */
  at?: number;
}

/** A panel at the bottom of the screen: bold rows on the left, one per slot, a QR code on the right. */
function qrPanel(size: FrameSize, top: number, slots: number, qr: string, rows: PanelRow[]): string[] {
  const t = textSizes(size.height);
  const m = margin(size);
  const { width: w, height: h } = size;
  const panelHeight = h - m - top;
  const pad = Math.round(t.small * 0.6);
  const qrSize = panelHeight - 2 * pad;
  const maxWidth = w - 2 * m - qrSize - 3 * pad;
  const x = m + pad;
  const step = (panelHeight - 2 * pad) / slots;
  return [
    `<rect x="${m}" y="${r(top)}" width="${w - 2 * m}" height="${r(panelHeight)}" rx="${r(t.small * 0.5)}" fill="${COLORS.panel}"/>`,
    ...rows.map((row, i) => {
      const y = top + pad + step * (row.at ?? i + 0.85);
      return row.en === undefined
        ? text(x, y, ellipsize(row.vi, row.size, maxWidth, 'bold'), { size: row.size, fill: row.fill, weight: 'bold' })
        : bilingual(x, y, row.vi, row.en, { size: row.size, fill: row.fill, weight: 'bold', enFill: COLORS.en });
    }),
    qrCode(w - m - pad - qrSize, top + pad, qrSize, qr),
  ];
}

function connectingScreen(v: Extract<ScreenView, { kind: 'connecting' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const cx = size.width / 2;
  const cy = size.height * 0.45;
  const body = [
    background(size, COLORS.idle),
    ...siteHeading(v.site, size, size.width * 0.9),
    text(cx, cy, 'Đang kết nối…', { size: t.title, fill: COLORS.text, weight: 'bold', anchor: 'middle' }),
    text(cx, cy + t.large * 1.5, 'Connecting…', { size: t.large, fill: COLORS.en, anchor: 'middle' }),
  ];
  if (v.peer) {
    const peer = ellipsize(v.peer, t.large, size.width * 0.8, 'bold');
    body.push(text(cx, cy + t.large * 3.4, peer, { size: t.large, fill: COLORS.accent, weight: 'bold', anchor: 'middle' }));
  }
  return body;
}

function ringingScreen(v: Extract<ScreenView, { kind: 'ringing' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const cx = size.width / 2;
  const maxWidth = size.width * 0.9;
  const y = size.height * 0.36;
  return [
    background(size, COLORS.idle),
    ...siteHeading(v.site, size, maxWidth),
    bilingual(cx, y, 'Cuộc gọi đến', 'Incoming call', { size: t.large, fill: COLORS.text, weight: 'bold', enFill: COLORS.en, anchor: 'middle' }),
    text(cx, y + t.title * 1.5, ellipsize(v.peer, t.large, maxWidth, 'bold'), { size: t.large, fill: COLORS.accent, weight: 'bold', anchor: 'middle' }),
    text(cx, size.height * 0.78, 'Bấm OK trên điều khiển TV để trả lời', { size: t.large, fill: COLORS.text, weight: 'bold', anchor: 'middle' }),
    text(cx, size.height * 0.78 + t.body * 1.6, 'Press OK on the TV remote to answer', { size: t.body, fill: COLORS.en, anchor: 'middle' }),
  ];
}

/** Over the meeting: the floor and the box's own state bottom left, a message band on top. */
function callLayers(v: Extract<ScreenView, { kind: 'call' }>, size: FrameSize): ScreenLayer[] {
  const t = textSizes(size.height);
  const m = Math.round(size.height / 40); // the self-view's margin
  const pad = Math.round(t.small * 0.4);
  const rowHeight = Math.round(t.body * 1.45);
  const layers: ScreenLayer[] = [];
  // Left of the self-view (a quarter of the width at the bottom right), and no wider than its
  // text: every pixel of a layer is blended into every frame (bench/screen.ts).
  const maxWidth = Math.round(size.width * 0.7) - 2 * m;
  const rows: string[] = [];
  let widest = 0;
  const rowY = (i: number) => pad + rowHeight * i + t.body * 1.05;
  const iconRow = (icon: (cx: number, cy: number, size: number) => string, vi: string, en: string, fill: string) => {
    const y = rowY(rows.length);
    widest = Math.max(widest, t.body * 1.1 + textWidth(vi, t.body, 'bold') + textWidth(`  ·  ${en}`, t.body));
    rows.push(icon(pad + t.body * 0.4, y - t.body * 0.38, t.body) + bilingual(pad + t.body * 1.1, y, vi, en, { size: t.body, fill, weight: 'bold', enFill: COLORS.en }));
  };
  if (v.speaker) {
    const line = ellipsize(`Đang phát biểu: ${v.speaker}`, t.body, maxWidth - 2 * pad, 'bold');
    widest = Math.max(widest, textWidth(line, t.body, 'bold'));
    rows.push(text(pad, rowY(rows.length), line, { size: t.body, fill: COLORS.text, weight: 'bold' }));
  }
  if (v.micMuted) iconRow(micOffIcon, 'Micrô đang tắt', 'Mic off', COLORS.text);
  if (v.quality !== 'good') {
    const [vi, en] = v.quality === 'audio-only' ? ['Chỉ còn tiếng (mạng yếu)', 'Audio only'] : ['Đường truyền yếu', 'Poor connection'];
    iconRow(warningIcon, vi, en, COLORS.warn);
  }
  if (rows.length > 0) {
    const width = Math.min(maxWidth, Math.ceil(widest + 2 * pad));
    const height = 2 * pad + rowHeight * rows.length;
    layers.push({
      svg: svgDocument(width, height, [shade(width, height, pad), ...rows]),
      x: m,
      y: size.height - height - m,
    });
  }
  if (v.notice) layers.push(topBand(clampLines(wrap(v.notice, t.body, size.width - 2 * m - 2 * pad, 'bold'), 3), size));
  return layers;
}

/** Lines centred in a shaded band at the top, as wide as its text: a message over a picture. */
function topBand(lines: string[], size: FrameSize): ScreenLayer {
  const t = textSizes(size.height);
  const m = Math.round(size.height / 40);
  const pad = Math.round(t.small * 0.4);
  const rowHeight = Math.round(t.body * 1.45);
  const shown = lines.map((line) => ellipsize(line, t.body, size.width - 2 * m - 2 * pad, 'bold'));
  const width = Math.min(size.width - 2 * m, Math.ceil(Math.max(...shown.map((l) => textWidth(l, t.body, 'bold'))) + 2 * pad));
  const height = 2 * pad + rowHeight * shown.length;
  return {
    svg: svgDocument(width, height, [
      shade(width, height, pad),
      ...shown.map((line, i) => text(width / 2, pad + rowHeight * i + t.body * 1.05, line, { size: t.body, fill: COLORS.accent, weight: 'bold', anchor: 'middle' })),
    ]),
    x: Math.round((size.width - width) / 2),
    y: m,
  };
}

function messageScreen(v: Extract<ScreenView, { kind: 'message' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const m = margin(size);
  const { width: w, height: h } = size;
  const body = [background(size, COLORS.dark), bilingual(m, m + t.large, 'Thông báo', 'Notice', { size: t.large, fill: COLORS.accent, weight: 'bold', enFill: COLORS.en })];
  body.push(text(w - m, m + t.large, clockText(v.now), { size: t.large, fill: COLORS.en, anchor: 'end' }));
  // The largest size at which the message fits the middle of the screen.
  const room = h - 2 * m - t.large * 2 - t.body * 2;
  let size2 = t.title;
  let lines = wrap(v.text, size2, w - 2 * m, 'bold');
  for (const candidate of [t.title, t.large, t.body, t.small]) {
    size2 = candidate;
    lines = wrap(v.text, candidate, w - 2 * m, 'bold');
    if (lines.length * candidate * 1.3 <= room) break;
  }
  lines = clampLines(lines, Math.max(1, Math.floor(room / (size2 * 1.3))));
  let y = m + t.large * 2 + size2;
  for (const line of lines) {
    body.push(text(m, y, line, { size: size2, fill: COLORS.text, weight: 'bold' }));
    y += size2 * 1.3;
  }
  const site = [v.site.village, v.site.commune].filter(Boolean).join(', ') || v.site.name;
  body.push(text(m, h - m, ellipsize(site, t.small, w - 2 * m), { size: t.small, fill: COLORS.en }));
  return body;
}

function identifyScreen(v: Extract<ScreenView, { kind: 'identify' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const cx = size.width / 2;
  const maxWidth = size.width * 0.9;
  const nameSize = fitSize(v.site.name, [t.huge, t.title, t.large], maxWidth, 'bold');
  const site = [v.site.village, v.site.commune].filter(Boolean).join(', ');
  const y = size.height * 0.45;
  const body = [
    background(size, COLORS.identify),
    bilingual(cx, size.height * 0.2, 'Hộp này là', 'This box is', { size: t.body, fill: COLORS.dark, enFill: '#5a4a1a', anchor: 'middle' }),
    text(cx, y, ellipsize(v.site.name, nameSize, maxWidth, 'bold'), { size: nameSize, fill: COLORS.dark, weight: 'bold', anchor: 'middle' }),
  ];
  if (site) body.push(text(cx, y + t.large * 1.6, ellipsize(site, t.large, maxWidth), { size: t.large, fill: COLORS.dark, anchor: 'middle' }));
  body.push(bilingual(cx, size.height * 0.82, `Mã hộp: ${v.boxId}`, 'Box ID', { size: t.body, fill: COLORS.dark, enFill: '#5a4a1a', anchor: 'middle' }));
  return body;
}

const PROBLEMS: Record<ScreenProblem, { vi: string; en: string; hintVi: string; hintEn: string }> = {
  'no-network': {
    vi: 'Không có mạng',
    en: 'No network',
    hintVi: 'Kiểm tra dây mạng hoặc Wi-Fi của hộp và bộ phát mạng.',
    hintEn: "Check the box's network cable or Wi-Fi, and the router.",
  },
  'broker-refused': {
    vi: 'Máy chủ xã từ chối hộp này',
    en: 'The commune server refused this box',
    hintVi: 'Báo cán bộ CNTT của xã: tên đăng nhập hoặc mật khẩu của hộp đã sai.',
    hintEn: "Tell the commune IT officer: the box's login is wrong.",
  },
};

function errorScreen(v: Extract<ScreenView, { kind: 'error' }>, size: FrameSize): string[] {
  const t = textSizes(size.height);
  const m = margin(size);
  const { width: w, height: h } = size;
  const p = PROBLEMS[v.problem];
  const icon = t.title * 1.3;
  const x = m + icon + t.small;
  const maxWidth = w - x - m;
  const titleSize = fitSize(p.vi, [t.title, t.large, t.body], maxWidth, 'bold');
  const body = [background(size, COLORS.error), warningIcon(m + icon / 2, m + icon / 2, icon)];
  body.push(text(x, m + titleSize, ellipsize(p.vi, titleSize, maxWidth, 'bold'), { size: titleSize, fill: COLORS.text, weight: 'bold' }));
  body.push(text(x, m + titleSize + t.body * 1.5, ellipsize(p.en, t.body, maxWidth), { size: t.body, fill: COLORS.en }));
  let y = m + titleSize + t.body * 3.4;
  for (const line of clampLines(wrap(p.hintVi, t.body, w - 2 * m), 2)) {
    body.push(text(m, y, line, { size: t.body, fill: COLORS.text }));
    y += t.body * 1.35;
  }
  for (const line of clampLines(wrap(p.hintEn, t.small, w - 2 * m), 1)) {
    body.push(text(m, y, line, { size: t.small, fill: COLORS.en }));
    y += t.small * 1.35;
  }
  const site = [v.site.village, v.site.commune].filter(Boolean).join(', ');
  body.push(bilingual(m, y + t.small * 0.3, `Mã hộp: ${v.boxId}${site ? ` (${site})` : ''}`, 'Box ID', { size: t.small, fill: COLORS.accent, enFill: COLORS.en }));
  if (v.setup && v.hotspot) body.push(...hotspotPanel(v.hotspot, v.setup, size, h * 0.6));
  else if (v.setup) body.push(...setupPanel(v.setup, size, h * 0.6));
  return body;
}

/** No network: join the box's own Wi-Fi (its QR code joins a phone at once), then open the page. */
function hotspotPanel(hotspot: HotspotInfo, setup: SetupAccess, size: FrameSize, top: number): string[] {
  const t = textSizes(size.height);
  return qrPanel(size, top, 5, hotspot.qr, [
    { vi: '1. Nối điện thoại vào Wi-Fi', en: 'Join this Wi-Fi', size: t.small, fill: COLORS.accent },
    { vi: `${hotspot.ssid}  ·  Mật khẩu: ${hotspot.password}`, size: t.body, fill: COLORS.text },
    { vi: `2. Mở ${setup.address}`, en: 'then open', size: t.small, fill: COLORS.accent },
    { vi: `Mã cài đặt: ${spacedCode(setup.code)}`, size: t.large, fill: COLORS.text },
  ]);
}

/** The dark, see-through ground under text drawn over the meeting's picture. */
function shade(width: number, height: number, radius: number): string {
  return `<rect width="${width}" height="${height}" rx="${radius}" fill="${COLORS.shade}" fill-opacity="0.7"/>`;
}

// --- icons ----------------------------------------------------------------------------------

/** A warning triangle centred at (cx, cy), `size` tall. */
function warningIcon(cx: number, cy: number, size: number): string {
  const half = size / 2;
  return (
    `<path d="M${r(cx)} ${r(cy - half)}L${r(cx + half)} ${r(cy + half * 0.85)}H${r(cx - half)}Z" fill="${COLORS.warn}"/>` +
    `<rect x="${r(cx - size * 0.05)}" y="${r(cy - half * 0.35)}" width="${r(size * 0.1)}" height="${r(size * 0.42)}" fill="${COLORS.dark}"/>` +
    `<circle cx="${r(cx)}" cy="${r(cy + half * 0.6)}" r="${r(size * 0.06)}" fill="${COLORS.dark}"/>`
  );
}

/** A struck-through microphone centred at (cx, cy). */
function micOffIcon(cx: number, cy: number, size: number): string {
  const s = size / 2;
  return (
    `<rect x="${r(cx - s * 0.3)}" y="${r(cy - s)}" width="${r(s * 0.6)}" height="${r(s * 1.2)}" rx="${r(s * 0.3)}" fill="${COLORS.bad}"/>` +
    `<path d="M${r(cx - s * 0.6)} ${r(cy - s * 0.1)}a${r(s * 0.6)} ${r(s * 0.6)} 0 0 0 ${r(s * 1.2)} 0M${r(cx)} ${r(cy + s * 0.5)}v${r(s * 0.4)}" stroke="${COLORS.bad}" stroke-width="${r(s * 0.15)}" fill="none"/>` +
    `<path d="M${r(cx - s * 0.8)} ${r(cy - s)}L${r(cx + s * 0.8)} ${r(cy + s)}" stroke="${COLORS.text}" stroke-width="${r(s * 0.18)}"/>`
  );
}

/** A struck-through camera centred at (cx, cy), `size` wide. */
function cameraOffIcon(cx: number, cy: number, size: number): string {
  const s = size / 2;
  return (
    `<rect x="${r(cx - s)}" y="${r(cy - s * 0.45)}" width="${r(s * 1.35)}" height="${r(s * 0.9)}" rx="${r(s * 0.12)}" fill="${COLORS.en}"/>` +
    `<path d="M${r(cx + s * 0.4)} ${r(cy)}L${r(cx + s)} ${r(cy - s * 0.4)}V${r(cy + s * 0.4)}Z" fill="${COLORS.en}"/>` +
    `<path d="M${r(cx - s)} ${r(cy - s * 0.75)}L${r(cx + s)} ${r(cy + s * 0.75)}" stroke="${COLORS.bad}" stroke-width="${r(s * 0.12)}"/>`
  );
}
