import { Type } from '@sinclair/typebox';
import { DcError } from '../../errors.js';
import type { Floor } from '../../rtc/floor.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/**
 * `floor`: the host gives the floor to a hall (or takes it back) during a meeting. Sent to every
 * box in the meeting, so each TV says who speaks.
 */
export function floorCommands(floor: Floor, inCall: () => boolean): CommandDefinition[] {
  return [
    defineCommand({
      name: 'floor',
      summary: "Say who holds the meeting's floor (a box id and its hall's name), or '' for nobody; the holder's speak button then mutes and unmutes.",
      args: Args({
        holder: Type.String({ pattern: '^([a-z0-9][a-z0-9-]{0,62})?$', description: "Device id of the box that speaks; '' takes the floor back." }),
        name: Type.String({ maxLength: 100, default: '', description: 'The name the TVs show for it (its village); defaults to the id.' }),
      }),
      async run({ holder, name }) {
        if (holder === '') {
          floor.clear();
          return { floor: null };
        }
        if (!inCall()) throw new DcError('DC_CMD_REFUSED', 'the box is in no meeting: the floor is given during one');
        const given = floor.give(holder, name.trim() || holder);
        return { floor: given, here: floor.heldHere() };
      },
    }),
  ];
}
