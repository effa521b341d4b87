/**
 * The TV screens as data: every text at least 1/25 of the screen height, layers inside the
 * screen, names escaped, the right screen for the box's state, and the setup address and code.
 * (test/screen-ocr.test.ts draws them through the real compositor and reads them back.)
 */
import t from 'tap';
import { renderScreen, renderSlate, spacedCode, type ScreenView, type SetupAccess, type Site } from '../daemon/screen/art.js';
import { chooseView, ScreenDirector, type ScreenFacts } from '../daemon/screen/director.js';
import { clampLines, ellipsize, wrap } from '../daemon/screen/svg.js';
import { lanAddress, SetupCode, setupAccess } from '../daemon/setup/access.js';
import { createLogger } from '../daemon/log.js';
import type { ScreenArt } from '../daemon/media/types.js';

const SITE: Site = { name: 'Điểm cầu Đông Xá', village: 'Thôn Đông Xá', commune: 'Xã Hòa Bình' };
const SETUP: SetupAccess = { address: 'http://192.168.1.20:8080', link: 'http://192.168.1.20:8080/?code=004213', code: '004213' };
const NOW = new Date(2026, 10, 23, 9, 7);
const LONG = 'Mời toàn thể bà con trong thôn đến nhà văn hóa lúc 19 giờ tối nay để họp bàn về việc sửa đường điện và nạo vét kênh mương. '.repeat(6);

const views: Record<string, ScreenView> = {
  idle: { kind: 'idle', site: SITE, now: NOW, network: 'ok', broker: 'online', nextMeeting: { title: 'Họp thôn', startsAt: NOW }, setup: SETUP },
  idleNoSetup: { kind: 'idle', site: { name: 'Hộp', village: '', commune: '' }, now: NOW, network: 'ok', broker: 'not-configured', nextMeeting: null, setup: null },
  connecting: { kind: 'connecting', site: SITE, peer: 'Ủy ban xã' },
  ringing: { kind: 'ringing', site: SITE, peer: 'Thôn Đoài' },
  call: { kind: 'call', speaker: 'Ủy ban xã', micMuted: true, quality: 'audio-only', notice: LONG },
  message: { kind: 'message', site: SITE, text: LONG, now: NOW },
  identify: { kind: 'identify', site: SITE, boxId: 'dong-xa-01' },
  errorNetwork: { kind: 'error', problem: 'no-network', site: SITE, boxId: 'dong-xa-01', setup: SETUP },
  errorBroker: { kind: 'error', problem: 'broker-refused', site: SITE, boxId: 'dong-xa-01', setup: null },
};

const fontSizes = (svg: string) => [...svg.matchAll(/font-size="([\d.]+)"/g)].map((m) => Number(m[1]));
const svgSize = (svg: string) => {
  const m = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  return { width: Number(m[1]), height: Number(m[2]) };
};

for (const size of [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
]) {
  t.test(`at ${size.width}×${size.height}: no text under 1/25 of the height, every layer on the screen`, async (t) => {
    const floor = size.height / 25;
    for (const [name, view] of Object.entries(views)) {
      const art = renderScreen(view, size);
      t.ok(art.layers.length >= 1 && art.layers.length <= 2, `${name}: ${art.layers.length} layer(s)`);
      const sizes = art.layers.flatMap((l) => fontSizes(l.svg));
      t.ok(sizes.length > 0, `${name}: has text`);
      t.ok(Math.min(...sizes) >= floor, `${name}: smallest text ${Math.min(...sizes)} px ≥ ${floor.toFixed(1)} px`);
      for (const layer of art.layers) {
        const s = svgSize(layer.svg);
        t.ok(layer.x >= 0 && layer.y >= 0 && layer.x + s.width <= size.width && layer.y + s.height <= size.height, `${name}: layer ${s.width}×${s.height} at ${layer.x},${layer.y} is inside`);
      }
    }
    const slate = renderSlate('no-camera', size);
    t.ok(Math.min(...fontSizes(slate)) >= floor, 'the slate too');
  });
}

t.test('the in-call screen keeps the meeting visible: a bottom band left of the self-view, a message band on top', async (t) => {
  const size = { width: 1280, height: 720 };
  const art = renderScreen(views.call!, size);
  const [band, notice] = art.layers;
  t.ok(band!.x + svgSize(band!.svg).width <= size.width * 0.75, 'the band ends before the self-view (the right quarter)');
  t.ok(band!.y > size.height / 2, 'at the bottom');
  t.equal(notice!.y, Math.round(size.height / 40), 'the message band at the top');
  t.ok(svgSize(notice!.svg).height < size.height / 4, 'a long message is cut to three lines, not a curtain');
  t.same(renderScreen({ kind: 'call', speaker: null, micMuted: false, quality: 'good', notice: null }, size).layers, [], 'nothing to say: the picture alone');
});

t.test('text from outside is escaped and cut to fit', async (t) => {
  const site = { name: 'A & B <script>', village: 'Thôn "Mới" <1>', commune: "Xã O'Lak" };
  const art = renderScreen({ ...views.idle!, site } as ScreenView, { width: 1280, height: 720 });
  const svg = art.layers[0]!.svg;
  t.notOk(svg.includes('<script>') || svg.includes('<1>'), 'no markup gets through');
  t.ok(svg.includes('Thôn &#34;Mới&#34; &#60;1&#62;'), 'the village is escaped');
  t.ok(svg.includes('Xã O&#39;Lak'), 'the commune is escaped');
  const cut = ellipsize('Thôn Đông Xá '.repeat(20), 40, 600);
  t.ok(cut.endsWith('…') && [...cut].length < 40, `a long name is cut: "${cut}"`);
  t.same(wrap('một hai ba bốn năm', 10, 50), ['một hai', 'ba bốn', 'năm'], 'words wrap at the width');
  t.same(clampLines(['a b c', 'd e f', 'g h i'], 2), ['a b c', 'd e…'], 'lines over the limit end with an ellipsis');
  t.equal(spacedCode('004213'), '004 213', 'the code in two groups');
});

const facts = (o: Partial<ScreenFacts> = {}): ScreenFacts => ({
  site: SITE,
  boxId: 'dong-xa-01',
  network: 'ok',
  broker: 'online',
  call: { phase: 'idle', peer: null, speaker: null, micMuted: false, quality: 'good' },
  setup: SETUP,
  nextMeeting: null,
  ...o,
});
const message = { kind: 'message' as const, text: 'Họp lúc 8 giờ', until: NOW.getTime() + 1000 };

t.test('the screen for the box state: meeting, then notice, then a problem, else idle', async (t) => {
  const inCall = { phase: 'in-call' as const, peer: 'ubnd-xa', speaker: 'Ủy ban xã', micMuted: true, quality: 'good' as const };
  t.match(chooseView(facts(), null, NOW), { kind: 'idle', setup: SETUP }, 'idle');
  t.match(chooseView(facts({ call: { ...inCall, phase: 'connecting' } }), message, NOW), { kind: 'connecting', peer: 'ubnd-xa' }, 'connecting');
  t.match(chooseView(facts({ call: { ...inCall, phase: 'ringing' } }), message, NOW), { kind: 'ringing', peer: 'ubnd-xa' }, 'a call ringing, over a message');
  t.match(chooseView(facts({ call: inCall, network: 'down' }), message, NOW), { kind: 'call', speaker: 'Ủy ban xã', micMuted: true, notice: 'Họp lúc 8 giờ' }, 'a meeting first; a message is a band over it');
  t.match(chooseView(facts({ call: { ...inCall, phase: 'reconnecting' } }), null, NOW), { kind: 'call', quality: 'poor' }, 'a meeting reconnecting warns of the link');
  t.match(chooseView(facts({ broker: 'refused' }), message, NOW), { kind: 'message' }, 'a message over a problem');
  t.match(chooseView(facts({ broker: 'refused' }), { ...message, kind: 'identify' }, NOW), { kind: 'identify', boxId: 'dong-xa-01' }, 'identify');
  t.match(chooseView(facts({ broker: 'refused', network: 'down' }), null, NOW), { kind: 'error', problem: 'broker-refused' }, 'refused credentials need a person');
  t.match(chooseView(facts({ network: 'down', broker: 'offline' }), null, NOW), { kind: 'error', problem: 'no-network' }, 'no network');
  t.match(chooseView(facts({ broker: 'offline' }), null, NOW), { kind: 'idle', broker: 'offline' }, 'a broker merely offline: idle, with its status');
});

t.test('the director draws a screen once, again only when it changes, and again on reapply', async (t) => {
  const drawn: ScreenArt[] = [];
  let current = facts();
  let clock = NOW.getTime();
  const director = new ScreenDirector({
    surface: () => ({ setScreenArt: async (art) => void drawn.push(art) }),
    size: () => ({ width: 1280, height: 720 }),
    facts: () => current,
    log: createLogger('silent'),
    now: () => new Date(clock),
  });
  t.equal(await director.refresh(), true, 'drawn');
  await director.refresh();
  t.equal(drawn.length, 1, 'nothing changed: not drawn again');
  clock += 60_000;
  await director.refresh();
  t.equal(drawn.length, 2, 'the clock moved a minute: drawn again');
  current = facts({ network: 'down' });
  await director.refresh();
  t.equal(director.screen, 'error:no-network', 'the cable pulled: the error screen');
  const shown = await director.show('Họp lúc 8 giờ', 30);
  t.equal(shown.drawn, true, 'a message is drawn at once');
  t.equal(director.screen, 'message', 'over the error');
  t.equal(director.current()?.text, 'Họp lúc 8 giờ', 'and is the current notice');
  const before = drawn.length;
  await director.reapply();
  t.equal(drawn.length, before + 1, 'reapply draws again (a new media worker)');
  await director.clear();
  t.equal(director.screen, 'error:no-network', 'cleared: the error again');
  director.stop();
});

t.test('without media the director keeps notices and says they are not drawn', async (t) => {
  const director = new ScreenDirector({ surface: () => undefined, size: () => ({ width: 1280, height: 720 }), facts: () => facts(), log: createLogger('silent') });
  const shown = await director.show('Họp', 5);
  t.equal(shown.drawn, false, 'not drawn');
  t.equal(director.current()?.text, 'Họp', 'but kept for when the media is back');
  director.stop();
});

t.test('the setup address: the LAN address, wired first; a six-digit code that changes', async (t) => {
  const info = (address: string, internal = false) => ({ address, family: 'IPv4' as const, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null });
  t.equal(lanAddress({ lo: [info('127.0.0.1', true)], wlan0: [info('192.168.43.9')], eth0: [info('10.0.0.5')] }), '10.0.0.5', 'wired before Wi-Fi');
  t.equal(lanAddress({ lo: [info('127.0.0.1', true)], eth0: [info('169.254.3.3')], wlan0: [info('192.168.43.9')] }), '192.168.43.9', 'link-local skipped');
  t.equal(lanAddress({ lo: [info('127.0.0.1', true)] }), null, 'none: no network');
  t.same(setupAccess('10.0.0.5', 80, '000042'), { address: 'http://10.0.0.5', link: 'http://10.0.0.5/?code=000042', code: '000042' }, 'port 80 left out');
  t.equal(setupAccess(null, 8080, '123456'), null, 'no address, no setup panel');
  const draws = [42, 987654];
  const code = new SetupCode(() => draws.shift()!);
  t.equal(code.code, '000042', 'six digits, zero-padded');
  t.equal(code.rotate(), '987654', 'a new code after use');
});
