/**
 * "A window where a desktop exists": on a virtual X desktop (Xvfb, started here on a display
 * it picks itself) the screen output opens a window, and the desktop then shows the picture.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { Gst } from '../daemon/media/gst.js';
import { MediaEngine } from '../daemon/media/engine.js';
import { SimDeviceWatcher, simDevices } from '../daemon/media/devices/sim-watcher.js';
import { validateConfig } from '../daemon/config/index.js';
import { createLogger } from '../daemon/log.js';
import { freeUdpPorts } from './helpers/ports.js';
import { waitUntil } from './helpers/wait.js';

async function startXvfb(t: Test): Promise<string> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    xvfb.kill('SIGTERM');
  });
  let out = '';
  xvfb.stdio[3]!.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil('Xvfb says its display', () => out.includes('\n'), { timeoutMs: 10_000 });
  return `:${out.trim()}`;
}

/** Mean luma of the whole X screen, grabbed by GStreamer's own X source. */
function desktopLuma(display: string): number {
  const grab = Gst.parseLaunch(
    `ximagesrc display-name=${display} num-buffers=1 use-damage=false ! videoconvert ! videoscale ! video/x-raw,format=GRAY8,width=320,height=180 ! fakesink name=out enable-last-sample=true`,
  ) as Gst.Bin;
  try {
    grab.setState(Gst.State.PLAYING);
    const msg = grab.getBus()!.timedPopFiltered(5_000_000_000, Gst.MessageType.EOS | Gst.MessageType.ERROR);
    if (msg?.type !== Gst.MessageType.EOS) throw new Error('could not grab the X screen');
    const sample = (grab.getByName('out') as Gst.Element & { lastSample: Gst.Sample }).lastSample;
    const bytes = sample.getBuffer()!.extractDup(0, 320 * 180) as unknown as number[];
    return bytes.reduce((a, b) => a + b, 0) / bytes.length;
  } finally {
    grab.setState(Gst.State.NULL);
  }
}

t.test('the loopback shows in a window on a desktop', async (t) => {
  const display = await startXvfb(t);
  t.equal(Math.round(desktopLuma(display)), 0, 'the desktop starts black');
  process.env.DISPLAY = display;
  const [v, a] = await freeUdpPorts(2);
  const settings = validateConfig({
    media: { video: { size: '640x360', encoders: ['x264enc'] }, rtp: { sendVideoPort: v, sendAudioPort: a, receiveVideoPort: v, receiveAudioPort: a } },
  }).media;
  const engine = new MediaEngine({
    settings,
    devices: new SimDeviceWatcher(simDevices('white')),
    log: createLogger('warn'),
    screen: 'window',
    outputSize: { width: 1280, height: 720 },
    send: true,
  });
  t.teardown(() => engine.stop());
  await engine.start();
  await waitUntil('the window shows the white camera', () => desktopLuma(display) > 150, { timeoutMs: 15_000 });
  t.ok(engine.status().rendered.videoFrames > 0, 'the window sink rendered frames');
  t.equal(engine.pipelineObject('playout')?.getByName('screen')?.getFactory()?.getName(), 'ximagesink', 'a real X window sink');
});
