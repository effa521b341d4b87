// The setup page: claim (setup code + new password) or sign in, then the site and broker
// settings, then the box's status. Everything comes from the box itself; no other server.

const $ = (id) => document.getElementById(id);
const views = ['claim', 'login', 'site', 'status'];
let csrf = '';
let revision = 0;

function show(view) {
  for (const v of views) $(v).hidden = v !== view;
}

function say(text, ok = false) {
  const box = $('message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
  box.hidden = !text;
}

/** A call to the box's API; throws its error (code, message) on failure. */
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error?.message ?? `HTTP ${response.status}`);
    error.code = data.error?.code;
    error.details = data.error?.details;
    error.status = response.status;
    throw error;
  }
  return data;
}

const WORDS = {
  DC_SETUP_CODE: 'Sai mã cài đặt. Nhập 6 số đang hiện trên TV. · Wrong setup code.',
  DC_SETUP_LOCKED: 'Sai quá nhiều lần. Hãy chờ vài phút rồi thử lại (TV sẽ hiện mã mới). · Too many tries: wait a few minutes.',
  DC_SETUP_LOGIN: 'Sai mật khẩu. · Wrong password.',
  DC_SETUP_PASSWORD: 'Mật khẩu cần từ 8 đến 128 ký tự. · The password needs 8 to 128 characters.',
  DC_CONFIG_INVALID: 'Cài đặt chưa đúng: · Invalid setting: ',
};

function explain(error) {
  const words = WORDS[error.code];
  if (error.code === 'DC_CONFIG_INVALID') return words + error.message;
  return words ?? error.message;
}

async function start() {
  try {
    ({ csrf } = await api('GET', '/api/session'));
    await showStatus();
  } catch (error) {
    show(error.details?.claimed === false ? 'claim' : 'login');
  }
}

$('claim').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  if (form.password.value !== form.again.value) return say('Hai mật khẩu không giống nhau. · The passwords differ.');
  try {
    ({ csrf } = await api('POST', '/api/claim', { code: form.code.value.replace(/\s/g, ''), password: form.password.value }));
    form.reset();
    say('Đã nhận hộp. · The box is yours.', true);
    await editSite();
  } catch (error) {
    say(explain(error));
  }
});

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    ({ csrf } = await api('POST', '/api/login', { password: event.target.password.value }));
    event.target.reset();
    say('');
    await showStatus();
  } catch (error) {
    say(explain(error));
  }
});

async function editSite() {
  const config = await api('GET', '/api/config');
  revision = config.revision;
  const form = $('site');
  form.name.value = config.device.name;
  form.village.value = config.device.village;
  form.commune.value = config.device.commune;
  form.url.value = config.fleet.url;
  form.username.value = config.fleet.username;
  show('site');
}

$('site').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const fleet = { url: form.url.value.trim(), username: form.username.value.trim() };
    if (form.brokerPassword.value) fleet.password = form.brokerPassword.value;
    ({ revision } = await api('POST', '/api/site', {
      revision,
      device: { name: form.name.value.trim(), village: form.village.value.trim(), commune: form.commune.value.trim() },
      fleet,
    }));
    form.brokerPassword.value = '';
    say('Đã lưu. · Saved.', true);
    await showStatus();
  } catch (error) {
    say(explain(error));
  }
});

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

/** A status row: its value, and whether it is good (green), bad (red) or just said (null). */
const row = (name, ok, good, bad) => [name, ok ? good : bad, ok];

async function showStatus() {
  const s = await api('GET', '/api/status');
  const rows = [
    ['Điểm cầu · Box', `${s.name} — ${[s.village, s.commune].filter(Boolean).join(', ')}`, null],
    row('Mạng · Network', s.network === 'ok', 'đã kết nối · connected', 'mất kết nối · down'),
    row('Máy chủ xã · Server', s.broker === 'online', 'đã kết nối · connected', s.broker === 'not-configured' ? 'chưa cài · not set up' : 'chưa kết nối · not connected'),
    row('Camera', Boolean(s.camera), s.camera, 'không có · none'),
    row('Micrô · Microphone', Boolean(s.microphone), s.microphone, 'không có · none'),
    row('Loa · Speaker', Boolean(s.speaker), s.speaker, 'không có · none'),
    ['TV', SCREENS[s.screen] ?? s.screen ?? '—', null],
    ['Cuộc họp · Call', CALLS[s.call] ?? s.call ?? '—', null],
  ];
  const list = $('status-list');
  list.replaceChildren();
  for (const [name, value, ok] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    // Text only: device and place names come from outside.
    dd.textContent = value;
    if (ok !== null) dd.className = ok ? 'good' : 'bad';
    list.append(dt, dd);
  }
  list.dataset.broker = s.broker;
  show('status');
}

$('edit-site').addEventListener('click', () => editSite().catch((error) => say(explain(error))));
$('tone').addEventListener('click', () =>
  api('POST', '/api/test-tone', { seconds: 3 }).then(
    () => say('Đang phát tiếng thử 3 giây. · Playing a 3 s tone.', true),
    (error) => say(explain(error)),
  ),
);
$('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout').catch(() => undefined);
  csrf = '';
  say('');
  show('login');
});

// Every few seconds the status follows the box (the broker connecting after a change).
setInterval(() => {
  if (!$('status').hidden) showStatus().catch(() => undefined);
}, 3000);

start();
