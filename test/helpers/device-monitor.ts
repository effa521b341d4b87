/**
 * Reads the text that `gst-device-monitor-1.0` prints, so that fixtures can be real tool output
 * (a person can replace one with what their own device prints). Turns each device back into
 * what GstDeviceWatcher hands to describeDevice: class, display name, caps text and properties
 * text, the latter named like the providing GStreamer plugin names its properties structure.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEVICE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'devices');

export interface MonitoredDevice {
  name: string;
  deviceClass: string;
  /** One caps structure per line, as printed (values serialized, types inside lists). */
  caps: string[];
  /** `key = value` lines, in order, values as printed. */
  properties: Array<[string, string]>;
  /** The element of the printed gst-launch line, e.g. `alsasrc device=hw:3,0`. */
  launchElement: string;
}

export function parseDeviceMonitor(text: string): MonitoredDevice[] {
  const devices: MonitoredDevice[] = [];
  let current: MonitoredDevice | undefined;
  let section: 'caps' | 'properties' | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue; // fixture header, not tool output
    if (/^Device (found|modified):/.test(line)) {
      current = { name: '', deviceClass: '', caps: [], properties: [], launchElement: '' };
      devices.push(current);
      section = undefined;
      continue;
    }
    if (!current) continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^\tname\s*: (.*)$/))) current.name = m[1]!;
    else if ((m = line.match(/^\tclass\s*: (.*)$/))) current.deviceClass = m[1]!;
    else if ((m = line.match(/^\tcaps\s*: (.*)$/))) {
      current.caps.push(m[1]!.trim());
      section = 'caps';
    } else if (section === 'caps' && (m = line.match(/^\t {8}(\S.*)$/))) current.caps.push(m[1]!.trim());
    else if (/^\tproperties:/.test(line)) section = 'properties';
    else if (section === 'properties' && (m = line.match(/^\t\t([^ ]+) = (.*)$/))) current.properties.push([m[1]!, m[2]!]);
    else if ((m = line.match(/^\tgst-launch-1\.0 (.*)$/))) {
      section = undefined;
      current.launchElement = m[1]!.replace(/ ! \.\.\.$/, '').replace(/^\.\.\. ! /, '').trim();
    }
  }
  return devices;
}

export function loadDeviceFixture(file: string): MonitoredDevice[] {
  return parseDeviceMonitor(readFileSync(join(DEVICE_FIXTURES, file), 'utf8'));
}

/** How each GStreamer device provider names its properties structure (not printed by the tool). */
const PROPLIST_OF_ELEMENT: Record<string, string> = {
  v4l2src: 'v4l2deviceprovider',
  alsasrc: 'alsa-proplist',
  alsasink: 'alsa-proplist',
  pulsesrc: 'pulse-proplist',
  pulsesink: 'pulse-proplist',
  pipewiresrc: 'pipewire-proplist',
  pipewiresink: 'pipewire-proplist',
};

/** A printed property value as a structure field value (with the type the provider used). */
function fieldValue(printed: string): string {
  const uint = printed.match(/^(\d+) \(0x[0-9a-f]+\)$/);
  if (uint) return `(uint)${uint[1]}`;
  if (printed === 'true' || printed === 'false') return `(boolean)${printed}`;
  if (/^-?\d+$/.test(printed)) return printed;
  if (printed.startsWith('"')) return `(string)${printed}`;
  // Newer tools print strings raw: quote and escape as GStreamer would.
  return /^[A-Za-z0-9_.:/+-]+$/.test(printed) ? `(string)${printed}` : `(string)"${printed.replace(/[^A-Za-z0-9_.:/+-]/g, '\\$&')}"`;
}

/** The device's caps as one caps string (structures joined with `;`). */
export function capsText(d: MonitoredDevice): string {
  return d.caps.join('; ');
}

/** The device's properties as a GstStructure string, named after its provider. */
export function propertiesText(d: MonitoredDevice): string {
  const factory = d.launchElement.split(' ')[0] ?? '';
  const name = PROPLIST_OF_ELEMENT[factory] ?? 'properties';
  return [name, ...d.properties.map(([k, v]) => `${k}=${fieldValue(v)}`)].join(', ');
}
