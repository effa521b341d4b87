#!/usr/bin/env node
/**
 * diemcaud, the composition root: reads the config, builds the parts in order, starts them,
 * and stops them in reverse on SIGTERM/SIGINT. Nothing else in the daemon creates parts.
 */
import { parseArgs } from 'node:util';
import { ConfigStore, resolveConfigPath, type Config } from './config/index.js';
import { DcError, serializeError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { resolveProfile, type Profile } from './profile.js';
import { MediaClient } from './media/client.js';
import { MediaSummary } from './media/summary.js';
import { workerInit, type MediaRunOptions } from './media/settings.js';
import type { ScreenSink } from './media/pipelines.js';
import type { Part } from './part.js';


const USAGE = `usage: diemcaud [--config <file>] [--profile sim|pi|auto] [--loopback] [--screen kms|window|fake] [--stats-every <seconds>]`;
/** systemd gives 90 s by default; the box promises far less so a restart is quick. */
const SHUTDOWN_DEADLINE_MS = 4500;
const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: systemd's Restart= still applies

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

function mediaSettingsChanged(next: Config, previous: Config): boolean {
  return JSON.stringify(next.media) !== JSON.stringify(previous.media) || next.log.level !== previous.log.level;
}

async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  let log: Logger = createLogger('info', { name: 'diemcaud' });
  let args: DaemonArgs;
  let store: ConfigStore;
  let config: Config;
  try {
    args = parseDaemonArgs(argv);
    const location = resolveConfigPath(argv, env);
    store = new ConfigStore({ ...location, log: log.child({ part: 'config' }) });
    config = await store.load();
  } catch (e) {
    // Said twice on purpose: as a log record for the journal, as plain text for a person.
    const error = serializeError(e);
    log.fatal({ err: error }, 'cannot start');
    process.stderr.write(`diemcaud: ${error.message}\n`);
    process.exit(e instanceof DcError && e.code !== 'DC_USAGE' ? EXIT_CONFIG : 2);
  }
  log = createLogger(config.log.level, { name: 'diemcaud', device: config.device.id });
  const profile = await resolveProfile(args.profile ?? config.profile);
  log.info({ profile, config: store.path ?? '(defaults, not saved)', revision: config.revision }, 'starting');

  const mediaLog = log.child({ part: 'media' });
  let media = buildMedia(config, profile, args.run, mediaLog);
  const summary = new MediaSummary({ status: () => media.status() }, mediaLog, args.statsEverySeconds * 1000);
  const parts: Part[] = [
    { name: 'media', start: () => media.start(), stop: () => media.stop() },
    { name: 'media-summary', start: () => summary.start(), stop: () => summary.stop() },
  ];

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
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
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // SIGHUP re-reads the file; a bad file is reported and the running config stays.
  process.on('SIGHUP', () => {
    store.reload().then(
      (next) => log.info({ revision: next.revision }, 'config reloaded'),
      (e) => log.error({ err: serializeError(e) }, 'config reload refused; keeping the running config'),
    );
  });
  store.onChange((next, previous) => {
    if (stopping || !mediaSettingsChanged(next, previous)) return;
    log.info('media settings changed; restarting the media worker');
    const old = media;
    media = buildMedia(next, profile, args.run, mediaLog);
    old
      .stop()
      .then(() => media.start())
      .catch((e) => log.error({ err: serializeError(e) }, 'media did not restart yet; the worker keeps retrying'));
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
  log.info('running');
}

function buildMedia(config: Config, profile: Profile, run: MediaRunOptions, log: Logger): MediaClient {
  const media = new MediaClient({ init: workerInit(config, profile, run), log });
  media.on('worker', (w) => log.info({ worker: w }, 'media worker state'));
  media.on('event', (e) => log.info({ event: e.name, device: e.device }, 'media event'));
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
