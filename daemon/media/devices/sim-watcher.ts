import { DeviceWatcher } from './watcher.js';
import type { MediaDevice } from './model.js';

/** Test sources that look like a USB camera and a speakerphone, for the sim profile and tests. */
export function simDevices(videoPattern = 'smpte'): MediaDevice[] {
  return [
    {
      id: 'sim:camera',
      kind: 'camera',
      name: 'Simulated camera',
      api: 'sim',
      // Moving bars, so the encoder has real work and the picture visibly lives.
      element: `videotestsrc is-live=true pattern=${videoPattern} horizontal-speed=3`,
      modes: [],
      connection: 'other',
    },
    {
      id: 'sim:microphone',
      kind: 'microphone',
      name: 'Simulated microphone',
      api: 'sim',
      element: 'audiotestsrc is-live=true wave=sine freq=440 volume=0.2 samplesperbuffer=480',
      modes: [],
      connection: 'other',
    },
    { id: 'sim:speaker', kind: 'speaker', name: 'Simulated speaker', api: 'sim', element: 'fakesink sync=true', modes: [], connection: 'other' },
  ];
}

export class SimDeviceWatcher extends DeviceWatcher {
  constructor(private readonly initial: MediaDevice[] = simDevices()) {
    super();
  }

  start(): void {
    for (const device of this.initial) this.add(device);
  }

  stop(): void {
    this.devices.clear();
  }

  /** Simulates plugging a device in (a USB camera, say). */
  plug(device: MediaDevice): void {
    this.add(device);
  }

  /** Simulates pulling a device out. */
  unplug(id: string): void {
    this.remove(id);
  }
}
