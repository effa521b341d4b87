#!/usr/bin/env node
/**
 * `diemcau-fleet`, the fleet console for the commune IT officer and for scripts:
 *   diemcau-fleet list                      every box: online, version, call, alerts
 *   diemcau-fleet watch [box|--group g]     live telemetry, events and status changes
 *   diemcau-fleet send <target> <command>   run a command on a box, a group or all boxes
 * Exit codes: 0 ok, 1 a box failed or did not answer, 2 usage, 3 broker unreachable or refused.
 */
import { parseCli, type Invocation } from './args.js';
import { connectToBroker, connectionSettings } from './connect.js';
import { ConnectionError, EXIT, UsageError, type ExitCode } from './errors.js';
import { usage } from './help.js';
import type { FleetLink } from './link.js';
import { runList } from './list.js';
import { useColor, type Output } from './render.js';
import { runSend } from './send.js';
import { runWatch } from './watch.js';

const NAME = 'diemcau-fleet';

function processOutput(env: NodeJS.ProcessEnv): Output {
  return {
    style: { color: useColor(process.stdout, env) },
    out: (text) => void process.stdout.write(`${text}\n`),
    err: (text) => void process.stderr.write(`${text}\n`),
  };
}

/** Resolves on the first Ctrl-C (or SIGTERM); `watch` ends cleanly on it. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function run(invocation: Exclude<Invocation, { kind: 'help' }>, link: FleetLink, output: Output): Promise<ExitCode> {
  switch (invocation.kind) {
    case 'list':
      return runList(link, invocation, output);
    case 'watch':
      return runWatch(link, invocation, output, interrupted());
    case 'send':
      return runSend(link, invocation, output);
  }
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const output = processOutput(env);
  let link: FleetLink | undefined;
  try {
    const invocation = parseCli(argv);
    if (invocation.kind === 'help') {
      output.out(usage());
      return EXIT.ok;
    }
    link = await connectToBroker(connectionSettings(invocation.connection, env));
    return await run(invocation, link, output);
  } catch (e) {
    if (e instanceof UsageError) {
      output.err(`${NAME}: ${e.message}\nrun "${NAME} help" for the usage`);
      return EXIT.usage;
    }
    if (e instanceof ConnectionError) {
      output.err(`${NAME}: ${e.message}`);
      return EXIT.connection;
    }
    output.err(`${NAME}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.failed;
  } finally {
    await link?.close();
  }
}

// `… | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.ok);
  throw e;
});

main(process.argv.slice(2), process.env).then((code) => {
  // Exit once stdout is flushed; nothing (a timer, a half-closed socket) may keep the process.
  process.stdout.write('', () => process.exit(code));
});
