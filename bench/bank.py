"""Question-bank benchmark: xlsx import, release creation, filtered item pages.

Targets (issue: foundation and question bank):
  * importing a 5,000-item xlsx                      < 15 s
  * creating a release of 10,000 approved versions   < 5 s
  * a filtered page of 50 items out of 50,000 item versions, p95 < 100 ms
on SQLite and on PostgreSQL.

Reproduce:  .venv/bin/python -m bench.bank [--backend sqlite|postgres|both] [--pg-url URL]
The PostgreSQL run creates and drops its own database on the server named by --pg-url.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text, update

from exam_server import create_app
from exam_server.cli import upgrade_database
from exam_server.extensions import db
from exam_server.models import User
from question_bank.audit import Actor
from question_bank.formats import xlsx
from question_bank.knowledge import get_occupation
from question_bank.models import Item, ItemVersion, VersionStatus
from question_bank.releases import create_release
from question_bank.synthetic import synthetic_bank, synthetic_drafts
from question_bank.transfer import import_bank

ACTOR = Actor(None, "bench")
QUERIES = [
    "status=approved",
    "type=single_choice&difficulty_min=0.3&difficulty_max=0.7",
    "text=合成题",
    "knowledge_point=A",
    "tag=计算&type=multiple_choice",
    "page=37",
    "occupation={occ}&level=3&status=draft&type=true_false",
    "difficulty_min=0.9",
]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def run(url: str, label: str, tmp: Path) -> dict:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "LOGIN_RATE_PER_MINUTE": 10**6,
        }
    )
    out: dict = {"backend": label}
    with app.app_context():
        upgrade_database()
        # 1. A 5,000-item xlsx, as an appraisal centre would send it.
        bank = synthetic_bank(5000, 30, seed=11, occupation_code="9-99-99-01", level=3)
        tree_doc = json.dumps({**bank, "items": []}, ensure_ascii=False).encode()
        import_bank(db.session, ACTOR, tree_doc, "tree.json")
        db.session.commit()
        drafts = synthetic_drafts(5000, 30, seed=11, occupation_code="9-99-99-01", level=3)
        book = xlsx.dump(drafts)
        t = time.perf_counter()
        rep = import_bank(db.session, ACTOR, book, "bank.xlsx", occupation="9-99-99-01", level=3)
        db.session.commit()
        out["xlsx_import_5000_s"] = time.perf_counter() - t
        assert len(rep.created) == 5000
        print(
            f"[{label}] xlsx import, 5,000 items ({len(book) / 1e6:.1f} MB): "
            f"{out['xlsx_import_5000_s']:.2f} s (target < 15 s)"
        )

        # 2. A release of 10,000 approved versions.
        big = synthetic_bank(10000, 30, seed=12, occupation_code="9-99-99-02", level=3)
        import_bank(db.session, ACTOR, json.dumps(big, ensure_ascii=False).encode(), "big.json")
        db.session.commit()
        occ = get_occupation(db.session, "9-99-99-02")
        db.session.execute(
            update(ItemVersion)
            .where(ItemVersion.item_id.in_(select(Item.id).where(Item.occupation_id == occ.id)))
            .values(status=VersionStatus.APPROVED)
        )
        db.session.commit()
        t = time.perf_counter()
        rel = create_release(db.session, ACTOR, occ, 3, "R-bench")
        db.session.commit()
        out["release_10000_s"] = time.perf_counter() - t
        assert rel.item_count == 10000
        print(
            f"[{label}] release of 10,000 approved versions: {out['release_10000_s']:.2f} s "
            f"(target < 5 s)"
        )

        # 3. 50,000 item versions: add versions to the 10,000 items (setup, not timed).
        rows = (
            db.session.execute(
                select(ItemVersion).where(
                    ItemVersion.item_id.in_(select(Item.id).where(Item.occupation_id == occ.id))
                )
            )
            .scalars()
            .all()
        )
        extra = []
        for n in range(2, 6):
            for v in rows:
                extra.append(
                    {
                        "item_id": v.item_id,
                        "number": n,
                        "status": VersionStatus.DRAFT,
                        "is_latest": n == 5,
                        "type": v.type,
                        "knowledge_point_id": v.knowledge_point_id,
                        "difficulty": max(0.0, min(1.0, v.difficulty - 0.01 * n)),
                        "points": v.points,
                        "stem_text": v.stem_text + f" (修订 {n})",
                        "tags": v.tags,
                        "content": v.content,
                        "content_hash": uuid.uuid4().hex * 2,
                        "author_id": None,
                        "created_at": v.created_at,
                        "change_note": "bench",
                    }
                )
        for start in range(0, len(extra), 5000):
            db.session.execute(insert(ItemVersion), extra[start : start + 5000])
        db.session.execute(
            update(Item).where(Item.occupation_id == occ.id).values(latest_version=5)
        )
        db.session.execute(
            update(ItemVersion)
            .where(ItemVersion.number == 1, ItemVersion.id.in_([v.id for v in rows]))
            .values(is_latest=False)
        )
        db.session.commit()
        total_versions = db.session.scalar(select(db.func.count()).select_from(ItemVersion))
        out["item_versions"] = total_versions

        user = User(username="bench-editor")
        user.roles = ["editor"]
        user.set_password("bench-password")
        db.session.add(user)
        db.session.commit()
        del rows, extra
        db.session.remove()  # measure requests as they run in production: a fresh session
        client = app.test_client()
        token = client.post(
            "/api/auth/token", json={"username": "bench-editor", "password": "bench-password"}
        ).get_json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        timings: dict[str, list[float]] = {}
        for _round in range(25):
            for q in QUERIES:
                q = q.format(occ="9-99-99-02")
                t = time.perf_counter()
                resp = client.get(f"/api/items?per_page=50&{q}", headers=headers)
                timings.setdefault(q, []).append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.get_json()
        everything = sorted(x for xs in timings.values() for x in xs)
        p95 = everything[int(0.95 * len(everything)) - 1]
        out["search_p50_ms"] = statistics.median(everything) * 1000
        out["search_p95_ms"] = p95 * 1000
        print(
            f"[{label}] filtered page of 50 from {total_versions:,} item versions, "
            f"{len(everything)} requests over {len(QUERIES)} filters: "
            f"p50 {_ms(statistics.median(everything))}, p95 {_ms(p95)} (target p95 < 100 ms)"
        )
        for q, xs in timings.items():
            xs.sort()
            print(f"    {q:60s} p50 {_ms(statistics.median(xs))}  max {_ms(xs[-1])}")
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("sqlite", "both"):
            results.append(run(f"sqlite:///{tmp}/bench.sqlite", "sqlite", Path(tmp)))
        if args.backend in ("postgres", "both"):
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            name = f"exam_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = admin.url.set(database=name).render_as_string(hide_password=False)
                results.append(run(url, "postgres", Path(tmp)))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps(results, indent=2))
    print("reproduce: .venv/bin/python -m bench.bank --backend", args.backend)


if __name__ == "__main__":
    main()
