// Shared helpers of the question-bank pages: JSON API calls, translated texts, live messages,
// small DOM builders and the selects that are filled from the API (occupations, knowledge points).
// No inline scripts anywhere: the Content-Security-Policy only allows files from this server.

const i18nNode = document.getElementById('i18n');
const TEXTS = i18nNode ? JSON.parse(i18nNode.textContent) : {};

export const LOCALE = document.body.dataset.locale || 'zh_CN';
export const ROLES = new Set((document.body.dataset.roles || '').split(' ').filter(Boolean));
export const USER_ID = Number(document.body.dataset.userId || 0);

/** A translated text by key ("status.draft" reaches into nested groups), %(name)s filled in. */
export function t(key, params) {
  let text = key.split('.').reduce((node, part) => (node == null ? undefined : node[part]), TEXTS);
  if (typeof text !== 'string') text = key;
  if (params) {
    text = text.replace(/%\((\w+)\)s/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
  }
  return text;
}

/** JSON embedded in the page by the server (<script type="application/json" id=...>). */
export function pageData(id, fallback = {}) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : fallback;
}

// -- API ---------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.code = this.body.error || '';
    this.field = this.body.field || null;
    this.details = this.body.details || null;
  }
}

const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

/**
 * Call the JSON API with the session cookie. Writes carry the CSRF header.
 * Resolves to the parsed JSON body; rejects with ApiError (status 0 when the network failed).
 */
export async function api(method, url, { json, form } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData: the browser sets the multipart boundary
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRFToken'] = CSRF;
  let resp;
  try {
    resp = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, { error: 'network', message: t('network_error') });
  }
  const type = resp.headers.get('Content-Type') || '';
  const data = type.includes('application/json') ? await resp.json() : null;
  if (!resp.ok) throw new ApiError(resp.status, data || { error: 'http', message: resp.statusText });
  return data;
}

/** A path segment for an item code or other identifier. */
export const seg = (value) => encodeURIComponent(String(value));

// -- live regions ------------------------------------------------------------------------------

const statusBox = () => document.getElementById('status');
const alertBox = () => document.getElementById('alert');

/** A polite status message (loading, done). */
export function say(message) {
  const box = statusBox();
  if (box) box.textContent = message || '';
}

/** An error message, announced at once. */
export function warn(message) {
  const box = alertBox();
  if (!box) return;
  box.replaceChildren();
  if (message) box.append(h('p', {}, message));
}

/** Show an API error: "Refused: <the server's message>". */
export function showError(err) {
  say('');
  const message = err instanceof ApiError && err.status === 0 ? err.message
    : `${t('error_prefix')} ${err.message}`;
  warn(message);
}

export function clearMessages() {
  say('');
  warn('');
}

// -- DOM ---------------------------------------------------------------------------------------

/**
 * Build an element: h('a', {href: '/x', class: 'y', dataset: {k: 'v'}, onclick: fn}, 'text', child).
 * Attributes are set as attributes (never as HTML); events are attached with addEventListener.
 */
export function h(tag, attrs = {}, ...children) {
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

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Rich item text (stems, options, explanations). The server stores it sanitised (an allow-list
 * of tags without scripts, styles or event handlers), so it is inserted as HTML; blank markers
 * {{1}} of fill-in items become visible gaps.
 */
export function richText(html, { blanks = false } = {}) {
  const box = document.createElement('div');
  box.className = 'rich';
  let source = html || '';
  if (blanks) {
    source = source.replace(/\{\{(\d+)\}\}/g,
      (m, n) => `<span class="gap" title="${escapeHtml(t('blank_n', { n }))}">(${n})</span>`);
  }
  box.innerHTML = source;
  return box;
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, t(`status.${status}`));
}

export const typeLabel = (type) => t(`type.${type}`);
export const levelLabel = (level) => t(`levels.${level}`);

/** The centre's time zone (server configuration); every time on a page is shown in it. */
export const TIMEZONE = document.body.dataset.timezone || 'Asia/Shanghai';

function zoned(options) {
  try {
    return new Intl.DateTimeFormat('en-CA', { ...options, timeZone: TIMEZONE, hour12: false });
  } catch (err) {
    return new Intl.DateTimeFormat('en-CA', { ...options, hour12: false });
  }
}
const DAY = zoned({ year: 'numeric', month: '2-digit', day: '2-digit' });
const CLOCK = zoned({ hour: '2-digit', minute: '2-digit' });

/**
 * A time in the centre's zone: "14:05" when it is today there, else "2026-06-16 14:05"
 * (`{ date: true }` always shows the date). The same rule as the server's `local_time`.
 */
export function fmtDate(iso, { date = false } = {}) {
  if (!iso) return '';
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  const day = DAY.format(when);
  const clock = CLOCK.format(when).replace(/^24:/, '00:');
  return !date && day === DAY.format(new Date()) ? clock : `${day} ${clock}`;
}

export function fmtNumber(value, digits = 2) {
  const n = Number(value);
  return Number.isFinite(n) ? n.toFixed(digits) : String(value ?? '');
}

/** Replace <time datetime="..."> contents with the local date and time. */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll('time[datetime]')) {
    node.textContent = fmtDate(node.getAttribute('datetime'));
  }
}

export function truncate(text, length = 80) {
  // Blank markers of fill-in stems read better as gaps in one-line excerpts.
  const s = String(text || '').replace(/\{\{\d+\}\}/g, '____').replace(/\s+/g, ' ').trim();
  return s.length > length ? `${s.slice(0, length - 1)}…` : s;
}

/** Put every <tr> of rows into the table body, or one full-width row saying it is empty. */
export function fillTable(table, rows, emptyText) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length && emptyText) {
    const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns }, emptyText)));
  }
}

// -- selects filled from the API ---------------------------------------------------------------

let occupationsPromise = null;
const trees = new Map();

export function loadOccupations() {
  if (!occupationsPromise) {
    occupationsPromise = api('GET', '/api/occupations').then((d) => d.occupations);
  }
  return occupationsPromise;
}

export function occupationName(occ) {
  return LOCALE === 'en' && occ.name_en ? occ.name_en : occ.name;
}

/** The knowledge table of one occupation and level (cached per page). */
export function loadTree(occupation, level) {
  const key = `${occupation}/${level}`;
  if (!trees.has(key)) {
    trees.set(key, api('GET', `/api/occupations/${seg(occupation)}/levels/${seg(level)}/knowledge-points`)
      .then((d) => d.knowledge_points)
      .catch((err) => {
        trees.delete(key);
        throw err;
      }));
  }
  return trees.get(key);
}

/** code -> {name, leaf, depth} of a knowledge table. */
export function flattenTree(nodes, depth = 0, out = new Map()) {
  for (const node of nodes) {
    const name = LOCALE === 'en' && node.name_en ? node.name_en : node.name;
    out.set(node.code, { code: node.code, name, leaf: !node.children.length, depth });
    flattenTree(node.children, depth + 1, out);
  }
  return out;
}

async function fillOccupationSelect(select) {
  const wanted = select.dataset.value || select.value;
  const occupations = await loadOccupations();
  for (const occ of occupations) {
    select.append(h('option', { value: occ.code }, `${occ.code} ${occupationName(occ)}`));
  }
  if (wanted) select.value = wanted;
  select.dataset.value = '';
}

const refillers = new WeakMap();

/** Refill a knowledge-point select now (after its occupation or level changed in code). */
export function refreshKnowledgeSelect(select) {
  const refill = refillers.get(select);
  return refill ? refill() : Promise.resolve();
}

async function fillKnowledgeSelect(select) {
  const occSelect = document.getElementById(select.dataset.occupation);
  const levelSelect = document.getElementById(select.dataset.level);
  const leavesOnly = select.dataset.leavesOnly === '1';
  const anyLabel = select.dataset.any || t('any');
  let generation = 0;
  // What to choose once the table is in: carried over when a newer refill replaces one that is
  // still loading. Only a value given by the page (data-value, e.g. a bookmark) is kept when the
  // table does not know it; a value the user picked for another table is simply dropped.
  let pending = null;
  const refill = async () => {
    generation += 1;
    const mine = generation;
    const given = select.dataset.value;
    select.dataset.value = '';
    const wanted = given || (pending ? pending.value : select.value);
    const keepUnknown = given ? true : Boolean(pending && pending.keepUnknown);
    pending = null;
    const occupation = occSelect ? occSelect.value : '';
    const level = levelSelect ? levelSelect.value : '';
    select.replaceChildren();
    if (!occupation || !level) {
      select.append(h('option', { value: '' }, t('choose_occ_level')));
      select.disabled = true;
      return;
    }
    select.append(h('option', { value: '' }, anyLabel));
    pending = { value: wanted, keepUnknown };
    let tree = [];
    try {
      tree = await loadTree(occupation, level);
    } catch (err) {
      showError(err);
    }
    if (mine !== generation) return; // a newer refill owns the select now
    pending = null;
    for (const node of flattenTree(tree).values()) {
      const pad = '\u00a0\u00a0'.repeat(node.depth);
      const label = `${pad}${node.code} ${node.name}${node.leaf ? '' : ` ${t('kp_module')}`}`;
      select.append(h('option', { value: node.code, disabled: leavesOnly && !node.leaf }, label));
    }
    select.disabled = false;
    if (wanted) select.value = wanted;
    if (wanted && select.value !== wanted && keepUnknown) {
      select.append(h('option', { value: wanted }, wanted));
      select.value = wanted;
    }
  };
  refillers.set(select, refill);
  if (occSelect) occSelect.addEventListener('change', refill);
  if (levelSelect) levelSelect.addEventListener('change', refill);
  await refill();
}

/** Fill every select marked data-fill inside root; occupations first (knowledge points need them). */
export async function initSelects(root = document) {
  try {
    await Promise.all([...root.querySelectorAll('select[data-fill="occupations"]')]
      .map(fillOccupationSelect));
    await Promise.all([...root.querySelectorAll('select[data-fill="knowledge-points"]')]
      .map(fillKnowledgeSelect));
  } catch (err) {
    showError(err);
  }
}

// -- field errors ------------------------------------------------------------------------------

/** Remove every field error message shown inside root. */
export function clearFieldErrors(root) {
  for (const slot of root.querySelectorAll('[data-error-for]')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const input of root.querySelectorAll('[aria-invalid="true"]')) {
    input.removeAttribute('aria-invalid');
  }
}

/**
 * Show an API field error next to its field. The API names fields as paths
 * ("content.options.2.text"); the nearest slot whose path is a prefix takes the message.
 * Returns the input the error belongs to (to focus), or null if no slot matched.
 */
export function showFieldError(root, path, message, { strip = [] } = {}) {
  let parts = String(path || '').split('.');
  for (const prefix of strip) {
    if (parts[0] === prefix) parts = parts.slice(1);
  }
  while (parts.length) {
    const key = parts.join('.');
    const slot = root.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.hidden = false;
      const input = slot.dataset.input ? document.getElementById(slot.dataset.input) : null;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        const described = new Set((input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
        described.add(slot.id);
        input.setAttribute('aria-describedby', [...described].join(' '));
      }
      return input || slot;
    }
    parts = parts.slice(0, -1);
  }
  return null;
}
