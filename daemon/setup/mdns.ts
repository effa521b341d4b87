/**
 * The setup page's name on the hall's LAN: `diemcau-<box name>.local` over multicast DNS
 * (RFC 6762), and an `_http._tcp` service (RFC 6763) that network-browsing apps list. Pi OS runs
 * avahi-daemon on the same port; both share it (SO_REUSEADDR) and each answers for its own names.
 *
 * On start the name is probed (three queries 250 ms apart); if another host answers for it, the
 * next one is tried (`-2`, `-3`, ...) and the name in use is told (the TV and the demo show it).
 * Then it is announced twice, 1 s apart. Queries from port 5353 get multicast answers; a
 * "legacy" query from any other port (dig, some phones' resolvers) gets a unicast answer with its
 * id and question (§6.7). Stopping sends the goodbye (TTL 0) so caches forget the name at once.
 */
import multicastDns from 'multicast-dns';
import type { MulticastDNS, QueryPacket } from 'multicast-dns';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { RemoteInfo } from 'node:dgram';
import type { Answer, Question } from 'dns-packet';
import { serializeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Part } from '../part.js';
import { asciiSlug } from '../util/slug.js';

export interface MdnsOptions {
  /** The box's name (device.name): its DNS label is made from it. */
  name(): string;
  /** The setup page's port. */
  port(): number;
  /** The service instance's name, as apps list it ("Điểm cầu Thôn Tây"). */
  instance(): string;
  log: Logger;
  /** The name in use changed (a conflict, a rename). */
  onHostname?(hostname: string): void;
  /** Tests: the interfaces to answer with, and the multicast socket's options. */
  interfaces?(): NodeJS.Dict<NetworkInterfaceInfo[]>;
  socket?: { interface?: string; port?: number };
  /** Tests: shorter waits. */
  probeIntervalMs?: number;
  announceIntervalMs?: number;
}

const SERVICE = '_http._tcp.local';
const SERVICES = '_services._dns-sd._udp.local';
/** Host records live 2 min, others 75 min (RFC 6762 §10); a legacy answer at most 10 s (§6.7). */
const HOST_TTL = 120;
const OTHER_TTL = 4500;
const LEGACY_TTL = 10;
const MDNS_PORT = 5353;

export class MdnsAnnouncer implements Part {
  readonly name = 'mdns';
  private mdns: MulticastDNS | undefined;
  private label = '';
  private probing: string | null = null;
  private conflict = false;
  private timers = new Set<NodeJS.Timeout>();
  private stopped = true;

  constructor(private readonly opts: MdnsOptions) {}

  /** The name it answers for, e.g. `diemcau-thon-tay.local`; '' before it has one. */
  get hostname(): string {
    return this.label ? `${this.label}.local` : '';
  }

  async start(): Promise<void> {
    this.stopped = false;
    const mdns = multicastDns({ ...(this.opts.socket ?? {}), reuseAddr: true, loopback: true });
    this.mdns = mdns;
    mdns.on('query', (query, rinfo) => this.answer(query, rinfo));
    mdns.on('response', (response) => this.checkConflict(response.answers ?? []));
    mdns.on('warning', (e: Error) => this.opts.log.debug({ err: serializeError(e) }, 'mdns: a packet was not understood'));
    const ready = await new Promise<Error | null>((resolve) => {
      mdns.once('ready', () => resolve(null));
      mdns.once('error', (e: Error) => resolve(e));
    });
    if (ready) {
      // No mDNS is no reason to stop: the TV shows the address too.
      this.opts.log.warn({ event: 'mdns.unavailable', err: serializeError(ready) }, 'mDNS: the port could not be opened; the box is reached by its address');
      this.destroy();
      return;
    }
    mdns.on('error', (e: Error) => this.opts.log.warn({ event: 'mdns.error', err: serializeError(e) }, 'mDNS socket error'));
    await this.claim(hostLabel(this.opts.name()));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.label) await this.send(this.records(null, 0));
    this.destroy();
  }

  /** The box was renamed: goodbye to the old name, then probe and announce the new one. */
  async rename(name: string): Promise<void> {
    if (!this.mdns || this.stopped || hostLabel(name) === this.label.replace(/-\d+$/, '')) return;
    if (this.label) await this.send(this.records(null, 0));
    this.label = '';
    await this.claim(hostLabel(name));
  }

  /** Probes `base`, then `base-2`, ... until one is free; then announces it. */
  private async claim(base: string): Promise<void> {
    for (let n = 1; n <= 20 && !this.stopped; n++) {
      const candidate = n === 1 ? base : `${base.slice(0, 63 - String(n).length - 1)}-${n}`;
      if (await this.probe(candidate)) {
        this.label = candidate;
        if (n > 1) this.opts.log.warn({ event: 'mdns.renamed', hostname: this.hostname, taken: `${base}.local` }, `mDNS: ${base}.local is taken on this network; using ${this.hostname}`);
        this.opts.onHostname?.(this.hostname);
        this.opts.log.info({ event: 'mdns.announced', hostname: this.hostname, port: this.opts.port() }, `setup page at http://${this.hostname}${this.opts.port() === 80 ? '' : `:${this.opts.port()}`}`);
        await this.send(this.records(null, undefined));
        this.later(this.opts.announceIntervalMs ?? 1000, () => void this.send(this.records(null, undefined)));
        return;
      }
    }
  }

  /** Three probes 250 ms apart; false if another host answered for the name meanwhile. */
  private async probe(label: string): Promise<boolean> {
    this.probing = `${label}.local`.toLowerCase();
    this.conflict = false;
    const interval = this.opts.probeIntervalMs ?? 250;
    for (let i = 0; i < 3 && !this.conflict && !this.stopped; i++) {
      this.mdns?.query({ questions: [{ name: `${label}.local`, type: 'ANY' }], authorities: this.hostRecords(`${label}.local`, null, HOST_TTL) } as unknown as QueryPacket);
      await new Promise<void>((resolve) => this.later(interval, resolve));
    }
    this.probing = null;
    return !this.conflict;
  }

  private checkConflict(answers: Answer[]): void {
    if (!this.probing) return;
    const ours = new Set(this.addresses(null));
    // Our own probe's loopback copy carries our addresses; another host's answer does not.
    if (answers.some((a) => a.name.toLowerCase() === this.probing && (a.type === 'A' || a.type === 'AAAA') && !ours.has(String(a.data)))) this.conflict = true;
  }

  private answer(query: QueryPacket, rinfo: RemoteInfo): void {
    if (!this.label || this.stopped) return;
    const legacy = rinfo.port !== MDNS_PORT;
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const host = this.hostname.toLowerCase();
    const instance = this.instanceName().toLowerCase();
    for (const q of query.questions ?? []) {
      const name = q.name.toLowerCase();
      const any = (q.type as string) === 'ANY';
      if (name === host && (any || q.type === 'A')) answers.push(...this.hostRecords(this.hostname, rinfo, HOST_TTL));
      else if (name === SERVICE && (any || q.type === 'PTR')) {
        answers.push(this.pointer());
        additionals.push(this.service(), this.text(), ...this.hostRecords(this.hostname, rinfo, HOST_TTL));
      } else if (name === instance && (any || q.type === 'SRV' || q.type === 'TXT')) {
        if (any || q.type === 'SRV') answers.push(this.service());
        if (any || q.type === 'TXT') answers.push(this.text());
        additionals.push(...this.hostRecords(this.hostname, rinfo, HOST_TTL));
      } else if (name === SERVICES && (any || q.type === 'PTR')) {
        answers.push({ name: SERVICES, type: 'PTR', ttl: OTHER_TTL, data: SERVICE });
      }
    }
    if (answers.length === 0) return;
    if (legacy) {
      // A plain DNS client: its id and question back, short TTLs, no cache-flush bit, to its port.
      const short = (r: Answer): Answer => ({ ...r, ttl: Math.min((r as { ttl?: number }).ttl ?? LEGACY_TTL, LEGACY_TTL), flush: false }) as Answer;
      this.mdns?.respond(
        { id: query.id, flags: 0x8400, questions: query.questions as Question[], answers: answers.map(short), additionals: additionals.map(short) } as never,
        { port: rinfo.port, address: rinfo.address } as never,
      );
      return;
    }
    this.mdns?.respond({ answers, additionals } as never);
  }

  /** Every record, for an announcement (ttl undefined) or a goodbye (ttl 0). */
  private records(rinfo: RemoteInfo | null, ttl: number | undefined): Answer[] {
    const set = <T extends Answer>(r: T): T => (ttl === undefined ? r : ({ ...r, ttl } as T));
    return [...this.hostRecords(this.hostname, rinfo, HOST_TTL), this.pointer(), this.service(), this.text()].map(set);
  }

  private hostRecords(name: string, rinfo: RemoteInfo | null, ttl: number): Answer[] {
    return this.addresses(rinfo).map((address) => ({ name, type: 'A', ttl, flush: true, data: address }) as Answer);
  }

  private instanceName(): string {
    // An instance name is one label of UTF-8 (dots would split it): up to 63 bytes.
    const label = this.opts.instance().replace(/\./g, ' ').trim() || this.label;
    return `${truncateBytes(label, 63)}.${SERVICE}`;
  }

  private pointer(): Answer {
    return { name: SERVICE, type: 'PTR', ttl: OTHER_TTL, data: this.instanceName() } as Answer;
  }

  private service(): Answer {
    return { name: this.instanceName(), type: 'SRV', ttl: HOST_TTL, flush: true, data: { port: this.opts.port(), weight: 0, priority: 0, target: this.hostname } } as Answer;
  }

  private text(): Answer {
    return { name: this.instanceName(), type: 'TXT', ttl: OTHER_TTL, flush: true, data: ['path=/'] } as Answer;
  }

  /**
   * The box's IPv4 addresses: the one on the asker's subnet when it can be told (a box on cable
   * and Wi-Fi answers each side with the address that side can reach), else all of them.
   */
  private addresses(rinfo: RemoteInfo | null): string[] {
    const all = Object.values(this.opts.interfaces?.() ?? networkInterfaces())
      .flat()
      .filter((i): i is NetworkInterfaceInfo => !!i && i.family === 'IPv4');
    const usable = all.filter((i) => !i.internal && !i.address.startsWith('169.254.'));
    const pool = usable.length > 0 ? usable : all;
    const same = rinfo ? pool.filter((i) => sameSubnet(i, rinfo.address)) : [];
    return [...new Set((same.length > 0 ? same : pool).map((i) => i.address))];
  }

  private async send(answers: Answer[]): Promise<void> {
    const mdns = this.mdns;
    if (!mdns || answers.length === 0) return;
    await new Promise<void>((resolve) => mdns.respond({ answers } as never, () => resolve()));
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private destroy(): void {
    this.mdns?.destroy();
    this.mdns = undefined;
  }
}

/**
 * `diemcau-<name>` as a DNS label: Vietnamese letters folded to ASCII ("Thôn Đông" → thon-dong),
 * anything else a hyphen, at most 63 characters.
 */
export function hostLabel(name: string): string {
  // "Điểm cầu Thôn Tây" is diemcau-thon-tay, not diemcau-diem-cau-thon-tay.
  const rest = asciiSlug(name, 200).replace(/^diem-?cau(-|$)/, '');
  return (rest ? `diemcau-${rest}` : 'diemcau').slice(0, 63).replace(/-+$/, '');
}

function sameSubnet(info: NetworkInterfaceInfo, address: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
  const mask = toInt(info.netmask);
  return (toInt(info.address) & mask) === (toInt(address) & mask);
}

function truncateBytes(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch, 'utf8') > max) break;
    out += ch;
  }
  return out;
}
