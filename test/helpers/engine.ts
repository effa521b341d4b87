import type { Test } from 'tap';
import { MediaEngine } from '../../daemon/media/engine.js';
import { SimDeviceWatcher, simDevices } from '../../daemon/media/devices/sim-watcher.js';
import { validateConfig } from '../../daemon/config/validate.js';
import { createLogger } from '../../daemon/log.js';
import type { Gst } from '../../daemon/media/gst.js';
import { countBuffers, padOf, type BufferCounter } from './probes.js';
import { freeUdpPorts } from './ports.js';
import { delay } from './wait.js';

export interface RtpPorts {
  sendVideoPort: number;
  sendAudioPort: number;
  receiveVideoPort: number;
  receiveAudioPort: number;
}

export interface EngineOptions {
  /** videotestsrc pattern of the simulated camera (default smpte, moving). */
  pattern?: string;
  video?: Record<string, unknown>;
  audio?: Record<string, unknown>;
  output?: Record<string, unknown>;
  restart?: Record<string, unknown>;
  /**
   * RTP ports. Left out: a loopback (send ports = receive ports, all free). Given in part: the
   * rest are filled with free ports, receive ports distinct from the send ports.
   */
  rtp?: Partial<RtpPorts>;
  /** Start it (default true); false builds it only, for tests of start() itself. */
  start?: boolean;
  /** Capture and send from the start (default true); false is an idle box: screen only. */
  send?: boolean;
}

export interface EngineHarness {
  engine: MediaEngine;
  devices: SimDeviceWatcher;
  ports: RtpPorts;
  /**
   * A buffer counter on `element`'s `pad` in the pipeline's current object, removed before the
   * engine stops (see countBuffers).
   */
  count(pipeline: string, element: string, pad: 'sink' | 'src'): BufferCounter;
  /** Removes every probe this harness added (call before anything sets a probed pipeline to NULL). */
  removeProbes(): Promise<void>;
  pipeline(name: string): Gst.Pipeline;
}

/** 4 free ports for a loopback: what the engine sends comes back to its own playout. */
export async function loopbackPorts(): Promise<RtpPorts> {
  const [video = 0, audio = 0] = await freeUdpPorts(2);
  return { sendVideoPort: video, sendAudioPort: audio, receiveVideoPort: video, receiveAudioPort: audio };
}

/**
 * Builds (and starts) a MediaEngine on simulated devices, headless, with small pictures unless
 * told otherwise. The engine is stopped, and its probes removed first, when the test ends.
 */
export async function startEngine(t: Test, o: EngineOptions = {}): Promise<EngineHarness> {
  let ports: RtpPorts;
  if (!o.rtp) {
    ports = await loopbackPorts();
  } else {
    const free = await freeUdpPorts(4);
    ports = {
      sendVideoPort: o.rtp.sendVideoPort ?? free[0]!,
      sendAudioPort: o.rtp.sendAudioPort ?? free[1]!,
      receiveVideoPort: o.rtp.receiveVideoPort ?? free[2]!,
      receiveAudioPort: o.rtp.receiveAudioPort ?? free[3]!,
    };
  }
  const settings = validateConfig({
    media: {
      video: { size: '640x360', ...o.video },
      audio: { ...o.audio },
      output: { ...o.output },
      rtp: { host: '127.0.0.1', ...ports },
      restart: { initialDelayMs: 200, maxDelayMs: 2000, ...o.restart },
    },
  }).media;
  const devices = new SimDeviceWatcher(simDevices(o.pattern ?? 'smpte'));
  const engine = new MediaEngine({ settings, devices, log: createLogger('warn'), screen: 'fake', outputSize: { width: 1280, height: 720 }, send: o.send ?? true });
  const counters: BufferCounter[] = [];
  const removeProbes = async () => {
    for (const c of counters.splice(0)) await c.remove();
  };
  t.teardown(async () => {
    await removeProbes();
    await delay(50);
    await engine.stop();
  });
  if (o.start !== false) await engine.start();
  const pipeline = (name: string) => {
    const p = engine.pipelineObject(name);
    if (!p) throw new Error(`pipeline "${name}" is not running`);
    return p;
  };
  return {
    engine,
    devices,
    ports,
    pipeline,
    removeProbes,
    count: (name, element, pad) => {
      const counter = countBuffers(padOf(pipeline(name), element, pad));
      counters.push(counter);
      return counter;
    },
  };
}

export function pipelineState(engine: MediaEngine, name: string): string | undefined {
  return engine.status().pipelines.find((p) => p.name === name)?.state;
}
