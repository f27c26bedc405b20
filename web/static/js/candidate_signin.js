// The candidate sign-in page (/exam): ticket number, ID number and the room's access code are
// posted to /api/candidate/sign-in; the token and the ticket number go to sessionStorage and the
// exam page (/exam/sit) opens. Protocol: docs/protocol.md, errors: docs/sessions.md.
// The body also carries this computer's device id (docs/proctoring.md, "One seat, one device"):
// a seat in use on another computer is refused; a move to this computer waits for the proctor's
// approval and the sign-in is retried by itself meanwhile.

import * as C from './candidate_common.js';

const form = document.getElementById('signin');
const alertBox = document.getElementById('signin-alert');
const statusBox = document.getElementById('signin-status');
const button = form.querySelector('button[type=submit]');
const FIELDS = { ticket_number: 'ticket', id_number: 'id-number', access_code: 'access-code' };
const MOVE_RETRY_MS = 5_000;
let retryTimer = null;

function showAlert(message) {
  alertBox.replaceChildren();
  if (message) alertBox.append(C.el('p', {}, message));
}

function clearFieldErrors() {
  for (const id of Object.values(FIELDS)) {
    const input = document.getElementById(id);
    const slot = document.getElementById(`${id}-error`);
    input.removeAttribute('aria-invalid');
    slot.textContent = '';
    slot.hidden = true;
  }
}

function fieldError(id, message) {
  const input = document.getElementById(id);
  const slot = document.getElementById(`${id}-error`);
  input.setAttribute('aria-invalid', 'true');
  slot.textContent = message;
  slot.hidden = false;
  return input;
}

/** The message for a refused sign-in: generic for wrong credentials, specific otherwise. */
function refusal(status, body) {
  const code = body && body.error;
  if (code === 'sign_in_failed') return C.tr('signin.failed');
  if (code === 'seat_in_use') return C.tr('device.seat_in_use');
  if (code === 'move_required') return C.tr('device.move_required');
  if (code === 'session_not_open') return C.tr('signin.not_open');
  if (code === 'not_eligible') return C.tr('signin.not_eligible');
  if (code === 'check_in_closed') {
    // The server names the cutoff in its message as an ISO time.
    const found = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?/.exec(body.message || '');
    const ms = found ? C.parseTime(found[0]) : null;
    return ms === null ? C.tr('signin.too_late_plain')
      : C.tr('signin.too_late', { time: C.fmtTime(ms, { date: true }) });
  }
  if (status === 429) return C.tr('signin.too_many');
  return C.tr('signin.other', { message: (body && body.message) || `HTTP ${status}` });
}

async function submit(event) {
  event.preventDefault();
  window.clearTimeout(retryTimer);
  clearFieldErrors();
  showAlert('');
  const body = {};
  let firstBad = null;
  for (const [name, id] of Object.entries(FIELDS)) {
    body[name] = document.getElementById(id).value.trim();
    if (!body[name]) firstBad = firstBad || fieldError(id, C.tr('signin.missing'));
  }
  if (firstBad) {
    firstBad.focus();
    return;
  }
  body.device = C.deviceId();
  await send(body);
}

async function send(body, { retry = false } = {}) {
  button.disabled = true;
  statusBox.textContent = C.tr('signin.working');
  let resp;
  let data = null;
  try {
    resp = await fetch('/api/candidate/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    data = await resp.json().catch(() => null);
  } catch (err) {
    resp = null;
  }
  button.disabled = false;
  statusBox.textContent = '';
  if (!resp) {
    showAlert(C.tr('signin.network'));
    if (retry) retryTimer = window.setTimeout(() => send(body, { retry: true }), MOVE_RETRY_MS);
    return;
  }
  if (resp.ok && data && data.token) {
    C.saveSignIn(data);
    window.location.assign(form.dataset.next);
    return;
  }
  if (resp.status === 422 && data && data.field && FIELDS[data.field]) {
    fieldError(FIELDS[data.field], data.message).focus();
    return;
  }
  const message = refusal(resp.status, data);
  // A retry that gets the same answer does not announce it again.
  if (!retry || alertBox.textContent !== message) showAlert(message);
  if (data && data.error === 'move_required') {
    // The proctor approves the move to this computer; ask again until then.
    retryTimer = window.setTimeout(() => send(body, { retry: true }), MOVE_RETRY_MS);
  }
  if (!retry) alertBox.focus();
}

form.addEventListener('submit', submit);

// Signed in already in this tab (e.g. came back with the browser's Back button): offer to go on.
const current = C.loadSignIn();
const resume = document.getElementById('resume');
if (current && resume) {
  const name = current.candidate.name || current.ticket;
  document.getElementById('resume-text').textContent = `${name} · ${current.ticket}`;
  resume.hidden = false;
}
