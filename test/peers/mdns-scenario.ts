/**
 * Run inside a network namespace whose loopback carries multicast (test/setup-mdns.test.ts):
 * two boxes' responders and a phone's queries on one link. Prints one JSON line per finding.
 */
import multicastDns from 'multicast-dns';
import { createLogger } from '../../daemon/log.js';
import { MdnsAnnouncer } from '../../daemon/setup/mdns.js';

const say = (what: string, value: unknown) => process.stdout.write(`${JSON.stringify({ what, value })}\n`);
const log = createLogger('silent');
const box = (address: string, name: { current: string }) =>
  new MdnsAnnouncer({
    name: () => name.current,
    port: () => 8080,
    instance: () => `Điểm cầu ${name.current}`,
    log,
    interfaces: () => ({ eth0: [{ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` }] }),
    probeIntervalMs: 100,
    announceIntervalMs: 300,
  });

// The phone: it asks and collects every answer it hears, goodbyes (TTL 0) included.
const phone = multicastDns({ reuseAddr: true, loopback: true });
const heard: Array<{ name: string; type: string; ttl: number; data: unknown }> = [];
phone.on('response', (r) => heard.push(...(r.answers ?? []).concat(r.additionals ?? []).map((a) => ({ name: a.name, type: a.type, ttl: (a as { ttl?: number }).ttl ?? -1, data: (a as { data?: unknown }).data }))));
await new Promise((resolve) => phone.once('ready', resolve));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function ask(name: string, type: string): Promise<typeof heard> {
  const from = heard.length;
  phone.query({ questions: [{ name, type: type as 'A' }] });
  await delay(400);
  return heard.slice(from).filter((a) => a.name.toLowerCase() === name.toLowerCase() || type === 'PTR');
}

const nameA = { current: 'Thôn Đông' };
const a = box('10.0.0.1', nameA);
await a.start();
say('a.hostname', a.hostname);
say('a.answers', (await ask('diemcau-thon-dong.local', 'A')).map((r) => [r.type, r.data, r.ttl]));

// A legacy (one-shot) query, as dig or a phone's resolver sends: from its own port, not 5353.
const legacy = multicastDns({ multicast: false, port: 0 });
const reply = new Promise<{ id: number; questions: unknown; answers: unknown; from: number }>((resolve) =>
  legacy.once('response', (p, rinfo) =>
    resolve({ id: p.id ?? -1, questions: p.questions, answers: (p.answers ?? []).map((x) => [x.type, (x as { data?: unknown }).data, (x as { ttl?: number }).ttl]), from: rinfo.port }),
  ),
);
legacy.query({ id: 4242, questions: [{ name: 'diemcau-thon-dong.local', type: 'A' }] } as never, { port: 5353, address: '224.0.0.251' } as never);
say('legacy', await Promise.race([reply, delay(2000).then(() => null)]));
legacy.destroy();

const services = await ask('_http._tcp.local', 'PTR');
say('service', services.map((r) => [r.name, r.type, r.data]));

// A second box with the same name: it must pick another.
const b = box('10.0.0.2', { current: 'Thôn Đông' });
await b.start();
say('b.hostname', b.hostname);
say('a.again', (await ask('diemcau-thon-dong.local', 'A')).map((r) => r.data));
say('b.answers', (await ask(b.hostname, 'A')).map((r) => r.data));

// Renamed in the settings: the old name says goodbye, the new one answers.
const before = heard.length;
nameA.current = 'Thôn Tây';
await a.rename('Thôn Tây');
await delay(400);
say('a.goodbye', heard.slice(before).filter((r) => r.name === 'diemcau-thon-dong.local' && r.ttl === 0).map((r) => r.data));
say('a.renamed', [a.hostname, (await ask('diemcau-thon-tay.local', 'A')).map((r) => r.data)]);
say('a.old', (await ask('diemcau-thon-dong.local', 'A')).map((r) => r.data));

const beforeStop = heard.length;
await b.stop();
await delay(300);
say('b.goodbye', heard.slice(beforeStop).filter((r) => r.name === 'diemcau-thon-dong-2.local' && r.ttl === 0).map((r) => r.data));
await a.stop();
phone.destroy();
say('done', true);
