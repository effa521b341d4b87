import { TypedEmitter } from '../../util/typed-emitter.js';
import { matchesPreference, type DeviceKind, type MediaDevice } from './model.js';

export interface DeviceWatcherEvents extends Record<string, unknown[]> {
  added: [MediaDevice];
  removed: [MediaDevice];
}

/**
 * Cameras, microphones and speakers as they come and go. Real boxes use GStreamer's device
 * monitor; the sim profile and the tests plug and unplug simulated devices.
 */
export abstract class DeviceWatcher extends TypedEmitter<DeviceWatcherEvents> {
  protected readonly devices = new Map<string, MediaDevice>();

  abstract start(): void;
  abstract stop(): void;

  list(kind?: DeviceKind): MediaDevice[] {
    return [...this.devices.values()].filter((d) => !kind || d.kind === kind);
  }

  /** The preferred device of a kind: the one whose name or id matches `preference`, else the first. */
  pick(kind: DeviceKind, preference = ''): MediaDevice | undefined {
    const all = this.list(kind);
    return all.find((d) => matchesPreference(d, preference)) ?? all[0];
  }

  protected add(device: MediaDevice): void {
    if (this.devices.has(device.id)) return;
    this.devices.set(device.id, device);
    this.emit('added', device);
  }

  protected remove(id: string): void {
    const device = this.devices.get(id);
    if (!device) return;
    this.devices.delete(id);
    this.emit('removed', device);
  }
}
