/** A call manager on a real in-process media engine, as the daemon builds one (the engine runs in a worker there). */
import type { Test } from 'tap';
import { createLogger } from '../../daemon/log.js';
import type { MediaControl } from '../../daemon/media/ipc.js';
import { CallManager, type CallManagerOptions, type SignalMessage } from '../../daemon/rtc/call.js';
import { BoxPeer } from '../../daemon/rtc/peer.js';
import { startEngine, type EngineHarness } from './engine.js';

/** The in-process engine behind the interface the daemon uses (a worker in production). */
export function control(h: EngineHarness): MediaControl {
  const e = h.engine;
  return {
    status: async () => e.status(),
    setBitrate: async (k) => e.setBitrate(k),
    forceKeyframe: async () => e.forceKeyframe(),
    setAudioMuted: async (m) => e.setAudioMuted(m),
    setVideoMuted: async (m) => e.setVideoMuted(m),
    setVolume: async (v) => e.setVolume(v),
    playTestTone: async (s) => e.playTestTone(s),
    setScreenArt: async (art) => e.setScreenArt(art),
    setOutputSize: async (size, rebuild) => e.setOutputSize(size, rebuild),
    setSelfView: async (v) => e.setSelfView(v),
    snapshot: async (s, o) => e.snapshot(s, o),
    preview: async (s) => e.preview(s),
    microphoneLevel: async () => e.microphoneLevel(),
    recordMicrophone: (s) => e.recordMicrophone(s),
    playRecording: async () => e.playRecording(),
    injectFault: async (p) => e.injectFault(p),
    setSending: async (on) => e.setSending(on),
    setSendSize: async (size) => e.setSendSize(size),
  };
}

/** Signalling goes into `sent` (no second box); the engine is idle (camera closed) until a call. */
export async function callManager(t: Test, options: Pick<CallManagerOptions, 'answerTimeoutMs' | 'answer' | 'ringMs'> = {}) {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] }, rtp: {}, send: false });
  const sent: Array<{ to: string; message: SignalMessage }> = [];
  const calls = new CallManager({
    media: () => control(h),
    signal: { send: async (to, message) => void sent.push({ to, message }) },
    ports: {
      video: { fromMedia: h.ports.sendVideoPort, toMedia: h.ports.receiveVideoPort },
      audio: { fromMedia: h.ports.sendAudioPort, toMedia: h.ports.receiveAudioPort },
    },
    loopbackOnly: true,
    ...options,
    log: createLogger('silent'),
  });
  t.teardown(() => calls.stop());
  return { h, calls, sent };
}


/** A send-and-receive werift peer on `h`'s RTP ports (H.264, loopback ICE), closed when the test ends. */
export async function boxPeerOn(t: Test, h: EngineHarness, name: string): Promise<BoxPeer> {
  const peer = await BoxPeer.create({
    videoCodec: 'H264',
    video: { fromMedia: h.ports.sendVideoPort, toMedia: h.ports.receiveVideoPort },
    audio: { fromMedia: h.ports.sendAudioPort, toMedia: h.ports.receiveAudioPort },
    media: { forceKeyframe: async () => h.engine.forceKeyframe(), setBitrate: async (kbps) => h.engine.setBitrate(kbps) },
    loopbackOnly: true,
    log: createLogger('warn', { box: name }),
  });
  t.teardown(() => peer.close());
  return peer;
}
