import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { ConnectionFlags } from './args.js';
import { ConnectionError, UsageError } from './errors.js';
import { shouldFallBackToV311 } from '../daemon/fleet/connection.js';
import { FleetLink } from './link.js';

/** Everything needed to log in, files already read. */
export interface ConnectionSettings {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  protocolVersion: 5 | 4;
}

/** The environment variables that stand in for connection flags. */
export const CONNECTION_ENV = {
  url: 'DIEMCAU_FLEET_URL',
  user: 'DIEMCAU_FLEET_USER',
  password: 'DIEMCAU_FLEET_PASSWORD',
  passwordFile: 'DIEMCAU_FLEET_PASSWORD_FILE',
  ca: 'DIEMCAU_FLEET_CA',
  cert: 'DIEMCAU_FLEET_CERT',
  key: 'DIEMCAU_FLEET_KEY',
} as const;

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

function readFlagFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Flags first, then the environment. A password comes from a file (`--password-file`) or
 * from DIEMCAU_FLEET_PASSWORD, never from the command line, where `ps` would show it.
 */
export function connectionSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ConnectionSettings {
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] === '' ? undefined : env[name]);
  const url = pick(flags.url, CONNECTION_ENV.url);
  if (url === undefined) throw new UsageError(`no broker: give --url or set ${CONNECTION_ENV.url} (e.g. mqtts://fleet.example.vn:8883)`);
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new UsageError(`--url "${url}" is not a URL (e.g. mqtts://fleet.example.vn:8883)`);
  }
  if (!SCHEMES.has(scheme)) throw new UsageError(`--url "${url}": the scheme must be mqtt, mqtts, ws or wss`);

  const passwordFile = pick(flags.passwordFile, CONNECTION_ENV.passwordFile);
  const password =
    passwordFile !== undefined ? readFlagFile(passwordFile, 'password file').toString('utf8').replace(/\r?\n$/, '') : pick(undefined, CONNECTION_ENV.password);
  const username = pick(flags.user, CONNECTION_ENV.user);
  if (password !== undefined && username === undefined) throw new UsageError(`a password needs a user name: give --user or set ${CONNECTION_ENV.user}`);
  const ca = pick(flags.ca, CONNECTION_ENV.ca);
  const cert = pick(flags.cert, CONNECTION_ENV.cert);
  const key = pick(flags.key, CONNECTION_ENV.key);
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together');

  let protocolVersion: 5 | 4 = 5;
  if (flags.protocol !== undefined) {
    if (flags.protocol === '5') protocolVersion = 5;
    else if (flags.protocol === '3.1.1' || flags.protocol === '4') protocolVersion = 4;
    else throw new UsageError(`--protocol must be 5 or 3.1.1, got "${flags.protocol}"`);
  }
  return {
    url,
    username,
    password,
    ca: ca === undefined ? undefined : readFlagFile(ca, 'CA file'),
    cert: cert === undefined ? undefined : readFlagFile(cert, 'client certificate'),
    key: key === undefined ? undefined : readFlagFile(key, 'client key'),
    protocolVersion,
  };
}

/** CONNACK refusals, MQTT 5 reason codes and 3.1.1 return codes, in words. */
const V5_REFUSALS: Record<number, string> = {
  0x80: 'refused (unspecified error)',
  0x84: 'the broker does not speak this MQTT version',
  0x85: 'the client id was refused',
  0x86: 'bad user name or password',
  0x87: 'not authorized (check the user name and password)',
  0x88: 'the broker is unavailable',
  0x89: 'the broker is busy',
  0x8a: 'this client is banned',
  0x8c: 'bad authentication method',
  0x97: 'quota exceeded',
};
const V311_REFUSALS: Record<number, string> = {
  1: 'the broker does not speak this MQTT version',
  2: 'the client id was refused',
  3: 'the broker is unavailable',
  4: 'bad user name or password',
  5: 'not authorized (check the user name and password)',
};

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the broker running, and is the port right?)',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (DNS)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Why a connection attempt failed, in words an IT officer can act on. */
export function describeConnectError(err: unknown, protocolVersion: 5 | 4): string {
  const e = err as { code?: unknown; message?: string };
  if (typeof e.code === 'number') {
    const table = protocolVersion === 5 ? V5_REFUSALS : V311_REFUSALS;
    return `the broker refused the login: ${table[e.code] ?? `code ${e.code}`}`;
  }
  if (typeof e.code === 'string') {
    if (NETWORK_ERRORS[e.code]) return NETWORK_ERRORS[e.code]!;
    if (/CERT|SELF_SIGNED|VERIFY|TLS|SSL/i.test(e.code)) {
      return `TLS: ${e.message ?? e.code} (give the CA that signed the broker's certificate with --ca, and use the host name in the certificate)`;
    }
    return `${e.code}: ${e.message ?? ''}`.trim();
  }
  return e.message ?? String(err);
}

function clientId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '').slice(0, 32) || 'host';
  return `diemcau-fleet-${host}-${randomBytes(4).toString('hex')}`;
}

/**
 * Connects (MQTT 5; 3.1.1 if the broker refuses 5) and resolves once the broker accepted the
 * login. Rejects with a ConnectionError naming the URL and the reason; never retries otherwise.
 */
export async function connectToBroker(settings: ConnectionSettings, timeoutMs = 10_000): Promise<FleetLink> {
  try {
    return await attempt(settings, settings.protocolVersion, timeoutMs);
  } catch (e) {
    if (settings.protocolVersion === 5 && e instanceof ConnectionError && shouldFallBackToV311(5, e.cause)) return attempt(settings, 4, timeoutMs);
    throw e;
  }
}

function attempt(settings: ConnectionSettings, protocolVersion: 5 | 4, timeoutMs: number): Promise<FleetLink> {
  const options: IClientOptions = {
    clientId: clientId(),
    protocolVersion,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    rejectUnauthorized: true,
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.ca ? { ca: [settings.ca] } : {}),
    ...(settings.cert ? { cert: settings.cert } : {}),
    ...(settings.key ? { key: settings.key } : {}),
  };
  return new Promise<FleetLink>((resolve, reject) => {
    let client: MqttClient;
    try {
      client = connect(settings.url, options);
    } catch (e) {
      reject(new ConnectionError(settings.url, (e as Error).message));
      return;
    }
    let lastError: unknown;
    const timer = setTimeout(() => fail(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const fail = (err: unknown) => {
      cleanup();
      client.on('error', () => {}); // late errors of a client given up on
      client.end(true);
      const error = new ConnectionError(settings.url, describeConnectError(err, protocolVersion));
      error.cause = err;
      reject(error);
    };
    const onConnect = () => {
      cleanup();
      resolve(new FleetLink(client, settings.url, protocolVersion));
    };
    const onError = (err: Error) => {
      lastError = err;
      // A refused CONNACK or a network error ends the attempt; mqtt.js closes the socket next.
      fail(err);
    };
    const onClose = () => {
      const hint = settings.url.startsWith('mqtt:') ? ' (a TLS port needs mqtts://)' : '';
      fail(lastError ?? new Error(`the broker closed the connection before accepting the login${hint}`));
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}
