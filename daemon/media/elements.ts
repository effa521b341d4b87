import { Gst } from './gst.js';
import { MediaError } from '../errors.js';

/**
 * Which Debian (and Pi OS) package provides each element we use, so that a missing element
 * produces an error a commune IT officer can act on ("apt install gstreamer1.0-plugins-ugly").
 */
const PACKAGE_OF_ELEMENT: Record<string, string> = {
  // core
  queue: 'libgstreamer1.0-0', tee: 'libgstreamer1.0-0', capsfilter: 'libgstreamer1.0-0',
  fakesink: 'libgstreamer1.0-0', identity: 'libgstreamer1.0-0', 'input-selector': 'libgstreamer1.0-0',
  // base
  videotestsrc: 'gstreamer1.0-plugins-base', audiotestsrc: 'gstreamer1.0-plugins-base',
  videoconvert: 'gstreamer1.0-plugins-base', videoscale: 'gstreamer1.0-plugins-base',
  videorate: 'gstreamer1.0-plugins-base', audioconvert: 'gstreamer1.0-plugins-base',
  audioresample: 'gstreamer1.0-plugins-base', volume: 'gstreamer1.0-plugins-base',
  compositor: 'gstreamer1.0-plugins-base', textoverlay: 'gstreamer1.0-plugins-base',
  opusenc: 'gstreamer1.0-plugins-base', opusdec: 'gstreamer1.0-plugins-base',
  appsink: 'gstreamer1.0-plugins-base', appsrc: 'gstreamer1.0-plugins-base',
  ximagesink: 'gstreamer1.0-x', xvimagesink: 'gstreamer1.0-x',
  alsasrc: 'gstreamer1.0-alsa', alsasink: 'gstreamer1.0-alsa',
  // good
  udpsrc: 'gstreamer1.0-plugins-good', udpsink: 'gstreamer1.0-plugins-good',
  rtpjitterbuffer: 'gstreamer1.0-plugins-good', rtph264pay: 'gstreamer1.0-plugins-good',
  rtph264depay: 'gstreamer1.0-plugins-good', rtpvp8pay: 'gstreamer1.0-plugins-good',
  rtpvp8depay: 'gstreamer1.0-plugins-good', rtpopuspay: 'gstreamer1.0-plugins-good',
  rtpopusdepay: 'gstreamer1.0-plugins-good', vp8enc: 'gstreamer1.0-plugins-good',
  vp8dec: 'gstreamer1.0-plugins-good', jpegenc: 'gstreamer1.0-plugins-good',
  jpegdec: 'gstreamer1.0-plugins-good', v4l2src: 'gstreamer1.0-plugins-good',
  v4l2h264enc: 'gstreamer1.0-plugins-good (on a Raspberry Pi 4 with its V4L2 codec driver)',
  v4l2h264dec: 'gstreamer1.0-plugins-good (on a Raspberry Pi with its V4L2 codec driver)',
  v4l2jpegdec: 'gstreamer1.0-plugins-good (on a Raspberry Pi with its V4L2 codec driver)',
  autovideosink: 'gstreamer1.0-plugins-good', autoaudiosink: 'gstreamer1.0-plugins-good',
  pulsesrc: 'gstreamer1.0-pulseaudio', pulsesink: 'gstreamer1.0-pulseaudio',
  // bad
  openh264enc: 'gstreamer1.0-plugins-bad', openh264dec: 'gstreamer1.0-plugins-bad',
  h264parse: 'gstreamer1.0-plugins-bad', webrtcdsp: 'gstreamer1.0-plugins-bad',
  webrtcechoprobe: 'gstreamer1.0-plugins-bad', kmssink: 'gstreamer1.0-plugins-bad',
  intervideosrc: 'gstreamer1.0-plugins-bad', intervideosink: 'gstreamer1.0-plugins-bad',
  interaudiosrc: 'gstreamer1.0-plugins-bad', interaudiosink: 'gstreamer1.0-plugins-bad',
  // ugly, libav
  x264enc: 'gstreamer1.0-plugins-ugly',
  avdec_h264: 'gstreamer1.0-libav',
};

export function debianPackageOf(factory: string): string {
  return PACKAGE_OF_ELEMENT[factory] ?? 'an unknown package (run `gst-inspect-1.0 ' + factory + '` on a machine that has it)';
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
