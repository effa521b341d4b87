/**
 * `npm run demo`: the box as it will run in a village hall, with simulated camera, microphone
 * and screen. For now: the daemon in the sim profile with the media loopback (camera → H.264 →
 * RTP → decode → screen). Later steps add the local MQTT broker and the setup page here.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const stateDir = join(root, '.demo');
const configPath = join(stateDir, 'config.json');

mkdirSync(stateDir, { recursive: true });
if (!existsSync(configPath)) {
  writeFileSync(configPath, JSON.stringify({ version: 1, profile: 'sim', device: { id: 'demo-box', name: 'Thôn Demo' } }, null, 2) + '\n');
}
const windowed = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);

process.stdout.write(`
diemcau demo — the box in the simulated profile
  daemon      node dist/daemon/main.js --config ${configPath} --profile sim --loopback
  media       test pattern + 440 Hz tone → encoder → RTP on 127.0.0.1 → decoder → screen and speaker
  screen      ${windowed ? 'a window on your desktop' : 'headless (no DISPLAY): watch the "media" lines below for frames per second'}
  config      ${configPath} (edit it, then \`kill -HUP <daemon pid>\` reloads it; a bad edit is refused and named)
  logs        each daemon log record below as one short line (the daemon itself writes JSON, for the journal)
Ctrl-C stops everything.
`);

const daemon = spawn(process.execPath, [join(root, 'dist/daemon/main.js'), '--config', configPath, '--profile', 'sim', '--loopback', '--stats-every', '5'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

/** The daemon logs JSON for the journal; a person reading the demo wants one short line each. */
function humanLine(line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const { level, time, pid, name, device, msg, part, ...rest } = record;
    void level, void pid, void name, void device;
    const when = new Date(Number(time)).toLocaleTimeString('vi-VN', { hour12: false });
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${when} ${part ? `[${String(part)}] ` : ''}${String(msg)}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

process.stdout.write(`  daemon pid  ${daemon.pid}\n\n`);
createInterface({ input: daemon.stdout! }).on('line', (line) => process.stdout.write(humanLine(line) + '\n'));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => daemon.kill('SIGTERM'));
}
// Whoever reads our output went away (a closed pipe): stop the daemon rather than orphan it.
process.stdout.on('error', () => daemon.kill('SIGTERM'));
process.on('exit', () => daemon.kill('SIGTERM'));
daemon.on('exit', (code) => process.exit(code ?? 0));
