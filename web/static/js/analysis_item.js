// One item's statistics per version (GET /api/items/<code>/statistics): the author's difficulty
// estimate, the measured (pooled) facility, responses, runs, and the difficulty paper assembly
// uses; then the item's result in every run that included the version.

import {
  api, clearMessages, fillTable, h, say, seg, showError, t,
} from './common.js';
import * as an from './analysis_common.js';

const { at, num } = an;
const root = document.getElementById('item-stats-page');
const CODE = root.dataset.code;
const MIN = Number(root.dataset.min);
const box = document.getElementById('versions');

function prop(label, value, hint) {
  return [h('dt', {}, label), h('dd', {}, value, hint ? h('span', { class: 'hint block' }, hint) : '')];
}

function versionCard(v) {
  const titleId = `v${v.version}-title`;
  const acc = v.accumulated;
  const measured = acc && acc.n >= MIN;
  const props = h('dl', { class: 'props' },
    prop(at('label.estimate'), num(v.estimate)),
    prop(at('label.measured'), acc ? num(acc.facility) : '—'),
    prop(at('label.responses'), acc ? String(acc.n) : '0'),
    prop(at('label.runs'), acc ? String(acc.runs) : '0'),
    prop(at('label.pooled_r'), acc ? num(acc.item_rest_r) : '—'),
    prop(at('label.pooled_d'), acc ? num(acc.discrimination_index) : '—'),
    prop(at('label.effective'), h('strong', {}, num(v.effective_difficulty)),
      measured ? at('uses_measured', { min: MIN }) : at('uses_estimate', { min: MIN })));
  const card = h('section', { class: 'card', 'aria-labelledby': titleId },
    h('h2', { id: titleId, class: 'card-title' },
      h('a', { href: `/bank/items/${seg(CODE)}?version=${seg(v.version)}` }, t('version_n', { n: v.version }))),
    props);
  if (!v.runs.length) {
    card.append(h('p', { class: 'hint' }, at('no_statistics')));
    return card;
  }
  const table = h('table', { class: 'data compact' },
    h('caption', {}, at('stats_runs_of', { version: v.version })),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, at('col.run')),
      h('th', { scope: 'col', class: 'num' }, 'n'),
      h('th', { scope: 'col', class: 'num' }, at('col.facility')),
      h('th', { scope: 'col', class: 'num' }, at('col.item_rest_r')),
      h('th', { scope: 'col' }, at('col.flags')))),
    h('tbody'));
  fillTable(table, v.runs.map((r) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `/analysis/${r.run}?item=${seg(CODE)}` }, at('run_n', { id: r.run }))),
    h('td', { class: 'num' }, String(r.n)),
    h('td', { class: 'num' }, num(r.facility)),
    h('td', { class: 'num' }, num(r.item_rest_r)),
    h('td', { class: 'flags-cell' }, r.flags.length
      ? h('ul', { class: 'flags' }, r.flags.map((f) => an.flagItem(f)))
      : h('span', { class: 'muted' }, at('no_flags'))))));
  card.append(h('div', { class: 'table-wrap' }, table));
  return card;
}

(async () => {
  say(t('loading'));
  try {
    const { versions } = await api('GET', `/api/items/${seg(CODE)}/statistics`);
    box.replaceChildren(...[...versions].reverse().map(versionCard));
    clearMessages();
  } catch (err) {
    showError(err);
  }
})();
