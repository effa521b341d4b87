// The camera and sound view: a preview refreshed about once a second (the TV shows it too), the
// microphone's level five times a second, a recording played back through the hall's speaker.
import { $, action, api, say } from './api.js';

let timers = [];
let pictureUrl = '';

async function keepPreview() {
  await api('POST', '/api/preview');
}

async function nextPicture() {
  const response = await fetch('/api/camera.jpg', { credentials: 'same-origin' });
  if (!response.ok) return;
  const url = URL.createObjectURL(await response.blob());
  $('camera-picture').src = url;
  if (pictureUrl) URL.revokeObjectURL(pictureUrl);
  pictureUrl = url;
}

async function nextLevel() {
  const { level } = await api('GET', '/api/microphone');
  const meter = $('mic-meter');
  if (!level) {
    meter.value = -60;
    $('mic-level').textContent = 'Micrô chưa mở · Microphone not open';
    return;
  }
  meter.value = Math.max(-60, level.rmsDb);
  $('mic-level').textContent = `${Math.round(level.rmsDb)} dB (đỉnh · peak ${Math.round(level.peakDb)} dB)${level.rmsDb < -50 ? ' — không nghe thấy gì · silent' : ''}`;
}

/** Runs `step` every `ms` while the view is open; a failed step waits for the next. */
const every = (ms, step) => {
  const run = () => step().catch(() => undefined);
  run();
  timers.push(setInterval(run, ms));
};

export async function open() {
  await keepPreview();
  every(15_000, keepPreview);
  every(1000, nextPicture);
  every(200, nextLevel);
}

export function close() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

export function wire() {
  action($('record'), async () => {
    say('Đang ghi âm 5 giây, hãy nói vào micrô… · Recording 5 s: speak now…', true);
    const result = await api('POST', '/api/recording', { seconds: 5 });
    $('playback').disabled = false;
    say(`Đã ghi ${result.seconds} giây (đỉnh ${Math.round(result.peakDb)} dB). · Recorded.`, true);
  });
  action($('playback'), async () => {
    await api('POST', '/api/recording/play');
    say('Đang phát lại qua loa của hội trường. · Playing back on the hall speaker.', true);
  });
  action($('tone'), async () => {
    await api('POST', '/api/test-tone', { seconds: 3 });
    say('Đang phát tiếng thử 3 giây. · Playing a 3 s tone.', true);
  });
}
