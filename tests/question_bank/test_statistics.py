"""The improvement loop through the API: analysis runs, stored statistics, review tasks and
measured difficulty (SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from openpyxl import load_workbook

from question_bank import statistics as stats
from question_bank.items import get_item
from tests.question_bank.helpers import OCC, add_item, approve, choice, setup_bank

KEYS = {"Q1": "A", "Q2": "B", "Q3": "C", "Q4": "D", "Q5": "A"}


def _bank(api_as):
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    for code, key in KEYS.items():
        add_item(ed, code, key=[key], difficulty=0.5)
        approve(ed, rev, code)
    add_item(ed, "T1", type="true_false", options=[], key=["T"], stem="<p>对吗？</p>")
    approve(ed, rev, "T1")
    return ed


def _responses(n: int, seed: int, wrong_key_for_q5: bool = True) -> tuple[bytes, np.ndarray]:
    """Rasch-like simulated answers; Q5's real best answer is B, though the bank keys A."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    b = np.array([-1.0, -0.3, 0.2, 0.8, 0.0, -0.5])
    correct = rng.random((n, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))
    lines = ["candidate,Q1,Q2,Q3,Q4,Q5,T1"]
    for i in range(n):
        cells = []
        for j, code in enumerate(["Q1", "Q2", "Q3", "Q4", "Q5"]):
            key = "B" if (code == "Q5" and wrong_key_for_q5) else KEYS[code]
            wrong = [o for o in "ABCD" if o != key]
            cells.append(key if correct[i, j] else wrong[rng.integers(3)])
        cells.append("T" if correct[i, 5] else "F")
        lines.append(f"c{i}," + ",".join(cells))
    return "\n".join(lines).encode(), correct


def _upload(api, data: bytes, **extra):
    form = {"file": (io.BytesIO(data), "responses.csv"), "occupation": OCC, "level": "4", **extra}
    return api.post("/api/analysis/runs", data=form, content_type="multipart/form-data")


def test_run_stores_statistics_flags_and_measured_difficulty(app, api_as, session):
    ed = _bank(api_as)
    data, correct = _responses(300, seed=1)
    resp = _upload(ed, data, irt="rasch", label="第一场")
    assert resp.status_code == 201, resp.get_json()
    run = resp.get_json()["run"]
    assert run["n_candidates"] == 300 and run["n_items"] == 6
    rows = {r["item"]: r for r in run["items"]}
    # Facility is the proportion correct; Q5 is scored against the bank's (wrong) key A.
    assert rows["Q1"]["facility"] == correct[:, 0].mean()
    assert rows["T1"]["facility"] == correct[:, 5].mean()
    assert any(
        f["reason"] == "possible_key_error" and f["option"] == "B" for f in rows["Q5"]["flag_list"]
    )
    tasks = ed.get("/api/review-tasks").get_json()["tasks"]
    q5 = next(t for t in tasks if t["item"] == "Q5")
    assert any(r["reason"] == "possible_key_error" for r in q5["reasons"])
    # Measured difficulty replaces the estimate for balancing once n >= 30.
    item = get_item(session, "Q1")
    eff = stats.effective_difficulties(session, item.versions)
    assert eff[item.versions[0].id] == correct[:, 0].mean()
    st = ed.get("/api/items/Q1/statistics").get_json()["versions"][0]
    assert st["estimate"] == 0.5 and st["accumulated"]["n"] == 300


def test_statistics_accumulate_weighted_by_responses_and_restart_for_a_new_version(
    app, api_as, session
):
    ed = _bank(api_as)
    first, c1 = _responses(200, seed=2)
    second, c2 = _responses(50, seed=3)
    assert _upload(ed, first).status_code == 201
    assert _upload(ed, second).status_code == 201
    acc = ed.get("/api/items/Q2/statistics").get_json()["versions"][0]["accumulated"]
    # Independent reference: the pooled proportion over all 250 candidates.
    expected = (c1[:, 1].sum() + c2[:, 1].sum()) / 250
    assert acc["n"] == 250 and acc["runs"] == 2
    assert abs(acc["facility"] - expected) < 1e-12
    # A revised item is a new version whose statistics start fresh.
    ed.post("/api/items/Q2/versions", json={"content": choice(key=["B"], difficulty=0.4)})
    approve(ed, api_as("reviewer"), "Q2", 2)
    versions = ed.get("/api/items/Q2/statistics").get_json()["versions"]
    assert versions[1]["accumulated"] is None and versions[1]["effective_difficulty"] == 0.4


def test_small_samples_keep_the_estimate_and_raise_no_flags(app, api_as, session):
    ed = _bank(api_as)
    data, _ = _responses(20, seed=4)
    run = _upload(ed, data).get_json()["run"]
    assert all(not r["flag_list"] for r in run["items"])
    item = get_item(session, "Q1")
    assert stats.effective_difficulties(session, item.versions)[item.versions[0].id] == 0.5


def test_report_plots_and_exports(app, api_as):
    ed = _bank(api_as)
    run = _upload(ed, _responses(150, seed=5)[0], irt="2pl").get_json()["run"]
    base = f"/api/analysis/runs/{run['id']}"
    for kind in ("histogram", "map", "information"):
        resp = ed.get(f"{base}/plots/{kind}.png")
        assert resp.status_code == 200 and resp.data[:4] == b"\x89PNG", kind
    trace = ed.get(f"{base}/plots/trace.png?item=4")
    assert trace.status_code == 200 and trace.data[:4] == b"\x89PNG"
    assert ed.get(f"{base}/plots/nonsense.png").status_code == 404
    book = load_workbook(io.BytesIO(ed.get(f"{base}/export.xlsx").data))
    assert [c.value for c in book["items"][1]][:3] == ["item", "version", "n"]
    assert book["items"].max_row == 7
    pdf = ed.get(f"{base}/export.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_bad_uploads_are_refused_and_write_nothing(app, api_as, session):
    ed = _bank(api_as)
    cases = {
        b"candidate,Q1,NOPE\nc1,A,B\n": "unknown item codes",
        b"candidate,Q1,Q2\nc1,A\n": "row 2 has 2 cells",
        b"candidate,Q1,Q2\nc1,A,Z\n": "row 2, column 3",
        b"candidate,Q1,Q1\nc1,A,B\n": "appears twice",
        b"candidate\n": "needs a header",
    }
    for data, message in cases.items():
        resp = _upload(ed, data)
        assert resp.status_code == 422, (data, resp.get_json())
        assert message in resp.get_json()["message"], resp.get_json()
    assert session.query(stats.AnalysisRun).count() == 0
    assert _upload(ed, b"c,Q1\nx,A\n", irt="3pl").get_json()["field"] == "irt"


def test_review_tasks_are_closed_with_a_note(app, api_as):
    ed = _bank(api_as)
    _upload(ed, _responses(300, seed=6)[0])
    task = next(t for t in ed.get("/api/review-tasks").get_json()["tasks"] if t["item"] == "Q5")
    path = f"/api/review-tasks/{task['id']}"
    assert ed.post(path, json={"action": "resolve"}).status_code == 422
    resp = ed.post(path, json={"action": "resolve", "note": "答案改为 B，见第 2 版"})
    assert resp.status_code == 200 and resp.get_json()["task"]["status"] == "resolved"
    assert ed.post(path, json={"action": "dismiss", "note": "x"}).status_code == 409
    assert api_as("reviewer").post(path, json={"action": "dismiss", "note": "x"}).status_code == 403
    resolved = ed.get("/api/review-tasks?status=resolved").get_json()["tasks"]
    assert [t["id"] for t in resolved] == [task["id"]]


def test_upload_accepts_option_numbers_and_scored_matrices(app, api_as, session):
    # The same answers exported as option numbers (1 = A, 0 = "other") and as a 0/1 matrix:
    # facilities agree with the letter upload; IRT estimates reach the bank for assembly.
    ed = _bank(api_as)
    data, correct = _responses(300, seed=4, wrong_key_for_q5=False)
    lines = data.decode().splitlines()
    numeric = [lines[0]]
    for k, line in enumerate(lines[1:]):
        cells = line.split(",")
        nums = [str("ABCD".index(c) + 1) for c in cells[1:6]]
        if k % 25 == 0 and not correct[k, 1]:
            nums[1] = "0"  # "other" on Q2
        tf = "1" if cells[6] == "T" else "2"
        numeric.append(",".join([cells[0], *nums, tf]))
    resp = _upload(ed, "\n".join(numeric).encode(), irt="2pl", label="numbers")
    assert resp.status_code == 201, resp.get_json()
    rows = {r["item"]: r for r in resp.get_json()["run"]["items"]}
    assert rows["Q1"]["facility"] == correct[:, 0].mean()
    assert rows["T1"]["facility"] == correct[:, 5].mean()
    # IRT standard errors and the S-X² item fit are stored per item version and run
    assert all(r["irt_a_se"] > 0 and r["irt_b_se"] > 0 for r in rows.values())
    assert all(0 <= r["irt_fit_p"] <= 1 for r in rows.values())
    labels = [o["label"] for o in rows["Q2"]["options"]]
    assert labels == ["A", "B", "C", "D", "0"]
    assert rows["Q2"]["options"][4]["proportion"] == pytest.approx(
        sum(1 for k in range(300) if k % 25 == 0 and not correct[k, 1]) / 300
    )
    scored = ["candidate,Q1,Q2,Q3,Q4,Q5,T1"] + [
        f"c{i}," + ",".join(str(int(v)) for v in correct[i]) for i in range(300)
    ]
    resp = _upload(ed, "\n".join(scored).encode(), irt="2pl", cells="scored")
    assert resp.status_code == 201, resp.get_json()
    rows = {r["item"]: r for r in resp.get_json()["run"]["items"]}
    assert rows["Q3"]["facility"] == correct[:, 2].mean()
    assert rows["Q3"]["options"] == []
    q1 = get_item(session, "Q1").versions[0]
    a, b = stats.irt_estimates(session, [q1.id])[q1.id]
    assert 0.2 < a < 3 and -3 < b < 1
    bad = _upload(ed, b"candidate,Q1\nc1,7\n")
    assert bad.status_code == 422
    assert bad.get_json()["reason"] == "analysis_cell_number"
    bad = _upload(ed, b"candidate,Q1\nc1,2\n", cells="scored")
    assert bad.status_code == 422 and bad.get_json()["reason"] == "analysis_cell_points_range"
    zh = ed.post(
        "/api/analysis/runs",
        data={"file": (io.BytesIO(b"candidate,Q1\nc1,7\n"), "r.csv"), "occupation": OCC,
              "level": "4"},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-CN"},
    )  # fmt: skip
    assert "选项" in zh.get_json()["message"]
