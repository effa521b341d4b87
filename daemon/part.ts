/** A part of the daemon: built without I/O, started in order, stopped in reverse by main.ts. */
export interface Part {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
