/**
 * The box's settings from the page: any config change (through the schema, the atomic save and
 * the revision check), the first-run site-and-broker form, and a provisioning bundle file.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { applySite, bundleSite, parseBundle, type FleetSecrets } from '../../config/bundle.js';
import type { ConfigStore } from '../../config/index.js';
import { serializeError, type SerializedError } from '../../errors.js';
import type { Logger } from '../../log.js';

export interface SettingsRoutesOptions {
  config: ConfigStore;
  stateDir: string;
  /** A secret file was rewritten under the same name: the fleet must reconnect to read it. */
  secretsChanged(): void;
  /** The bundle's Wi-Fi, joined after its settings are saved; undefined: no Wi-Fi here. */
  joinWifi?(wifi: { ssid: string; password?: string | undefined }): Promise<void>;
  log: Logger;
}

/** A bundle carries certificates: more room than a settings form. */
export const BUNDLE_BODY_LIMIT = 64 * 1024;

const ConfigBody = Type.Object(
  { revision: Type.Integer({ minimum: 0 }), patch: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);
const SiteBody = Type.Object(
  {
    revision: Type.Integer({ minimum: 0 }),
    device: Type.Object({ name: Type.String({ maxLength: 64 }), village: Type.String({ maxLength: 100 }), commune: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
    fleet: Type.Object(
      { url: Type.String({ maxLength: 500 }), username: Type.String({ maxLength: 128 }), password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const BundleBody = Type.Object({ revision: Type.Integer({ minimum: 0 }), bundle: Type.String({ maxLength: BUNDLE_BODY_LIMIT }) }, { additionalProperties: false });

export function settingsRoutes(api: FastifyInstance, opts: SettingsRoutesOptions): void {
  const saveSite = async (site: Parameters<typeof applySite>[2], event: string) => {
    const result = await applySite(opts.config, opts.stateDir, site);
    if (result.secretsWritten) opts.secretsChanged();
    opts.log.info({ event, revision: result.revision }, 'setup: site and broker settings changed');
    return result;
  };

  api.get('/api/config', async () => opts.config.current);
  api.post<{ Body: Static<typeof ConfigBody> }>('/api/config', { schema: { body: ConfigBody } }, async (request) => {
    const before = opts.config.current.revision;
    const next = await opts.config.update(request.body.patch, { expectedRevision: request.body.revision });
    opts.log.info({ event: 'setup.config_changed', revision: next.revision }, 'setup: settings changed');
    return { revision: next.revision, changed: next.revision !== before };
  });
  // The first-run form: a broker password goes to its own file, never into the config.
  api.post<{ Body: Static<typeof SiteBody> }>('/api/site', { schema: { body: SiteBody } }, async (request) => {
    const { revision, device, fleet } = request.body;
    const secrets: FleetSecrets = fleet.password !== undefined ? { password: fleet.password } : {};
    const { revision: next } = await saveSite({ device, fleet: { url: fleet.url, username: fleet.username }, secrets, expectedRevision: revision }, 'setup.site_changed');
    return { revision: next };
  });
  // The provisioning bundle (diemcau.json), as the page read it from a file the cadre picked.
  api.post<{ Body: Static<typeof BundleBody> }>('/api/bundle', { schema: { body: BundleBody }, bodyLimit: BUNDLE_BODY_LIMIT + 1024 }, async (request) => {
    const bundle = parseBundle(request.body.bundle);
    const { revision } = await saveSite({ ...bundleSite(bundle), expectedRevision: request.body.revision }, 'setup.bundle_imported');
    let wifi: 'joined' | 'not-available' | 'none' | { error: SerializedError } = 'none';
    if (bundle.wifi) {
      if (!opts.joinWifi) wifi = 'not-available';
      else {
        try {
          await opts.joinWifi(bundle.wifi);
          wifi = 'joined';
        } catch (e) {
          // The identity is saved either way: the Wi-Fi can be fixed on the network page.
          wifi = { error: serializeError(e) };
        }
      }
    }
    return { revision, device: bundle.device, wifi };
  });
}
