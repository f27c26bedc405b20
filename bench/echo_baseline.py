"""The bare stack: a Flask-SocketIO app that only acknowledges, for comparison with the exam
server under the same generator (bench/load.py runs it in the same run).

Same server setup as the exam server: ``gunicorn -k gevent -w 1`` per process, async mode
gevent, Redis as the Socket.IO message queue (``EXAM_REDIS_URL``), ping interval 10 s and
timeout 20 s, namespace ``/candidate``. The protocol surface is what the generator uses, with
no database and no validation:

* ``POST /api/candidate/sign-in`` returns a token (the ticket number);
* ``hello`` replies ``waiting`` until ``POST /start`` reached this process, then ``running``
  with a fixed 38-question paper shaped like the demo blueprint's;
* ``save`` only acks (``{"ok": true, "seq", "accepted": true, "server_time"}``); ``time``
  echoes the client's clock; ``submit`` acks.

Serve:        gunicorn -k gevent -w 1 -b 127.0.0.1:8100 'bench.echo_baseline:create_app()'
Run alone:    .venv/bin/python -m bench.echo_baseline [--candidates 2000] [--duration 60]
              [--servers 2]
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from flask import Flask, jsonify, request
from flask_socketio import Namespace, SocketIO

NS = "/candidate"

# Section layout of tests/live_support.py's DEMO_BLUEPRINT: 10 true/false, 20 single choice,
# 5 multiple choice, 3 fill-in with two blanks.
_LAYOUT = [("true_false", 10, 0), ("single_choice", 20, 4), ("multiple_choice", 5, 4)]
_LAYOUT.append(("fill_blank", 3, 0))


def _paper() -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    sections = []
    for number, (kind, count, options) in enumerate(_LAYOUT, start=1):
        sections.append(
            {
                "number": number,
                "type": kind,
                "title": kind,
                "points_each": "1",
                "first_position": len(items) + 1,
                "count": count,
            }
        )
        for _ in range(count):
            item: dict[str, Any] = {
                "position": len(items) + 1,
                "section": number,
                "type": kind,
                "points": "1",
                "stem": "<p>" + "电工作业安全规程规定的内容" * 5 + "</p>",
            }
            if options:
                item["options"] = [
                    {"label": "ABCD"[j], "text": "选项内容" * 4} for j in range(options)
                ]
            if kind == "fill_blank":
                item["blanks"] = 2
            items.append(item)
    return {"sections": sections, "items": items, "item_count": len(items)}


PAPER = _paper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EchoNamespace(Namespace):
    def __init__(self, namespace: str, state: dict[str, Any]):
        super().__init__(namespace)
        self.shared = state

    def on_connect(self, auth: Any = None):
        if not isinstance(auth, dict) or not auth.get("token"):
            raise ConnectionRefusedError({"error": "unauthorized", "message": "sign in again"})

    def on_disconnect(self, *args: Any):
        pass

    def on_hello(self, data: Any = None):
        started = self.shared.get("started_at")
        now = _now()
        reply: dict[str, Any] = {
            "ok": True,
            "protocol": 1,
            "state": "running" if started else "waiting",
            "server_time": now.isoformat(),
            "last_seq": 0,
            "position": 1,
        }
        if started:
            reply.update(paper=PAPER, answers={}, flags=[], started_at=started.isoformat())
        return reply

    def on_save(self, data: Any = None):
        seq = data.get("seq") if isinstance(data, dict) else None
        return {"ok": True, "seq": seq, "accepted": True, "server_time": _now().isoformat()}

    def on_time(self, data: Any = None):
        client = data.get("client_time") if isinstance(data, dict) else None
        return {"ok": True, "client_time": client, "server_time": time.time() * 1000}

    def on_heartbeat(self, data: Any = None):
        return {"ok": True, "server_time": time.time() * 1000}

    def on_submit(self, data: Any = None):
        return {"ok": True, "state": "submitted", "submitted_at": _now().isoformat()}


def create_app() -> Flask:
    app = Flask(__name__)
    state: dict[str, Any] = {}
    socketio = SocketIO(
        app,
        async_mode="gevent",
        message_queue=os.environ.get("EXAM_REDIS_URL") or None,
        ping_interval=10,
        ping_timeout=20,
    )
    socketio.on_namespace(EchoNamespace(NS, state))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/api/candidate/sign-in")
    def sign_in():
        body = request.get_json(silent=True) or {}
        return jsonify(protocol=1, token=str(body.get("ticket_number") or "anonymous"))

    @app.post("/start")
    def start():
        state.setdefault("started_at", _now())
        return {"started_at": state["started_at"].isoformat()}

    return app


# -- running it under the generator ---------------------------------------------------------------


def run_echo(
    candidates: int,
    cfg: Any,
    *,
    servers: int,
    redis_url: str,
    log_dir: Any,
    rooms: int = 40,
    log=print,
) -> dict[str, Any]:
    """Serve the echo app on ``servers`` gunicorn processes and drive it with the generator;
    returns the generator's results and the servers' CPU and memory."""
    import asyncio
    import urllib.request

    from bench._loadgen import Generator, Identity
    from bench._servers import Sampler, ServerGroup

    group = ServerGroup(
        "bench.echo_baseline:create_app()",
        servers,
        {"EXAM_REDIS_URL": redis_url},
        log_dir,
        label="echo",
    )
    try:
        per_room = -(-candidates // rooms)
        identities = [
            Identity(f"ECHO{k:05d}", "-", "-", k // per_room, k % servers)
            for k in range(candidates)
        ]

        async def start() -> None:
            def post(url: str) -> None:
                req = urllib.request.Request(f"{url}/start", data=b"", method="POST")
                with urllib.request.urlopen(req, timeout=30):
                    pass

            await asyncio.gather(*(asyncio.to_thread(post, u) for u in group.urls))

        sampler = Sampler(group.servers).start()
        results = asyncio.run(Generator(group.urls, identities, cfg).run(start, log=log))
        stats = sampler.stop()
        return {"results": results, "stats": stats, "sampler": sampler, "command": group.command}
    finally:
        group.stop()


def main() -> None:
    import argparse
    import tempfile
    from pathlib import Path

    from bench._loadgen import LoadConfig
    from bench.load import print_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    cfg = LoadConfig(duration=args.duration)
    with tempfile.TemporaryDirectory(prefix="echo-bench-") as tmp:
        out = run_echo(
            args.candidates, cfg, servers=args.servers, redis_url=args.redis_url, log_dir=Path(tmp)
        )
    print_report("echo baseline", out, cfg)


if __name__ == "__main__":
    main()
