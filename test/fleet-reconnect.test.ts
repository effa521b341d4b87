/**
 * A broker that is down: several boxes retry with delays that grow and that differ from box
 * to box (full jitter), measured on real connection attempts, not on the Backoff class alone.
 */
import t from 'tap';
import { pino } from 'pino';
import { FleetConnection } from '../daemon/fleet/connection.js';
import { LogTail } from '../daemon/log.js';
import { freeTcpPort } from './helpers/mosquitto.js';
import { waitUntil } from './helpers/wait.js';

const CLIENTS = 8;
const ATTEMPTS = 6;
const BASE_MS = 100;
const CAP_MS = 1600;

t.test('reconnect delays are jittered across boxes and grow with each failure', async (t) => {
  const port = await freeTcpPort(); // nothing listens: every attempt is refused at once
  const boxes = Array.from({ length: CLIENTS }, (_, i) => {
    const tail = new LogTail(1000);
    const connection = new FleetConnection({
      url: `mqtt://127.0.0.1:${port}`,
      deviceId: `jitter-${i}`,
      keepaliveS: 30,
      log: pino({ level: 'debug' }, tail),
      backoff: { baseMs: BASE_MS, capMs: CAP_MS },
    });
    t.teardown(() => connection.stop());
    return { connection, tail };
  });
  const delaysOf = (tail: LogTail) =>
    (tail.last(1000) as Array<{ event?: string; delayMs?: number }>).filter((r) => r.event === 'fleet.reconnect_in').map((r) => r.delayMs!);
  const started = performance.now();
  for (const b of boxes) b.connection.start();
  await waitUntil('every box retried enough', () => boxes.every((b) => delaysOf(b.tail).length >= ATTEMPTS), { timeoutMs: 20_000 });
  const elapsed = performance.now() - started;
  const delays = boxes.map((b) => delaysOf(b.tail).slice(0, ATTEMPTS));

  for (let k = 0; k < ATTEMPTS; k++) {
    const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** k);
    const column = delays.map((d) => d[k]!);
    t.ok(column.every((d) => d >= 0 && d <= ceiling), `attempt ${k + 1}: every delay within [0, ${ceiling}] ms`);
    // Random whole milliseconds below the ceiling: a few may coincide (at 100 ms, often), most do not.
    t.ok(new Set(column).size >= CLIENTS / 2, `attempt ${k + 1}: the boxes wait different times (${column.join(', ')})`);
  }
  const mean = (k: number) => delays.reduce((sum, d) => sum + d[k]!, 0) / CLIENTS;
  const early = (mean(0) + mean(1)) / 2;
  const late = (mean(ATTEMPTS - 2) + mean(ATTEMPTS - 1)) / 2;
  t.ok(late > 2 * early, `the delays grow: mean of attempts 1-2 ${Math.round(early)} ms, of attempts ${ATTEMPTS - 1}-${ATTEMPTS} ${Math.round(late)} ms`);
  t.comment(`${CLIENTS} boxes × ${ATTEMPTS} refused attempts in ${Math.round(elapsed)} ms`);
});
