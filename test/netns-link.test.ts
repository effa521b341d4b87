/**
 * The emulated village link (test/helpers/netns.ts) does what it says: figures measured with
 * real UDP/TCP packets from site a to site b (and the hub) across the namespaces. Only link a
 * is impaired, so a round trip a → b crosses the impairment twice (a→hub, hub→a).
 */
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { JsonLines, netnsAvailable, runIn, startSites, type Site } from './helpers/netns.js';

const UDP_PORT = 9000;
const TCP_PORT = 1883; // where the MQTT broker listens in the hub in other tests

/**
 * A measuring agent run with node inside a namespace, driven by JSON lines on stdin (one reply
 * per command, in order). CommonJS because `node -e` evaluates it as such.
 */
const AGENT = String.raw`
const dgram = require('node:dgram');
const net = require('node:net');
const readline = require('node:readline');
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const HEADER = 28; // IPv4 + UDP: the emulator's rate cap counts IP bytes

let sink = { packets: 0, bytes: 0, first: 0, last: 0, firstBytes: 0 };
const ops = {
  async udpEcho({ port }) {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, from) => {
      if (msg[0] === 0x50) s.send(msg, from.port, from.address); // 'P': ping, echo it
      else if (msg[0] === 0x42) { // 'B': blast, count it
        const t = now();
        if (sink.packets === 0) { sink.first = t; sink.firstBytes = msg.length + HEADER; }
        sink.packets++; sink.bytes += msg.length + HEADER; sink.last = t;
      }
    });
    await new Promise((r) => s.bind(port, '0.0.0.0', r));
    return { port };
  },
  async sinkReport() {
    const r = sink;
    sink = { packets: 0, bytes: 0, first: 0, last: 0, firstBytes: 0 };
    return { packets: r.packets, bytes: r.bytes, firstBytes: r.firstBytes, spanMs: r.last - r.first };
  },
  async tcpListen({ port }) {
    const server = net.createServer((c) => c.end());
    await new Promise((r) => server.listen(port, '0.0.0.0', r));
    return { port };
  },
  async tcpConnect({ host, port, timeoutMs }) {
    const start = now();
    return await new Promise((resolve) => {
      const c = net.connect({ host, port });
      const timer = setTimeout(() => { c.destroy(); resolve({ connected: false, error: 'timeout', ms: now() - start }); }, timeoutMs);
      c.once('connect', () => { clearTimeout(timer); c.destroy(); resolve({ connected: true, ms: now() - start }); });
      c.once('error', (e) => { clearTimeout(timer); resolve({ connected: false, error: e.code, ms: now() - start }); });
    });
  },
  // count pings, perTick every tickMs; replies counted until waitMs after the last one.
  async ping({ host, port, count, perTick, tickMs, waitMs, size }) {
    const s = dgram.createSocket('udp4');
    const sentAt = new Map();
    const rtts = [];
    s.on('message', (msg) => {
      const seq = msg.readUInt32BE(1);
      const t0 = sentAt.get(seq);
      if (t0 !== undefined) { rtts.push(now() - t0); sentAt.delete(seq); }
    });
    await new Promise((r) => s.bind(0, '0.0.0.0', r));
    let seq = 0;
    while (seq < count) {
      for (let i = 0; i < perTick && seq < count; i++, seq++) {
        const b = Buffer.alloc(size); b[0] = 0x50; b.writeUInt32BE(seq, 1);
        sentAt.set(seq, now());
        s.send(b, port, host);
      }
      await sleep(tickMs);
    }
    await sleep(waitMs);
    s.close();
    return { sent: seq, received: rtts.length, rtts };
  },
  // Pings every intervalMs until the first echo: how soon the path carries again.
  async firstReply({ host, port, intervalMs, timeoutMs }) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '0.0.0.0', r));
    const start = now();
    let sent = 0;
    const ms = await new Promise((resolve) => {
      s.once('message', () => resolve(now() - start));
      const tick = () => {
        if (now() - start > timeoutMs) return resolve(null);
        const b = Buffer.alloc(32); b[0] = 0x50; b.writeUInt32BE(sent++, 1);
        s.send(b, port, host);
        timer = setTimeout(tick, intervalMs);
      };
      let timer = setTimeout(tick, 0);
      s.once('message', () => clearTimeout(timer));
    });
    s.close();
    return { ms, sent };
  },
  // Paced UDP at kbps (IP bytes) for ms: credit accrues by elapsed time, spent every 5 ms.
  async blast({ host, port, ms, kbps, size }) {
    const s = dgram.createSocket('udp4');
    const start = now();
    let sentBytes = 0, sent = 0;
    while (now() - start < ms) {
      const due = ((now() - start) / 1000) * kbps * 1000 / 8;
      while (sentBytes + size + HEADER <= due) {
        const b = Buffer.alloc(size); b[0] = 0x42;
        s.send(b, port, host);
        sentBytes += size + HEADER; sent++;
      }
      await sleep(5);
    }
    await sleep(50);
    s.close();
    return { sent, sentBytes, ms: now() - start };
  },
};

let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  chain = chain.then(async () => {
    try { return await ops[msg.op](msg); } catch (e) { return { failure: String(e && e.stack || e) }; }
  }).then((reply) => process.stdout.write(JSON.stringify(reply) + '\n'));
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
`;

interface Agent {
  call<T = Record<string, unknown>>(op: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

async function startAgent(site: Site): Promise<Agent> {
  const child: ChildProcess = runIn(site, ['-e', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = new JsonLines(child, `agent in ${site.name}`);
  await lines.next(15_000); // {"ready":true}
  return {
    async call(op, args = {}, timeoutMs = 15_000) {
      const reply = (await lines.request({ op, ...args }, timeoutMs)) as Record<string, unknown>;
      if (typeof reply.failure === 'string') throw new Error(`${op} in ${site.name}: ${reply.failure}`);
      return reply as never;
    },
  };
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface PingResult {
  sent: number;
  received: number;
  rtts: number[];
}

const available = await netnsAvailable();

t.test('emulated link between namespaces', { skip: available === true ? false : available }, async (t) => {
  const started = performance.now();
  const { sites, link } = await startSites(t, { seed: 7 });
  const [agentA, agentB, agentHub] = await Promise.all([
    startAgent(sites.a),
    startAgent(sites.b),
    startAgent(sites.hub),
  ]);
  await agentB.call('udpEcho', { port: UDP_PORT });
  await agentHub.call('tcpListen', { port: TCP_PORT });
  t.comment(`set-up (namespaces, emulators, agents): ${Math.round(performance.now() - started)} ms`);

  const clean = () => link('a').set({ delayMs: 0, lossPercent: 0, rateKbps: 0 });
  const ping = (args: Partial<Record<string, number>>): Promise<PingResult> =>
    agentA.call<PingResult>('ping', {
      host: sites.b.address,
      port: UDP_PORT,
      count: 50,
      perTick: 1,
      tickMs: 10,
      waitMs: 300,
      size: 64,
      ...args,
    });

  await t.test('clean link: fast and lossless', async (t) => {
    await clean();
    const r = await ping({ count: 100 });
    const rtt = median(r.rtts);
    t.comment(`clean: ${r.received}/${r.sent} echoed, median RTT ${rtt.toFixed(2)} ms, max ${Math.max(...r.rtts).toFixed(2)} ms`);
    t.equal(r.received, r.sent, 'every ping echoed');
    t.ok(rtt < 20, `median RTT ${rtt.toFixed(2)} ms < 20 ms`);
  });

  await t.test('100 ms each way gives a 200 ms round trip', async (t) => {
    await clean();
    await link('a').set({ delayMs: 100 });
    const r = await ping({ count: 30, tickMs: 20, waitMs: 600 });
    const rtt = median(r.rtts);
    t.comment(`delay 100 ms: ${r.received}/${r.sent} echoed, median RTT ${rtt.toFixed(1)} ms`);
    t.equal(r.received, r.sent, 'every ping echoed');
    t.ok(rtt >= 170 && rtt <= 230, `median RTT ${rtt.toFixed(1)} ms within 200 ± 30`);
  });

  await t.test('5 % loss per direction compounds over a round trip', async (t) => {
    await clean();
    await link('a').set({ lossPercent: 5 });
    const before = await link('a').stats();
    const r = await ping({ count: 2000, perTick: 10, tickMs: 10, waitMs: 500 });
    const after = await link('a').stats();
    // Echo needs both crossings: 1 - 0.95² = 9.75 %; σ over 2000 ≈ 0.66 %, so ±~4σ.
    const loss = (100 * (r.sent - r.received)) / r.sent;
    const out = after.outbound.lost - before.outbound.lost;
    const outSeen = after.outbound.received - before.outbound.received;
    const inb = after.inbound.lost - before.inbound.lost;
    const inSeen = after.inbound.received - before.inbound.received;
    t.comment(
      `loss 5 %: round-trip loss ${loss.toFixed(2)} % (${r.sent - r.received}/${r.sent}); ` +
        `emulator lost ${out}/${outSeen} outbound, ${inb}/${inSeen} inbound`,
    );
    t.ok(loss >= 7 && loss <= 12.5, `round-trip loss ${loss.toFixed(2)} % within 7…12.5 % (expected 9.75 %)`);
    // Per direction σ over 2000 draws ≈ 0.49 %: ±4σ around 5 %.
    t.ok(out / outSeen >= 0.03 && out / outSeen <= 0.07, `outbound drop ratio ${(out / outSeen).toFixed(4)} ≈ 0.05`);
    t.equal(r.sent - r.received, out + inb, 'every missing echo is one the emulator dropped');
  });

  await t.test('1 Mbps cap: a 2 Mbps blast arrives at 1 Mbps', async (t) => {
    await clean();
    await link('a').set({ rateKbps: 1000 });
    await agentB.call('sinkReport'); // reset
    const before = await link('a').stats();
    const sent = await agentA.call<{ sent: number; sentBytes: number; ms: number }>('blast', {
      host: sites.b.address,
      port: UDP_PORT,
      ms: 3000,
      kbps: 2000,
      size: 1000,
    });
    await new Promise((r) => setTimeout(r, 300)); // the 150 ms queue drains
    const sink = await agentB.call<{ packets: number; bytes: number; firstBytes: number; spanMs: number }>('sinkReport');
    const after = await link('a').stats();
    // Steady state between first and last arrival: the first packet only opens the window.
    const kbps = ((sink.bytes - sink.firstBytes) * 8) / sink.spanMs;
    const offered = (sent.sentBytes * 8) / sent.ms;
    const queueDrops = after.outbound.droppedQueue - before.outbound.droppedQueue;
    t.comment(
      `rate 1000 kbps: offered ${offered.toFixed(0)} kbps (${sent.sent} pkts), received ${kbps.toFixed(0)} kbps ` +
        `(${sink.packets} pkts over ${sink.spanMs.toFixed(0)} ms), queue drops ${queueDrops}`,
    );
    t.ok(kbps >= 850 && kbps <= 1150, `received ${kbps.toFixed(0)} kbps within 1000 ± 15 %`);
    t.ok(sink.spanMs > 2500, `arrivals spread over ${sink.spanMs.toFixed(0)} ms of a 3 s blast`);
    t.ok(queueDrops > 0, `the bottleneck tail-dropped ${queueDrops} packets`);
  });

  await t.test('the hub service is reachable from both sites', async (t) => {
    await clean();
    for (const [name, agent] of [
      ['a', agentA],
      ['b', agentB],
    ] as const) {
      const r = await agent.call<{ connected: boolean; ms: number; error?: string }>('tcpConnect', {
        host: sites.hub.address,
        port: TCP_PORT,
        timeoutMs: 3000,
      });
      t.comment(`site ${name} → hub ${sites.hub.address}:${TCP_PORT}: connected ${r.connected} in ${r.ms.toFixed(1)} ms`);
      t.ok(r.connected, `site ${name} connects to the hub (${r.error ?? 'ok'})`);
      t.ok(r.ms < 1000, `in ${r.ms.toFixed(1)} ms`);
    }
  });

  await t.test('down cuts everything of site a; up restores it within 1 s', async (t) => {
    await clean();
    await link('a').down();
    const before = await link('a').stats();
    const [r, hubFromA, hubFromB] = await Promise.all([
      ping({ count: 20, tickMs: 50, waitMs: 300 }),
      agentA.call<{ connected: boolean; error?: string }>('tcpConnect', {
        host: sites.hub.address,
        port: TCP_PORT,
        timeoutMs: 1000,
      }),
      agentB.call<{ connected: boolean; error?: string }>('tcpConnect', {
        host: sites.hub.address,
        port: TCP_PORT,
        timeoutMs: 1000,
      }),
    ]);
    const after = await link('a').stats();
    const droppedDown = after.outbound.droppedDown - before.outbound.droppedDown;
    t.comment(
      `down: ${r.received}/${r.sent} echoed, emulator dropped ${droppedDown} outbound; ` +
        `a→hub TCP ${hubFromA.connected ? 'connected' : hubFromA.error}, b→hub TCP ${hubFromB.connected ? 'connected' : hubFromB.error}`,
    );
    t.equal(r.received, 0, 'no echo while down');
    t.ok(droppedDown >= r.sent, `the emulator dropped all ${droppedDown} packets site a sent (≥ ${r.sent} pings)`);
    t.notOk(hubFromA.connected, `site a cannot reach the hub's broker port (${hubFromA.error})`);
    t.ok(hubFromB.connected, 'site b still reaches the hub');

    await link('a').up();
    const back = await agentA.call<{ ms: number | null; sent: number }>('firstReply', {
      host: sites.b.address,
      port: UDP_PORT,
      intervalMs: 20,
      timeoutMs: 3000,
    });
    t.comment(`up: first echo after ${back.ms?.toFixed(1)} ms (${back.sent} pings sent)`);
    t.ok(back.ms !== null && back.ms < 1000, `packets arrive again after ${back.ms?.toFixed(1)} ms (< 1000)`);
  });

  t.comment(`whole run: ${Math.round(performance.now() - started)} ms`);
});
