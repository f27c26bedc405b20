"""Blueprints through the JSON API and the CLI, and session papers through the service, on
SQLite and PostgreSQL. The bank is the demo bank (electrician level 4, release R1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from exam_server.cli import blueprint_check, blueprint_import, papers_preview
from exam_server.demo import setup_demo
from exam_server.extensions import db
from question_bank import assembly
from question_bank.audit import Actor, AuditEvent, verify_chain
from question_bank.blueprints import BlueprintInfeasible, create_blueprint, spec_of
from question_bank.knowledge import get_occupation
from question_bank.models import BankRelease, ItemVersion, StoredPaper
from tests.question_bank.helpers import OCC, setup_bank

# Fits the demo bank: quotas per module (A 30 %, B 70 %) rather than per leaf point.
GOOD = {
    "sections": [
        {"type": "true_false", "count": 10, "points": 1, "quota_depth": 1, "title": "一、判断题"},
        {"type": "single_choice", "count": 20, "points": 2, "quota_depth": 1},
        {"type": "multiple_choice", "count": 5, "points": 4, "quota_depth": 1},
        {"type": "fill_blank", "count": 3, "points": 10, "quotas": {"A": 1, "B": 2}},
    ],
    "duration_minutes": 90,
    "difficulty": {"tolerance": 0.01},
    "keep_last": {"E4-B06-002": ["D"]},
}


def body(code: str = "E4-T", spec: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    return {
        "occupation": OCC,
        "level": 4,
        "code": code,
        "name": "电工四级理论",
        "spec": spec if spec is not None else GOOD,
        **over,
    }


def with_sections(*sections: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {**GOOD, "sections": list(sections), **over}


@pytest.fixture
def demo(app) -> BankRelease:
    setup_demo()
    db.session.commit()
    return db.session.scalar(select(BankRelease))


def test_blueprints_are_versioned_immutable_and_audited(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    resp = ed.post("/api/blueprints", json=body(note="first"))
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()
    assert got["version"]["version"] == 1 and got["blueprint"]["latest_version"] == 1
    assert got["version"]["summary"]["items"] == 38
    assert ed.post("/api/blueprints", json=body()).status_code == 409  # code taken

    v2 = {**GOOD, "exposure_limit": 40}
    resp = ed.post("/api/blueprints/E4-T/versions", json={"spec": v2, "note": "limit exposure"})
    assert resp.status_code == 201 and resp.get_json()["version"]["version"] == 2
    again = ed.post("/api/blueprints/E4-T/versions", json={"spec": v2})
    assert again.status_code == 409 and "identical to version 2" in again.get_json()["message"]

    one = ed.get("/api/blueprints/E4-T/versions/1").get_json()["version"]
    assert one["spec"]["exposure_limit"] is None and one["latest"] is False
    full = ed.get("/api/blueprints/E4-T").get_json()
    assert [v["version"] for v in full["versions"]] == [1, 2]
    assert full["latest"]["spec"]["exposure_limit"] == 40
    listed = ed.get(f"/api/blueprints?occupation={OCC}&level=4").get_json()["blueprints"]
    assert [b["code"] for b in listed] == ["E4-T"]
    assert ed.get("/api/blueprints?level=3").get_json()["blueprints"] == []
    assert ed.get("/api/blueprints/NOPE").status_code == 404
    assert ed.get("/api/blueprints/E4-T/versions/9").status_code == 404

    # Reviewers and supervisors read; only editors write.
    sup = api_as("supervisor")
    assert sup.get("/api/blueprints/E4-T").status_code == 200
    assert sup.post("/api/blueprints", json=body("X")).status_code == 403

    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "blueprint")
    ).all()
    assert actions == ["blueprint.created", "blueprint.revised"]
    assert verify_chain(db.session).ok


@pytest.mark.parametrize(
    ("spec", "rule", "field"),
    [
        (
            with_sections(
                {"type": "true_false", "count": 20, "points": 1},
                {"type": "single_choice", "count": 60, "points": 1},
                {"type": "multiple_choice", "count": 10, "points": 1},
            ),
            "sections.total_points",
            "sections",
        ),
        (
            with_sections(
                {"type": "true_false", "count": 40, "points": 1, "quotas": {"A": 10, "B": 20}},
                {"type": "single_choice", "count": 60, "points": 1},
            ),
            "quotas.sum",
            "sections.0.quotas",
        ),
        (
            with_sections(
                {"type": "essay", "count": 40, "points": 1},
                {"type": "single_choice", "count": 60, "points": 1},
            ),
            "sections.unknown_type",
            "sections.0.type",
        ),
        (
            {
                **GOOD,
                "pinned": ["E4-A01-001", "E4-A01-002"],
                "enemy_groups": [["E4-A01-001", "E4-A01-002"]],
            },
            "enemies.pinned_together",
            "enemy_groups.0",
        ),
        (
            with_sections({"type": "true_false", "count": 0, "points": 100}),
            "spec.field",
            "sections.0.count",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_rule(app, api_as, spec, rule, field):
    ed = api_as("editor")
    setup_bank(ed)
    resp = ed.post("/api/blueprints", json=body(spec=spec))
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()
    assert err["error"] == "blueprint_invalid"
    assert err["details"][0]["rule"] == rule and err["field"] == field
    assert f"[rule {rule}]" in err["message"]
    assert ed.get("/api/blueprints").get_json()["blueprints"] == []


def test_feasibility_names_exact_shortages_and_bad_pins(app, api_as, demo):
    ed = api_as("editor", username="ed2")
    # Leaf quotas: the demo bank has one or two items per point and type, so most fall short.
    leafy = with_sections(
        {"type": "true_false", "count": 40, "points": 1},
        {"type": "single_choice", "count": 30, "points": 2},
        pinned=["E4-NOPE", "E4-A01-001"],
    )
    assert ed.post("/api/blueprints", json=body("LEAFY", leafy)).status_code == 201
    resp = ed.get(f"/api/blueprints/LEAFY/versions/1/check?release={demo.name}")
    assert resp.status_code == 200
    rep = resp.get_json()["report"]
    assert rep["feasible"] is False and rep["papers_checked"] == 0
    messages = {p["message"] for p in rep["problems"]}
    rules = {p["rule"] for p in rep["problems"]}
    assert {"quotas.shortage", "pinned.not_in_release"} <= rules
    assert "pinned item E4-NOPE is not in release R1" in messages
    assert "knowledge point B-04-001 needs 3 true/false items; release R1 has 1" in messages
    # Quotas add up to every section count (largest remainder).
    for s in rep["sections"]:
        assert sum(q["quota"] for q in s["quotas"]) == s["count"]
    assert ed.post("/api/blueprints", json=body("GOOD")).status_code == 201
    ok = ed.get(f"/api/blueprints/GOOD/versions/1/check?release={demo.id}&papers=40")
    rep = ok.get_json()["report"]
    assert rep["feasible"] is True, rep["problems"]
    assert rep["papers_checked"] == 40 and rep["problems"] == []
    assert [q["quota"] for q in rep["sections"][0]["quotas"]] == [3, 7]
    assert ed.get("/api/blueprints/GOOD/versions/1/check?release=R9").status_code == 404
    # A release of another level does not fit the blueprint.
    assert ed.post("/api/blueprints", json=body("L3", level=3)).status_code == 201
    wrong = ed.get(f"/api/blueprints/L3/versions/1/check?release={demo.id}").get_json()["report"]
    assert wrong["problems"][0]["rule"] == "release.mismatch"
    assert (
        "L3 is for 6-31-01-03 level 3, release R1 for 6-31-01-03 level 4"
        in (wrong["problems"][0]["message"])
    )
    assert ed.get("/api/blueprints/GOOD/versions/1/check").status_code == 422


def test_preview_reports_equal_papers_or_refuses(app, api_as, demo):
    ed = api_as("editor", username="ed2")
    ed.post("/api/blueprints", json=body("GOOD"))
    resp = ed.get("/api/blueprints/GOOD/versions/1/preview?release=R1&papers=30&seed=s1")
    assert resp.status_code == 200, resp.get_json()
    rep = resp.get_json()["report"]
    es = rep["expected_score"]
    assert rep["papers"] == 30 and es["within_tolerance"] == 30
    assert es["max"] - es["min"] <= 2 * es["tolerance"] + 1e-9
    assert rep["naive_expected_score"]["papers"] == 30
    assert rep["overlap"]["sampled"] is False and rep["exposure"]["eligible_items"] > 0
    # Too tight: every single-choice item of module B on 30 % of papers at most.
    tight = {**GOOD, "exposure_limit": 30}
    ed.post("/api/blueprints/GOOD/versions", json={"spec": tight})
    resp = ed.get("/api/blueprints/GOOD/versions/2/preview?release=R1&papers=30")
    assert resp.status_code == 422
    err = resp.get_json()
    assert err["error"] == "blueprint_infeasible"
    assert {d["rule"] for d in err["details"]} == {"exposure.shortage"}


def test_session_papers_are_stored_rebuilt_delivered_and_audited(app, session, demo):
    actor = Actor(None, "test")
    spec = {**GOOD, "exposure_limit": 100, "enemy_groups": [["E4-A01-001", "E4-A01-002"]]}
    version = create_blueprint(session, actor, get_occupation(session, OCC), 4, "S", "s", spec)
    candidates = [f"T{k:03d}" for k in range(25)]
    pset = assembly.assemble_and_store(session, actor, "SESSION-1", demo, version, "x1", candidates)
    session.commit()
    assert len(pset.papers) == 25 and pset.report["papers"] == 25
    assert assembly.verify_papers(session, pset) == []
    # A candidate registered late gets a paper continuing the session's exposure counts,
    # and the whole set still rebuilds exactly.
    late = assembly.add_papers(session, actor, pset, ["T999"])
    session.commit()
    assert late[0].candidate == "T999"
    session.refresh(pset)
    assert assembly.verify_papers(session, pset) == []
    with pytest.raises(Exception, match="already have papers"):
        assembly.add_papers(session, actor, pset, ["T000"])
    session.rollback()

    stored = assembly.stored_paper(session, pset, "T007")
    paper = assembly.paper_from_record(stored)
    versions = {
        v.id: v
        for v in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(paper.version_ids)))
    }
    doc = assembly.paper_for_delivery(paper, versions, spec_of(version))
    text = json.dumps(doc, ensure_ascii=False)
    assert doc["item_count"] == 38 and doc["sections"][0]["title"] == "一、判断题"
    assert '"key"' not in text and '"explanation"' not in text and "E4-" not in text
    for v in versions.values():
        if v.content.get("explanation"):
            assert v.content["explanation"] not in text
    # Same inputs, same papers, without storing anything.
    again = assembly.assemble_session(session, demo, version, "x1", candidates)
    assert again[7].items_json() == stored.items
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "session")
    ).all()
    assert events == ["papers.assembled", "papers.added"]
    # A session that cannot be met stores nothing.
    tight = create_blueprint(
        session, actor, get_occupation(session, OCC), 4, "T", "t", {**GOOD, "exposure_limit": 20}
    )
    with pytest.raises(BlueprintInfeasible) as err:
        assembly.assemble_and_store(session, actor, "SESSION-2", demo, tight, "x", candidates)
    assert err.value.problems[0].rule == "exposure.shortage"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(StoredPaper)) == 26


def test_cli_blueprint_import_check_and_papers_preview(app, demo, tmp_path):
    runner = app.test_cli_runner()
    src = tmp_path / "bp.json"
    src.write_text(json.dumps(body("CLI-BP")), encoding="utf-8")
    result = runner.invoke(blueprint_import, [str(src)])
    assert result.exit_code == 0, result.output
    assert "blueprint CLI-BP version 1" in result.output
    result = runner.invoke(blueprint_import, [str(src)])
    assert "unchanged (version 1)" in result.output

    result = runner.invoke(blueprint_check, ["CLI-BP", "--release", "R1", "--papers", "20"])
    assert result.exit_code == 0, result.output
    assert "feasible: 20 trial papers" in result.output and "A=3, B=7" in result.output

    out = tmp_path / "report.json"
    result = runner.invoke(
        papers_preview,
        ["--blueprint", "CLI-BP", "--release", "R1", "--n", "100", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "100 papers of 38 items" in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line}
    assert "balanced" in lines and "naive" in lines
    assert lines["balanced"].endswith("100/100")
    assert json.loads(out.read_text(encoding="utf-8"))["papers"] == 100

    bad = tmp_path / "bad.json"
    spec = with_sections({"type": "true_false", "count": 100, "points": 1, "quota_depth": 1})
    bad.write_text(json.dumps(body("CLI-BAD", spec)), encoding="utf-8")
    assert runner.invoke(blueprint_import, [str(bad)]).exit_code == 0
    result = runner.invoke(blueprint_check, ["CLI-BAD", "--release", "R1"])
    assert result.exit_code == 1
    assert "problem [quotas.shortage] knowledge point A needs 30 true/false items" in result.output
    result = runner.invoke(papers_preview, ["--blueprint", "CLI-BAD", "--release", "R1"])
    assert result.exit_code == 2 and "[rule quotas.shortage]" in result.output
