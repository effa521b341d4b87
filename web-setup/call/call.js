// The call page: a meeting host calls one box straight from the browser. Signalling is the
// box↔box protocol over MQTT (docs/mqtt-api.md, "Direct calls"): the page logs in to the
// broker as its own user (the ACL treats it like a box), publishes an offer on
// diemcau/<me>/call/<box>/offer and reads the box's answer, reject or hangup on
// diemcau/<box>/call/<me>/<kind>. The box answers by itself; nobody at the hall presses a key.
import mqtt from './mqtt.esm.js';

const ROOT = 'diemcau';
/** The box answers at once; 20 s without a connection means it is off or unreachable. */
const ANSWER_TIMEOUT_MS = 20_000;
/** The box takes no trickled candidates, so the offer waits for gathering, at most this long. */
const GATHER_TIMEOUT_MS = 5_000;
/** A link that stays down this long ends the call (the box waits as long). */
const RECONNECT_TIMEOUT_MS = 30_000;
const BROKER_TIMEOUT_MS = 10_000;
/** Device and user ids become MQTT topic levels: no `/`, `+` or `#`. */
const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** [Vietnamese, English] for every status line. */
const TEXT = {
  idle: () => ['Sẵn sàng', 'Ready'],
  broker: () => ['Đang kết nối máy chủ…', 'Connecting to the broker…'],
  media: () => ['Đang mở camera và micro…', 'Opening camera and microphone…'],
  connecting: (box) => [`Đang gọi ${box}…`, `Calling ${box}…`],
  'in-call': (box) => [`Đang trong cuộc gọi với ${box}`, `In call with ${box}`],
  reconnecting: (box) => [`Mất tín hiệu, đang kết nối lại với ${box}…`, `Connection lost, reconnecting to ${box}…`],
};
const REASONS = {
  left: ['Bạn đã kết thúc cuộc gọi', 'You hung up'],
  'remote-left': ['Điểm cầu đã kết thúc cuộc gọi', 'The box ended the call'],
  busy: ['Điểm cầu đang bận (đang có cuộc gọi khác)', 'The box is busy (in another call)'],
  rejected: ['Điểm cầu không nhận cuộc gọi', 'The box could not take the call'],
  'no-answer': ['Điểm cầu không trả lời sau 20 giây', 'No answer within 20 s'],
  failed: ['Không kết nối được với điểm cầu', 'Could not connect to the box'],
  'link-lost': ['Mất kết nối với điểm cầu', 'The connection to the box was lost'],
  'no-media': ['Không mở được camera hoặc micro', 'Camera or microphone not available'],
  broker: ['Không kết nối được máy chủ (địa chỉ, tên hoặc mật khẩu?)', 'Could not reach the broker (address, user or password?)'],
  'not-secure': ['Trình duyệt chỉ cho dùng camera trên trang https:// hoặc localhost', 'The browser allows the camera only on https:// or localhost pages'],
  settings: ['Hãy điền điểm cầu và thông tin máy chủ', 'Fill in the box and the broker settings'],
};

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const ui = {
  box: /** @type {HTMLInputElement} */ ($('box')),
  wsUrl: /** @type {HTMLInputElement} */ ($('ws-url')),
  user: /** @type {HTMLInputElement} */ ($('user')),
  password: /** @type {HTMLInputElement} */ ($('password')),
  brokerDetails: /** @type {HTMLDetailsElement} */ ($('broker-details')),
  settings: /** @type {HTMLFormElement} */ ($('settings')),
  call: /** @type {HTMLButtonElement} */ ($('call-button')),
  hangup: /** @type {HTMLButtonElement} */ ($('hangup-button')),
  mute: /** @type {HTMLButtonElement} */ ($('mute-button')),
  status: $('status'),
  statusVi: $('status-vi'),
  statusEn: $('status-en'),
  local: /** @type {HTMLVideoElement} */ ($('local-video')),
  remote: /** @type {HTMLVideoElement} */ ($('remote-video')),
  placeholder: $('remote-placeholder'),
};

let state = 'idle';
/** @type {string | null} */
let endReason = null;
let muted = false;
/** @type {RTCIceServer[]} */
let iceServers = [];
/**
 * The call under way, or null.
 * @type {null | { id: string, box: string, user: string, pc: RTCPeerConnection | null, stream: MediaStream | null,
 *   remote: MediaStream | null, timer: ReturnType<typeof setTimeout> | undefined, offered: boolean, answered: boolean,
 *   connected: boolean, ended: boolean }}
 */
let call = null;
/** @type {{ client: any, key: string, user: string } | null} */
let broker = null;

// What a test (or a curious host in the console) reads.
window.diemcauCall = {
  get state() { return state; },
  get callId() { return call?.id ?? null; },
  get pc() { return call?.pc ?? null; },
  get box() { return call?.box ?? null; },
  get endReason() { return endReason; },
  get muted() { return muted; },
};

function randomId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function show(stateName, vi, en) {
  state = stateName;
  ui.status.dataset.state = stateName;
  ui.statusVi.textContent = vi;
  ui.statusEn.textContent = en;
  const busy = stateName === 'connecting' || stateName === 'in-call' || stateName === 'reconnecting';
  ui.call.hidden = busy;
  ui.hangup.hidden = !busy;
  ui.mute.disabled = !call?.stream;
  for (const input of [ui.box, ui.wsUrl, ui.user, ui.password]) input.disabled = busy;
}

function setPhase(phase, detail = phase) {
  const [vi, en] = TEXT[detail](call?.box ?? '');
  show(phase, vi, en);
}

function showEnded(reason) {
  endReason = reason;
  const [vi, en] = REASONS[reason] ?? REASONS.failed;
  show('ended', `Đã kết thúc: ${vi}`, `Ended: ${en}`);
}

function showMute() {
  ui.mute.setAttribute('aria-pressed', String(muted));
  ui.mute.innerHTML = muted ? 'Bật micro <span class="en">Unmute mic</span>' : 'Tắt micro <span class="en">Mute mic</span>';
  for (const track of call?.stream?.getAudioTracks() ?? []) track.enabled = !muted;
}

// --- broker -------------------------------------------------------------------------------

function connectBroker(wsUrl, user, password) {
  const key = JSON.stringify([wsUrl, user, password]);
  if (broker && broker.key === key && broker.client.connected) return Promise.resolve(broker);
  if (broker) {
    broker.client.end(true);
    broker = null;
  }
  const client = mqtt.connect(wsUrl, {
    protocolVersion: 5,
    clientId: `${user}-web-${randomId().slice(0, 8)}`,
    username: user,
    password,
    clean: true,
    connectTimeout: BROKER_TIMEOUT_MS,
    reconnectPeriod: 3000,
  });
  return new Promise((resolve, reject) => {
    const fail = (error) => {
      clearTimeout(timer);
      client.end(true);
      reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { reason: 'broker' }));
    };
    const timer = setTimeout(() => fail(new Error('broker did not answer')), BROKER_TIMEOUT_MS + 1000);
    // A refused login gives an error; an unreachable broker only a close (mqtt.js would retry).
    const refused = (e) => fail(e ?? new Error('broker refused'));
    const closed = () => fail(new Error('broker unreachable'));
    client.once('error', refused);
    client.once('close', closed);
    client.once('connect', async () => {
      client.off('error', refused);
      client.off('close', closed);
      clearTimeout(timer);
      try {
        client.on('message', (topic, payload) => void onSignal(user, topic, payload));
        // Later errors (a broker restart) are retried by mqtt.js; media does not depend on them.
        client.on('error', (e) => console.warn('broker:', e.message));
        const granted = await client.subscribeAsync(`${ROOT}/+/call/${user}/+`, { qos: 1 });
        if (granted.some((g) => g.qos >= 0x80)) throw new Error('the broker refused the call topics (ACL)');
        broker = { client, key, user };
        resolve(broker);
      } catch (e) {
        fail(e);
      }
    });
  });
}

function publish(user, box, kind, body) {
  if (!broker?.client.connected) return Promise.reject(new Error('broker offline'));
  return broker.client.publishAsync(`${ROOT}/${user}/call/${box}/${kind}`, JSON.stringify(body), { qos: 1 });
}

/** A message on diemcau/<from>/call/<me>/<kind>: only the current call's box is heard. */
async function onSignal(me, topic, payload) {
  const [root, from, word, to, kind, ...rest] = topic.split('/');
  if (root !== ROOT || word !== 'call' || to !== me || rest.length > 0 || !from || !kind) return;
  let body;
  try {
    body = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return;
  }
  if (typeof body?.callId !== 'string') return;
  if (kind === 'offer') {
    // This page places calls; it does not take them.
    await publish(me, from, 'reject', { callId: body.callId, reason: call ? 'busy' : 'unsupported' }).catch(() => undefined);
    return;
  }
  const c = call;
  if (!c || c.ended || c.id !== body.callId || c.box !== from) return;
  if (kind === 'answer' && typeof body.sdp === 'string' && !c.answered && c.pc) {
    c.answered = true;
    try {
      await c.pc.setRemoteDescription({ type: 'answer', sdp: body.sdp });
    } catch (e) {
      console.warn('answer refused:', e);
      end(c, 'failed');
    }
  } else if (kind === 'reject') {
    end(c, body.reason === 'busy' ? 'busy' : 'rejected');
  } else if (kind === 'hangup') {
    end(c, 'remote-left');
  }
}

// --- the call ------------------------------------------------------------------------------

async function openMedia() {
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: { width: { ideal: 1280 }, height: { ideal: 720 } } });
  } catch (e) {
    // No camera (or it is taken): the host can still speak and see the hall.
    if (e?.name === 'NotAllowedError') throw e;
    return navigator.mediaDevices.getUserMedia({ audio });
  }
}

/** Resolves when ICE gathering is complete or after `ms` (then the SDP has what was found). */
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function arm(c, ms, reason) {
  clearTimeout(c.timer);
  c.timer = setTimeout(() => {
    if (call !== c || c.ended) return;
    // An answer came but no connection: the box is there, the network between is not.
    end(c, reason === 'no-answer' && c.answered ? 'failed' : reason);
  }, ms);
}

function onConnectionState(c) {
  if (call !== c || c.ended || !c.pc) return;
  switch (c.pc.connectionState) {
    case 'connected':
      clearTimeout(c.timer);
      c.connected = true;
      setPhase('in-call');
      break;
    case 'disconnected':
      if (c.connected) {
        setPhase('reconnecting');
        arm(c, RECONNECT_TIMEOUT_MS, 'link-lost');
      }
      break;
    case 'failed':
      end(c, c.connected ? 'link-lost' : 'failed');
      break;
  }
}

function onTrack(c) {
  if (call !== c || c.remote || !c.pc) return;
  // Both receivers' tracks exist from the start: one stream with both, set once, so the
  // element never reloads when the second track's event comes.
  c.remote = new MediaStream(c.pc.getReceivers().map((r) => r.track));
  ui.remote.srcObject = c.remote;
  ui.remote.play().catch(() => {
    // Sound without a click is refused on some browsers: play muted, a click brings sound.
    ui.remote.muted = true;
    ui.remote.play().catch(() => undefined);
  });
}

async function startCall() {
  if (call) return;
  const settings = {
    box: ui.box.value.trim(),
    wsUrl: ui.wsUrl.value.trim(),
    user: ui.user.value.trim(),
    password: ui.password.value,
  };
  if (!ID.test(settings.box) || !ID.test(settings.user) || !/^wss?:\/\//.test(settings.wsUrl)) {
    if (!ID.test(settings.user) || !/^wss?:\/\//.test(settings.wsUrl)) ui.brokerDetails.open = true;
    ui.settings.reportValidity();
    showEnded('settings');
    return;
  }
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    showEnded('not-secure');
    return;
  }
  const c = {
    id: randomId(),
    box: settings.box,
    user: settings.user,
    pc: null,
    stream: null,
    remote: null,
    timer: undefined,
    offered: false,
    answered: false,
    connected: false,
    ended: false,
  };
  call = c;
  endReason = null;
  setPhase('connecting', 'broker');
  try {
    await connectBroker(settings.wsUrl, settings.user, settings.password);
    if (c.ended) return;
    setPhase('connecting', 'media');
    try {
      c.stream = await openMedia();
    } catch (e) {
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { reason: 'no-media' });
    }
    if (c.ended) return;
    ui.local.srcObject = c.stream;
    showMute();
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    c.pc = pc;
    // Video first, then audio, as the box lays out its own offers.
    for (const kind of ['video', 'audio']) {
      const track = c.stream.getTracks().find((t) => t.kind === kind);
      if (track) pc.addTransceiver(track, { direction: 'sendrecv', streams: [c.stream] });
      else pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    pc.addEventListener('track', () => onTrack(c));
    pc.addEventListener('connectionstatechange', () => onConnectionState(c));
    setPhase('connecting');
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_TIMEOUT_MS);
    if (c.ended) return;
    arm(c, ANSWER_TIMEOUT_MS, 'no-answer');
    c.offered = true;
    await publish(c.user, c.box, 'offer', { callId: c.id, sdp: pc.localDescription.sdp });
  } catch (e) {
    console.warn('call failed:', e);
    end(c, e?.reason ?? 'failed');
  }
}

/**
 * Ends call `c` for `reason`. The box is told (hangup) unless it ended the call itself:
 * it also stops waiting, and frees itself for the next caller.
 */
function end(c, reason) {
  if (c.ended) return;
  c.ended = true;
  clearTimeout(c.timer);
  if (c.offered && !['remote-left', 'busy', 'rejected'].includes(reason)) {
    publish(c.user, c.box, 'hangup', { callId: c.id, reason }).catch(() => undefined);
  }
  c.pc?.close();
  // Stopping the tracks turns the laptop's camera light off.
  for (const track of c.stream?.getTracks() ?? []) track.stop();
  ui.local.srcObject = null;
  ui.remote.srcObject = null;
  ui.remote.muted = false;
  ui.placeholder.hidden = false;
  if (call === c) call = null;
  showEnded(reason);
}

// --- wiring --------------------------------------------------------------------------------

ui.call.addEventListener('click', () => void startCall());
ui.settings.addEventListener('submit', (event) => {
  event.preventDefault();
  void startCall();
});
ui.hangup.addEventListener('click', () => call && end(call, 'left'));
ui.mute.addEventListener('click', () => {
  muted = !muted;
  showMute();
});
ui.remote.addEventListener('click', () => {
  ui.remote.muted = false;
});
ui.remote.addEventListener('resize', () => {
  ui.placeholder.hidden = ui.remote.videoWidth > 0;
});
// Closing the tab is hanging up: the box then frees itself at once instead of waiting 30 s.
window.addEventListener('pagehide', () => call && end(call, 'left'));

/** Settings from the server's config.json, then from the address (?box=…&ws=…&user=…&password=…). */
async function prefill() {
  let config = {};
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    if (response.ok) config = await response.json();
  } catch {
    // A page served without config.json: the host types the settings.
  }
  const query = new URLSearchParams(location.search);
  const pick = (name, fallback) => query.get(name) ?? fallback ?? '';
  ui.wsUrl.value = pick('ws', config.broker?.wsUrl);
  ui.user.value = pick('user', config.broker?.username);
  ui.password.value = pick('password', config.broker?.password);
  ui.box.value = pick('box', ui.box.value);
  if (Array.isArray(config.iceServers)) iceServers = config.iceServers;
  ui.brokerDetails.open = !ui.wsUrl.value || !ui.user.value;
  setPhase('idle');
  document.body.dataset.ready = 'true';
}

void prefill();
