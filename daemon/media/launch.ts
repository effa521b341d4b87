/**
 * Pipelines are written as gst-launch descriptions, which read like the diagrams in the docs,
 * but built through this helper so that every element factory is known before parsing: a
 * missing one is then reported with its Debian package instead of parse_launch's bare error.
 */
export type PropValue = string | number | boolean;

export interface PipelineDescription {
  readonly name: string;
  readonly launch: string;
  readonly factories: ReadonlySet<string>;
}

function formatValue(value: PropValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  // Quote anything that is not a plain token, escaping what gst_parse treats specially.
  return /^[A-Za-z0-9_.:/+-]+$/.test(value) ? value : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function formatProps(props: Record<string, PropValue | undefined>): string[] {
  return Object.entries(props)
    .filter((entry): entry is [string, PropValue] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
}

export class LaunchBuilder {
  private readonly factories = new Set<string>();
  private readonly branches: string[] = [];

  /** One element: `el('x264enc', { name: 'venc', bitrate: 1500 })`. Undefined props are left out. */
  el(factory: string, props: Record<string, PropValue | undefined> = {}): string {
    this.factories.add(factory);
    return [factory, ...formatProps(props)].join(' ');
  }

  /** A gst-launch fragment from elsewhere (a device's element), its factory recorded all the same. */
  fragment(text: string, props: Record<string, PropValue | undefined> = {}): string {
    const factory = text.trim().split(/\s+/)[0];
    if (factory) this.factories.add(factory);
    return [text, ...formatProps(props)].join(' ');
  }

  /** A chain of elements and caps strings linked with `!`; a chain may start or end at `name.`. */
  chain(...links: string[]): this {
    this.branches.push(links.join(' ! '));
    return this;
  }

  build(name: string): PipelineDescription {
    return { name, launch: this.branches.join('  '), factories: new Set(this.factories) };
  }
}

/** Caps for raw video of a given size and rate, in the format every encoder here accepts. */
export function rawVideoCaps(width: number, height: number, fps: number, format = 'I420'): string {
  return `video/x-raw,format=${format},width=${width},height=${height},framerate=${fps}/1,pixel-aspect-ratio=1/1`;
}

/** Mono 48 kHz 16-bit audio: what webrtcdsp and Opus both handle without resampling. */
export const RAW_AUDIO_CAPS = 'audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1';
