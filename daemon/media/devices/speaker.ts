import { matchesPreference, type Connection, type MediaDevice } from './model.js';

/** media.audio.output: where the hall hears the meeting. */
export type SoundOutput = 'auto' | 'hdmi' | 'usb';

export interface SpeakerChoice {
  /** undefined: no speaker at all (the playout plays into a fakesink). */
  device: MediaDevice | undefined;
  /** The output asked for has no speaker here: `device` is another one standing in. */
  fallback: boolean;
}

/**
 * 'auto''s order: a USB speaker first (a speakerphone: the hall's sound device, its microphone
 * beside it), then HDMI (the TV), then any other.
 */
const AUTO_ORDER: readonly Connection[] = ['usb', 'hdmi', 'other'];

/**
 * Which speaker plays the meeting: the one named by `preference` if it is there; else the
 * first of the `output` kind, in AUTO_ORDER for 'auto'. An output that is missing falls back
 * to the best speaker there is, in AUTO_ORDER: a meeting must never go silent.
 */
export function chooseSpeaker(devices: readonly MediaDevice[], o: { preference: string; output: SoundOutput }): SpeakerChoice {
  const speakers = devices.filter((d) => d.kind === 'speaker');
  const named = speakers.find((d) => matchesPreference(d, o.preference));
  if (named) return { device: named, fallback: false };
  const asked = o.output === 'auto' ? undefined : speakers.find((d) => d.connection === o.output);
  if (asked) return { device: asked, fallback: false };
  const best = AUTO_ORDER.flatMap((connection) => speakers.filter((d) => d.connection === connection))[0];
  return { device: best, fallback: o.output !== 'auto' && best !== undefined };
}
