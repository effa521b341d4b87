import { Type } from '@sinclair/typebox';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/** What the `display` command needs: the hall's TV, over HDMI-CEC. */
export interface DisplayControl {
  /** Wakes the TV on the box's input, or puts it in standby; throws DC_CEC_* when it cannot. */
  setTv(on: boolean): Promise<'on' | 'standby'>;
}

export function displayCommands(display: DisplayControl): CommandDefinition[] {
  return [
    defineCommand({
      name: 'display',
      summary: "Turn the hall's TV on (switched to the box) or put it in standby, over HDMI-CEC.",
      args: Args({ on: Type.Boolean({ description: 'true: on, showing the box; false: standby.' }) }),
      timeoutMs: 15_000,
      async run({ on }) {
        return { tv: await display.setTv(on) };
      },
    }),
  ];
}
