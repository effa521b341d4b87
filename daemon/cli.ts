#!/usr/bin/env node
/**
 * `diemcau`, the box's command line for the IT officer on a console:
 *   diemcau media probe      devices and the chosen encoder, as JSON
 *   diemcau media loopback   camera → encode → RTP → decode → screen, for a first look at a box
 *   diemcau config check     validate the config file and say what is wrong
 */
import { parseArgs } from 'node:util';
import { ConfigStore, resolveConfigPath, type Config } from './config/index.js';
import { DcError, serializeError } from './errors.js';
import { createLogger } from './log.js';
import { resolveProfile } from './profile.js';
import { screenFor, workerInit } from './media/settings.js';
import type { ScreenSink } from './media/pipelines.js';

const USAGE = `usage:
  diemcau media probe [--config <file>] [--sim]
  diemcau media loopback [--config <file>] [--sim] [--screen kms|window|fake] [--seconds <n>]
  diemcau config check [--config <file>]`;

async function loadConfig(argv: string[]): Promise<Config> {
  const log = createLogger('warn', { name: 'diemcau' });
  return new ConfigStore({ ...resolveConfigPath(argv, process.env), log }).load();
}

async function mediaProbe(argv: string[], sim: boolean): Promise<void> {
  const config = await loadConfig(argv);
  const log = createLogger('warn', { name: 'diemcau' });
  const { gstVersion, startGLibPump, stopGLibPump } = await import('./media/gst.js');
  const { chooseEncoder } = await import('./media/encoders.js');
  const { createDeviceWatcher } = await import('./media/create.js');
  startGLibPump();
  const devices = await createDeviceWatcher(sim, log);
  devices.start();
  let encoder: unknown;
  try {
    const choice = await chooseEncoder(config.media.video.encoders, log);
    encoder = { chosen: choice.chosen.name, codec: choice.chosen.codec, candidates: choice.candidates };
  } catch (e) {
    encoder = { chosen: null, error: serializeError(e) };
  }
  const profile = await resolveProfile(config.profile);
  process.stdout.write(
    JSON.stringify({ gstreamer: gstVersion(), profile, devices: devices.list(), encoder, screen: screenFor(config.media.output.sink, profile) }, null, 2) + '\n',
  );
  devices.stop();
  stopGLibPump();
}

async function mediaLoopback(argv: string[], sim: boolean, screen: ScreenSink | undefined, seconds: number | undefined): Promise<void> {
  const config = await loadConfig(argv);
  const profile = sim ? 'sim' : await resolveProfile(config.profile);
  const init = workerInit(config, profile, { loopback: true, screen });
  const log = createLogger('info', { name: 'diemcau' });
  const { createEngine } = await import('./media/create.js');
  const { MediaSummary } = await import('./media/summary.js');
  const engine = await createEngine(init, log);
  process.stderr.write(
    `loopback: ${init.simDevices ? 'test pattern and tone' : 'camera and microphone'} → encoder → RTP on ${init.settings.rtp.host}:${init.settings.rtp.sendVideoPort} → decoder → ${init.screen === 'fake' ? 'no screen (headless; figures below)' : init.screen}. Ctrl-C stops.\n`,
  );
  await engine.start();
  const summary = new MediaSummary({ status: async () => engine.status() }, log, 2000);
  summary.start();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (seconds !== undefined) setTimeout(resolve, seconds * 1000);
  });
  summary.stop();
  await engine.stop();
}

async function configCheck(argv: string[]): Promise<void> {
  const location = resolveConfigPath(argv, process.env);
  const config = await loadConfig(argv);
  process.stdout.write(`${location.path}: valid (version ${config.version}, revision ${config.revision}, profile ${config.profile})\n`);
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      sim: { type: 'boolean', default: false },
      screen: { type: 'string' },
      seconds: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals.join(' ');
  if (values.help || command === '') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const screen = values.screen as ScreenSink | undefined;
  if (screen !== undefined && !['kms', 'window', 'fake'].includes(screen)) throw new DcError('DC_USAGE', `--screen must be kms, window or fake, got "${screen}"`);
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds > 0)) throw new DcError('DC_USAGE', `--seconds must be a positive number, got "${values.seconds}"`);
  switch (command) {
    case 'media probe':
      return mediaProbe(argv, values.sim ?? false);
    case 'media loopback':
      return mediaLoopback(argv, values.sim ?? false, screen, seconds);
    case 'config check':
      return configCheck(argv);
    default:
      throw new DcError('DC_USAGE', `unknown command "${command}"\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    const error = serializeError(e);
    process.stderr.write(`diemcau: ${error.code}: ${error.message}\n`);
    process.exit(error.code === 'DC_USAGE' ? 2 : 1);
  },
);
