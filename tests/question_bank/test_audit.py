"""The hash-chained audit log: append-only in the database, and tampering is detected."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from exam_server.cli import audit_verify
from question_bank.audit import Actor, AuditEvent, record, verify_chain


def _fill(session, n: int = 5) -> None:
    for i in range(n):
        record(
            session,
            Actor(None, "tester"),
            "thing.changed",
            "thing",
            i,
            reason=f"because {i}",
            data={"i": i, "名": "值"},
        )
    session.commit()


@pytest.fixture
def tamper(session):
    """Simulate someone with database superuser rights: switch the protecting triggers off.

    The PostgreSQL database is shared by the tests of a run, so the trigger is switched back on
    afterwards; each SQLite test has its own file.
    """
    pg = session.get_bind().dialect.name == "postgresql"

    def disable() -> None:
        if pg:
            session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
        else:
            session.execute(text("DROP TRIGGER audit_events_no_update"))
            session.execute(text("DROP TRIGGER audit_events_no_delete"))
        session.commit()

    yield disable
    session.rollback()
    if pg:
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
        session.commit()


def test_chain_verifies_and_links(app, session):
    _fill(session)
    rep = verify_chain(session)
    assert rep.ok and rep.events == 5
    events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert rep.head_hash == events[-1].hash


def test_database_refuses_update_and_delete(app, session):
    _fill(session, 2)
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE audit_events SET reason = 'x' WHERE seq = 1"))
        session.flush()
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    session.rollback()
    assert verify_chain(session).ok


def test_changed_event_is_named(app, session, tamper):
    _fill(session)
    tamper()
    session.execute(text("UPDATE audit_events SET reason = 'forged' WHERE seq = 3"))
    session.commit()
    rep = verify_chain(session)
    assert not rep.ok and rep.first_bad_seq == 3
    assert "changed" in rep.problem


def test_removed_event_is_named(app, session, tamper):
    _fill(session)
    tamper()
    session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    session.commit()
    rep = verify_chain(session)
    assert not rep.ok and rep.first_bad_seq == 3
    assert "removed" in rep.problem


def test_reordered_events_are_named(app, session, tamper):
    _fill(session)
    tamper()
    # Swap the seq numbers of events 2 and 4 (a reordering that keeps every row's own hash).
    session.execute(text("UPDATE audit_events SET seq = -2 WHERE seq = 2"))
    session.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
    session.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = -2"))
    session.commit()
    rep = verify_chain(session)
    assert not rep.ok and rep.first_bad_seq in (2, 4)


def test_truncated_tail_is_detected(app, session, tamper):
    _fill(session)
    tamper()
    session.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    session.commit()
    rep = verify_chain(session)
    assert not rep.ok and "end" in rep.problem


def test_cli_audit_verify(app, session, tamper):
    _fill(session)
    runner = app.test_cli_runner()
    result = runner.invoke(audit_verify)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 5 events" in result.output
    tamper()
    session.execute(text("UPDATE audit_events SET data = '{}' WHERE seq = 4"))
    session.commit()
    result = runner.invoke(audit_verify)
    assert result.exit_code == 1
    assert "BROKEN at seq 4" in result.output
