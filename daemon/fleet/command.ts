import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { Logger } from '../log.js';
import type { CommandAudience } from './topics.js';

/**
 * What a remote command is: its name (the topic level after `cmd/`), a schema for its
 * arguments, and what it does. Definitions live with the part they drive
 * (`commands/*.ts`); the router does the rest (parsing, checking, replying).
 */
export interface CommandDefinition<A extends TObject = TObject> {
  readonly name: string;
  /** One line for `docs/mqtt-api.md` and `diemcau-fleet help`. */
  readonly summary: string;
  readonly args: A;
  /** The reply says "timed out" after this long (default 10 s); the work itself is not cancelled. */
  readonly timeoutMs?: number;
  run(args: Static<A>, ctx: CommandContext): Promise<unknown>;
}

export interface CommandContext {
  readonly audience: CommandAudience;
  readonly log: Logger;
  /** Runs `action` once the reply has left (restart, reboot: the console must hear "ok" first). */
  afterReply(action: () => void | Promise<void>): void;
}

/** A command's argument schema: closed, so a misspelt argument is an error, not ignored. */
export function Args<P extends TProperties>(properties: P): TObject<P> {
  return Type.Object(properties, { additionalProperties: false });
}

/** Keeps the schema's static type attached to `run` without spelling it out at each definition. */
export function defineCommand<A extends TObject>(definition: CommandDefinition<A>): CommandDefinition {
  return definition as unknown as CommandDefinition;
}
