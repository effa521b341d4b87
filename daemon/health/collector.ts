import { availableParallelism, loadavg, networkInterfaces, release, uptime } from 'node:os';
import type { Logger } from '../log.js';
import { deriveAlerts } from './alerts.js';
import { OptionalTool, runCommand, type RunCommand } from './command.js';
import { CpuLoadMeter } from './cpu-load.js';
import { readDisk } from './disk.js';
import { HostFiles } from './host-files.js';
import { readMemory } from './memory.js';
import { readInterfaces, type AddressSource } from './network.js';
import { readPiThrottled } from './pi-throttled.js';
import { DEFAULT_THRESHOLDS, type HealthThresholds, type Telemetry } from './schema.js';
import { systemInformation, type SystemInformation } from './system-information.js';
import { FallbackTemperature, readSocTempC } from './thermal.js';
import { readHostVersions, type HostVersions } from './versions.js';
import { readWifi } from './wireless.js';

export interface HealthCollectorOptions {
  /** Directory standing for `/` when reading /sys and /proc; tests use a fixture tree. Default '/'. */
  root?: string;
  /** Directory whose filesystem is reported as `disk` (measured directly, not below `root`). */
  stateDir: string;
  firmwareVersion: string;
  thresholds?: Partial<HealthThresholds>;
  log: Logger;
  /** Runs `vcgencmd` and `iwgetid`; default execFile. Tests pass a fake. */
  run?: RunCommand;
  /** Interface addresses; default os.networkInterfaces. */
  addresses?: AddressSource;
  /** Deadline of each external command, default 2000 ms. */
  commandTimeoutMs?: number;
  /**
   * Memory, OS, kernel, the model where no device tree names it, and the temperature where no
   * thermal zone answers; default the `systeminformation` library. It reads the real machine
   * whatever `root` says, so tests with a fixture root pass a fake.
   */
  systemInformation?: SystemInformation;
}

/**
 * Takes one health sample on demand. Every reader runs in parallel and on its own: one that
 * fails yields null (or an empty list) for its field and a debug record, so sample() never
 * rejects. Memory, OS and model come from systeminformation; throttling flags, Wi-Fi, CPU
 * load, disk, interface counters and thermal zones from own readers of /sys and /proc, where
 * the library spawns shells or blocks the event loop. OS, kernel and model are read on the
 * first sample only (osInfo spawns shells); after that no process is spawned on a Pi with the
 * sysfs throttling file, except `iwgetid` while Wi-Fi is associated. A missing tool is tried
 * once per collector.
 */
export class HealthCollector {
  readonly thresholds: Readonly<HealthThresholds>;
  private readonly files: HostFiles;
  private readonly cpu = new CpuLoadMeter();
  private readonly vcgencmd: OptionalTool;
  private readonly iwgetid: OptionalTool;
  private readonly addresses: AddressSource;
  private readonly si: SystemInformation;
  private readonly fallbackTemp: FallbackTemperature;
  private hostVersions: Promise<HostVersions> | null = null;

  constructor(private readonly opts: HealthCollectorOptions) {
    this.files = new HostFiles(opts.root ?? '/');
    this.thresholds = Object.freeze({ ...DEFAULT_THRESHOLDS, ...definedOnly(opts.thresholds ?? {}) });
    const run = opts.run ?? runCommand;
    const timeoutMs = opts.commandTimeoutMs ?? 2000;
    this.vcgencmd = new OptionalTool(run, 'vcgencmd', timeoutMs);
    this.iwgetid = new OptionalTool(run, 'iwgetid', timeoutMs);
    this.addresses = opts.addresses ?? networkInterfaces;
    this.si = opts.systemInformation ?? systemInformation;
    this.fallbackTemp = new FallbackTemperature(this.si);
  }

  async sample(): Promise<Telemetry> {
    const started = performance.now();
    const { files, opts } = this;
    const [socC, piThrottled, memory, disk, interfaces, wifi, host] = await Promise.all([
      this.safely('temperature', null, async () => (await readSocTempC(files)) ?? this.fallbackTemp.read()),
      this.safely('throttled', null, () => readPiThrottled(files, this.vcgencmd)),
      this.safely('memory', null, () => readMemory(this.si)),
      this.safely('disk', null, () => readDisk(opts.stateDir)),
      this.safely('interfaces', [], () => readInterfaces(files, this.addresses)),
      this.safely('wifi', null, () => readWifi(files, this.iwgetid, opts.log)),
      this.safely('versions', { os: null, kernel: release(), model: null }, () => this.readHostVersionsOnce()),
    ]);
    const [load1, load5, load15] = loadavg().map((l) => Math.round(l * 100) / 100);
    const sample: Omit<Telemetry, 'alerts'> = {
      cpu: { loadPercent: this.cpu.sample(), cores: availableParallelism(), load1: load1!, load5: load5!, load15: load15! },
      temperature: { socC },
      power: { piThrottled },
      memory,
      disk,
      network: { interfaces, wifi },
      uptime: { systemS: Math.round(uptime()), processS: Math.round(process.uptime()) },
      versions: { firmware: opts.firmwareVersion, node: process.versions.node, ...host },
    };
    const telemetry: Telemetry = { ...sample, alerts: deriveAlerts(sample, this.thresholds) };
    opts.log.debug({ durationMs: Math.round((performance.now() - started) * 10) / 10 }, 'health: sampled');
    return telemetry;
  }

  /** Read on the first sample and kept; a failed read is tried again on the next sample. */
  private readHostVersionsOnce(): Promise<HostVersions> {
    this.hostVersions ??= readHostVersions(this.files, this.si).catch((e: unknown) => {
      this.hostVersions = null;
      throw e;
    });
    return this.hostVersions;
  }

  private async safely<T>(reader: string, fallback: T, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      this.opts.log.debug({ err: e, reader }, 'health: reader failed');
      return fallback;
    }
  }
}

/** `{ diskFullPercent: undefined }` must not override the default. */
function definedOnly<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}
