/**
 * The setup hotspot's policy with the simulated NetworkManager and a test clock: no network
 * for the configured time opens it (named after the box, a fresh password), a network back
 * closes it, a Wi-Fi joined from the page ends it, and it never opens when turned off.
 */
import t from 'tap';
import { DcError } from '../daemon/errors.js';
import { createLogger } from '../daemon/log.js';
import { SetupHotspot, hasNetwork, wifiQrText, type HotspotState } from '../daemon/system/network/hotspot.js';
import { SimulatedNetworkManager } from '../daemon/system/network/simulated.js';

function harness(settings = { enabled: true, afterS: 90 }) {
  let now = 1_000_000;
  const network = new SimulatedNetworkManager(createLogger('silent'), { wired: false });
  const changes: HotspotState[] = [];
  const hotspot = new SetupHotspot({
    network,
    settings: () => settings,
    boxId: () => 'thon-dong-01',
    log: createLogger('silent'),
    onChange: (s) => changes.push(s),
    now: () => now,
  });
  return { network, hotspot, changes, settings, advance: (s: number) => (now += s * 1000) };
}

t.test('no network for afterS: the hotspot opens, named after the box, with a fresh password', async (t) => {
  const h = harness();
  await h.hotspot.check();
  h.advance(89);
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'off', 'not before 90 s: a cable or a Wi-Fi may be slow to come up');
  h.advance(1);
  await h.hotspot.check();
  const on = h.hotspot.state;
  t.equal(on.state, 'on', 'open after 90 s without a network');
  if (on.state !== 'on') return;
  t.equal(on.ssid, 'diemcau-thon-dong-01');
  t.match(on.password, /^[a-km-np-z2-9]{10}$/, 'ten characters with no 0/O/1/l to misread');
  t.same(h.network.hotspotSettings, { ssid: on.ssid, password: on.password }, 'NetworkManager was asked for that access point');
  t.equal(on.qr, `WIFI:T:WPA;S:diemcau-thon-dong-01;P:${on.password};;`, 'a QR code a phone camera joins with');
  t.equal(h.changes.length, 1, 'one change told');
  t.notOk(hasNetwork(await h.network.devices()), 'the hotspot itself is no network');

  // The cadre joins the hall's Wi-Fi from the page: the hotspot goes with the radio.
  // A wrong password first: the hall's Wi-Fi refuses, and the hotspot is back as it was.
  await t.rejects(h.hotspot.joinWifi({ ssid: 'Nha Van Hoa Thon Dong', password: 'sai-mat-khau' }), { code: 'DC_NET_ACTIVATION' });
  t.equal(h.hotspot.state.state, 'on', 'a refused join leaves the hotspot on');
  t.same(h.network.hotspotSettings, { ssid: on.ssid, password: on.password }, 'with the same name and password, for the phone to find again');
  await h.hotspot.joinWifi({ ssid: 'Nha Van Hoa Thon Dong', password: 'thondong2024' });
  t.equal(h.hotspot.state.state, 'off', 'off once a Wi-Fi is joined');
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'off', 'and stays off: the box is online');
  t.ok(hasNetwork(await h.network.devices()), 'online through the Wi-Fi');
});

t.test('a cable plugged in closes it; a second opening draws a new password', async (t) => {
  const h = harness({ enabled: true, afterS: 10 });
  await h.hotspot.check();
  h.advance(10);
  await h.hotspot.check();
  const first = h.hotspot.state;
  t.equal(first.state, 'on');
  h.network.setWired(true);
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'off', 'a cable with an address closes it');
  t.equal(h.network.hotspotSettings, null, 'NetworkManager was told');
  h.network.setWired(false);
  await h.hotspot.check();
  h.advance(10);
  await h.hotspot.check();
  const second = h.hotspot.state;
  t.ok(first.state === 'on' && second.state === 'on' && first.password !== second.password, 'opened again with a new password');
  await h.hotspot.stop();
  t.equal(h.hotspot.state.state, 'off', 'stopping the daemon closes it');
});

t.test('turned off in the settings: never opens, and an open one closes', async (t) => {
  const h = harness({ enabled: false, afterS: 10 });
  await h.hotspot.check();
  h.advance(3600);
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'off', 'never, however long');
  h.settings.enabled = true;
  await h.hotspot.check();
  h.advance(10);
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'on');
  h.settings.enabled = false;
  await h.hotspot.check();
  t.equal(h.hotspot.state.state, 'off', 'turned off: closed');
});

t.test('Wi-Fi QR text escapes \\ ; , : and "', async (t) => {
  t.equal(wifiQrText('Nhà "A"; tầng:2', 'a\\b,c'), 'WIFI:T:WPA;S:Nhà \\"A\\"\\; tầng\\:2;P:a\\\\b\\,c;;');
});

t.test('a network manager that cannot be read is said once, not at every look', async (t) => {
  const { pino } = await import('pino');
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const broken = new SimulatedNetworkManager(log);
  broken.devices = async () => {
    throw new DcError('DC_NET_UNAVAILABLE', 'NetworkManager is not running');
  };
  const hotspot = new SetupHotspot({ network: broken, settings: () => ({ enabled: true, afterS: 10 }), boxId: () => 'x', log });
  for (let i = 0; i < 5; i++) await hotspot.check();
  t.equal(lines.filter((l) => l.includes('network.hotspot_check_failed')).length, 1, 'one warning for five failed looks');
  t.equal(hotspot.state.state, 'off');
});
