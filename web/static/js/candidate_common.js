// Shared helpers of the candidate pages (sign-in and exam): translated texts, times, small DOM
// builders and the sign-in data kept in sessionStorage. The staff pages have their own helpers
// (common.js); candidate pages use none of them.
// Texts come from the <script type="application/json" id="i18n"> block (candidate_strings() in
// exam_server/views/candidate.py); look them up with tr('status.saved') or tr('exam.question_n', {n: 3, total: 38}).

const i18nNode = document.getElementById('i18n');
const TEXTS = i18nNode ? JSON.parse(i18nNode.textContent) : {};

export const LOCALE = document.body.dataset.locale || 'zh_CN';
export const IS_EN = LOCALE === 'en';
export const TIMEZONE = document.body.dataset.timezone || 'Asia/Shanghai';

/** A translated text by key ("status.saved"), %(name)s placeholders filled in. */
export function tr(key, params) {
  let text = key.split('.').reduce((node, part) => (node == null ? undefined : node[part]), TEXTS);
  if (typeof text !== 'string') text = key;
  if (params) {
    text = text.replace(/%\((\w+)\)s/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
  }
  return text;
}

/**
 * Build an element: el('a', {href: '/x', class: 'y', dataset: {k: 'v'}, onclick: fn}, 'text').
 * Attributes are set as attributes (never parsed as HTML); on* functions become listeners.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Milliseconds since the epoch of an ISO time (null when there is none). */
export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** A wall-clock time of the exam's time zone ("14:05" today, with the date otherwise). */
export function fmtTime(ms, { date = false } = {}) {
  if (ms === null || ms === undefined) return '';
  const options = { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: TIMEZONE };
  if (date) Object.assign(options, { year: 'numeric', month: '2-digit', day: '2-digit' });
  try {
    return new Intl.DateTimeFormat(IS_EN ? 'en-GB' : 'zh-CN', options).format(ms);
  } catch (err) {
    // An unknown time zone name: fall back to the browser's own.
    delete options.timeZone;
    return new Intl.DateTimeFormat(IS_EN ? 'en-GB' : 'zh-CN', options).format(ms);
  }
}

/** A duration as H:MM:SS (whole seconds, rounded up so 0:00:00 means "time is up"). */
export function fmtDuration(seconds) {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/** The same duration for screen readers and titles ("1 h 5 min 3 s" / "1小时5分3秒"). */
export function sayDuration(seconds) {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (IS_EN) return [h && `${h} h`, (h || m) && `${m} min`, `${s} s`].filter(Boolean).join(' ');
  return [h && `${h}小时`, (h || m) && `${m}分`, `${s}秒`].filter(Boolean).join('');
}

// -- sign-in data (sessionStorage: gone when the tab closes) -------------------------------------

const TOKEN_KEY = 'exam.token';
const TICKET_KEY = 'exam.ticket';
const INFO_KEY = 'exam.signin';

/** Keep what the sign-in reply says: the token, the ticket number and the candidate/session. */
export function saveSignIn(reply) {
  sessionStorage.setItem(TOKEN_KEY, reply.token);
  sessionStorage.setItem(TICKET_KEY, reply.candidate.ticket_number);
  sessionStorage.setItem(INFO_KEY, JSON.stringify({
    candidate: reply.candidate,
    session: reply.session,
    first_check_in: reply.first_check_in,
  }));
}

/** {token, ticket, candidate, session} or null when nobody has signed in in this tab. */
export function loadSignIn() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const ticket = sessionStorage.getItem(TICKET_KEY);
  if (!token || !ticket) return null;
  let info = {};
  try {
    info = JSON.parse(sessionStorage.getItem(INFO_KEY) || '{}') || {};
  } catch (err) {
    info = {};
  }
  return { token, ticket, candidate: info.candidate || {}, session: info.session || {} };
}

/** Forget the sign-in (the outbox in localStorage stays). */
export function clearSignIn() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TICKET_KEY);
  sessionStorage.removeItem(INFO_KEY);
}

// -- this computer (localStorage: survives closing the tab and signing in again) -----------------

const DEVICE_KEY = 'exam.device';

/**
 * A random id of this browser on this computer, made once and kept in localStorage. It goes with
 * the sign-in and the socket (docs/proctoring.md, "One seat, one device"). crypto.getRandomValues
 * also works on plain-HTTP exam networks, where crypto.randomUUID does not exist.
 */
export function deviceId() {
  let id = null;
  try {
    id = localStorage.getItem(DEVICE_KEY);
  } catch (err) {
    id = null;
  }
  if (id && /^[\w-]{8,64}$/.test(id)) return id;
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  id = `d-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  try {
    localStorage.setItem(DEVICE_KEY, id);
  } catch (err) {
    // Storage disabled: the id lives as long as the page (a reload looks like a new device).
  }
  return id;
}
