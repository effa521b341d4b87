import { ConfigError } from '../errors.js';
import { compileCheck, formatProblems, show, type FieldProblem } from '../util/schema-check.js';
import { ConfigSchema, type Config } from './schema.js';

/** One problem in a config, in words an installer can act on without reading the schema. */
export type ConfigProblem = FieldProblem;

// Compiled once at import.
const check = compileCheck(ConfigSchema);

/**
 * Returns a complete config with defaults filled in, or throws DC_CONFIG_INVALID listing every
 * problem. Works on a copy: ajv writes defaults into the object it validates.
 */
export function validateConfig(input: unknown): Config {
  const result = check(cloneInput(input));
  if (!result.ok) throw invalid(result.problems);
  return checkCrossField(result.value);
}

/** Rules one JSON schema cannot express without $data tricks. */
function checkCrossField(config: Config): Config {
  const problems: ConfigProblem[] = [];
  for (const [section, { initialDelayMs, maxDelayMs }] of [
    ['media.restart', config.media.restart],
    ['fleet.reconnect', config.fleet.reconnect],
  ] as const) {
    if (maxDelayMs < initialDelayMs) {
      problems.push({ field: `${section}.maxDelayMs`, expected: `at least ${section}.initialDelayMs (${initialDelayMs})`, got: show(maxDelayMs) });
    }
  }
  if (problems.length > 0) throw invalid(problems);
  return config;
}

function invalid(problems: ConfigProblem[], options?: ErrorOptions): ConfigError {
  return new ConfigError('DC_CONFIG_INVALID', `invalid configuration:\n  ${formatProblems(problems)}`, { errors: problems }, options);
}

function cloneInput(input: unknown): unknown {
  try {
    return structuredClone(input);
  } catch (e) {
    // Functions, symbols and the like: not something a JSON file or a remote patch can carry.
    throw invalid([{ field: '(root)', expected: 'plain JSON data', got: (e as Error).message }], { cause: e });
  }
}

