import dgram from 'node:dgram';

/** Binds a UDP socket on 127.0.0.1 (port 0 lets the kernel pick a free port). */
export function bindUdp(port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/**
 * `count` distinct UDP ports that were free on 127.0.0.1 a moment ago. All sockets are held
 * open together (so the ports differ) and closed before returning, for an engine to bind.
 * Test files run in parallel: never hard-code a port.
 */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets: dgram.Socket[] = [];
  try {
    for (let i = 0; i < count; i++) sockets.push(await bindUdp(0));
    return sockets.map((s) => s.address().port);
  } finally {
    await Promise.all(sockets.map(closeUdp));
  }
}

/** A UDP socket that counts what arrives: the "far end" for measuring what the engine sends. */
export interface UdpCollector {
  readonly port: number;
  readonly socket: dgram.Socket;
  /** Every datagram received so far, in order, with its arrival time (ms, monotonic). */
  readonly packets: Array<{ at: number; data: Buffer }>;
  bytes(): number;
  /** Forgets what was received (keeps listening). */
  reset(): void;
  close(): Promise<void>;
}

export async function udpCollector(keepData = true): Promise<UdpCollector> {
  const socket = await bindUdp(0);
  const packets: Array<{ at: number; data: Buffer }> = [];
  let bytes = 0;
  socket.on('message', (data) => {
    bytes += data.length;
    packets.push({ at: performance.now(), data: keepData ? data : Buffer.alloc(0) });
  });
  return {
    port: socket.address().port,
    socket,
    packets,
    bytes: () => bytes,
    reset: () => {
      packets.length = 0;
      bytes = 0;
    },
    close: () => closeUdp(socket),
  };
}
