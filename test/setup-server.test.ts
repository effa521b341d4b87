/**
 * The setup server over real HTTP on 127.0.0.1 with a real config file: claiming with the TV's
 * code, the admin password kept as a hash, sessions and CSRF, rate limits, body limits, invalid
 * settings refused with the field named and the file unchanged, and nothing but the page,
 * claim and login answering without a session.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupClient } from './helpers/setup-client.js';
import { ConfigStore } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';
import { SetupCode } from '../daemon/setup/access.js';
import { AdminPassword } from '../daemon/setup/password.js';
import { SECRET_FILES } from '../daemon/config/bundle.js';
import { BODY_LIMIT, SetupServer, type SetupBox } from '../daemon/setup/server.js';
import { LogTail } from '../daemon/log.js';
import { SimulatedPower } from '../daemon/system/power.js';

const BROKER_PASSWORD_FILE = SECRET_FILES.password;

async function setup(t: Test, box: Partial<SetupBox> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-setup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify({ version: 1, profile: 'sim', device: { id: 'dong-xa-01' } }));
  const log = createLogger('silent');
  const config = new ConfigStore({ path, explicit: true, log });
  await config.load();
  let draws = 100_000;
  const code = new SetupCode(() => draws++);
  const password = new AdminPassword(join(dir, 'admin-password.json'));
  const server = new SetupServer({ host: '127.0.0.1', port: 0, config, stateDir: dir, password, code, box: { status: () => ({ name: config.current.device.name, broker: 'offline' }), ...box }, log });
  await server.start();
  t.teardown(() => server.stop());
  const client = setupClient('127.0.0.1', () => server.port);
  return { dir, path, config, code, server, ...client };
}

t.test('unclaimed: only the page, claim and login answer; the page sets safe headers; no path leaves the page', async (t) => {
  const s = await setup(t);
  const page = await s.call('GET', '/');
  t.equal(page.status, 200, 'the page');
  t.match(page.text, /Cài đặt điểm cầu/, 'in Vietnamese');
  t.match(page.headers['content-security-policy'], /default-src 'self'/, 'a CSP keeps the page to this server');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['x-frame-options'], 'DENY');
  t.equal((await s.call('GET', '/setup.js')).status, 200, 'its script');
  // Every route the server has, not a list kept by hand: a new one cannot slip through.
  const api = s.server.routes.filter((r) => r.includes(' /api/'));
  t.ok(api.length >= 15, `the API's routes are listed (${api.length})`);
  const open: string[] = api.filter((r) => r === 'POST /api/claim' || r === 'POST /api/login');
  t.same(open, ['POST /api/claim', 'POST /api/login'], 'claim and login are the open ones');
  for (const route of api.filter((r) => !open.includes(r))) {
    const [method, path] = route.split(' ') as [string, string];
    const r = await s.call(method, path, method === 'GET' ? undefined : {});
    t.equal(r.status, 401, `${route} needs a session`);
    t.match(r.json, { error: { code: 'DC_SETUP_LOGIN', details: { claimed: false } } }, 'and says the box is not claimed');
  }
  for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/setup/../../package.json', '/index.html/../../config.json', '/web-setup/setup/setup.js']) {
    const r = await s.call('GET', path);
    t.equal(r.status, 404, `${path}: 404`);
    t.notMatch(r.text, /"name": "diemcau"|root:/, 'and nothing of the disk');
  }
  t.equal((await s.call('POST', '/api/login', { password: 'whatever-it-is' })).json.error.details.claimed, false, 'login says: claim it first');
});

t.test('claiming: the TV code, a password kept as a scrypt hash, a session cookie; wrong codes are limited and draw a new code', async (t) => {
  const s = await setup(t);
  const first = s.code.code;
  for (let i = 0; i < 4; i++) t.equal((await s.call('POST', '/api/claim', { code: '000000', password: 'mat-khau-xa-1' })).status, 403, `wrong code ${i + 1}: 403`);
  const fifth = await s.call('POST', '/api/claim', { code: '000000', password: 'mat-khau-xa-1' });
  t.equal(fifth.status, 403, 'the fifth wrong code: 403 ...');
  t.not(s.code.code, first, '... and a new code is drawn for the TV');
  const locked = await s.call('POST', '/api/claim', { code: s.code.code, password: 'mat-khau-xa-1' });
  t.equal(locked.status, 429, 'then even the right code waits: rate limited');
  t.ok(Number(locked.headers['retry-after']) > 0, `Retry-After ${locked.headers['retry-after']} s`);
});

t.test('claimed: sessions, CSRF, limits, settings through the schema, factory reset', async (t) => {
  const s = await setup(t);
  t.equal((await s.call('POST', '/api/claim', { code: s.code.code, password: 'short' })).status, 400, 'a short password is refused');
  t.equal((await s.call('POST', '/api/claim', { code: '12345', password: 'mat-khau-xa-1' })).status, 400, 'a code that is not six digits: 400');
  const used = s.code.code;
  const claimed = await s.call('POST', '/api/claim', { code: used, password: 'mật khẩu xã 1' });
  t.equal(claimed.status, 200, 'claimed with the code on the TV');
  const setCookie = String(claimed.headers['set-cookie']);
  t.match(setCookie, /HttpOnly/, 'the session cookie is HttpOnly');
  t.match(setCookie, /SameSite=Strict/, 'and SameSite=Strict');
  t.not(s.code.code, used, 'the code is used up: a new one on the TV');
  s.setCsrf(claimed.json.csrf);
  const hashFile = await readFile(join(s.dir, 'admin-password.json'), 'utf8');
  t.notMatch(hashFile, /mật khẩu/, 'the password is not stored in clear');
  t.match(JSON.parse(hashFile), { algorithm: 'scrypt' }, 'a scrypt hash');
  t.equal((await stat(join(s.dir, 'admin-password.json'))).mode & 0o777, 0o600, 'readable by the daemon only');
  t.equal((await s.call('POST', '/api/claim', { code: s.code.code, password: 'another-one-2' })).status, 409, 'a second claim: 409');

  t.equal((await s.call('GET', '/api/status')).status, 200, 'status with the session');
  // State changes need the CSRF token.
  const config = (await s.call('GET', '/api/config')).json;
  t.equal((await s.call('POST', '/api/config', { revision: config.revision, patch: { device: { name: 'Đông Xá' } } })).status, 403, 'no CSRF token: 403');
  t.equal((await s.call('POST', '/api/config', { revision: config.revision, patch: { device: { name: 'Đông Xá' } } }, { 'x-csrf-token': 'forged' })).status, 403, 'a wrong one: 403');
  // Invalid settings: 400 naming the field, the file on disk unchanged.
  const before = await readFile(s.path, 'utf8');
  const invalid = await s.call('POST', '/api/config', { revision: config.revision, patch: { media: { video: { fps: 500 } } } }, s.withCsrf());
  t.equal(invalid.status, 400, 'invalid settings: 400');
  t.match(invalid.json.error, { code: 'DC_CONFIG_INVALID', message: /media\.video\.fps/ }, 'naming the field');
  t.equal(await readFile(s.path, 'utf8'), before, 'the config on disk is unchanged');
  const big = await s.call('POST', '/api/config', JSON.stringify({ revision: config.revision, patch: { device: { name: 'x'.repeat(BODY_LIMIT) } } }), s.withCsrf());
  t.equal(big.status, 413, `a body over ${BODY_LIMIT} bytes: 413`);
  const saved = await s.call('POST', '/api/config', { revision: config.revision, patch: { device: { name: 'Đông Xá' } } }, s.withCsrf());
  t.match(saved.json, { revision: config.revision + 1, changed: true }, 'a valid change is saved');
  t.equal(s.config.current.device.name, 'Đông Xá', 'and reaches the running config');

  // The first-run form: site and broker; its password goes to its own 0600 file.
  const badSite = await s.call('POST', '/api/site', { revision: saved.json.revision, device: { name: '', village: 'Thôn Đông Xá', commune: 'Xã Hòa Bình' }, fleet: { url: 'mqtts://mqtt.xa.vn:8883', username: '', password: 'broker-pw' } }, s.withCsrf());
  t.equal(badSite.status, 400, 'an empty box name: 400');
  t.match(badSite.json.error.message, /device\.name/, 'naming the field');
  await t.rejects(stat(join(s.dir, BROKER_PASSWORD_FILE)), 'and no broker password file was written');
  const site = await s.call('POST', '/api/site', { revision: saved.json.revision, device: { name: 'Đông Xá', village: 'Thôn Đông Xá', commune: 'Xã Hòa Bình' }, fleet: { url: 'mqtts://mqtt.xa.vn:8883', username: '', password: 'broker-pw' } }, s.withCsrf());
  t.equal(site.status, 200, 'the site form saved');
  t.match(s.config.current, { device: { village: 'Thôn Đông Xá' }, fleet: { url: 'mqtts://mqtt.xa.vn:8883', passwordFile: BROKER_PASSWORD_FILE } });
  t.equal(await readFile(join(s.dir, BROKER_PASSWORD_FILE), 'utf8'), 'broker-pw\n', 'the broker password in its own file');
  t.notMatch(await readFile(s.path, 'utf8'), /broker-pw/, 'never in the config');

  // Sign out, wrong passwords are limited, the right one signs in again.
  t.equal((await s.call('POST', '/api/logout', undefined, s.withCsrf())).status, 200, 'signed out');
  t.equal((await s.call('GET', '/api/status')).status, 401, 'the session is gone');
  for (let i = 0; i < 5; i++) t.equal((await s.call('POST', '/api/login', { password: `wrong-${i}-password` })).status, 401, `wrong password ${i + 1}: 401`);
  t.equal((await s.call('POST', '/api/login', { password: 'mật khẩu xã 1' })).status, 429, 'then rate limited, even with the right one');
});

t.test('factory reset: the box is unclaimed again, with a new code', async (t) => {
  const s = await setup(t);
  const claimed = await s.call('POST', '/api/claim', { code: s.code.code, password: 'mat-khau-xa-1' });
  s.setCsrf(claimed.json.csrf);
  const code = s.code.code;
  t.equal((await s.call('POST', '/api/factory-reset', undefined, s.withCsrf())).status, 200, 'reset');
  t.not(s.code.code, code, 'a new code on the TV');
  t.match((await s.call('GET', '/api/status')).json, { error: { details: { claimed: false } } }, 'signed out and unclaimed');
  t.equal((await s.call('POST', '/api/claim', { code: s.code.code, password: 'mat-khau-moi-2' })).status, 200, 'claimable again');
});

/** What provisioning makes for one box (issue 8's CLI writes the same format). */
const bundle = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    format: 'diemcau-bundle/1',
    device: { id: 'thon-dong-01', name: 'Thôn Đông', commune: 'Xã Hòa Bình', village: 'Thôn Đông' },
    fleet: { url: 'mqtts://mqtt.xa.vn:8883', password: 'pw-from-bundle', groups: ['hoa-binh'], ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    ...over,
  });

t.test('a provisioning bundle from the page: identity and broker saved, secrets in their own 0600 files; a bad one changes nothing', async (t) => {
  let reconnects = 0;
  const s = await setup(t, { fleetSecretsChanged: () => reconnects++ });
  s.setCsrf((await s.call('POST', '/api/claim', { code: s.code.code, password: 'mat-khau-xa-1' })).json.csrf);
  const { revision } = (await s.call('GET', '/api/config')).json;
  const before = await readFile(s.path, 'utf8');
  const bad = await s.call('POST', '/api/bundle', { revision, bundle: bundle({ device: { id: 'Thôn Đông', name: 'x', commune: '', village: '' } }) }, s.withCsrf());
  t.equal(bad.status, 400, 'a bundle with a bad id: 400');
  t.match(bad.json.error, { code: 'DC_CONFIG_INVALID', message: /device\.id/ }, 'naming the field');
  t.equal((await s.call('POST', '/api/bundle', { revision, bundle: '{not json' }, s.withCsrf())).json.error.code, 'DC_CONFIG_INVALID', 'not JSON: said so');
  t.equal(await readFile(s.path, 'utf8'), before, 'the config on disk is unchanged');
  await t.rejects(stat(join(s.dir, SECRET_FILES.password)), 'and no secret was written');

  const ok = await s.call('POST', '/api/bundle', { revision, bundle: bundle() }, s.withCsrf());
  t.equal(ok.status, 200, 'a good bundle is imported');
  t.match(ok.json, { device: { id: 'thon-dong-01' }, wifi: 'none' });
  t.match(s.config.current, {
    device: { id: 'thon-dong-01', name: 'Thôn Đông', village: 'Thôn Đông' },
    fleet: { url: 'mqtts://mqtt.xa.vn:8883', username: 'thon-dong-01', groups: ['hoa-binh'], passwordFile: SECRET_FILES.password, caFile: SECRET_FILES.ca },
  });
  for (const file of [SECRET_FILES.password, SECRET_FILES.ca]) t.equal((await stat(join(s.dir, file))).mode & 0o777, 0o600, `${file}: 0600`);
  t.equal(await readFile(join(s.dir, SECRET_FILES.password), 'utf8'), 'pw-from-bundle\n');
  t.notMatch(await readFile(s.path, 'utf8'), /pw-from-bundle|BEGIN CERTIFICATE/, 'no secret in the config');
  t.equal(reconnects, 1, 'the fleet is told to reconnect with the new secrets');
  const stale = await s.call('POST', '/api/bundle', { revision, bundle: bundle() }, s.withCsrf());
  t.equal(stale.status, 409, 'a page that read old settings: 409');
  const wifi = await s.call('POST', '/api/bundle', { revision: s.config.current.revision, bundle: bundle({ wifi: { ssid: 'Nha van hoa', password: 'mat-khau-wifi' } }) }, s.withCsrf());
  t.match(wifi.json, { wifi: 'not-available' }, 'a bundle with Wi-Fi on a box without NetworkManager: saved, and the Wi-Fi said not available');
});

t.test('the box from the page: version, the log as a file, reboot; what the box lacks answers 501', async (t) => {
  const tail = new LogTail(10);
  tail.write('{"level":30,"msg":"first"}\n');
  tail.write('{"level":40,"msg":"second"}\n');
  const power = new SimulatedPower(createLogger('silent'));
  const s = await setup(t, { version: '1.2.3', logs: async () => tail.text(), reboot: (why) => power.reboot(why) });
  s.setCsrf((await s.call('POST', '/api/claim', { code: s.code.code, password: 'mat-khau-xa-1' })).json.csrf);
  t.match((await s.call('GET', '/api/version')).json, { version: '1.2.3', node: process.versions.node });
  const logs = await s.call('GET', '/api/logs');
  t.equal(logs.status, 200);
  t.match(logs.headers['content-disposition'], /attachment; filename="dong-xa-01-\d{4}-\d\d-\d\d\.log"/, 'a file named after the box and the day');
  t.same(logs.text.trim().split('\n').map((l) => JSON.parse(l).msg), ['first', 'second'], 'the log lines, oldest first');
  t.equal((await s.call('POST', '/api/reboot', undefined)).status, 403, 'reboot needs the CSRF token');
  const reboot = await s.call('POST', '/api/reboot', undefined, s.withCsrf());
  t.match(reboot.json, { rebooting: true }, 'reboot answered first');
  const until = Date.now() + 5000;
  while (power.reboots.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.same(power.reboots, ['setup page'], 'then the box reboots');
  for (const [method, path] of [['POST', '/api/preview'], ['GET', '/api/camera.jpg'], ['POST', '/api/test-call']] as const) {
    const r = await s.call(method, path, method === 'POST' ? {} : undefined, s.withCsrf());
    t.ok(r.status === 501 || r.status === 503, `${method} ${path} without the part: ${r.status} ${r.json.error?.code}`);
  }
});
