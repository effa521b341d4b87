import t, { type Test } from 'tap';
import net from 'node:net';
import { FleetConnection, type FleetConnectionOptions } from '../daemon/fleet/connection.js';
import { createLogger } from '../daemon/log.js';
import { waitUntil } from './helpers/wait.js';

/**
 * mosquitto 2 speaks MQTT 5, so a 3.1.1-only broker is played by a few lines: it reads the
 * protocol level of each CONNECT and answers a CONNACK like an old broker would: return code
 * 1 ("unacceptable protocol version") for anything but 4, accepted for 4. Nothing else.
 */
async function oldBroker(t: Test): Promise<{ url: string; levels: number[] }> {
  const levels: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (data) => {
      if ((data[0]! & 0xf0) !== 0x10) return void socket.destroy();
      let i = 1;
      while (data[i]! & 0x80) i++; // remaining length (varint)
      i++;
      const nameLength = data.readUInt16BE(i);
      const level = data[i + 2 + nameLength]!;
      levels.push(level);
      if (level === 4) {
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      } else {
        socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { url: `mqtt://127.0.0.1:${port}`, levels };
}

/** A box connection to `url`, stopped when the test ends. */
function boxOn(t: Test, url: string, o: Pick<FleetConnectionOptions, 'deviceId'> & Partial<FleetConnectionOptions>): FleetConnection {
  const conn = new FleetConnection({ url, keepaliveS: 30, log: createLogger('silent'), stopTimeoutMs: 300, ...o });
  t.teardown(() => conn.stop());
  return conn;
}

t.test('a broker that refuses MQTT 5 gets MQTT 3.1.1 from then on', async (t) => {
  const broker = await oldBroker(t);
  // The fallback retry must not wait for the backoff.
  const conn = boxOn(t, broker.url, { deviceId: 'old-hall', backoff: { baseMs: 10_000, capMs: 10_000 } });
  const errors: Array<{ code?: unknown }> = [];
  conn.on('error', (e) => errors.push(e as { code?: unknown }));
  t.equal(conn.protocolVersion, 5, 'MQTT 5 by default');
  conn.start();
  const [info] = await conn.waitFor('connected', undefined, 5000);
  t.equal(info.protocolVersion, 4);
  t.equal(conn.protocolVersion, 4);
  t.same(broker.levels, [5, 4], 'one refused v5 attempt, then 3.1.1');
  t.equal(errors[0]?.code, 1, 'the refusal was reported');
  await waitUntil('still one error', () => errors.length === 1);
});

t.test('protocolVersion 4 asked for: no MQTT 5 attempt at all', async (t) => {
  const broker = await oldBroker(t);
  const conn = boxOn(t, broker.url, { deviceId: 'old-hall-2', protocolVersion: 4 });
  conn.start();
  const [info] = await conn.waitFor('connected', undefined, 5000);
  t.equal(info.protocolVersion, 4);
  t.same(broker.levels, [4]);
});
