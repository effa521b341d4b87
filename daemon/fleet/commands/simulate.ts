import { Type } from '@sinclair/typebox';
import { Args, defineCommand, type CommandDefinition } from '../command.js';
import type { TvKey } from '../../hardware/cec.js';

/** What the sim profile lets the console do in place of a person in the hall. */
export interface SimulatedHall {
  simulatePress(button: 'speak' | 'mute', ms: number): Promise<void>;
  simulateRemoteKey(key: TvKey): boolean;
}

const TV_KEYS: TvKey[] = ['select', 'up', 'down', 'left', 'right', 'back', 'volume-up', 'volume-down', 'mute', 'play', 'stop', 'pause'];

/** Sim profile only: a person's hand on the hall's buttons, for tests and demos. */
export function simulationCommands(hall: SimulatedHall): CommandDefinition[] {
  return [
    defineCommand({
      name: 'press',
      summary: "Sim profile only: hold one of the hall's simulated buttons (2 s: identify; 8 s: setup mode).",
      args: Args({
        button: Type.Union([Type.Literal('speak'), Type.Literal('mute')], { description: 'Which button.' }),
        seconds: Type.Number({ minimum: 0.05, maximum: 12, default: 0.2, description: 'How long it is held.' }),
      }),
      timeoutMs: 20_000,
      async run({ button, seconds }) {
        await hall.simulatePress(button, seconds * 1000);
        return { pressed: button, seconds };
      },
    }),
    defineCommand({
      name: 'remote',
      summary: "Sim profile only: press a key of the TV's remote (the simulated TV passes it on over CEC).",
      args: Args({ key: Type.Union(TV_KEYS.map((k) => Type.Literal(k)), { description: "The key; 'select' is OK." }) }),
      async run({ key }) {
        return { key, forwarded: hall.simulateRemoteKey(key) };
      },
    }),
  ];
}
