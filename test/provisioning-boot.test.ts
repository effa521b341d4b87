/**
 * The first-boot import, against the built daemon in the sim profile and a real TLS mosquitto:
 * a bundle made by provisioning, on a temporary "boot partition", becomes the box's identity;
 * its secrets move to the state folder with mode 0600, the file leaves the boot partition, and
 * the box comes online as that box. An invalid bundle is set aside and the box keeps its settings.
 */
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergePatch } from '../daemon/config/merge.js';
import { SECRET_FILES } from '../daemon/config/bundle.js';
import { provision } from '../provisioning/provision.js';
import { parseSites } from '../provisioning/sites.js';
import { DAEMON, runNode, simDaemonConfig } from './helpers/daemon.js';
import { startFleetBroker } from './helpers/fleet.js';

async function freshBox(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-firstboot-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const boot = join(dir, 'boot');
  const state = join(dir, 'state');
  await Promise.all([mkdir(boot), mkdir(state)]);
  const config = join(state, 'config.json');
  // As the image ships it: the sim profile here, no identity, no broker.
  await writeFile(config, JSON.stringify(mergePatch(await simDaemonConfig(), { device: { id: 'diemcau-dev' } })));
  return { boot, state, config };
}

t.test('first boot: the bundle on the boot partition makes the box, its secrets move to 0600 files, and it comes online', async (t) => {
  const id = 'xa-hoa-binh-thon-dong';
  const broker = await startFleetBroker(t, [id]);
  const { sites } = parseSites('commune,village,name,group\nXã Hòa Bình,Thôn Đông,Nhà văn hoá thôn Đông,xa-hoa-binh\n');
  // The broker already knows this box's password (provisioning keeps an identity it has made).
  const registry = { version: 1 as const, console: { user: 'console', password: 'x' }, boxes: { [id]: { password: broker.passwords[id]!, createdAt: new Date().toISOString() } } };
  const made = provision({ sites, registry, brokerUrl: broker.url, consoleUser: 'console', rotate: new Set(), ca: await readFile(broker.caFile, 'utf8') });
  const box = await freshBox(t);
  await writeFile(join(box.boot, 'diemcau.json'), JSON.stringify(made.bundles.get(id)));

  const daemon = runNode(DAEMON, ['--config', box.config, '--screen', 'fake'], { DIEMCAU_BOOT_DIR: box.boot });
  t.teardown(() => daemon.stop());
  const imported = await daemon.waitForLog('the bundle imported', (r) => r.event === 'provisioning.imported');
  t.match(imported, { id }, 'the box takes the bundle at first boot');
  await daemon.waitForLog('online as that box', (r) => r.event === 'fleet.connected', 30_000);
  t.same(await readdir(box.boot), [], 'the bundle is gone from the boot partition');
  const config = JSON.parse(await readFile(box.config, 'utf8'));
  t.match(config, { device: { id, name: 'Nhà văn hoá thôn Đông', village: 'Thôn Đông' }, fleet: { url: broker.url, username: id, groups: ['xa-hoa-binh'], passwordFile: SECRET_FILES.password, caFile: SECRET_FILES.ca } });
  t.notMatch(JSON.stringify(config), new RegExp(broker.passwords[id]!), 'no secret in the config');
  for (const file of [SECRET_FILES.password, SECRET_FILES.ca]) t.equal((await stat(join(box.state, file))).mode & 0o777, 0o600, `${file} in the state folder, 0600`);
  t.equal(await readFile(join(box.state, SECRET_FILES.password), 'utf8'), `${broker.passwords[id]}\n`);
});

t.test('an invalid bundle is set aside, said in the log, and the box keeps its settings', async (t) => {
  const box = await freshBox(t);
  await writeFile(join(box.boot, 'diemcau.json'), JSON.stringify({ format: 'diemcau-bundle/1', device: { id: 'Bad Id' } }));
  const before = await readFile(box.config, 'utf8');
  const daemon = runNode(DAEMON, ['--config', box.config, '--screen', 'fake'], { DIEMCAU_BOOT_DIR: box.boot });
  t.teardown(() => daemon.stop());
  const refused = await daemon.waitForLog('the bundle refused', (r) => r.event === 'provisioning.refused');
  t.match(JSON.stringify(refused.err), /device/, 'naming what is wrong');
  await daemon.waitForLog('the daemon runs on', (r) => r.msg === 'running');
  t.same(await readdir(box.boot), ['diemcau.invalid.json'], 'set aside, not tried again at every boot');
  t.equal(await readFile(box.config, 'utf8'), before, 'the config is unchanged');
});
