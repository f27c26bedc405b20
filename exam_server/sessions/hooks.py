"""Extension points of the session life cycle, called by :mod:`.services`.

They run inside the unit of work of the transition that calls them: whatever they write is
committed with the transition, and a :class:`~question_bank.errors.DomainError` they raise
refuses the transition and rolls everything back.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .models import ExamSession


def on_session_open(session: Session, exam_session: ExamSession) -> None:
    """Called when ``exam_session`` goes from planned to open, after its state, ``opened_at``
    and the audit event have been flushed.

    Paper assembly (issue 3) belongs here: draw one paper per approved registration from the
    pinned release (``exam_session.release_id``) with the blueprint
    (``exam_session.blueprint_version_id``), so the start storm is served from what is ready.
    Raise ``Conflict`` or ``ValidationFailed`` to refuse the opening (e.g. the blueprint cannot
    be satisfied by the release). Does nothing yet.
    """
    return None
