// The setup page: claim (setup code + new password) or sign in, then the box's views (status,
// network, site, camera and sound, test call, system). Everything comes from the box itself.
import { $, api, explain, say, setCsrf } from './api.js';
import * as status from './status.js';
import * as network from './network.js';
import * as site from './site.js';
import * as media from './media.js';
import * as testcall from './testcall.js';
import * as system from './system.js';

/** What each signed-in view loads when shown and stops when left (polling, the camera preview). */
const VIEWS = {
  status: { open: status.refresh, every: status.refresh },
  network: { open: network.open, every: network.refresh },
  site: { open: site.load },
  media: { open: media.open, close: media.close },
  testcall: { open: testcall.open, close: testcall.close },
  system: { open: system.open },
};
const ALL = ['claim', 'login', ...Object.keys(VIEWS)];
let current = '';
let ticker;

async function show(view) {
  VIEWS[current]?.close?.();
  clearInterval(ticker);
  current = view;
  for (const v of ALL) $(v).hidden = v !== view;
  const signedIn = view in VIEWS;
  $('nav').hidden = !signedIn;
  $('logout').hidden = !signedIn;
  for (const button of $('nav').querySelectorAll('button')) button.classList.toggle('current', button.dataset.view === view);
  const v = VIEWS[view];
  if (!v) return;
  await v.open?.();
  // Every few seconds the view follows the box (the broker connecting after a change).
  if (v.every) ticker = setInterval(() => v.every().catch(() => undefined), 3000);
}

const go = (view) => show(view).catch((error) => say(explain(error)));

async function start() {
  try {
    setCsrf((await api('GET', '/api/session')).csrf);
    await go('status');
  } catch (error) {
    await show(error.details?.claimed === false ? 'claim' : 'login');
    // The TV's QR code opens /?code=…: the code is filled in, and taken out of the address bar.
    const code = new URLSearchParams(location.search).get('code');
    if (code && /^[0-9]{6}$/.test(code)) {
      $('claim').code.value = `${code.slice(0, 3)} ${code.slice(3)}`;
      history.replaceState(null, '', '/');
    }
  }
}

$('claim').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  if (form.password.value !== form.again.value) return say('Hai mật khẩu không giống nhau. · The passwords differ.');
  try {
    setCsrf((await api('POST', '/api/claim', { code: form.code.value.replace(/\s/g, ''), password: form.password.value })).csrf);
    form.reset();
    say('Đã nhận hộp. · The box is yours.', true);
    // First run: the site and broker come next.
    await go('site');
  } catch (error) {
    say(explain(error));
  }
});

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    setCsrf((await api('POST', '/api/login', { password: event.target.password.value })).csrf);
    event.target.reset();
    say('');
    await go('status');
  } catch (error) {
    say(explain(error));
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout').catch(() => undefined);
  setCsrf('');
  say('');
  await show('login');
});

for (const button of $('nav').querySelectorAll('button')) {
  button.addEventListener('click', () => {
    say('');
    void go(button.dataset.view);
  });
}

site.wire(() => go('status'));
network.wire();
media.wire();
testcall.wire();
system.wire(() => show('claim'));

start();
