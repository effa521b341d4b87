import { Type } from '@sinclair/typebox';
import { identityText, type NoticeBoard } from '../../screen/notices.js';
import { DcError } from '../../errors.js';
import type { MediaControl } from '../../media/ipc.js';
import { Args, defineCommand, type CommandDefinition } from '../command.js';

/** What the media commands reach: the running engine (absent while it restarts), config and the TV text. */
export interface MediaCommandDeps {
  media(): MediaControl | undefined;
  /** Saves the playback volume, which the daemon applies live (it survives a restart). */
  setVolume(percent: number): Promise<void>;
  /** Timed text on the TV. */
  notices: Pick<NoticeBoard, 'show' | 'clear'>;
  /** Publishes the picture where the request asked (QoS 1); false if the broker refused it. */
  publishBinary(topic: string, payload: Buffer): Promise<boolean>;
  /** The default place for a snapshot, under the box's own prefix (the only place its ACL allows). */
  snapshotTopic(source: 'camera' | 'screen'): string;
  /** Name and site shown while identifying. */
  identity(): { name: string; commune: string; village: string };
  /** Blinks the status light for `seconds`; false when the box has none. */
  identifyLight(seconds: number): boolean;
}

const What = Type.Union([Type.Literal('audio'), Type.Literal('video'), Type.Literal('both')], {
  default: 'audio',
  description: "What to mute or unmute: the microphone ('audio', default), the camera ('video') or both.",
});

function running(deps: MediaCommandDeps): MediaControl {
  const media = deps.media();
  if (!media) throw new DcError('DC_MEDIA_NOT_RUNNING', 'the media engine is restarting; try again in a few seconds');
  return media;
}

function muteCommand(deps: MediaCommandDeps, muted: boolean): CommandDefinition {
  return defineCommand({
    name: muted ? 'mute' : 'unmute',
    summary: muted ? 'Mute the microphone, the camera or both.' : 'Unmute the microphone, the camera or both.',
    args: Args({ what: What }),
    async run({ what }) {
      const media = running(deps);
      if (what !== 'video') await media.setAudioMuted(muted);
      if (what !== 'audio') await media.setVideoMuted(muted);
      const status = await media.status();
      return { audioMuted: status.audioMuted, videoMuted: status.videoMuted };
    },
  });
}

/** Text layer length: two lines of large text on a TV. */
const MAX_MESSAGE = 280;

export function mediaCommands(deps: MediaCommandDeps): CommandDefinition[] {
  return [
    muteCommand(deps, true),
    muteCommand(deps, false),
    defineCommand({
      name: 'volume',
      summary: 'Set the playback volume in percent (kept across restarts).',
      args: Args({ percent: Type.Integer({ minimum: 0, maximum: 150, description: 'Volume in percent; 100 is unchanged.' }) }),
      async run({ percent }) {
        await deps.setVolume(percent);
        return { volume: percent };
      },
    }),
    defineCommand({
      name: 'test-tone',
      summary: 'Play a 1 kHz tone through the speaker, at the playback volume, to check that the hall hears the box.',
      args: Args({ seconds: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'How long the tone plays.' }) }),
      async run({ seconds }) {
        const media = running(deps);
        await media.playTestTone(seconds);
        const { speaker } = await media.status();
        return { playing: true, seconds, speaker: speaker?.name ?? null };
      },
    }),
    defineCommand({
      name: 'message',
      summary: 'Show a text on the TV for some seconds (shown: false while the picture restarts; it appears when back); an empty text takes messages off.',
      args: Args({
        text: Type.String({ maxLength: MAX_MESSAGE, description: "The text, in Vietnamese or any language; '' clears." }),
        seconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'How long it stays.' }),
      }),
      async run({ text, seconds }) {
        if (text.trim() === '') {
          await deps.notices.clear();
          return { shown: false };
        }
        const { until, drawn } = await deps.notices.show(text, seconds);
        return { shown: drawn, until: new Date(until).toISOString() };
      },
    }),
    defineCommand({
      name: 'identify',
      summary: "Show the box's name and site on the TV and blink its status light.",
      args: Args({ seconds: Type.Integer({ minimum: 1, maximum: 300, default: 15, description: 'How long.' }) }),
      async run({ seconds }) {
        const { until, drawn } = await deps.notices.show(identityText(deps.identity()), seconds, 'identify');
        return { screen: drawn, light: deps.identifyLight(seconds), until: new Date(until).toISOString() };
      },
    }),
    defineCommand({
      name: 'snapshot',
      summary: 'Take a JPEG of the camera or of the TV picture and publish it on a topic.',
      args: Args({
        source: Type.Union([Type.Literal('camera'), Type.Literal('screen')], { default: 'camera', description: 'Which picture.' }),
        topic: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 512,
            pattern: '^[^+#\\u0000]+$',
            description: "Where to publish the JPEG (no wildcards); default diemcau/<id>/snapshot/<source>.",
          }),
        ),
      }),
      timeoutMs: 15_000,
      async run({ source, topic }) {
        const jpeg = await running(deps).snapshot(source);
        const target = topic ?? deps.snapshotTopic(source);
        if (!(await deps.publishBinary(target, jpeg))) {
          throw new DcError('DC_CMD_REFUSED', `the broker did not take the picture on ${target} (not allowed there, or offline)`);
        }
        return { topic: target, bytes: jpeg.length, contentType: 'image/jpeg' };
      },
    }),
  ];
}
