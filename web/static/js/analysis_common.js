// Shared pieces of the item-analysis pages: their texts (the "an" group of the i18n block, looked
// up with at(key)), number formats, readable flags, score-group names and the release select.

import { api, fmtNumber, h, showError, t } from './common.js';

/** A text of the analysis pages ("an.<key>" of the i18n block), %(name)s filled in. */
export const at = (key, params) => t(`an.${key}`, params);

/** A statistic for a table cell: fixed digits, a real minus sign, "—" when missing. */
export function num(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '—';
  return fmtNumber(value, digits).replace(/^-/, '−');
}

/** A proportion as a percentage ("4.7 %"). */
export function pct(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '—';
  return `${(Number(value) * 100).toFixed(digits)}\u00a0%`;
}

/** Where a run's responses came from: "Upload: file.csv" or "Session S-1". */
export function sourceText(run) {
  return at(`source.${run.source}`, { ref: run.source_ref || '—' });
}

export function reasonLabel(reason) {
  return at(`reason.${reason}`);
}

/**
 * The evidence of one flag in words: "option-rest r of option B 0.32 > threshold −0.22".
 * Shares (non-functioning distractors) are shown as percentages.
 */
export function flagDetail(flag) {
  let measureKey = flag.reason;
  if (flag.reason === 'possible_key_error' && (!flag.option || flag.threshold === 0)) {
    measureKey = 'possible_key_error_item';
  }
  const measure = at(`measure.${measureKey}`, { option: flag.option || '' });
  const share = flag.reason === 'non_functioning_distractor';
  const show = (v) => (share ? pct(v) : num(v));
  let op = '=';
  if (flag.value > flag.threshold) op = '>';
  else if (flag.value < flag.threshold) op = '<';
  return at('flag_detail', { measure, value: show(flag.value), op, threshold: show(flag.threshold) });
}

/** A flag as a badge with its reason, followed by the evidence in words. */
export function flagItem(flag, { withRun = false } = {}) {
  return h('li', {},
    h('span', { class: `badge flag flag-${flag.reason}` }, reasonLabel(flag.reason)),
    ' ',
    h('span', { class: 'flag-detail' }, flagDetail(flag)),
    withRun && flag.run ? [' · ', h('a', { href: `/analysis/${flag.run}` }, at('run_n', { id: flag.run }))] : '');
}

/** Names of the score groups from their edges ([0, .27, .73, 1] -> lower, middle, upper). */
export function groupNames(edges) {
  const p = (x) => `${Math.round(x * 100)}\u00a0%`;
  const bare = (x) => String(Math.round(x * 100));
  const names = [];
  for (let g = 0; g + 1 < edges.length; g += 1) {
    const range = { from: bare(edges[g]), to: p(edges[g + 1]), n: g + 1 };
    if (g === 0) names.push(at('group_low', range));
    else if (g + 2 === edges.length) names.push(at('group_high', range));
    else names.push(at('group_mid', range));
  }
  return names;
}

/** Fill the optional release select from the chosen occupation and level; refills on change. */
export function initReleaseSelect(select) {
  const occ = document.getElementById(select.dataset.occupation);
  const level = document.getElementById(select.dataset.level);
  const first = select.options[0] ? select.options[0].textContent : '';
  let generation = 0;
  const refill = async () => {
    generation += 1;
    const mine = generation;
    select.replaceChildren(h('option', { value: '' }, first));
    if (!occ.value || !level.value) return;
    try {
      const query = new URLSearchParams({ occupation: occ.value, level: level.value });
      const { releases } = await api('GET', `/api/releases?${query}`);
      if (mine !== generation) return;
      for (const rel of releases) {
        select.append(h('option', { value: String(rel.id) }, `${rel.name} (${rel.item_count})`));
      }
    } catch (err) {
      showError(err);
    }
  };
  occ.addEventListener('change', refill);
  level.addEventListener('change', refill);
  return refill;
}

/** Report a figure that failed to load next to it (the alt text stays for screen readers). */
export function watchImage(img) {
  const fail = () => {
    if (img.nextElementSibling && img.nextElementSibling.classList.contains('image-failed')) return;
    img.after(h('p', { class: 'image-failed' }, at('image_failed')));
  };
  img.addEventListener('error', fail);
  if (img.complete && img.src && img.naturalWidth === 0) fail();
}
