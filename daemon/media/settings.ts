/** How the daemon's config and profile become the media worker's start-up settings. */
import type { Config } from '../config/index.js';
import type { Profile } from '../profile.js';
import type { WorkerInit } from './ipc.js';
import type { ScreenSink } from './pipelines.js';

export interface MediaRunOptions {
  /** Play our own stream back to the screen (first look at a new box, demo). */
  loopback: boolean;
  /** Overrides media.output.sink. */
  screen?: ScreenSink | undefined;
}

export function screenFor(sink: Config['media']['output']['sink'], profile: Profile, env: NodeJS.ProcessEnv = process.env): ScreenSink {
  if (sink !== 'auto') return sink;
  if (profile === 'pi') return 'kms';
  return env.DISPLAY || env.WAYLAND_DISPLAY ? 'window' : 'fake';
}

export function workerInit(config: Config, profile: Profile, run: MediaRunOptions): WorkerInit {
  const { rtp } = config.media;
  return {
    settings: run.loopback
      ? { ...config.media, rtp: { ...rtp, receiveVideoPort: rtp.sendVideoPort, receiveAudioPort: rtp.sendAudioPort } }
      : config.media,
    simDevices: profile === 'sim',
    screen: run.screen ?? screenFor(config.media.output.sink, profile),
    // The TV's own mode comes from its EDID once display hotplug is built; 720p until then.
    outputSize: { width: 1280, height: 720 },
    // Until calls exist, only the loopback sends: an idle box keeps its camera closed.
    send: run.loopback,
    logLevel: config.log.level,
  };
}
