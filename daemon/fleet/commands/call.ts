import { Type } from '@sinclair/typebox';
import type { CallSummary } from '../../rtc/call.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/** The calls part, as the commands see it. */
export interface CallControl {
  join(peer: string): Promise<CallSummary>;
  leave(): Promise<CallSummary>;
}

export function callCommands(calls: CallControl): CommandDefinition[] {
  return [
    defineCommand({
      name: 'join',
      summary: 'Call another box directly (both join the meeting); the state follows the call.',
      args: Args({
        peer: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Device id of the box to call.' }),
      }),
      timeoutMs: 15_000,
      async run({ peer }) {
        return await calls.join(peer);
      },
    }),
    defineCommand({
      name: 'leave',
      summary: 'Leave the current call.',
      args: Args({}),
      async run() {
        return await calls.leave();
      },
    }),
  ];
}
