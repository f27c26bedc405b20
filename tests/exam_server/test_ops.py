"""GET /api/v1/ops/metrics: the process's live-path counters, administrators only; a heartbeat
is charged no SQL statement, a save its statements."""

from __future__ import annotations

from exam_server import metrics
from exam_server.extensions import socketio
from tests.live_support import _api, prepare_exam


def test_metrics_need_an_administrator(app, api_as):
    assert app.test_client().get("/api/v1/ops/metrics").status_code == 401
    assert api_as("proctor").get("/api/v1/ops/metrics").status_code == 403
    resp = api_as("admin").get("/api/v1/ops/metrics")
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {
        "pid",
        "since",
        "cpu_seconds",
        "events",
        "sql_statements",
        "counters",
        "gc",
        "gc_policy",
    }


def test_heartbeats_run_no_sql_and_saves_are_counted(app):
    exam = prepare_exam(app, candidates=1)
    resp = app.test_client().post("/api/candidate/sign-in", json=exam.sign_in_body(0))
    assert resp.status_code == 200, resp.get_json()
    token = resp.get_json()["token"]
    client = socketio.test_client(app, namespace="/candidate", auth={"token": token})
    assert client.is_connected("/candidate")
    metrics.reset()
    hello = client.emit("hello", {}, namespace="/candidate", callback=True)
    assert hello["ok"] is True and hello["state"] == "running"
    for _ in range(20):
        beat = {"visible": True, "focused": True, "fullscreen": False, "client_time": 1.0}
        assert client.emit("heartbeat", beat, namespace="/candidate", callback=True)["ok"]
    save = {"seq": 1, "kind": "flag", "position": 1, "flagged": True}
    assert client.emit("save", save, namespace="/candidate", callback=True)["ok"]
    admin = _api(app.test_client(), "admin", "admin-demo-1")
    body = admin.get("/api/v1/ops/metrics").get_json()
    assert body["events"]["heartbeat"] == 20
    assert body["sql_statements"].get("heartbeat", 0) == 0
    # A save alone: one read, the upsert, the log row, the attempt, the commit's statements.
    assert body["events"]["save"] == 1 and body["sql_statements"]["save"] >= 3
    assert body["counters"] == {"save_groups": 1, "saves_in_groups": 1}
    assert body["sql_statements"]["hello"] >= 1
    client.disconnect(namespace="/candidate")
