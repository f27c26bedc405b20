// Export: GET /api/bank/export. The file is fetched first so a refusal can be shown on the page;
// without scripts the form still works as a plain download.

import {
  api, clearFieldErrors, clearMessages, h, initSelects, say, seg, showError, showFieldError, t,
  warn,
} from './common.js';

const form = document.getElementById('export-form');
const occupation = document.getElementById('occupation');
const level = document.getElementById('level');
const release = document.getElementById('release');
const status = document.getElementById('export-status');
const format = document.getElementById('format');
const button = document.getElementById('export-button');

let generation = 0;

async function fillReleases() {
  generation += 1;
  const mine = generation;
  const wanted = release.dataset.value || release.value;
  release.replaceChildren(h('option', { value: '' }, t('latest_versions')));
  if (!occupation.value || !level.value) {
    release.dataset.value = '';
    syncChoices();
    return;
  }
  release.dataset.value = wanted; // kept while the list loads
  try {
    const { releases } = await api('GET',
      `/api/releases?occupation=${seg(occupation.value)}&level=${seg(level.value)}`);
    if (mine !== generation) return; // the occupation or level changed meanwhile
    release.dataset.value = '';
    for (const rel of releases) release.append(h('option', { value: rel.id }, rel.name));
    if (wanted) release.value = wanted;
    if (release.value !== wanted) release.value = '';
  } catch (err) {
    showError(err);
  }
  syncChoices();
}

function syncChoices() {
  // Native JSON always holds everything; a release fixes the versions, so status does not apply.
  const whole = format.value === 'json';
  release.disabled = whole;
  status.disabled = whole || Boolean(release.value);
}

function fileName(resp) {
  const header = resp.headers.get('Content-Disposition') || '';
  const match = /filename="([^"]+)"/.exec(header);
  return match ? match[1] : 'export';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearMessages();
  clearFieldErrors(form);
  const query = new URLSearchParams();
  for (const field of [occupation, level, format, release, status]) {
    if (field.value && !field.disabled) query.set(field.name, field.value);
  }
  button.disabled = true;
  say(t('exporting'));
  try {
    const resp = await fetch(`${form.action}?${query}`, { credentials: 'same-origin' });
    if (!resp.ok) {
      const body = (resp.headers.get('Content-Type') || '').includes('json') ? await resp.json() : {};
      const err = new Error(body.message || resp.statusText);
      err.field = body.field;
      throw err;
    }
    const blob = await resp.blob();
    const name = fileName(resp);
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    say(t('exported', { name }));
  } catch (err) {
    if (err instanceof TypeError) {
      warn(t('network_error'));
    } else {
      showError(err);
      if (err.field) showFieldError(form, err.field, err.message);
    }
  } finally {
    button.disabled = false;
  }
});

occupation.addEventListener('change', fillReleases);
level.addEventListener('change', fillReleases);
format.addEventListener('change', syncChoices);
release.addEventListener('change', syncChoices);

(async () => {
  await initSelects(form);
  await fillReleases();
})();
