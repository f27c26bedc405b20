// The review queue: versions waiting for review (GET /api/review-queue), with approve in place.

import {
  api, clearMessages, fillTable, fmtDate, h, say, seg, showError, t, truncate, typeLabel,
} from './common.js';

const table = document.getElementById('queue');
const caption = document.getElementById('queue-caption');

function setCount(n) {
  caption.textContent = n ? t('queue_count', { n }) : t('queue_empty');
}

async function approve(entry, row, button) {
  clearMessages();
  button.disabled = true;
  say(t('saving'));
  try {
    await api('POST', `/api/items/${seg(entry.item)}/versions/${seg(entry.version)}/review`,
      { json: { action: 'approve', comment: '' } });
    row.remove();
    const left = table.tBodies[0].rows.length;
    if (!left) fillTable(table, [], t('queue_empty'));
    setCount(left);
    say(t('approved_code', { code: entry.item, version: entry.version }));
  } catch (err) {
    showError(err);
    button.disabled = false;
  }
}

function row(entry) {
  const names = { code: entry.item, version: entry.version };
  const link = `/bank/items/${seg(entry.item)}?version=${seg(entry.version)}`
    + (entry.version > 1 ? `&from=${entry.version - 1}&to=${entry.version}` : '');
  const button = h('button', { type: 'button', class: 'small primary', 'aria-label': t('approve_label', names) },
    t('approve'));
  const tr = h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: link }, entry.item)),
    h('td', { class: 'num' }, String(entry.version)),
    h('td', { class: 'nowrap' }, typeLabel(entry.type)),
    h('td', { class: 'stem', title: entry.stem }, truncate(entry.stem, 90)),
    h('td', {}, h('code', {}, entry.knowledge_point)),
    h('td', {}, fmtDate(entry.created_at)),
    h('td', { class: 'row-actions' },
      h('a', { href: link, class: 'button small', 'aria-label': t('open_label', names) }, t('open')),
      button));
  button.addEventListener('click', () => approve(entry, tr, button));
  return tr;
}

(async () => {
  say(t('loading'));
  table.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', '/api/review-queue');
    fillTable(table, data.items.map(row), t('queue_empty'));
    setCount(data.items.length);
    say('');
  } catch (err) {
    showError(err);
  } finally {
    table.removeAttribute('aria-busy');
  }
})();
