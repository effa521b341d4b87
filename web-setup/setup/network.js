// The network view: wired and Wi-Fi state, a Wi-Fi scan and join (hidden networks too).
import { $, action, api, explain, fillList, row, say } from './api.js';

let chosen = '';

export async function refresh() {
  const n = await api('GET', '/api/network');
  const rows = [];
  for (const d of n.devices) {
    const name = d.type === 'wifi' ? `Wi-Fi (${d.device})` : d.type === 'ethernet' ? `Dây mạng · Cable (${d.device})` : d.device;
    const up = d.state === 'connected';
    const where = [d.ssid, ...(d.addresses ?? [])].filter(Boolean).join(' · ');
    rows.push(row(name, up, `đã kết nối · connected${where ? ` — ${where}` : ''}${d.signal != null ? ` (${d.signal}%)` : ''}`, d.state === 'unavailable' ? 'chưa cắm · unplugged' : 'chưa kết nối · not connected'));
  }
  if (n.hotspot?.state === 'on') rows.push(['Điểm phát cài đặt · Setup hotspot', `${n.hotspot.ssid}`, null]);
  fillList($('network-list'), rows);
}

export const open = refresh;

function join(ssid) {
  chosen = ssid;
  $('wifi-ssid').textContent = ssid;
  $('wifi-join').hidden = false;
  $('wifi-join').password.focus();
}

async function connect(body) {
  say(`Đang kết nối ${body.ssid}… · Joining…`, true);
  await api('POST', '/api/network/wifi', body);
  say(`Đã kết nối ${body.ssid}. · Joined.`, true);
  await refresh();
}

export function wire() {
  action($('wifi-scan'), async () => {
    const { networks } = await api('POST', '/api/network/scan');
    const list = $('wifi-list');
    list.replaceChildren();
    for (const net of networks) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'choice';
      button.textContent = `${net.ssid} — ${net.signal}%${net.security ? ' 🔒' : ''}${net.inUse ? ' ✓' : ''}`;
      button.addEventListener('click', () => join(net.ssid));
      item.append(button);
      list.append(item);
    }
    if (networks.length === 0) say('Không thấy mạng Wi-Fi nào. · No Wi-Fi networks found.');
  });
  $('wifi-join').addEventListener('submit', async (event) => {
    event.preventDefault();
    const password = event.target.password.value;
    try {
      await connect({ ssid: chosen, ...(password ? { password } : {}) });
      event.target.reset();
      event.target.hidden = true;
    } catch (error) {
      say(explain(error));
    }
  });
  $('wifi-hidden').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await connect({ ssid: form.ssid.value, hidden: true, ...(form.password.value ? { password: form.password.value } : {}) });
      form.reset();
    } catch (error) {
      say(explain(error));
    }
  });
}
