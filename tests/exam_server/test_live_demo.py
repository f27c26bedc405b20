"""`exam-server demo` as a user runs it: a real server process answering real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import socketio

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def test_demo_serves_the_bank_and_a_session_candidates_can_sit(tmp_path: Path):
    port = _free_port()
    exe = Path(sys.executable).with_name("exam-server")
    env = {**os.environ, "EXAM_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("EXAM_DATABASE_URL", None)
    env.pop("EXAM_REDIS_URL", None)
    # The setup prints the demo candidates; a second run reuses the same open session.
    setup = subprocess.run(
        [str(exe), "demo", "--setup-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    access_code = re.search(r"room access code (\w+)", setup).group(1)
    ticket, id_number, _name = re.search(r"^  (D\d+)  (\d{17}[\dX])  (\S+)$", setup, re.M).groups()
    proc = subprocess.Popen(
        [str(exe), "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _request(f"{base}/healthz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.poll() is not None else ""
                    pytest.fail(f"demo server did not start: {out}")
                time.sleep(0.3)
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, page = _request(f"{base}/login")
        assert status == 200 and "csrf_token" in page.decode()
        _, body = _request(
            f"{base}/api/auth/token", {"username": "editor", "password": "editor-demo-1"}
        )
        token = json.loads(body)["token"]
        _, body = _request(f"{base}/api/items?type=fill_blank&per_page=100", token=token)
        listing = json.loads(body)
        assert listing["total"] == 8
        assert all(i["status"] == "approved" for i in listing["items"])
        _, body = _request(f"{base}/api/releases", token=token)
        assert [r["name"] for r in json.loads(body)["releases"]] == ["R1"]
        # A demo candidate signs in and sits the exam over a real websocket.
        _, body = _request(
            f"{base}/api/candidate/sign-in",
            {"ticket_number": ticket, "id_number": id_number, "access_code": access_code},
        )
        sio = socketio.Client(reconnection=False)
        sio.connect(
            base,
            namespaces=["/candidate"],
            auth={"token": json.loads(body)["token"]},
            transports=["websocket"],
            wait_timeout=10,
        )
        hello = sio.call("hello", {}, namespace="/candidate", timeout=10)
        assert hello["ok"] and hello["state"] == "waiting"  # window start: the candidate starts
        started = sio.call("start", {}, namespace="/candidate", timeout=10)
        assert started["state"] == "running" and started["paper"]["item_count"] == 38
        sio.disconnect()
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Traceback" not in out, out
    assert "editor-demo-1" in out
