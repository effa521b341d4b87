/**
 * Provisioning (issue 8, first step): a commune's CSV of 30 village halls → a bundle, password
 * and label per box, and the broker's password file and ACL, taken by a real mosquitto that lets
 * each box in with its own credentials only and keeps each under its own prefix. Bad rows are
 * reported by line and column and nothing is written; a second run keeps each box's identity.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseBundle } from '../daemon/config/bundle.js';
import { parseCsv } from '../provisioning/csv.js';
import { main } from '../provisioning/cli.js';
import { mosquittoHash } from '../provisioning/mosquitto-passwd.js';
import { parseSites, formatProblem } from '../provisioning/sites.js';
import type { Registry } from '../provisioning/provision.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { waitUntil } from './helpers/wait.js';

const VILLAGES = ['Đông', 'Tây', 'Nam', 'Bắc', 'Thượng', 'Hạ', 'Trung', 'Chợ', 'Đình', 'Mới'];
/** 30 halls of three communes, as a spreadsheet exports them (quotes, a comma in a name, CRLF). */
function csv30(): string {
  const rows = ['commune,village,name,group,wifi_ssid,wifi_password'];
  for (const [c, commune] of ['Xã Hòa Bình', 'Xã Sơn Thủy', 'Xã Tân Lập'].entries()) {
    for (const v of VILLAGES) {
      const wifi = v === 'Đông' ? `Nha Van Hoa ${c},mat-khau-${c}-wifi` : ',';
      rows.push(`${commune},Thôn ${v},"Nhà văn hoá thôn ${v}, ${commune}",xa-${c + 1},${wifi}`);
    }
  }
  return rows.join('\r\n') + '\r\n';
}

async function workspace(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-provision-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const csv = join(dir, 'sites.csv');
  const out = join(dir, 'fleet');
  return { dir, csv, out };
}

/** Runs the CLI in this process, capturing what it says. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [o, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

t.test('CSV as spreadsheets write it', async (t) => {
  t.same(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\n\n"two\nlines",z\n'), [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['x, y', 'say "hi"'] },
    { line: 4, fields: ['two\nlines', 'z'] },
  ], 'BOM dropped, quotes, doubled quotes, CRLF, a blank line skipped, a line break inside a field (the row keeps its first line)');
  t.throws(() => parseCsv('a,b\n"open,x\n'), /line 2: a quoted field is never closed/);
});

t.test("mosquitto's password hash: the same as mosquitto_passwd makes", async (t) => {
  // mosquitto_passwd -b -c pw alice secret123 wrote this line (mosquitto 2.0.11, Debian 12).
  const real = '$7$101$Sz0Af4J6FieTzq8X$NlnlqfXea2zR7qOlCKl0clg30wE9kb1vGYxeuQOhQAJZZSlnZM/NaZpzlOYLciU7/tCgzNsVbdTm3Xi08rDzLA==';
  t.equal(mosquittoHash('secret123', Buffer.from('Sz0Af4J6FieTzq8X', 'base64')), real);
});

t.test('bad rows are reported by line and column, and nothing is written', async (t) => {
  const bad = [
    'commune,village,name,group,id,wifi_ssid,wifi_password',
    'Xã Hòa Bình,Thôn Đông,Nhà văn hoá thôn Đông,xa-hoa-binh,,,',
    'Xã Hòa Bình,Thôn Tây,,xa-hoa-binh,,,',
    'Xã Hòa Bình,Thôn Nam,Thôn Nam,Xã Hòa Bình,,,',
    'Xã Hòa Bình,Thôn Bắc,Thôn Bắc,xa-hoa-binh,Thon_Bac,,',
    'Xã Hòa Bình,Thôn Đông,Thôn Đông 2,xa-hoa-binh,,,',
    'Xã Hòa Bình,Thôn Hạ,Thôn Hạ,xa-hoa-binh,,Nha Van Hoa,ngan',
  ].join('\n');
  const { problems } = parseSites(bad);
  t.same(problems.map(formatProblem), [
    'line 3, column 3 (name): the box needs a name (what the other halls see)',
    'line 4, column 4 (group): "Xã Hòa Bình" is not a group id: lower-case letters, digits and dashes (e.g. xa-hoa-binh)',
    'line 5, column 5 (id): "Thon_Bac" is not a box id: lower-case letters, digits and dashes, at most 63',
    'line 6: the same commune and village as line 2 (id "xa-hoa-binh-thon-dong"): give this row an id',
    'line 7, column 7 (wifi_password): a Wi-Fi password has 8 to 63 characters (no accents)',
  ]);
  t.match(parseSites('xa,thon,ten\nA,B,C\n').problems.map(formatProblem), ['line 1: the column "group" is missing'], 'a missing column, Vietnamese headers known');

  const w = await workspace(t);
  await writeFile(w.csv, csv30());
  t.equal((await run([w.csv, '--broker', 'mqtt://127.0.0.1:1883', '--out', w.out])).code, 0, 'a good first run');
  const before = await readFile(join(w.out, 'registry.json'), 'utf8');
  await writeFile(w.csv, bad);
  const failed = await run([w.csv, '--broker', 'mqtt://127.0.0.1:1883', '--out', w.out]);
  t.equal(failed.code, 1, 'bad rows: exit 1');
  t.match(failed.stderr, /5 problem\(s\); nothing was written:\n {2}line 3, column 3 \(name\)/, 'said by line and column');
  t.equal(await readFile(join(w.out, 'registry.json'), 'utf8'), before, 'the last good output is untouched');
  t.same((await readdir(w.dir)).sort(), ['fleet', 'sites.csv'], 'and no half-written folder is left');
});

t.test('30 sites → bundles, a password file and an ACL that a real mosquitto enforces', async (t) => {
  const w = await workspace(t);
  await writeFile(w.csv, csv30());
  const first = await run([w.csv, '--broker', 'mqtt://127.0.0.1:1883', '--out', w.out]);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /30 boxes .*30 new, 0 kept/);
  const registry = JSON.parse(await readFile(join(w.out, 'registry.json'), 'utf8')) as Registry;
  const ids = Object.keys(registry.boxes);
  t.equal(ids.length, 30, '30 identities');
  t.equal(new Set(Object.values(registry.boxes).map((b) => b.password)).size, 30, 'each with its own password');
  t.ok(ids.includes('xa-hoa-binh-thon-dong'), `ids made from the place: ${ids.slice(0, 3).join(', ')}, …`);
  t.equal((await stat(join(w.out, 'registry.json'))).mode & 0o777, 0o600, 'the registry is 0600');
  const boxes = await readdir(join(w.out, 'boxes'));
  t.equal(boxes.length, 30, 'a bundle per box');
  const bundle = parseBundle(await readFile(join(w.out, 'boxes/xa-son-thuy-thon-dong/diemcau.json'), 'utf8'));
  t.match(bundle, {
    device: { id: 'xa-son-thuy-thon-dong', name: 'Nhà văn hoá thôn Đông, Xã Sơn Thủy', village: 'Thôn Đông', commune: 'Xã Sơn Thủy' },
    fleet: { url: 'mqtt://127.0.0.1:1883', groups: ['xa-2'], password: registry.boxes['xa-son-thuy-thon-dong']!.password },
    wifi: { ssid: 'Nha Van Hoa 1', password: 'mat-khau-1-wifi' },
  }, 'the bundle is one the box accepts, with its site, broker, group and Wi-Fi');
  t.equal((await stat(join(w.out, 'boxes/xa-son-thuy-thon-dong/diemcau.json'))).mode & 0o777, 0o600, 'bundles are 0600');
  const passwd = await readFile(join(w.out, 'mosquitto/passwd'), 'utf8');
  t.equal(passwd.trim().split('\n').length, 31, '30 boxes and the console in the password file');
  t.notMatch(passwd, new RegExp(registry.boxes[ids[0]!]!.password), 'only hashes in it');
  t.match(await readFile(join(w.out, 'labels.html'), 'utf8'), /Nhà văn hoá thôn Đông, Xã Hòa Bình[\s\S]*xa-hoa-binh-thon-dong/, 'labels name each box');

  const broker = await startMosquitto({ allowAnonymous: false, extraConfig: [`password_file ${join(w.out, 'mosquitto/passwd')}`, `acl_file ${join(w.out, 'mosquitto/acl')}`] });
  t.teardown(broker.stop);
  const connect = (username: string, password: string) => mqtt.connectAsync(broker.url, { username, password, reconnectPeriod: 0, connectTimeout: 5000, clientId: `${username}-${Math.random().toString(16).slice(2, 8)}` });
  const clients: mqtt.MqttClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined));
  for (const id of ids) clients.push(await connect(id, registry.boxes[id]!.password));
  t.equal(clients.filter((c) => c.connected).length, 30, 'each of the 30 boxes gets in with its own credentials');
  await t.rejects(connect(ids[0]!, registry.boxes[ids[1]!]!.password), /Not authorized|Bad User Name or Password/i, "a box with another box's password is refused");
  await t.rejects(connect('intruder', 'whatever'), /Not authorized|Bad User Name or Password/i, 'an unknown user is refused');

  // The ACL: each box writes under its own prefix only, and reads only its own commands.
  const consoleClient = await connect(registry.console.user, registry.console.password);
  clients.push(consoleClient);
  const seen: string[] = [];
  consoleClient.on('message', (topic) => seen.push(topic));
  await consoleClient.subscribeAsync('diemcau/#');
  const [a, b] = [clients[0]!, clients[1]!];
  const [idA, idB] = [ids[0]!, ids[1]!];
  await a.publishAsync(`diemcau/${idB}/state`, 'forged', { qos: 1 });
  await a.publishAsync(`diemcau/${idA}/state`, 'mine', { qos: 1 });
  await waitUntil('the console hears A under its own prefix', () => seen.includes(`diemcau/${idA}/state`));
  t.notOk(seen.includes(`diemcau/${idB}/state`), "A cannot write under B's prefix");
  const heardByB: string[] = [];
  b.on('message', (topic) => heardByB.push(topic));
  await b.subscribeAsync(`diemcau/${idA}/cmd/#`);
  await b.subscribeAsync(`diemcau/${idB}/cmd/#`);
  await consoleClient.publishAsync(`diemcau/${idA}/cmd/reboot`, '{}', { qos: 1 });
  await consoleClient.publishAsync(`diemcau/${idB}/cmd/identify`, '{}', { qos: 1 });
  await waitUntil("B gets its own command", () => heardByB.includes(`diemcau/${idB}/cmd/identify`));
  t.notOk(heardByB.includes(`diemcau/${idA}/cmd/reboot`), "B cannot read A's commands");

  // A second run keeps every identity; --rotate draws one box's password again.
  const again = await run([w.csv, '--broker', 'mqtt://127.0.0.1:1883', '--out', w.out, '--rotate', idA]);
  t.match(again.stdout, /0 new, 29 kept, 1 with a new password/);
  const next = JSON.parse(await readFile(join(w.out, 'registry.json'), 'utf8')) as Registry;
  t.equal(next.boxes[idB]!.password, registry.boxes[idB]!.password, 'B keeps its password');
  t.not(next.boxes[idA]!.password, registry.boxes[idA]!.password, 'A has a new one');
  t.equal(next.console.password, registry.console.password, 'the console keeps its password');
  t.equal((await run([w.csv, '--broker', 'mqtt://x', '--out', w.out, '--rotate', 'nobody'])).code, 2, 'rotating an unknown id is refused');
});
