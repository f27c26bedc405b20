// Exam sessions: the list (filtered by state) and, for administrators, the form to plan one.

import {
  api, clearFieldErrors, clearMessages, fillTable, fmtDate, h, initSelects, levelLabel,
  occupationName, say,
} from './common.js';
import * as shared from './sessions_common.js';

const { s } = shared;
const filters = document.getElementById('session-filters');
const table = document.getElementById('sessions');
const form = document.getElementById('session-form');

async function load() {
  clearMessages();
  const state = filters.elements.namedItem('state').value;
  const query = state ? `?${new URLSearchParams({ state })}` : '';
  try {
    const { sessions } = await api('GET', `/api/sessions${query}`);
    fillTable(table, sessions.map((es) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `/sessions/${es.id}`, 'aria-label': s('open_session', { code: es.code }) }, es.code)),
      h('td', {}, es.name),
      h('td', {}, `${es.occupation.code} ${occupationName(es.occupation)}`),
      h('td', {}, levelLabel(es.level)),
      h('td', { class: 'nowrap' }, h('time', { datetime: es.scheduled_start }, fmtDate(es.scheduled_start))),
      h('td', { class: 'num' }, s('minutes', { n: es.duration_minutes })),
      h('td', {}, s(`mode.${es.start_mode}`)),
      h('td', {}, shared.stateBadge(es.state)),
      h('td', { class: 'num' }, String(es.rooms_count)))), s('no_sessions'));
  } catch (err) {
    shared.showFormError(null, err);
  }
}

filters.addEventListener('submit', (event) => {
  event.preventDefault();
  load();
});

if (form) {
  shared.initReleaseSelect(form.querySelector('select[data-fill="releases"]'));
  initSelects(form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    try {
      const { session } = await api('POST', '/api/sessions', { json: shared.sessionBody(form) });
      say(s('created'));
      window.location.assign(`/sessions/${session.id}`);
    } catch (err) {
      shared.showFormError(form, err);
    }
  });
}

load();
