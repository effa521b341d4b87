/**
 * Builds the device watcher and the engine from the worker's start-up settings. Loaded with
 * import(): GStreamer comes in only when called, so a GStreamer that fails to load is an error
 * the caller reports rather than a crash at import time. Used by the worker and the CLI.
 */
import type { Logger } from '../log.js';
import type { DeviceWatcher } from './devices/watcher.js';
import type { MediaEngine } from './engine.js';
import type { WorkerInit } from './ipc.js';

export async function createDeviceWatcher(sim: boolean, log: Logger): Promise<DeviceWatcher> {
  if (sim) return new (await import('./devices/sim-watcher.js')).SimDeviceWatcher();
  return new (await import('./devices/gst-watcher.js')).GstDeviceWatcher(log);
}

export async function createEngine(init: WorkerInit, log: Logger): Promise<MediaEngine> {
  const { MediaEngine } = await import('./engine.js');
  const devices = await createDeviceWatcher(init.simDevices, log);
  return new MediaEngine({ settings: init.settings, devices, log, screen: init.screen, outputSize: init.outputSize, send: init.send });
}
