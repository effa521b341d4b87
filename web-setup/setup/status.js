// The status view: the box at a glance, refreshed every few seconds.
import { $, api, fillList, row } from './api.js';

const SCREENS = {
  idle: 'màn hình chờ · idle screen',
  connecting: 'đang kết nối · connecting',
  ringing: 'có cuộc gọi đến · a call rings',
  call: 'đang họp · in a meeting',
  message: 'đang hiện thông báo · showing a message',
  identify: 'đang hiện tên hộp · identifying',
  'error:no-network': 'báo lỗi: không có mạng · error: no network',
  'error:broker-refused': 'báo lỗi: máy chủ từ chối · error: server refused the box',
};
const CALLS = {
  idle: 'không họp · no meeting',
  ringing: 'có cuộc gọi đến · ringing',
  connecting: 'đang kết nối · connecting',
  'in-call': 'đang họp · in a meeting',
  reconnecting: 'đang nối lại · reconnecting',
};
const ALERTS = {
  'under-voltage': 'nguồn điện yếu · under-voltage',
  'under-voltage-occurred': 'đã có lúc nguồn yếu · under-voltage earlier',
  throttled: 'hộp chạy chậm lại vì nóng hoặc nguồn · throttled',
  overheating: 'hộp quá nóng · overheating',
  'disk-almost-full': 'thẻ nhớ gần đầy · storage almost full',
  'memory-low': 'thiếu bộ nhớ · memory low',
  'weak-wifi': 'Wi-Fi yếu · weak Wi-Fi',
};

export async function refresh() {
  const s = await api('GET', '/api/status');
  const list = $('status-list');
  const port = s.address ? new URL(s.address).port : '';
  const named = s.hostname ? `http://${s.hostname}${port ? `:${port}` : ''}` : null;
  fillList(list, [
    ['Điểm cầu · Box', `${s.name} — ${[s.village, s.commune].filter(Boolean).join(', ')}`, null],
    row('Mạng · Network', s.network === 'ok', 'đã kết nối · connected', s.hotspot ? `điểm phát riêng · own hotspot ${s.hotspot.ssid}` : 'mất kết nối · down'),
    ['Trang này · This page', [s.address, named].filter(Boolean).join(' · ') || null, null],
    row('Máy chủ xã · Server', s.broker === 'online', 'đã kết nối · connected', s.broker === 'not-configured' ? 'chưa cài · not set up' : s.broker === 'refused' ? 'từ chối mật khẩu · refused the password' : 'chưa kết nối · not connected'),
    row('Camera', Boolean(s.camera), s.camera, 'không có · none'),
    row('Micrô · Microphone', Boolean(s.microphone), s.microphone, 'không có · none'),
    row('Loa · Speaker', Boolean(s.speaker), s.speaker, 'không có · none'),
    row('TV', s.tv?.connected, `${s.tv?.name ?? 'TV'} ${s.tv?.mode ?? ''} — ${SCREENS[s.screen] ?? s.screen}`, 'chưa cắm hoặc đang tắt · unplugged or off'),
    ['Cuộc họp · Call', CALLS[s.call] ?? s.call, null],
    row('Tình trạng · Health', (s.alerts ?? []).length === 0, `tốt · good${s.temperatureC !== null ? ` (${s.temperatureC} °C)` : ''}`, (s.alerts ?? []).map((a) => ALERTS[a] ?? a).join('; ')),
  ]);
  list.dataset.broker = s.broker;
  list.dataset.network = s.network;
}
