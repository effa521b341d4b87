/**
 * The daemon's handle on the media worker process: controls cross the IPC channel, a pipeline
 * fault is repaired inside the worker, and a worker that crashes or hangs is replaced.
 */
import t, { type Test } from 'tap';
import { MediaClient } from '../daemon/media/client.js';
import { validateConfig } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';
import { freeUdpPorts } from './helpers/ports.js';
import { waitUntil, caught } from './helpers/wait.js';
import { alive } from './helpers/daemon.js';
import type { MediaStatus } from '../daemon/media/types.js';

async function startClient(t: Test, healthIntervalMs = 5000): Promise<MediaClient> {
  const [v, a] = await freeUdpPorts(2);
  const config = validateConfig({
    media: {
      video: { size: '640x360', encoders: ['x264enc'] },
      rtp: { sendVideoPort: v, sendAudioPort: a, receiveVideoPort: v, receiveAudioPort: a },
      restart: { initialDelayMs: 200, maxDelayMs: 2000 },
    },
  });
  const client = new MediaClient({
    init: { settings: config.media, simDevices: true, screen: 'fake', outputSize: { width: 1280, height: 720 }, send: true, logLevel: 'silent' },
    log: createLogger('silent'),
    healthIntervalMs,
    restartInitialDelayMs: 200,
  });
  t.teardown(() => client.stop());
  await client.start();
  return client;
}

const pipelineState = (s: MediaStatus, name: string) => s.pipelines.find((p) => p.name === name);

t.test('controls and snapshots cross to the worker and back', async (t) => {
  const client = await startClient(t);
  const status = await client.status();
  t.equal(status.encoder?.name, 'x264enc');
  await waitUntil('the camera is sent', async () => (await client.status()).videoSource === 'camera');
  await client.setVolume(40);
  t.equal((await client.status()).volume, 40, 'volume set in the worker');
  const jpeg = await client.snapshot('camera');
  t.ok(Buffer.isBuffer(jpeg), 'a Buffer on this side');
  t.same([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'JPEG start of image');
  const error = (await caught(() => client.setVolume(900))) as { code: string };
  t.equal(error.code, 'DC_MEDIA_BAD_REQUEST', 'errors keep their code across the process boundary');
});

t.test('an injected pipeline fault is repaired inside the worker; the worker stays up', async (t) => {
  const client = await startClient(t);
  const pid = client.pid!;
  await client.injectFault('video-send');
  await waitUntil(
    'video-send restarted and running',
    async () => {
      const p = pipelineState(await client.status(), 'video-send');
      return p?.restarts === 1 && p.state === 'running';
    },
    { timeoutMs: 10_000 },
  );
  const p = pipelineState(await client.status(), 'video-send')!;
  t.equal(p.lastError?.code, 'DC_MEDIA_PIPELINE', 'the fault is recorded');
  t.equal(client.pid, pid, 'same worker process');
  t.equal(client.workerState, 'running');
});

t.test('a killed worker is replaced and answers again', async (t) => {
  const client = await startClient(t);
  const first = client.pid!;
  process.kill(first, 'SIGKILL');
  await waitUntil('a new worker is running', () => client.workerState === 'running' && client.pid !== first, { timeoutMs: 20_000 });
  t.not(client.pid, first, 'a new worker process');
  await waitUntil('the new worker sends the camera', async () => (await client.status()).videoSource === 'camera');
});

t.test('a worker that stops answering is killed and replaced', async (t) => {
  const client = await startClient(t, 1000);
  const first = client.pid!;
  process.kill(first, 'SIGSTOP'); // a wedged worker: alive, but its event loop never runs
  await waitUntil('the hung worker is gone', () => !alive(first), { timeoutMs: 10_000 });
  await waitUntil('a new worker is running', () => client.workerState === 'running' && client.pid !== first, { timeoutMs: 20_000 });
  t.ok((await client.status()).encoder, 'the new worker answers');
});

t.test('requests while the worker is down fail fast with a clear code', async (t) => {
  const client = await startClient(t);
  await client.stop();
  const error = (await caught(() => client.status())) as { code: string };
  t.equal(error.code, 'DC_MEDIA_WORKER');
});
