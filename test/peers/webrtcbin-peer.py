#!/usr/bin/python3 -u
"""An independent WebRTC peer for tests: GStreamer webrtcbin in its own process.

Run it with Debian's /usr/bin/python3 (python3-gi), not a pyenv python. It speaks JSON lines:
one JSON object a line on stdin (commands) and on stdout (events); logs go to stderr.

stdin:
  {"type":"offer","sdp":...}          set as remote description, answer, print the answer
  {"type":"make-offer"}               print {"type":"offer","sdp":...}; then expects:
  {"type":"answer","sdp":...}         set as remote description
  {"type":"candidate","candidate":"candidate:...","sdpMLineIndex":0}   add a remote candidate
  {"type":"request-keyframe"}         push a force-key-unit event upstream on the received
                                      video (webrtcbin's rtpsession turns it into a PLI)
  {"type":"stop"} or end of stdin     pipeline to NULL, print {"type":"stopped"}, exit 0
                                      (SIGTERM/SIGINT too; exit 3 if NULL hangs for 5 s)
stdout:
  {"type":"ready","gstreamer":"1.22.0"}                        once the pipeline is PLAYING
  {"type":"offer"|"answer","sdp":...}                          the local description
  {"type":"candidate","candidate":...,"sdpMLineIndex":N,"sdpMid":...}   trickled, as gathered
  {"type":"gathering-complete"} then {"type":"local-description","sdp":...} (with candidates)
  {"type":"state","connectionState":...,"iceConnectionState":...,"iceGatheringState":...,
   "signalingState":...}                                       on every change
  {"type":"stats","video":{frames,width,height,codec,keyframes},"audio":{buffers,rmsDb,codec},
   "sent":{videoFrames,keyframes,keyframeRequests,audioBuffers},
   "connectionState":...,"iceConnectionState":...}             every 500 ms
  {"type":"keyframe-requested","handled":bool}                 after request-keyframe
  {"type":"error","message":...}                               bus errors, refused commands
  {"type":"stopped"}                                           just before exiting
Options: see --help. --loopback-only gathers on 127.0.0.1 only (GstWebRTCICE's
add-local-ip-address), without ICE-TCP, and ignores remote candidates elsewhere.
"""

import argparse
import json
import math
import os
import random
import re
import signal
import sys
import threading

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('GstVideo', '1.0')
gi.require_version('GstWebRTC', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstVideo, GstWebRTC  # noqa: E402

# What this peer sends, per codec: the RTP encoding name, clock rate and a default payload type.
# As answerer it takes the payload type the offer gives to the codec instead.
CODECS = {
    'h264': ('video', 'H264', 90000, 96),
    'vp8': ('video', 'VP8', 90000, 97),
    'opus': ('audio', 'OPUS', 48000, 111),
}

_out_lock = threading.Lock()


def emit(message):
    """Prints one JSON line on stdout. Called from GStreamer threads too, hence the lock."""
    line = json.dumps(message, separators=(',', ':'))
    with _out_lock:
        try:
            sys.stdout.write(line + '\n')
            sys.stdout.flush()
        except (OSError, ValueError):
            output_lost()


def log(*parts):
    line = ' '.join(str(p) for p in ('[webrtcbin-peer %d]' % os.getpid(),) + parts)
    try:
        sys.stderr.write(line + '\n')
        sys.stderr.flush()
    except (OSError, ValueError):
        output_lost()


def output_lost():
    """The process reading us is gone (broken pipe): nobody is left to report to or to stop
    us, so leave now. (Raising instead would end a callback, not the process, and a peer
    orphaned that way once lived on forever.)"""
    os._exit(0)


def report_uncaught(kind, value, tb):
    """PyGObject hands exceptions raised in callbacks (signals, idle, promises) to
    sys.excepthook and carries on: make them visible on stdout too."""
    sys.__excepthook__(kind, value, tb)
    emit({'type': 'error', 'message': 'uncaught %s: %s' % (kind.__name__, value)})


def nick(value):
    """The short name of a GLib enum value, e.g. 'connected'."""
    return value.value_nick if value is not None else None


class Peer:
    def __init__(self, opts):
        self.opts = opts
        self.loop = GLib.MainLoop()
        self.pipeline = Gst.Pipeline.new('peer')
        self.webrtc = Gst.ElementFactory.make('webrtcbin', 'webrtc')
        self.pipeline.add(self.webrtc)
        Gst.util_set_object_arg(self.webrtc, 'bundle-policy', opts.bundle)
        if opts.stun != 'none':
            self.webrtc.set_property('stun-server', opts.stun)
        # webrtcbin 1.22 hands its GstWebRTCNice out *floating*: PyGObject sinks that reference
        # and owns it, so the wrapper must live as long as webrtcbin (self.ice does) and the
        # process must not finalize objects at exit (stop() ends with os._exit).
        self.ice = self.webrtc.get_property('ice-agent')
        if opts.loopback_only:
            # GStreamer 1.22's GstWebRTCICE action signal: libnice then gathers on the added
            # addresses only, instead of on every interface (where it skips loopback).
            if not self.ice.emit('add-local-ip-address', '127.0.0.1'):
                raise SystemExit('add-local-ip-address 127.0.0.1 was refused')
            self.ice.set_property('ice-tcp', False)

        self.webrtc.connect('on-ice-candidate', self.on_ice_candidate)
        self.webrtc.connect('pad-added', self.on_incoming_pad)
        for prop in ('connection-state', 'ice-connection-state', 'ice-gathering-state', 'signaling-state'):
            self.webrtc.connect('notify::' + prop, self.on_state_notify)

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect('message', self.on_bus_message)

        # Counters written by streaming threads; ints under the GIL are enough for a report.
        self.video_in = {'frames': 0, 'width': None, 'height': None, 'codec': None, 'keyframes': 0}
        self.audio_in = {'buffers': 0, 'rmsDb': None, 'codec': None}
        self.sent = {'videoFrames': 0, 'keyframes': 0, 'keyframeRequests': 0, 'audioBuffers': 0}
        self.keyframe_requests_sent = 0
        self.video_src_pad = None  # webrtcbin's src pad that carries the received video
        self.senders_added = False
        self.sink_pads = []
        self.remote_set = False
        self.pending_candidates = []
        self.gathering_reported = False
        self.stopping = False
        self.last_state = None
        self.local_mids = []
        self.remote_offer = ''
        self.remote_mids = []

    # ---- sending ---------------------------------------------------------------------------

    def add_senders(self, payload_types):
        """Builds the test sources → encoders → payloaders and links them into webrtcbin.
        payload_types maps a codec key of CODECS to (payload type, m-line index); the index is
        None when this peer offers, and set when it answers: the sender then takes the
        transceiver for that m-line."""
        o = self.opts
        branches = []
        if o.video != 'none' and o.video in payload_types:
            pt, mline = payload_types[o.video]
            raw = 'videotestsrc is-live=true pattern=%s ! video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert ! queue max-size-buffers=2 leaky=downstream' % (
                o.pattern, o.width, o.height, o.fps)
            if o.video == 'h264':
                enc = ('x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%d'
                       ' ! video/x-h264,profile=constrained-baseline'
                       ' ! rtph264pay name=vpay config-interval=-1 aggregate-mode=zero-latency mtu=1200 pt=%d') % (
                    o.bitrate, o.keyframe_interval * o.fps, pt)
                if mline is not None:
                    # Answering: webrtcbin 1.22 answers an m-line sendrecv only if the offered
                    # caps intersect the sink pad's caps, and rtph264pay's caps carry our own
                    # sprop-parameter-sets and profile-level-id (its level follows the picture
                    # size), never the offerer's: the video would be answered recvonly (and
                    # sent anyway). Strip the caps to what must agree; SPS/PPS go in-band. The
                    # ssrc stays, or the answer signals ssrc 0 (a=ssrc-group:FID 0 <rtx>).
                    ssrc = random.randint(1, 0xFFFFFFFF)
                    enc += (' ssrc=%d ! capssetter replace=true caps="application/x-rtp,media=video,encoding-name=H264,'
                            'clock-rate=90000,payload=%d,packetization-mode=(string)1,ssrc=(uint)%d"') % (ssrc, pt, ssrc)
            else:
                enc = ('vp8enc name=venc deadline=1 cpu-used=8 target-bitrate=%d keyframe-max-dist=%d error-resilient=partitions'
                       ' ! rtpvp8pay name=vpay picture-id-mode=15-bit mtu=1200 pt=%d') % (
                    o.bitrate * 1000, o.keyframe_interval * o.fps, pt)
            branches.append(('video', mline, '%s ! %s ! queue' % (raw, enc)))
        if o.audio != 'none' and o.audio in payload_types:
            pt, mline = payload_types[o.audio]
            branches.append(('audio', mline, 'audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audioconvert ! audioresample'
                             ' ! audio/x-raw,rate=48000,channels=2 ! opusenc name=aenc ! rtpopuspay name=apay pt=%d ! queue' % pt))
        for kind, mline, description in branches:
            bin_ = Gst.parse_bin_from_description(description, True)
            bin_.set_name('send-' + kind)
            self.pipeline.add(bin_)
            sink = self.webrtc.request_pad_simple('sink_%u' if mline is None else 'sink_%d' % mline)
            if bin_.get_static_pad('src').link(sink) != Gst.PadLinkReturn.OK:
                raise RuntimeError('cannot link the %s sender into webrtcbin' % kind)
            self.sink_pads.append(sink)
            trans = sink.get_property('transceiver')
            trans.set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)
            if kind == 'video':
                # webrtcbin offers 'nack pli' and 'ccm fir' for video anyway; do-nack adds
                # 'nack' and an RTX payload type (retransmission), as browsers and werift do.
                trans.set_property('do-nack', True)
                self.watch_encoder(bin_)
            else:
                self.watch_audio_sender(bin_)
            bin_.sync_state_with_parent()
        self.senders_added = True

    def watch_encoder(self, bin_):
        enc_src = bin_.get_by_name('venc').get_static_pad('src')

        def on_buffer(_pad, info):
            buf = info.get_buffer()
            self.sent['videoFrames'] += 1
            if not buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
                self.sent['keyframes'] += 1
            return Gst.PadProbeReturn.OK

        def on_upstream_event(_pad, info):
            event = info.get_event()
            if GstVideo.video_event_is_force_key_unit(event):
                self.sent['keyframeRequests'] += 1
                log('the encoder got a force-key-unit request (%d so far)' % self.sent['keyframeRequests'])
            return Gst.PadProbeReturn.OK

        enc_src.add_probe(Gst.PadProbeType.BUFFER, on_buffer)
        enc_src.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_upstream_event)

    def watch_audio_sender(self, bin_):
        def on_buffer(_pad, _info):
            self.sent['audioBuffers'] += 1
            return Gst.PadProbeReturn.OK

        bin_.get_by_name('aenc').get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    def when_senders_have_caps(self, then, waited_ms=0):
        """create-offer/-answer read the sink pads' caps (profile-level-id, sprop-…): run `then`
        once every sender has negotiated caps, polling every 20 ms for at most 5 s."""
        if all(p.get_current_caps() is not None for p in self.sink_pads):
            then()
            return False
        if waited_ms >= 5000:
            self.fail('the senders did not negotiate caps within 5 s')
            return False
        GLib.timeout_add(20, self.when_senders_have_caps, then, waited_ms + 20)
        return False

    # ---- offer / answer --------------------------------------------------------------------

    def make_offer(self):
        if self.senders_added:
            return self.fail('make-offer: this peer has already negotiated')
        self.add_senders({k: (v[3], None) for k, v in CODECS.items()})
        if not self.sink_pads:
            return self.fail('make-offer: nothing to send (--video none --audio none)')

        def create():
            promise = Gst.Promise.new_with_change_func(self.on_offer_created, None)
            self.webrtc.emit('create-offer', None, promise)
        self.when_senders_have_caps(create)

    def on_offer_created(self, promise, _data):
        self.set_local(description_text(promise, 'offer'), 'offer')

    def on_remote_offer(self, sdp_text):
        if self.senders_added:
            return self.fail('offer: this peer has already negotiated (renegotiation is not supported)')
        sdp = parse_sdp(sdp_text)
        if sdp is None:
            return self.fail('offer: the SDP does not parse')
        payload_types = payload_types_in(sdp)
        self.remote_offer = sdp_text
        self.remote_mids = re.findall(r'^a=mid:(\S+)', sdp_text, re.M)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)

        def applied(promise, _data):
            error = promise_error(promise)
            if error:
                return self.fail_async('set-remote-description (offer) failed: ' + error)
            GLib.idle_add(answer)

        def answer():
            # Senders are built only now, with the payload types the offer chose, each linked
            # to sink_<m-line index>: the transceiver for that m-line.
            self.remote_description_applied()
            self.add_senders(payload_types)
            self.when_senders_have_caps(create)
            return False

        def create():
            promise = Gst.Promise.new_with_change_func(self.on_answer_created, None)
            self.webrtc.emit('create-answer', None, promise)
        self.webrtc.emit('set-remote-description', desc, Gst.Promise.new_with_change_func(applied, None))

    def on_answer_created(self, promise, _data):
        self.set_local(description_text(promise, 'answer'), 'answer')

    def set_local(self, text, kind):
        """Sets the SDP `text` of a created offer or answer as local description, then prints it.
        Works on the text, not on the created description: see description_text()."""
        if text is None:
            return self.fail_async('create-%s gave no description' % kind)
        # Candidates are gathered (and on-ice-candidate fires) as soon as this is set: know the
        # m-lines' mids before.
        if kind == 'answer':
            text = repair_answer_fmtp(text, self.remote_offer)
        self.local_mids = re.findall(r'^a=mid:(\S+)', text, re.M)
        sdp = parse_sdp(text)
        desc = GstWebRTC.WebRTCSessionDescription.new(
            GstWebRTC.WebRTCSDPType.OFFER if kind == 'offer' else GstWebRTC.WebRTCSDPType.ANSWER, sdp)

        def done(promise, _data):
            error = promise_error(promise)
            if error:
                return self.fail_async('set-local-description (%s) failed: %s' % (kind, error))
            emit({'type': kind, 'sdp': text})
        self.webrtc.emit('set-local-description', desc, Gst.Promise.new_with_change_func(done, None))

    def on_remote_answer(self, sdp_text):
        sdp = parse_sdp(sdp_text)
        if sdp is None:
            return self.fail('answer: the SDP does not parse')
        self.remote_mids = re.findall(r'^a=mid:(\S+)', sdp_text, re.M)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)

        def done(promise, _data):
            error = promise_error(promise)
            if error:
                return self.fail_async('set-remote-description (answer) failed: ' + error)
            GLib.idle_add(self.remote_description_applied)
        self.webrtc.emit('set-remote-description', desc, Gst.Promise.new_with_change_func(done, None))

    def remote_description_applied(self):
        self.remote_set = True
        for index, candidate in self.pending_candidates:
            self.add_remote_candidate(index, candidate)
        self.pending_candidates = []
        return False

    # ---- ICE -------------------------------------------------------------------------------

    def on_remote_candidate(self, msg):
        candidate = msg.get('candidate') or ''
        if candidate.startswith('a='):
            candidate = candidate[2:]
        if not candidate:
            return  # end-of-candidates: libnice needs no word for it
        index = msg.get('sdpMLineIndex')
        if not isinstance(index, int):
            mid = msg.get('sdpMid')
            index = self.remote_mids.index(mid) if mid in self.remote_mids else 0
        if self.opts.loopback_only and candidate_address(candidate) != '127.0.0.1':
            log('ignoring a remote candidate that is not on 127.0.0.1:', candidate)
            return
        if self.remote_set:
            self.add_remote_candidate(index, candidate)
        else:
            self.pending_candidates.append((index, candidate))

    def add_remote_candidate(self, index, candidate):
        self.webrtc.emit('add-ice-candidate', index, candidate)

    def on_ice_candidate(self, _webrtc, index, candidate):
        if not candidate:
            return
        if self.opts.loopback_only and candidate_address(candidate) != '127.0.0.1':
            log('not announcing a local candidate off 127.0.0.1:', candidate)
            return
        message = {'type': 'candidate', 'candidate': candidate, 'sdpMLineIndex': index}
        if index < len(self.local_mids):
            message['sdpMid'] = self.local_mids[index]
        emit(message)

    def on_state_notify(self, _webrtc, _pspec):
        state = self.states()
        if state != self.last_state:
            self.last_state = state
            emit(dict(type='state', **state))
        if state['iceGatheringState'] == 'complete' and not self.gathering_reported:
            self.gathering_reported = True
            GLib.idle_add(self.report_gathering_complete)

    def report_gathering_complete(self):
        emit({'type': 'gathering-complete'})
        desc = self.webrtc.get_property('local-description')
        if desc is not None:
            sdp = desc.sdp  # a copy that lives only as long as this name: see description_text()
            emit({'type': 'local-description', 'sdp': self.with_loopback_candidates(sdp.as_text())})
        return False

    def with_loopback_candidates(self, sdp_text):
        if not self.opts.loopback_only:
            return sdp_text
        lines = [line for line in sdp_text.split('\r\n')
                 if not line.startswith('a=candidate:') or candidate_address(line[2:]) == '127.0.0.1']
        return '\r\n'.join(lines)

    def states(self):
        return {
            'connectionState': nick(self.webrtc.get_property('connection-state')),
            'iceConnectionState': nick(self.webrtc.get_property('ice-connection-state')),
            'iceGatheringState': nick(self.webrtc.get_property('ice-gathering-state')),
            'signalingState': nick(self.webrtc.get_property('signaling-state')),
        }

    # ---- receiving -------------------------------------------------------------------------

    def on_incoming_pad(self, _webrtc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        s = caps.get_structure(0)
        media = s.get_string('media')
        codec = s.get_string('encoding-name')
        log('incoming %s stream: %s' % (media, caps.to_string()))
        decode = Gst.ElementFactory.make('decodebin')
        decode.connect('pad-added', self.on_decoded_pad, media, codec)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad('sink'))
        if media == 'video':
            self.video_src_pad = pad
            self.video_in['codec'] = codec
            # Keyframes arriving, counted on the depayloaded stream (decodebin's parser input).
            decode.connect('deep-element-added', self.on_decode_element)
        else:
            self.audio_in['codec'] = codec

    def on_decode_element(self, _bin, _sub_bin, element):
        factory = element.get_factory()
        if factory is None or 'Depayloader' not in (factory.get_metadata('klass') or ''):
            return

        def on_buffer(_pad, info):
            if not info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
                self.video_in['keyframes'] += 1
            return Gst.PadProbeReturn.OK
        element.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    def on_decoded_pad(self, _decode, pad, media, _codec):
        caps = pad.query_caps(None)  # named: the structure below lives inside it
        name = caps.get_structure(0).get_name()
        if name.startswith('video/'):
            sink = Gst.ElementFactory.make('fakesink')
            sink.set_property('sync', False)
            self.pipeline.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad('sink'))
            sink.get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, self.on_video_frame)
        elif name.startswith('audio/'):
            chain = Gst.parse_bin_from_description(
                'audioconvert ! audio/x-raw,format=F32LE ! level name=level interval=100000000 post-messages=true'
                ' ! fakesink name=asink sync=false', True)
            self.pipeline.add(chain)
            chain.sync_state_with_parent()
            pad.link(chain.get_static_pad('sink'))
            chain.get_by_name('asink').get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, self.on_audio_buffer)
        else:
            log('ignoring decoded %s pad with caps %s' % (media, name))

    def on_video_frame(self, pad, _info):
        self.video_in['frames'] += 1
        if self.video_in['width'] is None or self.video_in['frames'] % 30 == 0:
            caps = pad.get_current_caps()
            if caps is not None:
                s = caps.get_structure(0)
                self.video_in['width'] = s.get_int('width')[1]
                self.video_in['height'] = s.get_int('height')[1]
        return Gst.PadProbeReturn.OK

    def on_audio_buffer(self, _pad, _info):
        self.audio_in['buffers'] += 1
        return Gst.PadProbeReturn.OK

    def request_keyframe(self):
        if self.video_src_pad is None:
            return self.fail('request-keyframe: no video is being received')
        # An upstream force-key-unit event sent into webrtcbin's src pad travels to rtpsession,
        # which sends it to the far end as RTCP PLI (nack pli is in the negotiated rtcp-fb).
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, self.keyframe_requests_sent)
        ok = self.video_src_pad.send_event(event)
        self.keyframe_requests_sent += 1
        log('force-key-unit sent upstream on the received video: %s' % ok)
        emit({'type': 'keyframe-requested', 'handled': bool(ok)})

    # ---- bus, stats, commands --------------------------------------------------------------

    def on_bus_message(self, _bus, message):
        t = message.type
        if t == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            emit({'type': 'error', 'message': '%s: %s' % (message.src.get_name(), error.message), 'debug': debug})
        elif t == Gst.MessageType.WARNING:
            warning, debug = message.parse_warning()
            log('warning from %s: %s (%s)' % (message.src.get_name(), warning.message, debug))
        elif t == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            if s is not None and s.get_name() == 'level':
                rms = s.get_value('rms')
                if rms:
                    loudest = max(rms)
                    # Silence is -inf (or -700 dB); JSON has no -inf, so clamp.
                    self.audio_in['rmsDb'] = round(max(loudest, -200.0), 2) if math.isfinite(loudest) else -200.0
        return True

    def stats(self):
        state = self.states()
        emit({
            'type': 'stats',
            'video': dict(self.video_in),
            'audio': dict(self.audio_in),
            'sent': dict(self.sent),
            'connectionState': state['connectionState'],
            'iceConnectionState': state['iceConnectionState'],
        })
        return True

    def handle(self, line):
        line = line.strip()
        if not line:
            return False
        try:
            msg = json.loads(line)
        except ValueError as e:
            emit({'type': 'error', 'message': 'not JSON: %s' % e})
            return False
        kind = msg.get('type') if isinstance(msg, dict) else None
        try:
            if kind == 'offer' and isinstance(msg.get('sdp'), str):
                self.on_remote_offer(msg['sdp'])
            elif kind == 'answer' and isinstance(msg.get('sdp'), str):
                self.on_remote_answer(msg['sdp'])
            elif kind == 'make-offer':
                self.make_offer()
            elif kind == 'candidate':
                self.on_remote_candidate(msg)
            elif kind == 'request-keyframe':
                self.request_keyframe()
            elif kind == 'stop':
                self.stop()
            else:
                emit({'type': 'error', 'message': 'unknown or malformed command: %s' % line[:200]})
        except Exception as e:  # a bad command must not kill the peer
            emit({'type': 'error', 'message': '%s failed: %r' % (kind, e)})
        return False

    def fail(self, message):
        log(message)
        emit({'type': 'error', 'message': message})

    def fail_async(self, message):
        GLib.idle_add(lambda: self.fail(message) and False)

    def run(self):
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise SystemExit('the pipeline does not start')
        emit({'type': 'ready', 'gstreamer': Gst.version_string().split(' ')[-1]})
        GLib.timeout_add(500, self.stats)
        threading.Thread(target=self.read_stdin, daemon=True).start()
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: self.stop() or False)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: self.stop() or False)
        self.loop.run()

    def read_stdin(self):
        for line in sys.stdin:
            GLib.idle_add(self.handle, line)
        log('stdin closed')
        GLib.idle_add(lambda: self.stop() or False)

    def stop(self):
        if self.stopping:
            return
        self.stopping = True
        # A webrtcbin that hangs on its way to NULL must not keep the test waiting forever.
        watchdog = threading.Timer(5.0, lambda: (log('set_state(NULL) hung for 5 s'), os._exit(3)))
        watchdog.daemon = True
        watchdog.start()
        try:
            self.pipeline.set_state(Gst.State.NULL)
            watchdog.cancel()
            emit({'type': 'stopped'})
        finally:
            # Whatever happened above, the process ends here, and without interpreter teardown:
            # see the note on self.ice in __init__.
            os._exit(0)


def parse_sdp(text):
    """The parsed SDP, or None. GstSdp's parser accepts nearly any text, so ask for a version
    line and at least one m-line too."""
    if not text.startswith('v=0'):
        return None
    result, sdp = GstSdp.SDPMessage.new_from_text(text)
    return sdp if result == GstSdp.SDPResult.OK and sdp.medias_len() > 0 else None


def repair_answer_fmtp(answer, offer):
    """webrtcbin 1.22 writes the answer's fmtp from the offer's caps as GstSdp parsed them:
    sprop-parameter-sets are the offerer's SPS/PPS (not ours: ours go in-band with
    config-interval=-1), and GstSdp has turned profile-level-id into a 'profile' caps field,
    so it is missing (a browser then reads 42000a, plain Baseline level 1). Drop the former and
    answer the offer's profile-level-id, as browsers do (level-asymmetry-allowed=1)."""
    offered = dict(re.findall(r'^a=fmtp:(\d+) (.*?)\r?$', offer, re.M))
    h264 = set(re.findall(r'^a=rtpmap:(\d+) H264/', answer, re.M | re.I))

    def fix(m):
        pt, params = m.group(1), [p for p in m.group(2).split(';') if p]
        params = [p for p in params if not p.startswith('sprop-parameter-sets=')]
        if pt in h264 and not any(p.startswith('profile-level-id=') for p in params):
            level = re.search(r'profile-level-id=([0-9a-fA-F]{6})', offered.get(pt, ''))
            if level:
                params.append('profile-level-id=' + level.group(1))
        return 'a=fmtp:%s %s' % (pt, ';'.join(params))
    return re.sub(r'^a=fmtp:(\d+) ([^\r\n]*)', fix, answer, flags=re.M)


def payload_types_in(sdp):
    """(payload type, m-line index) the offer gives to each codec this peer can send: the first
    offered, except that H.264 needs packetization-mode=1 and prefers constrained baseline
    (a browser offers several H.264 profiles)."""
    found = {}
    for i in range(sdp.medias_len()):
        media = sdp.get_media(i)
        fmtp = {}
        rtpmap = {}
        for j in range(media.attributes_len()):
            attr = media.get_attribute(j)
            if attr.key == 'rtpmap' and attr.value:
                pt, _, name = attr.value.partition(' ')
                rtpmap[pt] = name.split('/')[0].upper()
            elif attr.key == 'fmtp' and attr.value:
                pt, _, params = attr.value.partition(' ')
                fmtp[pt] = params
        candidates = {}
        for k in range(media.formats_len()):
            pt = media.get_format(k)
            for key, (kind, encoding, _rate, _default) in CODECS.items():
                if media.get_media() != kind or rtpmap.get(pt) != encoding:
                    continue
                rank = 0
                if key == 'h264':
                    if 'packetization-mode=1' not in fmtp.get(pt, ''):
                        continue
                    level = re.search(r'profile-level-id=([0-9a-fA-F]{4})', fmtp.get(pt, ''))
                    profile = level.group(1).lower() if level else '4200'  # RFC 6184 default
                    rank = 0 if profile in ('42e0', '42c0') else 1 if profile == '4200' else 2
                    if rank == 2:
                        continue  # main/high profiles: x264 here sends constrained baseline only
                if key not in candidates or rank < candidates[key][0]:
                    candidates[key] = (rank, int(pt))
        for key, (_rank, pt) in candidates.items():
            found.setdefault(key, (pt, i))
    return found


def candidate_address(candidate):
    """The connection address of an ICE candidate line ('candidate:…' with or without 'a=')."""
    parts = candidate.split()
    return parts[4] if len(parts) > 4 else None


def description_text(promise, field):
    """The SDP text of the description a create-offer/-answer promise replied with.

    PyGObject pitfall: `promise.get_reply().get_value('offer')` is a view into the reply
    structure, and `desc.sdp` a copy freed with its Python wrapper; used after their owner is
    gone they read freed memory (desc.sdp turns None, or the process segfaults in libgstsdp).
    Keep every owner in a name and leave with plain text."""
    reply = promise.get_reply()
    if reply is None or not reply.has_field(field):
        log('create-%s replied %s' % (field, reply.to_string() if reply is not None else 'nothing'))
        return None
    desc = reply.get_value(field)
    sdp = desc.sdp
    return sdp.as_text()


def promise_error(promise):
    if promise.wait() != Gst.PromiseResult.REPLIED:
        return 'promise %s' % nick(promise.wait())
    reply = promise.get_reply()
    if reply is not None and reply.has_field('error'):
        return str(reply.get_value('error'))
    return None


def main():
    p = argparse.ArgumentParser(description='A GStreamer webrtcbin peer speaking JSON lines on stdin/stdout.')
    p.add_argument('--video', choices=['h264', 'vp8', 'none'], default='h264', help='what video to send')
    p.add_argument('--audio', choices=['opus', 'none'], default='opus', help='what audio to send')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=360)
    p.add_argument('--fps', type=int, default=30)
    p.add_argument('--bitrate', type=int, default=1000, help='video bitrate in kbit/s')
    p.add_argument('--keyframe-interval', type=int, default=10, help='seconds between periodic keyframes')
    p.add_argument('--pattern', default='ball', help='videotestsrc pattern')
    p.add_argument('--stun', default='none', help='none, or stun://host:port')
    p.add_argument('--bundle', choices=['none', 'balanced', 'max-compat', 'max-bundle'], default='max-bundle')
    p.add_argument('--loopback-only', action='store_true', help='ICE on 127.0.0.1 only, UDP only')
    opts = p.parse_args()

    sys.excepthook = report_uncaught
    Gst.init(None)
    for name in ('webrtcbin', 'nicesrc', 'decodebin', 'level'):
        if Gst.ElementFactory.find(name) is None:
            raise SystemExit('GStreamer element %s is missing' % name)
    Peer(opts).run()


if __name__ == '__main__':
    main()
