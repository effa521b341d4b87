import { RTCRtpCodecParameters } from 'werift';
import { AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE } from '../media/pipelines.js';

export type VideoCodecName = 'H264' | 'VP8';

/**
 * What the box asks of the far end for video: retransmission (NACK), a keyframe when a picture
 * is lost (PLI, FIR), and a bandwidth estimate (REMB; transport-wide congestion control
 * feedback for peers that estimate on their side).
 */
const VIDEO_FEEDBACK = [
  { type: 'nack' },
  { type: 'nack', parameter: 'pli' },
  { type: 'ccm', parameter: 'fir' },
  { type: 'goog-remb' },
  { type: 'transport-cc' },
];

/**
 * H.264 constrained baseline, packetization mode 1: what every browser and SFU decodes, and
 * what the Pi's hardware encoder makes. Written `H264`: werift's own `video/h264` makes
 * Chromium connect and never send a frame (measured on the prototype).
 */
export function h264(payloadType = VIDEO_PAYLOAD_TYPE): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90_000,
    payloadType,
    rtcpFeedback: VIDEO_FEEDBACK,
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  });
}

export function vp8(payloadType = VIDEO_PAYLOAD_TYPE + 1): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType, rtcpFeedback: VIDEO_FEEDBACK });
}

/** Opus 48 kHz with in-band FEC: a lost packet is rebuilt from the next one. */
export function opus(payloadType = AUDIO_PAYLOAD_TYPE): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: 'audio/opus',
    clockRate: 48_000,
    channels: 2,
    payloadType,
    rtcpFeedback: [{ type: 'transport-cc' }],
    parameters: 'minptime=10;useinbandfec=1',
  });
}

/**
 * The video codecs to offer, the one the media engine encodes first: the box sends what its
 * encoder makes, so the negotiated codec must be that one.
 */
export function videoCodecs(encoding: VideoCodecName): RTCRtpCodecParameters[] {
  return encoding === 'H264' ? [h264()] : [vp8(VIDEO_PAYLOAD_TYPE)];
}
