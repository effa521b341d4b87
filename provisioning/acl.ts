/**
 * The broker's access rules for a fleet, in mosquitto's `acl_file` format. Each box logs in
 * with its device id as user name (provisioning makes one per box) and may only:
 * publish under `diemcau/<its id>/` (status, state, telemetry, events, replies, snapshots),
 * and read its own commands, its groups' and all-box commands, and call signalling addressed to it. Console users may do anything
 * under `diemcau/`. A box therefore cannot speak for another box nor read its commands.
 */
export interface AclOptions {
  /** Users of the fleet console (IT officers, scripts, Node-RED). */
  consoleUsers: readonly string[];
  /** Topic root (default `diemcau`). */
  root?: string;
}

export function mosquittoAcl({ consoleUsers, root = 'diemcau' }: AclOptions): string {
  const lines = ['# diemcau fleet ACL (generated; provisioning/acl.ts)', ''];
  for (const user of consoleUsers) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(user)) throw new TypeError(`console user ${JSON.stringify(user)}: letters, digits, . _ - only`);
    lines.push(`user ${user}`, `topic readwrite ${root}/#`, '');
  }
  // `pattern` rules apply to every user; %u is the user name, which for a box is its device id.
  lines.push(
    '# every box, by its user name (= device id)',
    `pattern write ${root}/%u/#`,
    `pattern read ${root}/%u/cmd/#`,
    `pattern read ${root}/all/cmd/#`,
    `pattern read ${root}/group/+/cmd/#`,
    '# direct calls: box A writes to B under its own prefix (diemcau/A/call/B/...), B reads it',
    `pattern read ${root}/+/call/%u/#`,
    '',
  );
  return lines.join('\n');
}
