/** The hall's network from the page: what the box is connected to, Wi-Fi networks in reach, joining one. */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../log.js';
import type { HotspotState } from '../../system/network/hotspot.js';
import { WifiJoinSchema, type NetworkManager } from '../../system/network/model.js';
import { need } from '../http.js';

export interface NetworkRoutesOptions {
  network?: NetworkManager;
  /** The setup hotspot's state, if the box runs one. */
  hotspot?(): HotspotState;
  log: Logger;
}

export function networkRoutes(api: FastifyInstance, opts: NetworkRoutesOptions): void {
  const network = () => need(opts.network, 'managing the network (NetworkManager)');
  api.get('/api/network', async () => ({ devices: await network().devices(), hotspot: opts.hotspot?.() ?? { state: 'off' } }));
  // POST: a scan makes the radio work (and takes seconds); a page that shows the list asks.
  api.post('/api/network/scan', async () => ({ networks: await network().scanWifi(true) }));
  api.post<{ Body: Static<typeof WifiJoinSchema> }>('/api/network/wifi', { schema: { body: WifiJoinSchema } }, async (request) => {
    await network().joinWifi(request.body);
    opts.log.info({ event: 'setup.wifi_joined', ssid: request.body.ssid }, `setup: joined the Wi-Fi "${request.body.ssid}"`);
    return { joined: request.body.ssid, devices: await network().devices() };
  });
}
