// One analysis run's report (GET /api/analysis/runs/<id>): test summary, the numbers behind the
// figures, and the item table (sortable, filterable to flagged items) with an expandable detail
// per item: its flags, the option trace-lines plot and the option table.

import {
  api, clearMessages, fillTable, fmtDate, h, levelLabel, say, seg, showError, t,
} from './common.js';
import * as an from './analysis_common.js';

const { at, num } = an;
const root = document.getElementById('report-page');
const RUN = Number(root.dataset.runId);
const IRT = root.dataset.irt;
const params = new URLSearchParams(window.location.search);
const table = document.getElementById('items');
const onlyFlagged = document.getElementById('only-flagged');
const countLine = document.getElementById('items-count');

let run = null;
let groups = [];
const rows = new Map(); // position -> {item, main, detail, button, filled}
const sort = { key: 'position', dir: 'ascending' };

// -- summary ------------------------------------------------------------------------------------

function renderMeta() {
  const parts = [
    `${at('label.occupation')}: ${run.occupation}`,
    `${at('label.level')}: ${levelLabel(run.level)}`,
    `${at('label.source')}: ${an.sourceText(run)}`,
  ];
  const meta = document.getElementById('run-meta');
  meta.replaceChildren(parts.join(' · '));
  if (run.release_id) {
    meta.append(' · ', `${at('label.release')}: `,
      h('a', { href: `/bank/releases/${run.release_id}` }, String(run.release_id)));
  }
  meta.append(` · ${at('label.irt')}: ${at(`irt_model.${run.irt_model || ''}`)}`,
    ` · ${at('label.created')}: `, h('time', { datetime: run.created_at }, fmtDate(run.created_at)));
}

function stat(label, value, extra) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value, extra ? h('span', { class: 'unit' }, extra) : ''));
}

function renderSummary() {
  const test = run.summary.test;
  const rel = test.reliability;
  const dist = test.distribution;
  const unit = at(`unit.${dist.unit}`);
  document.getElementById('summary').replaceChildren(
    stat(at(`reliability.${rel.kind}`), num(rel.alpha, 3)),
    stat(at('label.sem'), num(test.sem), unit),
    stat(at('label.mean'), num(dist.mean), unit),
    stat(at('label.sd'), num(dist.sd)),
    stat(at('label.median'), num(dist.median)),
    stat(at('label.range'), `${num(dist.min, 1)} – ${num(dist.max, 1)}`),
    stat(at('label.skewness'), num(dist.skewness)),
    stat(at('label.kurtosis'), num(dist.kurtosis)),
    stat(at('label.n'), String(dist.n)),
    stat(at('label.items'), String(run.n_items)),
    stat(at('label.flagged'), String(run.flagged_items)),
  );
  const notes = [];
  if (rel.missing_by_design) notes.push(at('missing_by_design', { n: num(rel.mean_items_seen, 1) }));
  const irt = run.summary.irt;
  if (irt) {
    notes.push(at('irt_summary', {
      model: at(`irt_model.${irt.model}`),
      ll: num(irt.log_likelihood, 1),
      aic: num(irt.aic, 1),
      bic: num(irt.bic, 1),
      iter: irt.n_iter,
      converged: irt.converged ? at('converged') : at('not_converged'),
    }));
  }
  const sim = run.summary.similarity;
  if (sim && sim.n_pairs_tested) {
    notes.push(at('similarity', {
      pairs: sim.n_pairs_tested, found: sim.n_significant, q: an.pct(sim.fdr_q, 0),
    }));
  }
  document.getElementById('summary-notes').textContent = notes.join(' ');
}

function renderFigures() {
  const dist = run.summary.test.distribution;
  const digits = dist.unit === 'percent' ? 0 : 1;
  const { edges, counts } = dist.histogram;
  fillTable(document.getElementById('hist-table'), counts.map((count, i) => h('tr', {},
    h('th', { scope: 'row' }, at('band', { from: num(edges[i], digits), to: num(edges[i + 1], digits) })),
    h('td', { class: 'num' }, String(count)))));
  const hist = document.querySelector('#fig-histogram img');
  hist.alt = at('alt_histogram', {
    unit: at(`unit.${dist.unit}`), n: dist.n, mean: num(dist.mean), sd: num(dist.sd),
  });
  document.querySelector('#fig-map img').alt = at('alt_map', { flagged: run.flagged_items, n: run.n_items });

  const infoFigure = document.getElementById('fig-information');
  const info = run.summary.irt && run.summary.irt.test_information;
  if (infoFigure && info) {
    const values = info.information;
    let best = 0;
    values.forEach((v, i) => { if (v > values[best]) best = i; });
    infoFigure.querySelector('img').alt = at('alt_information', {
      max: num(values[best]), at: num(info.theta[best], 1),
    });
    fillTable(document.getElementById('info-table'), info.theta.map((theta, i) => h('tr', {},
      h('th', { scope: 'row', class: 'num' }, num(theta, 1)),
      h('td', { class: 'num' }, num(values[i], 3)),
      h('td', { class: 'num' }, values[i] > 0 ? num(1 / Math.sqrt(values[i])) : '—'))));
  }
  for (const img of document.querySelectorAll('figure.plot img')) an.watchImage(img);
}

// -- item table ---------------------------------------------------------------------------------

const columnCount = () => table.tHead.rows[0].cells.length;

function flagList(flags) {
  return h('ul', { class: 'flags' }, flags.map((f) => an.flagItem(f)));
}

function optionTable(item) {
  const head = h('tr', {},
    h('th', { scope: 'col' }, at('label.option')),
    h('th', { scope: 'col', class: 'num' }, at('label.proportion')),
    groups.map((name) => h('th', { scope: 'col', class: 'num' }, name)),
    h('th', { scope: 'col', class: 'num' }, at('label.rest_r')),
    h('th', { scope: 'col', class: 'num' }, at('label.mean_total')));
  const body = item.options.map((opt) => h('tr', { class: opt.is_key ? 'key-row' : '' },
    h('th', { scope: 'row' }, opt.label,
      opt.is_key ? h('span', { class: 'badge key' }, at('key_mark')) : ''),
    h('td', { class: 'num' }, an.pct(opt.proportion)),
    (opt.proportion_by_group || []).map((p) => h('td', { class: 'num' }, an.pct(p))),
    h('td', { class: 'num' }, num(opt.rest_r)),
    h('td', { class: 'num' }, an.pct(opt.mean_total_fraction))));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data compact options-table' },
    h('caption', {}, at('options_of', { code: item.item, version: item.version })),
    h('thead', {}, head), h('tbody', {}, body)));
}

function fillDetail(entry) {
  const { item } = entry;
  const parts = [h('h3', { class: 'sub' }, at('task_title', { code: item.item, version: item.version }))];
  if (item.options && item.options.length) {
    const img = h('img', {
      src: `/api/analysis/runs/${RUN}/plots/trace.png?item=${item.position}`,
      alt: at('alt_trace', { code: item.item }),
      class: 'trace',
    });
    an.watchImage(img);
    parts.push(h('div', { class: 'detail-grid' },
      h('figure', { class: 'plot' }, img),
      optionTable(item)));
  } else {
    parts.push(h('p', { class: 'hint' }, at('no_options')));
  }
  entry.detail.cells[0].replaceChildren(h('div', { class: 'detail-box' }, parts));
  entry.filled = true;
}

function setOpen(entry, open) {
  if (open && !entry.filled) fillDetail(entry);
  entry.detail.hidden = !open;
  entry.button.setAttribute('aria-expanded', open ? 'true' : 'false');
  const code = entry.item.item;
  entry.button.textContent = open ? at('hide_details') : at('details');
  entry.button.setAttribute('aria-label', open ? at('hide_details_of', { code }) : at('details_of', { code }));
}

function makeRows(item) {
  const id = `detail-${item.position}`;
  const button = h('button', {
    type: 'button', class: 'small', 'aria-expanded': 'false', 'aria-controls': id,
    'aria-label': at('details_of', { code: item.item }),
  }, at('details'));
  const cells = [
    h('td', { class: 'num' }, String(item.position + 1)),
    h('th', { scope: 'row' }, h('a', {
      href: `/bank/items/${seg(item.item)}?version=${seg(item.version)}`,
      'aria-label': at('open_item', { code: item.item, version: item.version }),
    }, item.item)),
    h('td', { class: 'num' }, String(item.version)),
    h('td', { class: 'num' }, String(item.n)),
    h('td', { class: 'num' }, num(item.facility)),
    h('td', { class: 'num' }, num(item.item_rest_r)),
    h('td', { class: 'num' }, num(item.discrimination_index)),
    h('td', { class: 'num' }, num(item.alpha_if_deleted, 3)),
  ];
  if (IRT) {
    const withSe = (v, se) => (se === null || se === undefined ? num(v) : `${num(v)} (${num(se)})`);
    cells.push(
      h('td', { class: 'num' }, withSe(item.irt_a, item.irt_a_se)),
      h('td', { class: 'num' }, withSe(item.irt_b, item.irt_b_se)),
      h('td', { class: 'num' }, num(item.irt_fit_p, 3)));
  }
  cells.push(
    h('td', { class: 'flags-cell' }, item.flag_list.length ? flagList(item.flag_list)
      : h('span', { class: 'muted' }, at('no_flags'))),
    h('td', { class: 'row-actions' }, button));
  const main = h('tr', { class: item.flag_list.length ? 'flagged' : '', id: `item-${item.item}` }, cells);
  const detail = h('tr', { class: 'detail', id, hidden: true }, h('td', { colspan: columnCount() }));
  const entry = { item, main, detail, button, filled: false };
  button.addEventListener('click', () => setOpen(entry, detail.hidden));
  return entry;
}

function sortValue(item, key) {
  if (key === 'flags') return item.flag_list.length;
  if (key === 'item') return item.item;
  const v = item[key];
  return v === null || v === undefined || Number.isNaN(v) ? null : v;
}

function compare(a, b) {
  const x = sortValue(a.item, sort.key);
  const y = sortValue(b.item, sort.key);
  // Missing values go last whatever the direction.
  if (x === null && y === null) return a.item.position - b.item.position;
  if (x === null) return 1;
  if (y === null) return -1;
  let c = typeof x === 'string' ? x.localeCompare(y, 'zh-CN', { numeric: true }) : x - y;
  if (c === 0) c = a.item.position - b.item.position;
  return sort.dir === 'ascending' ? c : -c;
}

function render() {
  const entries = [...rows.values()].sort(compare);
  const shown = entries.filter((e) => !onlyFlagged.checked || e.item.flag_list.length);
  table.tBodies[0].replaceChildren(...shown.flatMap((e) => [e.main, e.detail]));
  if (!shown.length) fillTable(table, [], at('no_items_shown'));
  countLine.textContent = at('items_shown', { shown: shown.length, n: entries.length });
  for (const th of table.tHead.rows[0].cells) {
    if (th.dataset.sort === sort.key) th.setAttribute('aria-sort', sort.dir);
    else th.removeAttribute('aria-sort');
  }
}

table.tHead.addEventListener('click', (event) => {
  const button = event.target.closest('button.sort');
  if (!button) return;
  const key = button.closest('th').dataset.sort;
  if (sort.key === key) sort.dir = sort.dir === 'ascending' ? 'descending' : 'ascending';
  else Object.assign(sort, { key, dir: 'ascending' });
  render();
  say(at('sorted_by', { column: button.textContent.trim(), direction: at(sort.dir) }));
});

onlyFlagged.addEventListener('change', () => {
  const query = new URLSearchParams(window.location.search);
  if (onlyFlagged.checked) query.set('flagged', '1');
  else query.delete('flagged');
  const q = query.toString();
  window.history.replaceState(null, '', q ? `?${q}` : window.location.pathname);
  render();
});

// -- start --------------------------------------------------------------------------------------

(async () => {
  say(t('loading'));
  table.setAttribute('aria-busy', 'true');
  try {
    run = (await api('GET', `/api/analysis/runs/${RUN}`)).run;
    groups = an.groupNames(run.summary.score_groups || [0, 0.27, 0.73, 1]);
    renderMeta();
    renderSummary();
    renderFigures();
    for (const item of run.items) rows.set(item.position, makeRows(item));
    onlyFlagged.checked = params.get('flagged') === '1';
    render();
    clearMessages();
    const wanted = params.get('item');
    const entry = wanted && [...rows.values()].find((e) => e.item.item === wanted);
    if (entry) {
      if (onlyFlagged.checked && !entry.item.flag_list.length) {
        onlyFlagged.checked = false;
        render();
      }
      setOpen(entry, true);
      entry.main.scrollIntoView({ block: 'start' });
      entry.button.focus({ preventScroll: true });
    }
  } catch (err) {
    showError(err);
  } finally {
    table.removeAttribute('aria-busy');
  }
})();
