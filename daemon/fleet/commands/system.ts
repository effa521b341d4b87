import { Type } from '@sinclair/typebox';
import { DcError } from '../../errors.js';
import type { LogTail } from '../../log.js';
import type { SystemPower } from '../../system/power.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

export interface SystemCommandDeps {
  version: string;
  /** When the daemon started (ms since 1970). */
  startedAt: number;
  /** Whether a meeting is on (reboot and restart then need `force`). */
  inCall(): boolean;
  power: SystemPower;
  /** Stops the daemon cleanly with the exit code that makes systemd start it again. */
  restartDaemon(reason: string): void;
  restartMedia(): Promise<void>;
  /** Versions, pipeline, call and fleet state, assembled by the fleet part. */
  diagnostics(): Promise<Record<string, unknown>>;
  logTail: LogTail;
}

const Force = Type.Boolean({ default: false, description: 'Go ahead even during a meeting.' });

function refuseDuringCall(deps: SystemCommandDeps, force: boolean, what: string): void {
  if (deps.inCall() && !force) {
    throw new DcError('DC_CMD_REFUSED', `a meeting is on: ${what} would drop it; send force: true to do it anyway`);
  }
}

export function systemCommands(deps: SystemCommandDeps): CommandDefinition[] {
  return [
    defineCommand({
      name: 'ping',
      summary: 'Is the box there: its time, uptime and version.',
      args: Args({}),
      async run() {
        return { pong: true, time: new Date().toISOString(), uptimeS: Math.round((Date.now() - deps.startedAt) / 1000), version: deps.version };
      },
    }),
    defineCommand({
      name: 'diagnostics',
      summary: 'Versions, pipeline and call state, fleet link and queue, and the last log lines.',
      args: Args({ logLines: Type.Integer({ minimum: 0, maximum: 200, default: 50, description: 'How many log records.' }) }),
      timeoutMs: 15_000,
      async run({ logLines }) {
        return { ...(await deps.diagnostics()), logs: deps.logTail.last(logLines) };
      },
    }),
    defineCommand({
      name: 'restart',
      summary: "Restart the daemon (systemd starts it again) or only the media engine.",
      args: Args({
        what: Type.Union([Type.Literal('daemon'), Type.Literal('media')], { default: 'daemon', description: 'What to restart.' }),
        force: Force,
      }),
      timeoutMs: 30_000,
      async run({ what, force }, ctx) {
        refuseDuringCall(deps, force, `restarting the ${what}`);
        if (what === 'media') {
          await deps.restartMedia();
          return { restarted: 'media' };
        }
        ctx.afterReply(() => deps.restartDaemon('restart command'));
        return { restarting: 'daemon' };
      },
    }),
    defineCommand({
      name: 'reboot',
      summary: 'Reboot the box; refused during a meeting unless forced.',
      args: Args({ force: Force }),
      async run({ force }, ctx) {
        refuseDuringCall(deps, force, 'rebooting');
        ctx.afterReply(() => deps.power.reboot('reboot command'));
        return { rebooting: true };
      },
    }),
  ];
}
