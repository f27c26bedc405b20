// Review tasks (GET /api/review-tasks?status=...): flagged item versions with their evidence,
// links to the item (to revise it) and to the run; editors resolve or dismiss a task with a note
// (POST /api/review-tasks/<id>).

import {
  api, clearMessages, fmtDate, h, say, seg, showError, t, warn,
} from './common.js';
import * as an from './analysis_common.js';

const { at, num } = an;
const root = document.getElementById('tasks-page');
const EDITOR = root.dataset.editor === '1';
const filters = document.getElementById('task-filters');
const list = document.getElementById('tasks');
const countLine = document.getElementById('tasks-count');

const STATUS_CLASS = { open: 'status-in_review', resolved: 'status-approved', dismissed: 'status-draft' };

function statusBadge(status) {
  return h('span', { class: `badge ${STATUS_CLASS[status] || ''}` }, at(`task_status.${status}`));
}

function evidenceTable(task) {
  const names = { code: task.item, version: task.version };
  const share = (f) => f.reason === 'non_functioning_distractor';
  const value = (f, v) => (share(f) ? an.pct(v) : num(v));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data compact evidence' },
    h('caption', {}, at('evidence_of', names)),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, at('col.flag')),
      h('th', { scope: 'col' }, at('col.measure')),
      h('th', { scope: 'col', class: 'num' }, at('col.value')),
      h('th', { scope: 'col', class: 'num' }, at('col.threshold')),
      h('th', { scope: 'col' }, at('col.run')))),
    h('tbody', {}, task.reasons.map((f) => h('tr', {},
      h('th', { scope: 'row' }, h('span', { class: `badge flag flag-${f.reason}` }, an.reasonLabel(f.reason))),
      h('td', {}, an.flagDetail(f)),
      h('td', { class: 'num' }, value(f, f.value)),
      h('td', { class: 'num' }, value(f, f.threshold)),
      h('td', {}, h('a', { href: `/analysis/${f.run}?item=${seg(task.item)}` }, at('run_n', { id: f.run }))))))));
}

function closeForm(task, card) {
  const names = { code: task.item, version: task.version };
  const noteId = `note-${task.id}`;
  const errorId = `note-${task.id}-error`;
  const note = h('textarea', { id: noteId, rows: 2, maxlength: 2000, 'aria-describedby': `${noteId}-hint` });
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const resolve = h('button', { type: 'button', class: 'primary', 'aria-label': at('resolve_label', names) }, at('task.resolve'));
  const dismiss = h('button', { type: 'button', 'aria-label': at('dismiss_label', names) }, at('task.dismiss'));
  const box = h('div', { class: 'task-close' },
    h('div', { class: 'field' },
      h('label', { for: noteId }, at('note_for', names)),
      note,
      h('p', { class: 'hint', id: `${noteId}-hint` }, at('task.note_hint')),
      error),
    h('div', { class: 'buttons' }, resolve, dismiss));
  const act = async (action) => {
    clearMessages();
    error.hidden = true;
    note.removeAttribute('aria-invalid');
    note.setAttribute('aria-describedby', `${noteId}-hint`);
    const text = note.value.trim();
    if (!text) {
      error.textContent = at('note_needed');
      error.hidden = false;
      note.setAttribute('aria-invalid', 'true');
      note.setAttribute('aria-describedby', `${noteId}-hint ${errorId}`);
      warn(at('note_needed'));
      note.focus();
      return;
    }
    resolve.disabled = true;
    dismiss.disabled = true;
    say(t('saving'));
    try {
      const data = await api('POST', `/api/review-tasks/${task.id}`, { json: { action, note: text } });
      Object.assign(task, data.task);
      const fresh = renderTask(task);
      card.replaceWith(fresh);
      updateCount();
      say(at(`done_${action}`, { code: task.item }));
      fresh.querySelector('h2').focus();
    } catch (err) {
      showError(err);
      if (err.field === 'note') {
        error.textContent = err.message;
        error.hidden = false;
        note.setAttribute('aria-invalid', 'true');
        note.focus();
      }
      resolve.disabled = false;
      dismiss.disabled = false;
    }
  };
  resolve.addEventListener('click', () => act('resolve'));
  dismiss.addEventListener('click', () => act('dismiss'));
  return box;
}

function renderTask(task) {
  const names = { code: task.item, version: task.version };
  const titleId = `task-${task.id}-title`;
  const runs = [...new Set(task.reasons.map((r) => r.run))];
  const card = h('article', { class: `card task task-${task.status}`, id: `task-${task.id}`, 'aria-labelledby': titleId, dataset: { item: task.item } });
  const links = [
    h('a', { class: 'button small', href: `/bank/items/${seg(task.item)}?version=${seg(task.version)}` }, at('task.open_item')),
  ];
  if (EDITOR && task.status === 'open') {
    links.push(h('a', { class: 'button small', href: `/bank/items/${seg(task.item)}/edit` }, at('task.revise')));
  }
  links.push(h('a', { class: 'button small', href: `/analysis/${task.run}?item=${seg(task.item)}` }, at('task.open_run')));
  links.push(h('a', { class: 'button small', href: `/bank/items/${seg(task.item)}/statistics` }, at('task.statistics')));
  card.append(
    h('div', { class: 'section-head' },
      h('h2', { id: titleId, tabindex: '-1' }, at('task_title', names)),
      statusBadge(task.status)),
    h('p', { class: 'meta' },
      `${at('label.created')}: `, h('time', { datetime: task.created_at }, fmtDate(task.created_at)),
      ' · ', at('task.runs'), ' ',
      runs.flatMap((id, i) => [i ? ', ' : '', h('a', { href: `/analysis/${id}?item=${seg(task.item)}` }, at('run_n', { id }))])),
  );
  if (task.latest_version > task.version) {
    card.append(h('p', { class: 'hint' }, at('newer_version', { n: task.latest_version, version: task.version })));
  }
  card.append(evidenceTable(task), h('p', { class: 'toolbar' }, links));
  if (task.status !== 'open' && task.note) {
    card.append(h('p', { class: 'task-note' }, at('closed_note', { note: task.note })));
  }
  if (task.status === 'open' && EDITOR) card.append(closeForm(task, card));
  return card;
}

function updateCount() {
  const n = list.querySelectorAll('article.task').length;
  countLine.textContent = n ? at('tasks_n', { n }) : '';
}

async function load() {
  clearMessages();
  const status = filters.elements.namedItem('status').value;
  list.setAttribute('aria-busy', 'true');
  try {
    const { tasks } = await api('GET', `/api/review-tasks?${new URLSearchParams({ status })}`);
    list.replaceChildren(...tasks.map(renderTask));
    if (!tasks.length) list.append(h('p', { class: 'empty-note' }, at('no_tasks')));
    updateCount();
    const query = new URLSearchParams(window.location.search);
    query.set('status', status);
    window.history.replaceState(null, '', `?${query}`);
  } catch (err) {
    showError(err);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

filters.addEventListener('submit', (event) => {
  event.preventDefault();
  load();
});

load();
