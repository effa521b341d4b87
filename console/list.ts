import { setTimeout as sleep } from 'node:timers/promises';
import type { ListInvocation } from './args.js';
import { EXIT, type ExitCode } from './errors.js';
import { Inventory, boxRow, type BoxRow } from './inventory.js';
import type { FleetLink } from './link.js';
import { ago, table, truncate, type Cell, type Output } from './render.js';

export const LIST_FILTERS = ['diemcau/+/status', 'diemcau/+/state', 'diemcau/+/telemetry'];

/**
 * `list`: the retained status and state of every box arrive at once after subscribing;
 * telemetry passes by every N seconds, so whatever comes within `--wait` adds its alerts.
 */
export async function runList(link: FleetLink, options: ListInvocation, output: Output, now = Date.now): Promise<ExitCode> {
  const inventory = new Inventory();
  link.onMessage((m) => void inventory.note(m.topic, m.payload));
  await link.subscribe(LIST_FILTERS);
  await Promise.race([sleep(options.waitMs), link.lost]);

  const target = options.group === undefined ? ({ kind: 'all' } as const) : ({ kind: 'group', id: options.group } as const);
  const rows = inventory.inTarget(target).map(boxRow);
  const offline = rows.filter((r) => r.online !== true);
  if (options.json) {
    output.out(JSON.stringify(rows, null, 2));
  } else if (rows.length === 0) {
    const known = inventory.groups();
    output.err(
      options.group === undefined
        ? 'no box is known to the broker (none has published its status)'
        : `no box is in group "${options.group}"${known.length ? ` (known groups: ${known.join(', ')})` : ''}`,
    );
  } else {
    output.out(renderRows(rows, output, now()));
    output.out(`${rows.length} box${rows.length === 1 ? '' : 'es'}: ${rows.length - offline.length} online, ${offline.length} offline`);
  }
  return options.failOnOffline && offline.length > 0 ? EXIT.failed : EXIT.ok;
}

function renderRows(rows: readonly BoxRow[], output: Output, now: number): string {
  const cells: Cell[][] = rows.map((r) => [
    r.deviceId,
    truncate(r.name ?? '–', 32),
    truncate([r.village, r.commune].filter(Boolean).join(' · ') || '–', 36),
    r.online === true
      ? { text: 'online', colour: 'green' }
      : r.online === false
        ? { text: r.offlineReason === 'shutdown' ? 'offline (stopped)' : 'offline', colour: 'red' }
        : { text: 'unknown', colour: 'yellow' },
    r.version ?? '–',
    r.call ?? '–',
    ago(r.lastSeen, now),
    r.alerts.length ? { text: r.alerts.join(', '), colour: 'yellow' } : { text: '–', colour: 'dim' },
  ]);
  return table(['BOX', 'NAME', 'SITE', 'STATUS', 'VERSION', 'CALL', 'LAST SEEN', 'ALERTS'], cells, output.style);
}
