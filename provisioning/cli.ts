/**
 * `npm run provision -- sites.csv --broker mqtts://mqtt.xa.vn:8883 --out fleet/` — the commune's
 * IT officer turns the list of village halls into a box identity, a first-boot bundle and a
 * label each, and the broker's password file and ACL. Run it again after editing the list: the
 * boxes already made keep their identity (`--rotate <id>,…` or `--rotate all` draws new
 * passwords). A bad row is reported by line and column, and then nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatProblem, parseSites } from './sites.js';
import { provision } from './provision.js';
import { readRegistry, writeOutput } from './output.js';

const USAGE = `usage: diemcau-provision <sites.csv> --broker <mqtt(s)://host:port> --out <folder> [--console-user console] [--ca ca.pem] [--rotate id,id|all]`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { broker: { type: 'string' }, out: { type: 'string' }, 'console-user': { type: 'string', default: 'console' }, ca: { type: 'string' }, rotate: { type: 'string' } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [csvPath] = positionals;
  if (!csvPath || !values.broker || !values.out || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (!/^(mqtt|mqtts|ws|wss):\/\/[^\s]+$/.test(values.broker)) {
    process.stderr.write(`--broker: "${values.broker}" is not an mqtt://, mqtts://, ws:// or wss:// address\n`);
    return 2;
  }
  const { sites, problems } = parseSites(await readFile(csvPath, 'utf8'));
  if (problems.length > 0) {
    process.stderr.write(`${csvPath}: ${problems.length} problem(s); nothing was written:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    return 1;
  }
  const rotate = values.rotate === 'all' ? 'all' : new Set((values.rotate ?? '').split(',').filter(Boolean));
  const unknown = rotate === 'all' ? [] : [...rotate].filter((id) => !sites.some((s) => s.id === id));
  if (unknown.length > 0) {
    process.stderr.write(`--rotate: no site with the id ${unknown.join(', ')}\n`);
    return 2;
  }
  const result = provision({
    sites,
    registry: await readRegistry(values.out),
    brokerUrl: values.broker,
    consoleUser: values['console-user'],
    rotate,
    ...(values.ca ? { ca: await readFile(values.ca, 'utf8') } : {}),
  });
  await writeOutput(values.out, result);
  process.stdout.write(
    `${sites.length} boxes in ${values.out}: ${result.created.length} new, ${result.kept.length} kept, ${result.rotated.length} with a new password\n` +
      `  broker: mosquitto/passwd and mosquitto/acl (password_file and acl_file in mosquitto.conf)\n` +
      `  boxes:  boxes/<id>/diemcau.json onto each SD card's boot partition; labels.html to print\n` +
      `  registry.json holds every password: keep it safe\n`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`diemcau-provision: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
