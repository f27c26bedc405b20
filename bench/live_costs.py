"""Server CPU per candidate event, in one process, without the network.

A companion to bench/load.py for working on the bottlenecks it finds: the same exam (demo
bank, blueprint, one session, approved roster, opened) on a database of its own, then each
candidate event through Flask-SocketIO's test client (the handlers, the request context, the
validation, the database round trips; no websocket, no gevent) and the CPU time per event:
sign-in, connect, ``hello`` while waiting, ``time``, ``hello`` with the paper, ``save``,
``submit``. ``--profile FILE`` writes a cProfile of a mix of saves, heartbeats and hellos.

Reproduce:  .venv/bin/python -m bench.live_costs [--candidates 200] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._loadgen import _answer
from bench.load import SECRET, Database, setup_exam

NS = "/candidate"


def per_event(name: str, fn: Callable[[int], object], n: int) -> float:
    cpu = time.process_time()
    for i in range(n):
        fn(i)
    ms = (time.process_time() - cpu) / n * 1000
    print(f"  {name:<34} {ms:6.2f} ms CPU per event  (n={n})")
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--pg-url", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the event mix")
    args = parser.parse_args()
    n = args.candidates
    tmp = Path(tempfile.mkdtemp(prefix="bench-costs-"))
    db = Database(args.pg_url)
    try:
        exam = setup_exam(db.sa_url, tmp / "instance", n, 4)
        from exam_server import create_app
        from exam_server.extensions import socketio

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": db.sa_url,
                "INSTANCE_PATH": str(tmp / "instance"),
                "SECRET_KEY": SECRET,
                "REDIS_URL": None,
                "RATELIMIT_STORAGE_URI": "memory://",
                "CANDIDATE_SIGN_IN_RATE_PER_MINUTE": 1_000_000,
            }
        )
        http = app.test_client()
        tokens: list[str] = []
        clients = []
        print(f"per event, {n} candidates, PostgreSQL, Flask-SocketIO test client:")

        def sign_in(i: int) -> None:
            ticket, id_number, code, _room = exam["people"][i]
            body = {"ticket_number": ticket, "id_number": id_number, "access_code": code}
            resp = http.post("/api/candidate/sign-in", json=body)
            assert resp.status_code == 200, resp.get_json()
            tokens.append(resp.get_json()["token"])

        def emit(i: int, event: str, data: object) -> dict:
            reply = clients[i % n].emit(event, data, namespace=NS, callback=True)
            assert reply.get("ok"), reply
            return reply

        per_event("sign-in (HTTP)", sign_in, n)
        per_event(
            "connect",
            lambda i: clients.append(
                socketio.test_client(app, namespace=NS, auth={"token": tokens[i]})
            ),
            n,
        )
        per_event("hello, waiting", lambda i: emit(i, "hello", {}), n)
        per_event("time", lambda i: emit(i, "time", {"client_time": time.time() * 1000}), 4 * n)
        resp = http.post(
            f"/api/sessions/{exam['session_id']}/transitions",
            headers=exam["admin_headers"],
            json={"action": "start"},
        )
        assert resp.status_code == 200, resp.get_json()
        items: dict[int, list] = {}

        def first_hello(i: int) -> None:
            items[i] = emit(i, "hello", {})["paper"]["items"]

        per_event("hello with the paper (first)", first_hello, n)
        per_event("hello with the paper (again)", lambda i: emit(i, "hello", {}), n)
        rng = random.Random(1)
        seqs = [0] * n

        def save(i: int) -> None:
            k = i % n
            seqs[k] += 1
            pos = rng.randint(1, len(items[k]))
            answer = _answer(rng, items[k][pos - 1])
            body = {"seq": seqs[k], "kind": "answer", "position": pos, "answer": answer}
            emit(k, "save", body)

        per_event("save (answer)", save, 4 * n)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for i in range(2 * n):
                save(i)
                emit(i, "time", {"client_time": time.time() * 1000})
                emit(i, "time", {"client_time": time.time() * 1000})
            for i in range(n // 2):
                emit(i, "hello", {})
            prof.disable()
            prof.dump_stats(args.profile)
            print(f"profile written to {args.profile}")
        per_event("submit", lambda i: emit(i, "submit", {"confirm": True}), n)
    finally:
        db.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("reproduce: .venv/bin/python -m bench.live_costs --candidates", n)


if __name__ == "__main__":
    main()
