/**
 * Printable labels, one per box, to stick on it before it goes to its village: the box's name,
 * village and commune, its id in large type, and a QR code of the id (the console finds the box
 * by it). An A4 page of 2 × 5, from any browser's print.
 */
import { escapeXml, qrCode } from '../daemon/screen/svg.js';
import type { Site } from './sites.js';

export function renderLabels(sites: Site[]): string {
  const label = (s: Site) => `  <div class="label">
    <svg viewBox="0 0 100 100" width="30mm" height="30mm">${qrCode(0, 0, 100, `diemcau:${s.id}`)}</svg>
    <div><b>${escapeXml(s.name)}</b><br>${escapeXml([s.village, s.commune].filter(Boolean).join(', '))}<br><span class="id">${escapeXml(s.id)}</span><br>Nhóm · Group: ${escapeXml(s.group)}</div>
  </div>`;
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Nhãn hộp điểm cầu · Box labels</title>
<style>
  @page { size: A4; margin: 10mm; }
  body { font: 11pt "Noto Sans", "DejaVu Sans", sans-serif; margin: 0; display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
  .label { display: flex; gap: 4mm; align-items: center; border: 0.3mm dashed #888; padding: 4mm; height: 45mm; box-sizing: border-box; break-inside: avoid; }
  .id { font: bold 14pt monospace; }
</style></head><body>
${sites.map(label).join('\n')}
</body></html>
`;
}
