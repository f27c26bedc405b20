// One item: rendered content of a chosen version (with the key: a staff page), its English
// translation, version and review history, a field diff between two versions, review actions.

import {
  ROLES, api, clearMessages, fillTable, flattenTree, fmtDate, fmtNumber, h, loadTree, pageData,
  levelLabel, richText, say, seg, showError, statusBadge, t, typeLabel, warn,
} from './common.js';

const root = document.getElementById('item-page');
const CODE = root.dataset.code;
const USERS = pageData('users');
const params = new URLSearchParams(window.location.search);

const versionPick = document.getElementById('version-pick');
const langButton = document.getElementById('toggle-lang');
const translationNote = document.getElementById('translation-note');
const contentBox = document.getElementById('item-content');
const propsBox = document.getElementById('item-props');
const commentBox = document.getElementById('review-comment');
const actionsBox = document.getElementById('review-actions');
const noActions = document.getElementById('no-actions');
const diffForm = document.getElementById('diff-form');
const diffTable = document.getElementById('diff');

let item = null; // {code, occupation, level, latest_version}
let versions = [];
let shown = null; // the version dict on screen
let english = false;
let kpNames = new Map();

const userName = (id) => (id == null ? '—' : USERS[id] || t('user_n', { n: id }));

// -- content ------------------------------------------------------------------------------------

function renderContent() {
  const c = shown.content;
  const tr = (c.translations || {}).en;
  const useEn = english && tr;
  const stem = useEn && tr.stem ? tr.stem : c.stem;
  const explanation = useEn && tr.explanation ? tr.explanation : c.explanation;
  const parts = [h('div', { class: 'stem' }, richText(stem, { blanks: c.type === 'fill_blank' }))];
  const key = new Set(c.key || []);

  if (c.type === 'single_choice' || c.type === 'multiple_choice') {
    const list = h('ol', { class: 'options' });
    for (const opt of c.options) {
      const text = useEn && tr.options && tr.options[opt.label] ? tr.options[opt.label] : opt.text;
      const correct = key.has(opt.label);
      list.append(h('li', { class: correct ? 'correct' : '' },
        h('span', { class: 'option-label' }, `${opt.label}.`),
        richText(text),
        correct ? h('span', { class: 'badge key' }, `✓ ${t('correct')}`) : ''));
    }
    parts.push(list);
  } else if (c.type === 'true_false') {
    const value = (c.key || [])[0] === 'T' ? t('true') : t('false');
    parts.push(h('p', { class: 'answer' }, h('strong', {}, `${t('correct')}: `), value));
  } else if (c.type === 'fill_blank') {
    const table = h('table', { class: 'data compact' },
      h('caption', {}, t('accepted')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('blank_n', { n: '' }).trim()),
        h('th', { scope: 'col' }, t('accepted')),
        h('th', { scope: 'col' }, t('rules')))),
      h('tbody', {}, c.blanks.map((blank, i) => h('tr', {},
        h('th', { scope: 'row' }, t('blank_n', { n: i + 1 })),
        h('td', {}, blank.accepted.join(' / ')),
        h('td', {}, blank.normalize.length
          ? blank.normalize.map((rule) => t(`normalize.${rule}`)).join('; ')
          : t('exact'))))));
    parts.push(h('div', { class: 'table-wrap' }, table));
  }
  if (explanation) {
    parts.push(h('div', { class: 'explanation' }, h('h3', { class: 'sub' }, pageText('explanation')),
      richText(explanation)));
  }
  contentBox.replaceChildren(...parts);
  contentBox.lang = useEn ? 'en' : 'zh-CN';

  langButton.disabled = !tr;
  langButton.setAttribute('aria-pressed', useEn ? 'true' : 'false');
  langButton.textContent = useEn ? t('show_zh') : t('show_en');
  translationNote.hidden = Boolean(tr);
  translationNote.textContent = tr ? '' : t('no_translation');
}

const pageText = (key) => t(`label.${key}`);

function renderProps() {
  const c = shown.content;
  const kp = kpNames.get(c.knowledge_point);
  const rows = [
    ['status', statusBadge(shown.status)],
    ...(c.title ? [['title', c.title]] : []),
    ['type', typeLabel(c.type)],
    ['points', String(c.points)],
    ['difficulty', fmtNumber(c.difficulty)],
    ['knowledge_point', [h('code', {}, c.knowledge_point), kp ? ` ${kp.name}` : '']],
    ['tags', (c.tags || []).length ? c.tags.join(', ') : t('none')],
    ['author', userName(shown.author_id)],
    ['created', fmtDate(shown.created_at)],
    ['change_note', shown.change_note || t('none')],
    ['content_hash', h('code', { class: 'hash' }, shown.content_hash)],
  ];
  propsBox.replaceChildren(...rows.flatMap(([key, value]) => [
    h('dt', {}, pageText(key)), h('dd', {}, value)]));
}

function renderReviews() {
  const caption = document.getElementById('reviews-caption');
  caption.textContent = `${pageText('review_history')} · ${t('version_n', { n: shown.version })}`;
  fillTable(document.getElementById('reviews'), (shown.reviews || []).map((r) => h('tr', {},
    h('td', {}, fmtDate(r.at)),
    h('td', {}, statusBadge(r.from)),
    h('td', {}, statusBadge(r.to)),
    h('td', {}, userName(r.actor_id)),
    h('td', { class: 'comment' }, r.comment || ''))), t('no_reviews'));
}

function renderActions() {
  let any = false;
  for (const button of actionsBox.querySelectorAll('button[data-action]')) {
    const open = button.dataset.status === shown.status && ROLES.has(button.dataset.role);
    button.hidden = !open;
    any = any || open;
  }
  actionsBox.hidden = !any;
  noActions.hidden = any;
}

function renderVersions() {
  fillTable(document.getElementById('versions'), versions.map((v) => h('tr',
    { class: v.version === shown.version ? 'current' : '' },
    h('th', { scope: 'row', class: 'num' }, v.version === shown.version
      ? h('span', { 'aria-current': 'true' }, String(v.version))
      : h('a', { href: `?version=${v.version}`, onclick: (e) => { e.preventDefault(); show(v.version); } },
        String(v.version))),
    h('td', {}, statusBadge(v.status)),
    h('td', {}, fmtDate(v.created_at)),
    h('td', {}, userName(v.author_id)),
    h('td', {}, v.change_note || ''),
    h('td', {}, h('code', { class: 'hash' }, v.content_hash.slice(0, 12))))));
}

function renderAll() {
  document.getElementById('item-meta').textContent = [
    `${pageText('occupation')}: ${item.occupation}`,
    `${pageText('level')}: ${levelLabel(item.level)}`,
    `${pageText('latest_version')}: ${item.latest_version}`,
  ].join(' · ');
  const latestText = t('latest');
  versionPick.replaceChildren(...versions.map((v) => h('option', { value: v.version },
    `${t('version_n', { n: v.version })}${v.version === item.latest_version ? ` (${latestText})` : ''}`
    + ` · ${t(`status.${v.status}`)}`)));
  versionPick.value = String(shown.version);
  renderContent();
  renderProps();
  renderReviews();
  renderActions();
  renderVersions();
}

async function loadItem() {
  const data = await api('GET', `/api/items/${seg(CODE)}`);
  item = data.item;
  versions = data.versions;
  return data.latest;
}

async function show(number) {
  clearMessages();
  try {
    shown = number === item.latest_version ? await loadItem()
      : (await api('GET', `/api/items/${seg(CODE)}/versions/${seg(number)}`)).version;
    renderAll();
    const query = new URLSearchParams(window.location.search);
    query.set('version', String(number));
    window.history.replaceState(null, '', `?${query}`);
  } catch (err) {
    showError(err);
  }
}

// -- review actions -----------------------------------------------------------------------------

actionsBox.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const action = button.dataset.action;
  const comment = commentBox.value.trim();
  clearMessages();
  commentBox.removeAttribute('aria-invalid');
  if (button.dataset.needsComment && !comment) {
    commentBox.setAttribute('aria-invalid', 'true');
    warn(t('comment_needed'));
    commentBox.focus();
    return;
  }
  button.disabled = true;
  say(t('saving'));
  try {
    const data = await api('POST', `/api/items/${seg(CODE)}/versions/${seg(shown.version)}/review`,
      { json: { action, comment } });
    commentBox.value = '';
    await loadItem();
    shown = data.version;
    renderAll();
    say(t(`done_${action}`));
  } catch (err) {
    showError(err);
    if (err.field === 'comment') commentBox.setAttribute('aria-invalid', 'true');
  } finally {
    button.disabled = false;
  }
});

// -- diff ---------------------------------------------------------------------------------------

function showValue(value) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

async function compare(from, to) {
  clearMessages();
  if (from === to) {
    warn(t('same_version'));
    return;
  }
  try {
    const data = await api('GET', `/api/items/${seg(CODE)}/diff?from=${seg(from)}&to=${seg(to)}`);
    document.getElementById('diff-caption').textContent = t('diff_caption', { a: data.from, b: data.to });
    fillTable(diffTable, data.changes.map((c) => h('tr', { class: `change-${c.change}` },
      h('th', { scope: 'row' }, h('code', {}, c.field)),
      h('td', {}, t(`change.${c.change}`)),
      h('td', { class: 'before' }, showValue(c.before)),
      h('td', { class: 'after' }, showValue(c.after)))), t('no_changes'));
    diffTable.hidden = false;
    say('');
  } catch (err) {
    showError(err);
  }
}

diffForm.addEventListener('submit', (event) => {
  event.preventDefault();
  compare(Number(diffForm.elements.from.value), Number(diffForm.elements.to.value));
});

function fillDiffSelects() {
  const options = () => versions.map((v) => h('option', { value: v.version }, t('version_n', { n: v.version })));
  const from = document.getElementById('diff-from');
  const to = document.getElementById('diff-to');
  from.replaceChildren(...options());
  to.replaceChildren(...options());
  const latest = item.latest_version;
  from.value = params.get('from') || String(Math.max(1, latest - 1));
  to.value = params.get('to') || String(latest);
}

// -- start --------------------------------------------------------------------------------------

versionPick.addEventListener('change', () => show(Number(versionPick.value)));
langButton.addEventListener('click', () => {
  english = !english;
  renderContent();
});

(async () => {
  say(t('loading'));
  try {
    shown = await loadItem();
    try {
      kpNames = flattenTree(await loadTree(item.occupation, item.level));
    } catch (err) {
      kpNames = new Map();
    }
    const wanted = Number(params.get('version'));
    if (wanted && wanted !== item.latest_version && versions.some((v) => v.version === wanted)) {
      shown = (await api('GET', `/api/items/${seg(CODE)}/versions/${wanted}`)).version;
    }
    renderAll();
    fillDiffSelects();
    say('');
    if (params.get('from') && params.get('to')) {
      compare(Number(params.get('from')), Number(params.get('to')));
    }
  } catch (err) {
    showError(err);
  }
})();
