/**
 * How fast a call heals after its link is cut. Two built daemons (sim profile, 720p) in their
 * own network namespaces, each behind its own emulated link to a hub where the fleet broker
 * runs (test/helpers/netns.ts); box A calls box B once, then each round:
 *
 *   hold   the call held `--hold` seconds, video flowing both ways
 *   cut    A's link down for `--cut` seconds (broker connection included); lost = cut → both
 *          boxes say the link is lost (`call.link_lost`)
 *   back   the link up again; back = up → both boxes back in the call (`call.recovered`);
 *          video = up → the far end's video packets arriving again at both boxes
 *          (`rtc.media_resumed`); target ≤ 5 s. Times are the daemons' log times.
 *
 *   npm run bench:cut    (or: node dist/bench/call-cut.js [--rounds 3] [--cut 10] [--hold 5] [--json])
 *
 * Needs root, `ip` and /dev/net/tun (network namespaces); says why and exits 2 without them.
 * The link is otherwise perfect: the figure is the recovery machinery's, not a slow link's.
 */
import { parseArgs } from 'node:util';
import { netnsAvailable, startSites, type Teardown } from '../test/helpers/netns.js';
import { eventsOf, sendFromHub, startHubBroker, startSiteBox } from '../test/helpers/netns-call.js';
import { delay, waitUntil } from '../test/helpers/wait.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    cut: { type: 'string', default: '10' },
    hold: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const CUT_S = Number(values.cut);
const HOLD_S = Number(values.hold);
for (const [name, v] of Object.entries({ ROUNDS, CUT_S, HOLD_S })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name.toLowerCase().replace('_s', '')} must be a whole number of at least 1, got ${v}`);
}

const available = await netnsAvailable();
if (available !== true) {
  process.stderr.write(`bench:cut needs network namespaces: ${available}\n`);
  process.exit(2);
}

const cleanups: Array<() => unknown> = [];
const teardown: Teardown = { teardown: (fn) => void cleanups.push(fn) };
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
}
process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));
const progress = (text: string) => {
  if (!values.json) process.stdout.write(`${text}\n`);
};

interface RoundRecord {
  round: number;
  lostMs: number;
  backMs: number;
  videoMs: number;
  attempts: number;
}
const rounds: RoundRecord[] = [];

try {
  const sites = await startSites(teardown, { seed: 3 });
  const brokerUrl = await startHubBroker(teardown, sites.sites.hub);
  const [a, b] = await Promise.all([startSiteBox(teardown, sites.sites.a, 'cut-a', brokerUrl), startSiteBox(teardown, sites.sites.b, 'cut-b', brokerUrl)]);
  const link = sites.link('a');
  const joined = await sendFromHub(sites, brokerUrl, 'cut-a', 'join', { peer: 'cut-b' });
  if (!joined.ok) throw new Error(`join refused: ${JSON.stringify(joined)}`);
  await waitUntil('both boxes in the call', () => eventsOf(a, 'call.joined').length > 0 && eventsOf(b, 'call.joined').length > 0, { timeoutMs: 30_000 });
  progress(`in the call; ${ROUNDS} rounds of ${HOLD_S} s held, ${CUT_S} s cut`);

  const count = (event: string) => [eventsOf(a, event).length, eventsOf(b, event).length] as const;
  /** When (epoch ms, the daemon's log time) each box last logged `event`. */
  const lastAt = (event: string) => [a, b].map((d) => Number(eventsOf(d, event).at(-1)?.time));

  for (let round = 1; round <= ROUNDS; round++) {
    await delay(HOLD_S * 1000);
    const [lostA, lostB] = count('call.link_lost');
    const [backA, backB] = count('call.recovered');
    const cutAt = Date.now();
    await link.down();
    await waitUntil('both boxes notice the lost link', () => count('call.link_lost')[0] > lostA && count('call.link_lost')[1] > lostB, { timeoutMs: CUT_S * 1000 + 10_000 });
    const lostMs = Math.max(...lastAt('call.link_lost')) - cutAt;
    await delay(Math.max(0, CUT_S * 1000 - (Date.now() - cutAt)));
    const upAt = Date.now();
    await link.up();
    await waitUntil('both boxes back in the call', () => count('call.recovered')[0] > backA && count('call.recovered')[1] > backB, { timeoutMs: 120_000, intervalMs: 20 });
    const backMs = Math.max(...lastAt('call.recovered')) - upAt;
    const videoBack = () => [a, b].map((d) => eventsOf(d, 'rtc.media_resumed').filter((r) => r.kind === 'video' && Number(r.time) >= upAt).length);
    await waitUntil('video arriving at both boxes again', () => videoBack().every((n) => n > 0), { timeoutMs: 60_000 });
    const videoMs = Math.max(...[a, b].map((d) => Number(eventsOf(d, 'rtc.media_resumed').find((r) => r.kind === 'video' && Number(r.time) >= upAt)!.time))) - upAt;
    const attempts = Number(eventsOf(a, 'call.recovered').at(-1)?.attempts ?? 0);
    rounds.push({ round, lostMs, backMs, videoMs, attempts });
    progress(`round ${round}: link lost seen ${(lostMs / 1000).toFixed(1)} s after the cut; back in the call ${(backMs / 1000).toFixed(2)} s and video both ways ${(videoMs / 1000).toFixed(2)} s after the link returned (${attempts} ICE restarts)`);
  }
  const ended = eventsOf(a, 'call.ended').length + eventsOf(b, 'call.ended').length;
  const sorted = (key: keyof RoundRecord) => rounds.map((r) => r[key]).sort((x, y) => x - y);
  const median = (key: keyof RoundRecord) => sorted(key)[Math.floor((rounds.length - 1) / 2)]!;
  const summary = {
    when: new Date().toISOString(),
    settings: { rounds: ROUNDS, cutS: CUT_S, holdS: HOLD_S, size: '1280x720' },
    rounds,
    backMs: { median: median('backMs'), max: sorted('backMs').at(-1)! },
    videoMs: { median: median('videoMs'), max: sorted('videoMs').at(-1)! },
    callEnded: ended > 0,
  };
  if (values.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else {
    progress(
      `recovery after a ${CUT_S} s cut: back in the call median ${(summary.backMs.median / 1000).toFixed(2)} s (max ${(summary.backMs.max / 1000).toFixed(2)}), ` +
        `video both ways median ${(summary.videoMs.median / 1000).toFixed(2)} s (max ${(summary.videoMs.max / 1000).toFixed(2)}); target ≤ 5 s; ` +
        `the call ${ended ? 'was ended' : 'never ended'}`,
    );
  }
  await sendFromHub(sites, brokerUrl, 'cut-a', 'leave', {});
} finally {
  await cleanUp();
}
