// Import: multipart POST to /api/bank/import. 201 shows the counts; a refused import (422
// import_rejected) shows every problem with its place, and says nothing was written.

import {
  api, clearFieldErrors, clearMessages, fillTable, h, initSelects, levelLabel, say, showError,
  showFieldError, t, warn,
} from './common.js';

const form = document.getElementById('import-form');
const result = document.getElementById('import-result');
const problemsBox = document.getElementById('import-problems');
const button = document.getElementById('import-button');

function showPart(boxId, tableId, rows) {
  const box = document.getElementById(boxId);
  box.hidden = rows.length === 0;
  if (rows.length) fillTable(document.getElementById(tableId), rows);
}

function showList(boxId, listId, texts) {
  const box = document.getElementById(boxId);
  box.hidden = texts.length === 0;
  document.getElementById(listId).replaceChildren(...texts.map((text) => h('li', {}, text)));
}

function showReport(report) {
  document.getElementById('count-created').textContent = String(report.created);
  document.getElementById('count-revised').textContent = String(report.revised);
  document.getElementById('count-unchanged').textContent = String(report.unchanged);
  document.getElementById('count-kp').textContent = String(report.knowledge_points_saved);
  document.getElementById('count-skipped').textContent = String(report.skipped.length);
  document.getElementById('count-images').textContent = String(report.images);
  showPart('report-skipped', 'skipped', report.skipped.map((s) => h('tr', {},
    h('th', { scope: 'row' }, s.place), h('td', {}, s.name || ''), h('td', {}, h('code', {}, s.type)),
    h('td', {}, s.reason))));
  document.getElementById('styling-title').textContent =
    t('import_styling', { n: report.styling_removed_total });
  showPart('report-styling', 'styling', report.styling_removed.map((s) => h('tr', {},
    h('th', { scope: 'row' }, s.place), h('td', {}, String(s.count)))));
  showPart('report-notes', 'notes', report.notes.map((n) => h('tr', {},
    h('th', { scope: 'row' }, n.place), h('td', {}, n.message))));
  showList('report-renamed', 'renamed', report.renamed.map((r) => `${r.place}: ${r.taken} → ${r.code}`));
  showList('report-unmapped', 'unmapped',
    report.unmapped_categories.map((c) => `${c.category} (${c.questions})`));
  document.getElementById('result-where').textContent =
    `${t('label.occupation')}: ${report.occupation} · ${t('label.level')}: ${levelLabel(report.level)}`
    + ` · ${report.format}`;
  const query = new URLSearchParams({ occupation: report.occupation, level: String(report.level), status: 'draft' });
  document.getElementById('drafts-link').href = `/bank/items?${query}`;
  result.hidden = false;
  result.focus();
}

function showProblems(err) {
  const details = err.details || [];
  document.getElementById('problems-summary').textContent = t('import_rejected', { n: details.length });
  const hint = document.getElementById('problems-hint');
  hint.textContent = err.body && err.body.hint ? err.body.hint : '';
  hint.hidden = !hint.textContent;
  fillTable(document.getElementById('problems'), details.map((p) => h('tr', {},
    h('th', { scope: 'row' }, p.place || ''),
    h('td', {}, p.field ? h('code', {}, p.field) : ''),
    h('td', {}, p.message))));
  problemsBox.hidden = false;
  warn(t('import_rejected', { n: details.length }));
  problemsBox.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearMessages();
  clearFieldErrors(form);
  result.hidden = true;
  problemsBox.hidden = true;
  const data = new FormData(form);
  // Only send what was chosen; empty fields mean "from the file" / "detect".
  for (const [name, value] of [...data.entries()]) {
    if (value === '' || (value instanceof File && !value.name)) data.delete(name);
  }
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  say(t('importing'));
  try {
    const body = await api('POST', '/api/bank/import', { form: data });
    say(t('import_done'));
    showReport(body.report);
  } catch (err) {
    say('');
    if (err.code === 'import_rejected') {
      showProblems(err);
    } else {
      showError(err);
      const target = err.field ? showFieldError(form, err.field, err.message) : null;
      if (target && target.focus) target.focus();
    }
  } finally {
    button.disabled = false;
    form.removeAttribute('aria-busy');
  }
});

initSelects(form);
