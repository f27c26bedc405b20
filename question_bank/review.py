"""The review workflow of item versions (four-eyes).

::

    draft --submit--> in_review --approve--> approved --retire--> retired
                          |  \\--reject (comment required)--> draft
                          \\--withdraw (by the author)--> draft

The reviewer who approves is never the version's author. Approving a version retires the
item's previously approved version ("superseded"), so an item has at most one approved version
and a release never has to choose. Every transition is a :class:`ReviewEvent` and an audit event.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .audit import Actor, record
from .errors import Conflict, Forbidden, ValidationFailed
from .models import ItemVersion, ReviewEvent, VersionStatus

S = VersionStatus
TRANSITIONS: dict[str, tuple[str, str]] = {
    "submit": (S.DRAFT, S.IN_REVIEW),
    "withdraw": (S.IN_REVIEW, S.DRAFT),
    "approve": (S.IN_REVIEW, S.APPROVED),
    "reject": (S.IN_REVIEW, S.DRAFT),
    "retire": (S.APPROVED, S.RETIRED),
}
NEEDS_COMMENT = {"reject", "retire"}

# Called after a version is approved, in the same unit of work, with (session, actor, the
# approved version, the version it superseded or None). The server registers re-scoring here
# (a corrected key re-scores delivered answers); question_bank itself knows nothing of exams.
ApprovalListener = Callable[[Session, Actor, ItemVersion, "ItemVersion | None"], None]
APPROVAL_LISTENERS: list[ApprovalListener] = []


def _event(session: Session, actor: Actor, v: ItemVersion, to: str, comment: str) -> None:
    session.add(
        ReviewEvent(
            version_id=v.id, from_status=v.status, to_status=to, actor_id=actor.id, comment=comment
        )
    )
    v.status = to


def transition(
    session: Session, actor: Actor, version: ItemVersion, action: str, comment: str = ""
) -> ItemVersion:
    """Move ``version`` through the workflow; raise a named error if the move is not allowed.

    Role checks (who may review) belong to the caller; the four-eyes rule is enforced here
    because it holds whoever calls.
    """
    if action not in TRANSITIONS:
        raise ValidationFailed(
            f"unknown review action {action!r}; one of {', '.join(TRANSITIONS)}", field="action"
        )
    source, target = TRANSITIONS[action]
    comment = (comment or "").strip()
    if version.status != source:
        raise Conflict(
            f"cannot {action} version {version.number} of {version.item.code}: it is "
            f"{version.status}, and {action} needs {source}",
            field="status",
        )
    if action in NEEDS_COMMENT and not comment:
        raise ValidationFailed(f"{action} needs a comment saying why", field="comment")
    if action == "approve" and version.author_id is not None and version.author_id == actor.id:
        raise Forbidden("four-eyes rule: the author of a version cannot approve it")
    if action == "withdraw" and version.author_id != actor.id:
        raise Forbidden("only the author can withdraw a version from review")
    superseded = None
    if action == "approve":
        older = session.scalars(
            select(ItemVersion).where(
                ItemVersion.item_id == version.item_id,
                ItemVersion.status == S.APPROVED,
                ItemVersion.id != version.id,
            )
        ).all()
        for old in older:
            _event(session, actor, old, S.RETIRED, f"superseded by version {version.number}")
            superseded = old
    _event(session, actor, version, target, comment)
    session.flush()
    record(
        session,
        actor,
        f"item.{action}",
        "item",
        version.item.code,
        reason=comment,
        data={"version": version.number, "from": source, "to": target},
    )
    if action == "approve":
        for listener in APPROVAL_LISTENERS:
            listener(session, actor, version, superseded)
    return version


def review_queue(session: Session, *, for_actor: Actor | None = None, limit: int = 200):
    """Versions waiting for review, oldest first; a reviewer does not see their own."""
    q = select(ItemVersion).where(ItemVersion.status == S.IN_REVIEW)
    if for_actor is not None and for_actor.id is not None:
        q = q.where(or_(ItemVersion.author_id.is_(None), ItemVersion.author_id != for_actor.id))
    return session.scalars(q.order_by(ItemVersion.created_at, ItemVersion.id).limit(limit)).all()
