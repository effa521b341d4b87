import { Gst } from './gst.js';
import { MediaError } from '../errors.js';

/**
 * Which Debian (and Pi OS) package provides each element we use, so that a missing element
 * produces an error a commune IT officer can act on ("apt install gstreamer1.0-plugins-ugly").
 */
const ELEMENTS_OF_PACKAGE: Record<string, readonly string[]> = {
  'libgstreamer1.0-0': ['queue', 'tee', 'capsfilter', 'fakesink', 'identity', 'input-selector'],
  'gstreamer1.0-plugins-base': [
    'videotestsrc', 'audiotestsrc', 'videoconvert', 'videoscale', 'videorate', 'audioconvert', 'audioresample',
    'volume', 'compositor', 'audiomixer', 'textoverlay', 'opusenc', 'opusdec', 'appsink', 'appsrc',
  ],
  'gstreamer1.0-x': ['ximagesink', 'xvimagesink', 'ximagesrc'],
  'gstreamer1.0-alsa': ['alsasrc', 'alsasink'],
  'gstreamer1.0-pulseaudio': ['pulsesrc', 'pulsesink'],
  'gstreamer1.0-plugins-good': [
    'udpsrc', 'udpsink', 'rtpjitterbuffer', 'rtph264pay', 'rtph264depay', 'rtpvp8pay', 'rtpvp8depay', 'rtpopuspay',
    'rtpopusdepay', 'vp8enc', 'vp8dec', 'jpegenc', 'jpegdec', 'v4l2src', 'autovideosink', 'autoaudiosink',
    'videocrop', 'gdkpixbufoverlay',
  ],
  'gstreamer1.0-plugins-good (on a Raspberry Pi with its V4L2 codec driver)': ['v4l2h264enc', 'v4l2h264dec', 'v4l2jpegdec'],
  'gstreamer1.0-plugins-bad': [
    'openh264enc', 'openh264dec', 'h264parse', 'webrtcdsp', 'webrtcechoprobe', 'kmssink', 'waylandsink',
    'intervideosrc', 'intervideosink', 'interaudiosrc', 'interaudiosink',
    // Frame stamps, a measurement aid of the sim profile.
    'debugqroverlay', 'zbar',
  ],
  'gstreamer1.0-plugins-ugly': ['x264enc'],
  'gstreamer1.0-libav': ['avdec_h264'],
};

const PACKAGE_OF_ELEMENT = new Map(
  Object.entries(ELEMENTS_OF_PACKAGE).flatMap(([pkg, elements]) => elements.map((element) => [element, pkg] as const)),
);

export function debianPackageOf(factory: string): string {
  return PACKAGE_OF_ELEMENT.get(factory) ?? 'an unknown package (run `gst-inspect-1.0 ' + factory + '` on a machine that has it)';
}

export function hasElement(factory: string): boolean {
  return Gst.ElementFactory.find(factory) !== null;
}

/** Throws DC_MEDIA_ELEMENT_MISSING naming the first absent element and the package that provides it. */
export function requireElements(factories: Iterable<string>): void {
  for (const factory of factories) {
    if (!hasElement(factory)) {
      const pkg = debianPackageOf(factory);
      throw new MediaError(
        'DC_MEDIA_ELEMENT_MISSING',
        `GStreamer element "${factory}" is missing: install the Debian package ${pkg}`,
        { element: factory, package: pkg },
      );
    }
  }
}
