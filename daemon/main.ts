#!/usr/bin/env node
/**
 * diemcaud, the composition root: reads the config, builds the parts in order, starts them,
 * and stops them in reverse on SIGTERM/SIGINT. Nothing else in the daemon creates parts.
 */
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigStore, resolveConfigPath, type Config, type ConfigLocation } from './config/index.js';
import { DcError, serializeError, type SerializedError } from './errors.js';
import { Fleet } from './fleet/fleet.js';
import { packageVersion } from './fleet/connection.js';
import { HealthCollector } from './health/index.js';
import { createLogger, LogTail, type Logger } from './log.js';
import { resolveProfile, type Profile } from './profile.js';
import { MediaClient, type LiveControls } from './media/client.js';
import { MediaSummary } from './media/summary.js';
import { workerInit, type MediaRunOptions } from './media/settings.js';
import type { ScreenSink } from './media/pipelines.js';
import type { MediaStatus } from './media/types.js';
import type { Part } from './part.js';
import { CallManager, type CallSummary, type JoinTarget, type SignalChannel } from './rtc/call.js';
import { Floor } from './rtc/floor.js';
import { parseVideoSize } from './config/schema.js';
import { identityText } from './screen/notices.js';
import { ScreenDirector, type ScreenFacts } from './screen/director.js';
import type { BrokerState, CallQuality } from './screen/art.js';
import { lanAddress, SetupCode, setupAccess } from './setup/access.js';
import { AdminPassword } from './setup/password.js';
import { SetupServer } from './setup/server.js';
import { BOOT_DIRS, importBootBundle } from './config/boot-import.js';
import { MdnsAnnouncer } from './setup/mdns.js';
import { setupStatus } from './setup/status.js';
import { TestCall } from './setup/test-call.js';
import { readDaemonLog } from './system/journal.js';
import { SystemdNotifier } from './system/sd-notify.js';
import { withDeadline } from './util/deadline.js';
import { SetupHotspot, throughHotspot } from './system/network/hotspot.js';
import type { NetworkManager } from './system/network/model.js';
import { NmcliNetworkManager } from './system/network/nmcli.js';
import { SimulatedNetworkManager } from './system/network/simulated.js';
import type { Telemetry } from './health/schema.js';
import { join } from 'node:path';
import { Hardware } from './hardware/index.js';
import { DisplayHotplug } from './hardware/display-hotplug.js';
import { HostFiles } from './health/host-files.js';
import { isCredentialRefusal } from './fleet/connection.js';
import { SimulatedPower, SystemdPower } from './system/power.js';

const USAGE = `usage: diemcaud [--config <file>] [--profile sim|pi|auto] [--loopback] [--screen kms|window|fake] [--stats-every <seconds>]`;
/** systemd gives 90 s by default; the box promises far less so a restart is quick. */
const SHUTDOWN_DEADLINE_MS = 4500;
const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: systemd's Restart= still applies
/** EX_TEMPFAIL: a restart asked for (fleet command); Restart=on-failure brings the daemon back. */
export const EXIT_RESTART = 75;

interface DaemonArgs {
  profile: Profile | 'auto' | undefined;
  run: MediaRunOptions;
  statsEverySeconds: number;
}

function parseDaemonArgs(argv: string[]): DaemonArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      profile: { type: 'string' },
      loopback: { type: 'boolean', default: false },
      screen: { type: 'string' },
      'stats-every': { type: 'string', default: '60' },
    },
    strict: true,
  });
  const oneOf = <T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined => {
    if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
    throw new DcError('DC_USAGE', `--${name} must be one of ${allowed.join(', ')}, got "${value}"\n${USAGE}`);
  };
  const statsEverySeconds = Number(values['stats-every']);
  if (!Number.isFinite(statsEverySeconds) || statsEverySeconds < 1) {
    throw new DcError('DC_USAGE', `--stats-every must be a number of seconds ≥ 1, got "${values['stats-every']}"\n${USAGE}`);
  }
  return {
    profile: oneOf('profile', values.profile, ['sim', 'pi', 'auto'] as const),
    run: { loopback: values.loopback ?? false, screen: oneOf<ScreenSink>('screen', values.screen, ['kms', 'window', 'fake']) },
    statsEverySeconds,
  };
}

/** Media settings the engine takes live; any other media change needs a new worker. */
function withoutLiveSettings(media: Config['media']) {
  return { ...media, audio: { ...media.audio, volume: 0 }, output: { ...media.output, selfView: false } };
}

function mediaSettingsChanged(next: Config, previous: Config): boolean {
  const a = JSON.stringify(withoutLiveSettings(next.media));
  const b = JSON.stringify(withoutLiveSettings(previous.media));
  return a !== b || next.log.level !== previous.log.level;
}

function fleetSettingsChanged(next: Config, previous: Config): boolean {
  return JSON.stringify([next.fleet, next.device.id]) !== JSON.stringify([previous.fleet, previous.device.id]);
}

async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  let log: Logger = createLogger('info', { name: 'diemcaud' });
  let args: DaemonArgs;
  let location: ConfigLocation;
  let store: ConfigStore;
  let config: Config;
  try {
    args = parseDaemonArgs(argv);
    location = resolveConfigPath(argv, env);
    store = new ConfigStore({ ...location, log: log.child({ part: 'config' }) });
    config = await store.load();
  } catch (e) {
    // Said twice on purpose: as a log record for the journal, as plain text for a person.
    const error = serializeError(e);
    log.fatal({ err: error }, 'cannot start');
    process.stderr.write(`diemcaud: ${error.message}\n`);
    process.exit(e instanceof DcError && e.code !== 'DC_USAGE' ? EXIT_CONFIG : 2);
  }
  // First boot: the provisioning bundle on the boot partition makes this box who it is, before
  // anything is built from the settings. A PC in the sim profile has no boot partition to read.
  const bootDirs = env.DIEMCAU_BOOT_DIR ? [env.DIEMCAU_BOOT_DIR] : (args.profile ?? config.profile) === 'sim' ? [] : BOOT_DIRS;
  const imported = await importBootBundle({ dirs: bootDirs, store, stateDir: dirname(location.path), log: log.child({ part: 'provisioning' }) });
  config = store.current;
  const logTail = new LogTail(LOG_TAIL_LINES);
  log = createLogger(config.log.level, { name: 'diemcaud', device: config.device.id }, logTail);
  const profile = await resolveProfile(args.profile ?? config.profile);
  const startedAt = Date.now();
  const version = packageVersion();
  const stateDir = dirname(location.path);
  log.info({ profile, version, config: store.path ?? '(defaults, not saved)', revision: config.revision }, 'starting');

  const mediaLog = log.child({ part: 'media' });
  let fleet: Fleet | undefined;
  /** What the TV says of the commune's broker. */
  let broker: BrokerState | 'refused' = 'not-configured';
  // Logged as well as shown on the TV: the IT officer reading the journal over SSH (root only)
  // can read it out to the hall.
  const setupCode = new SetupCode(undefined, { onChange: (code) => log.info({ event: 'setup.code', code }, `setup code ${code}`) });
  /** What the TV and the setup page say of the box. */
  const screenFacts = (): ScreenFacts => {
    const device = store.current.device;
    const address = lanAddress();
    const call = calls?.summary();
    const ownWifi = hotspot?.state.state === 'on' ? hotspot.state : null;
    return {
      site: { name: device.name, village: device.village, commune: device.commune },
      boxId: device.id,
      // The hotspot's own address is no network: the TV says how to join it.
      network: address && !ownWifi ? 'ok' : 'down',
      hotspot: ownWifi ? { ssid: ownWifi.ssid, password: ownWifi.password, qr: ownWifi.qr } : null,
      previewing: media.cachedStatus?.previewing ?? false,
      broker,
      call: {
        // The loopback (a first look at a new box) is a call with itself: its picture, not the idle screen.
        phase: call?.state ?? (args.run.loopback ? 'in-call' : 'idle'),
        peer: call?.peer ?? null,
        speaker: speakerOf(floor, call),
        micMuted: media.liveControls.audioMuted ?? false,
        quality: callQuality(media.cachedStatus),
      },
      setup: setupServer ? setupAccess(address, setupServer.port || store.current.setup.port, setupCode.code) : null,
      nextMeeting: null,
    };
  };
  const screen = new ScreenDirector({
    surface: () => runningMedia(),
    size: () => media.cachedStatus?.output ?? DEFAULT_OUTPUT,
    facts: () => screenFacts(),
    log: log.child({ part: 'screen' }),
  });
  const mediaHooks: MediaHooks = {
    status: (s) => {
      fleet?.noteMediaStatus(s);
      // Mute, the link's quality, the TV's mode: the screen says them (drawn only if changed).
      void screen.refresh();
    },
    cameraChanged: (plugged, device) => fleet?.event(plugged ? 'camera-plugged' : 'camera-unplugged', { camera: device }),
    workerDown: (error) => fleet?.event('error', { source: 'media', error }),
    workerUp: (restarts) => {
      void screen.reapply();
      if (restarts > 0) fleet?.event('media-restarted', { restarts });
    },
  };
  let media = buildMedia(config, profile, args.run, mediaLog, mediaHooks);
  /** The media engine while its worker runs; requests would fail at once otherwise. */
  const runningMedia = () => (media.workerState === 'running' ? media : undefined);
  const restartMedia = async (next: Config) => {
    const old = media;
    media = buildMedia(next, profile, args.run, mediaLog, mediaHooks, old.liveControls);
    await old.stop();
    await media.start();
  };
  // Calls are built below; the summary asks for their figures only when it reports.
  const summary = new MediaSummary({ status: () => media.status() }, mediaLog, args.statsEverySeconds * 1000, () => calls?.summary().stats ?? null);
  const power = profile === 'sim' ? new SimulatedPower(log.child({ part: 'system' })) : new SystemdPower(log.child({ part: 'system' }));
  const health = new HealthCollector({ stateDir, firmwareVersion: version, log: log.child({ part: 'health' }) });
  // The last sample (the fleet's telemetry takes one every interval) is what the setup page shows.
  let lastHealth: { at: number; sample: Telemetry } | null = null;
  let healthSampling: Promise<Telemetry> | undefined;
  const sampleHealth = (): Promise<Telemetry> =>
    (healthSampling ??= health
      .sample()
      .then((sample) => ((lastHealth = { at: Date.now(), sample }), sample))
      .finally(() => (healthSampling = undefined)));
  const recentHealth = (): Telemetry | null => {
    if (!lastHealth || Date.now() - lastHealth.at > HEALTH_FOR_PAGE_MAX_AGE_MS) void sampleHealth().catch((e) => log.warn({ err: serializeError(e) }, 'health sample failed'));
    return lastHealth?.sample ?? null;
  };
  // Calls need the RTP ports for themselves: the media loopback (first look, demo) uses them.
  const signal: SignalChannel = {
    send: (to, m) => {
      if (!fleet) return Promise.reject(new DcError('DC_RTC_SIGNALING', 'no fleet broker: direct calls go through it'));
      return fleet.sendSignal(to, m);
    },
    reachable: async () => (await fleet?.probeBroker()) ?? false,
  };
  const calls = args.run.loopback ? undefined : buildCalls(config, () => store.current.calls.answer, runningMedia, signal, log.child({ part: 'rtc' }));
  const floor = new Floor(() => store.current.device.id);
  const hardware = new Hardware({
    config: config.hardware,
    profile,
    // Given the floor by the host, the hall's speak button mutes and unmutes; else it raises a hand.
    holdsFloor: () => floor.heldHere(),
    actions: {
      raiseHand: () => fleet?.event('hand-raised', { callId: calls?.summary().callId ?? null }),
      toggleMute: () => {
        const m = runningMedia();
        m?.setAudioMuted(!m.liveControls.audioMuted).catch((e) => log.warn({ err: serializeError(e) }, 'mute button: not applied'));
      },
      changeVolume: (delta) => {
        const volume = Math.min(150, Math.max(0, store.current.media.audio.volume + delta));
        // Through the config, as the fleet's volume command: applied live and kept.
        store.update({ media: { audio: { volume } } }).catch((e) => log.warn({ err: serializeError(e) }, 'volume key: not applied'));
      },
      identify: (seconds) => void screen.show(identityText(store.current.device), seconds, 'identify'),
      answer: () => {
        if (calls?.summary().state !== 'ringing') return false;
        calls.answer().catch((e) => log.warn({ err: serializeError(e) }, 'OK key: the call was not answered'));
        return true;
      },
      // Held 8 s: the setup page's admin password is forgotten and the TV shows a new code.
      enterSetupMode: () => {
        if (!setupServer) return log.warn({ event: 'hardware.setup_mode' }, 'setup mode asked for by the button, but the setup page is off in the config');
        setupServer.factoryReset().then(
          () => void screen.refresh(),
          (e) => log.error({ err: serializeError(e) }, 'setup mode: the admin password was not cleared'),
        );
      },
    },
    log: log.child({ part: 'hardware' }),
  });
  screen.onShown(() => void hardware.messageShown());
  screen.onScreenChange(() => fleet?.publishState());
  calls?.on('state', () => {
    fleet?.publishState();
    void hardware.callPhase(calls.summary().state);
    void screen.refresh();
  });
  const display = new DisplayHotplug({ files: new HostFiles(env.DIEMCAU_HOST_ROOT ?? '/'), log: log.child({ part: 'display' }) });
  followDisplay(display, () => runningMedia(), (name, data) => {
    fleet?.event(name, data);
    fleet?.publishState();
  }, mediaLog);
  calls?.on('joined', (c) => fleet?.event('call-joined', { callId: c.callId, peer: c.peer, direction: c.direction }));
  calls?.on('ended', (c) => {
    floor.clear();
    fleet?.event('call-ended', { callId: c.callId, peer: c.peer, reason: c.lastEnd?.reason, error: c.lastEnd?.error });
  });
  floor.on('change', (holder) => {
    log.info({ event: 'rtc.floor', holder: holder?.holder ?? null, here: floor.heldHere() }, holder ? `floor: ${holder.name}` : 'floor taken back');
    fleet?.publishState();
    void screen.refresh();
  });
  const buildFleet = (): Fleet | undefined =>
    store.current.fleet.url === ''
      ? undefined
      : new Fleet({
          config: store,
          stateDir,
          media: runningMedia,
          restartMedia: () => restartMedia(store.current),
          restartDaemon: (reason) => void shutdown(reason, EXIT_RESTART),
          power,
          ...(calls ? { calls, floor } : {}),
          health: { sample: sampleHealth },
          notices: screen,
          identifyLight: (seconds) => hardware.identify(seconds),
          hardware: () => hardware.status(),
          screen: () => ({ showing: screen.screen, connectors: display.current() }),
          display: hardware,
          ...(profile === 'sim' ? { simulatedHall: hardware } : {}),
          logTail,
          log: log.child({ part: 'fleet' }),
          version,
          startedAt,
        });
  /** The light says whether the commune's broker is reached. */
  const watchConnectivity = (f: Fleet | undefined) => {
    const news = (state: typeof broker) => {
      broker = state;
      hardware.connectivity(state === 'online');
      void screen.refresh();
    };
    if (!f) return news('not-configured');
    news('offline');
    f.connection.on('connected', () => news('online'));
    f.connection.on('disconnected', () => news(broker === 'refused' ? 'refused' : 'offline'));
    // Wrong credentials need a person: the TV says so until the broker takes them.
    f.connection.on('error', (e) => {
      if (isCredentialRefusal(e)) news('refused');
    });
  };
  /** A new fleet connection with the settings and secrets now on disk. */
  const reconnectFleet = (why: string) =>
    // After the current turn: the command or request that changed them still has its reply to send.
    setImmediate(() => {
      const old = fleet;
      log.info(`${why}; reconnecting`);
      (old?.stop() ?? Promise.resolve())
        .then(() => {
          fleet = stopping ? undefined : buildFleet();
          watchConnectivity(fleet);
          return fleet?.start();
        })
        .catch((e) => log.error({ err: serializeError(e) }, 'fleet did not restart'));
    });
  fleet = buildFleet();
  watchConnectivity(fleet);
  if (!fleet) log.info('fleet: no broker configured (fleet.url is empty); the box runs on its own');
  const netLog = log.child({ part: 'network' });
  const network: NetworkManager = profile === 'sim' ? new SimulatedNetworkManager(netLog) : new NmcliNetworkManager(netLog);
  if (imported?.bundle.wifi) {
    const { ssid, password } = imported.bundle.wifi;
    network.joinWifi({ ssid, ...(password !== undefined ? { password } : {}) }).catch((e) =>
      netLog.warn({ event: 'provisioning.wifi_failed', ssid, err: serializeError(e) }, `first boot: the Wi-Fi "${ssid}" was not joined; the setup page can join it`),
    );
  }
  const hotspot = config.setup.enabled
    ? new SetupHotspot({
        network,
        settings: () => store.current.network.hotspot,
        boxId: () => store.current.device.id,
        log: netLog,
        onChange: () => {
          void screen.refresh();
          fleet?.publishState();
        },
      })
    : undefined;
  const setupServer = config.setup.enabled
    ? new SetupServer({
        host: config.setup.host,
        port: config.setup.port,
        config: store,
        stateDir,
        password: new AdminPassword(join(stateDir, 'admin-password.json')),
        code: setupCode,
        box: {
          status: () =>
            setupStatus({
              facts: screenFacts,
              media: () => media.cachedStatus,
              screen: () => screen.screen,
              connectors: () => display.current(),
              health: recentHealth,
              hotspot: () => (hotspot?.state.state === 'on' ? { ssid: hotspot.state.ssid } : null),
              hostname: (): string | null => mdns?.hostname || null,
            }),
          version,
          media: runningMedia,
          logs: () => readDaemonLog(logTail),
          reboot: (reason) => power.reboot(reason),
          ...(calls ? { testCall: new TestCall({ calls, target: () => testCallTarget(store.current.calls.testCall), log: log.child({ part: 'setup' }) }) } : {}),
          fleetSecretsChanged: () => reconnectFleet('fleet secrets changed'),
          network: hotspot ? throughHotspot(network, hotspot) : network,
          ...(hotspot ? { hotspot: () => hotspot.state } : {}),
        },
        log: log.child({ part: 'setup' }),
      })
    : undefined;
  const mdns: MdnsAnnouncer | undefined =
    setupServer && config.setup.mdns
      ? new MdnsAnnouncer({
          name: () => store.current.device.name,
          port: () => setupServer.port,
          instance: () => `Điểm cầu ${store.current.device.village || store.current.device.name}`,
          log: log.child({ part: 'mdns' }),
        })
      : undefined;
  const parts: Part[] = [
    // The fleet first: media start-up takes seconds, and the console should see the box at once.
    { name: 'fleet', start: () => fleet?.start(), stop: () => fleet?.stop() },
    // Before the screen: the TV shows the port it got.
    { name: 'setup', start: () => setupServer?.start(), stop: () => setupServer?.stop() },
    // After the page: it announces the port the page got.
    { name: 'mdns', start: () => mdns?.start(), stop: () => mdns?.stop() },
    // A box with no network opens its own Wi-Fi for the setup page.
    { name: 'hotspot', start: () => hotspot?.start(), stop: () => hotspot?.stop() },
    screen,
    hardware,
    { name: 'media', start: () => media.start(), stop: () => media.stop() },
    // After the media: its first TV mode restarts the screen at once, not a screen half started.
    display,
    { name: 'media-summary', start: () => summary.start(), stop: () => summary.stop() },
    // Stopped first: a call ends with a hangup the far end hears.
    { name: 'calls', start: () => undefined, stop: () => calls?.stop() },
  ];

  // systemd's watchdog is fed only while the media worker answers and its screen makes frames.
  let framesAtLastCheck = -1;
  const systemd = new SystemdNotifier({
    env,
    log: log.child({ part: 'systemd' }),
    health: {
      check: async () => {
        const m = runningMedia();
        if (!m) return false;
        const status = await withDeadline(m.status(), WATCHDOG_MEDIA_ANSWER_MS);
        const frames = status.rendered.videoFrames;
        const moving = frames > framesAtLastCheck;
        framesAtLastCheck = frames;
        return moving && status.pipelines.find((p) => p.name === 'playout')?.state === 'running';
      },
    },
  });
  let stopping = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void systemd.stopping();
    const deadline = setTimeout(() => {
      log.error('parts did not stop in time; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    for (const part of [...parts].reverse()) {
      try {
        await part.stop();
      } catch (e) {
        log.error({ part: part.name, err: serializeError(e) }, 'part did not stop cleanly');
      }
    }
    clearTimeout(deadline);
    log.info({ exitCode }, 'stopped');
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // SIGHUP re-reads the file; a bad file is reported and the running config stays.
  process.on('SIGHUP', () => {
    store.reload().then(
      (next) => log.info({ revision: next.revision }, 'config reloaded'),
      (e) => {
        log.error({ err: serializeError(e) }, 'config reload refused; keeping the running config');
        fleet?.event('error', { source: 'config', error: serializeError(e) });
      },
    );
  });
  store.onChange((next, previous) => {
    if (stopping) return;
    fleet?.event('config-changed', { revision: next.revision });
    fleet?.publishState();
    if (mediaSettingsChanged(next, previous)) {
      log.info('media settings changed; restarting the media worker');
      restartMedia(next).catch((e) => log.error({ err: serializeError(e) }, 'media did not restart yet; the worker keeps retrying'));
    } else {
      applyLiveMediaSettings(media, next, previous, mediaLog);
    }
    if (fleetSettingsChanged(next, previous)) reconnectFleet('fleet settings changed');
    if (next.device.name !== previous.device.name) void mdns?.rename(next.device.name);
  });

  for (const part of parts) {
    try {
      await part.start();
    } catch (e) {
      // A part that cannot start now (media worker failing) keeps retrying on its own; the
      // daemon stays up so the fleet console and the setup page can still reach the box.
      log.error({ part: part.name, err: serializeError(e) }, 'part did not start');
    }
  }
  fleet?.event('started', { version, profile });
  log.info('running');
  await systemd.ready(`running as ${store.current.device.id}`);
}

/** The media worker must answer a watchdog check this fast (ms). */
const WATCHDOG_MEDIA_ANSWER_MS = 2000;

/** Lines of the log kept in memory: the setup page's download where there is no journal. */
const LOG_TAIL_LINES = 2000;
/** The setup page's status shows health no older than this. */
const HEALTH_FOR_PAGE_MAX_AGE_MS = 30_000;

/** The test call's target from its settings: a box, else a conference server's test room. */
function testCallTarget(target: Config['calls']['testCall']): JoinTarget | null {
  if (target.peer !== '') return { peer: target.peer };
  if (target.whip !== '') return { whip: target.whip, ...(target.whep !== '' ? { whep: target.whep } : {}) };
  return null;
}

/** The TV's mode until the display says otherwise: every HDMI TV takes 720p. */
const DEFAULT_OUTPUT = { width: 1280, height: 720 };

/** Who the TV says speaks: the hall given the floor; in a two-hall call without one, the other hall. */
function speakerOf(floor: Floor, call: CallSummary | undefined): string | null {
  if (floor.current) return floor.current.name;
  return call?.kind === 'direct' ? call.peer : null;
}

/** How the call's picture is doing, from what the link lets the box send. */
function callQuality(status: MediaStatus | null): CallQuality {
  if (!status?.sending) return 'good';
  if (status.sendSize === null) return 'audio-only';
  // 360p is the ladder's rung for a link under ~500 kbit/s (rtc/quality.ts).
  return status.sendSize.height <= 360 ? 'poor' : 'good';
}

/**
 * The screen follows the TV: a TV plugged in (or swapped) gets the mode chosen from its EDID,
 * and the screen is rebuilt even at the same size, since the old output is gone with the old TV.
 */
function followDisplay(
  display: DisplayHotplug,
  media: () => MediaClient | undefined,
  event: (name: 'tv-connected' | 'tv-disconnected', data: Record<string, unknown>) => void,
  log: Logger,
): void {
  const apply = (mode: { width: number; height: number }) =>
    media()
      ?.setOutputSize({ width: mode.width, height: mode.height }, true)
      .catch((e) => log.warn({ err: serializeError(e) }, 'the new TV mode is not applied yet; it applies when the media worker is back'));
  display.on('connected', (c) => {
    log.info({ event: 'display.connected', connector: c.connector, tv: c.tv?.name ?? null, mode: `${c.mode.width}x${c.mode.height}`, reason: c.reason }, 'TV connected');
    event('tv-connected', { connector: c.connector, tv: c.tv?.name ?? null, mode: { width: c.mode.width, height: c.mode.height } });
    void apply(c.mode);
  });
  display.on('changed', (c) => {
    event('tv-connected', { connector: c.connector, tv: c.tv?.name ?? null, mode: { width: c.mode.width, height: c.mode.height } });
    void apply(c.mode);
  });
  display.on('disconnected', (d) => {
    log.warn({ event: 'display.disconnected', connector: d.connector }, 'TV unplugged or gone');
    event('tv-disconnected', { connector: d.connector });
  });
}

function buildCalls(
  config: Config,
  answer: () => Config['calls']['answer'],
  media: () => MediaClient | undefined,
  signal: SignalChannel,
  log: Logger,
): CallManager {
  const { rtp } = config.media;
  return new CallManager({
    media,
    signal,
    // The encoder's udpsinks send to the bridge; the bridge sends to the playout's udpsrcs.
    ports: {
      video: { fromMedia: rtp.sendVideoPort, toMedia: rtp.receiveVideoPort },
      audio: { fromMedia: rtp.sendAudioPort, toMedia: rtp.receiveAudioPort },
    },
    iceServers: config.calls.iceServers,
    loopbackOnly: config.calls.loopbackOnly,
    giveUpAfterMs: config.calls.giveUpAfterS * 1000,
    // Read at each call: the setup page or the console may change it.
    answer,
    sending: {
      captureSize: parseVideoSize(config.media.video.size),
      bitrateKbps: config.media.video.bitrateKbps,
      startKbps: config.calls.startBitrateKbps,
    },
    log,
  });
}

/** What the daemon does with the media client's news. */
interface MediaHooks {
  status(status: MediaStatus): void;
  cameraChanged(plugged: boolean, device: { id: string; name: string }): void;
  /** The worker is (again) running; `restarts` counts its crashes so far. */
  workerUp(restarts: number): void;
  /** The worker crashed or hung and is being restarted. */
  workerDown(error: SerializedError | null): void;
}

function applyLiveMediaSettings(media: MediaClient, next: Config, previous: Config, log: Logger): void {
  const apply = (what: string, change: Promise<void>) =>
    change.catch((e) => log.warn({ setting: what, err: serializeError(e) }, 'live media setting not applied; it applies at the next start'));
  if (next.media.audio.volume !== previous.media.audio.volume) void apply('volume', media.setVolume(next.media.audio.volume));
  if (next.media.output.selfView !== previous.media.output.selfView) void apply('selfView', media.setSelfView(next.media.output.selfView));
}

function buildMedia(
  config: Config,
  profile: Profile,
  run: MediaRunOptions,
  log: Logger,
  hooks: MediaHooks,
  controls?: LiveControls,
): MediaClient {
  const media = new MediaClient({ init: workerInit(config, profile, run), log, ...(controls ? { controls } : {}) });
  media.on('worker', (w) => {
    log.info({ worker: w }, 'media worker state');
    if (w.state === 'running') hooks.workerUp(w.restarts);
    if (w.state === 'restarting') hooks.workerDown(w.lastError);
  });
  media.on('event', (e) => {
    log.info({ event: e.name, device: e.device }, 'media event');
    hooks.cameraChanged(e.name === 'camera-found', e.device);
  });
  media.on('status', (s) => hooks.status(s));
  let states = '';
  media.on('status', (s) => {
    // Pipeline state is observable in the journal: one line whenever any state changes.
    const now = s.pipelines.map((p) => `${p.name}:${p.state}`).join(' ');
    if (now !== states) log.info({ pipelines: now, videoSource: s.videoSource }, 'pipelines');
    states = now;
  });
  return media;
}

main().catch((e) => {
  process.stderr.write(`diemcaud: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
