"""Re-scoring after a corrected key.

When a reviewer approves a new version of an item that differs from the version it supersedes
only in what counts as correct (the key of a choice item, the accepted answers or rules of a
blank), every submitted attempt whose paper held the old version is graded again for that
question with the corrected key. The question as candidates saw it (type, stem, options,
number of blanks) must be unchanged, or re-scoring would judge answers to a different question;
such revisions affect future papers only. Each changed score is audited with before and after.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.models import ItemVersion, PaperSet, ReleaseItem, StoredPaper
from question_bank.schema import ItemContent

from .models import Attempt, AttemptAnswer, AttemptState
from .services import is_correct

SHOWN = ("type", "stem", "options", "translations")


def key_correction(old: ItemContent, new: ItemContent) -> bool:
    """True if only the scoring changed: the question shown is the same, the key is not."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    if any(a[k] != b[k] for k in SHOWN) or len(old.blanks) != len(new.blanks):
        return False
    return a["key"] != b["key"] or a["blanks"] != b["blanks"]


def rescore_after_approval(
    session: Session, actor: Actor, new: ItemVersion, old: ItemVersion | None
) -> int:
    """Listener for question_bank.review: re-score delivered answers after a key correction.
    Returns the number of attempts whose score changed."""
    if old is None:
        return 0
    old_c, new_c = ItemContent.model_validate(old.content), ItemContent.model_validate(new.content)
    if not key_correction(old_c, new_c):
        return 0
    papers = session.scalars(
        select(StoredPaper)
        .join(PaperSet, PaperSet.id == StoredPaper.paper_set_id)
        .join(ReleaseItem, ReleaseItem.release_id == PaperSet.release_id)
        .where(ReleaseItem.item_version_id == old.id)
    ).all()
    changed = 0
    for paper in papers:
        positions = [
            n for n, it in enumerate(paper.items, start=1) if int(it["version_id"]) == old.id
        ]
        if not positions:
            continue
        attempts = session.scalars(
            select(Attempt).where(
                Attempt.paper_id == paper.id, Attempt.state == AttemptState.SUBMITTED
            )
        ).all()
        for a in attempts:
            before = a.score or Decimal(0)
            for pos in positions:
                item = paper.items[pos - 1]
                row = session.get(AttemptAnswer, (a.id, pos))
                if row is None or row.response is None:
                    continue
                points = Decimal(str(item["points"]))
                row.points = points if is_correct(new_c, item, row.response) else Decimal(0)
            total = sum(
                (r.points or Decimal(0))
                for r in session.scalars(
                    select(AttemptAnswer).where(AttemptAnswer.attempt_id == a.id)
                )
            )
            if total != before:
                a.score = total
                changed += 1
                record(
                    session,
                    actor,
                    "attempt.rescored",
                    "attempt",
                    a.id,
                    reason=f"key of {new.item.code} corrected in version {new.number}",
                    data={
                        "item": new.item.code,
                        "from_version": old.number,
                        "to_version": new.number,
                        "before": str(before),
                        "after": str(total),
                    },
                )
    session.flush()
    return changed
