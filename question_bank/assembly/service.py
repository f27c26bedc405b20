"""The database side of assembly: pools from releases, checks, previews, stored papers.

These are the functions the session code calls. They flush, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import Actor, record
from ..blueprints import BlueprintInfeasible, Problem, spec_of
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import (
    BankRelease,
    BlueprintVersion,
    Item,
    ItemVersion,
    PaperSet,
    ReleaseItem,
    StoredPaper,
)
from .core import (
    Paper,
    PaperFailed,
    SessionAssembler,
    assemble,
    assembly_order,
    failure_problems,
    paper_seed,
)
from .plan import Plan, plan_blueprint, session_problems
from .pool import ItemPool
from .report import information_summary, score_summary, session_report

CHECK_SEED = "feasibility-check"
CHECK_PAPERS = 30
MAX_CANDIDATE_KEY = 64


def load_pool(
    session: Session,
    release: BankRelease,
    *,
    difficulties: Mapping[int, float] | None = None,
    irt: Mapping[int, tuple[float, float]] | None = None,
    keep_contents: bool = True,
) -> ItemPool:
    """The release's items as a pool, in item-code order.

    Difficulties: ``difficulties`` if given (e.g. the snapshot a paper set stored), else the
    bank's current estimates — measured facility once enough candidates answered, else the
    author's estimate (:func:`question_bank.statistics.effective_difficulties`). IRT
    estimates likewise: ``irt`` if given (a stored snapshot), else the analysis runs'
    (:func:`question_bank.statistics.irt_estimates`).
    """
    rows = session.execute(
        select(ItemVersion, Item.code)
        .join(ReleaseItem, ReleaseItem.item_version_id == ItemVersion.id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(ReleaseItem.release_id == release.id)
    ).all()
    # Sorted here, not in SQL: collations differ between databases and the order is an input.
    rows.sort(key=lambda r: r[1])
    if difficulties is None:
        from ..statistics import effective_difficulties

        difficulties = effective_difficulties(session, [v for v, _ in rows])
    if irt is None:
        from ..statistics import irt_estimates

        irt = irt_estimates(session, [v.id for v, _ in rows])
    return ItemPool.from_items(
        ((v.id, code, v.content) for v, code in rows),
        release.knowledge_points or [],
        name=release.name,
        content_hash=release.content_hash,
        difficulties=difficulties,
        keep_contents=keep_contents,
        occupation=release.occupation.code,
        level=release.level,
        irt=irt,
    )


def plan_for(
    session: Session,
    version: BlueprintVersion,
    release: BankRelease,
    *,
    pool: ItemPool | None = None,
) -> Plan:
    """The blueprint version resolved against the release (problems listed, never raised)."""
    pool = pool if pool is not None else load_pool(session, release)
    plan = plan_blueprint(spec_of(version), pool)
    bp = version.blueprint
    if (bp.occupation_id, bp.level) != (release.occupation_id, release.level):
        plan.problems.insert(
            0,
            Problem(
                "release.mismatch",
                f"blueprint {bp.code} is for {bp.occupation.code} level {bp.level}, release "
                f"{release.name} for {release.occupation.code} level {release.level}",
                "release",
            ),
        )
    return plan


def check_blueprint(
    session: Session,
    version: BlueprintVersion,
    release: BankRelease,
    *,
    n_papers: int | None = None,
) -> dict[str, Any]:
    """Feasibility report of a blueprint version against a release.

    Besides the rules, a trial assembly (``n_papers`` papers, the session size, or 30) shows
    whether every paper can be balanced within the tolerance under the enemy groups and the
    exposure limit.
    """
    plan = plan_for(session, version, release)
    trial = n_papers or CHECK_PAPERS
    problems = list(plan.problems)
    if not problems:
        problems += session_problems(plan, trial)
    checked = 0
    if not problems:
        res = assemble(plan, CHECK_SEED, [f"trial-{k:06d}" for k in range(trial)])
        checked = trial
        problems += failure_problems(plan, res.failures, trial)
    report = plan.to_dict()
    report.update(
        feasible=not problems,
        problems=[p.to_dict() for p in problems],
        papers_checked=checked,
        blueprint=version.blueprint.code,
        version=version.number,
    )
    return report


def _require(plan: Plan, candidates: list[str], seed: str) -> list[Paper]:
    if plan.problems:
        raise BlueprintInfeasible(plan.problems)
    problems = session_problems(plan, len(candidates))
    if problems:
        raise BlueprintInfeasible(problems, what="session cannot be assembled")
    res = assemble(plan, seed, candidates)
    if res.failures:
        raise BlueprintInfeasible(
            failure_problems(plan, res.failures, len(candidates)),
            what="session cannot be assembled",
        )
    return res.papers


def _candidates(candidate_ids: list[Any]) -> list[str]:
    out = [str(c) for c in candidate_ids]
    if not out:
        raise ValidationFailed("a session needs at least one candidate", field="candidates")
    bad = [c for c in out if not c or len(c) > MAX_CANDIDATE_KEY]
    if bad:
        raise ValidationFailed(
            f"candidate ids must be 1-{MAX_CANDIDATE_KEY} characters", field="candidates"
        )
    if len(set(out)) != len(out):
        raise ValidationFailed("candidate ids must be unique in a session", field="candidates")
    return out


def assemble_session(
    session: Session,
    release: BankRelease,
    blueprint_version: BlueprintVersion,
    seed: str,
    candidate_ids: list[Any],
) -> list[Paper]:
    """One paper per candidate (same order as ``candidate_ids``), or
    :class:`~question_bank.blueprints.BlueprintInfeasible` naming every broken rule; then
    nothing is assembled. Does not store anything (see :func:`store_papers`)."""
    candidates = _candidates(candidate_ids)
    plan = plan_for(session, blueprint_version, release)
    return _require(plan, candidates, str(seed))


def preview(
    session: Session,
    version: BlueprintVersion,
    release: BankRelease,
    *,
    n: int = 100,
    seed: str = "preview",
) -> dict[str, Any]:
    """Assemble ``n`` papers for made-up candidates without storing them and report on them,
    with the naive draw's expected-score spread side by side."""
    if not 1 <= n <= 20_000:
        raise ValidationFailed("preview between 1 and 20000 papers", field="n")
    plan = plan_for(session, version, release)
    candidates = [f"preview-{k:06d}" for k in range(n)]
    papers = _require(plan, candidates, seed)
    report = session_report(plan, papers)
    naive = assemble(plan, seed, candidates, naive=True)
    import numpy as np

    report["naive_expected_score"] = score_summary(
        np.array([p.expected_score for p in naive.papers]), plan
    )
    report["naive_information"] = information_summary(plan, naive.papers)
    report.update(
        blueprint=version.blueprint.code,
        version=version.number,
        release=release.name,
        seed=seed,
        target=plan.to_dict()["target"],
        warnings=[w.to_dict() for w in plan.warnings],
    )
    return report


# -- stored papers --------------------------------------------------------------------------


def store_papers(
    session: Session,
    actor: Actor,
    session_key: str,
    release: BankRelease,
    version: BlueprintVersion,
    seed: str,
    papers: list[Paper],
    *,
    plan: Plan | None = None,
) -> PaperSet:
    """Store a session's papers with what is needed to rebuild them (audited)."""
    if not session_key or len(session_key) > 64:
        raise ValidationFailed("a session key is 1-64 characters", field="session_key")
    plan = plan if plan is not None else plan_for(session, version, release)
    pool = plan.pool
    by_candidate = {p.candidate: p for p in papers}
    ordered = [by_candidate[c] for c in assembly_order(list(by_candidate))]
    report = session_report(plan, ordered)
    report["planned_papers"] = len(ordered)
    report["difficulty_hash"] = pool.difficulty_hash
    if pool.irt_hash is not None:
        report["irt_hash"] = pool.irt_hash
    pset = PaperSet(
        session_key=session_key,
        release_id=release.id,
        blueprint_version_id=version.id,
        seed=str(seed),
        difficulties={
            str(v): d for v, d in zip(pool.version_ids, pool.difficulty.tolist(), strict=True)
        },
        item_parameters=pool.irt_snapshot() or None,
        report=report,
        created_by_id=actor.id,
    )
    session.add(pset)
    session.flush()
    for p in ordered:  # in assembly order, so a rebuild replays them in id order
        session.add(
            StoredPaper(
                paper_set_id=pset.id,
                candidate_key=p.candidate,
                items=p.items_json(),
                expected_score=p.expected_score,
                paper_hash=p.paper_hash,
            )
        )
    session.flush()
    scores = report["expected_score"]
    record(
        session,
        actor,
        "papers.assembled",
        "session",
        session_key,
        data={
            "paper_set": pset.id,
            "release": release.name,
            "release_hash": release.content_hash,
            "blueprint": version.blueprint.code,
            "blueprint_version": version.number,
            "spec_hash": version.spec_hash,
            "seed": str(seed),
            "papers": len(ordered),
            "expected_score": {k: scores.get(k) for k in ("min", "max", "target", "tolerance")},
            "difficulty_hash": pool.difficulty_hash,
            "irt_hash": pool.irt_hash,
            "information": None
            if report.get("information") is None
            else {
                k: report["information"][k]
                for k in ("theta_cut", "target", "balanced", "papers_on_estimates")
            },
        },
    )
    return pset


def assemble_and_store(
    session: Session,
    actor: Actor,
    session_key: str,
    release: BankRelease,
    version: BlueprintVersion,
    seed: str,
    candidate_ids: list[Any],
) -> PaperSet:
    """Assemble and store a whole session's papers, or raise and store nothing."""
    candidates = _candidates(candidate_ids)
    plan = plan_for(session, version, release)
    papers = _require(plan, candidates, str(seed))
    return store_papers(session, actor, session_key, release, version, seed, papers, plan=plan)


def get_paper_set(session: Session, paper_set_id: int) -> PaperSet:
    pset = session.get(PaperSet, paper_set_id)
    if pset is None:
        raise NotFound(f"no paper set {paper_set_id}", field="paper_set")
    return pset


def paper_from_record(stored: StoredPaper) -> Paper:
    """A stored paper as a :class:`Paper` (``indices`` are not stored and come back empty)."""
    pset = stored.paper_set
    from decimal import Decimal

    items = stored.items
    return Paper(
        candidate=stored.candidate_key,
        version_ids=tuple(int(it["version_id"]) for it in items),
        codes=tuple(it["code"] for it in items),
        sections=tuple(int(it["section"]) for it in items),
        points=tuple(Decimal(it["points"]) for it in items),
        options=tuple(it["options"] for it in items),
        expected_score=stored.expected_score,
        seed=paper_seed(
            pset.release.content_hash,
            pset.blueprint_version.spec_hash,
            pset.seed,
            stored.candidate_key,
        ),
        indices=(),
    )


def _stored_pool(session: Session, pset: PaperSet) -> ItemPool:
    params = pset.item_parameters or {}
    return load_pool(
        session,
        pset.release,
        difficulties={int(k): v for k, v in pset.difficulties.items()},
        irt={int(k): (float(v[0]), float(v[1])) for k, v in params.items()},
    )


def _replayed(session: Session, pset: PaperSet) -> tuple[SessionAssembler, list[Paper]]:
    """An assembler that has made the set's papers again, in their stored order."""
    pool = _stored_pool(session, pset)
    plan = plan_for(session, pset.blueprint_version, pset.release, pool=pool)
    planned = int(pset.report.get("planned_papers") or len(pset.papers))
    assembler = SessionAssembler(plan, pset.seed, n_papers=planned)
    rows = list(pset.papers)
    papers = [assembler.paper(p.candidate_key) for p in rows[:planned]]
    done = planned
    for added in pset.report.get("additions", []):
        assembler.resize(int(added["n_papers"]))
        count = len(added["candidates"])
        papers += [assembler.paper(p.candidate_key) for p in rows[done : done + count]]
        done += count
    return assembler, papers


def rebuild_papers(session: Session, pset: PaperSet) -> list[Paper]:
    """Assemble the stored papers again from their inputs (same release, blueprint version,
    seed, stored difficulties and candidates in stored order)."""
    return _replayed(session, pset)[1]


def verify_papers(session: Session, pset: PaperSet) -> list[str]:
    """Candidates whose stored paper differs from a rebuild (empty: every paper reproduces)."""
    rebuilt = {p.candidate: p for p in rebuild_papers(session, pset)}
    return [
        s.candidate_key
        for s in pset.papers
        if rebuilt[s.candidate_key].items_json() != s.items
        or rebuilt[s.candidate_key].paper_hash != s.paper_hash
    ]


def add_papers(
    session: Session, actor: Actor, pset: PaperSet, candidate_ids: list[Any]
) -> list[Paper]:
    """Papers for candidates added after the session's papers were made, continuing its
    exposure counts (audited). Existing candidates are refused."""
    candidates = _candidates(candidate_ids)
    have = {p.candidate_key for p in pset.papers}
    clash = sorted(set(candidates) & have)
    if clash:
        raise Conflict(
            f"candidates already have papers in this session: {', '.join(clash[:5])}",
            field="candidates",
        )
    assembler, _ = _replayed(session, pset)  # the session's exposure counts so far
    total = len(pset.papers) + len(candidates)
    assembler.resize(total)
    papers = []
    for c in candidates:
        try:
            papers.append(assembler.paper(c))
        except PaperFailed as exc:
            raise BlueprintInfeasible(
                [Problem(exc.failure.rule, exc.failure.message)],
                what=f"no paper for candidate {c}",
            ) from None
    for p in papers:
        session.add(
            StoredPaper(
                paper_set_id=pset.id,
                candidate_key=p.candidate,
                items=p.items_json(),
                expected_score=p.expected_score,
                paper_hash=p.paper_hash,
            )
        )
    pset.report = {
        **pset.report,
        "additions": [
            *pset.report.get("additions", []),
            {"candidates": [p.candidate for p in papers], "n_papers": total},
        ],
    }
    session.flush()
    record(
        session,
        actor,
        "papers.added",
        "session",
        pset.session_key,
        data={"paper_set": pset.id, "candidates": [p.candidate for p in papers]},
    )
    return papers


def stored_paper(session: Session, pset: PaperSet, candidate: str) -> StoredPaper:
    row = session.scalar(
        select(StoredPaper).where(
            StoredPaper.paper_set_id == pset.id, StoredPaper.candidate_key == candidate
        )
    )
    if row is None:
        raise NotFound(f"no paper for candidate {candidate!r} in this session", field="candidate")
    return row


def find_release(session: Session, version_or_blueprint: Any, ref: str | int) -> BankRelease:
    """A release of the blueprint's occupation and level by id or by name."""
    bp = getattr(version_or_blueprint, "blueprint", version_or_blueprint)
    text = str(ref).strip()
    release = None
    if text.isdigit():
        release = session.get(BankRelease, int(text))
    if release is None:
        release = session.scalar(
            select(BankRelease).where(
                BankRelease.occupation_id == bp.occupation_id,
                BankRelease.level == bp.level,
                BankRelease.name == text,
            )
        )
    if release is None:
        raise NotFound(
            f"no release {text!r} for {bp.occupation.code} level {bp.level}", field="release"
        )
    return release
