import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';

/** Bump together with a new entry in migrate.ts whenever the file layout changes. */
export const CONFIG_VERSION = 1;

/**
 * A string enum as a plain JSON-schema `enum` (TypeBox's Union of Literals compiles to anyOf,
 * whose ajv errors say "must match a schema in anyOf" instead of listing the allowed values).
 * No `type` keyword: a value of the wrong type then yields one error, not two.
 */
function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions) {
  return Type.Unsafe<T[number]>({ ...options, enum: [...values] });
}

/** Every object is closed: a misspelt key in a hand-edited file must fail loudly, not be ignored. */
function Section<T extends Record<string, TSchema>>(properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, default: {}, description });
}

export const VIDEO_SIZES = ['1280x720', '960x540', '640x360'] as const;
export const VIDEO_ENCODERS = ['v4l2h264enc', 'x264enc', 'openh264enc', 'vp8enc'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const PROFILES = ['sim', 'pi', 'auto'] as const;
export const OUTPUT_SINKS = ['auto', 'kms', 'window', 'fake'] as const;

export type VideoSize = (typeof VIDEO_SIZES)[number];
export type VideoEncoder = (typeof VIDEO_ENCODERS)[number];

/** A time of day, "HH:MM" from 00:00 to 23:59. */
export const HHMM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

const Port = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1024, maximum: 65535, default: fallback, description });

const Video = Section(
  {
    size: StringEnum(VIDEO_SIZES, { default: '1280x720', description: 'Sent picture size, width x height in pixels.' }),
    fps: Type.Integer({ minimum: 5, maximum: 60, default: 30, description: 'Sent frames per second.' }),
    bitrateKbps: Type.Integer({
      minimum: 100,
      maximum: 8000,
      default: 1500,
      description: 'Target video bitrate in kbit/s.',
    }),
    keyframeIntervalS: Type.Integer({
      minimum: 1,
      maximum: 10,
      default: 2,
      description: 'Seconds between keyframes; shorter recovers faster from packet loss, costs bitrate.',
    }),
    encoders: Type.Array(StringEnum(VIDEO_ENCODERS, { description: 'A GStreamer encoder element.' }), {
      minItems: 1,
      uniqueItems: true,
      default: [...VIDEO_ENCODERS],
      description: 'Encoders to try, most preferred first; an encoder left out is never used.',
    }),
    camera: Type.String({
      maxLength: 200,
      default: '',
      description: "Preferred camera, by display name or device path; '' takes the first one found.",
    }),
  },
  'Outgoing video.',
);

const Audio = Section(
  {
    echoCancel: Type.Boolean({ default: true, description: 'Cancel the echo of the speaker in the microphone.' }),
    noiseSuppression: Type.Boolean({ default: true, description: 'Suppress steady background noise.' }),
    gainControl: Type.Boolean({ default: true, description: 'Adjust microphone gain automatically.' }),
    bitrateKbps: Type.Integer({ minimum: 6, maximum: 128, default: 32, description: 'Opus bitrate in kbit/s.' }),
    fec: Type.Boolean({
      default: true,
      description:
        'Opus in-band forward error correction against packet loss, sent and used on receipt; using it costs 120 ms of playout latency.',
    }),
    dtx: Type.Boolean({ default: true, description: 'Opus discontinuous transmission: send almost nothing in silence.' }),
    volume: Type.Integer({ minimum: 0, maximum: 150, default: 100, description: 'Playback volume in percent.' }),
    microphone: Type.String({
      maxLength: 200,
      default: '',
      description: "Preferred microphone, by display name or device; '' takes the default one.",
    }),
    speaker: Type.String({
      maxLength: 200,
      default: '',
      description: "Preferred speaker, by display name or device; '' chooses by `output`. A name that matches comes before `output`.",
    }),
    output: StringEnum(['auto', 'hdmi', 'usb'] as const, {
      default: 'auto',
      description:
        "Where the meeting is heard: 'hdmi' the TV's speakers, 'usb' a USB speakerphone or speaker, 'auto' a USB speakerphone if one is plugged in, else the TV, else any speaker. If the chosen kind is missing, the next in that order plays (with a warning in the log): a meeting never goes silent.",
    }),
  },
  'Outgoing and incoming audio.',
);

const Output = Section(
  {
    sink: StringEnum(OUTPUT_SINKS, {
      default: 'auto',
      description: "Where received video is shown: 'kms' full screen without a desktop, 'window' on a desktop, 'fake' nowhere (tests), 'auto' picks.",
    }),
    selfView: Type.Boolean({ default: true, description: 'Show the own camera picture in a corner.' }),
  },
  'Local display.',
);

const Rtp = Section(
  {
    host: Type.String({ minLength: 1, maxLength: 253, default: '127.0.0.1', description: 'Host that RTP is sent to.' }),
    sendVideoPort: Port(5000, 'Destination port of sent video RTP (RTCP on the next port).'),
    sendAudioPort: Port(5002, 'Destination port of sent audio RTP (RTCP on the next port).'),
    receiveVideoPort: Port(5004, 'Local port for received video RTP (RTCP on the next port).'),
    receiveAudioPort: Port(5006, 'Local port for received audio RTP (RTCP on the next port).'),
  },
  'Plain RTP transport.',
);

const Restart = Section(
  {
    initialDelayMs: Type.Integer({
      minimum: 100,
      maximum: 60000,
      default: 1000,
      description: 'Wait before the first restart of a failed pipeline, in ms.',
    }),
    maxDelayMs: Type.Integer({
      minimum: 1000,
      maximum: 600000,
      default: 30000,
      description: 'Upper bound of the doubling restart delay, in ms.',
    }),
  },
  'Back-off for restarting a failed media pipeline.',
);

/** Device, group and user names as they appear in MQTT topics and host names. */
const ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

const FilePath = (description: string) =>
  Type.String({ maxLength: 500, default: '', description: `${description} Relative paths are relative to the config file's directory; '' for none.` });

const Queue = Section(
  {
    maxMessages: Type.Integer({
      minimum: 100,
      maximum: 1_000_000,
      default: 20_000,
      description: 'Most telemetry and event messages kept on disk while the broker is unreachable; the oldest go first.',
    }),
    maxBytes: Type.Integer({
      minimum: 65_536,
      maximum: 512 * 1024 * 1024,
      default: 16 * 1024 * 1024,
      description: 'Most bytes of queued messages on disk; the oldest go first.',
    }),
  },
  'Store-and-forward queue for when the broker is unreachable.',
);

const Fleet = Section(
  {
    url: Type.String({
      maxLength: 500,
      pattern: '^$|^(mqtt|mqtts|ws|wss)://[^\\s]+$',
      default: '',
      description: "Broker address, e.g. 'mqtts://broker.xa-example.vn:8883'; '' keeps the box off the fleet.",
    }),
    username: Type.String({ maxLength: 128, default: '', description: "Broker user name; '' uses the device id." }),
    passwordFile: FilePath('File holding the broker password (mode 0600), so the password is never in this file.'),
    caFile: FilePath('PEM CA certificate that signs the broker certificate (mqtts).'),
    clientCertFile: FilePath('PEM client certificate, for brokers that log boxes in by certificate.'),
    clientKeyFile: FilePath('PEM key of the client certificate (mode 0600).'),
    groups: Type.Array(Type.String({ pattern: ID_PATTERN, description: 'A group id, e.g. the commune.' }), {
      maxItems: 16,
      uniqueItems: true,
      default: [],
      description: 'Groups whose commands (diemcau/group/<id>/cmd/...) this box obeys.',
    }),
    keepaliveS: Type.Integer({
      minimum: 5,
      maximum: 600,
      default: 30,
      description: 'MQTT keepalive in seconds; the broker declares a silent box offline after 1.5 times this.',
    }),
    telemetryIntervalS: Type.Integer({ minimum: 5, maximum: 3600, default: 30, description: 'Seconds between telemetry messages.' }),
    reconnect: Section(
      {
        initialDelayMs: Type.Integer({
          minimum: 100,
          maximum: 60_000,
          default: 1000,
          description: 'Ceiling of the first reconnection delay; each failure doubles it, and the delay is random below it.',
        }),
        maxDelayMs: Type.Integer({
          minimum: 1000,
          maximum: 3_600_000,
          default: 60_000,
          description: 'Largest reconnection delay ceiling, in ms.',
        }),
      },
      'Reconnection to the broker: exponential backoff with full jitter, so a fleet does not return all at once.',
    ),
    commandMaxBytes: Type.Integer({
      minimum: 1024,
      maximum: 1_048_576,
      default: 65_536,
      description: 'Largest command payload accepted; larger ones get an error reply.',
    }),
    queue: Queue,
  },
  'Connection to the fleet broker of the commune.',
);

const IceServer = Type.Object(
  {
    urls: Type.String({
      pattern: '^(stun|stuns|turn|turns):[^\\s]+$',
      maxLength: 300,
      description: "A STUN or TURN server, e.g. 'stun:stun.xa-example.vn:3478' or 'turns:turn.xa-example.vn:5349?transport=tcp'.",
    }),
    username: Type.Optional(Type.String({ maxLength: 200 })),
    credential: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const Calls = Section(
  {
    iceServers: Type.Array(IceServer, { maxItems: 8, default: [], description: 'STUN and TURN servers for calls through NAT.' }),
    loopbackOnly: Type.Boolean({
      default: false,
      description: 'ICE on 127.0.0.1 only: two boxes on one machine (tests, the demo). Never on a real box.',
    }),
    startBitrateKbps: Type.Integer({
      minimum: 150,
      maximum: 8000,
      default: 600,
      description:
        'What a call starts sending at (about 480p); it grows as the link shows room. Starting above a poor link’s capacity fills its queue before the first report comes back.',
    }),
    answer: StringEnum(['auto', 'ask'] as const, {
      default: 'auto',
      description: "A call from another box: 'auto' answers at once (nobody needs to be in the hall); 'ask' rings on the TV until OK on its remote answers (15 s).",
    }),
    testCall: Section(
      {
        peer: Type.String({ pattern: `^$|${ID_PATTERN.slice(1)}`, default: '', description: "Device id of the box the test call rings (the commune office's); '' for none." }),
        whip: Type.String({ pattern: '^$|^https?://', maxLength: 500, default: '', description: "Or a conference server's test room: its WHIP endpoint; '' for none." }),
        whep: Type.String({ pattern: '^$|^https?://', maxLength: 500, default: '', description: "The test room's WHEP endpoint, to see and hear it; '' for none." }),
      },
      'What the setup page’s test call calls: a few seconds with the far end prove the network, the broker, the camera, the microphone and the TV.',
    ),
    giveUpAfterS: Type.Integer({
      minimum: 0,
      maximum: 86_400,
      default: 0,
      description: 'A lost call link not back within this many seconds ends the call; 0 keeps trying until the host ends it.',
    }),
  },
  'Calls over WebRTC.',
);

const GpioPin = (defaultPin: number, what: string) =>
  Type.Integer({ minimum: 0, maximum: 53, default: defaultPin, description: `BCM number of the ${what} pin of the 40-pin header.` });

const Hardware = Section(
  {
    cec: Section(
      {
        enabled: Type.Boolean({ default: true, description: 'Drive the TV over HDMI-CEC (wake, input, standby, remote keys).' }),
        device: Type.String({ pattern: '^/dev/cec[0-9]+$', default: '/dev/cec0', description: 'The CEC device of the HDMI port the TV is on.' }),
        osdName: Type.String({ minLength: 1, maxLength: 14, default: 'diemcau', description: "The name the TV shows for the box's input (CEC allows 14 characters)." }),
        listen: StringEnum(['monitor', 'follower'] as const, {
          default: 'monitor',
          description: "How remote keys are heard: 'monitor' needs CAP_NET_ADMIN; 'follower' needs none but stops the kernel answering unhandled messages.",
        }),
        standbyAfterMeetingMin: Type.Integer({
          minimum: 0,
          maximum: 240,
          default: 5,
          description: 'Minutes after a meeting before the TV is put in standby; 0 leaves it on.',
        }),
        night: Section(
          {
            enabled: Type.Boolean({ default: true, description: 'Put the TV in standby when the night begins, so it is not left on until morning.' }),
            from: Type.String({ pattern: HHMM_PATTERN, default: '22:00', description: 'Start of the night, 24-hour local time of the box, e.g. "22:00".' }),
            to: Type.String({
              pattern: HHMM_PATTERN,
              default: '05:30',
              description: 'End of the night, e.g. "05:30" (may be past midnight); the TV is not woken then. Same as "from": no night.',
            }),
          },
          'Night standby: at "from" the TV goes to standby (after the meeting, if one is on); meetings and messages still wake it.',
        ),
      },
      'The TV, over HDMI-CEC.',
    ),
    gpio: Section(
      {
        enabled: Type.Boolean({ default: false, description: 'Buttons and status light wired to the GPIO header.' }),
        speakPin: GpioPin(17, '"speak" button'),
        mutePin: GpioPin(27, 'mute button'),
        ledPin: GpioPin(22, 'status light'),
        buttonsActiveLow: Type.Boolean({ default: true, description: 'Buttons close to ground (with the pull-ups set in config.txt).' }),
      },
      'Buttons and status light.',
    ),
    identifySeconds: Type.Integer({ minimum: 1, maximum: 300, default: 15, description: 'How long a long press on a button identifies the box.' }),
  },
  'What the village touches and sees besides the screen: the TV over CEC, buttons, the status light.',
);

const Network = Section(
  {
    hotspot: Section(
      {
        enabled: Type.Boolean({ default: true, description: 'Open the setup hotspot (diemcau-<id>) when the box has no network, so a phone can reach the setup page.' }),
        afterS: Type.Integer({ minimum: 10, maximum: 3600, default: 90, description: 'Seconds without any network before the hotspot opens (a cable or Wi-Fi may just be slow to come up).' }),
      },
      'The box’s own Wi-Fi for setting it up, through NetworkManager (nmcli).',
    ),
  },
  'The hall’s network, as the setup page manages it.',
);

const Setup = Section(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the setup page on the LAN.' }),
    host: Type.String({ minLength: 1, maxLength: 64, default: '0.0.0.0', description: "Address it listens on: '0.0.0.0' every network of the box." }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'TCP port of the setup page, shown on the TV (80 needs CAP_NET_BIND_SERVICE; 0 takes any free one, for tests).',
    }),
    mdns: Type.Boolean({ default: true, description: 'Announce the page as diemcau-<box name>.local over multicast DNS (off for tests on a shared machine).' }),
  },
  'The setup page on the hall’s LAN.',
);

export const ConfigSchema = Type.Object(
  {
    version: Type.Integer({
      const: CONFIG_VERSION,
      default: CONFIG_VERSION,
      description: 'Layout version of this file; older files are migrated on load.',
    }),
    revision: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Incremented on every save, so that stale remote updates can be refused.',
    }),
    profile: StringEnum(PROFILES, {
      default: 'auto',
      description: "Hardware profile: 'pi' for the box, 'sim' for a PC without camera, 'auto' detects.",
    }),
    device: Section(
      {
        id: Type.String({
          pattern: ID_PATTERN,
          default: 'diemcau-dev',
          description: 'Stable identifier used in topics and host names: lower-case letters, digits, dashes.',
        }),
        name: Type.String({
          minLength: 1,
          maxLength: 64,
          default: 'Điểm cầu',
          description: 'Human-readable name shown to the other side.',
        }),
        commune: Type.String({ maxLength: 100, default: '', description: 'Commune (xã, phường) of the hall.' }),
        village: Type.String({ maxLength: 100, default: '', description: 'Village (thôn, bản, tổ dân phố) of the hall.' }),
      },
      'Identity of this box.',
    ),
    log: Section(
      { level: StringEnum(LOG_LEVELS, { default: 'info', description: 'Lowest level that is logged.' }) },
      'Logging.',
    ),
    media: Section(
      {
        video: Video,
        audio: Audio,
        output: Output,
        rtp: Rtp,
        restart: Restart,
        jitterBufferMs: Type.Integer({
          minimum: 10,
          maximum: 1000,
          default: 80,
          description:
            'How long received audio and video wait for late and resent packets (ms). More rides out a jittery rural link; less lowers the delay on a good one.',
        }),
        frameStamps: Type.Boolean({
          default: false,
          description:
            "Measurement aid (bench/call.ts), sim profile only: the simulated camera draws a QR time code into the sent picture and the screen reads the far end's back (zbar, ~10% of a core), logging capture and display times.",
        }),
      },
      'Audio and video.',
    ),
    fleet: Fleet,
    calls: Calls,
    hardware: Hardware,
    network: Network,
    setup: Setup,
  },
  { additionalProperties: false, description: 'Configuration of a diemcau box.' },
);

export type Config = Static<typeof ConfigSchema>;

/** '1280x720' → { width: 1280, height: 720 }; the schema guarantees the format. */
export function parseVideoSize(size: VideoSize): { width: number; height: number } {
  const [width, height] = size.split('x').map(Number);
  if (width === undefined || height === undefined || !(width > 0) || !(height > 0)) {
    throw new RangeError(`not a video size: ${JSON.stringify(size)}`);
  }
  return { width, height };
}
