import { Type } from '@sinclair/typebox';
import type { Config } from '../../config/index.js';
import { DcError } from '../../errors.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/** The part of ConfigStore the commands use. */
export interface ConfigAccess {
  readonly current: Config;
  update(patch: unknown, options?: { expectedRevision?: number }): Promise<Config>;
}

export function configCommands(config: ConfigAccess): CommandDefinition[] {
  return [
    defineCommand({
      name: 'config/get',
      summary: 'The whole configuration and its revision (secrets are files, never in it).',
      args: Args({}),
      async run() {
        const current = config.current;
        return { revision: current.revision, config: current };
      },
    }),
    defineCommand({
      name: 'config/set',
      summary: 'Change settings: a partial config, checked against the schema and saved atomically.',
      args: Args({
        revision: Type.Optional(
          Type.Integer({
            minimum: 0,
            description:
              'The revision the change was made against; refused if the box has changed since. Required for one box; a group or all-box change may leave it out.',
          }),
        ),
        patch: Type.Record(Type.String(), Type.Unknown(), { description: 'Fields to change; objects merge, other values replace.' }),
      }),
      async run({ revision, patch }, ctx) {
        if (revision === undefined && ctx.audience.kind === 'device') {
          // Without it, two consoles could undo each other's changes unseen.
          throw new DcError('DC_CMD_INVALID', 'revision is required: read it with config/get first', { field: 'revision' });
        }
        const before = config.current.revision;
        const next = await config.update(patch, revision === undefined ? {} : { expectedRevision: revision });
        return { revision: next.revision, changed: next.revision !== before };
      },
    }),
  ];
}
