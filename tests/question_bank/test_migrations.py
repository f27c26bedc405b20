"""The Alembic migrations build exactly the schema the typed models declare, on SQLite and on
PostgreSQL (alembic's autogenerate comparison finds nothing to add, drop or alter)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from exam_server.extensions import db


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []
