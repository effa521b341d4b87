/**
 * mosquitto settings a fleet needs beyond the defaults. Measured with `bench/fleet.ts`: with the
 * default `max_queued_messages 1000`, a console subscribed to every box's retained status and
 * state, then fanning a command out to 1,000 boxes, has more than 1,000 messages waiting at
 * once; mosquitto silently drops the rest ("Outgoing messages are being dropped"), and
 * replies go missing. Three per box is enough for status, state and a reply.
 */
export function mosquittoFleetSettings(boxes: number): string[] {
  const queued = Math.max(10_000, 3 * boxes);
  return [
    `# a console that reads every box's status and state and fans out a command: 3 messages a box`,
    `max_queued_messages ${queued}`,
  ];
}
