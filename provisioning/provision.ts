/**
 * From the list of sites to what the commune needs: for each box an identity (its id and a
 * random broker password, kept in the registry so a second run gives the same boxes the same
 * credentials unless asked to rotate them) and its first-boot bundle; for the broker its password
 * file and ACL; labels to print. Pure: no file is touched here (output.ts writes it all at once).
 */
import { randomBytes } from 'node:crypto';
import { BUNDLE_FORMAT, parseBundle, type Bundle } from '../daemon/config/bundle.js';
import { mosquittoAcl } from './acl.js';
import { passwordLine } from './mosquitto-passwd.js';
import { renderLabels } from './labels.js';
import type { Site } from './sites.js';

export interface Registry {
  version: 1;
  console: { user: string; password: string };
  boxes: Record<string, { password: string; createdAt: string; rotatedAt?: string }>;
}

export interface ProvisionOptions {
  sites: Site[];
  /** The registry of the last run, if any. */
  registry: Registry | null;
  brokerUrl: string;
  consoleUser: string;
  /** Box ids whose password is drawn again ('all': every box and the console). */
  rotate: ReadonlySet<string> | 'all';
  /** The fleet CA's certificate (PEM) for boxes to check the broker's (mqtts). */
  ca?: string;
  now?: Date;
}

export interface ProvisionResult {
  registry: Registry;
  bundles: Map<string, Bundle>;
  passwd: string;
  acl: string;
  labels: string;
  created: string[];
  kept: string[];
  rotated: string[];
}

/** 144 random bits, URL-safe: typed by nobody, copied by the bundle. */
export const newPassword = () => randomBytes(18).toString('base64url');

export function provision(o: ProvisionOptions): ProvisionResult {
  const now = (o.now ?? new Date()).toISOString();
  const rotateAll = o.rotate === 'all';
  const shouldRotate = (id: string) => rotateAll || (o.rotate as ReadonlySet<string>).has(id);
  const old = o.registry;
  const console =
    old && old.console.user === o.consoleUser && !rotateAll ? old.console : { user: o.consoleUser, password: newPassword() };
  const registry: Registry = { version: 1, console, boxes: { ...(old?.boxes ?? {}) } };
  const created: string[] = [];
  const kept: string[] = [];
  const rotated: string[] = [];
  const bundles = new Map<string, Bundle>();
  for (const site of o.sites) {
    const known = registry.boxes[site.id];
    if (!known) {
      registry.boxes[site.id] = { password: newPassword(), createdAt: now };
      created.push(site.id);
    } else if (shouldRotate(site.id)) {
      registry.boxes[site.id] = { ...known, password: newPassword(), rotatedAt: now };
      rotated.push(site.id);
    } else {
      kept.push(site.id);
    }
    const bundle = {
      format: BUNDLE_FORMAT,
      createdAt: now,
      device: { id: site.id, name: site.name, commune: site.commune, village: site.village },
      fleet: { url: o.brokerUrl, password: registry.boxes[site.id]!.password, groups: [site.group], ...(o.ca ? { ca: o.ca } : {}) },
      ...(site.wifi ? { wifi: site.wifi } : {}),
    };
    // Checked as the box will check it: a bundle the box would refuse is never written.
    bundles.set(site.id, parseBundle(JSON.stringify(bundle)));
  }
  // Boxes of earlier runs not in this list keep their identity in the registry but lose their
  // broker login: a site taken off the list is a box switched off the fleet.
  const active = o.sites.map((s) => s.id);
  const passwd = [passwordLine(console.user, console.password), ...active.map((id) => passwordLine(id, registry.boxes[id]!.password))].join('\n') + '\n';
  return {
    registry,
    bundles,
    passwd,
    acl: mosquittoAcl({ consoleUsers: [console.user] }),
    labels: renderLabels(o.sites),
    created,
    kept,
    rotated,
  };
}
