"""Exam sessions (场次), rooms (考场), registrations (报名), rosters, admission tickets (准考证)
and candidate check-in (签到).

* :mod:`.models` — the tables, declared on the shared ``question_bank.db.Base``.
* :mod:`.schemas` — input shapes shared by the JSON API and the CLI.
* :mod:`.services` — sessions, rooms, proctors and the session state machine
  (planned → open → running → closed); every change audited.
* :mod:`.registrations` — candidates on seats, eligibility decisions, photos.
* :mod:`.hooks` — ``on_session_open``, where paper assembly (issue 3) plugs in.
* :mod:`.roster` — all-or-nothing roster import from CSV, xlsx or a zip with photos.
* :mod:`.tickets` — admission tickets as PDF.
* :mod:`.checkin` — candidate sign-in and candidate tokens.
* :mod:`.idcard` — identity document numbers (GB 11643 check digit).
* :mod:`.clock` — the injectable server clock.

Services take a SQLAlchemy ``Session``, an ``Actor`` and plain values; they flush, never commit.
See docs/sessions.md.
"""
