// Analysis runs: the list (GET /api/analysis/runs) and, for editors and reviewers, the upload of
// a responses CSV (multipart POST /api/analysis/runs); a refusal is shown next to its field.

import {
  api, clearFieldErrors, clearMessages, fillTable, fmtDate, h, initSelects, levelLabel, say,
  showError, showFieldError, warn,
} from './common.js';
import * as an from './analysis_common.js';

const { at } = an;
const table = document.getElementById('runs');
const caption = document.getElementById('runs-caption');
const form = document.getElementById('upload-form');

function row(run) {
  const flagged = run.flagged_items
    ? h('span', { class: 'badge flag' }, String(run.flagged_items))
    : '0';
  return h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `/analysis/${run.id}`, 'aria-label': at('open_run', { label: run.label }) },
      run.label)),
    h('td', {}, an.sourceText(run)),
    h('td', {}, `${run.occupation} · ${levelLabel(run.level)}`),
    h('td', { class: 'num' }, String(run.n_candidates)),
    h('td', { class: 'num' }, String(run.n_items)),
    h('td', { class: 'num' }, flagged),
    h('td', {}, at(`irt_model.${run.irt_model || ''}`)),
    h('td', { class: 'nowrap' }, h('time', { datetime: run.created_at }, fmtDate(run.created_at))));
}

async function load() {
  table.setAttribute('aria-busy', 'true');
  try {
    const { runs } = await api('GET', '/api/analysis/runs');
    fillTable(table, runs.map(row), at('no_runs'));
    caption.textContent = runs.length ? at('runs_n', { n: runs.length }) : at('no_runs');
  } catch (err) {
    showError(err);
  } finally {
    table.removeAttribute('aria-busy');
  }
}

if (form) {
  const button = document.getElementById('upload-button');
  const refillReleases = an.initReleaseSelect(document.getElementById('u-release'));
  initSelects(form).then(refillReleases);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    const data = new FormData(form);
    for (const [name, value] of [...data.entries()]) {
      if (value === '' || (value instanceof File && !value.name)) data.delete(name);
    }
    // Say what is missing before sending (the server checks again).
    const missing = ['occupation', 'level', 'file'].filter((name) => !data.has(name));
    if (missing.length) {
      let first = null;
      for (const name of missing) {
        const input = form.elements.namedItem(name);
        const label = form.querySelector(`label[for="${input.id}"]`);
        const target = showFieldError(form, name, at('required', { field: label.textContent.trim() }));
        first = first || target;
      }
      warn(at('fix_fields'));
      if (first && first.focus) first.focus();
      return;
    }
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    say(at('analysing'));
    try {
      const { run } = await api('POST', '/api/analysis/runs', { form: data });
      say(at('analysed'));
      window.location.assign(`/analysis/${run.id}`);
    } catch (err) {
      showError(err);
      const target = err.field ? showFieldError(form, err.field, err.message) : null;
      if (target && target.focus) target.focus();
      button.disabled = false;
    } finally {
      form.removeAttribute('aria-busy');
    }
  });
}

load();
