// Talking to the box: its JSON API (with the session's CSRF token on changes) and the message
// line at the top of the page. Every request goes to the box itself.

export const $ = (id) => document.getElementById(id);

let csrf = '';
export const setCsrf = (token) => (csrf = token);

/** A call to the box's API; throws its error (code, message, details, status) on failure. */
export async function api(method, path, body) {
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

export function say(text, ok = false) {
  const box = $('message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
  box.hidden = !text;
  if (text) box.scrollIntoView({ block: 'nearest' });
}

const WORDS = {
  DC_SETUP_CODE: 'Sai mã cài đặt. Nhập 6 số đang hiện trên TV. · Wrong setup code.',
  DC_SETUP_LOCKED: 'Sai quá nhiều lần. Hãy chờ vài phút rồi thử lại (TV sẽ hiện mã mới). · Too many tries: wait a few minutes.',
  DC_SETUP_LOGIN: 'Sai mật khẩu. · Wrong password.',
  DC_SETUP_PASSWORD: 'Mật khẩu cần từ 8 đến 128 ký tự. · The password needs 8 to 128 characters.',
  DC_CONFIG_STALE_REVISION: 'Cài đặt vừa được đổi ở nơi khác. Hãy tải lại trang. · The settings changed elsewhere: reload the page.',
  DC_CMD_BUSY: 'Hộp đang họp. Hãy thử lại sau. · The box is in a meeting: try later.',
  DC_NOT_AVAILABLE: 'Hộp này không làm được việc đó: · Not available on this box: ',
  DC_MEDIA_NOT_RUNNING: 'Camera và âm thanh đang khởi động. Hãy thử lại sau vài giây. · Camera and sound are starting: try again in a few seconds.',
  DC_CONFIG_INVALID: 'Cài đặt chưa đúng: · Invalid setting: ',
  DC_NET_ACTIVATION: 'Hộp không kết nối được: sai mật khẩu, hoặc mạng ở quá xa. · Could not join: wrong password, or the network is out of reach.',
  DC_NET_NOT_FOUND: 'Không thấy mạng đó. Hãy tìm lại. · That network is not in reach: scan again.',
  DC_NET_TIMEOUT: 'Mạng không trả lời kịp. Hãy thử lại. · The network did not answer in time: try again.',
  DC_NET_UNAVAILABLE: 'Hộp không quản lý được mạng (NetworkManager không chạy). · NetworkManager is not running.',
};

/** An error in words for the cadre (Vietnamese first), with the box's own words where they help. */
export function explain(error) {
  const words = WORDS[error.code];
  if (error.code === 'DC_CONFIG_INVALID' || error.code === 'DC_NOT_AVAILABLE') return words + error.message;
  return words ?? error.message;
}

/** Fills a <dl> with [name, value, ok] rows: ok true/false colours the value, null leaves it plain. */
export function fillList(list, rows) {
  list.replaceChildren();
  for (const [name, value, ok] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    // Text only: names come from outside (the TV's EDID, Wi-Fi networks, the config).
    dd.textContent = value ?? '—';
    if (ok === true || ok === false) dd.className = ok ? 'good' : 'bad';
    list.append(dt, dd);
  }
}

/** A status row: its value, and whether it is good (green) or bad (red). */
export const row = (name, ok, good, bad) => [name, ok ? good : bad, ok];

/** A button that reports its outcome on the message line and cannot be pressed twice meanwhile. */
export function action(button, run) {
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await run();
    } catch (error) {
      say(explain(error));
    } finally {
      button.disabled = false;
    }
  });
}
