// The test call view: the box calls the commune's test point and reports how it went.
import { $, action, api, fillList, row } from './api.js';

const PHASES = {
  idle: 'chưa gọi · not yet',
  calling: 'đang gọi… · calling…',
  'in-call': 'đã thông, đang thử… · connected, testing…',
  passed: 'tốt · passed',
  failed: 'không được · failed',
};
let timer;

function render(r) {
  const link = r.link;
  const done = r.phase === 'passed' || r.phase === 'failed';
  fillList($('test-call-result'), [
    row('Kết quả · Result', r.phase !== 'failed', PHASES[r.phase] ?? r.phase, PHASES.failed),
    ['Gọi tới · Calling', r.target, null],
    ['Thời gian nối · Join time', r.joinMs !== null ? `${(r.joinMs / 1000).toFixed(1)} s` : null, null],
    ['Độ trễ · Round trip', link?.rttMs != null ? `${Math.round(link.rttMs)} ms` : null, null],
    ['Gửi / nhận · Sent / received', link ? `${link.sentKbps ?? '—'} / ${link.receivedKbps ?? '—'} kbit/s` : null, null],
    ['Hình nhận được · Picture received', link?.receivedVideo?.width ? `${link.receivedVideo.width}×${link.receivedVideo.height}, ${link.receivedVideo.fps ?? '—'} hình/giây · fps` : null, null],
    ...(r.error ? [['Lý do · Reason', r.error.message, false]] : []),
  ]);
  $('test-call-result').dataset.phase = r.phase;
  $('test-call').disabled = !done && r.phase !== 'idle';
}

async function follow() {
  const r = await api('GET', '/api/test-call');
  render(r);
  if (r.phase === 'calling' || r.phase === 'in-call') timer = setTimeout(() => follow().catch(() => undefined), 1000);
}

export async function open() {
  await follow();
}

export function close() {
  clearTimeout(timer);
}

export function wire() {
  action($('test-call'), async () => {
    render(await api('POST', '/api/test-call', { seconds: 15 }));
    await follow();
  });
}
