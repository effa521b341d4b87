/**
 * An independent WebRTC peer for tests: test/peers/webrtcbin-peer.py (GStreamer webrtcbin in its
 * own process, under Debian's /usr/bin/python3 with python3-gi), driven over JSON lines. It lets
 * a test prove interoperability with a WebRTC stack that is not werift. Every wait has a deadline
 * and fails early, with the peer's stderr, if the peer exits.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const WEBRTCBIN_PEER = fileURLToPath(new URL('../peers/webrtcbin-peer.py', import.meta.url));
/** Debian's python, where python3-gi is; a pyenv `python3` on PATH has no `gi`. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface WebrtcbinPeerOptions {
  /** What video to send (default h264: x264 constrained baseline, packetization-mode 1). */
  video?: 'h264' | 'vp8' | 'none';
  /** What audio to send (default opus: a 440 Hz sine). */
  audio?: 'opus' | 'none';
  /** Size and rate of the sent test picture (default 640×360 at 30 fps). */
  width?: number;
  height?: number;
  fps?: number;
  /** Video bitrate in kbit/s (default 1000). */
  bitrate?: number;
  /** Seconds between periodic keyframes (default 10, so requested ones stand out). */
  keyframeIntervalS?: number;
  /** `none` (default) or `stun://host:port`. */
  stun?: string;
  /** webrtcbin bundle-policy (default max-bundle). */
  bundle?: 'none' | 'balanced' | 'max-compat' | 'max-bundle';
  /** ICE on 127.0.0.1 only, UDP only; remote candidates off 127.0.0.1 are ignored. */
  loopbackOnly?: boolean;
  /** Names the peer in failure messages. */
  name?: string;
  /** How long the peer may take to start its pipeline (default 10 s). */
  startTimeoutMs?: number;
}

export interface ReceivedVideo {
  frames: number;
  width: number | null;
  height: number | null;
  /** RTP encoding name of the received stream, e.g. H264 or VP8. */
  codec: string | null;
  /** Depayloaded frames without the delta-unit flag. */
  keyframes: number;
}

export interface ReceivedAudio {
  buffers: number;
  /** Loudest channel of the last `level` report, dBFS; -200 for digital silence. */
  rmsDb: number | null;
  codec: string | null;
}

export interface SentMedia {
  videoFrames: number;
  /** Encoded frames without the delta-unit flag. */
  keyframes: number;
  /** Force-key-unit events that reached the encoder from upstream (a PLI/FIR from the far end). */
  keyframeRequests: number;
  audioBuffers: number;
}

export type PeerMessage =
  | { type: 'ready'; gstreamer: string }
  | { type: 'offer'; sdp: string }
  | { type: 'answer'; sdp: string }
  | { type: 'local-description'; sdp: string }
  | { type: 'candidate'; candidate: string; sdpMLineIndex: number; sdpMid?: string }
  | { type: 'gathering-complete' }
  | { type: 'state'; connectionState: string; iceConnectionState: string; iceGatheringState: string; signalingState: string }
  | { type: 'stats'; video: ReceivedVideo; audio: ReceivedAudio; sent: SentMedia; connectionState: string; iceConnectionState: string }
  | { type: 'keyframe-requested'; handled: boolean }
  | { type: 'error'; message: string; debug?: string }
  | { type: 'stopped' };

export type PeerMessageType = PeerMessage['type'];
export type MessageOf<T extends PeerMessageType> = Extract<PeerMessage, { type: T }>;

/** What the peer accepts on stdin. */
export type PeerCommand =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'make-offer' }
  | { type: 'candidate'; candidate: string; sdpMLineIndex?: number | null; sdpMid?: string | null }
  | { type: 'request-keyframe' }
  | { type: 'stop' };

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WebrtcbinPeer {
  readonly name: string;
  readonly pid: number;
  /** Every message the peer printed so far, oldest first. */
  readonly messages: readonly PeerMessage[];
  send(command: PeerCommand): void;
  /** True until the process has exited. */
  running(): boolean;
  /**
   * The first message of `type` (among those already printed and those to come) that satisfies
   * `predicate`; rejects after `timeoutMs` (default 10 s) or as soon as the peer exits.
   */
  waitFor<T extends PeerMessageType>(type: T, predicate?: (m: MessageOf<T>) => boolean, timeoutMs?: number): Promise<MessageOf<T>>;
  /** Calls `listener` with every later message of `type`; returns the function that removes it. */
  on<T extends PeerMessageType>(type: T, listener: (m: MessageOf<T>) => void): () => void;
  lastStats(): MessageOf<'stats'> | undefined;
  /** Hands the peer an offer; resolves with its answer SDP. */
  answer(offerSdp: string, timeoutMs?: number): Promise<string>;
  /** Has the peer offer; resolves with the offer SDP. Give it the answer with send(). */
  makeOffer(timeoutMs?: number): Promise<string>;
  /** The peer's stderr so far (its logs and GStreamer's). */
  stderr(): string;
  exited: Promise<ExitStatus>;
  /** {"type":"stop"}, then SIGKILL if it is not gone within `timeoutMs` (default 8 s). */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

function argsOf(o: WebrtcbinPeerOptions): string[] {
  const args = ['--video', o.video ?? 'h264', '--audio', o.audio ?? 'opus'];
  if (o.width !== undefined) args.push('--width', String(o.width));
  if (o.height !== undefined) args.push('--height', String(o.height));
  if (o.fps !== undefined) args.push('--fps', String(o.fps));
  if (o.bitrate !== undefined) args.push('--bitrate', String(o.bitrate));
  if (o.keyframeIntervalS !== undefined) args.push('--keyframe-interval', String(o.keyframeIntervalS));
  args.push('--stun', o.stun ?? 'none', '--bundle', o.bundle ?? 'max-bundle');
  if (o.loopbackOnly) args.push('--loopback-only');
  return args;
}

/**
 * Starts a webrtcbin peer and waits until its pipeline plays. The test's teardown stops it
 * (and kills it if it does not stop).
 */
export async function startWebrtcbinPeer(t: Test, options: WebrtcbinPeerOptions = {}): Promise<WebrtcbinPeer> {
  const name = options.name ?? 'webrtcbin-peer';
  const proc = spawn(SYSTEM_PYTHON, ['-u', WEBRTCBIN_PEER, ...argsOf(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', PYTHONDONTWRITEBYTECODE: '1' },
  });
  const messages: PeerMessage[] = [];
  const listeners = new Set<(m: PeerMessage) => void>();
  const exitWatchers = new Set<() => void>();
  let stderr = '';
  let exitStatus: ExitStatus | undefined;
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin!.on('error', () => {}); // EPIPE once the peer is gone; exits are reported elsewhere
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let message: PeerMessage;
    try {
      message = JSON.parse(line) as PeerMessage;
    } catch {
      message = { type: 'error', message: `not JSON on stdout: ${line.slice(0, 200)}` };
    }
    messages.push(message);
    for (const listener of [...listeners]) listener(message);
  });
  const exited = new Promise<ExitStatus>((resolve) =>
    proc.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      for (const watcher of [...exitWatchers]) watcher();
      resolve(exitStatus);
    }),
  );
  const tail = (): string => stderr.split('\n').slice(-15).join('\n');

  /** The first message from index `from` on matching, within a deadline. */
  function waitFrom<T extends PeerMessageType>(
    from: number,
    type: T,
    predicate: (m: MessageOf<T>) => boolean,
    timeoutMs: number,
    failOnError = false,
  ): Promise<MessageOf<T>> {
    const matches = (m: PeerMessage): m is MessageOf<T> => m.type === type && predicate(m as MessageOf<T>);
    const found = messages.slice(from).find(matches);
    if (found) return Promise.resolve(found);
    return new Promise<MessageOf<T>>((resolve, reject) => {
      const finish = (error?: Error, m?: MessageOf<T>): void => {
        clearTimeout(timer);
        listeners.delete(listener);
        exitWatchers.delete(onExit);
        if (error) reject(error);
        else resolve(m!);
      };
      const listener = (m: PeerMessage): void => {
        if (matches(m)) finish(undefined, m);
        else if (failOnError && m.type === 'error') finish(new Error(`${name}: ${m.message} while waiting for "${type}"`));
      };
      const onExit = (): void =>
        finish(new Error(`${name} exited (${JSON.stringify(exitStatus)}) while waiting for "${type}"; stderr:\n${tail()}`));
      const timer = setTimeout(() => {
        const last = messages.filter((m) => m.type !== 'stats').slice(-3);
        finish(new Error(`${name}: no "${type}" message within ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 600)}; stats: ${JSON.stringify(peer.lastStats())}`));
      }, timeoutMs);
      listeners.add(listener);
      exitWatchers.add(onExit);
      if (exitStatus) onExit();
    });
  }

  const peer: WebrtcbinPeer = {
    name,
    pid: proc.pid ?? -1,
    messages,
    running: () => !exitStatus,
    send(command) {
      if (exitStatus || !proc.stdin!.writable) throw new Error(`${name} is not running; cannot send ${command.type}`);
      proc.stdin!.write(`${JSON.stringify(command)}\n`);
    },
    waitFor(type, predicate = () => true, timeoutMs = 10_000) {
      return waitFrom(0, type, predicate, timeoutMs);
    },
    on(type, listener) {
      const wrapped = (m: PeerMessage): void => {
        if (m.type === type) listener(m as MessageOf<typeof type>);
      };
      listeners.add(wrapped);
      return () => listeners.delete(wrapped);
    },
    lastStats() {
      for (let i = messages.length - 1; i >= 0; i--) {
        const m = messages[i]!;
        if (m.type === 'stats') return m;
      }
      return undefined;
    },
    async answer(offerSdp, timeoutMs = 10_000) {
      const from = messages.length;
      peer.send({ type: 'offer', sdp: offerSdp });
      return (await waitFrom(from, 'answer', () => true, timeoutMs, true)).sdp;
    },
    async makeOffer(timeoutMs = 10_000) {
      const from = messages.length;
      peer.send({ type: 'make-offer' });
      return (await waitFrom(from, 'offer', () => true, timeoutMs, true)).sdp;
    },
    stderr: () => stderr,
    exited,
    async stop(timeoutMs = 8000) {
      if (!exitStatus) {
        if (proc.stdin!.writable) {
          proc.stdin!.write(`${JSON.stringify({ type: 'stop' })}\n`);
          proc.stdin!.end();
        }
        const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      return exitStatus!;
    },
  };
  t.teardown(() => peer.stop());

  await waitFrom(0, 'ready', () => true, options.startTimeoutMs ?? 10_000, true);
  return peer;
}

/** Relays each peer's trickled candidates to the other; returns the function that stops it. */
export function relayCandidates(a: WebrtcbinPeer, b: WebrtcbinPeer): () => void {
  const relay = (to: WebrtcbinPeer) => (m: MessageOf<'candidate'>) => {
    // A peer that has already exited has no use for candidates (its own wait reports why).
    if (to.running()) to.send(m);
  };
  const offA = a.on('candidate', relay(b));
  const offB = b.on('candidate', relay(a));
  return () => {
    offA();
    offB();
  };
}
