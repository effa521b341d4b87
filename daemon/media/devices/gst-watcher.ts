import { Gst, GLib } from '../gst.js';
import { DeviceWatcher } from './watcher.js';
import { describeDevice, type MediaDevice } from './model.js';
import type { Logger } from '../../log.js';

/** Real devices through Gst.DeviceMonitor; hotplug arrives as bus messages (needs the GLib pump). */
export class GstDeviceWatcher extends DeviceWatcher {
  private monitor: Gst.DeviceMonitor | null = null;
  /** GStreamer hands the same Gst.Device to "removed" as it did to "added". */
  private readonly idOf = new Map<Gst.Device, string>();

  constructor(private readonly log: Logger) {
    super();
  }

  start(): void {
    const monitor = new Gst.DeviceMonitor();
    for (const cls of ['Video/Source', 'Audio/Source', 'Audio/Sink']) monitor.addFilter(cls, null);
    monitor.getBus()?.addWatch(GLib.PRIORITY_DEFAULT, (_bus: Gst.Bus, msg: Gst.Message) => {
      if (msg.type === Gst.MessageType.DEVICE_ADDED) this.onAdded(msg.parseDeviceAdded());
      else if (msg.type === Gst.MessageType.DEVICE_REMOVED) this.onRemoved(msg.parseDeviceRemoved());
      return true;
    });
    if (!monitor.start()) this.log.warn('device monitor did not start: no hotplug, devices as found now');
    this.monitor = monitor;
    for (const device of monitor.getDevices() ?? []) this.onAdded(device);
  }

  stop(): void {
    this.monitor?.getBus()?.removeWatch();
    this.monitor?.stop();
    this.monitor = null;
    this.idOf.clear();
    this.devices.clear();
  }

  private onAdded(device: Gst.Device): void {
    const described = toMediaDevice(device);
    if (!described) return;
    this.idOf.set(device, described.id);
    this.log.info({ device: described }, 'device added');
    this.add(described);
  }

  private onRemoved(device: Gst.Device): void {
    const id = this.idOf.get(device) ?? toMediaDevice(device)?.id;
    this.idOf.delete(device);
    if (id) {
      this.log.info({ id }, 'device removed');
      this.remove(id);
    }
  }
}

function toMediaDevice(device: Gst.Device): MediaDevice | null {
  return describeDevice(
    device.getDeviceClass() ?? '',
    device.getDisplayName() ?? '',
    device.getCaps()?.toString() ?? '',
    device.getProperties()?.toString() ?? '',
  );
}
