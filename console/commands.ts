/**
 * The commands a box answers, for `diemcau-fleet help`. A static copy of
 * daemon/fleet/commands/*.ts (names and summaries) so the console needs nothing of the daemon
 * at run time; test/fleet-console.test.ts checks the names against a real box's.
 */
export interface BoxCommandInfo {
  readonly name: string;
  readonly summary: string;
  /** Arguments as given to `send`, if the command takes any. */
  readonly example?: string;
}

export const BOX_COMMANDS: readonly BoxCommandInfo[] = [
  { name: 'ping', summary: 'Is the box there: its time, uptime and version.' },
  { name: 'diagnostics', summary: 'Versions, pipeline and call state, fleet link and queue, and the last log lines.', example: 'logLines=20' },
  { name: 'restart', summary: 'Restart the daemon (systemd starts it again) or only the media engine.', example: 'what=media' },
  { name: 'reboot', summary: 'Reboot the box; refused during a meeting unless forced.', example: 'force=true' },
  { name: 'mute', summary: 'Mute the microphone, the camera or both.', example: 'what=both' },
  { name: 'unmute', summary: 'Unmute the microphone, the camera or both.', example: 'what=audio' },
  { name: 'volume', summary: 'Set the playback volume in percent, 0-150 (kept across restarts).', example: 'percent=80' },
  { name: 'message', summary: "Show a text on the TV for some seconds; text='' takes messages off.", example: "text='Họp lúc 8 giờ' seconds=60" },
  { name: 'identify', summary: "Show the box's name and site on the TV.", example: 'seconds=30' },
  { name: 'snapshot', summary: 'Take a JPEG of the camera or the TV picture and publish it on a topic.', example: 'source=screen' },
  { name: 'config/get', summary: 'The whole configuration and its revision.' },
  {
    name: 'config/set',
    summary: 'Change settings with a partial config; one box needs the revision from config/get.',
    example: "revision=3 patch.device.name='Thôn Đông'",
  },
  { name: 'join', summary: 'Call another box directly; both join the meeting.', example: 'peer=hall-b' },
  { name: 'leave', summary: 'Leave the current call (a call that rings is declined).' },
  { name: 'answer', summary: "Answer the call that rings (calls.answer 'ask'), as OK on the TV remote does." },
  { name: 'floor', summary: 'Give a hall the floor in the meeting (send to every box in it); holder= takes it back.', example: "holder=hall-b name='Thôn Đông'" },
  { name: 'display', summary: 'Turn the TV on (showing the box) or put it in standby, over HDMI-CEC.', example: 'on=true' },
  { name: 'test-tone', summary: 'Play a test tone through the hall speaker, as the far end would be heard.', example: 'seconds=3' },
  { name: 'press', summary: "Sim profile: hold one of the hall's buttons (2 s identify, 8 s setup mode).", example: 'button=speak seconds=0.2' },
  { name: 'remote', summary: "Sim profile: press a key of the TV's remote (select is OK).", example: 'key=select' },
];
