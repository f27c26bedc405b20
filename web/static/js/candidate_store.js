// The candidate's outbox of unacknowledged saves (localStorage, keyed by ticket number) and the
// server clock estimate. No DOM here.

/**
 * Every change (answer, flag, position) is written here *before* it is sent. An entry leaves only
 * when the server acknowledges it with ok: true (accepted or not); validation refusals, which no
 * retry can fix, move to `rejected` (kept for the record, never re-sent).
 *
 * Stored as one JSON object under `exam.outbox.<ticket>`:
 *   {v: 1, session: <session code>, hw: <highest seq ever used>, entries: [...], rejected: [...]}
 * An outbox left by another session with the same ticket number is set aside under
 * `exam.outbox-old.<ticket>.<session>` and never replayed.
 */
export class Outbox {
  constructor(ticket, sessionCode, storage = window.localStorage) {
    this.key = `exam.outbox.${ticket}`;
    this.ticket = ticket;
    this.session = sessionCode || '';
    this.storage = storage;
    this.persisted = true;
    const data = this._read();
    if (data && data.session && this.session && data.session !== this.session) {
      this._write(`exam.outbox-old.${ticket}.${data.session}`, data);
      this.storage.removeItem(this.key);
      this.data = this._empty();
    } else {
      this.data = data || this._empty();
      if (!this.data.session) this.data.session = this.session;
    }
    this.data.entries.sort((a, b) => a.seq - b.seq);
    this.data.hw = Math.max(this.data.hw || 0, ...this.data.entries.map((e) => e.seq));
  }

  _empty() {
    return { v: 1, session: this.session, hw: 0, entries: [], rejected: [] };
  }

  _read() {
    try {
      const raw = this.storage.getItem(this.key);
      const data = raw ? JSON.parse(raw) : null;
      if (!data || !Array.isArray(data.entries)) return null;
      data.rejected = Array.isArray(data.rejected) ? data.rejected : [];
      return data;
    } catch (err) {
      return null;
    }
  }

  _write(key, data) {
    try {
      this.storage.setItem(key, JSON.stringify(data));
      return true;
    } catch (err) {
      return false; // storage full or disabled: the entries stay in memory
    }
  }

  _save() {
    this.persisted = this._write(this.key, this.data);
  }

  /** The seq numbers continue above everything the server and this device have seen. */
  raiseFloor(lastSeq) {
    if (Number.isInteger(lastSeq) && lastSeq > this.data.hw) {
      this.data.hw = lastSeq;
      this._save();
    }
  }

  /** Add a change; returns the entry with its new seq. */
  add(change) {
    this.data.hw += 1;
    const entry = { ...change, seq: this.data.hw };
    this.data.entries.push(entry);
    this._save();
    return entry;
  }

  /** Entries in seq order (oldest first). */
  entries() {
    return this.data.entries.slice();
  }

  first() {
    return this.data.entries[0] || null;
  }

  get size() {
    return this.data.entries.length;
  }

  get rejected() {
    return this.data.rejected.slice();
  }

  /** The server acknowledged the entry (ok: true): it leaves the outbox. */
  remove(seq) {
    const before = this.data.entries.length;
    this.data.entries = this.data.entries.filter((e) => e.seq !== seq);
    if (this.data.entries.length !== before) this._save();
  }

  /** The server refused the entry for good (validation): keep it aside, never re-send it. */
  reject(seq, reply) {
    const entry = this.data.entries.find((e) => e.seq === seq);
    if (!entry) return;
    this.data.entries = this.data.entries.filter((e) => e.seq !== seq);
    this.data.rejected.push({ ...entry, error: reply.error, message: reply.message });
    this._save();
  }
}

/**
 * The server's clock, estimated from round trips: offset = server_time − (send + receive) / 2,
 * keeping the sample with the shortest round trip among the recent ones. Times are measured with
 * performance.now() (monotonic), so neither a wrong client clock nor a clock changed during the
 * exam moves the countdown.
 */
export class ServerClock {
  constructor(keep = 10) {
    this.samples = [];
    this.keep = keep;
  }

  /** One round trip: the server's time (ms since the epoch) and when we sent and received. */
  addSample(serverMs, sentPerf, receivedPerf) {
    if (!Number.isFinite(serverMs)) return;
    const rtt = Math.max(0, receivedPerf - sentPerf);
    this.samples.push({ rtt, offset: serverMs - (sentPerf + receivedPerf) / 2 });
    // Recent samples only: a laptop that slept may have paused the monotonic clock.
    if (this.samples.length > this.keep) this.samples.shift();
  }

  get ready() {
    return this.samples.length > 0;
  }

  get best() {
    return this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a), this.samples[0]);
  }

  /** The server's time now, ms since the epoch (the client's clock until the first sample). */
  now() {
    if (!this.samples.length) return Date.now();
    return performance.now() + this.best.offset;
  }
}
