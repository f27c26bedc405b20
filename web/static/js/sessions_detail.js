// One exam session: schedule and state, rooms (access codes, proctors, start), the roster with
// eligibility decisions, roster import, admission tickets and the sign-in attempts.
// Administrators change things; proctors and supervisors read (proctors start their rooms).

import {
  api, clearFieldErrors, clearMessages, fillTable, fmtDate, h, initSelects, levelLabel,
  occupationName, say, seg, showFieldError, truncate, warn,
} from './common.js';
import * as shared from './sessions_common.js';

const { s } = shared;
const page = document.getElementById('session-page');
const SID = page.dataset.sessionId;
const ADMIN = page.dataset.admin === '1';
const BASE = `/api/sessions/${seg(SID)}`;
const PER_PAGE = 200;

let current = null; // the session as the API last sent it
let proctors = null; // [{username, display_name}] for administrators
let regPage = 1;

const $ = (id) => document.getElementById(id);
const time = (iso) => (iso ? h('time', { datetime: iso }, fmtDate(iso)) : '');

// -- session ------------------------------------------------------------------------------------

function summaryRows(es) {
  const rows = [
    [s('label.occupation'), `${es.occupation.code} ${occupationName(es.occupation)}`],
    [s('label.level'), levelLabel(es.level)],
    [s('label.release'), es.release_name || s('no_release')],
    [s('label.blueprint'), es.blueprint_version_id ? String(es.blueprint_version_id) : '—'],
    [s('label.start'), time(es.scheduled_start)],
    [s('label.end'), time(es.scheduled_end)],
    [s('label.duration'), s('minutes', { n: es.duration_minutes })],
    [s('label.late_entry'), s('minutes', { n: es.late_entry_minutes })],
    [s('label.earliest_submit'), s('minutes', { n: es.earliest_submit_minutes })],
    [s('label.mode'), s(`mode.${es.start_mode}`)],
  ];
  if (es.window_end) rows.push([s('label.window_end'), time(es.window_end)]);
  for (const key of ['opened_at', 'started_at', 'closed_at']) {
    if (es[key]) rows.push([s(`label.${key}`), time(es[key])]);
  }
  if (es.note) rows.push([s('label.note'), es.note]);
  return rows;
}

function showState(es) {
  const badge = $('state-badge');
  badge.className = `badge ${shared.STATE_CLASS[es.state] || ''}`;
  badge.textContent = s(`state.${es.state}`);
  $('summary').replaceChildren(...summaryRows(es).flatMap(([dt, dd]) => [h('dt', {}, dt), h('dd', {}, dd)]));
  for (const node of document.querySelectorAll('[data-states]')) {
    node.hidden = !node.dataset.states.split(' ').includes(es.state);
  }
  for (const button of document.querySelectorAll('#transition-form [data-action]')) {
    const action = button.dataset.action;
    if (action !== 'delete') button.hidden = !es.actions.includes(action);
  }
}

function render(es) {
  current = es;
  showState(es);
  renderRooms(es);
  fillRoomSelects(es);
}

async function loadSession() {
  const { session } = await api('GET', BASE);
  render(session);
  return session;
}

// -- rooms --------------------------------------------------------------------------------------

function proctorCell(es, room) {
  const names = room.proctors.map((p) => p.display_name || p.username);
  if (!ADMIN || !proctors || es.state === 'closed') return names.join(', ') || s('no_proctor');
  const select = h('select', {
    multiple: true, size: Math.min(4, Math.max(2, proctors.length)), id: `proctors-${room.id}`,
    'aria-label': s('proctors_of', { room: room.name }),
  }, proctors.map((p) => h('option', {
    value: p.username, selected: room.proctors.some((x) => x.username === p.username),
  }, p.display_name || p.username)));
  const save = h('button', {
    type: 'button', class: 'small',
    onclick: () => act(async () => {
      const usernames = [...select.selectedOptions].map((o) => o.value);
      render((await api('PUT', `${BASE}/rooms/${room.id}/proctors`, { json: { usernames } })).session);
      say(s('proctors_saved', { room: room.name }));
    }),
  }, s('save_proctors'));
  return h('div', {}, select, h('div', {}, save));
}

function roomActions(es, room) {
  const out = [];
  const live = es.state === 'open' || es.state === 'running';
  if (room.access_code && es.start_mode === 'unified' && live && !room.started_at) {
    out.push(h('button', {
      type: 'button', class: 'small primary',
      onclick: () => confirmed(s('confirm_start_room', { room: room.name }), async () => {
        render((await api('POST', `${BASE}/rooms/${room.id}/start`, { json: {} })).session);
        say(s('room_started', { room: room.name }));
      }),
    }, s('start_room')));
  }
  if (ADMIN && es.state !== 'closed') {
    out.push(h('button', {
      type: 'button', class: 'small',
      onclick: () => confirmed(s('confirm_new_code', { room: room.name }), async () => {
        render((await api('POST', `${BASE}/rooms/${room.id}/access-code`, { json: {} })).session);
        say(s('code_changed', { room: room.name }));
      }),
    }, s('new_code')));
  }
  if (ADMIN && room.counts.approved) {
    out.push(h('a', {
      class: 'button small', href: `${BASE}/tickets.pdf?room=${room.id}`, target: '_blank', rel: 'noopener',
      'aria-label': s('tickets_room', { room: room.name }),
    }, s('ticket_pdf')));
  }
  if (ADMIN && es.state === 'planned') {
    out.push(h('button', {
      type: 'button', class: 'small danger',
      onclick: () => confirmed(s('confirm_remove_room', { room: room.name }), async () => {
        render((await api('DELETE', `${BASE}/rooms/${room.id}`, { json: {} })).session);
        say(s('room_removed'));
      }),
    }, s('remove')));
  }
  return h('div', { class: 'row-actions' }, out);
}

function renderRooms(es) {
  fillTable($('rooms'), es.rooms.map((room) => h('tr', {},
    h('td', { class: 'num' }, String(room.number)),
    h('th', { scope: 'row' }, room.name, room.location ? h('div', { class: 'muted' }, room.location) : ''),
    h('td', { class: 'num' }, String(room.capacity)),
    h('td', { class: 'num' }, String(room.counts.registered)),
    h('td', { class: 'num' }, String(room.counts.approved)),
    h('td', { class: 'num' }, String(room.counts.checked_in)),
    h('td', {}, room.access_code ? h('code', {}, room.access_code) : h('span', { class: 'muted' }, s('hidden'))),
    h('td', { class: 'nowrap' }, time(room.check_in_deadline)),
    h('td', { class: 'nowrap' }, room.started_at ? time(room.started_at) : s('not_started')),
    h('td', {}, proctorCell(es, room)),
    h('td', {}, roomActions(es, room)))), s('no_rooms'));
}

function fillRoomSelects(es) {
  const filter = $('q-room');
  const chosen = filter.value;
  filter.replaceChildren(filter.options[0], ...es.rooms.map((r) => h('option', { value: String(r.id) }, r.name)));
  filter.value = chosen;
  const add = $('a-room');
  if (add) add.replaceChildren(...es.rooms.map((r) => h('option', { value: r.name }, r.name)));
}

// -- roster ---------------------------------------------------------------------------------------

function selectedIds() {
  return [...document.querySelectorAll('#registrations input[data-reg]:checked')].map((c) => Number(c.dataset.reg));
}

async function decide(ids, status) {
  const form = $('bulk-form');
  clearFieldErrors(form);
  const reason = form.elements.namedItem('reason').value.trim();
  if (status === 'rejected' && !reason) {
    const target = showFieldError(form, 'reason', s('reason_needed'));
    warn(s('reason_needed'));
    if (target) target.focus();
    return;
  }
  await act(async () => {
    await api('POST', `${BASE}/eligibility`, { json: { registration_ids: ids, status, reason } });
    await Promise.all([loadSession(), loadRegistrations()]);
    say(s('decided_n', { n: ids.length }));
  }, form);
}

function regActions(es, reg) {
  const out = [];
  const label = { name: reg.candidate_name };
  if (es.state !== 'closed') {
    for (const [status, key] of [['approved', 'approve'], ['rejected', 'reject'], ['pending', 'reset']]) {
      if (reg.eligibility === status) continue;
      out.push(h('button', {
        type: 'button', class: status === 'rejected' ? 'small danger' : 'small',
        'aria-label': s(`${key}_label`, label), onclick: () => decide([reg.id], status),
      }, s(key)));
    }
  }
  if (reg.eligibility === 'approved') {
    out.push(h('a', {
      class: 'button small', href: `${BASE}/registrations/${reg.id}/ticket.pdf`, target: '_blank',
      rel: 'noopener', 'aria-label': s('ticket_of', label),
    }, s('ticket_pdf')));
  }
  if (es.state === 'planned') {
    out.push(h('button', {
      type: 'button', class: 'small danger', 'aria-label': s('remove_label', label),
      onclick: () => confirmed(s('confirm_remove_reg', { name: reg.candidate_name, ticket: reg.ticket_number }), async () => {
        await api('DELETE', `${BASE}/registrations/${reg.id}`, { json: {} });
        await Promise.all([loadSession(), loadRegistrations()]);
      }),
    }, s('remove')));
  }
  return h('div', { class: 'row-actions' }, out);
}

function regRow(es, reg) {
  const cells = [];
  if (ADMIN) {
    cells.push(h('td', {}, h('input', {
      type: 'checkbox', dataset: { reg: String(reg.id) }, 'aria-label': s('select_reg', { name: reg.candidate_name }),
    })));
  }
  cells.push(
    h('th', { scope: 'row' }, h('code', {}, reg.ticket_number)),
    h('td', {}, reg.candidate_name, reg.photo ? h('span', { class: 'muted' }, ` · ${s('has_photo')}`) : ''),
    h('td', {}, h('span', { class: 'muted' }, s(`id_type.${reg.id_type}`)), h('div', {}, reg.id_number)),
    h('td', {}, reg.room),
    h('td', { class: 'num' }, String(reg.seat)),
    h('td', {}, shared.eligibilityBadge(reg.eligibility),
      reg.eligibility_reason ? h('div', { class: 'muted' }, reg.eligibility_reason) : ''),
    h('td', { class: 'nowrap' }, reg.first_check_in_at
      ? h('span', {}, s('checked_in_at', { time: fmtDate(reg.first_check_in_at) })) : s('not_checked_in')),
  );
  if (ADMIN) cells.push(h('td', {}, regActions(es, reg)));
  return h('tr', {}, cells);
}

async function loadRegistrations() {
  const form = $('reg-filters');
  const query = new URLSearchParams({ page: String(regPage), per_page: String(PER_PAGE) });
  for (const name of ['room', 'eligibility', 'q']) {
    const value = form.elements.namedItem(name).value.trim();
    if (value) query.set(name, value);
  }
  const { registrations, total } = await api('GET', `${BASE}/registrations?${query}`);
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));
  fillTable($('registrations'), registrations.map((reg) => regRow(current, reg)), s('no_registrations'));
  $('reg-count').textContent = s('found', { n: total });
  $('reg-page').textContent = s('page_of', { page: regPage, pages });
  $('reg-prev').disabled = regPage <= 1;
  $('reg-next').disabled = regPage >= pages;
  const all = $('select-all');
  if (all) all.checked = false;
}

// -- sign-in attempts ------------------------------------------------------------------------------

async function loadCheckIns() {
  const { check_ins: rows } = await api('GET', `${BASE}/check-ins?limit=1000`);
  fillTable($('check-ins'), rows.map((c) => h('tr', {},
    h('td', { class: 'nowrap' }, time(c.at)),
    h('th', { scope: 'row' }, h('code', {}, c.ticket_number)),
    h('td', {}, c.ok ? s('ok') : `${s('refused')}: ${s(`failure.${c.failure}`)}`),
    h('td', {}, c.ip),
    h('td', {}, truncate(c.user_agent, 60)))), s('no_check_ins'));
}

// -- helpers ---------------------------------------------------------------------------------------

async function act(fn, form = null) {
  clearMessages();
  try {
    await fn();
  } catch (err) {
    shared.showFormError(form, err);
  }
}

function confirmed(question, fn) {
  // The native dialog is keyboard and screen-reader friendly, and enough for a yes/no.
  if (window.confirm(question)) act(fn);
}

// -- wiring -----------------------------------------------------------------------------------------

$('reg-filters').addEventListener('submit', (event) => {
  event.preventDefault();
  regPage = 1;
  act(loadRegistrations);
});
$('reg-prev').addEventListener('click', () => { regPage -= 1; act(loadRegistrations); });
$('reg-next').addEventListener('click', () => { regPage += 1; act(loadRegistrations); });

if (ADMIN) {
  const transitionForm = $('transition-form');
  for (const button of transitionForm.querySelectorAll('[data-action]')) {
    const action = button.dataset.action;
    button.addEventListener('click', () => {
      clearFieldErrors(transitionForm);
      const reason = transitionForm.elements.namedItem('reason').value;
      if (!window.confirm(s(`confirm_${action}`))) return;
      act(async () => {
        if (action === 'delete') {
          await api('DELETE', BASE, { json: { reason } });
          say(s('deleted'));
          window.location.assign('/sessions');
          return;
        }
        const body = await api('POST', `${BASE}/transitions`, { json: { action, reason } });
        render(body.session);
        await loadRegistrations();
        say(s(`done_${action}`));
        const list = $('open-warnings');
        list.replaceChildren(...body.warnings.map((w) => h('li', {}, w)));
        list.hidden = !body.warnings.length;
        if (body.warnings.length) warn(`${s('warnings')} ${body.warnings.join('; ')}`);
      }, transitionForm);
    });
  }

  $('select-all').addEventListener('change', (event) => {
    for (const box of document.querySelectorAll('#registrations input[data-reg]')) box.checked = event.target.checked;
  });
  for (const button of $('bulk-form').querySelectorAll('[data-status]')) {
    button.addEventListener('click', () => {
      const ids = selectedIds();
      if (!ids.length) {
        warn(s('nothing_selected'));
        return;
      }
      decide(ids, button.dataset.status);
    });
  }

  const roomForm = $('room-form');
  roomForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(roomForm);
    act(async () => {
      const data = new FormData(roomForm);
      const json = { name: data.get('name'), capacity: Number(data.get('capacity')), location: data.get('location') };
      render((await api('POST', `${BASE}/rooms`, { json })).session);
      roomForm.reset();
      say(s('room_added'));
    }, roomForm);
  });

  const regForm = $('reg-form');
  regForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(regForm);
    act(async () => {
      const json = Object.fromEntries(new FormData(regForm).entries());
      json.seat = json.seat ? Number(json.seat) : null;
      const { registration } = await api('POST', `${BASE}/registrations`, { json });
      regForm.reset();
      await Promise.all([loadSession(), loadRegistrations()]);
      say(s('reg_added', { ticket: registration.ticket_number }));
    }, regForm);
  });

  const importForm = $('import-form');
  const problems = $('import-problems');
  importForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    clearFieldErrors(importForm);
    problems.hidden = true;
    const button = $('import-button');
    button.disabled = true;
    importForm.setAttribute('aria-busy', 'true');
    say(s('importing'));
    try {
      const { report } = await api('POST', `${BASE}/roster`, { form: new FormData(importForm) });
      importForm.reset();
      await Promise.all([loadSession(), loadRegistrations()]);
      say(s('import_done', {
        created: report.created, tickets: report.generated_tickets, seats: report.assigned_seats, photos: report.photos,
      }));
    } catch (err) {
      say('');
      if (err.code === 'import_rejected') {
        const details = err.details || [];
        $('problems-summary').textContent = s('import_rejected', { n: details.length });
        fillTable($('problems'), details.map((p) => h('tr', {},
          h('th', { scope: 'row' }, p.place || ''),
          h('td', {}, p.field ? h('code', {}, p.field) : ''),
          h('td', {}, p.message))));
        problems.hidden = false;
        warn(s('import_rejected', { n: details.length }));
        problems.focus();
      } else {
        shared.showFormError(importForm, err);
      }
    } finally {
      button.disabled = false;
      importForm.removeAttribute('aria-busy');
    }
  });
}

async function init() {
  try {
    if (ADMIN) proctors = (await api('GET', '/api/proctors')).proctors;
    const es = await loadSession();
    await Promise.all([loadRegistrations(), loadCheckIns()]);
    const edit = $('edit-form');
    if (edit && es.state === 'planned') {
      shared.fillSessionForm(edit, es);
      const refillReleases = shared.initReleaseSelect(edit.querySelector('select[data-fill="releases"]'));
      await initSelects(edit);
      await refillReleases();
      edit.addEventListener('submit', (event) => {
        event.preventDefault();
        clearFieldErrors(edit);
        act(async () => {
          render((await api('PATCH', BASE, { json: shared.sessionBody(edit) })).session);
          say(s('saved'));
        }, edit);
      });
    }
  } catch (err) {
    shared.showFormError(null, err);
  }
}

init();
