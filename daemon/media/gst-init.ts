// Gst.init must run before any other GStreamer library (GstVideo, GstApp…) is loaded, or GLib
// prints criticals from their class initialisers. Importing this module first guarantees it.
import Gst from '@girs/node-gst-1.0';

Gst.init(null);
