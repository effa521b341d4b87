/**
 * The media worker: a child process that alone loads node-gtk and GStreamer. A native crash or
 * a wedged pipeline kills only this process; the daemon restarts it while the MQTT session,
 * the setup page and the call's signalling stay up.
 */
import { createLogger } from '../log.js';
import { serializeError, MediaError } from '../errors.js';
import { MEDIA_METHODS, type FromWorker, type ToWorker, type WorkerInit } from './ipc.js';
import { createEngine } from './create.js';
import type { MediaEngine } from './engine.js';

function send(msg: FromWorker): void {
  process.send?.(msg);
}

let engine: MediaEngine | null = null;

async function init(init: WorkerInit): Promise<void> {
  const log = createLogger(init.logLevel as 'info', { part: 'media-worker' });
  // GStreamer is loaded here, so that one that fails to load is reported as a fatal message.
  // Frame stamps are a measurement aid for simulated boxes only: a real box never draws or reads
  // them. They must see the camera start: a loopback starts sending only once they watch.
  const stamps = init.settings.frameStamps && init.simDevices;
  engine = await createEngine({ ...init, settings: { ...init.settings, frameStamps: stamps }, send: init.send && !stamps }, log);
  engine.on('status', (status) => send({ type: 'status', status }));
  engine.on('camera-lost', (d) => send({ type: 'event', name: 'camera-lost', device: { id: d.id, name: d.name } }));
  engine.on('camera-found', (d) => send({ type: 'event', name: 'camera-found', device: { id: d.id, name: d.name } }));
  await engine.start();
  if (stamps) {
    (await import('./frame-stamps.js')).watchFrameStamps(engine, log);
    if (init.send) engine.setSending(true);
  }
  send({ type: 'ready', status: engine.status() });
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init':
      try {
        await init(msg.init);
      } catch (e) {
        send({ type: 'fatal', error: serializeError(e) });
        process.exitCode = 1;
        process.disconnect?.();
      }
      return;
    case 'request':
      try {
        if (!engine) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine has not started');
        if (!MEDIA_METHODS.includes(msg.method)) throw new MediaError('DC_MEDIA_BAD_REQUEST', `unknown media method "${msg.method}"`);
        const method = engine[msg.method] as (...args: unknown[]) => unknown;
        const result = await method.apply(engine, msg.args);
        send({ type: 'response', id: msg.id, ok: true, result: result ?? null });
      } catch (e) {
        send({ type: 'response', id: msg.id, ok: false, error: serializeError(e) });
      }
      return;
    case 'shutdown':
      await engine?.stop();
      engine = null;
      process.disconnect?.();
      return;
  }
}

process.on('message', (msg: ToWorker) => void handle(msg));
// Ctrl-C and systemd's SIGTERM reach the whole process group: the daemon decides when the
// worker stops (it asks, or it goes away and the IPC channel closes).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
// The daemon is gone: nothing to serve, and the camera must be released.
process.on('disconnect', () => {
  void (engine?.stop() ?? Promise.resolve()).finally(() => process.exit(process.exitCode ?? 0));
});
