import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';

/**
 * The health part of a telemetry message. Units are in the field names; a reading that could
 * not be taken is null, never a guessed value. Every object is closed so a consumer that
 * validates with this schema notices a field it does not know yet.
 */

/** A string enum as a plain JSON-schema `enum` (see config/schema.ts for why not anyOf). */
function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions) {
  return Type.Unsafe<T[number]>({ ...options, enum: [...values] });
}

function Closed<T extends Record<string, TSchema>>(properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, description });
}

function Nullable<T extends TSchema>(schema: T, description: string) {
  return Type.Union([schema, Type.Null()], { description });
}

const Bytes = (description: string) => Type.Integer({ minimum: 0, description });
const Percent = (description: string) => Type.Number({ minimum: 0, maximum: 100, description });
const Flag = (description: string) => Type.Boolean({ description });

export const ALERT_CODES = [
  'under-voltage',
  'under-voltage-occurred',
  'throttled',
  'overheating',
  'disk-almost-full',
  'memory-low',
  'weak-wifi',
] as const;
export type AlertCode = (typeof ALERT_CODES)[number];

export const INTERFACE_TYPES = ['wired', 'wireless', 'other'] as const;

const Cpu = Closed(
  {
    loadPercent: Nullable(
      Percent('Busy share of all cores together since the previous sample, 0-100.'),
      'Null on the first sample of a collector: there is no previous sample to compare with.',
    ),
    cores: Type.Integer({ minimum: 1, description: 'Number of logical cores.' }),
    load1: Type.Number({ minimum: 0, description: 'Kernel load average over 1 minute (not divided by cores).' }),
    load5: Type.Number({ minimum: 0, description: 'Kernel load average over 5 minutes.' }),
    load15: Type.Number({ minimum: 0, description: 'Kernel load average over 15 minutes.' }),
  },
  'Processor load.',
);

const Temperature = Closed(
  {
    socC: Nullable(
      Type.Number({ description: 'SoC (CPU) temperature in degrees Celsius, one decimal.' }),
      'Null when neither a thermal zone nor systeminformation (hwmon, `sensors`) gives one.',
    ),
  },
  'Temperatures.',
);

export const PiThrottledSchema = Closed(
  {
    underVoltageNow: Flag('Supply voltage is below 4.63 V right now (bit 0).'),
    frequencyCappedNow: Flag('ARM frequency is capped right now (bit 1).'),
    throttledNow: Flag('The SoC is throttled right now (bit 2).'),
    softTempLimitNow: Flag('The soft temperature limit is active right now (bit 3).'),
    underVoltageOccurred: Flag('Under-voltage has occurred since boot (bit 16).'),
    frequencyCappedOccurred: Flag('ARM frequency capping has occurred since boot (bit 17).'),
    throttledOccurred: Flag('Throttling has occurred since boot (bit 18).'),
    softTempLimitOccurred: Flag('The soft temperature limit has been reached since boot (bit 19).'),
    raw: Type.String({ pattern: '^0x[0-9a-f]+$', description: "The firmware's bit field as lower-case hex, e.g. '0x50005'." }),
  },
  'Throttling flags of the Raspberry Pi firmware (`vcgencmd get_throttled`).',
);
export type PiThrottled = Static<typeof PiThrottledSchema>;

const Power = Closed(
  {
    piThrottled: Nullable(PiThrottledSchema, 'Null when not a Raspberry Pi or the firmware cannot be asked.'),
  },
  'Power supply and throttling.',
);

const Memory = Closed(
  {
    totalBytes: Bytes('Usable RAM in bytes (MemTotal).'),
    availableBytes: Bytes('RAM available to new work without swapping, in bytes (MemAvailable).'),
    usedPercent: Percent('(total - available) / total, 0-100, one decimal.'),
  },
  'Main memory.',
);

const Disk = Closed(
  {
    path: Type.String({ description: 'The state directory whose filesystem is measured.' }),
    totalBytes: Bytes('Size of that filesystem in bytes.'),
    freeBytes: Bytes('Bytes an unprivileged process can still write (like `df` Avail).'),
    usedPercent: Percent('Used share as `df` counts it (reserved blocks excluded), 0-100, one decimal.'),
  },
  'The filesystem holding the state directory.',
);

export const NetworkInterfaceSchema = Closed(
  {
    name: Type.String({ description: 'Kernel interface name, e.g. eth0, wlan0, lo.' }),
    type: StringEnum(INTERFACE_TYPES, {
      description: "'wired': a physical Ethernet device; 'wireless': Wi-Fi; 'other': loopback, bridges, tunnels, virtual devices.",
    }),
    up: Flag('Administratively up with a link (operstate up; for loopback and tunnels the UP flag).'),
    ipv4: Type.Array(Type.String({ description: 'Dotted-quad address.' }), { description: 'IPv4 addresses, none when unconfigured.' }),
    rxBytes: Bytes('Bytes received since the interface appeared (kernel counter).'),
    txBytes: Bytes('Bytes sent since the interface appeared (kernel counter).'),
  },
  'One network interface.',
);
export type NetworkInterface = Static<typeof NetworkInterfaceSchema>;

export const WifiLinkSchema = Closed(
  {
    interface: Type.String({ description: 'Wireless interface carrying the link, e.g. wlan0.' }),
    ssid: Nullable(Type.String({ description: 'Network name.' }), 'Null when `iwgetid` is not installed or gives no name.'),
    signalDbm: Type.Number({ description: 'Received signal level in dBm (e.g. -52); closer to 0 is stronger.' }),
    qualityPercent: Percent('Link quality as a share of the driver maximum (70), 0-100.'),
    linkQuality: Type.Number({ minimum: 0, description: 'Raw link quality from /proc/net/wireless (out of 70 with cfg80211 drivers).' }),
  },
  'The associated Wi-Fi link.',
);
export type WifiLink = Static<typeof WifiLinkSchema>;

const Network = Closed(
  {
    interfaces: Type.Array(NetworkInterfaceSchema, { description: 'Every interface the kernel lists, loopback included.' }),
    wifi: Nullable(WifiLinkSchema, 'Null when no wireless interface is associated.'),
  },
  'Network interfaces and the Wi-Fi link.',
);

const Uptime = Closed(
  {
    systemS: Type.Integer({ minimum: 0, description: 'Seconds since the machine booted.' }),
    processS: Type.Integer({ minimum: 0, description: 'Seconds since the daemon process started.' }),
  },
  'Uptimes.',
);

const Versions = Closed(
  {
    firmware: Type.String({ description: 'diemcau firmware version.' }),
    node: Type.String({ description: 'Node.js version without the v, e.g. 20.19.0.' }),
    os: Nullable(
      Type.String({ description: 'Distribution, release and codename from os-release, e.g. Debian GNU/Linux 12 (bookworm).' }),
      'Null when the distribution is unknown.',
    ),
    kernel: Type.String({ description: 'Kernel release, e.g. 6.6.51+rpt-rpi-v8.' }),
    model: Nullable(
      Type.String({ description: 'Board model from the device tree (e.g. Raspberry Pi 4 Model B Rev 1.5), else as systeminformation names the machine (DMI product name).' }),
      'Null when the machine does not say.',
    ),
  },
  'Software and hardware versions.',
);

export const TelemetrySchema = Closed(
  {
    cpu: Cpu,
    temperature: Temperature,
    power: Power,
    memory: Nullable(Memory, 'Null when /proc/meminfo could not be read.'),
    disk: Nullable(Disk, 'Null when the filesystem could not be measured.'),
    network: Network,
    uptime: Uptime,
    versions: Versions,
    alerts: Type.Array(StringEnum(ALERT_CODES, { description: 'An alert code.' }), {
      uniqueItems: true,
      description:
        "Conditions that need attention, derived from the fields above: 'under-voltage' (now), 'under-voltage-occurred' (since boot, not now), " +
        "'throttled' (throttled, frequency capped or soft temperature limit now), 'overheating', 'disk-almost-full', 'memory-low', 'weak-wifi'.",
    }),
  },
  'Health of the box at one moment.',
);
export type Telemetry = Static<typeof TelemetrySchema>;

/** Alert thresholds; every field has a default, so a partial object is enough. */
export const HealthThresholdsSchema = Closed(
  {
    overheatingTempC: Type.Number({
      minimum: 40,
      maximum: 110,
      default: 80,
      description: "SoC temperature from which 'overheating' is raised (the Pi firmware soft limit is 80 °C).",
    }),
    diskFullPercent: Type.Number({ minimum: 0, maximum: 100, default: 90, description: "Disk used share from which 'disk-almost-full' is raised." }),
    memoryLowAvailablePercent: Type.Number({
      minimum: 0,
      maximum: 100,
      default: 10,
      description: "Available memory share below which 'memory-low' is raised.",
    }),
    weakWifiSignalDbm: Type.Number({ maximum: 0, default: -75, description: "Wi-Fi signal at or below which 'weak-wifi' is raised." }),
  },
  'Alert thresholds of the health telemetry.',
);
export type HealthThresholds = Static<typeof HealthThresholdsSchema>;

export const DEFAULT_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
  overheatingTempC: 80,
  diskFullPercent: 90,
  memoryLowAvailablePercent: 10,
  weakWifiSignalDbm: -75,
});
