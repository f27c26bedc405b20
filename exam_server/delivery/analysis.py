"""Item analysis of a delivered session: the improvement loop's input from real exams."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank import statistics as stats
from question_bank.audit import Actor
from question_bank.errors import Conflict
from question_bank.models import ItemVersion

from ..sessions.models import ExamSession
from .models import Attempt, AttemptAnswer, AttemptState


def analyze_session(
    session: Session, actor: Actor, es: ExamSession, irt: str | None = None
) -> stats.AnalysisRun:
    """Analyse every submitted attempt of ``es`` (randomized papers: each candidate saw only
    their own items, which the analysis treats as missing by design)."""
    attempts = session.scalars(
        select(Attempt).where(Attempt.session_id == es.id, Attempt.state == AttemptState.SUBMITTED)
    ).all()
    if len(attempts) < 2:
        raise Conflict(
            f"session {es.code} has {len(attempts)} submitted attempts; an analysis "
            f"needs at least 2",
            field="session",
        )
    rows = []
    version_ids: dict[int, None] = {}
    answers_by_attempt: dict[int, list[AttemptAnswer]] = {}
    for ans in session.scalars(
        select(AttemptAnswer).where(AttemptAnswer.attempt_id.in_([a.id for a in attempts]))
    ):
        answers_by_attempt.setdefault(ans.attempt_id, []).append(ans)
    for a in attempts:
        items = a.paper.items
        for it in items:
            version_ids.setdefault(int(it["version_id"]), None)
        got = answers_by_attempt.get(a.id, [])
        rows.append(
            {
                "items": items,
                "answers": {x.position: x.response for x in got},
                "points": {x.position: x.points for x in got},
            }
        )
    versions = session.scalars(
        select(ItemVersion).where(ItemVersion.id.in_(list(version_ids)))
    ).all()
    versions.sort(key=lambda v: v.id)
    choices, seen, scores = stats.session_response_arrays(versions, rows)
    return stats.analyze_versions(
        session,
        actor,
        versions,
        choices=choices,
        seen=seen,
        scores=scores,
        label=f"{es.code} {es.name}",
        source="session",
        source_ref=es.code,
        release_id=es.release_id,
        irt=irt,
    )
