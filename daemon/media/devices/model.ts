import { numbersOf, parseCaps, parseStructure } from './caps-text.js';

export type DeviceKind = 'camera' | 'microphone' | 'speaker';
/** How a device is attached: an HDMI output plays through the TV, USB is a speakerphone or a USB sound card. */
export type Connection = 'hdmi' | 'usb' | 'other';

export interface VideoMode {
  media: 'video/x-raw' | 'image/jpeg' | 'video/x-h264' | string;
  format?: string;
  width: number;
  height: number;
  /** The highest frame rate the camera offers at this size. */
  maxFps: number;
}

export interface MediaDevice {
  /** Stable within a run: the device path where there is one, else the provider's name. */
  id: string;
  kind: DeviceKind;
  name: string;
  api: string;
  /** gst-launch fragment that opens this device (a source for cameras and microphones, a sink for speakers). */
  element: string;
  /** Video modes for cameras; empty for audio devices. */
  modes: VideoMode[];
  /** How it is attached (speakers are chosen by it: media.audio.output). */
  connection: Connection;
}

/** A device named by a preference: its id, or a part of its display name. */
export function matchesPreference(device: MediaDevice, preference: string): boolean {
  return preference !== '' && (device.id === preference || device.name.includes(preference));
}

/** The properties structure each sound server's GStreamer device provider fills in. */
const SERVER_OF_PROPLIST: Record<string, string> = { 'pulse-proplist': 'pulse', 'pipewire-proplist': 'pipewire' };

const KIND_OF_CLASS: Array<[RegExp, DeviceKind]> = [
  [/^Video\/Source/, 'camera'],
  [/^Audio\/Source/, 'microphone'],
  [/^Audio\/Sink/, 'speaker'],
];

/**
 * Turns what GStreamer says of a device (its class, display name, caps and properties, all as
 * text) into a MediaDevice, or null for devices the box does not use (monitors, codecs, …).
 */
export function describeDevice(deviceClass: string, displayName: string, capsText: string, propsText: string): MediaDevice | null {
  const kind = KIND_OF_CLASS.find(([re]) => re.test(deviceClass))?.[1];
  if (!kind) return null;
  const structure = parseStructure(propsText.includes(',') ? propsText : `props, ${propsText}`);
  const props = structure.fields;
  // A sound server's "Monitor of …" source records what is played, it is no microphone.
  if (props['device.class'] === 'monitor') return null;
  // Sound devices listed by a sound server say device.api=alsa (the hardware behind them), but
  // the server holds that hardware: they must be opened through the server, never as hw:N.
  // (Cameras keep V4L2: they are opened directly whoever lists them.)
  const server = kind === 'camera' ? undefined : SERVER_OF_PROPLIST[structure.name];
  const api = server ?? props['device.api'] ?? (props['api.v4l2.path'] ? 'v4l2' : props['api.alsa.path'] ? 'alsa' : 'unknown');
  const element = elementFor(kind, api, props);
  if (!element) return null;
  const path = props['api.v4l2.path'] ?? props['device.path'] ?? props['api.alsa.path'];
  const base = path ?? `${api}:${displayName}`;
  return {
    // A speakerphone's microphone and speaker share the card's name and path: the kind keeps
    // their ids apart (the watcher keeps one device per id).
    id: kind === 'camera' ? base : `${kind}:${base}`,
    kind,
    name: displayName,
    api,
    element,
    modes: kind === 'camera' ? videoModesOf(capsText) : [],
    connection: connectionOf(displayName, props),
  };
}

/** The properties that name a sound card or its output (plain ALSA, PulseAudio and PipeWire spell them differently). */
const NAME_PROPS = [
  'alsa.card_name',
  'alsa.long_card_name',
  'alsa.id',
  'alsa.driver_name',
  'api.alsa.card.name',
  'api.alsa.card.longname',
  'api.alsa.path',
  'device.description',
  'device.product.name',
  'device.profile.name',
  'device.form_factor',
  'node.name',
  'node.description',
];

/**
 * How a device is attached, from its name and properties. A Pi's HDMI output is "vc4-hdmi-0"
 * (card id vc4hdmi0) under plain ALSA; through PipeWire its description is only "Built-in
 * Audio", and "hdmi" shows in the card name, the profile (hdmi-stereo) and the node name.
 * HDMI is looked for first: a USB display adapter's HDMI sound also plays through the TV.
 * USB shows as device.bus under a sound server, and as the USB audio driver ("USB-Audio",
 * snd_usb_audio) or "… at usb-…" in the card's long name under plain ALSA.
 */
export function connectionOf(displayName: string, props: Record<string, string>): Connection {
  const names = [displayName, ...NAME_PROPS.map((key) => props[key] ?? '')];
  if (names.some((n) => /hdmi/i.test(n))) return 'hdmi';
  const usb =
    props['device.bus'] === 'usb' ||
    /usb/i.test(props['device.bus_path'] ?? '') ||
    /^(USB-Audio|snd_usb_audio)$/.test(props['alsa.driver_name'] ?? '') ||
    names.some((n) => / at usb-|^alsa_(card|input|output)\.usb-/.test(n));
  return usb ? 'usb' : 'other';
}

function elementFor(kind: DeviceKind, api: string, props: Record<string, string>): string | null {
  if (api === 'v4l2' && kind === 'camera') {
    const path = props['api.v4l2.path'] ?? props['device.path'];
    return path ? `v4l2src device=${path}` : null;
  }
  if (api === 'alsa') {
    const card = props['alsa.card'];
    const dev = props['alsa.device'] ?? '0';
    const path = card !== undefined ? `hw:${card},${dev}` : props['api.alsa.path'];
    if (!path) return null;
    return kind === 'speaker' ? `alsasink device=${path}` : `alsasrc device=${path}`;
  }
  if (api === 'pulse' || api === 'pipewire') {
    const node = props['node.name'] ?? props['device.name'];
    if (kind === 'camera') return null; // cameras are opened through V4L2 directly
    const factory = kind === 'speaker' ? 'pulsesink' : 'pulsesrc';
    return node ? `${factory} device=${node}` : factory;
  }
  return null;
}

export function videoModesOf(capsText: string): VideoMode[] {
  const modes: VideoMode[] = [];
  for (const s of parseCaps(capsText)) {
    const widths = numbersOf(s.fields.width);
    const heights = numbersOf(s.fields.height);
    const fps = numbersOf(s.fields.framerate);
    // Ranges ([ 1, 1920 ]) come from virtual devices; a camera lists discrete sizes.
    if (widths.length !== 1 || heights.length !== 1) continue;
    modes.push({
      media: s.name,
      ...(s.fields.format ? { format: s.fields.format } : {}),
      width: widths[0]!,
      height: heights[0]!,
      maxFps: fps.length ? Math.max(...fps) : 0,
    });
  }
  return modes;
}

export interface CameraTarget {
  width: number;
  height: number;
  fps: number;
}

/**
 * Picks the camera mode to capture in: the smallest mode that still covers the target size
 * at the target rate, raw before MJPEG (no decode cost); else MJPEG at that size (USB 2 cameras
 * give 720p30 only as MJPEG); else the best the camera has, to be scaled.
 */
export function chooseCameraMode(modes: readonly VideoMode[], target: CameraTarget): VideoMode | null {
  const usable = modes.filter((m) => m.media === 'video/x-raw' || m.media === 'image/jpeg');
  const covers = (m: VideoMode) => m.width >= target.width && m.height >= target.height && m.maxFps >= target.fps;
  const byArea = (a: VideoMode, b: VideoMode) => a.width * a.height - b.width * b.height;
  const rawFit = usable.filter((m) => m.media === 'video/x-raw' && covers(m)).sort(byArea)[0];
  if (rawFit) return rawFit;
  const jpegFit = usable.filter((m) => m.media === 'image/jpeg' && covers(m)).sort(byArea)[0];
  if (jpegFit) return jpegFit;
  // Nothing covers the target: the largest mode at a decent rate, preferring the rate.
  return [...usable].sort((a, b) => Math.min(b.maxFps, target.fps) - Math.min(a.maxFps, target.fps) || byArea(b, a))[0] ?? null;
}

/** The gst-launch fragment from a camera to raw frames in the chosen mode (decoding MJPEG if needed). */
export function cameraSourceChain(device: MediaDevice, mode: VideoMode | null, jpegDecoder = 'jpegdec'): string[] {
  if (!mode) return [device.element];
  const caps = `${mode.media},width=${mode.width},height=${mode.height}${mode.format ? `,format=${mode.format}` : ''}`;
  return mode.media === 'image/jpeg' ? [device.element, caps, jpegDecoder] : [device.element, caps];
}
