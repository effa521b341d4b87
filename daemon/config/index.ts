// The config part's public surface; other parts import from here, not from the files inside.
export {
  CONFIG_VERSION,
  ConfigSchema,
  LOG_LEVELS,
  OUTPUT_SINKS,
  PROFILES,
  VIDEO_ENCODERS,
  VIDEO_SIZES,
  parseVideoSize,
  type Config,
  type VideoEncoder,
  type VideoSize,
} from './schema.js';
export { validateConfig, type ConfigProblem } from './validate.js';
export { MIGRATIONS, migrateConfig, type Migration } from './migrate.js';
export { ConfigStore, type ConfigListener, type ConfigStoreOptions } from './store.js';
export { DEFAULT_CONFIG_PATH, resolveConfigPath, type ConfigLocation } from './resolve-path.js';
