import { DEFAULT_LIST_WAIT_MS, DEFAULT_SEND_TIMEOUT_MS } from './args.js';
import { BOX_COMMANDS } from './commands.js';
import { CONNECTION_ENV } from './connect.js';

const USAGE_LINES = [
  'usage: diemcau-fleet <subcommand> [options]',
  '',
  'subcommands:',
  `  list  [--group <g>] [--wait <${DEFAULT_LIST_WAIT_MS / 1000}s>] [--json] [--fail-on-offline]`,
  '        one line per box: name, site, online, version, call, last seen, alerts',
  '  watch [<box> | --group <g> | --all] [--json] [--count <n>] [--duration <30s>]',
  '        live telemetry, events and status changes until Ctrl-C, --count lines or --duration',
  `  send  <box | group:<g> | all> <command> ['{json}' | key=value ...] [--timeout <${DEFAULT_SEND_TIMEOUT_MS / 1000}s>] [--json]`,
  '        run a command and show every reply; boxes that should answer and did not are named',
  '  help  this text (also --help)',
];

/** The whole usage text: subcommands, connection, box commands, exit codes. */
export function usage(): string {
  const width = Math.max(...BOX_COMMANDS.map((c) => c.name.length));
  const commands = BOX_COMMANDS.flatMap((c) => [
    `  ${c.name.padEnd(width)}  ${c.summary}`,
    ...(c.example ? [`  ${''.padEnd(width)}  e.g. send <box> ${c.name} ${c.example}`] : []),
  ]);
  return [
    ...USAGE_LINES,
    '',
    'connection (flags, or the environment):',
    `  --url <mqtts://host:8883>   ${CONNECTION_ENV.url}`,
    `  --user <name>               ${CONNECTION_ENV.user}`,
    `  --password-file <file>      ${CONNECTION_ENV.passwordFile}, or the password itself in ${CONNECTION_ENV.password}`,
    `  --ca <file>                 ${CONNECTION_ENV.ca}: the CA that signed the broker's certificate`,
    `  --cert <file> --key <file>  ${CONNECTION_ENV.cert}, ${CONNECTION_ENV.key}: a client certificate`,
    '  --protocol 5|3.1.1          MQTT 5 by default (3.1.1 by itself if the broker refuses 5)',
    '',
    'command arguments: one JSON object, or key=value words; numbers and true/false are parsed,',
    "everything else is a string; dots nest (patch.device.name='Thôn Đông').",
    'Durations: 500ms, 2s, 1m (a bare number is seconds).',
    '',
    'box commands:',
    ...commands,
    '',
    'exit codes: 0 every box answered ok (list: done), 1 a box failed, did not answer or is offline',
    '(list: --fail-on-offline and a box is offline), 2 usage error, 3 the broker cannot be reached or refused.',
  ].join('\n');
}
