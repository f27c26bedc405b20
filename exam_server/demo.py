"""Demo data: users, the electrician level-4 bank, review by a second person, a first release."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import select

from question_bank import releases, review, transfer
from question_bank.models import BankRelease, Item, ItemVersion, VersionStatus

from .extensions import db
from .models import Role, User

DEMO_USERS = [
    ("admin", "admin-demo-1", [Role.ADMIN]),
    ("editor", "editor-demo-1", [Role.EDITOR]),
    ("reviewer", "reviewer-demo-1", [Role.REVIEWER]),
    ("proctor", "proctor-demo-1", [Role.PROCTOR]),
    ("supervisor", "supervisor-demo-1", [Role.SUPERVISOR]),
]
DEMO_FILE = "demo_electrician_l4.json"


def demo_bank_bytes() -> bytes:
    return resources.files("question_bank.data").joinpath(DEMO_FILE).read_bytes()


def setup_demo() -> str:
    """Idempotent: creates what is missing and says what it did."""
    from .cli import create_user

    made = []
    for name, password, roles in DEMO_USERS:
        if db.session.scalar(select(User).where(User.username == name)) is None:
            create_user(name, password, roles, name.capitalize())
            made.append(name)
    users = {u.username: u for u in db.session.scalars(select(User))}
    editor, reviewer = users["editor"].actor, users["reviewer"].actor
    has_items = db.session.scalar(select(Item.id).limit(1)) is not None
    lines = []
    if not has_items:
        rep = transfer.import_bank(
            db.session, editor, demo_bank_bytes(), DEMO_FILE, reason="demo bank"
        )
        drafts = db.session.scalars(
            select(ItemVersion).where(ItemVersion.status == VersionStatus.DRAFT)
        ).all()
        for v in drafts:
            review.transition(db.session, editor, v, "submit")
            review.transition(db.session, reviewer, v, "approve", "demo review")
        occ_code, level = rep.occupation, rep.level
        from question_bank.knowledge import get_occupation

        occ = get_occupation(db.session, occ_code)
        rel = releases.create_release(db.session, editor, occ, level, "R1", note="demo release")
        lines.append(
            f"demo bank: {len(rep.created)} items of {occ_code} level {level}, "
            f"approved by 'reviewer', release R1 ({rel.item_count} items)"
        )
    else:
        n_rel = len(db.session.scalars(select(BankRelease.id)).all())
        lines.append(f"demo bank already loaded ({n_rel} releases)")
    if made:
        lines.append(f"created users: {', '.join(made)}")
    return "\n".join(lines)
