/**
 * The one place that loads GStreamer through node-gtk. Only the media worker process imports
 * this module: a native crash then takes down the worker, never the daemon.
 */
import './gst-init.js';
import Gst from '@girs/node-gst-1.0';
import GLib from '@girs/node-glib-2.0';
import GstVideo from '@girs/node-gstvideo-1.0';

export { Gst, GLib, GstVideo };

let pump: NodeJS.Timeout | undefined;

/**
 * Drives GLib's default main context from Node's loop, so bus watches and device-monitor
 * messages fire. GLib.MainLoop.run() would starve Node's timers (measured on the prototype);
 * iterating without blocking every 20 ms costs about 1% of a core when idle.
 */
export function startGLibPump(intervalMs = 20): void {
  if (pump) return;
  const ctx = GLib.MainContext.default();
  pump = setInterval(() => {
    while (ctx.iteration(false));
  }, intervalMs);
}

export function stopGLibPump(): void {
  if (pump) clearInterval(pump);
  pump = undefined;
}

export function gstVersion(): string {
  return Gst.versionString() ?? "GStreamer (unknown version)";
}
