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
import { request as httpRequest } from 'node:http';
import { ConfigStore } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';
import { SetupCode } from '../daemon/setup/access.js';
import { AdminPassword } from '../daemon/setup/password.js';
import { BODY_LIMIT, BROKER_PASSWORD_FILE, SetupServer } from '../daemon/setup/server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

async function setup(t: Test) {
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
  const server = new SetupServer({ host: '127.0.0.1', port: 0, config, stateDir: dir, password, code, status: () => ({ name: config.current.device.name, broker: 'offline' }), log });
  await server.start();
  t.teardown(() => server.stop());
  let cookie = '';
  let csrf = '';
  /** One HTTP request; the session cookie is kept and sent, as a browser would. */
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<Reply>((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: server.port,
          method,
          path,
          headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...(cookie ? { cookie } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const setCookie = res.headers['set-cookie']?.[0];
            if (setCookie) cookie = setCookie.split(';')[0]!.endsWith('=') ? '' : setCookie.split(';')[0]!;
            let json = {};
            try {
              json = JSON.parse(text);
            } catch {
              // a page, not JSON
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text });
          });
        },
      );
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  const withCsrf = () => ({ 'x-csrf-token': csrf });
  return {
    dir,
    path,
    config,
    code,
    server,
    call,
    withCsrf,
    setCsrf: (value: string) => (csrf = value),
    forgetCookie: () => (cookie = ''),
    currentCookie: () => cookie,
  };
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
  for (const path of ['/api/status', '/api/config', '/api/session']) {
    const r = await s.call('GET', path);
    t.equal(r.status, 401, `${path} needs a session`);
    t.match(r.json, { error: { code: 'DC_SETUP_LOGIN', details: { claimed: false } } }, 'and says the box is not claimed');
  }
  for (const path of ['/api/config', '/api/site', '/api/test-tone', '/api/factory-reset', '/api/logout']) {
    t.equal((await s.call('POST', path, {})).status, 401, `POST ${path} needs a session`);
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
