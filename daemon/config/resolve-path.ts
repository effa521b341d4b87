import { resolve } from 'node:path';
import { DcError } from '../errors.js';

/** Where a box keeps its state (systemd StateDirectory=diemcau). */
export const DEFAULT_CONFIG_PATH = '/var/lib/diemcau/config.json';

export interface ConfigLocation {
  /** Absolute, so messages name the real file and the temp file lands next to it. */
  path: string;
  /** Named by the operator: a missing file is then an error, not a first boot. */
  explicit: boolean;
}

/**
 * `--config <path>` or `--config=<path>` (the last one wins, as with most tools), then
 * `DIEMCAU_CONFIG`, then the default. Arguments after `--` are not options.
 */
export function resolveConfigPath(argv: readonly string[], env: NodeJS.ProcessEnv): ConfigLocation {
  let fromArgs: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (arg === '--config') {
      const value = argv[i + 1];
      if (value === undefined || value === '' || value.startsWith('--')) {
        throw new DcError('DC_USAGE', '--config needs a file path, e.g. --config /etc/diemcau.json');
      }
      fromArgs = value;
      i++;
    } else if (arg?.startsWith('--config=')) {
      const value = arg.slice('--config='.length);
      if (value === '') throw new DcError('DC_USAGE', '--config= needs a file path, e.g. --config=/etc/diemcau.json');
      fromArgs = value;
    }
  }
  if (fromArgs !== undefined) return { path: resolve(fromArgs), explicit: true };
  // An empty variable is how shells and unit files "unset" it.
  const fromEnv = env.DIEMCAU_CONFIG;
  if (fromEnv) return { path: resolve(fromEnv), explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}
