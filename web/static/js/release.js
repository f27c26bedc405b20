// One release: its diff against the release before it (or a chosen one) and its frozen items.

import {
  api, clearMessages, fillTable, flattenTree, fmtNumber, h, loadTree, localizeTimes, say, seg,
  showError, t, truncate, typeLabel,
} from './common.js';

const root = document.getElementById('release-page');
const ID = Number(root.dataset.id);
const OCCUPATION = root.dataset.occupation;
const LEVEL = root.dataset.level;
const againstForm = document.getElementById('against-form');
const againstSelect = document.getElementById('against');

const itemLink = (code, query = '') => h('a', { href: `/bank/items/${seg(code)}${query}` }, code);

function fillList(id, entries, make) {
  const list = document.getElementById(`diff-${id}`);
  list.replaceChildren(...entries.map((e) => h('li', {}, make(e))));
  if (!entries.length) list.append(h('li', { class: 'muted' }, t('none')));
  document.getElementById(`${id}-count`).textContent = `(${entries.length})`;
}

async function showDiff(against) {
  clearMessages();
  say(t('loading'));
  try {
    const query = against ? `?against=${seg(against)}` : '';
    const { diff } = await api('GET', `/api/releases/${ID}/diff${query}`);
    document.getElementById('diff-summary').textContent = diff.against
      ? t('diff_against', { name: diff.against }) : t('against_none');
    fillList('added', diff.added, (code) => itemLink(code));
    fillList('changed', diff.changed, (c) => [
      itemLink(c.item, `?version=${c.to_version}&from=${c.from_version}&to=${c.to_version}`),
      ` ${t('changed_versions', { a: c.from_version, b: c.to_version })}`,
    ]);
    fillList('removed', diff.removed, (code) => itemLink(code));
    say('');
  } catch (err) {
    showError(err);
  }
}

async function fillAgainst() {
  try {
    const { releases } = await api('GET',
      `/api/releases?occupation=${seg(OCCUPATION)}&level=${seg(LEVEL)}`);
    for (const rel of releases) {
      if (rel.id !== ID) againstSelect.append(h('option', { value: rel.id }, rel.name));
    }
  } catch (err) {
    showError(err);
  }
}

async function loadItems() {
  const table = document.getElementById('release-items');
  try {
    const [{ items }, tree] = await Promise.all([
      api('GET', `/api/releases/${ID}/items`),
      loadTree(OCCUPATION, LEVEL).catch(() => []),
    ]);
    const names = flattenTree(tree);
    fillTable(table, items.map((item) => h('tr', {},
      h('th', { scope: 'row' }, itemLink(item.item, `?version=${item.version}`)),
      h('td', { class: 'num' }, String(item.version)),
      h('td', { class: 'nowrap' }, typeLabel(item.type)),
      h('td', { class: 'stem', title: item.stem }, truncate(item.stem, 90)),
      h('td', {}, h('code', {}, item.knowledge_point),
        names.get(item.knowledge_point) ? ` ${names.get(item.knowledge_point).name}` : ''),
      h('td', { class: 'num' }, fmtNumber(item.difficulty)),
      h('td', { class: 'num' }, item.points))), t('none'));
  } catch (err) {
    showError(err);
  }
}

againstForm.addEventListener('submit', (event) => {
  event.preventDefault();
  showDiff(againstSelect.value);
});

localizeTimes(root);
fillAgainst();
showDiff('');
loadItems();
