/**
 * The setup page's mDNS name: two boxes and a phone on one link, inside a network namespace
 * this test makes (its loopback given multicast), never on this machine's own network.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hostLabel } from '../daemon/setup/mdns.js';
import { netnsAvailable } from './helpers/netns.js';
import { PROJECT_ROOT } from './helpers/project.js';

const execFileP = promisify(execFile);

t.test('host labels: Vietnamese names folded to a DNS label', async (t) => {
  t.equal(hostLabel('Thôn Đông'), 'diemcau-thon-dong');
  t.equal(hostLabel('Nhà văn hoá thôn Tây (bản Mường)'), 'diemcau-nha-van-hoa-thon-tay-ban-muong');
  t.equal(hostLabel('Điểm cầu'), 'diemcau', 'the default name is not doubled');
  t.equal(hostLabel('Tổ dân phố số 7 — phường Hòa Bình, TP. Ðà Lạt'.repeat(3)).length <= 63, true, 'at most 63 characters');
  t.match(hostLabel('Tổ dân phố số 7 — phường Hòa Bình'.repeat(3)), /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'letters, digits and inner hyphens only');
  t.equal(hostLabel('!!!'), 'diemcau', 'nothing usable: the product name alone');
});

t.test('two boxes and a phone on a link: names, conflicts, legacy queries, the service, renames and goodbyes', async (t) => {
  const available = await netnsAvailable();
  if (available !== true) return void t.comment(`skipped: network namespaces are not available here: ${available}`);
  const ns = `dc${process.pid}mdns`;
  await execFileP('ip', ['netns', 'add', ns]);
  t.teardown(() => execFileP('ip', ['netns', 'del', ns]).then(() => undefined));
  // mDNS needs multicast, which a loopback lacks until told.
  for (const args of [['link', 'set', 'lo', 'up'], ['link', 'set', 'lo', 'multicast', 'on'], ['route', 'add', '224.0.0.0/4', 'dev', 'lo']]) {
    await execFileP('ip', ['-n', ns, ...args]);
  }
  const loader = join(PROJECT_ROOT, 'node_modules/@tapjs/typescript/dist/esm/import.mjs');
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, `--import=file://${loader}`, join(PROJECT_ROOT, 'test/peers/mdns-scenario.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  t.equal(code, 0, `the scenario ran to its end ${err.slice(-500)}`);
  const found = new Map<string, any>(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((r: { what: string; value: unknown }) => [r.what, r.value])); // eslint-disable-line @typescript-eslint/no-explicit-any

  t.equal(found.get('a.hostname'), 'diemcau-thon-dong.local', 'box A probes and takes diemcau-thon-dong.local');
  t.ok(found.get('a.answers').some(([type, data, ttl]: [string, string, number]) => type === 'A' && data === '10.0.0.1' && ttl === 120), 'a multicast query for it gets its address (TTL 120 s)');
  t.match(found.get('legacy'), { id: 4242, questions: [{ name: 'diemcau-thon-dong.local', type: 'A' }], answers: [['A', '10.0.0.1', 10]], from: 5353 }, 'a legacy query gets a unicast answer with its id and question, TTL ≤ 10 s');
  const service = found.get('service') as Array<[string, string, any]>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.ok(service.some(([name, type, data]) => name === '_http._tcp.local' && type === 'PTR' && data === 'Điểm cầu Thôn Đông._http._tcp.local'), 'the _http._tcp service, its instance named in Vietnamese');
  t.ok(service.some(([, type, data]) => type === 'SRV' && data.port === 8080 && data.target === 'diemcau-thon-dong.local'), 'SRV: the page port on the box');
  t.ok(service.some(([, type, data]) => type === 'TXT' && Buffer.from(data[0].data).toString() === 'path=/'), 'TXT: path=/');
  t.equal(found.get('b.hostname'), 'diemcau-thon-dong-2.local', 'box B with the same name finds it taken and uses -2');
  t.same(found.get('a.again'), ['10.0.0.1'], 'A still answers for its name, and only A');
  t.same(found.get('b.answers'), ['10.0.0.2'], 'B answers for -2');
  t.same(found.get('a.goodbye'), ['10.0.0.1'], 'renamed: a goodbye (TTL 0) for the old name');
  t.same(found.get('a.renamed'), ['diemcau-thon-tay.local', ['10.0.0.1']], 'and the new name answers');
  t.same(found.get('a.old'), [], 'the old name no longer does');
  t.same(found.get('b.goodbye'), ['10.0.0.2'], 'stopping says goodbye');
  t.equal(found.get('done'), true);
});
