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
DEMO_BLUEPRINT = {
    "sections": [
        {"type": "true_false", "count": 10, "points": 1, "quota_depth": 1, "title": "一、判断题"},
        {
            "type": "single_choice",
            "count": 20,
            "points": 2,
            "quota_depth": 1,
            "title": "二、单项选择题",
        },
        {
            "type": "multiple_choice",
            "count": 5,
            "points": 4,
            "quota_depth": 1,
            "title": "三、多项选择题",
        },
        {
            "type": "fill_blank",
            "count": 3,
            "points": 10,
            "quotas": {"A": 1, "B": 2},
            "title": "四、填空题",
        },
    ],
    "duration_minutes": 90,
    "earliest_submit_minutes": 0,
    "difficulty": {"tolerance": 0.02},
}
DEMO_CANDIDATES = ["张伟", "王芳", "李娜", "刘洋", "陈静"]
DEMO_SESSION_NAME = "演示场次：电工四级理论"


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


DEMO_CALIBRATION_LABEL = "演示校准（模拟作答，2PL）"


def calibrate_demo_bank(n_candidates: int = 600, seed: int = 2026) -> str:
    """Give the demo release IRT estimates through the real analysis path: simulated answers
    of ``n_candidates`` people (2PL, slopes 0.6-1.8, locations from each item's difficulty)
    uploaded as an export and analysed with the 2PL. Idempotent (once per demo release)."""
    import csv
    import io

    import numpy as np

    from question_bank.assembly.pool import ItemPool
    from question_bank.releases import release_versions
    from question_bank.statistics import AnalysisRun, analyze_upload

    if db.session.scalar(select(AnalysisRun.id).where(AnalysisRun.label == DEMO_CALIBRATION_LABEL)):
        return "demo calibration already done"
    release = db.session.scalar(select(BankRelease).order_by(BankRelease.id))
    if release is None:
        return "no demo release to calibrate"
    editor = db.session.scalar(select(User).where(User.username == "editor")).actor
    versions = sorted(release_versions(db.session, release), key=lambda v: v.item.code)
    pool = ItemPool.from_items(
        ((v.id, v.item.code, v.content) for v in versions), [], name="demo", content_hash="-"
    )
    rng = np.random.default_rng(seed)
    _, b = pool.item_parameters
    a = rng.uniform(0.6, 1.8, len(versions))
    theta = rng.normal(size=n_candidates)
    right = rng.random((n_candidates, len(versions))) < 1 / (
        1 + np.exp(-a[None, :] * (theta[:, None] - b[None, :]))
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["candidate", *(v.item.code for v in versions)])
    for i in range(n_candidates):
        row = [f"SIM{i:04d}"]
        for j, v in enumerate(versions):
            c = v.content
            key = "".join(c.get("key") or [])
            labels = "".join(o["label"] for o in c.get("options") or [])
            if c["type"] == "fill_blank":
                row.append(str(c.get("points", 1)) if right[i, j] else "0")
            elif c["type"] == "true_false":
                row.append(key if right[i, j] else ("F" if key == "T" else "T"))
            elif right[i, j]:
                row.append(key)
            elif c["type"] == "multiple_choice":
                wrong = key[:-1] if len(key) > 1 else key + next(x for x in labels if x not in key)
                row.append(wrong)
            else:
                row.append(str(rng.choice([x for x in labels if x != key])))
        writer.writerow(row)
    run = analyze_upload(
        db.session,
        editor,
        out.getvalue().encode("utf-8"),
        "demo-calibration.csv",
        occupation_id=release.occupation_id,
        level=release.level,
        release=release,
        irt="2pl",
        label=DEMO_CALIBRATION_LABEL,
    )
    return f"demo calibration: analysis run {run.id} gave {len(versions)} items 2PL estimates"


def _resident_id(seq: int) -> str:
    from .sessions.idcard import check_char

    first17 = f"11010519900101{seq:03d}"
    return first17 + check_char(first17)


def setup_demo_session(now) -> tuple[str, str, list[tuple[str, str, str]]]:
    """A fresh demo session that candidates can sit at once: window start (each candidate
    starts their own 90 minutes within the next 24 hours), five approved candidates, papers
    assembled. Returns (session code, room access code, [(name, ticket, ID number)])."""
    from question_bank.blueprints import create_blueprint, get_blueprint, parse_spec
    from question_bank.errors import NotFound
    from question_bank.knowledge import get_occupation

    from .sessions import registrations as reg_svc
    from .sessions import services as session_svc
    from .sessions.models import Eligibility
    from .sessions.schemas import RegistrationIn, RoomIn, SessionIn

    admin = db.session.scalar(select(User).where(User.username == "admin")).actor
    editor = db.session.scalar(select(User).where(User.username == "editor")).actor
    occ = get_occupation(db.session, "6-31-01-03")
    release = db.session.scalar(
        select(BankRelease)
        .where(BankRelease.occupation_id == occ.id)
        .order_by(BankRelease.id.desc())
    )
    try:
        bp = get_blueprint(db.session, "E4-DEMO")
        version = bp.versions[-1]
    except NotFound:
        version = create_blueprint(
            db.session,
            editor,
            occ,
            4,
            "E4-DEMO",
            "电工四级理论（演示）",
            parse_spec(DEMO_BLUEPRINT),
        )
    from .sessions.models import ExamSession, Registration, SessionState

    # Reuse the newest demo session while candidates can still start in it.
    current = db.session.scalar(
        select(ExamSession)
        .where(ExamSession.name == DEMO_SESSION_NAME, ExamSession.state == SessionState.OPEN)
        .order_by(ExamSession.id.desc())
    )
    if current is not None and current.window_end is not None and current.window_end > now:
        regs = db.session.scalars(
            select(Registration)
            .where(Registration.session_id == current.id)
            .order_by(Registration.seat)
        ).all()
        return (
            current.code,
            current.rooms[0].access_code,
            [(r.candidate_name, r.ticket_number, r.id_number) for r in regs],
        )
    code = "D" + now.strftime("%y%m%d%H%M%S")
    es = session_svc.create_session(
        db.session,
        admin,
        SessionIn(
            code=code,
            name="演示场次：电工四级理论",
            occupation=occ.code,
            level=4,
            scheduled_start=now,
            duration_minutes=90,
            late_entry_minutes=15,
            earliest_submit_minutes=0,
            start_mode="window",
            start_window_minutes=24 * 60,
            release_id=release.id,
            blueprint_version_id=version.id,
            rooms=[RoomIn(name="第一考场", capacity=30)],
        ),
    )
    candidates, regs = [], []
    for i, name in enumerate(DEMO_CANDIDATES, start=1):
        reg = reg_svc.add_registration(
            db.session,
            admin,
            es,
            RegistrationIn(candidate_name=name, id_number=_resident_id(i), room="第一考场"),
        )
        candidates.append((name, reg.ticket_number, reg.id_number))
        regs.append(reg)
    reg_svc.set_eligibility(db.session, admin, es, regs, Eligibility.APPROVED, "demo", now=now)
    # The demo proctor watches the room (the proctor console: /proctor/sessions/<id>).
    session_svc.assign_proctors(db.session, admin, es.rooms[0], ["proctor"], "demo")
    session_svc.transition(db.session, admin, es, "open", now=now, reason="demo")
    return code, es.rooms[0].access_code, candidates
