/**
 * The provisioning bundle (`diemcau.json`): one box's identity and fleet credentials, made by
 * the provisioning CLI for each site and brought to the box on the SD card's boot partition or
 * through the setup page. Applying it writes each secret to its own 0600 file beside the config
 * and points the config at those files: no secret is ever kept in the config itself.
 */
import { Type, type Static } from '@sinclair/typebox';
import { join } from 'node:path';
import { DcError } from '../errors.js';
import { compileCheck, formatProblems } from '../util/schema-check.js';
import { writeFileAtomic } from './atomic-write.js';
import type { ConfigStore } from './store.js';
import { mergePatch } from './merge.js';
import { validateConfig } from './validate.js';

export const BUNDLE_FORMAT = 'diemcau-bundle/1';

const Pem = (what: string) =>
  Type.String({ maxLength: 8192, pattern: '^-----BEGIN [A-Z0-9 ]+-----', description: `${what}, PEM.` });

export const BundleSchema = Type.Object(
  {
    format: Type.Literal(BUNDLE_FORMAT, { description: 'Layout of this file.' }),
    createdAt: Type.Optional(Type.String({ maxLength: 40, description: 'When provisioning made it (ISO 8601).' })),
    device: Type.Object(
      {
        id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'The box id: its broker user and topic prefix.' }),
        name: Type.String({ minLength: 1, maxLength: 64 }),
        commune: Type.String({ maxLength: 100 }),
        village: Type.String({ maxLength: 100 }),
      },
      { additionalProperties: false },
    ),
    fleet: Type.Object(
      {
        url: Type.String({ maxLength: 500, pattern: '^(mqtt|mqtts|ws|wss)://[^\\s]+$' }),
        password: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The box’s broker password.' })),
        groups: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), { maxItems: 16, uniqueItems: true })),
        ca: Type.Optional(Pem('CA certificate that signs the broker’s certificate')),
        clientCert: Type.Optional(Pem('Client certificate of this box')),
        clientKey: Type.Optional(Pem('Key of the client certificate')),
      },
      { additionalProperties: false },
    ),
    wifi: Type.Optional(
      Type.Object(
        { ssid: Type.String({ minLength: 1, maxLength: 32 }), password: Type.Optional(Type.String({ minLength: 8, maxLength: 64 })) },
        { additionalProperties: false, description: 'A Wi-Fi network the box joins (the hall’s).' },
      ),
    ),
  },
  { additionalProperties: false, description: 'A diemcau provisioning bundle.' },
);

export type Bundle = Static<typeof BundleSchema>;

const checkBundle = compileCheck(BundleSchema);

/** The bundle in `text`, or DC_CONFIG_INVALID naming what is wrong. */
export function parseBundle(text: string): Bundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DcError('DC_CONFIG_INVALID', `this is not a diemcau.json bundle: ${(e as Error).message}`);
  }
  const result = checkBundle(value);
  if (!result.ok) throw new DcError('DC_CONFIG_INVALID', `the bundle is not valid:\n  ${formatProblems(result.problems)}`, { problems: result.problems });
  return result.value;
}

/** Where each secret goes, beside the config. */
export const SECRET_FILES = {
  password: 'broker-password',
  ca: 'fleet-ca.pem',
  clientCert: 'fleet-client.pem',
  clientKey: 'fleet-client-key.pem',
} as const;

export type FleetSecrets = Partial<Record<keyof typeof SECRET_FILES, string>>;

/**
 * Sets the box's site and fleet: checks the whole resulting config first, then writes the
 * secrets (each atomically, 0600), then saves the config. A refused change therefore writes
 * nothing; a secret rewritten under an unchanged file name is reported by `secretsWritten`,
 * since the config alone then looks unchanged and the fleet must reconnect to use it.
 */
export async function applySite(
  store: ConfigStore,
  stateDir: string,
  site: { device: Record<string, unknown>; fleet: Record<string, unknown>; secrets: FleetSecrets; expectedRevision?: number },
): Promise<{ revision: number; secretsWritten: boolean }> {
  const secretEntries = Object.entries(site.secrets).filter(([, value]) => value !== undefined) as Array<[keyof typeof SECRET_FILES, string]>;
  const fileKeys = { password: 'passwordFile', ca: 'caFile', clientCert: 'clientCertFile', clientKey: 'clientKeyFile' } as const;
  const patch = {
    device: site.device,
    fleet: { ...site.fleet, ...Object.fromEntries(secretEntries.map(([key]) => [fileKeys[key], SECRET_FILES[key]])) },
  };
  const current = store.current;
  if (site.expectedRevision !== undefined && site.expectedRevision !== current.revision) {
    throw new DcError('DC_CONFIG_STALE_REVISION', `the settings changed since this page read them (revision ${current.revision}, not ${site.expectedRevision}): reload`);
  }
  validateConfig(mergePatch(current, patch));
  for (const [key, value] of secretEntries) {
    await writeFileAtomic(join(stateDir, SECRET_FILES[key]), value.endsWith('\n') ? value : `${value}\n`);
  }
  const next = await store.update(patch, site.expectedRevision !== undefined ? { expectedRevision: site.expectedRevision } : {});
  return { revision: next.revision, secretsWritten: secretEntries.length > 0 };
}

/** A bundle as a site change: its identity, its broker, its secrets. The Wi-Fi is the caller's. */
export function bundleSite(bundle: Bundle): { device: Bundle['device']; fleet: Record<string, unknown>; secrets: FleetSecrets } {
  const { url, groups, password, ca, clientCert, clientKey } = bundle.fleet;
  return {
    device: bundle.device,
    // The box logs in as its id (provisioning's password file and ACL say so).
    fleet: { url, username: bundle.device.id, ...(groups ? { groups } : {}) },
    secrets: { password, ca, clientCert, clientKey },
  };
}
