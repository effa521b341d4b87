/**
 * Two video-call sites and a hub in separate Linux network namespaces, each site joined to the
 * hub by its own impaired link (test/peers/link-emulator.py: user-space TUN "cable", because
 * this kernel has no sch_netem). ALL traffic of a site — to the other site and to services in
 * the hub (e.g. the MQTT broker) — crosses its link, so cutting site a's link is a village
 * outage.
 *
 *   site a (10.77.1.2) ──link a── hub (10.77.0.1 on lo; 10.77.1.1, 10.77.2.1) ──link b── site b (10.77.2.2)
 *
 * Needs root, `ip`, /dev/net/tun and Debian's /usr/bin/python3: check `netnsAvailable()` first.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from './project.js';

const execFileP = promisify(execFile);

/** Where cleanup is registered: a tap test, or a benchmark's own list. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export const LINK_EMULATOR = join(PROJECT_ROOT, 'test/peers/link-emulator.py');
const SYSTEM_PYTHON = '/usr/bin/python3';
const IP = 'ip';

export type SiteId = 'a' | 'b' | 'hub';

export interface Site {
  /** The network namespace's name (unique per test process). */
  readonly name: string;
  /** Where the others reach this site (the hub: one address for both sites, on its lo). */
  readonly address: string;
  /** Runs `ip netns exec <name> command …args`; the child is killed at stop()/teardown. */
  spawn(command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
}

export interface Impairment {
  /** One-way delay added in each direction (0 = none). */
  delayMs?: number;
  /** Random loss in each direction, in percent (0 = none). */
  lossPercent?: number;
  /** Rate cap in each direction, kbit/s of IP packets (0 = unlimited); drop-tail queue of ~150 ms. */
  rateKbps?: number;
}

export interface LinkSettings extends Required<Impairment> {
  down: boolean;
}

/** Counters of one direction of a link, as the emulator keeps them. */
export interface DirectionStats {
  received: number;
  forwarded: number;
  forwardedBytes: number;
  lost: number;
  droppedQueue: number;
  droppedDown: number;
  writeErrors: number;
}

export interface LinkStats {
  /** Site → hub. */
  outbound: DirectionStats;
  /** Hub → site. */
  inbound: DirectionStats;
}

export interface Link {
  /** Changes only the given fields, in both directions at once. */
  set(impairment: Impairment): Promise<LinkSettings>;
  /** Cuts the link: everything is dropped, including packets already in flight. */
  down(): Promise<LinkSettings>;
  up(): Promise<LinkSettings>;
  stats(): Promise<LinkStats>;
}

export interface Sites {
  sites: { a: Site; b: Site; hub: Site };
  link(site: 'a' | 'b'): Link;
  /** Kills every child and emulator and deletes the namespaces. Idempotent; also run at teardown. */
  stop(): Promise<void>;
}

export interface SitesOptions {
  /** Seed of the emulators' loss draws (link b uses seed + 100); default 1. */
  seed?: number;
  /** Bottleneck queue in ms of traffic before drop-tail; default 150. */
  queueMs?: number;
  /** Impairment both links start with; default clean. */
  impairment?: Impairment;
}

/**
 * JSON lines over a child's stdin/stdout: `request` writes one object and resolves with the
 * next line the child prints (children answer in order). Rejects if the child exits first.
 */
export class JsonLines {
  private readonly waiters: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  private readonly unread: unknown[] = [];
  private stderr = '';
  private exit: Error | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    if (!child.stdout || !child.stdin) throw new Error(`${label}: spawn it with stdio pipes`);
    child.stderr?.on('data', (chunk: Buffer) => {
      // Keep only the tail: it is for error messages.
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return; // not ours (a stray print); the protocol is JSON only
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(value);
      else this.unread.push(value);
    });
    child.once('exit', (code, signal) => {
      this.exit = new Error(`${label} exited (code ${code}, signal ${signal}): ${this.stderr.trim()}`);
      for (const w of this.waiters.splice(0)) w.reject(this.exit);
    });
    child.stdin.on('error', () => {}); // EPIPE after the child died is reported by 'exit'
  }

  /** The next line the child prints (within `timeoutMs`). */
  next(timeoutMs = 10_000): Promise<unknown> {
    if (this.unread.length > 0) return Promise.resolve(this.unread.shift());
    if (this.exit) return Promise.reject(this.exit);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (v: unknown) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: no reply within ${timeoutMs} ms; stderr: ${this.stderr.trim()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  request(message: unknown, timeoutMs = 10_000): Promise<unknown> {
    if (this.exit) return Promise.reject(this.exit);
    const reply = this.next(timeoutMs);
    this.child.stdin?.write(JSON.stringify(message) + '\n');
    return reply;
  }

  /** The tail of what the child wrote on stderr. */
  errors(): string {
    return this.stderr;
  }
}

/** Runs a node script inside a site: `process.execPath …nodeArgs` (e.g. ['-e', source, arg]). */
export function runIn(site: Site, nodeArgs: readonly string[], options?: SpawnOptions): ChildProcess {
  return site.spawn(process.execPath, nodeArgs, options);
}

let availability: Promise<true | string> | undefined;

/**
 * true when this machine lets us create namespaces and TUN devices (root, `ip`, /dev/net/tun,
 * /usr/bin/python3, and an actual `ip netns add` works); otherwise the reason, for a skip.
 */
export function netnsAvailable(): Promise<true | string> {
  availability ??= (async (): Promise<true | string> => {
    if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
    try {
      await access('/dev/net/tun', constants.R_OK | constants.W_OK);
    } catch {
      return 'no usable /dev/net/tun';
    }
    try {
      await access(SYSTEM_PYTHON, constants.X_OK);
    } catch {
      return `no ${SYSTEM_PYTHON} to run the link emulator`;
    }
    const probe = `dc${process.pid}probe`;
    try {
      await execFileP(IP, ['netns', 'add', probe]);
    } catch (e) {
      return `ip netns add failed: ${(e as { stderr?: string }).stderr?.trim() || String(e)}`;
    }
    await execFileP(IP, ['netns', 'del', probe]).catch(() => {});
    return true;
  })();
  return availability;
}

let instances = 0;

async function ip(...args: string[]): Promise<void> {
  try {
    await execFileP(IP, args);
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() || String(e)}`);
  }
}

/** Feeds `lines` to `ip -n <netns> -batch -` (one process for a whole configuration). */
function ipBatch(netns: string, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['-n', netns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip -n ${netns} -batch failed (${code}): ${stderr.trim()}`)),
    );
    child.stdin.end(lines.join('\n') + '\n');
  });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL if it lingers. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  if (!(await exited(child, 2000))) {
    child.kill('SIGKILL');
    await exited(child, 2000);
  }
}

function parseStats(value: unknown): DirectionStats {
  const v = (value ?? {}) as Record<string, unknown>;
  const n = (k: string): number => (typeof v[k] === 'number' ? (v[k] as number) : NaN);
  return {
    received: n('received'),
    forwarded: n('forwarded'),
    forwardedBytes: n('forwardedBytes'),
    lost: n('lost'),
    droppedQueue: n('droppedQueue'),
    droppedDown: n('droppedDown'),
    writeErrors: n('writeErrors'),
  };
}

/**
 * Creates namespaces `dc<pid>a`, `dc<pid>b`, `dc<pid>hub` (a suffix after the first call in one
 * process), links each site to the hub through its own link emulator, and registers teardown.
 */
export async function startSites(t: Teardown, options: SitesOptions = {}): Promise<Sites> {
  const instance = instances++;
  const prefix = `dc${process.pid}${instance === 0 ? '' : `-${instance}`}`;
  const names = { a: `${prefix}a`, b: `${prefix}b`, hub: `${prefix}hub` };
  const created: string[] = [];
  const children = new Set<ChildProcess>();
  const emulators: ChildProcess[] = [];

  // Last resort if the process dies without teardown (uncaught error): no leaked namespaces.
  const onExit = (): void => {
    for (const c of [...children, ...emulators]) if (c.exitCode === null) c.kill('SIGKILL');
    for (const ns of created) {
      try {
        execFileSync(IP, ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.all([...children].map(terminate));
      for (const e of emulators) e.stdin?.end(); // EOF is the emulator's clean exit
      await Promise.all(emulators.map(terminate));
      for (const ns of created) {
        // Anything still inside our private namespace was started by us (e.g. a grandchild).
        const pids = await execFileP(IP, ['netns', 'pids', ns]).then(
          (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
          () => [] as number[],
        );
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await ip('netns', 'del', ns).catch(() => {});
      }
      process.off('exit', onExit);
    })());
  t.teardown(stop);

  const makeSite = (name: string, address: string): Site => ({
    name,
    address,
    spawn(command, args = [], spawnOptions = {}) {
      const child = spawn(IP, ['netns', 'exec', name, command, ...args], spawnOptions);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
  });
  const sites = {
    a: makeSite(names.a, '10.77.1.2'),
    b: makeSite(names.b, '10.77.2.2'),
    hub: makeSite(names.hub, '10.77.0.1'),
  };

  try {
    for (const ns of Object.values(names)) {
      await ip('netns', 'add', ns);
      created.push(ns);
    }
    await Promise.all(
      Object.entries(names).map(async ([id, ns]) => {
        // rp_filter off before the TUN devices exist so they inherit it from `default`;
        // IPv6 off so its chatter (MLD, router solicitations) does not pollute link counters.
        const sysctls = [
          'net.ipv4.conf.all.rp_filter=0',
          'net.ipv4.conf.default.rp_filter=0',
          'net.ipv6.conf.all.disable_ipv6=1',
          'net.ipv6.conf.default.disable_ipv6=1',
        ];
        if (id === 'hub') sysctls.push('net.ipv4.ip_forward=1');
        await ip('netns', 'exec', ns, 'sysctl', '-q', '-w', ...sysctls);
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
      }),
    );

    const seed = options.seed ?? 1;
    const startEmulator = async (site: 'a' | 'b', linkSeed: number): Promise<JsonLines> => {
      const child = spawn(
        SYSTEM_PYTHON,
        [
          LINK_EMULATOR,
          ...['--ns-x', names[site], '--dev-x', 'uplink'],
          ...['--ns-y', names.hub, '--dev-y', `site-${site}`],
          ...['--seed', String(linkSeed), '--queue-ms', String(options.queueMs ?? 150)],
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      emulators.push(child);
      const lines = new JsonLines(child, `link-emulator ${site}`);
      const ready = (await lines.next(10_000)) as { ready?: boolean };
      if (ready.ready !== true) throw new Error(`link-emulator ${site}: unexpected ${JSON.stringify(ready)}`);
      return lines;
    };
    const [emuA, emuB] = await Promise.all([startEmulator('a', seed), startEmulator('b', seed + 100)]);

    const net = { a: 1, b: 2 } as const;
    await Promise.all([
      ...(['a', 'b'] as const).map((s) =>
        ipBatch(names[s], [
          `addr add 10.77.${net[s]}.2/32 peer 10.77.${net[s]}.1 dev uplink`,
          'link set uplink up',
          `route add default via 10.77.${net[s]}.1 dev uplink`,
        ]),
      ),
      ipBatch(names.hub, [
        'addr add 10.77.0.1/32 dev lo',
        ...(['a', 'b'] as const).flatMap((s) => [
          `addr add 10.77.${net[s]}.1/32 peer 10.77.${net[s]}.2 dev site-${s}`,
          `link set site-${s} up`,
        ]),
      ]),
    ]);

    const makeLink = (lines: JsonLines): Link => {
      const command = async (message: Record<string, unknown>): Promise<Record<string, unknown>> => {
        const reply = (await lines.request(message, 5000)) as Record<string, unknown>;
        if (reply.ok !== true) throw new Error(`${lines.label}: ${JSON.stringify(reply)}`);
        return reply;
      };
      const settings = async (message: Record<string, unknown>): Promise<LinkSettings> =>
        (await command(message)).settings as LinkSettings;
      return {
        set: (impairment) => settings({ ...impairment }),
        down: () => settings({ down: true }),
        up: () => settings({ down: false }),
        async stats() {
          const stats = (await command({ stats: true })).stats as Record<string, unknown>;
          return { outbound: parseStats(stats.xy), inbound: parseStats(stats.yx) };
        },
      };
    };
    const links = { a: makeLink(emuA), b: makeLink(emuB) };
    if (options.impairment) await Promise.all([links.a.set(options.impairment), links.b.set(options.impairment)]);

    return { sites, link: (site) => links[site], stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
