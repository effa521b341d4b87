// The site view: the box's name and place, the commune's broker, or a provisioning file.
import { $, api, explain, say } from './api.js';

let revision = 0;

export async function load() {
  const config = await api('GET', '/api/config');
  revision = config.revision;
  const form = $('site-form');
  form.name.value = config.device.name;
  form.village.value = config.device.village;
  form.commune.value = config.device.commune;
  form.url.value = config.fleet.url;
  form.username.value = config.fleet.username;
}

/** `saved()` runs after a save: the page moves on to the status. */
export function wire(saved) {
  $('site-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const fleet = { url: form.url.value.trim(), username: form.username.value.trim() };
      if (form.brokerPassword.value) fleet.password = form.brokerPassword.value;
      ({ revision } = await api('POST', '/api/site', {
        revision,
        device: { name: form.name.value.trim(), village: form.village.value.trim(), commune: form.commune.value.trim() },
        fleet,
      }));
      form.brokerPassword.value = '';
      say('Đã lưu. · Saved.', true);
      await saved();
    } catch (error) {
      say(explain(error));
    }
  });
  $('bundle-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = event.target.file.files[0];
    if (!file) return;
    try {
      if (file.size > 60 * 1024) throw new Error('Tệp quá lớn, không phải tệp diemcau.json · The file is too big to be a diemcau.json');
      const result = await api('POST', '/api/bundle', { revision, bundle: await file.text() });
      revision = result.revision;
      event.target.reset();
      const wifi = typeof result.wifi === 'object' ? ` Wi-Fi: ${result.wifi.error.message}` : '';
      say(`Đã nạp cấu hình của ${result.device.name}. · Loaded ${result.device.id}.${wifi}`, wifi === '');
      await saved();
    } catch (error) {
      say(explain(error));
    }
  });
}
