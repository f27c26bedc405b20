"""Extension points of the session life cycle, called by :mod:`.services`.

They run inside the unit of work of the transition that calls them: whatever they write is
committed with the transition, and a :class:`~question_bank.errors.DomainError` they raise
refuses the transition and rolls everything back.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank import assembly
from question_bank.audit import Actor
from question_bank.errors import Conflict, DomainError
from question_bank.models import BankRelease, BlueprintVersion

from .models import Eligibility, ExamSession, Registration

log = logging.getLogger(__name__)


def on_session_open(session: Session, exam_session: ExamSession, actor: Actor) -> None:
    """Assemble every approved candidate's paper and prepare their attempts.

    Papers are drawn when the session opens, not at the start click, so the start storm is
    served from what is ready. The seed is random (unpredictable before opening) and stored
    with the paper set, so every paper can be rebuilt and audited later. A blueprint that the
    pinned release cannot satisfy refuses the opening with every problem listed.
    """
    from ..delivery.services import create_attempts

    es = exam_session
    if es.blueprint_version_id is None:
        raise Conflict(
            f"session {es.code} has no blueprint; pin a blueprint version first",
            field="blueprint_version_id",
        )
    version = session.get(BlueprintVersion, es.blueprint_version_id)
    release = session.get(BankRelease, es.release_id)
    if version is None:
        raise Conflict(
            f"blueprint version {es.blueprint_version_id} does not exist",
            field="blueprint_version_id",
        )
    bp = version.blueprint
    if (bp.occupation_id, bp.level) != (es.occupation_id, es.level) or (
        release.occupation_id,
        release.level,
    ) != (es.occupation_id, es.level):
        raise Conflict(
            "the blueprint and the release must be of the session's occupation and level",
            field="blueprint_version_id",
        )
    approved = session.scalars(
        select(Registration)
        .where(Registration.session_id == es.id, Registration.eligibility == Eligibility.APPROVED)
        .order_by(Registration.id)
    ).all()
    pset = assembly.assemble_and_store(
        session,
        actor,
        es.code,
        release,
        version,
        secrets.token_hex(16),
        [r.ticket_number for r in approved],
    )
    create_attempts(session, es, {p.candidate_key: p for p in pset.papers})


def on_rooms_started(session: Session, room_ids: list[int], at) -> None:
    """A unified start: the rooms' waiting attempts start in the same unit of work, so the
    candidates' ``hello`` after the start only reads (no row locks in the start storm)."""
    from ..delivery.services import start_waiting

    start_waiting(session, room_ids, at)


def on_session_close(session: Session, exam_session: ExamSession, actor: Actor, now) -> None:
    """Closing a session submits every attempt still open in it (reason ``session_closed``),
    so no attempt outlives its session."""
    from ..delivery.models import Attempt, AttemptState
    from ..delivery.services import submit

    open_attempts = session.scalars(
        select(Attempt).where(
            Attempt.session_id == exam_session.id, Attempt.state.in_(AttemptState.OPEN)
        )
    ).all()
    for a in open_attempts:
        submit(session, actor, a, exam_session, now, reason="session_closed")
    # The improvement loop: analyse the session's responses. An analysis that cannot run
    # (too few candidates) or fails must not keep the session open, so it runs in a savepoint.
    from ..delivery.analysis import analyze_session

    try:
        with session.begin_nested():
            analyze_session(session, actor, exam_session)
    except DomainError:
        pass
    except Exception:
        log.exception("analysis of session %s failed; run it again on demand", exam_session.code)
