/**
 * The box itself from the page: its status, its software version, its log as a file the IT
 * officer can be sent, and a reboot.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../log.js';
import { need } from '../http.js';

export interface SystemRoutesOptions {
  status(): unknown | Promise<unknown>;
  version: string;
  /** The box's id, for the log file's name. */
  boxId(): string;
  /** The log as JSON lines, oldest first. */
  logs?(): Promise<string>;
  reboot?(reason: string): Promise<void>;
  log: Logger;
}

/** Long enough for the answer to reach the phone before the network goes. */
const REBOOT_AFTER_MS = 1000;

export function systemRoutes(api: FastifyInstance, opts: SystemRoutesOptions): void {
  api.get('/api/status', async () => opts.status());
  api.get('/api/version', async () => ({ version: opts.version, node: process.versions.node }));
  api.get('/api/logs', async (_request, reply) => {
    const text = await need(opts.logs, 'the log')();
    const day = new Date().toISOString().slice(0, 10);
    return reply
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${opts.boxId()}-${day}.log"`)
      .send(text);
  });
  api.post('/api/reboot', async () => {
    const reboot = need(opts.reboot, 'rebooting');
    opts.log.warn({ event: 'setup.reboot' }, 'setup: reboot asked for from the page');
    setTimeout(() => void reboot('setup page').catch((e) => opts.log.error({ err: e }, 'setup: the reboot failed')), REBOOT_AFTER_MS).unref();
    return { rebooting: true, afterMs: REBOOT_AFTER_MS };
  });
}
