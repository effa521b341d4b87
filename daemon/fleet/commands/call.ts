import { Type } from '@sinclair/typebox';
import { DcError } from '../../errors.js';
import type { CallSummary, JoinTarget } from '../../rtc/call.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/** The calls part, as the commands see it. */
export interface CallControl {
  join(target: JoinTarget): Promise<CallSummary>;
  leave(): Promise<CallSummary>;
  /** Answers the call that rings (calls.answer = 'ask'). */
  answer(): Promise<CallSummary>;
}

export function callCommands(calls: CallControl): CommandDefinition[] {
  return [
    defineCommand({
      name: 'join',
      summary: 'Join a meeting: call another box directly (peer), or a conference server (whip, and whep to watch it).',
      args: Args({
        peer: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Device id of the box to call.' })),
        whip: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 500, description: 'WHIP endpoint the box publishes to.' })),
        whep: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 500, description: 'WHEP endpoint the box plays.' })),
        token: Type.Optional(Type.String({ maxLength: 2000, description: 'Bearer token for the WHIP/WHEP server.' })),
      }),
      timeoutMs: 20_000,
      async run({ peer, whip, whep, token }) {
        if ((peer === undefined) === (whip === undefined)) {
          throw new DcError('DC_CMD_INVALID', 'give either peer (a box) or whip (a conference server), not both or neither');
        }
        return await calls.join(peer !== undefined ? { peer } : { whip: whip!, whep, token });
      },
    }),
    ...(
      [
        ['answer', "Answer the call that rings (when calls.answer is 'ask'), as OK on the TV remote does.", () => calls.answer()],
        ['leave', 'Leave the current call; a call that rings is declined.', () => calls.leave()],
      ] as const
    ).map(([name, summary, run]) => defineCommand({ name, summary, args: Args({}), run })),
  ];
}
