// The item list: filters live in the page URL (bookmarkable); the table comes from GET /api/items.

import {
  api, clearMessages, fillTable, flattenTree, fmtNumber, h, initSelects, loadTree, say, seg,
  showError, statusBadge, t, truncate, typeLabel, warn,
} from './common.js';

const form = document.getElementById('filters');
const table = document.getElementById('items-table');
const caption = document.getElementById('items-caption');
const pager = document.getElementById('pager');
const bulkButton = document.getElementById('bulk-submit');
const selectAll = document.getElementById('select-all');
const canEdit = table.dataset.canEdit === '1';
const FILTERS = ['text', 'occupation', 'level', 'knowledge_point', 'type', 'status', 'tag',
  'difficulty_min', 'difficulty_max', 'per_page'];

function currentQuery() {
  const here = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const name of [...FILTERS, 'page']) {
    const value = here.get(name);
    if (value) query.set(name, value);
  }
  return query;
}

// Submitting the form navigates to a clean URL without empty parameters.
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements.namedItem(name);
    const value = field && !field.disabled ? field.value.trim() : '';
    if (value && !(name === 'per_page' && value === '50')) query.set(name, value);
  }
  const lang = new URLSearchParams(window.location.search).get('lang');
  if (lang) query.set('lang', lang);
  const text = query.toString();
  window.location.assign(text ? `${form.action}?${text}` : form.action);
});

function pageLink(page, label, rel) {
  const query = new URLSearchParams(window.location.search);
  query.set('page', String(page));
  return h('a', { href: `?${query}`, rel }, label);
}

function renderPager(total, page, perPage) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  pager.replaceChildren();
  if (pages <= 1) return;
  pager.append(
    page > 1 ? pageLink(page - 1, t('previous'), 'prev') : h('span', { class: 'muted' }, t('previous')),
    h('span', { class: 'page-of' }, t('page_of', { page, pages })),
    page < pages ? pageLink(page + 1, t('next'), 'next') : h('span', { class: 'muted' }, t('next')),
  );
}

function updateBulk() {
  if (!bulkButton) return;
  const boxes = [...table.querySelectorAll('tbody input[type="checkbox"]')];
  const checked = boxes.filter((b) => b.checked);
  bulkButton.disabled = checked.length === 0;
  if (selectAll) {
    selectAll.checked = boxes.length > 0 && checked.length === boxes.length;
    selectAll.indeterminate = checked.length > 0 && checked.length < boxes.length;
    selectAll.disabled = boxes.length === 0;
  }
}

function row(item, names) {
  const kp = names.get(item.knowledge_point);
  const cells = [];
  if (canEdit) {
    cells.push(h('td', { class: 'narrow' }, item.status === 'draft'
      ? h('input', {
        type: 'checkbox',
        'aria-label': t('select_item', { code: item.item }),
        dataset: { code: item.item, version: item.version },
        onchange: updateBulk,
      })
      : ''));
  }
  cells.push(
    h('th', { scope: 'row' }, h('a', { href: `/bank/items/${seg(item.item)}` }, item.item)),
    h('td', { class: 'nowrap' }, typeLabel(item.type)),
    h('td', { class: 'stem', title: item.stem }, truncate(item.stem, 90)),
    h('td', {}, h('code', {}, item.knowledge_point), kp ? ` ${kp.name}` : ''),
    h('td', { class: 'num' }, fmtNumber(item.difficulty)),
    h('td', {}, statusBadge(item.status)),
    h('td', { class: 'num' }, String(item.version)),
  );
  return h('tr', {}, cells);
}

async function knowledgeNames(query) {
  const occupation = query.get('occupation');
  const level = query.get('level');
  if (!occupation || !level) return new Map();
  try {
    return flattenTree(await loadTree(occupation, level));
  } catch (err) {
    return new Map();
  }
}

async function load() {
  const query = currentQuery();
  say(t('loading'));
  table.setAttribute('aria-busy', 'true');
  try {
    const [data, names] = await Promise.all([api('GET', `/api/items?${query}`), knowledgeNames(query)]);
    fillTable(table, data.items.map((item) => row(item, names)), t('none_found'));
    caption.textContent = t('found', { n: data.total });
    say('');
    renderPager(data.total, data.page, data.per_page);
    updateBulk();
  } catch (err) {
    showError(err);
    if (err.field) {
      const input = form.elements.namedItem(err.field);
      if (input) input.setAttribute('aria-invalid', 'true');
    }
  } finally {
    table.removeAttribute('aria-busy');
  }
}

if (selectAll) {
  selectAll.addEventListener('change', () => {
    for (const box of table.querySelectorAll('tbody input[type="checkbox"]')) {
      box.checked = selectAll.checked;
    }
    updateBulk();
  });
}

if (bulkButton) {
  bulkButton.addEventListener('click', async () => {
    const chosen = [...table.querySelectorAll('tbody input[type="checkbox"]:checked')];
    if (!chosen.length) {
      warn(t('nothing_selected'));
      return;
    }
    clearMessages();
    bulkButton.disabled = true;
    say(t('saving'));
    const problems = [];
    let done = 0;
    for (const box of chosen) {
      const { code, version } = box.dataset;
      try {
        await api('POST', `/api/items/${seg(code)}/versions/${seg(version)}/review`,
          { json: { action: 'submit' } });
        done += 1;
      } catch (err) {
        problems.push(t('submit_failed', { code, message: err.message }));
      }
    }
    await load();
    say(t('submitted_n', { n: done }));
    if (problems.length) warn(`${t('error_prefix')} ${problems.join(' ')}`);
  });
}

initSelects(form);
load();
