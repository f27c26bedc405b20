// Shared pieces of the exam-session pages: their texts (the "sess" group of the i18n block,
// looked up with s(key)), badge classes, the release select, and the session form.

import {
  api, h, showError, showFieldError, t,
} from './common.js';

/** A text of the session pages ("sess.<key>" of the i18n block), %(name)s filled in. */
export const s = (key, params) => t(`sess.${key}`, params);

export const STATE_CLASS = {
  planned: 'status-draft', open: 'status-in_review', running: 'status-approved', closed: 'status-draft',
};
export const ELIGIBILITY_CLASS = {
  pending: 'status-in_review', approved: 'status-approved', rejected: 'status-retired',
};

export function stateBadge(state) {
  return h('span', { class: `badge ${STATE_CLASS[state] || ''}` }, s(`state.${state}`));
}

export function eligibilityBadge(status) {
  return h('span', { class: `badge ${ELIGIBILITY_CLASS[status] || ''}` }, s(`eligibility.${status}`));
}

/** "2026-06-15T09:00" for a datetime-local input, in the browser's time zone. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Fill a release select from the chosen occupation and level; refills when they change. */
export function initReleaseSelect(select) {
  const occ = document.getElementById(select.dataset.occupation);
  const level = document.getElementById(select.dataset.level);
  let generation = 0;
  const refill = async () => {
    generation += 1;
    const mine = generation;
    const wanted = select.dataset.value || select.value;
    select.dataset.value = '';
    select.replaceChildren(h('option', { value: '' }, s('no_release')));
    if (!occ.value || !level.value) return;
    try {
      const query = new URLSearchParams({ occupation: occ.value, level: level.value });
      const { releases } = await api('GET', `/api/releases?${query}`);
      if (mine !== generation) return;
      for (const rel of releases) {
        select.append(h('option', { value: String(rel.id) }, `${rel.name} (${rel.item_count})`));
      }
      if (wanted) select.value = wanted;
    } catch (err) {
      showError(err);
    }
  };
  occ.addEventListener('change', refill);
  level.addEventListener('change', refill);
  return refill;
}

const NUMBERS = [
  'level', 'duration_minutes', 'late_entry_minutes', 'earliest_submit_minutes',
  'start_window_minutes', 'release_id', 'blueprint_version_id',
];
const NULLABLE = ['start_window_minutes', 'release_id', 'blueprint_version_id'];

/** The JSON body of a session form: numbers as numbers, the start as an ISO time. */
export function sessionBody(form) {
  const body = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value !== 'string') continue;
    if (NUMBERS.includes(name)) {
      if (value !== '') body[name] = Number(value);
      else if (NULLABLE.includes(name)) body[name] = null;
    } else if (name === 'scheduled_start') {
      if (value) body[name] = new Date(value).toISOString();
    } else {
      body[name] = value;
    }
  }
  if (body.start_mode === 'unified') body.start_window_minutes = null;
  return body;
}

/** Put a session's values into a form whose inputs are named like the API fields. */
export function fillSessionForm(form, session) {
  const values = {
    name: session.name,
    level: session.level,
    blueprint_version_id: session.blueprint_version_id ?? '',
    scheduled_start: toLocalInput(session.scheduled_start),
    duration_minutes: session.duration_minutes,
    late_entry_minutes: session.late_entry_minutes,
    earliest_submit_minutes: session.earliest_submit_minutes,
    start_mode: session.start_mode,
    start_window_minutes: session.start_window_minutes ?? '',
    note: session.note,
  };
  for (const [name, value] of Object.entries(values)) {
    const input = form.elements.namedItem(name);
    if (input) input.value = String(value);
  }
  const occ = form.elements.namedItem('occupation');
  if (occ) occ.dataset.value = session.occupation.code;
  const release = form.elements.namedItem('release_id');
  if (release) release.dataset.value = session.release_id ? String(session.release_id) : '';
}

/** Show an API error: the message, and next to its field when the form has a slot for it. */
export function showFormError(form, err) {
  showError(err);
  if (!form) return;
  const target = err.field ? showFieldError(form, err.field, err.message) : null;
  if (target && target.focus) target.focus();
}
