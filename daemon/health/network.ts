import type { NetworkInterfaceInfo } from 'node:os';
import type { HostFiles } from './host-files.js';
import type { NetworkInterface } from './schema.js';

const NET = '/sys/class/net';
const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;

/** Addresses by interface name, as `os.networkInterfaces()` returns them. */
export type AddressSource = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * Every interface in /sys/class/net with its state and byte counters: a few small file reads
 * per interface and no process (systeminformation's networkInterfaces spawns a shell and
 * nmcli per interface, ~90 ms here). Addresses come from the kernel through Node.
 * An interface that vanishes while it is read (a USB adapter pulled out) is left out.
 */
export async function readInterfaces(files: HostFiles, addresses: AddressSource): Promise<NetworkInterface[]> {
  const names = (await files.list(NET)).sort();
  const byName = addresses();
  const read = await Promise.all(names.map((name) => readInterface(files, name, byName[name] ?? []).catch(() => null)));
  return read.filter((i): i is NetworkInterface => i !== null);
}

async function readInterface(files: HostFiles, name: string, addresses: NetworkInterfaceInfo[]): Promise<NetworkInterface> {
  const dir = `${NET}/${name}`;
  const text = async (file: string) => (await files.read(`${dir}/${file}`)).trim();
  const [operstate, flags, arpType, rx, tx, wireless, phy, device] = await Promise.all([
    text('operstate'),
    text('flags'),
    text('type'),
    // Own reads, not si.networkStats: it spawns a `cat` shell per interface and repeats old counters within 500 ms.
    text('statistics/rx_bytes'),
    text('statistics/tx_bytes'),
    files.exists(`${dir}/wireless`),
    files.exists(`${dir}/phy80211`),
    files.exists(`${dir}/device`),
  ]);
  return {
    name,
    type: wireless || phy ? 'wireless' : Number(arpType) === ARPHRD_ETHER && device ? 'wired' : 'other',
    // Loopback and most tunnels report operstate "unknown" even when they work.
    up: operstate === 'up' || (operstate === 'unknown' && (Number.parseInt(flags, 16) & IFF_UP) !== 0),
    ipv4: addresses.filter((a) => a.family === 'IPv4').map((a) => a.address),
    rxBytes: counter(rx),
    txBytes: counter(tx),
  };
}

function counter(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a byte counter: ${JSON.stringify(text)}`);
  return value;
}
