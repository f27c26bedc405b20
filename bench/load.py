"""Live-delivery load benchmark: N simulated candidates against the exam server on PostgreSQL +
Redis, with the generator on the same machine.

Targets (issue 4, "Speed"):
  * 2,000 concurrent candidates for 5 minutes with 0 lost answers and p99 save ack < 300 ms;
  * 2,000 candidates receive their papers within 30 s of a unified start.
Targets (issue 5, "Speed", with ``--proctors``): one proctor console per room connected; a
candidate event reaches its proctor's console in under 1 s at p95; heartbeats cause 0 SQL
statements; the server's CPU per 1,000 heartbeats is printed.

What the run does:
  1. creates its own PostgreSQL database, migrates it, loads the demo bank and users
     (``exam_server.demo.setup_demo``), and through the staff JSON API (Flask test client):
     a blueprint (tests/live_support.py's DEMO_BLUEPRINT), one session with 40 rooms of 50,
     the roster as one CSV (bulk import, approved), opens it (papers assembled);
  2. bare stack first (bench/echo_baseline.py, same generator, same server setup), unless
     ``--echo-duration 0``;
  3. starts ``--servers`` gunicorn gevent processes (one worker each) with EXAM_REDIS_URL set;
     each candidate sticks to one of them (as nginx with sticky sessions would do);
  4. runs the candidates (bench/_loadgen.py: sign in, connect, wait (``hello`` every 15 s, as
     the page does), the unified start over HTTP (the administrator's session-wide start, or
     with ``--start-by rooms`` every room's proctor at once), paper via ``hello``, heartbeat
     every 5 s, a save every 10 s, 5 % drop and reconnect, drain and submit);
  5. checks in PostgreSQL that every acknowledged save is there: ``answer_log`` holds every
     acknowledged seq with its answer, and ``attempt_answers`` holds, per (attempt, position),
     the answer of the highest acknowledged seq (or of a newer seq the client sent whose ack
     was cut off by a drop);
  6. prints connected, saves/s, ack latency percentiles, errors by code, paper delivery times,
     server CPU and peak RSS per process, PostgreSQL CPU, the generator's CPU, the ratio to the
     bare stack, and the command to reproduce; stops the servers and drops the database.

With ``--proctors`` (issue 5): the setup also creates one proctor user per room
(``bench-proctor-NN``, ``cli.create_user``), assigns each to its room through the staff API
(``PUT /api/sessions/<id>/rooms/<id>/proctors``) and gets their API tokens
(``POST /api/auth/token``). Then, in the same run:
  * an idle window of ``--hb-only-duration`` s right after the servers start, nobody connected:
    the servers' own CPU (``GET /api/v1/ops/metrics`` before and after);
  * before the candidates sign in, room r's proctor connects to ``/proctor`` on process
    r mod ``--servers`` and ``watch``es its room (the candidates of each room are spread over
    all processes, so every console gets pushes both from its own process and, through the
    Redis message queue, from the others; latencies are split accordingly);
  * in the steady phase every candidate also sends 1 to ``--signals`` ``blur`` signals (4–8 s)
    at random moments; latency = the proctor client's arrival of the ``incident`` push whose
    ``evidence.events`` holds the signal's ``client_time`` (same seat) minus the candidate's
    emit, on this process's monotonic clock (matching rule: bench/_loadgen.py's docstring);
    second figure: accepted save of a new question → the ``seats`` row with the new
    ``answered`` count;
  * the servers' counters (``/api/v1/ops/metrics`` of every process, admin token) at the start
    and the end of the steady phase: heartbeats handled, SQL statements charged to heartbeats
    (must be 0), SQL statements per save, signal and the other events;
  * after the steady phase, ``--hb-only-duration`` s in which the candidates send heartbeats only
    (no saves, signals or clock syncs; the proctors stay connected): server CPU (the gunicorn
    workers' ``cpu_seconds``) over that phase / heartbeats handled × 1000 is printed gross, and
    next to it net of the idle window's CPU scaled to the same length; Redis commands per
    heartbeat (INFO commandstats, the whole Redis server);
  * the figures go into ``--json`` under ``"proctoring"``, and the targets line gets
    "signal → proctor p95 < 1 s", "every signal reached its proctor", "0 SQL statements per
    heartbeat".

Reproduce:  .venv/bin/python -m bench.load [--candidates 2000] [--duration 300] [--servers 2]
            [--echo-duration SECONDS] [--start-by session|rooms] [--drop-rate 0.05]
            [--heartbeat 5] [--heartbeat-event heartbeat|time]
            [--time-sync 30] [--save-every 10] [--wait-poll 15] [--profile DIR] [--json PATH]
            [--proctors [--signals 2] [--hb-only-duration 20]]
Issue 5 figures:  .venv/bin/python -m bench.load --proctors --json proctoring.json
Needs aiohttp and psutil (and py-spy for --profile) besides the dev extras. Results and the
bottlenecks found: docs/benchmarks.md, "Live delivery — bench/load.py".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench._loadgen import Generator, Identity, LoadConfig, ProctorSpec, Results, percentile
from bench._servers import Sampler, ServerGroup

SECRET = "bench-load-secret-" + uuid.uuid4().hex
BLUEPRINT = {
    "sections": [
        {"type": "true_false", "count": 10, "points": 1, "quota_depth": 1},
        {"type": "single_choice", "count": 20, "points": 2, "quota_depth": 1},
        {"type": "multiple_choice", "count": 5, "points": 4, "quota_depth": 1},
        {"type": "fill_blank", "count": 3, "points": 10, "quotas": {"A": 1, "B": 2}},
    ],
    "duration_minutes": 90,
    "difficulty": {"tolerance": 0.02},
}  # tests/live_support.py: DEMO_BLUEPRINT
PROCTOR_NAME = "bench-proctor-{:02d}"  # one per room, by room number
PROCTOR_PASSWORD = "bench-proctor-pass-1"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞"


def log(msg: str) -> None:
    print(msg, flush=True)


def resident_id(k: int) -> str:
    """A valid resident ID number (GB 11643 check character), distinct for each k."""
    born = dt.date(1975, 1, 1) + dt.timedelta(days=k // 800)
    first17 = f"110105{born:%Y%m%d}{100 + k % 800:03d}"
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    c = (12 - total % 11) % 11
    return first17 + ("X" if c == 10 else str(c))


# -- database and exam setup ------------------------------------------------------------------------


class Database:
    """A database of our own on the server of ``admin_url``; dropped by ``drop()``."""

    def __init__(self, admin_url: str):
        import psycopg

        self.admin_url = admin_url.replace("postgresql+psycopg://", "postgresql://")
        self.name = f"exam_bench_live_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = self.admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"  # plain libpq URL (psycopg)
        self.sa_url = "postgresql+psycopg://" + self.url.removeprefix("postgresql://")

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def setup_exam(
    db_url: str, instance: Path, candidates: int, rooms: int, *, proctors: bool = False
) -> dict[str, Any]:
    """Migrate, load the demo, create and open the session; returns what the run needs.
    ``proctors``: also one proctor user per room (``bench-proctor-NN``), assigned to the room
    through the staff API, and their API tokens (``proctor_tokens``: room id -> token)."""
    from sqlalchemy import select

    from exam_server import create_app
    from exam_server.cli import create_user, upgrade_database
    from exam_server.demo import setup_demo
    from exam_server.extensions import db
    from exam_server.models import Role
    from exam_server.sessions.models import ExamSession, Registration, Room

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": SECRET,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            # the setup client signs in every proctor from one address
            **({"LOGIN_RATE_PER_MINUTE": 100_000} if proctors else {}),
        }
    )
    timings: dict[str, float] = {}
    t = time.perf_counter()
    with app.app_context():
        upgrade_database()
        timings["migrate"] = time.perf_counter() - t
        t = time.perf_counter()
        setup_demo()
        for r in range(rooms if proctors else 0):
            create_user(PROCTOR_NAME.format(r + 1), PROCTOR_PASSWORD, [Role.PROCTOR])
        db.session.commit()
        db.session.remove()
    timings["demo"] = time.perf_counter() - t
    client = app.test_client()

    def token(user: str, password: str) -> dict[str, str]:
        resp = client.post("/api/auth/token", json={"username": user, "password": password})
        assert resp.status_code == 200, resp.get_json()
        return {"Authorization": f"Bearer {resp.get_json()['token']}"}

    def ok(resp, status: int = 200) -> dict[str, Any]:
        if resp.status_code != status:
            raise RuntimeError(f"{resp.request.path}: {resp.status_code} {resp.get_data(True)}")
        return resp.get_json()

    admin, editor = token("admin", "admin-demo-1"), token("editor", "editor-demo-1")
    release = ok(client.get("/api/releases", headers=editor))["releases"][0]["id"]
    bp = ok(
        client.post(
            "/api/blueprints",
            headers=editor,
            json={
                "occupation": "6-31-01-03",
                "level": 4,
                "code": "E4-BENCH",
                "name": "电工四级理论(压测)",
                "spec": BLUEPRINT,
            },
        ),
        201,
    )["version"]["id"]
    per_room = math.ceil(candidates / rooms)
    room_names = [f"第{r + 1:02d}考场" for r in range(rooms)]
    es = ok(
        client.post(
            "/api/sessions",
            headers=admin,
            json={
                "code": "BENCH-LIVE",
                "name": "压测场次",
                "occupation": "6-31-01-03",
                "level": 4,
                "scheduled_start": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat(),
                "duration_minutes": 600,
                "late_entry_minutes": 60,
                "earliest_submit_minutes": 0,
                "start_mode": "unified",
                "release_id": release,
                "blueprint_version_id": bp,
                "rooms": [{"name": n, "capacity": per_room} for n in room_names],
            },
        ),
        201,
    )["session"]
    sid = es["id"]
    out = io.StringIO()
    out.write("姓名,身份证号,考场,座位号\n")
    for k in range(candidates):
        name = SURNAMES[k % len(SURNAMES)] + GIVEN[k // len(SURNAMES) % len(GIVEN)]
        name += GIVEN[k // (len(SURNAMES) * len(GIVEN)) % len(GIVEN)]
        out.write(f"{name},{resident_id(k)},{room_names[k // per_room]},{k % per_room + 1}\n")
    t = time.perf_counter()
    ok(
        client.post(
            f"/api/sessions/{sid}/roster",
            headers=admin,
            data={
                "file": (io.BytesIO(out.getvalue().encode()), "roster.csv"),
                "eligibility": "approved",
                "reason": "load benchmark",
            },
            content_type="multipart/form-data",
        ),
        201,
    )
    timings["roster_import"] = time.perf_counter() - t
    t = time.perf_counter()
    ok(client.post(f"/api/sessions/{sid}/transitions", headers=admin, json={"action": "open"}))
    timings["open"] = time.perf_counter() - t
    proctor_tokens: dict[int, str] = {}
    if proctors:
        t = time.perf_counter()
        for room in ok(client.get(f"/api/sessions/{sid}", headers=admin))["session"]["rooms"]:
            name = PROCTOR_NAME.format(room["number"])
            ok(
                client.put(
                    f"/api/sessions/{sid}/rooms/{room['id']}/proctors",
                    headers=admin,
                    json={"usernames": [name], "reason": "压测监考安排"},
                )
            )
            proctor_tokens[room["id"]] = token(name, PROCTOR_PASSWORD)["Authorization"][7:]
        timings["proctors"] = time.perf_counter() - t
    with app.app_context():
        es_row = db.session.get(ExamSession, sid)
        codes = {r.id: (r.number, r.access_code) for r in es_row.rooms}
        regs = db.session.execute(
            select(Registration.ticket_number, Registration.id_number, Registration.room_id)
            .where(Registration.session_id == sid)
            .order_by(Registration.id)
        ).all()
        room_index = {rid: num - 1 for rid, (num, _code) in codes.items()}
        people = [(t_, idn, codes[rid][1], room_index[rid]) for t_, idn, rid in regs]
        assert db.session.scalar(select(Room.id).where(Room.session_id == sid).limit(1))
        db.session.remove()
    return {
        "session_id": sid,
        "room_ids": sorted(codes),
        "admin_headers": admin,
        "people": people,
        "timings": timings,
        "rooms": rooms,
        "per_room": per_room,
        "room_numbers": {rid: num for rid, (num, _code) in codes.items()},
        "proctor_tokens": proctor_tokens,
    }


# -- verification ------------------------------------------------------------------------------------


def verify(pg_url: str, session_id: int, r: Results) -> dict[str, Any]:
    """Every acknowledged save must be in PostgreSQL. Returns counts; ``lost`` must be 0."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        attempts = dict(
            conn.execute(
                "SELECT r.ticket_number, a.id FROM attempts a JOIN registrations r "
                "ON r.id = a.registration_id WHERE a.session_id = %s",
                (session_id,),
            ).fetchall()
        )
        states = Counter(
            s
            for (s,) in conn.execute(
                "SELECT state FROM attempts WHERE session_id = %s", (session_id,)
            ).fetchall()
        )
        ids = list(attempts.values())
        log_rows = conn.execute(
            "SELECT attempt_id, seq, kind, position, value FROM answer_log "
            "WHERE attempt_id = ANY(%s)",
            (ids,),
        ).fetchall()
        final_rows = conn.execute(
            "SELECT attempt_id, position, response, answer_seq FROM attempt_answers "
            "WHERE attempt_id = ANY(%s)",
            (ids,),
        ).fetchall()
    tickets = {a: t for t, a in attempts.items()}
    logged = {(a, seq): (kind, pos, val) for a, seq, kind, pos, val in log_rows}
    final = {(a, pos): (resp, seq) for a, pos, resp, seq in final_rows}
    v: Counter = Counter()
    best: dict[tuple[int, int], tuple[int, Any]] = {}
    for ack in r.acks:
        a = attempts[ack.ticket]
        v["acked_saves"] += 1
        got = logged.get((a, ack.seq))
        if got is None:
            v["acked_missing_from_log"] += 1
        elif got != ("answer", ack.position, ack.answer):
            v["acked_log_mismatch"] += 1
        key = (a, ack.position)
        if key not in best or best[key][0] < ack.seq:
            best[key] = (ack.seq, ack.answer)
    for (a, pos), (seq, answer) in best.items():
        v["positions_checked"] += 1
        row = final.get((a, pos))
        if row is None:
            v["final_missing"] += 1
            continue
        resp, db_seq = row
        if db_seq == seq:
            if resp != answer:
                v["final_mismatch"] += 1
        elif db_seq > seq:
            # newer than any ack: a save whose ack was cut off; it must be one the client sent
            ticket = tickets[a]
            sent = r.sent.get(ticket, {}).get(db_seq)
            if sent is None or (sent[0], json.loads(sent[1])) != (pos, resp):
                v["final_unknown_newer"] += 1
            else:
                v["final_newer_unacked_ok"] += 1
        else:
            v["final_older_than_acked"] += 1
    sent_seqs = {(attempts[t], s) for t, m in r.sent.items() if t in attempts for s in m}
    v["log_rows"] = len(logged)
    v["log_rows_never_sent"] = sum(1 for k in logged if k not in sent_seqs)
    v["lost"] = (
        v["acked_missing_from_log"]
        + v["acked_log_mismatch"]
        + v["final_missing"]
        + v["final_mismatch"]
        + v["final_older_than_acked"]
        + v["final_unknown_newer"]
    )
    return {"counts": dict(v), "attempt_states": dict(states)}


# -- report -------------------------------------------------------------------------------------------


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


def _pcts(values: list[float]) -> str:
    if not values:
        return "(none)"
    return (
        f"p50 {_ms(percentile(values, 50))}  p95 {_ms(percentile(values, 95))}  "
        f"p99 {_ms(percentile(values, 99))}  max {_ms(max(values))}  (n={len(values)})"
    )


def summarize(out: dict[str, Any], cfg: LoadConfig) -> dict[str, Any]:
    r: Results = out["results"]
    sampler: Sampler = out["sampler"]
    ph = r.phases
    delays = r.paper_delays()
    steady = (ph.get("steady"), ph.get("end"))
    span = (steady[1] - steady[0]) if all(steady) else None
    saves = r.window("save", "steady", "end")
    lag = [v for t, v in r.loop_lag if span and steady[0] <= t < steady[1]]
    gcs = [v for t, v in r.gc_pauses if span and steady[0] <= t < steady[1]]
    s: dict[str, Any] = {
        "candidates": r.n,
        "connected_peak": r.connected_peak,
        "waiting_at_start": r.counts.get("ready", 0),
        "papers": len(delays),
        "paper_p50_s": percentile(delays, 50),
        "paper_p99_s": percentile(delays, 99),
        "paper_max_s": delays[-1] if delays else None,
        "papers_within_30s": sum(1 for d in delays if d <= 30),
        "connect_phase_s": ph.get("start", 0) - ph.get("connect", 0),
        "steady_s": span,
        "saves_per_s": r.steady_saves_per_second(),
        "save_acks_steady": len(saves),
        "save_p50_ms": (percentile(saves, 50) or 0) * 1000,
        "save_p95_ms": (percentile(saves, 95) or 0) * 1000,
        "save_p99_ms": (percentile(saves, 99) or 0) * 1000,
        "errors": dict(r.errors.most_common()),
        "errors_by_phase": {k: dict(v.most_common()) for k, v in r.errors_by_phase.items()},
        "counts": dict(r.counts),
        "latency": {
            phase: {
                name: _pcts(r.window(name, a, b))
                for name in sorted(r.latencies)
                if r.window(name, a, b)
            }
            for phase, a, b in (
                ("sign-in and waiting", "connect", "start"),
                ("start until every paper", "start", "steady"),
                ("steady", "steady", "end"),
                ("heartbeats only", "hb_only", "drain"),
                ("drain and submit", "drain" if "drain" in ph else "end", "done"),
            )
            if a in ph  # "heartbeats only" with --proctors only
        },
        "generator_cpu_s": r.cpu.get("done", 0) - r.cpu.get("connect", 0),
        "loop_lag_steady_p99_ms": (percentile(lag, 99) or 0) * 1000,
        "loop_lag_steady_max_ms": max(lag, default=0) * 1000,
        "gc_pauses_steady": len(gcs),
        "gc_pause_steady_max_ms": max(gcs, default=0) * 1000,
    }
    procs: dict[str, dict[str, Any]] = {}
    ours = 0.0
    for label, st in out["stats"].items():
        row: dict[str, Any] = {"cpu_s": round(st.cpu(), 1)}
        if label.isdigit():
            row["rss_peak_mb"] = round(st.rss_peak / 2**20)
            row["master_rss_peak_mb"] = round(st.master_rss_peak / 2**20)
        if span:
            row["steady_cores"] = round(sampler.cpu_between(label, *steady) / span, 2)
            if label != "pg_ours":  # part of "postgres"
                ours += row["steady_cores"]
        for a, b, name in (("connect", "start", "sign_in"), ("start", "steady", "start_storm")):
            if ph.get(a) and ph.get(b):
                row[f"{name}_cpu_s"] = round(sampler.cpu_between(label, ph[a], ph[b]), 1)
        procs[label] = row
    s["processes"] = procs
    s["timeline"] = timeline(r, sampler)
    if span:
        s["generator_steady_cores"] = (r.cpu["end"] - r.cpu["steady"]) / span
        busy = sampler.busy_between(*steady)
        if busy:
            s["machine_busy_steady_cores"] = statistics.mean(busy) / 100 * (os.cpu_count() or 2)
            s["other_load_steady_cores"] = max(
                0.0, s["machine_busy_steady_cores"] - ours - s["generator_steady_cores"]
            )
    return s


def timeline(r: Results, sampler: Sampler, step: float = 10.0) -> list[dict[str, Any]]:
    """Per ``step`` seconds from the start: saves acked, save and heartbeat p99, server and
    PostgreSQL cores, generator loop lag."""
    t0, t_end = r.phases.get("start"), r.phases.get("done") or r.phases.get("end")
    if t0 is None or t_end is None:
        return []
    saves = r.latencies.get("save", [])
    beats = r.latencies.get("time", [])
    servers = [k for k in sampler.stats if k.isdigit()]
    rows = []
    t = t0
    while t < t_end:
        u = min(t + step, t_end)
        sv = [v for ts, v in saves if t <= ts < u]
        hb = [v for ts, v in beats if t <= ts < u]
        lag = [v for ts, v in r.loop_lag if t <= ts < u]
        rows.append(
            {
                "t": round(t - t0),
                "saves": len(sv),
                "save_p99_ms": round((percentile(sv, 99) or 0) * 1000),
                "time_p99_ms": round((percentile(hb, 99) or 0) * 1000),
                "server_cores": round(
                    sum(sampler.cpu_between(k, t, u) for k in servers) / (u - t), 2
                ),
                "pg_cores": round(sampler.cpu_between("postgres", t, u) / (u - t), 2),
                "machine_cores": round(
                    statistics.mean(sampler.busy_between(t, u) or [0])
                    / 100
                    * (os.cpu_count() or 2),
                    2,
                ),
                "lag_max_ms": round(max(lag, default=0) * 1000),
            }
        )
        t = u
    return rows


def print_report(label: str, out: dict[str, Any], cfg: LoadConfig) -> dict[str, Any]:
    s = summarize(out, cfg)
    log(f"\n== {label} ==")
    log(
        f"candidates {s['candidates']}: connected peak {s['connected_peak']}, waiting at the "
        f"start {s['waiting_at_start']}, submitted {s['counts'].get('submitted', 0)}; "
        f"sign-in + connect phase {s['connect_phase_s']:.1f} s"
    )
    if s["papers"]:
        log(
            f"paper after the start: p50 {s['paper_p50_s']:.2f} s, p99 {s['paper_p99_s']:.2f} s, "
            f"max {s['paper_max_s']:.2f} s; {s['papers_within_30s']}/{s['candidates']} within 30 s"
        )
    log(
        f"steady phase {s['steady_s'] or 0:.0f} s: {s['saves_per_s']:.1f} acked saves/s "
        f"(the candidates' rate: {s['candidates'] / cfg.save_every:.0f}/s)"
    )
    for phase, rows in s["latency"].items():
        log(f"  latency, {phase}:")
        for name, text in rows.items():
            log(f"    {name:<14} {text}")
    c = s["counts"]
    log(
        f"drops {c.get('drops', 0)}, reconnects {c.get('reconnects', 0)}, acks with "
        f"accepted=false {c.get('acked_not_accepted', 0)}, saves given up "
        f"{c.get('saves_given_up', 0)}, pushes received: 'started' {c.get('started_events', 0)}, "
        f"'submitted' {c.get('submitted_events', 0)}"
    )
    log("errors: " + ("none" if not s["errors"] else ""))
    for phase, errs in s["errors_by_phase"].items():
        log(f"  in phase '{phase}': {json.dumps(errs)}")
    names = {"postgres": "postgres (all)", "pg_ours": "postgres (our db)", "redis": "redis"}
    for name, row in s["processes"].items():
        title = f"server #{name}" if name.isdigit() else names.get(name, name)
        log(f"  {title:<18} {json.dumps(row)}")
    log(
        f"  generator: {s['generator_cpu_s']:.1f} s CPU in all, "
        f"{s.get('generator_steady_cores', 0):.2f} cores in the steady phase, event-loop lag "
        f"p99 {s['loop_lag_steady_p99_ms']:.0f} ms, max {s['loop_lag_steady_max_ms']:.0f} ms, "
        f"{s['gc_pauses_steady']} GC pauses (max {s['gc_pause_steady_max_ms']:.0f} ms)"
    )
    log(
        "  timeline from the start (10 s buckets): t, saves acked, save p99 ms, time p99 ms, "
        "server cores, PostgreSQL cores, machine busy cores"
    )
    for k in range(0, len(s["timeline"]), 6):
        cells = [
            f"{row['t']}s:{row['saves']}/{row['save_p99_ms']}/{row['time_p99_ms']}/"
            f"{row['server_cores']}/{row['pg_cores']}/{row['machine_cores']}"
            for row in s["timeline"][k : k + 6]
        ]
        log("    " + "  ".join(cells))
    if s.get("machine_busy_steady_cores") is not None:
        log(
            f"  machine in the steady phase: {s['machine_busy_steady_cores']:.2f} of "
            f"{os.cpu_count()} cores busy, of which {s['other_load_steady_cores']:.2f} not ours "
            "(other users of the machine)"
        )
    return s


# -- proctoring (--proctors) ---------------------------------------------------------------------


def proctor_specs(exam: dict[str, Any], servers: int) -> list[ProctorSpec]:
    """One console per room. The candidates of every room are spread over the processes
    (candidate k on process k mod servers), so every proctor has candidates on its own process
    and on the other(s): room r's proctor goes to process r mod servers (the consoles spread
    evenly) and each latency sample is labelled same-process or cross-process."""
    specs = []
    for rid, number in sorted(exam["room_numbers"].items(), key=lambda kv: kv[1]):
        room = number - 1
        specs.append(ProctorSpec(room, rid, room % servers, exam["proctor_tokens"][rid]))
    return specs


def read_metrics(urls: list[str], headers: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /api/v1/ops/metrics`` of every server process (one gunicorn worker each)."""
    out = []
    for url in urls:
        req = urllib.request.Request(f"{url}/api/v1/ops/metrics", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                out.append(json.loads(resp.read()))
        except (OSError, ValueError) as exc:  # an overloaded server: report it, go on
            print(f"  (metrics of {url} not read: {type(exc).__name__}: {exc})", flush=True)
            out.append({"pid": None, "cpu_seconds": None, "events": {}, "sql_statements": {}})
    return out


def read_redis_calls(url: str) -> Counter:
    """Calls per command of the whole Redis server (``INFO commandstats``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()})


def metrics_delta(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Counters of all processes between two readings: CPU seconds, events and statements
    per event kind (a process that restarted in between would show a pid change)."""
    events: Counter = Counter()
    stmts: Counter = Counter()
    counters: Counter = Counter()
    cpu = 0.0
    per_process = []
    for x, y in zip(a, b, strict=True):
        ev = Counter(y["events"])
        ev.subtract(x["events"])
        st = Counter(y["sql_statements"])
        st.subtract(x["sql_statements"])
        events.update(ev)
        stmts.update(st)
        co = Counter(y.get("counters") or {})
        co.subtract(x.get("counters") or {})
        counters.update(co)
        if x["cpu_seconds"] is None or y["cpu_seconds"] is None:  # a reading failed
            per_process.append({"pid": y["pid"], "unread": True})
            continue
        c = y["cpu_seconds"] - x["cpu_seconds"]
        cpu += c
        per_process.append(
            {
                "pid": y["pid"],
                "restarted": x["pid"] != y["pid"],
                "cpu_s": round(c, 2),
                "heartbeats": ev.get("heartbeat", 0),
                # Collector pauses in the window: per generation count, total ms; and the
                # longest pause since the process started.
                "gc": {
                    gen: {
                        "count": g["count"] - x["gc"][gen]["count"],
                        "total_ms": round(g["total_ms"] - x["gc"][gen]["total_ms"]),
                        "max_ms_ever": g["max_ms"],
                    }
                    for gen, g in (y.get("gc") or {}).items()
                    if "gc" in x
                },
                "gc_policy": y.get("gc_policy"),
            }
        )
    return {
        "cpu_s": cpu,
        "events": {k: v for k, v in sorted(events.items()) if v},
        "sql_statements": {k: v for k, v in sorted(stmts.items()) if v},
        "counters": {k: v for k, v in sorted(counters.items()) if v},
        "per_process": per_process,
    }


def _rate(stmts: dict[str, int], events: dict[str, int], name: str) -> float | None:
    n = events.get(name, 0)
    return None if not n else stmts.get(name, 0) / n


def proctor_summary(out: dict[str, Any]) -> dict[str, Any]:
    r: Results = out["results"]
    m = out["metrics"]  # phase name -> readings of every process
    sig = r.signal_latencies()
    sav = r.save_seat_latencies()

    def pcts(values: list[float]) -> dict[str, Any]:
        return {
            "n": len(values),
            **{
                f"p{q}_ms": None if not values else round(percentile(values, q) * 1000)
                for q in (50, 95, 99)
            },
            "max_ms": None if not values else round(max(values) * 1000),
        }

    s: dict[str, Any] = {
        "proctors": len(r.proctor_server),
        "proctors_by_process": dict(Counter(r.proctor_server.values())),
        "pushes": dict(r.proctor_counts),
        "signals_sent": len(r.signals_sent),
        "signal_to_incident": {k: pcts(sig[k]) for k in ("all", "same", "cross")},
        "signal_missing": sig["missing"],
        "save_to_seats": {k: pcts(sav[k]) for k in ("all", "same", "cross")},
        "save_marks_missing": sav["missing"],
    }
    if "steady" in m and "end" in m:
        d = metrics_delta(m["steady"], m["end"])
        ev, st = d["events"], d["sql_statements"]
        s["steady_metrics"] = d
        s["steady_heartbeats"] = ev.get("heartbeat", 0)
        s["steady_heartbeat_sql"] = st.get("heartbeat", 0)
        s["sql_per_event_steady"] = {
            k: round(_rate(st, ev, k), 2) for k in sorted(ev) if _rate(st, ev, k) is not None
        }
    if "hb_only" in m and "drain" in m:
        d = metrics_delta(m["hb_only"], m["drain"])
        s["hb_phase"] = d
        s["hb_phase_s"] = r.phases["drain"] - r.phases["hb_only"]
        beats = d["events"].get("heartbeat", 0)
        s["hb_phase_heartbeats"] = beats
        s["hb_phase_heartbeat_sql"] = d["sql_statements"].get("heartbeat", 0)
        rc = out.get("redis_calls") or {}
        if beats and "hb_only" in rc and "drain" in rc:
            calls = rc["drain"] - rc["hb_only"]
            s["hb_phase_redis_calls"] = dict(calls.most_common())
            s["redis_calls_per_heartbeat"] = sum(calls.values()) / beats
        s["cpu_per_1000_heartbeats_s"] = d["cpu_s"] / beats * 1000 if beats else None
        idle = out.get("idle")
        if idle:
            # the idle CPU scaled to the length of the heartbeat phase
            idle_cpu = idle["cpu_s"] * s["hb_phase_s"] / idle["seconds"]
            s["idle_cpu_s"] = idle_cpu
            s["idle_seconds"] = idle["seconds"]
            s["cpu_per_1000_heartbeats_net_s"] = (
                (d["cpu_s"] - idle_cpu) / beats * 1000 if beats else None
            )
    return s


def print_proctor_report(s: dict[str, Any]) -> None:
    log("\n== proctoring (--proctors) ==")
    log(
        f"proctor consoles: {s['proctors']} (per server process {s['proctors_by_process']}); "
        f"pushes received: {json.dumps(s['pushes'])}"
    )

    def row(title: str, d: dict[str, Any]) -> str:
        if not d["n"]:
            return f"    {title:<28} (none)"
        return (
            f"    {title:<28} p50 {d['p50_ms']} ms  p95 {d['p95_ms']} ms  p99 {d['p99_ms']} ms  "
            f"max {d['max_ms']} ms  (n={d['n']})"
        )

    log(
        f"  candidate signal → proctor's 'incident' push ({s['signals_sent']} blur signals sent, "
        f"{s['signal_missing']} never pushed):"
    )
    for key, title in (
        ("all", "all"),
        ("same", "console on the same process"),
        ("cross", "console on another process"),
    ):
        log(row(title, s["signal_to_incident"][key]))
    log(
        f"  save (new question answered) → 'seats' push with the new count (batched ~1 s; "
        f"{s['save_marks_missing']} never pushed):"
    )
    for key, title in (
        ("all", "all"),
        ("same", "console on the same process"),
        ("cross", "console on another process"),
    ):
        log(row(title, s["save_to_seats"][key]))
    if "steady_metrics" in s:
        d = s["steady_metrics"]
        log(
            f"  server counters over the steady phase (GET /api/v1/ops/metrics, all processes): "
            f"heartbeats handled {s['steady_heartbeats']}, SQL statements charged to heartbeats "
            f"{s['steady_heartbeat_sql']}"
        )
        log(f"    events:         {json.dumps(d['events'])}")
        log(f"    SQL statements: {json.dumps(d['sql_statements'])}")
        log(f"    SQL per event:  {json.dumps(s['sql_per_event_steady'])}")
        for proc in d["per_process"]:
            if proc.get("gc"):
                log(
                    f"    garbage collector, process {proc['pid']}: {json.dumps(proc['gc'])}, "
                    f"policy {json.dumps(proc.get('gc_policy'))}"
                )
        groups = d.get("counters", {}).get("save_groups", 0)
        if groups:
            grouped = d["counters"].get("saves_in_groups", 0)
            log(
                f"    saves written in {groups} transactions (group commit): "
                f"{grouped / groups:.2f} saves per transaction"
            )
    if "hb_phase" in s:
        d = s["hb_phase"]
        log(
            f"  heartbeats-only phase ({s['hb_phase_s']:.1f} s, no saves, signals or clock "
            f"syncs): {s['hb_phase_heartbeats']} heartbeats, SQL charged to heartbeats "
            f"{s['hb_phase_heartbeat_sql']}, events {json.dumps(d['events'])}, SQL "
            f"{json.dumps(d['sql_statements'])}"
        )
        if "redis_calls_per_heartbeat" in s:
            log(
                f"    Redis commands in the phase (whole Redis server, INFO commandstats): "
                f"{s['redis_calls_per_heartbeat']:.1f} per heartbeat "
                f"{json.dumps(s['hb_phase_redis_calls'])}"
            )
        cpu = s["cpu_per_1000_heartbeats_s"]
        log(
            f"    server CPU (gunicorn workers, from the counters) {d['cpu_s']:.2f} s "
            f"{json.dumps(d['per_process'])}"
        )
        if cpu is not None:
            line = (
                f"    SERVER CPU PER 1,000 HEARTBEATS: {cpu:.3f} s (gross: phase CPU / heartbeats)"
            )
            if s.get("cpu_per_1000_heartbeats_net_s") is not None:
                line += (
                    f"; idle CPU of the same processes over an equal window "
                    f"{s['idle_cpu_s']:.2f} s (measured over {s['idle_seconds']:.0f} s before "
                    f"anyone connected, scaled), net of idle "
                    f"{s['cpu_per_1000_heartbeats_net_s']:.3f} s"
                )
            log(line)


# -- profiling ---------------------------------------------------------------------------------------


class Profiler:
    """py-spy on every server worker for ``seconds``, from the unified start on: collapsed
    stacks (``-f raw``), summarised by :func:`profile_summary`."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.procs: list[subprocess.Popen] = []
        self.files: list[Path] = []

    def start(self, pids: list[int], seconds: float, tag: str) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            path = self.out_dir / f"{tag}-{pid}.txt"
            self.files.append(path)
            cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50"]
            cmd += ["-f", "raw", "-o", str(path), "--nonblocking"]
            self.procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def wait(self) -> None:
        for p in self.procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.terminate()


def profile_summary(path: Path, top: int = 25) -> str:
    """Inclusive share of samples per function (file:function) in a py-spy raw profile."""
    total = 0
    inclusive: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            name = (
                frame.split(" (")[0] + " " + frame.split("(")[-1].split(":")[0].rsplit("/", 1)[-1]
            )
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
    lines = [f"{path.name}: {total} samples"]
    for name, n in inclusive.most_common(top):
        lines.append(f"  {100 * n / max(total, 1):5.1f} %  {name}")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------------


def run_exam(
    args: argparse.Namespace, db: Database, exam: dict[str, Any], cfg: LoadConfig, tmp: Path
) -> dict[str, Any]:
    env = {
        "EXAM_DATABASE_URL": db.sa_url,
        "EXAM_REDIS_URL": args.redis_url,
        # Presence keys of this run only (no stamps left over from an earlier run).
        "EXAM_PRESENCE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
        "EXAM_SECRET_KEY": SECRET,
        "EXAM_INSTANCE_PATH": str(tmp / "instance"),
    }
    group = ServerGroup("wsgi:app", args.servers, env, tmp / "logs", label="exam")
    profiler = Profiler(Path(args.profile)) if args.profile else None
    try:
        sid, headers = exam["session_id"], exam["admin_headers"]
        identities = [
            Identity(t, idn, code, room, k % args.servers)
            for k, (t, idn, code, room) in enumerate(exam["people"])
        ]

        def post(path: str, body: dict[str, Any], server: int = 0) -> None:
            req = urllib.request.Request(
                f"{group.urls[server % len(group.urls)]}{path}",
                data=json.dumps(body).encode(),
                headers={**headers, "Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=120) as resp:
                assert resp.status == 200, resp.read()

        async def start() -> None:
            if args.start_by == "session":
                # the administrator's unified start: every room of the session at once
                body = {"action": "start", "reason": "load benchmark"}
                await asyncio.to_thread(post, f"/api/sessions/{sid}/transitions", body)
            else:
                # every room's proctor clicks "start" at the same moment
                await asyncio.gather(
                    *(
                        asyncio.to_thread(post, f"/api/sessions/{sid}/rooms/{rid}/start", {}, k)
                        for k, rid in enumerate(exam["room_ids"])
                    )
                )
            if profiler is not None:
                pids = [p for s in group.servers for p in s.worker_pids()]
                profiler.start(pids, min(cfg.duration, 60) + 30, "start-and-steady")

        idle = None
        metrics: dict[str, list[dict[str, Any]]] = {}
        redis_calls: dict[str, Counter] = {}
        specs = proctor_specs(exam, args.servers) if args.proctors else None
        if args.proctors and args.hb_only_duration > 0:
            # the servers' own CPU with nobody connected, for comparison with the heartbeat phase
            log(f"  idle window: {args.hb_only_duration:.0f} s with nobody connected")
            before = read_metrics(group.urls, headers)
            t_idle = time.monotonic()
            time.sleep(args.hb_only_duration)
            d = metrics_delta(before, read_metrics(group.urls, headers))
            idle = {"seconds": time.monotonic() - t_idle, **d}

        async def on_phase(name: str) -> None:
            metrics[name] = await asyncio.to_thread(read_metrics, group.urls, headers)
            redis_calls[name] = await asyncio.to_thread(read_redis_calls, args.redis_url)

        sampler = Sampler(group.servers, pg_url=db.url, pg_dbname=db.name).start()
        gen = Generator(group.urls, identities, cfg, proctors=specs, session_id=sid)
        results = asyncio.run(gen.run(start, log=log, on_phase=on_phase if specs else None))
        stats = sampler.stop()
        if profiler is not None:
            profiler.wait()
            for path in profiler.files:
                if path.exists():
                    log(profile_summary(path))
        return {
            "results": results,
            "metrics": metrics,
            "redis_calls": redis_calls,
            "idle": idle,
            "stats": stats,
            "sampler": sampler,
            "command": group.command,
            "log_tail": group.log_tail(),
            "tracebacks": sum(
                s.log_path.read_text(errors="replace").count("Traceback") for s in group.servers
            ),
        }
    finally:
        group.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--duration", type=float, default=300, help="steady phase, seconds")
    parser.add_argument(
        "--echo-duration",
        type=float,
        default=None,
        help="steady phase of the bare-stack run (default: --duration; 0 skips it)",
    )
    parser.add_argument("--servers", type=int, default=2, help="gunicorn processes")
    parser.add_argument(
        "--start-by",
        choices=("session", "rooms"),
        default="session",
        help="unified start by the administrator (session transition) or by every room's "
        "proctor at once (POST …/rooms/<id>/start, which pushes 'started')",
    )
    parser.add_argument("--drop-rate", type=float, default=0.05)
    parser.add_argument("--save-every", type=float, default=10, help="seconds between saves")
    parser.add_argument("--heartbeat", type=float, default=5, help="seconds between heartbeats")
    parser.add_argument(
        "--heartbeat-event",
        choices=("heartbeat", "time"),
        default="heartbeat",
        help="the heartbeat event ('time' for servers from before the proctoring issue)",
    )
    parser.add_argument(
        "--time-sync", type=float, default=30, help="seconds between 'time' clock syncs"
    )
    parser.add_argument(
        "--wait-poll", type=float, default=15, help="seconds between hellos while waiting"
    )
    parser.add_argument(
        "--proctors",
        action="store_true",
        help="one proctor console per room on /proctor; candidates also send integrity "
        "signals; prints push latencies, SQL per event and server CPU per 1,000 heartbeats",
    )
    parser.add_argument(
        "--signals",
        type=int,
        default=2,
        help="with --proctors: each candidate sends 1 to this many blur signals in the steady "
        "phase",
    )
    parser.add_argument(
        "--hb-only-duration",
        type=float,
        default=20,
        help="with --proctors: seconds of heartbeats only after the steady phase (server CPU "
        "per heartbeat), and as long an idle window before anyone connects; 0: none",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the server workers (needs py-spy)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    for url in (args.pg_url, args.redis_url):
        if "127.0.0.1" not in url and "localhost" not in url:
            parser.error("the benchmark only talks to 127.0.0.1")
    rates = {
        "drop_rate": args.drop_rate,
        "seed": args.seed,
        "save_every": args.save_every,
        "heartbeat_every": args.heartbeat,
        "heartbeat_event": args.heartbeat_event,
        "time_sync": args.time_sync,
        "wait_poll": args.wait_poll,
    }
    cfg = LoadConfig(duration=args.duration, **rates)
    if args.proctors:
        cfg.signals = max(0, args.signals)
        cfg.heartbeat_only = max(0.0, args.hb_only_duration)
    echo_duration = args.duration if args.echo_duration is None else args.echo_duration
    command = "  ".join([".venv/bin/python -m bench.load", shlex.join(sys.argv[1:])]).strip()

    # A bounded run: whatever happens, stop after the planned time plus a generous margin.
    budget = 1800 + 2 * (args.duration + echo_duration) + args.candidates * 0.2
    watchdog = threading.Timer(budget, lambda: os.kill(os.getpid(), signal.SIGTERM))
    watchdog.daemon = True
    watchdog.start()

    def stop_now(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_now)

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    db = Database(args.pg_url)
    report: dict[str, Any] = {"command": command, "config": vars(args)}
    failed = False
    try:
        log(f"database {db.name}; setting up {args.candidates} candidates in {args.rooms} rooms")
        t = time.perf_counter()
        exam = setup_exam(
            db.sa_url, tmp / "instance", args.candidates, args.rooms, proctors=args.proctors
        )
        report["setup"] = {k: round(v, 1) for k, v in exam["timings"].items()}
        log(f"  setup {time.perf_counter() - t:.1f} s: {report['setup']}")
        echo_summary = None
        if echo_duration > 0:
            from bench.echo_baseline import run_echo

            log(f"bare stack (bench/echo_baseline.py), {echo_duration:.0f} s steady phase")
            ecfg = LoadConfig(duration=echo_duration, **rates)
            echo = run_echo(
                args.candidates,
                ecfg,
                servers=args.servers,
                redis_url=args.redis_url,
                log_dir=tmp / "logs",
                rooms=args.rooms,
                log=log,
            )
            echo_summary = print_report("bare stack: Flask-SocketIO echo", echo, ecfg)
            report["echo"] = echo_summary
        log(f"exam server: {args.servers} × gunicorn -k gevent -w 1, PostgreSQL + Redis")
        out = run_exam(args, db, exam, cfg, tmp)
        summary = print_report("exam server", out, cfg)
        report["exam"] = summary
        proctoring = None
        if args.proctors:
            proctoring = proctor_summary(out)
            print_proctor_report(proctoring)
            report["proctoring"] = proctoring
        log(f"server command: {shlex.join(out['command'])}")
        log(f"tracebacks in the server logs: {out['tracebacks']}")
        if out["tracebacks"]:
            log(out["log_tail"])
        checked = verify(db.url, exam["session_id"], out["results"])
        report["verification"] = checked
        c = checked["counts"]
        log(
            f"\nverification in PostgreSQL: {c.get('acked_saves', 0)} acknowledged saves, "
            f"{c.get('positions_checked', 0)} (attempt, question) final answers, "
            f"{c.get('log_rows', 0)} answer_log rows; newer-than-acked (ack cut off) "
            f"{c.get('final_newer_unacked_ok', 0)}; attempts {checked['attempt_states']}"
        )
        log(f"LOST ANSWERS: {c.get('lost', 0)}  {json.dumps(c)}")
        if echo_summary:
            e = echo_summary
            log(
                f"ratio to the bare stack: save p99 {summary['save_p99_ms']:.0f} / "
                f"{e['save_p99_ms']:.0f} ms = {summary['save_p99_ms'] / max(e['save_p99_ms'], 1e-9):.1f}×, "
                f"saves/s {summary['saves_per_s']:.1f} / {e['saves_per_s']:.1f} = "
                f"{summary['saves_per_s'] / max(e['saves_per_s'], 1e-9):.2f}"
            )
        targets = {
            "lost answers = 0": c.get("lost", 0) == 0,
            "p99 save ack < 300 ms": summary["save_p99_ms"] < 300,
            "all papers within 30 s": summary["papers_within_30s"] == args.candidates,
            "all connected": summary["connected_peak"] == args.candidates,
        }
        if proctoring is not None:
            p95 = proctoring["signal_to_incident"]["all"]["p95_ms"]
            targets["signal → proctor p95 < 1 s"] = p95 is not None and p95 < 1000
            targets["every signal reached its proctor"] = proctoring["signal_missing"] == 0
            if "steady_heartbeat_sql" in proctoring:
                targets["0 SQL statements per heartbeat"] = (
                    proctoring["steady_heartbeat_sql"] == 0
                    and proctoring.get("hb_phase_heartbeat_sql", 0) == 0
                )
        report["targets"] = targets
        log("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))
        failed = not all(targets.values())
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        failed = True
    finally:
        watchdog.cancel()
        if args.keep:
            log(f"kept database {db.name} and {tmp}")
        else:
            with contextlib.suppress(Exception):
                db.drop()
            shutil.rmtree(tmp, ignore_errors=True)
        log(f"reproduce: {command}")
        if args.json:
            Path(args.json).write_text(
                json.dumps(report, indent=2, ensure_ascii=False, default=str)
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
