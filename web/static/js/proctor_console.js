// The proctor console (/proctor/sessions/<id>, docs/proctoring.md): a live seat map per room, the
// incident feed with its evidence, and the proctor's actions (each with a reason).
//
// Live data comes over Socket.IO (namespace /proctor, the staff session cookie authenticates):
// `watch {session_id}` answers with a snapshot; then the server pushes `seats` (changed seats,
// batched), `incident` (new or changed), `beats` (heartbeat times) and `warning_ack`. Nothing is
// polled; after a reconnect the page asks for a fresh snapshot. Remaining times and heartbeat
// ages tick locally on the server's clock (offset from the `server_time` of every message).
// Actions are posted to /api/v1/proctor/sessions/<id>/actions; the pushes then show the result.
// Supervisors (and anyone the snapshot calls read_only) see everything without the controls; the
// server refuses their actions anyway.

import {
  api, clearMessages, h, say, seg, showError, t, warn,
} from './common.js';

/** A text of the console ("proc.<key>" of the i18n block), %(name)s filled in. */
const p = (key, params) => t(`proc.${key}`, params);

const $ = (id) => document.getElementById(id);
const root = $('console');
const SID = Number(root.dataset.sessionId);
const ADMIN = root.dataset.admin === '1';
const ACTIONS_URL = `/api/v1/proctor/sessions/${seg(SID)}/actions`;
const INCIDENTS_URL = `/api/v1/proctor/sessions/${seg(SID)}/incidents?limit=1000`;
const ACK_TIMEOUT_MS = 15_000;
const EN = (document.body.dataset.locale || '') === 'en';

const STATE_ICON = {
  not_checked_in: '○',
  waiting: '⏳',
  answering: '✎',
  disconnected: '⚠',
  paused: '⏸',
  submitted: '✓',
  voided: '✕',
};
const SEVERITY_RANK = { info: 0, low: 1, medium: 2, high: 3 };
const SEAT_ACTIONS = ['warn', 'pause', 'resume', 'extra_time', 'approve_move', 'force_submit', 'void'];
const ROOM_ACTIONS = ['start_room', 'pause', 'resume', 'extra_time', 'warn'];

const C = {
  readOnly: root.dataset.readOnly === '1',
  socket: null,
  offsetMs: 0, // server clock − this computer's clock
  loaded: false,
  rooms: new Map(), // room id -> {id, name, started_at, seats: Map(reg id -> seat)}
  roomOf: new Map(), // reg id -> room id
  cards: new Map(), // reg id -> {li, parts...}
  incidents: new Map(), // incident id -> incident
  alerted: new Set(), // high incidents already announced
  selected: new Set(), // reg ids
  dialog: null, // what the open action dialog will do
  alertIncident: null,
  audio: null,
  allLoaded: false, // the resolved incidents were fetched for "All incidents"
  gapMs: 20_000, // the policy's heartbeat gap: an older heartbeat is shown as stale
};

// -- time -----------------------------------------------------------------------------------------

/** Milliseconds since the epoch of a server time: ISO text, epoch seconds or epoch ms. */
function toMs(value) {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function serverNow() {
  return Date.now() + C.offsetMs;
}

function learnServerTime(value) {
  const ms = toMs(value);
  if (ms !== null) C.offsetMs = ms - Date.now();
}

function fmtDuration(seconds) {
  const total = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${hours}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

function fmtAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s < 120 ? p('seconds', { n: s }) : p('minutes', { n: Math.floor(s / 60) });
}

function fmtClock(ms) {
  if (ms === null) return '';
  return new Date(ms).toLocaleTimeString(EN ? 'en-GB' : 'zh-CN', {
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  });
}

const timeEl = (value) => {
  const ms = toMs(value);
  return ms === null ? '' : h('time', { datetime: new Date(ms).toISOString() }, fmtClock(ms));
};

// -- seats ----------------------------------------------------------------------------------------

function seatLabel(seat) {
  return seat && seat.seat !== null && seat.seat !== undefined ? p('seat_n', { n: seat.seat }) : p('no_seat');
}

/** Whether this page may act in a room (a supervisor who also proctors acts in their rooms). */
function canAct(roomId) {
  const room = C.rooms.get(roomId);
  return !C.readOnly && (!room || room.can_act !== false);
}

function seatOf(regId) {
  const room = C.rooms.get(C.roomOf.get(regId));
  return room ? room.seats.get(regId) : null;
}

function remainingOf(seat) {
  if (['not_checked_in', 'submitted', 'voided'].includes(seat.state)) return null;
  if (seat.state === 'paused' || seat.state === 'waiting') {
    return typeof seat.remaining_seconds === 'number' ? seat.remaining_seconds : null;
  }
  const deadline = toMs(seat.deadline);
  if (deadline !== null) return Math.max(0, (deadline - serverNow()) / 1000);
  return typeof seat.remaining_seconds === 'number' ? seat.remaining_seconds : null;
}

function makeCard(seat, roomId) {
  const regId = seat.registration_id;
  const acts = canAct(roomId);
  const li = h('li', { class: 'seat', id: `seat-${regId}`, tabindex: '-1', dataset: { reg: String(regId) } });
  const card = {
    li,
    check: null,
    number: h('span', { class: 'seat-no' }),
    state: h('span', { class: 'seat-state' }),
    name: h('p', { class: 'seat-name' }),
    progress: h('p', { class: 'seat-progress' }),
    bar: h('progress', { max: '1', value: '0', 'aria-hidden': 'true' }),
    time: h('p', { class: 'seat-time' }),
    beat: h('p', { class: 'seat-beat' }),
    flags: h('ul', { class: 'seat-flags' }),
    ip: h('p', { class: 'seat-ip muted' }),
    act: null,
  };
  const top = h('div', { class: 'seat-top' });
  if (acts) {
    card.check = h('input', { type: 'checkbox', class: 'seat-check' });
    card.check.addEventListener('change', () => {
      if (card.check.checked) C.selected.add(regId);
      else C.selected.delete(regId);
      updateBulk();
    });
    top.append(card.check);
  }
  top.append(card.number, card.state);
  li.append(top, card.name, card.progress, card.bar, card.time, card.beat, card.flags, card.ip);
  if (acts) {
    card.act = h('button', { type: 'button', class: 'small seat-act' }, p('act'));
    card.act.addEventListener('click', () => openSeatActions(regId));
    li.append(card.act);
  }
  C.cards.set(regId, card);
  return card;
}

function fillCard(card, seat) {
  const { li } = card;
  li.dataset.state = seat.state;
  li.dataset.severity = seat.open_incidents ? (seat.max_severity || 'low') : '';
  card.number.textContent = seatLabel(seat);
  card.state.replaceChildren(
    h('span', { class: 'state-icon', 'aria-hidden': 'true' }, STATE_ICON[seat.state] || '?'),
    ` ${p(`state.${seat.state}`)}`,
  );
  card.state.className = `seat-state state-${seat.state}`;
  card.name.replaceChildren(seat.name || '', ' ', h('span', { class: 'muted ticket' }, seat.ticket_number || ''));
  const total = Number(seat.total) || 0;
  const answered = Number(seat.answered) || 0;
  card.progress.textContent = total ? p('progress', { answered, total }) : '';
  card.bar.hidden = !total;
  card.bar.value = total ? answered / total : 0;
  const flags = [];
  if (seat.open_incidents) {
    const severity = seat.max_severity || 'low';
    flags.push(h('li', { class: `badge sev sev-${severity}` },
      `${p('incidents_n', { n: seat.open_incidents })} · ${p(`severity.${severity}`)}`));
  }
  if (seat.move_pending) flags.push(h('li', { class: 'badge flag-move' }, p('move_pending')));
  if (seat.warnings_unacked) flags.push(h('li', { class: 'badge flag-warn' }, p('warnings_unacked')));
  card.flags.replaceChildren(...flags);
  card.flags.hidden = !flags.length;
  card.ip.textContent = seat.ip || '';
  if (card.check) {
    card.check.setAttribute('aria-label', p('select_seat', { seat: seat.seat ?? '', name: seat.name || '' }));
    card.check.checked = C.selected.has(seat.registration_id);
  }
  if (card.act) card.act.setAttribute('aria-label', p('act_on', { name: `${seatLabel(seat)} ${seat.name || ''}` }));
  tickCard(card, seat);
}

/** The parts that change with time alone: remaining time and heartbeat age. */
function tickCard(card, seat) {
  const left = remainingOf(seat);
  const timeText = left === null ? '' : p('remaining', { time: fmtDuration(left) });
  if (card.time.textContent !== timeText) card.time.textContent = timeText;
  card.time.classList.toggle('low', left !== null && left <= 300 && seat.state === 'answering');
  const beat = toMs(seat.last_beat);
  let beatText = '';
  if (beat !== null) beatText = p('beat_age', { age: fmtAge((serverNow() - beat) / 1000) });
  else if (!['not_checked_in', 'submitted', 'voided'].includes(seat.state)) beatText = p('no_beat');
  if (card.beat.textContent !== beatText) card.beat.textContent = beatText;
  card.beat.classList.toggle('stale', beat !== null && serverNow() - beat > C.gapMs
    && !['submitted', 'voided'].includes(seat.state));
}

// -- filters, sorting, rooms ----------------------------------------------------------------------

function filters() {
  return {
    state: $('f-state').value,
    incidents: $('f-incidents').checked,
    sort: $('f-sort').value,
  };
}

function shows(seat, f) {
  if (f.state && seat.state !== f.state) return false;
  if (f.incidents && !seat.open_incidents) return false;
  return true;
}

function compare(f) {
  const bySeat = (a, b) => (a.seat ?? 1e9) - (b.seat ?? 1e9) || a.registration_id - b.registration_id;
  if (f.sort === 'progress') {
    const share = (s) => (Number(s.total) ? Number(s.answered) / Number(s.total) : -1);
    return (a, b) => share(a) - share(b) || bySeat(a, b);
  }
  if (f.sort === 'incidents') {
    return (a, b) => (b.open_incidents || 0) - (a.open_incidents || 0)
      || (SEVERITY_RANK[b.max_severity] || 0) - (SEVERITY_RANK[a.max_severity] || 0) || bySeat(a, b);
  }
  return bySeat;
}

function roomSection(room) {
  let section = $(`room-${room.id}`);
  if (section) return section;
  const titleId = `room-${room.id}-title`;
  const head = h('div', { class: 'room-head' },
    h('h2', { id: titleId }, room.name),
    h('p', { class: 'muted room-meta' }));
  if (canAct(room.id)) {
    const all = h('input', { type: 'checkbox', class: 'room-check' });
    all.setAttribute('aria-label', p('select_room', { room: room.name }));
    all.addEventListener('change', () => {
      for (const seat of visibleSeats(C.rooms.get(room.id))) {
        if (all.checked) C.selected.add(seat.registration_id);
        else C.selected.delete(seat.registration_id);
        const card = C.cards.get(seat.registration_id);
        if (card && card.check) card.check.checked = all.checked;
      }
      updateBulk();
    });
    const buttons = ROOM_ACTIONS.map((action) => h('button', {
      type: 'button', class: `small${action === 'start_room' ? ' primary' : ''}`, dataset: { action },
      onclick: () => openAction({
        actions: [action], action, target: { kind: 'room', roomId: room.id, label: p('target_room', { room: room.name }) },
      }),
    }, p(`action.${action}`)));
    head.append(h('div', { class: 'room-tools' },
      h('label', { class: 'check' }, all, ` ${p('select_all_shown')}`),
      h('div', { class: 'buttons room-actions', role: 'group', 'aria-label': room.name }, buttons)));
  }
  section = h('section', { class: 'card room', id: `room-${room.id}`, 'aria-labelledby': titleId },
    head,
    h('ul', { class: 'seat-map', 'aria-labelledby': titleId }),
    h('p', { class: 'hint room-empty', hidden: true }, p('no_seats')));
  $('rooms').append(section);
  return section;
}

function visibleSeats(room) {
  const f = filters();
  return [...room.seats.values()].filter((s) => shows(s, f)).sort(compare(f));
}

function renderRoom(room) {
  const section = roomSection(room);
  const f = filters();
  const started = toMs(room.started_at);
  const meta = [started ? p('room_started', { time: fmtClock(started) }) : p('room_not_started')];
  const list = section.querySelector('.seat-map');
  const seats = [...room.seats.values()].sort(compare(f));
  const shown = seats.filter((s) => shows(s, f));
  meta.push(p('room_counts', { shown: shown.length, total: seats.length }));
  section.querySelector('.room-meta').textContent = meta.join(' · ');
  const start = section.querySelector('[data-action="start_room"]');
  if (start) start.hidden = Boolean(started);
  // Keep existing cards (focus and checkboxes survive); move them only when the order changed.
  const wanted = seats.map((s) => {
    const card = C.cards.get(s.registration_id) || makeCard(s, room.id);
    card.li.hidden = !shows(s, f);
    return card.li;
  });
  const current = [...list.children];
  if (current.length !== wanted.length || current.some((node, i) => node !== wanted[i])) {
    list.replaceChildren(...wanted);
  }
  section.querySelector('.room-empty').hidden = shown.length > 0;
}

function renderAll() {
  for (const room of C.rooms.values()) renderRoom(room);
  $('rooms').setAttribute('aria-busy', 'false');
  if (C.loaded && !C.rooms.size) $('rooms').replaceChildren(h('p', { class: 'hint' }, p('no_rooms')));
  updateBulk();
}

function putSeat(roomId, seat) {
  const room = C.rooms.get(roomId);
  if (!room) return;
  room.seats.set(seat.registration_id, seat);
  C.roomOf.set(seat.registration_id, roomId);
  const card = C.cards.get(seat.registration_id) || makeCard(seat, roomId);
  fillCard(card, seat);
}

function updateBulk() {
  const bar = $('bulk-bar');
  if (C.readOnly) {
    bar.hidden = true;
    return;
  }
  for (const id of [...C.selected]) if (!C.roomOf.has(id)) C.selected.delete(id);
  $('bulk-count').textContent = p('selected_n', { n: C.selected.size });
  for (const button of bar.querySelectorAll('button')) button.disabled = !C.selected.size;
}

// -- snapshot and pushes --------------------------------------------------------------------------

function applySnapshot(snap) {
  learnServerTime(snap.server_time);
  const gap = Number(snap.policy && snap.policy.heartbeat_gap_seconds);
  if (gap > 0) C.gapMs = gap * 1000;
  if (snap.read_only === true && !C.readOnly) setReadOnly();
  const known = new Set(C.incidents.keys());
  const first = !C.loaded;
  C.rooms.clear();
  C.roomOf.clear();
  for (const room of snap.rooms || []) {
    C.rooms.set(room.id, {
      id: room.id, name: room.name, started_at: room.started_at, can_act: room.can_act, seats: new Map(),
    });
    for (const seat of room.seats || []) putSeat(room.id, seat);
  }
  for (const section of [...$('rooms').querySelectorAll('section.room')]) {
    if (!C.rooms.has(Number(section.id.slice(5)))) section.remove();
  }
  C.loaded = true;
  renderAll();
  for (const incident of snap.incidents || []) {
    // Incidents that were there when the page opened are not news; ones that appeared while the
    // connection was down are.
    applyIncident(incident, { quiet: first || known.has(incident.id) });
  }
  renderFeed();
}

function applySeats(data) {
  if (!data) return;
  learnServerTime(data.server_time);
  const room = C.rooms.get(data.room_id);
  if (!room) return;
  for (const seat of data.seats || []) putSeat(room.id, seat);
  if (data.started_at !== undefined) room.started_at = data.started_at;
  renderRoom(room);
  updateBulk();
}

function applyBeats(data) {
  if (!data || !data.beats) return;
  learnServerTime(data.server_time);
  for (const [reg, beat] of Object.entries(data.beats)) {
    const seat = seatOf(Number(reg));
    if (!seat) continue;
    seat.last_beat = beat;
    const card = C.cards.get(seat.registration_id);
    if (card) tickCard(card, seat);
  }
}

function applyIncident(incident, { quiet = false } = {}) {
  if (!incident || incident.id === undefined) return;
  const isNew = !C.incidents.has(incident.id);
  C.incidents.set(incident.id, incident);
  if (incident.severity === 'high' && incident.status === 'open' && !C.alerted.has(incident.id)) {
    C.alerted.add(incident.id);
    if (!quiet) raiseAlert(incident);
  }
  if (!quiet || isNew) renderFeed();
}

// -- incident feed --------------------------------------------------------------------------------

function incidentTime(incident, which) {
  const keys = which === 'first'
    ? ['first_at', 'opened_at', 'created_at', 'at']
    : ['last_at', 'updated_at', 'first_at', 'opened_at', 'created_at', 'at'];
  for (const key of keys) if (incident[key]) return toMs(incident[key]);
  return null;
}

function incidentSeatText(incident) {
  const seat = seatOf(incident.registration_id) || {};
  const number = incident.seat ?? seat.seat;
  const name = incident.name || incident.candidate_name || seat.name || '';
  const ticket = incident.ticket_number || seat.ticket_number || '';
  if (!incident.registration_id && !name) {
    const room = C.rooms.get(incident.room_id);
    return room ? room.name : '';
  }
  return p('incident_seat', { seat: number ?? '—', name, ticket });
}

function isTime(key, value) {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)
    || (/(^|_)(at|from|to|time)$/.test(key) && typeof value === 'number' && value > 1e9);
}

function evidenceValue(key, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? '✓' : '✗';
  if (key === 'signal' && typeof value === 'string') {
    const label = t(`proc.signal.${value}`);
    return label.startsWith('proc.') ? value : label;
  }
  if (key === 'duration_ms' && typeof value === 'number') return fmtDuration(value / 1000);
  if (key === 'seconds' && typeof value === 'number') return fmtDuration(value);
  if (isTime(key, value)) return timeEl(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Facts as a list of terms ("Address: 10.0.0.7"); nested details are flattened into it. */
function terms(facts) {
  const dl = h('dl', { class: 'evidence-terms' });
  const flat = { ...facts };
  if (flat.detail && typeof flat.detail === 'object' && !Array.isArray(flat.detail)) {
    Object.assign(flat, flat.detail);
    delete flat.detail;
  }
  for (const [key, value] of Object.entries(flat)) {
    const label = t(`proc.evidence_labels.${key}`);
    dl.append(h('dt', {}, label.startsWith('proc.') ? key : label), h('dd', {}, evidenceValue(key, value)));
  }
  return dl;
}

/**
 * The evidence of an incident: its facts (from, to, seconds, addresses, devices …) and the
 * merged occurrences (`events`, the last ten, newest first).
 */
function evidenceList(evidence) {
  if (!evidence || typeof evidence !== 'object') return null;
  const { events, ...facts } = Array.isArray(evidence) ? { events: evidence } : evidence;
  const box = h('div', { class: 'evidence' });
  if (Object.keys(facts).length) box.append(terms(facts));
  if (Array.isArray(events) && events.length) {
    const list = h('ol', { class: 'evidence-events', reversed: true });
    for (const entry of events.slice(-10).reverse()) {
      list.append(h('li', {}, entry && typeof entry === 'object' ? terms(entry) : String(entry)));
    }
    box.append(list);
  }
  return box.childNodes.length ? box : null;
}

function incidentItem(incident) {
  const first = incidentTime(incident, 'first');
  const last = incidentTime(incident, 'last');
  const severity = incident.severity || 'info';
  const status = incident.status || 'open';
  const times = first !== null && last !== null && Math.abs(last - first) >= 1000
    ? p('incident_times', { first: fmtClock(first), last: fmtClock(last) }) : fmtClock(first ?? last);
  const head = h('p', { class: 'incident-head' },
    h('span', { class: `badge sev sev-${severity}` }, p(`severity.${severity}`)), ' ',
    h('strong', {}, t(`proc.kind.${incident.kind}`).startsWith('proc.') ? incident.kind : p(`kind.${incident.kind}`)),
    incident.count > 1 ? ` · ${p('incident_count', { n: incident.count })}` : '',
    ' · ', h('span', { class: `incident-status st-${status}` }, p(`incident_status.${status}`)));
  const item = h('li', {
    class: `incident sev-${severity} st-${status}`, id: `incident-${incident.id}`, tabindex: '-1',
    dataset: { kind: incident.kind || '', reg: String(incident.registration_id ?? '') },
  }, head, h('p', { class: 'incident-seat' }, incidentSeatText(incident)),
  h('p', { class: 'muted incident-times' }, times));
  if (typeof incident.duration_ms === 'number') {
    item.append(h('p', {}, p('duration', { time: fmtDuration(incident.duration_ms / 1000) })));
  }
  const evidence = evidenceList(incident.evidence);
  if (evidence) {
    item.append(h('details', { class: 'incident-evidence', open: severity === 'high' || undefined },
      h('summary', {}, p('evidence')), evidence));
  }
  const buttons = [];
  if (incident.registration_id && C.roomOf.has(incident.registration_id)) {
    buttons.push(h('button', { type: 'button', class: 'small', onclick: () => focusSeat(incident.registration_id) }, p('show_seat')));
  }
  if (canAct(incident.room_id) && status === 'open') {
    const target = { kind: 'incident', incident, label: p('target_incident', { kind: p(`kind.${incident.kind}`), seat: incidentSeatText(incident) }) };
    if (incident.kind === 'disconnected') {
      buttons.push(h('button', { type: 'button', class: 'small primary', onclick: () => openAction({ actions: ['credit_disconnection'], action: 'credit_disconnection', target }) }, p('credit')));
    }
    if (incident.kind === 'device_change') {
      buttons.push(h('button', { type: 'button', class: 'small primary', onclick: () => openAction({ actions: ['approve_move'], action: 'approve_move', target }) }, p('approve_move')));
    }
    buttons.push(
      h('button', { type: 'button', class: 'small', onclick: () => openAction({ actions: ['dismiss_incident'], action: 'dismiss_incident', target }) }, p('dismiss')),
      h('button', { type: 'button', class: 'small danger', onclick: () => openAction({ actions: ['confirm_incident'], action: 'confirm_incident', target }) }, p('confirm')),
    );
  }
  if (buttons.length) item.append(h('div', { class: 'buttons' }, buttons));
  return item;
}

function renderFeed() {
  const wanted = $('f-incident-status').value;
  const items = [...C.incidents.values()]
    .filter((i) => !wanted || (i.status || 'open') === wanted)
    .sort((a, b) => (incidentTime(b, 'last') ?? 0) - (incidentTime(a, 'last') ?? 0) || b.id - a.id);
  const feed = $('incident-feed');
  const focused = document.activeElement && feed.contains(document.activeElement)
    ? document.activeElement.closest('li.incident') : null;
  feed.replaceChildren(...items.map(incidentItem));
  if (!items.length) feed.append(h('li', { class: 'hint' }, p('no_incidents')));
  if (focused && $(focused.id)) $(focused.id).focus();
}

/** "All incidents": the snapshot holds the open ones; the resolved ones come from the API. */
async function showAllIncidents() {
  renderFeed();
  if ($('f-incident-status').value || C.allLoaded) return;
  try {
    const { incidents } = await api('GET', INCIDENTS_URL);
    C.allLoaded = true;
    for (const incident of incidents) {
      if (!C.incidents.has(incident.id)) applyIncident(incident, { quiet: true });
    }
    renderFeed();
  } catch (err) {
    showError(err);
  }
}

function focusSeat(regId) {
  const card = C.cards.get(regId);
  if (!card) return;
  if (card.li.hidden) {
    $('f-state').value = '';
    $('f-incidents').checked = false;
    renderAll();
  }
  card.li.scrollIntoView({ block: 'center' });
  card.li.focus();
}

// -- alerts ---------------------------------------------------------------------------------------

function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!C.audio) C.audio = new Ctx();
  if (C.audio.state === 'suspended') C.audio.resume().catch(() => {});
  return C.audio;
}

/** Three short tones made with WebAudio (no sound file). Returns what happened. */
function beep() {
  if (!$('sound-on').checked) return 'muted';
  const ctx = unlockAudio();
  if (!ctx) return 'unsupported';
  const start = ctx.currentTime + 0.02;
  [880, 660, 880].forEach((freq, i) => {
    const at = start + i * 0.25;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.22);
  });
  return ctx.state === 'running' ? 'played' : 'blocked';
}

function raiseAlert(incident) {
  const box = $('high-alert');
  C.alertIncident = incident;
  $('high-alert-text').textContent = p('new_high', {
    kind: p(`kind.${incident.kind}`), seat: incidentSeatText(incident),
  });
  box.hidden = false;
  const sound = beep();
  box.dataset.sound = sound;
  box.dataset.incident = String(incident.id);
  if (sound === 'blocked') say(p('sound_blocked'));
}

// -- actions --------------------------------------------------------------------------------------

function openSeatActions(regId) {
  const seat = seatOf(regId);
  if (!seat) return;
  const actions = SEAT_ACTIONS.filter((a) => a !== 'approve_move' || seat.move_pending);
  let action = 'warn';
  if (seat.state === 'paused') action = 'resume';
  if (seat.move_pending) action = 'approve_move';
  openAction({
    actions,
    action,
    target: { kind: 'seats', ids: [regId], label: p('target_seat', { seat: seat.seat ?? '—', name: seat.name || '' }) },
  });
}

function openBulk(action) {
  if (!C.selected.size) {
    warn(p('nothing_selected'));
    return;
  }
  openAction({
    actions: [action],
    action,
    target: {
      kind: 'seats', ids: [...C.selected], bulk: true, label: p('target_seats', { n: C.selected.size }),
    },
  });
}

function showFields() {
  const action = $('a-action').value;
  $('action-title').textContent = p(`action.${action}`);
  $('minutes-field').hidden = action !== 'extra_time';
  $('text-field').hidden = action !== 'warn';
  $('action-go').className = ['force_submit', 'void', 'close_session', 'confirm_incident'].includes(action)
    ? 'danger' : 'primary';
}

function openAction(spec) {
  if (C.readOnly) return;
  C.dialog = spec;
  const select = $('a-action');
  select.replaceChildren(...spec.actions.map((a) => h('option', { value: a }, p(`action.${a}`))));
  select.value = spec.action;
  $('action-choice').hidden = spec.actions.length < 2;
  $('action-target').textContent = spec.target.label;
  $('a-reason').value = '';
  $('a-text').value = '';
  $('a-minutes').value = '5';
  actionError('');
  showFields();
  const dialog = $('action-dialog');
  dialog.showModal();
  const first = spec.actions.length > 1 ? select
    : spec.action === 'warn' ? $('a-text') : spec.action === 'extra_time' ? $('a-minutes') : $('a-reason');
  first.focus();
}

function actionError(message, input = null) {
  const box = $('action-error');
  box.textContent = message;
  box.hidden = !message;
  for (const id of ['a-reason', 'a-text', 'a-minutes']) $(id).removeAttribute('aria-invalid');
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

function resultSummary(label, reply) {
  const rows = (reply && (reply.results || reply.registrations)) || null;
  if (!Array.isArray(rows) || !rows.length) return p('done', { action: label });
  const bad = rows.filter((r) => !r.ok);
  if (!bad.length) return p('done_all', { action: label, n: rows.length });
  const errors = bad.slice(0, 3).map((r) => {
    const seat = seatOf(r.registration_id);
    return `${seat ? seatLabel(seat) : r.registration_id}: ${r.message || r.error}`;
  }).join('; ');
  return p('done_some', { action: label, ok: rows.length - bad.length, bad: bad.length, errors });
}

async function submitAction(event) {
  event.preventDefault();
  const spec = C.dialog;
  if (!spec) return;
  const action = $('a-action').value;
  const reason = $('a-reason').value.trim();
  const body = { action, reason };
  if (action === 'extra_time') {
    const minutes = Number($('a-minutes').value);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 240) {
      actionError(p('minutes_needed'), $('a-minutes'));
      return;
    }
    body.seconds = minutes * 60;
  }
  if (action === 'warn') {
    body.text = $('a-text').value.trim();
    if (!body.text) {
      actionError(p('text_needed'), $('a-text'));
      return;
    }
  }
  if (reason.length < 2) {
    actionError(p('reason_short'), $('a-reason'));
    return;
  }
  const { target } = spec;
  if (target.kind === 'seats') body.registration_ids = target.ids;
  if (target.kind === 'room') body.room_id = target.roomId;
  if (target.kind === 'incident') {
    body.incident_id = target.incident.id;
    if (target.incident.registration_id) body.registration_ids = [target.incident.registration_id];
    else if (target.incident.room_id) body.room_id = target.incident.room_id;
  }
  const go = $('action-go');
  go.disabled = true;
  clearMessages();
  try {
    const reply = await api('POST', ACTIONS_URL, { json: body });
    $('action-dialog').close();
    say(resultSummary(p(`action.${action}`), reply));
    if (target.bulk) clearSelection();
    refresh();
  } catch (err) {
    actionError(err.message || String(err), err.field === 'reason' ? $('a-reason') : null);
  } finally {
    go.disabled = false;
  }
}

function clearSelection() {
  C.selected.clear();
  for (const card of C.cards.values()) if (card.check) card.check.checked = false;
  for (const box of document.querySelectorAll('.room-check')) box.checked = false;
  updateBulk();
}

function setReadOnly() {
  C.readOnly = true;
  $('read-only').hidden = false;
  $('bulk-bar').hidden = true;
  for (const node of document.querySelectorAll('.seat-check, .seat-act, .room-tools, .incident .buttons, #close-session')) {
    node.remove();
  }
  for (const card of C.cards.values()) {
    card.check = null;
    card.act = null;
  }
}

// -- the live connection --------------------------------------------------------------------------

function setLive(state, text) {
  const box = $('live');
  box.dataset.state = state;
  $('live-text').textContent = text;
}

function refresh() {
  const { socket } = C;
  if (!socket || !socket.connected) return;
  socket.timeout(ACK_TIMEOUT_MS).emit('watch', { session_id: SID }, (err, reply) => {
    if (err || !reply) {
      warn(p('live.refused', { message: err ? String(err.message || err) : 'no reply' }));
      return;
    }
    if (reply.ok === false) {
      setLive('refused', p('live.refused', { message: reply.message || reply.error }));
      warn(p('live.refused', { message: reply.message || reply.error }));
      return;
    }
    applySnapshot(reply.snapshot || reply);
    setLive('live', p('live.live'));
  });
}

function connect() {
  if (typeof window.io !== 'function') {
    setLive('refused', p('live.refused', { message: 'socket.io client missing (/vendor/socket.io.min.js)' }));
    return;
  }
  const socket = window.io('/proctor', { transports: ['websocket', 'polling'], tryAllTransports: true });
  C.socket = socket;
  socket.on('connect', refresh);
  socket.on('disconnect', () => setLive('offline', p('live.offline')));
  socket.on('connect_error', (err) => {
    const data = err && err.data;
    if (data && data.error) {
      setLive('refused', p('live.refused', { message: data.message || data.error }));
      window.setTimeout(() => { if (!socket.connected) socket.connect(); }, 10_000);
    } else {
      setLive('offline', p('live.offline'));
    }
  });
  socket.on('seats', applySeats);
  socket.on('incident', (data) => applyIncident(data && data.incident ? data.incident : data));
  socket.on('beats', applyBeats);
  // A candidate acknowledged a warning: shown at once (the seat's row follows in the next batch).
  socket.on('warning_ack', (data) => {
    const seat = data ? seatOf(data.registration_id) : null;
    if (!seat || !seat.warnings_unacked) return;
    seat.warnings_unacked -= 1;
    const card = C.cards.get(seat.registration_id);
    if (card) fillCard(card, seat);
  });
}

// -- wiring ---------------------------------------------------------------------------------------

function tick() {
  $('server-clock').textContent = fmtClock(serverNow());
  for (const [regId, card] of C.cards) {
    if (card.li.hidden || !card.li.isConnected) continue;
    const seat = seatOf(regId);
    if (seat) tickCard(card, seat);
  }
}

function wire() {
  for (const id of ['f-state', 'f-sort', 'f-incidents']) $(id).addEventListener('change', renderAll);
  $('seat-filters').addEventListener('submit', (event) => event.preventDefault());
  $('f-incident-status').addEventListener('change', showAllIncidents);
  $('high-alert-close').addEventListener('click', () => { $('high-alert').hidden = true; });
  $('high-alert-show').addEventListener('click', () => {
    const incident = C.alertIncident;
    $('high-alert').hidden = true;
    if (!incident) return;
    const item = $(`incident-${incident.id}`);
    if (item) {
      item.scrollIntoView({ block: 'center' });
      item.focus();
    }
  });
  // Browsers start audio only after a user gesture: the first click or key unlocks it.
  document.addEventListener('pointerdown', unlockAudio, { once: true });
  document.addEventListener('keydown', unlockAudio, { once: true });
  $('action-form').addEventListener('submit', submitAction);
  $('action-cancel').addEventListener('click', () => $('action-dialog').close());
  $('a-action').addEventListener('change', showFields);
  for (const button of document.querySelectorAll('[data-bulk]')) {
    button.addEventListener('click', () => openBulk(button.dataset.bulk));
  }
  $('bulk-clear').addEventListener('click', clearSelection);
  const close = $('close-session');
  if (close && ADMIN) {
    close.addEventListener('click', () => {
      if (!window.confirm(p('confirm_close'))) return;
      openAction({ actions: ['close_session'], action: 'close_session', target: { kind: 'session', label: p('target_session') } });
    });
  }
  window.setInterval(tick, 1000);
}

if (C.readOnly) setReadOnly();
wire();
updateBulk();
tick();
connect();
