"""The question bank through its JSON API, on SQLite and PostgreSQL."""

from __future__ import annotations

from question_bank.audit import verify_chain
from tests.question_bank.helpers import OCC, TREE, add_item, approve, choice, setup_bank


def test_knowledge_weights_must_add_up_with_totals_in_the_error(app, api_as):
    ed = api_as("editor")
    ed.post("/api/occupations", json={"code": OCC, "name": "电工"})
    bad = [dict(TREE[0]), {**TREE[1], "children": [{"code": "B-01", "name": "x", "weight": 90}]}]
    resp = ed.put(
        f"/api/occupations/{OCC}/levels/4/knowledge-points", json={"knowledge_points": bad}
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_error"
    assert body["details"] == ["weights under B add up to 90, not 100 (B-01=90)"]
    # Nothing was saved.
    got = ed.get(f"/api/occupations/{OCC}/levels/4/knowledge-points").get_json()
    assert got["knowledge_points"] == []


def test_knowledge_tree_round_trip_and_protected_points(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    got = ed.get(f"/api/occupations/{OCC}/levels/4/knowledge-points").get_json()
    assert [n["code"] for n in got["knowledge_points"]] == ["A", "B"]
    assert [c["weight"] for c in got["knowledge_points"][0]["children"]] == [60, 40]
    add_item(ed, "Q1")
    # Removing a point an item uses is refused and names it.
    smaller = [
        {**TREE[0], "weight": 40, "children": [{"code": "A-02", "name": "安全", "weight": 100}]},
        TREE[1],
    ]
    resp = ed.put(
        f"/api/occupations/{OCC}/levels/4/knowledge-points", json={"knowledge_points": smaller}
    )
    assert resp.status_code == 409
    assert "A-01 (1 item versions)" in resp.get_json()["message"]


def test_item_versions_are_immutable_and_diffable(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    add_item(ed, "Q1")
    new = choice(
        difficulty=0.6,
        options=[
            {"label": "A", "text": "U = IR"},
            {"label": "B", "text": "P = I²R"},
            {"label": "C", "text": "Q = CU"},
            {"label": "D", "text": "W = Pt"},
        ],
    )
    resp = ed.post("/api/items/Q1/versions", json={"content": new, "note": "better B"})
    assert resp.status_code == 201 and resp.get_json()["version"]["version"] == 2
    # The same content again is refused.
    resp = ed.post("/api/items/Q1/versions", json={"content": new})
    assert resp.status_code == 409
    v1 = ed.get("/api/items/Q1/versions/1").get_json()["version"]
    assert v1["content"]["difficulty"] == 0.8 and v1["latest"] is False
    diff = ed.get("/api/items/Q1/diff?from=1&to=2").get_json()["changes"]
    assert {c["field"]: (c["before"], c["after"]) for c in diff} == {
        "difficulty": (0.8, 0.6),
        "options.B": ("P = UI", "P = I²R"),
    }
    item = ed.get("/api/items/Q1").get_json()
    assert [v["version"] for v in item["versions"]] == [1, 2]
    assert item["latest"]["change_note"] == "better B"


def test_bad_items_are_refused_naming_the_field(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    cases = {
        "key": choice(key=["E"]),
        "stem": choice(stem="<script>alert(1)</script>"),
        "knowledge_point": choice(knowledge_point="Z-99"),
    }
    for field, content in cases.items():
        resp = ed.post(
            "/api/items", json={"occupation": OCC, "level": 4, "code": "BAD", "content": content}
        )
        body = resp.get_json()
        assert resp.status_code == 422, body
        assert body["field"].endswith(field), body
    multi_no_key = choice(type="multiple_choice", key=[])
    resp = ed.post(
        "/api/items", json={"occupation": OCC, "level": 4, "code": "BAD", "content": multi_no_key}
    )
    assert "at least 1 key" in resp.get_json()["details"][0]["message"], resp.get_json()
    resp = ed.post(
        "/api/items",
        json={"occupation": OCC, "level": 4, "code": "BAD", "content": choice(stem="  ")},
    )
    assert resp.status_code == 422 and "stem is empty" in resp.get_json()["message"]
    # A module is not a place for items.
    resp = ed.post(
        "/api/items",
        json={"occupation": OCC, "level": 4, "code": "BAD", "content": choice(knowledge_point="A")},
    )
    assert resp.status_code == 422 and "leaf" in resp.get_json()["message"]
    add_item(ed, "DUP")
    resp = ed.post(
        "/api/items", json={"occupation": OCC, "level": 4, "code": "DUP", "content": choice()}
    )
    assert resp.status_code == 409 and resp.get_json()["field"] == "code"
    assert ed.get("/api/items").get_json()["total"] == 1


def test_review_workflow_four_eyes_and_history(app, api_as):
    ed = api_as("editor")
    rev = api_as("reviewer")
    both = api_as("editor", "reviewer", username="both")
    setup_bank(ed)
    add_item(ed, "Q1")
    path = "/api/items/Q1/versions/1/review"
    # Approving a draft is a state error.
    resp = rev.post(path, json={"action": "approve"})
    assert resp.status_code == 409 and "needs in_review" in resp.get_json()["message"]
    assert ed.post(path, json={"action": "submit"}).status_code == 200
    # An editor cannot approve; a reviewer cannot approve their own version (four-eyes).
    assert ed.post(path, json={"action": "approve"}).status_code == 403
    add_item(both, "Q2")
    both.post("/api/items/Q2/versions/1/review", json={"action": "submit"})
    resp = both.post("/api/items/Q2/versions/1/review", json={"action": "approve"})
    assert resp.status_code == 403 and "four-eyes" in resp.get_json()["message"]
    # The reviewer's queue does not list their own versions.
    queue = [i["item"] for i in both.get("/api/review-queue").get_json()["items"]]
    assert queue == ["Q1"]
    # Reject needs a comment and sends the version back to draft.
    assert rev.post(path, json={"action": "reject"}).status_code == 422
    resp = rev.post(path, json={"action": "reject", "comment": "选项B不准确"})
    assert resp.get_json()["version"]["status"] == "draft"
    ed.post(path, json={"action": "submit"})
    resp = rev.post(path, json={"action": "approve", "comment": "好"})
    reviews = resp.get_json()["version"]["reviews"]
    assert [(r["from"], r["to"]) for r in reviews] == [
        ("draft", "in_review"),
        ("in_review", "draft"),
        ("draft", "in_review"),
        ("in_review", "approved"),
    ]
    assert reviews[1]["comment"] == "选项B不准确"
    # Approving a newer version retires the older approved one.
    ed.post("/api/items/Q1/versions", json={"content": choice(difficulty=0.5)})
    approve(ed, rev, "Q1", 2)
    v1 = ed.get("/api/items/Q1/versions/1").get_json()["version"]
    assert v1["status"] == "retired"
    assert v1["reviews"][-1]["comment"] == "superseded by version 2"
    # Retire needs a reason.
    assert rev.post("/api/items/Q1/versions/2/review", json={"action": "retire"}).status_code == 422


def test_release_snapshot_hash_and_diff(app, api_as, session):
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    for code in ("Q1", "Q2", "Q3"):
        add_item(ed, code)
        approve(ed, rev, code)
    add_item(ed, "DRAFT")  # not approved: not released
    resp = ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R1"})
    assert resp.status_code == 201
    r1 = resp.get_json()
    assert r1["release"]["item_count"] == 3
    assert r1["diff"] == {
        "release": "R1",
        "against": None,
        "added": ["Q1", "Q2", "Q3"],
        "changed": [],
        "removed": [],
    }
    # Change Q1, retire Q2, add Q4.
    ed.post("/api/items/Q1/versions", json={"content": choice(difficulty=0.4)})
    approve(ed, rev, "Q1", 2)
    rev.post("/api/items/Q2/versions/1/review", json={"action": "retire", "comment": "过时"})
    add_item(ed, "Q4")
    approve(ed, rev, "Q4")
    r2 = ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R2"}).get_json()
    assert r2["diff"]["added"] == ["Q4"]
    assert r2["diff"]["removed"] == ["Q2"]
    assert r2["diff"]["changed"] == [{"item": "Q1", "from_version": 1, "to_version": 2}]
    assert r2["release"]["content_hash"] != r1["release"]["content_hash"]
    # The first release still holds exactly what it held.
    items = ed.get(f"/api/releases/{r1['release']['id']}/items").get_json()["items"]
    assert sorted((i["item"], i["version"]) for i in items) == [("Q1", 1), ("Q2", 1), ("Q3", 1)]
    # Same name twice is refused; diff against an explicit release works.
    assert (
        ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R2"}).status_code
        == 409
    )
    d = ed.get(f"/api/releases/{r1['release']['id']}/diff?against={r2['release']['id']}")
    assert d.get_json()["diff"]["added"] == ["Q2"]
    assert verify_chain(session).ok


def test_release_needs_approved_items(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    add_item(ed, "Q1")
    resp = ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R1"})
    assert resp.status_code == 409 and "no approved" in resp.get_json()["message"]


def test_search_filters(app, api_as):
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    add_item(
        ed,
        "E-1",
        stem="<p>三相异步电动机的转差率</p>",
        knowledge_point="B-01",
        tags=["电机"],
        difficulty=0.3,
    )
    add_item(
        ed,
        "E-2",
        type="true_false",
        options=[],
        key=["T"],
        stem="<p>安全电压 36 V</p>",
        knowledge_point="A-02",
        difficulty=0.9,
    )
    add_item(ed, "E-3", difficulty=0.6)
    approve(ed, rev, "E-3")

    def codes(query: str) -> list[str]:
        resp = ed.get("/api/items?" + query)
        assert resp.status_code == 200, resp.get_json()
        return sorted(i["item"] for i in resp.get_json()["items"])

    assert codes("") == ["E-1", "E-2", "E-3"]
    assert codes("text=电动机") == ["E-1"]
    assert codes("type=true_false") == ["E-2"]
    assert codes("knowledge_point=A") == ["E-2", "E-3"]  # a module selects its points
    assert codes("knowledge_point=B-01") == ["E-1"]
    assert codes("status=approved") == ["E-3"]
    assert codes("tag=电机") == ["E-1"]
    assert codes("difficulty_min=0.5&difficulty_max=0.95") == ["E-2", "E-3"]
    assert codes(f"occupation={OCC}&level=4&per_page=2&page=2") == ["E-1"]
    assert ed.get("/api/items?difficulty_min=2").status_code == 422
    assert ed.get("/api/items?per_page=1000").get_json()["field"] == "per_page"
    assert ed.get("/api/items?status=nonsense").status_code == 422


def test_every_bank_change_is_audited(app, api_as, session):
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    add_item(ed, "Q1")
    approve(ed, rev, "Q1")
    ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R1"})
    sup = api_as("supervisor")
    events = sup.get("/api/audit?limit=1000").get_json()["events"]
    actions = [e["action"] for e in events if not e["action"].startswith("user.")]
    assert actions == [
        "occupation.created",
        "knowledge.tree_saved",
        "item.created",
        "item.submit",
        "item.approve",
        "release.created",
    ]
    approve_ev = next(e for e in events if e["action"] == "item.approve")
    assert approve_ev["actor"] == "reviewer" and approve_ev["reason"] == "ok"
    assert sup.get("/api/audit/verify").get_json()["ok"] is True
    assert ed.get("/api/audit").status_code == 403


def test_image_assets_in_stems(app, api_as):
    import hashlib
    import io

    ed = api_as("editor")
    setup_bank(ed)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    resp = ed.post(
        "/api/assets",
        data={"file": (io.BytesIO(png), "circuit.png")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["sha256"] == hashlib.sha256(png).hexdigest()
    got = ed.get(body["src"])
    assert got.status_code == 200 and got.data == png and got.mimetype == "image/png"
    stem = f'<p>图示电路中的电流是多少？</p><img src="{body["src"]}" alt="电路图">'
    v = add_item(ed, "IMG-1", stem=stem)
    assert body["src"] in v["content"]["stem"]
    # Images from elsewhere, and files that are not images, are refused.
    resp = ed.post(
        "/api/items",
        json={
            "occupation": OCC,
            "level": 4,
            "code": "IMG-2",
            "content": choice(stem='<img src="http://x.test/a.png">'),
        },
    )
    assert resp.status_code == 422 and "not an uploaded asset" in resp.get_json()["message"]
    resp = ed.post(
        "/api/assets",
        data={"file": (io.BytesIO(b"<svg onload=x>"), "a.svg")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"
    assert api_as("reviewer").get("/assets/" + "0" * 64).status_code == 404
