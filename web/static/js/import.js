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

function showReport(report) {
  document.getElementById('count-created').textContent = String(report.created);
  document.getElementById('count-revised').textContent = String(report.revised);
  document.getElementById('count-unchanged').textContent = String(report.unchanged);
  document.getElementById('count-kp').textContent = String(report.knowledge_points_saved);
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
