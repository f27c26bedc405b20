// The exam page (/exam/sit): waiting room, questions, answer sheet, countdown, saves and
// submission, over Socket.IO (namespace /candidate, protocol version 1, docs/protocol.md).
// How it behaves is described in docs/candidate_page.md.
//
// Saves: every change goes into the outbox (localStorage) first and is then sent, one at a time
// in seq order, with an acknowledgement; an entry leaves the outbox only on an ok ack. After
// every (re)connect the page sends hello, merges the server's state with the outbox (the outbox
// is newer) and replays the outbox.
// Time: the countdown runs on the server clock estimated from round trips (candidate_store.js),
// so a wrong clock on this computer does not change it.
// Proctoring (docs/proctoring.md): the socket carries this computer's device id; heartbeats,
// integrity signals and the proctor's warnings are in candidate_proctoring.js; the proctor's
// actions arrive as `state` pushes (pause, resume, extra time, submit, void). A seat in use on
// another computer, or a move to this computer that waits for approval, gets its own screen and
// the page retries by itself.

import * as C from './candidate_common.js';
import * as P from './candidate_proctoring.js';
import * as Store from './candidate_store.js';

const $ = (id) => document.getElementById(id);
const TIME_SYNC_MS = 30_000;
const WAIT_POLL_MS = 15_000; // a fallback: the server pushes `started` at a unified start
const ACK_TIMEOUT_MS = 10_000;
const TYPE_DEBOUNCE_MS = 600;
const POSITION_DEBOUNCE_MS = 500;
const WARNINGS = [15, 5, 1]; // minutes left
const MOVE_RETRY_MS = 4_000; // waiting for the proctor to approve the move to this computer
const SEAT_RETRY_MS = 8_000; // the seat is in use on another computer
const NOTICE_MS = 20_000;

const DEFAULT_TITLES = JSON.parse(($('default-section-titles') || {}).textContent || '{}');

const auth = C.loadSignIn();
if (!auth) window.location.replace('/exam');

const S = {
  socket: null,
  connected: false,
  finished: false, // submitted, voided or signed out: nothing more to send
  view: 'loading',
  state: null,
  clock: new Store.ServerClock(),
  outbox: auth ? new Store.Outbox(auth.ticket, auth.session.code) : null,
  sending: null, // the entry waiting for its ack
  sendId: 0, // which send the pending ack belongs to
  expired: false, // the countdown reached zero (the server submits at the deadline)
  blocked: null, // 'paused' | 'time_up' | 'submitted': saves wait
  resync: false, // an ack said accepted: false; ask for the server's state once the outbox is empty
  retryTimer: null,
  paper: null,
  items: [],
  sections: new Map(),
  answers: new Map(), // position -> answer (as sent: "T", ["A"], ["x", "y"])
  flags: new Set(),
  position: 1,
  deadlineMs: null,
  frozenRemaining: null, // paused: the server's remaining seconds
  earliestSubmitMs: null,
  scheduledStartMs: null,
  windowEndMs: null,
  startMode: auth ? auth.session.start_mode : 'unified',
  warned: new Set(),
  typing: new Map(), // position -> timer of a fill-in save waiting for typing to pause
  positionTimer: null,
  pollTimer: null,
  syncTimer: null,
  shown: null, // {position, value} the question as rendered
  device: null, // 'seat_in_use' | 'move_required' while the server refuses this computer
  deviceTimer: null,
  noticeTimer: null,
  integrity: null,
};

// -- small helpers --------------------------------------------------------------------------------

function announce(message, urgent = false) {
  const box = $(urgent ? 'announce-urgent' : 'announce');
  box.textContent = '';
  // Emptied first and filled a moment later, so a repeated message is announced again.
  window.setTimeout(() => { box.textContent = message; }, 50);
}

function showAlert(message) {
  const box = $('exam-alert');
  box.replaceChildren();
  if (message) box.append(C.el('p', {}, message));
}

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function isAnswered(value) {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.some((v) => String(v).trim() !== '');
  return value !== '';
}

/** Send an event with an acknowledgement; resolves with the reply or {ok:false, error:'timeout'}. */
function emit(event, data) {
  return new Promise((resolve) => {
    if (!S.socket || !S.socket.connected) {
      resolve({ ok: false, error: 'offline', message: '' });
      return;
    }
    S.socket.timeout(ACK_TIMEOUT_MS).emit(event, data, (err, reply) => {
      if (err) resolve({ ok: false, error: 'timeout', message: String(err.message || err) });
      else resolve(reply || { ok: false, error: 'empty', message: '' });
    });
  });
}

function nowServer() {
  return S.clock.now();
}

// -- views ----------------------------------------------------------------------------------------

const VIEWS = ['loading', 'waiting', 'exam', 'done', 'problem', 'device'];

function showView(name, focusId) {
  const changed = S.view !== name;
  S.view = name;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
  $('open-submit').hidden = name !== 'exam';
  if (name !== 'exam') {
    $('timer-box').hidden = true;
    $('time-warning').hidden = true;
    $('paused-banner').hidden = true;
    $('proctor-notice').hidden = true;
  }
  if (changed && focusId) $(focusId).focus();
}

/** A message about the proctor's action, shown in the bar for a while and announced. */
function notice(message) {
  const box = $('proctor-notice');
  box.textContent = message;
  box.hidden = S.view !== 'exam';
  announce(message, true);
  window.clearTimeout(S.noticeTimer);
  S.noticeTimer = window.setTimeout(() => { box.hidden = true; }, NOTICE_MS);
}

/** The server refuses this computer (another one holds the seat, or a move waits). */
function deviceRefused(kind, socket) {
  const first = S.device !== kind;
  S.device = kind;
  $('device-title').textContent = kind === 'seat_in_use'
    ? C.tr('device.seat_in_use_title') : C.tr('device.move_required_title');
  $('device-text').textContent = kind === 'seat_in_use'
    ? C.tr('device.seat_in_use') : C.tr('device.move_required');
  $('device-retry').textContent = C.tr('device.retrying');
  if (first || S.view !== 'device') showView('device', 'device-title');
  window.clearTimeout(S.deviceTimer);
  S.deviceTimer = window.setTimeout(() => {
    if (!S.finished && !socket.connected) socket.connect();
  }, kind === 'move_required' ? MOVE_RETRY_MS : SEAT_RETRY_MS);
}

function problem(message, { signIn = true } = {}) {
  $('problem-text').textContent = message;
  $('problem-signin').hidden = !signIn;
  showView('problem', 'problem-title');
}

function fillWho() {
  const c = auth.candidate;
  const parts = [c.name, auth.ticket];
  if (c.seat) parts.push(C.tr('exam.seat', { n: c.seat }));
  $('who').textContent = parts.filter(Boolean).join(' · ');
  const title = auth.session.name;
  if (title) {
    $('exam-title').textContent = title;
    document.title = `${title} · ${document.title.split(' · ').pop()}`;
  }
}

// -- connection status ----------------------------------------------------------------------------

function pendingCount() {
  return (S.outbox ? S.outbox.size : 0) + S.typing.size + (S.positionTimer ? 1 : 0);
}

function updateStatus() {
  const box = $('conn');
  const text = $('conn-text');
  let state;
  let label;
  const online = S.connected && navigator.onLine !== false;
  if (!online) {
    state = 'offline';
    label = C.tr('status.offline');
    const n = S.outbox ? S.outbox.size + S.typing.size : 0;
    if (n) label += ` (${C.tr('status.pending_n', { n })})`;
  } else if (!S.state) {
    state = 'connecting';
    label = C.tr('status.connecting');
  } else if (S.state === 'waiting') {
    state = 'saved';
    label = C.tr('status.connected');
  } else if (S.sending || pendingCount()) {
    state = 'saving';
    label = C.tr('status.saving');
  } else {
    state = 'saved';
    label = C.tr('status.saved');
  }
  if (box.dataset.state !== state || text.textContent !== label) {
    box.dataset.state = state;
    text.textContent = label;
  }
}

function setConnected(connected) {
  if (S.connected === connected) return;
  const was = S.connected;
  S.connected = connected;
  if (!S.finished && S.view === 'exam') {
    if (!connected && was) announce(C.tr('status.went_offline'));
    if (connected) announce(C.tr('status.back_online'));
  }
  updateStatus();
}

// -- the socket -----------------------------------------------------------------------------------

function connect() {
  if (typeof window.io !== 'function') {
    problem(C.tr('errors.server', { message: 'socket.io client missing (/vendor/socket.io.min.js)' }),
      { signIn: false });
    return;
  }
  const socket = window.io('/candidate', {
    auth: { token: auth.token, device: C.deviceId() },
    transports: ['websocket', 'polling'],
    // WebSocket first; where a proxy blocks it, fall back to HTTP long-polling (without this
    // option socket.io-client 4.8 would keep retrying the WebSocket only).
    tryAllTransports: true,
  });
  S.socket = socket;
  socket.on('connect', () => {
    S.device = null;
    window.clearTimeout(S.deviceTimer);
    setConnected(true);
    S.integrity.connected();
    hello();
    syncTime();
    window.clearInterval(S.syncTimer);
    S.syncTimer = window.setInterval(syncTime, TIME_SYNC_MS);
  });
  socket.on('disconnect', () => {
    setConnected(false);
    S.integrity.disconnected();
    S.sending = null; // its ack will not come; the entry is still in the outbox
    S.sendId += 1;
  });
  socket.on('connect_error', (err) => {
    setConnected(false);
    const data = err && err.data;
    if (data && data.error === 'unauthorized') {
      S.finished = true;
      problem(C.tr('errors.unauthorized'));
    } else if (data && (data.error === 'seat_in_use' || data.error === 'move_required')) {
      deviceRefused(data.error, socket);
    } else if (data && data.error === 'not_allowed') {
      // Refused by the server: the client does not retry by itself. Ask again later.
      if (S.view === 'loading') problem(C.tr('errors.not_allowed'));
      window.setTimeout(() => { if (!S.finished) socket.connect(); }, 10_000);
    }
    // Network errors: socket.io reconnects by itself; the status says offline meanwhile.
  });
  socket.on('submitted', () => {
    hello();
  });
  // The proctor started the room: fetch the paper now instead of at the next poll.
  socket.on('started', () => {
    hello();
  });
  // A proctor's action: pause, resume, extra time, submitted or voided, an approved move.
  socket.on('state', statePushed);
  socket.on('warning', (warning) => S.integrity.warn(warning));
  window.addEventListener('online', () => {
    updateStatus();
    if (!S.finished && !socket.connected) socket.connect();
  });
  window.addEventListener('offline', updateStatus);
}

async function syncTime() {
  if (!S.connected || S.finished) return;
  const sent = performance.now();
  const reply = await emit('time', { client_time: Date.now() });
  const received = performance.now();
  if (!reply.ok) return;
  S.clock.addSample(Number(reply.server_time), sent, received);
  if (reply.deadline) S.deadlineMs = C.parseTime(reply.deadline);
  if (reply.state === 'paused') S.frozenRemaining = reply.remaining_seconds;
  if (S.state && reply.state && reply.state !== S.state) hello();
  tick();
}

async function hello() {
  if (!S.connected || S.finished) return;
  const sent = performance.now();
  const reply = await emit('hello', {});
  const received = performance.now();
  if (!reply.ok) {
    helloFailed(reply);
    return;
  }
  S.clock.addSample(C.parseTime(reply.server_time), sent, received);
  applyState(reply);
  if (!S.finished) S.integrity.configure(reply);
}

/** A `state` push after a proctor's action (the hello state without the paper). */
function statePushed(st) {
  if (S.finished || !st || !st.state) return;
  const before = { state: S.state, deadlineMs: S.deadlineMs };
  if (st.state === 'waiting' || ((st.state === 'running' || st.state === 'paused') && !S.paper)) {
    hello(); // the paper (or the waiting room) comes with hello
    return;
  }
  applyState(st);
  if (S.finished) return;
  if (st.state === 'paused' && before.state !== 'paused') {
    notice(C.tr('proctor.paused'));
  } else if (st.state === 'running' && before.state === 'paused') {
    notice(C.tr('proctor.resumed'));
  } else if (st.state === 'running' && before.deadlineMs !== null && S.deadlineMs !== null
      && S.deadlineMs - before.deadlineMs >= 1000) {
    const seconds = Math.round((S.deadlineMs - before.deadlineMs) / 1000);
    const time = seconds >= 60 ? C.tr('proctor.n_minutes', { n: Math.round(seconds / 60) })
      : C.tr('proctor.n_seconds', { n: seconds });
    // Lost time given back (a disconnection, an outage) or extra time from the proctor.
    notice(st.reason === 'credit_disconnection' || st.reason === 'outage_credit'
      ? C.tr('proctor.credited', { time }) : C.tr('proctor.extra_time', { time }));
  }
}

function helloFailed(reply) {
  if (reply.error === 'unauthorized') {
    S.finished = true;
    problem(C.tr('errors.unauthorized'));
  } else if (reply.error === 'not_found') {
    if (S.view === 'loading' || S.view === 'problem') problem(C.tr('errors.no_paper'), { signIn: false });
    schedulePoll();
  } else if (reply.error !== 'offline') {
    showAlert(C.tr('errors.server', { message: reply.message || reply.error }));
    schedulePoll();
  }
}

function schedulePoll() {
  window.clearTimeout(S.pollTimer);
  S.pollTimer = window.setTimeout(hello, WAIT_POLL_MS);
}

// -- state from the server ------------------------------------------------------------------------

function applyState(st) {
  S.state = st.state;
  S.outbox.raiseFloor(st.last_seq);
  S.deadlineMs = C.parseTime(st.deadline);
  S.frozenRemaining = st.state === 'paused' ? st.remaining_seconds : null;
  S.earliestSubmitMs = C.parseTime(st.earliest_submit_at);
  S.scheduledStartMs = C.parseTime(st.scheduled_start);
  window.clearTimeout(S.pollTimer);
  if (st.state === 'waiting') {
    showWaiting();
    schedulePoll();
  } else if (st.state === 'running' || st.state === 'paused') {
    if (st.paper) loadPaper(st);
    if (st.state === 'paused') {
      S.blocked = 'paused';
      schedulePoll();
    } else if (S.blocked === 'paused' || (S.blocked === 'time_up' && st.remaining_seconds > 0)) {
      S.blocked = null; // resumed, or time was added
      showAlert('');
    }
    if (S.blocked === 'time_up' || S.expired) schedulePoll(); // until the server submits
    $('paused-banner').hidden = st.state !== 'paused';
    setPausedOverlay(st.state === 'paused', st.remaining_seconds);
    forgetPassedWarnings(st.remaining_seconds);
    applyDisabled();
    pump();
  } else if (st.state === 'submitted' || st.state === 'voided') {
    finish(st);
  }
  tick();
  updateStatus();
}

/** Paused: the questions are covered (the clock stands still) until the proctor resumes. */
function setPausedOverlay(paused, remaining) {
  $('paused-overlay').hidden = !paused;
  $('exam-layout').inert = paused;
  if (paused && typeof remaining === 'number') {
    $('paused-left').textContent = C.tr('proctor.paused_left', { time: C.fmtDuration(remaining) });
  }
}

/** Extra time: the time warnings above the new remaining time may come again. */
function forgetPassedWarnings(remaining) {
  if (typeof remaining !== 'number') return;
  for (const m of [...S.warned]) {
    if (remaining > m * 60) S.warned.delete(m);
  }
  if (!S.warned.size && !S.expired) $('time-warning').hidden = true;
}

/** The server's answers and flags with the outbox on top (its entries are newer). */
function loadPaper(st) {
  flushTyping();
  const first = !S.paper;
  if (first) {
    S.paper = st.paper;
    S.items = st.paper.items;
    S.sections = new Map(st.paper.sections.map((s) => [s.number, s]));
    buildNavigator();
  }
  const answers = new Map();
  for (const [pos, value] of Object.entries(st.answers || {})) answers.set(Number(pos), value);
  const flags = new Set(st.flags || []);
  let position = st.position || 1;
  for (const e of S.outbox.entries()) {
    if (e.kind === 'answer') {
      if (e.answer === null) answers.delete(e.position);
      else answers.set(e.position, e.answer);
    } else if (e.kind === 'flag') {
      if (e.flagged) flags.add(e.position);
      else flags.delete(e.position);
    } else if (e.kind === 'position') {
      position = e.position;
    }
  }
  S.answers = answers;
  S.flags = flags;
  if (first) {
    S.position = Math.min(Math.max(1, position), S.items.length);
    showView('exam');
    renderQuestion();
    $('q-heading').focus();
  } else {
    if (S.view !== 'exam') showView('exam', 'q-heading');
    // Re-render only when the shown question changed underneath (another device, a refusal).
    if (!S.shown || S.shown.position !== S.position
        || !sameValue(S.shown.value, S.answers.get(S.position))) {
      renderQuestion();
    } else {
      renderFlag();
    }
  }
  renderNavigator();
}

// -- waiting room ---------------------------------------------------------------------------------

function showWaiting() {
  const c = auth.candidate;
  const s = auth.session;
  $('w-name').textContent = c.name || '';
  $('w-ticket').textContent = auth.ticket;
  $('w-room').textContent = c.room || '';
  $('w-seat').textContent = c.seat ?? '';
  const occ = s.occupation || {};
  const occName = C.IS_EN && occ.name_en ? occ.name_en : occ.name;
  const level = Array.isArray(s.level_name) ? s.level_name[C.IS_EN ? 1 : 0] : '';
  $('w-session').textContent = [s.name, [occName, level].filter(Boolean).join(' ')]
    .filter(Boolean).join(' — ');
  $('w-start').textContent = C.fmtTime(S.scheduledStartMs, { date: true });
  $('w-duration').textContent = C.tr('exam.minutes', { n: s.duration_minutes });
  if (s.earliest_submit_minutes) {
    $('rule-earliest').textContent = C.tr('waiting.earliest_rule', { n: s.earliest_submit_minutes });
  }
  S.windowEndMs = C.parseTime(s.window_end);
  $('start-button').hidden = S.startMode !== 'window';
  showView('waiting', 'waiting-title');
}

function tickWaiting() {
  const now = nowServer();
  const left = S.scheduledStartMs === null ? 0 : (S.scheduledStartMs - now) / 1000;
  const note = $('w-countdown-note');
  if (left > 0) {
    $('w-countdown').textContent = C.tr('waiting.starts_in', { time: C.fmtDuration(left) });
    note.textContent = S.startMode === 'window' ? C.tr('waiting.window_not_yet') : '';
  } else if (S.startMode === 'window' && S.windowEndMs !== null && now > S.windowEndMs) {
    $('w-countdown').textContent = C.tr('waiting.window_closed');
    note.textContent = '';
  } else if (S.startMode === 'window') {
    $('w-countdown').textContent = C.tr('waiting.window_open');
    note.textContent = S.windowEndMs
      ? C.tr('waiting.window_closes', { time: C.fmtTime(S.windowEndMs) }) : '';
  } else {
    $('w-countdown').textContent = C.tr('waiting.start_due');
    note.textContent = '';
  }
  const button = $('start-button');
  if (!button.hidden && button.dataset.busy !== '1') {
    button.disabled = left > 0 || (S.windowEndMs !== null && now > S.windowEndMs);
  }
}

async function startNow() {
  const button = $('start-button');
  button.dataset.busy = '1';
  button.disabled = true;
  button.textContent = C.tr('waiting.starting');
  const reply = await emit('start', {});
  button.dataset.busy = '';
  button.textContent = button.dataset.label;
  if (reply.ok) {
    showAlert('');
    applyState(reply);
  } else {
    button.disabled = false;
    showAlert(C.tr('errors.start_failed', { message: reply.message || reply.error }));
  }
}

// -- the paper ------------------------------------------------------------------------------------

/** A section's title; English pages translate the default (Chinese) titles. */
function sectionTitle(section) {
  const title = section.title || '';
  if (!C.IS_EN || !section.type) return title;
  const english = C.tr(`types.${section.type}`);
  return !title || title === DEFAULT_TITLES[section.type] ? english : title;
}

function itemText(item) {
  const tr = C.IS_EN && item.translations ? item.translations.en : null;
  return {
    stem: tr && tr.stem ? tr.stem : item.stem,
    translated: Boolean(tr && tr.stem),
    option: (opt) => (tr && tr.options && tr.options[opt.label]) || opt.text,
  };
}

/** Rich text from the server (sanitised there), inserted as HTML (in a span inside labels). */
function rich(html, cls = 'rich', tag = 'div') {
  const box = C.el(tag, { class: cls });
  box.innerHTML = html || '';
  return box;
}

function renderQuestion() {
  const item = S.items[S.position - 1];
  if (!item) return;
  const section = S.sections.get(item.section) || {};
  const total = S.items.length;
  const value = S.answers.get(S.position) ?? null;
  S.shown = { position: S.position, value };
  $('q-section').textContent = sectionTitle(section);
  const heading = $('q-heading');
  heading.replaceChildren(
    C.tr('exam.question_n', { n: item.position, total }),
    C.el('span', { class: 'points' }, ` (${C.tr('exam.points', { points: item.points })})`),
  );
  const text = itemText(item);
  const body = $('q-body');
  body.replaceChildren();
  const stemId = `stem-${item.position}`;
  if (item.type === 'fill_blank') {
    body.append(fillIn(item, text.stem, value, stemId));
  } else {
    body.append(rich(text.stem, 'rich stem'));
    body.lastChild.id = stemId;
    body.append(choices(item, text, value, stemId));
  }
  if (text.translated) {
    const original = C.el('details', { class: 'original' }, C.el('summary', {}, C.tr('exam.original')));
    original.append(rich(item.stem.replace(/\{\{(\d+)\}\}/g, '（$1）'), 'rich'));
    original.lang = 'zh-CN';
    body.append(original);
  }
  renderFlag();
  applyDisabled();
  $('prev-button').setAttribute('aria-disabled', String(S.position <= 1));
  $('next-button').setAttribute('aria-disabled', String(S.position >= total));
  $('q-last').hidden = S.position < total;
  renderNavigator();
}

function choices(item, text, value, stemId) {
  const multiple = item.type === 'multiple_choice';
  const legend = multiple ? C.tr('exam.choose_many') : C.tr('exam.choose_one');
  const fieldset = C.el('fieldset', { class: 'answer', 'aria-describedby': stemId },
    C.el('legend', {}, legend));
  const name = `q${item.position}`;
  let options;
  if (item.type === 'true_false') {
    options = [
      { value: 'T', label: '', html: null, text: C.tr('exam.true') },
      { value: 'F', label: '', html: null, text: C.tr('exam.false') },
    ];
  } else {
    options = (item.options || []).map((o) => ({ value: o.label, label: o.label, html: text.option(o) }));
  }
  const chosen = new Set(Array.isArray(value) ? value : value ? [value] : []);
  const list = C.el('div', { class: 'options' });
  options.forEach((o, i) => {
    const id = `${name}-${o.value}`;
    const input = C.el('input', {
      type: multiple ? 'checkbox' : 'radio',
      name,
      id,
      value: o.value,
      checked: chosen.has(o.value),
      dataset: { key: String(i + 1) },
    });
    const caption = C.el('span', { class: 'opt-text' });
    if (o.label) caption.append(C.el('span', { class: 'opt-label' }, `${o.label}.`), ' ');
    if (o.html !== null) caption.append(rich(o.html, 'rich inline', 'span'));
    else caption.append(o.text);
    list.append(C.el('label', { class: 'option', for: id }, input, caption));
  });
  list.addEventListener('change', () => {
    const picked = [...list.querySelectorAll('input:checked')].map((i) => i.value);
    let answer;
    if (item.type === 'true_false') answer = picked[0] || null;
    else answer = picked.length ? picked.sort() : null;
    setAnswer(item.position, answer);
  });
  fieldset.append(list);
  return fieldset;
}

function fillIn(item, stemHtml, value, stemId) {
  const count = item.blanks || 0;
  const values = Array.isArray(value) ? value : [];
  const fieldset = C.el('fieldset', { class: 'answer fill' },
    C.el('legend', {}, C.tr('exam.fill_in')));
  const stem = rich(stemHtml.replace(/\{\{(\d+)\}\}/g, '<span data-blank="$1"></span>'), 'rich stem');
  stem.id = stemId;
  fieldset.append(stem);
  const inputs = [];
  const make = (n) => {
    const input = C.el('input', {
      type: 'text',
      id: `blank-${item.position}-${n}`,
      class: 'blank',
      maxlength: 200,
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-label': C.tr('exam.blank_n', { n, total: count }),
      dataset: { n: String(n) },
    });
    input.value = values[n - 1] || '';
    inputs[n - 1] = input;
    return input;
  };
  for (const slot of stem.querySelectorAll('span[data-blank]')) {
    const n = Number(slot.dataset.blank);
    if (n >= 1 && n <= count && !inputs[n - 1]) slot.replaceWith(make(n));
    else slot.replaceWith(`(${slot.dataset.blank})`);
  }
  // Blanks the stem text does not mark (e.g. a translation without markers) get their own line.
  for (let n = 1; n <= count; n += 1) {
    if (!inputs[n - 1]) {
      const input = make(n);
      fieldset.append(C.el('p', { class: 'extra-blank' },
        C.el('label', { for: input.id }, C.tr('exam.blank_n', { n, total: count })), ' ', input));
    }
  }
  const current = () => {
    const texts = inputs.map((i) => i.value);
    return texts.some((t) => t.trim() !== '') ? texts : null;
  };
  fieldset.addEventListener('input', () => typed(item.position, current()));
  fieldset.addEventListener('change', () => flushTyping(item.position));
  return fieldset;
}

function renderFlag() {
  const flagged = S.flags.has(S.position);
  const button = $('flag-button');
  button.setAttribute('aria-pressed', String(flagged));
  button.classList.toggle('on', flagged);
}

/** Whether answers can change now: running, time left, not refused for time. */
function canAnswer() {
  return S.state === 'running' && !S.expired && S.blocked !== 'time_up' && !S.finished;
}

function applyDisabled() {
  const disabled = !canAnswer();
  for (const input of $('q-body').querySelectorAll('input')) input.disabled = disabled;
  $('flag-button').disabled = disabled;
}

// -- answer sheet (navigator) ---------------------------------------------------------------------

function buildNavigator() {
  const nav = $('navigator');
  nav.replaceChildren();
  for (const section of S.paper.sections) {
    const headingId = `sheet-s${section.number}`;
    nav.append(C.el('h3', { id: headingId, class: 'sheet-section' }, sectionTitle(section)));
    const list = C.el('ul', { class: 'cells', 'aria-labelledby': headingId });
    for (let i = 0; i < section.count; i += 1) {
      const pos = section.first_position + i;
      const button = C.el('button', {
        type: 'button',
        class: 'cell',
        id: `cell-${pos}`,
        dataset: { pos: String(pos) },
      }, C.el('span', { class: 'n' }, String(pos)),
      C.el('span', { class: 'mark-a', 'aria-hidden': 'true' }, '✓'),
      C.el('span', { class: 'mark-f', 'aria-hidden': 'true' }, '⚑'));
      list.append(C.el('li', {}, button));
    }
    nav.append(list);
  }
  nav.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-pos]');
    if (button) goTo(Number(button.dataset.pos), { focusHeading: true });
  });
}

function renderNavigator() {
  if (!S.paper) return;
  let answered = 0;
  for (const item of S.items) {
    const pos = item.position;
    const button = $(`cell-${pos}`);
    if (!button) continue;
    const a = isAnswered(S.answers.get(pos));
    const f = S.flags.has(pos);
    const current = pos === S.position;
    if (a) answered += 1;
    button.classList.toggle('answered', a);
    button.classList.toggle('flagged', f);
    button.classList.toggle('current', current);
    if (current) button.setAttribute('aria-current', 'step');
    else button.removeAttribute('aria-current');
    const words = [C.tr('exam.nav_item', { n: pos }),
      a ? C.tr('exam.nav_answered') : C.tr('exam.nav_unanswered')];
    if (f) words.push(C.tr('exam.nav_flagged'));
    if (current) words.push(C.tr('exam.nav_current'));
    button.setAttribute('aria-label', words.join(C.IS_EN ? ', ' : '，'));
  }
  $('sheet-count').textContent = C.tr('exam.answered_count', { n: answered, total: S.items.length });
}

// -- changes --------------------------------------------------------------------------------------

function clientTime() {
  return new Date(S.clock.ready ? S.clock.now() : Date.now()).toISOString();
}

function record(change) {
  if (S.finished) return;
  S.outbox.add({ ...change, client_time: clientTime() });
  updateStatus();
  pump();
}

function setAnswer(position, answer) {
  if (answer === null) S.answers.delete(position);
  else S.answers.set(position, answer);
  if (S.shown && S.shown.position === position) S.shown.value = answer;
  record({ kind: 'answer', position, answer });
  renderNavigator();
}

/** Fill-in typing: shown at once, saved when typing pauses (or the field is left). */
function typed(position, answer) {
  if (answer === null) S.answers.delete(position);
  else S.answers.set(position, answer);
  if (S.shown && S.shown.position === position) S.shown.value = answer;
  window.clearTimeout(S.typing.get(position));
  S.typing.set(position, window.setTimeout(() => flushTyping(position), TYPE_DEBOUNCE_MS));
  renderNavigator();
  updateStatus();
}

/** Put waiting fill-in saves into the outbox now (one position, or all). */
function flushTyping(position) {
  const positions = position === undefined ? [...S.typing.keys()] : [position];
  for (const pos of positions) {
    if (!S.typing.has(pos)) continue;
    window.clearTimeout(S.typing.get(pos));
    S.typing.delete(pos);
    record({ kind: 'answer', position: pos, answer: S.answers.get(pos) ?? null });
  }
}

function toggleFlag() {
  const pos = S.position;
  const flagged = !S.flags.has(pos);
  if (flagged) S.flags.add(pos);
  else S.flags.delete(pos);
  renderFlag();
  renderNavigator();
  record({ kind: 'flag', position: pos, flagged });
  announce(flagged ? C.tr('exam.flagged') : C.tr('exam.unflagged'));
}

function goTo(position, { focusHeading = false } = {}) {
  if (!S.items.length) return;
  const target = Math.min(Math.max(1, position), S.items.length);
  if (target === S.position) {
    if (focusHeading) $('q-heading').focus();
    return;
  }
  flushTyping();
  S.position = target;
  renderQuestion();
  if (focusHeading) $('q-heading').focus();
  const item = S.items[target - 1];
  const section = S.sections.get(item.section) || {};
  announce(C.tr('exam.at_position', { n: target, total: S.items.length, section: sectionTitle(section) }));
  window.clearTimeout(S.positionTimer);
  S.positionTimer = window.setTimeout(() => {
    S.positionTimer = null;
    record({ kind: 'position', position: S.position });
  }, POSITION_DEBOUNCE_MS);
}

function flushPosition() {
  if (!S.positionTimer) return;
  window.clearTimeout(S.positionTimer);
  S.positionTimer = null;
  record({ kind: 'position', position: S.position });
}

// -- sending the outbox ---------------------------------------------------------------------------

function payload(entry) {
  const out = { seq: entry.seq, kind: entry.kind, position: entry.position };
  if (entry.kind === 'answer') out.answer = entry.answer;
  if (entry.kind === 'flag') out.flagged = entry.flagged;
  if (entry.client_time) out.client_time = entry.client_time;
  return out;
}

/** Send the oldest outbox entry, wait for its ack, repeat. One save in flight at a time. */
async function pump() {
  if (S.sending || !S.connected || S.finished || S.blocked || !S.state) return;
  if (S.state !== 'running' && S.state !== 'paused') return;
  const entry = S.outbox.first();
  if (!entry) {
    updateStatus();
    if (S.resync) {
      S.resync = false;
      hello();
    }
    return;
  }
  S.sending = entry;
  S.sendId += 1;
  const mine = S.sendId;
  updateStatus();
  const reply = await emit('save', payload(entry));
  if (S.sendId !== mine) return; // the connection dropped meanwhile; replayed on reconnect
  S.sending = null;
  if (reply.ok) {
    S.outbox.remove(entry.seq);
    if (reply.accepted === false && entry.kind !== 'position') S.resync = true;
    if (reply.server_time) showAlertIfStale();
  } else if (!saveRefused(entry, reply)) {
    updateStatus();
    return;
  }
  updateStatus();
  pump();
}

function showAlertIfStale() {
  // A save got through: an earlier "server problem" message is no longer true.
  const box = $('exam-alert');
  if (box.dataset.kind === 'retry') {
    box.replaceChildren();
    box.dataset.kind = '';
  }
}

/** An error reply to a save. Returns true when sending may go on with the next entry. */
function saveRefused(entry, reply) {
  switch (reply.error) {
    case 'validation_error':
      // No retry can fix it; keep it aside (never lost, never re-sent) and go on.
      S.outbox.reject(entry.seq, reply);
      showAlert(C.tr('errors.rejected', { message: reply.message }));
      return true;
    case 'time_up':
      S.blocked = 'time_up';
      showAlert(C.tr('errors.time_up'));
      announce(C.tr('errors.time_up'), true);
      applyDisabled();
      window.setTimeout(hello, 2000);
      return false;
    case 'submitted':
      S.blocked = 'submitted';
      hello();
      return false;
    case 'not_started':
      S.blocked = 'paused';
      showAlert(C.tr('errors.paused'));
      hello(); // learn the state now; the resume comes as a `state` push (or the next poll)
      return false;
    case 'unauthorized':
      S.finished = true;
      problem(C.tr('errors.unauthorized'));
      return false;
    case 'offline':
      return false; // replayed on reconnect
    default: {
      // timeout or a server failure: keep the entry and try again shortly.
      if (reply.error !== 'timeout') {
        const box = $('exam-alert');
        showAlert(C.tr('errors.server', { message: reply.message || reply.error }));
        box.dataset.kind = 'retry';
      }
      window.clearTimeout(S.retryTimer);
      S.retryTimer = window.setTimeout(pump, 3000);
      return false;
    }
  }
}

/** Wait until every change has been acknowledged (or give up after `ms`). */
async function drained(ms) {
  flushTyping();
  flushPosition();
  pump();
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (!S.outbox.size && !S.sending) return true;
    if (!S.connected) return false;
    await new Promise((resolve) => { window.setTimeout(resolve, 150); });
  }
  return !S.outbox.size;
}

// -- countdown ------------------------------------------------------------------------------------

function remainingSeconds() {
  if (S.state === 'paused') return S.frozenRemaining ?? 0;
  if (S.deadlineMs === null) return null;
  return Math.max(0, (S.deadlineMs - nowServer()) / 1000);
}

function tick() {
  if (S.view === 'waiting') tickWaiting();
  if (S.view !== 'exam') return;
  const left = remainingSeconds();
  const box = $('timer-box');
  box.hidden = left === null;
  if (left === null) return;
  const timer = $('timer');
  const text = C.fmtDuration(left);
  if (timer.textContent !== text) {
    timer.textContent = text;
    timer.dataset.seconds = String(Math.ceil(left));
    timer.setAttribute('title', C.sayDuration(left));
  }
  box.classList.toggle('low', left <= 5 * 60);
  box.classList.toggle('paused', S.state === 'paused');
  if (S.state !== 'running') return;
  // Warnings: the smallest threshold passed, once each (also when the page opens late).
  const passed = WARNINGS.filter((m) => left <= m * 60 && left > 0);
  if (passed.length) {
    const m = Math.min(...passed);
    if (!S.warned.has(m)) {
      for (const w of passed) S.warned.add(w);
      const message = C.tr(`exam.warn_${m}`);
      const banner = $('time-warning');
      banner.textContent = message;
      banner.hidden = false;
      announce(message, true);
    }
  }
  const expired = left <= 0;
  if (expired !== S.expired) {
    S.expired = expired;
    applyDisabled();
    if (expired) {
      // The server submits at the deadline (plus a short grace, within which the outbox is
      // still sent); ask for the outcome.
      const banner = $('time-warning');
      banner.textContent = C.tr('errors.time_up');
      banner.hidden = false;
      announce(C.tr('errors.time_up'), true);
      window.clearTimeout(S.pollTimer);
      S.pollTimer = window.setTimeout(hello, 7000);
    } else {
      $('time-warning').hidden = true; // time was added
    }
  }
}

// -- submission -----------------------------------------------------------------------------------

function numberList(positions) {
  if (!positions.length) return C.el('p', {}, C.tr('submit.none'));
  return C.el('p', { class: 'numbers' }, positions.join(C.IS_EN ? ', ' : '、'));
}

function openSubmit() {
  flushTyping();
  flushPosition();
  const dialog = $('submit-dialog');
  const unanswered = S.items.map((i) => i.position).filter((p) => !isAnswered(S.answers.get(p)));
  const flagged = [...S.flags].sort((a, b) => a - b);
  const summary = $('submit-summary');
  summary.replaceChildren();
  if (unanswered.length) {
    summary.append(C.el('p', {}, C.tr('submit.unanswered_n', { n: unanswered.length })),
      numberList(unanswered));
  } else {
    summary.append(C.el('p', {}, C.tr('submit.all_answered')));
  }
  if (flagged.length) {
    summary.append(C.el('p', {}, C.tr('submit.flagged_n', { n: flagged.length })), numberList(flagged));
  }
  $('submit-confirm').checked = false;
  $('submit-error').replaceChildren();
  $('submit-status').textContent = '';
  updateSubmitWhen();
  dialog.showModal();
  $('submit-cancel').focus();
}

function tooEarly() {
  return S.earliestSubmitMs !== null && nowServer() < S.earliestSubmitMs;
}

function updateSubmitWhen() {
  const early = tooEarly();
  $('submit-when').textContent = early
    ? C.tr('submit.allowed_from', { time: C.fmtTime(S.earliestSubmitMs) })
    : C.tr('submit.allowed_now');
  $('submit-when').classList.toggle('early', early);
  $('submit-go').disabled = early || $('submit-go').dataset.busy === '1';
}

function submitError(message) {
  const box = $('submit-error');
  box.replaceChildren(C.el('p', {}, message));
}

async function doSubmit() {
  const go = $('submit-go');
  $('submit-error').replaceChildren();
  if (!$('submit-confirm').checked) {
    submitError(C.tr('submit.confirm_first'));
    $('submit-confirm').focus();
    return;
  }
  if (!S.connected) {
    submitError(C.tr('errors.submit_offline'));
    return;
  }
  go.dataset.busy = '1';
  go.disabled = true;
  $('submit-status').textContent = C.tr('submit.sending');
  const ok = await drained(15_000);
  if (!ok) {
    go.dataset.busy = '';
    updateSubmitWhen();
    $('submit-status').textContent = '';
    submitError(S.connected ? C.tr('errors.submit_unsaved') : C.tr('errors.submit_offline'));
    return;
  }
  $('submit-status').textContent = C.tr('submit.submitting');
  const reply = await emit('submit', { confirm: true });
  go.dataset.busy = '';
  $('submit-status').textContent = '';
  if (reply.ok) {
    $('submit-dialog').close();
    finish({ state: 'submitted', submitted_at: reply.submitted_at, by: 'candidate' });
    return;
  }
  updateSubmitWhen();
  if (reply.error === 'too_early_to_submit') {
    const at = C.parseTime(reply.details && reply.details.earliest_submit_at);
    if (at) S.earliestSubmitMs = at;
    updateSubmitWhen();
    submitError(C.tr('errors.too_early', { time: C.fmtTime(S.earliestSubmitMs) }));
  } else if (reply.error === 'submitted') {
    $('submit-dialog').close();
    hello();
  } else if (reply.error === 'time_up') {
    submitError(C.tr('errors.time_up'));
  } else {
    submitError(C.tr('errors.server', { message: reply.message || reply.error }));
  }
}

function finish(st) {
  S.finished = true;
  S.state = st.state;
  S.integrity.stop();
  window.clearTimeout(S.pollTimer);
  window.clearInterval(S.syncTimer);
  for (const timer of S.typing.values()) window.clearTimeout(timer);
  S.typing.clear();
  const dialog = $('submit-dialog');
  if (dialog.open) dialog.close();
  const at = C.parseTime(st.submitted_at);
  $('done-when').textContent = [
    at ? C.tr('submit.done_at', { time: C.fmtTime(at, { date: true }) }) : '',
    st.by !== 'candidate' && st.state === 'submitted' && S.deadlineMs && at && at >= S.deadlineMs
      ? C.tr('submit.by_deadline') : '',
  ].filter(Boolean).join(' ');
  const unsent = S.outbox.entries().filter((e) => e.kind !== 'position').length;
  $('done-unsent').hidden = !unsent;
  $('done-unsent').textContent = unsent ? C.tr('submit.unsent_n', { n: unsent }) : '';
  showAlert('');
  if (st.state === 'voided') $('done-title').textContent = C.tr('submit.voided');
  if (st.state === 'submitted' && (st.reason === 'force_submit' || st.submit_reason === 'proctor')) {
    $('done-when').textContent = [$('done-when').textContent, C.tr('proctor.submitted')]
      .filter(Boolean).join(' ');
  }
  showView('done', 'done-title');
  updateStatus();
  $('conn').hidden = true;
  if (S.socket) S.socket.disconnect();
}

// -- keyboard -------------------------------------------------------------------------------------

function chooseByKey(n) {
  const inputs = [...$('q-body').querySelectorAll('.options input')];
  const input = inputs.find((i) => i.dataset.key === String(n));
  if (!input || input.disabled) return false;
  if (input.type === 'checkbox') input.checked = !input.checked;
  else if (input.checked) return true;
  else input.checked = true;
  input.dispatchEvent(new Event('change', { bubbles: true }));
  input.focus();
  return true;
}

function onKey(event) {
  if (S.view !== 'exam' || event.defaultPrevented || event.isComposing) return;
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  if ($('submit-dialog').open) return;
  const target = event.target;
  const tag = target && target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable)) return;
  if (tag === 'INPUT' && !['radio', 'checkbox'].includes(target.type)) return;
  const inChoice = tag === 'INPUT';
  let handled = true;
  switch (event.key) {
    case 'j':
    case 'J':
      goTo(S.position - 1, { focusHeading: true });
      break;
    case 'k':
    case 'K':
      goTo(S.position + 1, { focusHeading: true });
      break;
    case 'ArrowLeft':
      if (inChoice) handled = false;
      else goTo(S.position - 1, { focusHeading: true });
      break;
    case 'ArrowRight':
      if (inChoice) handled = false;
      else goTo(S.position + 1, { focusHeading: true });
      break;
    case 'f':
    case 'F':
      if (canAnswer()) toggleFlag();
      break;
    default:
      if (/^[1-8]$/.test(event.key) && canAnswer()) handled = chooseByKey(Number(event.key));
      else handled = false;
  }
  if (handled) event.preventDefault();
}

// -- wiring ---------------------------------------------------------------------------------------

function wire() {
  $('prev-button').addEventListener('click', () => goTo(S.position - 1));
  $('next-button').addEventListener('click', () => goTo(S.position + 1));
  $('flag-button').addEventListener('click', () => {
    if (canAnswer()) toggleFlag();
  });
  $('open-submit').addEventListener('click', openSubmit);
  $('submit-cancel').addEventListener('click', () => $('submit-dialog').close());
  $('submit-go').addEventListener('click', doSubmit);
  $('submit-form').addEventListener('submit', (event) => event.preventDefault());
  $('submit-dialog').addEventListener('close', () => {
    if (S.view === 'exam') $('open-submit').focus();
  });
  const start = $('start-button');
  start.dataset.label = start.textContent;
  start.addEventListener('click', startNow);
  $('finish-button').addEventListener('click', () => {
    C.clearSignIn();
    window.location.assign('/exam');
  });
  document.addEventListener('keydown', onKey);
  // Leaving or reloading: changes still waiting for a pause in typing go to the outbox now.
  window.addEventListener('pagehide', () => {
    flushTyping();
    flushPosition();
  });
  window.setInterval(() => {
    tick();
    if ($('submit-dialog').open && !$('submit-go').dataset.busy) updateSubmitWhen();
  }, 250);
}

if (auth) {
  S.integrity = new P.Integrity({
    emit,
    connected: () => S.connected && !S.finished,
    active: () => !S.finished && (S.state === 'running' || S.state === 'paused'),
    clock: (serverMs, sent, received) => S.clock.addSample(serverMs, sent, received),
    announce: (message) => announce(message, true),
  });
  fillWho();
  wire();
  updateStatus();
  connect();
}
