import { Type } from '@sinclair/typebox';
import { DcError } from '../../errors.js';
import { defineCommand, type CommandDefinition } from '../command.js';

/**
 * Commands whose part is not built into this firmware yet: they are known (so a console sees
 * "not available", not "unknown") and say which part is missing.
 */
const PENDING: ReadonlyArray<{ name: string; summary: string; part: string }> = [
  { name: 'join', summary: 'Call another box.', part: 'calls (WebRTC)' },
  { name: 'leave', summary: 'Leave the current call.', part: 'calls (WebRTC)' },
  { name: 'answer', summary: 'Answer the call that rings.', part: 'calls (WebRTC)' },
  { name: 'floor', summary: "Say who holds the meeting's floor.", part: 'calls (WebRTC)' },
  { name: 'press', summary: "Hold one of the hall's simulated buttons (sim profile).", part: 'simulated hall (the sim profile)' },
  { name: 'remote', summary: "Press a key of the simulated TV's remote (sim profile).", part: 'simulated hall (the sim profile)' },
  { name: 'display', summary: 'Turn the TV on or off over HDMI-CEC.', part: 'TV control (HDMI-CEC)' },
];

/** The pending commands, but those in `built` (their part runs in this daemon). */
export function pendingCommands(built: readonly string[] = []): CommandDefinition[] {
  return PENDING.filter((p) => !built.includes(p.name)).map(({ name, summary, part }) =>
    defineCommand({
      name,
      summary: `${summary} Not available yet: replies DC_NOT_AVAILABLE.`,
      // Arguments are not checked until the command exists: their shape comes with the part.
      args: Type.Object({}, { additionalProperties: true }),
      async run() {
        throw new DcError('DC_NOT_AVAILABLE', `${name} is not available: this firmware has no ${part} yet`, { part });
      },
    }),
  );
}
