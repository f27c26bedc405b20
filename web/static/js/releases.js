// Releases: the list (GET /api/releases, filtered by the page URL) and publishing a new one.

import {
  api, clearFieldErrors, clearMessages, fillTable, fmtDate, h, initSelects, levelLabel, say, seg,
  showError, showFieldError, t, truncate, warn,
} from './common.js';

const table = document.getElementById('releases');
const filters = document.getElementById('release-filters');
const create = document.getElementById('release-form');

filters.addEventListener('submit', (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const name of ['occupation', 'level']) {
    const value = filters.elements.namedItem(name).value;
    if (value) query.set(name, value);
  }
  const text = query.toString();
  window.location.assign(text ? `${filters.action}?${text}` : filters.action);
});

function row(rel) {
  return h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `/bank/releases/${seg(rel.id)}` }, rel.name)),
    h('td', {}, rel.occupation),
    h('td', {}, levelLabel(rel.level)),
    h('td', { class: 'num' }, String(rel.item_count)),
    h('td', {}, fmtDate(rel.created_at)),
    h('td', { title: rel.note }, truncate(rel.note, 60)),
    h('td', {}, h('code', { class: 'hash' }, rel.content_hash.slice(0, 12))));
}

async function load() {
  const here = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const name of ['occupation', 'level']) if (here.get(name)) query.set(name, here.get(name));
  say(t('loading'));
  try {
    const data = await api('GET', `/api/releases?${query}`);
    fillTable(table, data.releases.map(row), t('no_releases'));
    say('');
  } catch (err) {
    showError(err);
  }
}

if (create) {
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    clearFieldErrors(create);
    const body = {
      occupation: create.elements.namedItem('occupation').value,
      level: Number(create.elements.namedItem('level').value) || 0,
      name: create.elements.namedItem('name').value.trim(),
      note: create.elements.namedItem('note').value,
    };
    const button = create.querySelector('button[type="submit"]');
    button.disabled = true;
    say(t('saving'));
    try {
      const data = await api('POST', '/api/releases', { json: body });
      say(t('release_created'));
      window.location.assign(`/bank/releases/${seg(data.release.id)}`);
    } catch (err) {
      showError(err);
      const target = err.field ? showFieldError(create, err.field, err.message) : null;
      if (target && target.focus) target.focus();
      if (!target && !err.message) warn(t('network_error'));
    } finally {
      button.disabled = false;
    }
  });
}

initSelects(document);
load();
