import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';

const execFileP = promisify(execFile);

/** Rebooting the machine: systemd on a box, a record of the request in the sim profile. */
export interface SystemPower {
  reboot(reason: string): Promise<void>;
}

/** `systemctl reboot`; the unit's polkit rule (image-build) lets the daemon's user do it. */
export class SystemdPower implements SystemPower {
  constructor(private readonly log: Logger) {}

  async reboot(reason: string): Promise<void> {
    this.log.warn({ event: 'system.reboot', reason }, 'rebooting the box');
    await execFileP('systemctl', ['reboot'], { timeout: 10_000 });
  }
}

/** The sim profile's machine: a reboot is logged and counted, and the daemon keeps running. */
export class SimulatedPower implements SystemPower {
  readonly reboots: string[] = [];

  constructor(private readonly log: Logger) {}

  async reboot(reason: string): Promise<void> {
    this.reboots.push(reason);
    this.log.warn({ event: 'system.reboot', reason, simulated: true }, 'reboot requested (simulated: the box keeps running)');
  }
}
