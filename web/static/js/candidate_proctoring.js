// Integrity reporting of the exam page (docs/proctoring.md, "Candidate side"): a heartbeat every
// `heartbeat_seconds` (from the hello reply), integrity signals as they happen, and the
// proctor's warnings, which the candidate must acknowledge.
//
// Signals: `hidden` and `blur` carry how long the page was away and are sent when it comes back;
// `fullscreen_exit`, `copy`, `paste`, `context_menu` at once; `second_screen` and `small_window`
// when the situation starts. Nothing is blocked here: the server's rules turn signals into
// incidents and a proctor judges them. Signals made while offline wait in memory (at most
// MAX_QUEUE) and go out after the reconnect.

import * as C from './candidate_common.js';

const $ = (id) => document.getElementById(id);
const DEFAULT_HEARTBEAT_SECONDS = 5;
const DEFAULT_SMALL_RATIO = 0.5;
const THROTTLE_MS = 1_000; // the same instant signal (copy, paste, menu) at most once a second
const RESIZE_SETTLE_MS = 800;
const MAX_QUEUE = 100;

/**
 * The integrity side of the exam page. `hooks`:
 *   emit(event, data) -> Promise<reply>   (acknowledged emit; {ok:false,error:'offline'} offline)
 *   connected() -> bool                    (the socket is up)
 *   active() -> bool                       (the exam is running or paused: signals count)
 *   clock(serverMs, sentPerf, receivedPerf) (a round trip for the server clock estimate)
 *   announce(text)                         (an urgent screen-reader message)
 */
export class Integrity {
  constructor(hooks) {
    this.hooks = hooks;
    this.heartbeatMs = DEFAULT_HEARTBEAT_SECONDS * 1000;
    this.smallRatio = DEFAULT_SMALL_RATIO;
    this.timer = null;
    this.stopped = false;
    this.queue = []; // signals waiting for the connection
    this.lastInstant = new Map(); // kind -> performance.now() of the last one sent
    this.hiddenSince = null;
    this.blurSince = null;
    this.hiddenDuringBlur = false;
    this.wasFullscreen = Boolean(document.fullscreenElement);
    this.small = false;
    this.extended = false;
    this.resizeTimer = null;
    this.flushing = false;
    this.warnings = []; // [{id, text, sent_at}] waiting to be shown or acknowledged
    this.acked = new Set(); // ids acknowledged on this page (the server may not know yet)
    this.unsentAcks = new Set(); // acknowledged while offline: sent after the reconnect
    this.listen();
  }

  // -- configuration and connection ------------------------------------------------------------

  /** Settings and open warnings from a hello reply. */
  configure(reply) {
    const seconds = Number(reply.heartbeat_seconds);
    const ms = Number.isFinite(seconds) && seconds >= 1 ? seconds * 1000 : this.heartbeatMs;
    const ratio = Number(reply.small_window_ratio);
    if (Number.isFinite(ratio) && ratio > 0 && ratio <= 1) this.smallRatio = ratio;
    if (ms !== this.heartbeatMs || !this.timer) {
      this.heartbeatMs = ms;
      this.restartHeartbeat();
    }
    for (const warning of reply.warnings || []) this.warn(warning);
    this.checkScreens();
    this.checkSize();
  }

  /** The socket is (again) connected: send what waited and start beating. */
  connected() {
    if (this.stopped) return;
    this.restartHeartbeat();
    this.heartbeat();
    this.flush();
  }

  disconnected() {
    window.clearInterval(this.timer);
    this.timer = null;
  }

  /** Submitted, voided or signed out: nothing more is sent. */
  stop() {
    this.stopped = true;
    window.clearInterval(this.timer);
    this.timer = null;
    this.queue = [];
    const dialog = $('warning-dialog');
    if (dialog && dialog.open) dialog.close();
  }

  restartHeartbeat() {
    window.clearInterval(this.timer);
    this.timer = null;
    if (this.stopped || !this.hooks.connected()) return;
    this.timer = window.setInterval(() => this.heartbeat(), this.heartbeatMs);
  }

  // -- heartbeat -------------------------------------------------------------------------------

  /** What the heartbeat says about this page now. */
  snapshot() {
    const beat = {
      visible: document.visibilityState === 'visible',
      focused: document.hasFocus(),
      fullscreen: Boolean(document.fullscreenElement),
      client_time: Date.now(),
      width: Math.round(window.innerWidth),
      height: Math.round(window.innerHeight),
      screen_width: Math.round(window.screen.width),
      screen_height: Math.round(window.screen.height),
    };
    if (typeof window.screen.isExtended === 'boolean') beat.screens = window.screen.isExtended ? 2 : 1;
    return beat;
  }

  async heartbeat() {
    if (this.stopped || !this.hooks.connected()) return;
    const sent = performance.now();
    const reply = await this.hooks.emit('heartbeat', this.snapshot());
    const received = performance.now();
    if (reply.ok && reply.server_time !== undefined) {
      const ms = typeof reply.server_time === 'number' ? reply.server_time : C.parseTime(reply.server_time);
      if (ms !== null) this.hooks.clock(ms, sent, received);
    }
  }

  // -- signals ---------------------------------------------------------------------------------

  signal(kind, extra = {}) {
    if (this.stopped || !this.hooks.active()) return;
    this.queue.push({ kind, client_time: Date.now(), ...extra });
    if (this.queue.length > MAX_QUEUE) this.queue.shift();
    this.flush();
  }

  /** An instant signal, at most once a second per kind. */
  instant(kind) {
    const now = performance.now();
    const last = this.lastInstant.get(kind);
    if (last !== undefined && now - last < THROTTLE_MS) return;
    this.lastInstant.set(kind, now);
    this.signal(kind);
  }

  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length && this.hooks.connected() && !this.stopped) {
        const reply = await this.hooks.emit('signal', this.queue[0]);
        if (!reply.ok && (reply.error === 'offline' || reply.error === 'timeout')) break;
        // Sent (or refused for good, e.g. a validation error): either way it leaves the queue.
        this.queue.shift();
      }
      if (this.hooks.connected()) {
        for (const id of [...this.unsentAcks]) {
          const reply = await this.hooks.emit('ack_warning', { id });
          if (reply.ok || (reply.error !== 'offline' && reply.error !== 'timeout')) this.unsentAcks.delete(id);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  onVisibility() {
    if (document.visibilityState === 'hidden') {
      if (this.hooks.active()) this.hiddenSince = performance.now();
      if (this.blurSince !== null) this.hiddenDuringBlur = true;
      this.heartbeat();
      return;
    }
    if (this.hiddenSince !== null) {
      const duration = Math.round(performance.now() - this.hiddenSince);
      this.hiddenSince = null;
      this.signal('hidden', { duration_ms: duration });
    }
    this.heartbeat();
  }

  onBlur() {
    if (this.hooks.active() && this.blurSince === null) {
      this.blurSince = performance.now();
      this.hiddenDuringBlur = document.visibilityState === 'hidden';
    }
  }

  onFocus() {
    if (this.blurSince === null) return;
    const duration = Math.round(performance.now() - this.blurSince);
    const counted = this.hiddenDuringBlur; // the `hidden` signal already tells this leave
    this.blurSince = null;
    this.hiddenDuringBlur = false;
    if (!counted) this.signal('blur', { duration_ms: duration });
  }

  onFullscreen() {
    const now = Boolean(document.fullscreenElement);
    if (this.wasFullscreen && !now) this.signal('fullscreen_exit');
    this.wasFullscreen = now;
    const button = $('fullscreen-button');
    if (button) button.hidden = now || !document.fullscreenEnabled;
  }

  checkScreens() {
    const extended = window.screen.isExtended === true;
    if (extended && !this.extended) this.signal('second_screen', { detail: { screens: 2 } });
    this.extended = extended;
  }

  checkSize() {
    const area = window.innerWidth * window.innerHeight;
    const screenArea = window.screen.width * window.screen.height;
    const small = screenArea > 0 && area < this.smallRatio * screenArea;
    if (small && !this.small) {
      this.signal('small_window', {
        detail: {
          width: Math.round(window.innerWidth),
          height: Math.round(window.innerHeight),
          screen_width: Math.round(window.screen.width),
          screen_height: Math.round(window.screen.height),
        },
      });
    }
    this.small = small;
  }

  listen() {
    document.addEventListener('visibilitychange', () => this.onVisibility());
    window.addEventListener('blur', () => this.onBlur());
    window.addEventListener('focus', () => this.onFocus());
    document.addEventListener('fullscreenchange', () => this.onFullscreen());
    document.addEventListener('copy', () => this.instant('copy'));
    document.addEventListener('cut', () => this.instant('copy'));
    document.addEventListener('paste', () => this.instant('paste'));
    document.addEventListener('contextmenu', () => this.instant('context_menu'));
    window.addEventListener('resize', () => {
      window.clearTimeout(this.resizeTimer);
      this.resizeTimer = window.setTimeout(() => this.checkSize(), RESIZE_SETTLE_MS);
    });
    if (typeof window.screen.addEventListener === 'function' && 'isExtended' in window.screen) {
      window.screen.addEventListener('change', () => this.checkScreens());
    }
    const button = $('fullscreen-button');
    if (button) {
      button.hidden = !document.fullscreenEnabled || Boolean(document.fullscreenElement);
      button.addEventListener('click', () => {
        document.documentElement.requestFullscreen().catch(() => {});
      });
    }
    const dialog = $('warning-dialog');
    if (dialog) {
      // The warning stays until it is acknowledged: Escape does not close it.
      dialog.addEventListener('cancel', (event) => event.preventDefault());
      $('warning-ack').addEventListener('click', () => this.acknowledge());
    }
  }

  // -- the proctor's warnings ------------------------------------------------------------------

  /** A warning from the proctor (pushed, or still unacknowledged in hello). */
  warn(warning) {
    if (!warning || warning.id === undefined || this.stopped) return;
    if (this.acked.has(warning.id) || this.warnings.some((w) => w.id === warning.id)) return;
    this.warnings.push(warning);
    this.showWarning();
  }

  showWarning() {
    const dialog = $('warning-dialog');
    const warning = this.warnings[0];
    if (!dialog || !warning || this.stopped) return;
    const at = C.parseTime(warning.sent_at);
    $('warning-text').textContent = warning.text || '';
    $('warning-when').textContent = at ? C.tr('warning.sent_at', { time: C.fmtTime(at) }) : '';
    dialog.dataset.id = String(warning.id);
    if (!dialog.open) {
      dialog.showModal();
      this.hooks.announce(`${C.tr('warning.title')}: ${warning.text || ''}`);
    }
    $('warning-ack').focus();
  }

  async acknowledge() {
    const dialog = $('warning-dialog');
    const warning = this.warnings.shift();
    if (!warning) {
      dialog.close();
      return;
    }
    this.acked.add(warning.id);
    if (this.warnings.length) this.showWarning();
    else dialog.close();
    const reply = await this.hooks.emit('ack_warning', { id: warning.id });
    if (!reply.ok && (reply.error === 'offline' || reply.error === 'timeout')) {
      this.unsentAcks.add(warning.id);
    }
  }
}
