"""Presence: the in-memory and the Redis implementation pass the same test; Redis going away
never raises."""

from __future__ import annotations

import logging
import uuid

import pytest

from exam_server.proctoring.presence import MemoryPresence, RedisPresence, SeatPresence
from tests.conftest import service_missing
from tests.live_support import free_port

REDIS_URL = "redis://127.0.0.1:6379/15"
T = 1_780_000_000.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def presence(request):
    if request.param == "memory":
        yield MemoryPresence()
        return
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        service_missing("Redis", f"{REDIS_URL}: {exc}")
    p = RedisPresence(REDIS_URL, prefix=f"exam-test-{uuid.uuid4().hex[:8]}:")
    yield p
    p.clear()


def test_connect_heartbeat_disconnect_and_rule_state(presence):
    assert presence.get_many([1, 2]) == {}
    assert (
        presence.connect(
            1, sid="s1", device="dev-a", ip="10.0.0.1", ua="Firefox", process="p1", now=T
        )
        is None
    )
    rec = presence.get_many([1, 2])[1]
    assert isinstance(rec, SeatPresence)
    assert (rec.sid, rec.device, rec.ip, rec.ua, rec.process) == (
        "s1",
        "dev-a",
        "10.0.0.1",
        "Firefox",
        "p1",
    )
    assert rec.connected and rec.connected_at == T and rec.last_beat == T
    assert rec.fresh(T + 20, 20) and not rec.fresh(T + 21, 20)

    beat = {"visible": False, "focused": True, "fullscreen": True, "client_time": T * 1000 - 250}
    rec = presence.heartbeat(1, "s1", beat, T + 5)
    assert rec.last_beat == T + 5 and rec.visible is False and rec.fullscreen is True
    assert rec.clock_offset_ms == 5250.0  # server 5 s later, client 250 ms behind at T

    presence.save_rules(1, {"leaves": [T], "ip": "10.0.0.1"})
    assert presence.get_many([1])[1].rules == {"leaves": [T], "ip": "10.0.0.1"}

    # A reconnection returns the previous record and keeps the rule state.
    prev = presence.connect(
        1, sid="s2", device="dev-a", ip="10.0.0.2", ua="Firefox", process="p2", now=T + 9
    )
    assert prev.sid == "s1" and prev.last_beat == T + 5 and prev.rules["leaves"] == [T]
    rec = presence.get_many([1])[1]
    assert rec.sid == "s2" and rec.ip == "10.0.0.2" and rec.rules["leaves"] == [T]
    assert rec.visible is None  # page state is unknown until the new connection beats

    # The old connection going away does not disconnect the new one.
    assert presence.disconnect(1, "s1", T + 10) is False
    assert presence.get_many([1])[1].connected
    assert presence.disconnect(1, "s2", T + 11) is True
    rec = presence.get_many([1])[1]
    assert not rec.connected and rec.last_beat == T + 9 and not rec.fresh(T + 12, 20)


def test_stale_seats_until_their_gap_is_recorded(presence):
    for reg, at in ((1, T), (2, T + 10), (3, T + 30)):
        presence.connect(reg, sid=f"s{reg}", device="d", ip="", ua="", process="p", now=at)
    presence.heartbeat(1, "s1", {}, T + 15)
    assert sorted(presence.stale(T + 20)) == [1, 2]
    presence.drop_beat(2)
    assert presence.stale(T + 20) == [1]
    presence.heartbeat(2, "s2", {}, T + 40)  # back: watched again
    assert sorted(presence.stale(T + 100)) == [1, 2, 3]
    presence.forget([3])
    assert presence.get_many([3]) == {} and 3 not in presence.stale(T + 100)


def test_a_heartbeat_without_a_record_creates_one(presence):
    # Redis restarted and lost everything: the next beat brings the seat back.
    rec = presence.heartbeat(5, "sx", {"visible": True}, T)
    assert rec.sid == "sx" and rec.connected and rec.last_beat == T and rec.visible is True
    assert presence.get_many([5])[5].sid == "sx"


def test_claims_and_stamps(presence):
    assert presence.claim("room-outage:1:100", 60) is True
    assert presence.claim("room-outage:1:100", 60) is False
    assert presence.claim("room-outage:1:101", 60) is True
    assert presence.touch_room(7, T) is None
    assert presence.touch_room(7, T + 5) == T
    assert presence.touch_room(8, T + 6) is None
    assert presence.server_alive(T) is None and presence.server_alive(T + 1) == T
    assert presence.read_stamp("outage-end") is None
    assert (
        presence.stamp("outage-end", T + 2) is None and presence.read_stamp("outage-end") == T + 2
    )


def test_redis_presence_survives_redis_being_unreachable(caplog):
    port = free_port()  # nothing listens there
    p = RedisPresence(f"redis://127.0.0.1:{port}/0")
    with caplog.at_level(logging.WARNING, logger="exam_server.proctoring.presence"):
        assert p.connect(1, sid="s", device="d", ip="", ua="", process="p", now=T) is None
        rec = p.heartbeat(1, "s", {"visible": True, "client_time": T * 1000}, T)
        assert rec.registration_id == 1 and rec.last_beat == T and rec.visible is True
        assert p.disconnect(1, "s", T) is False
        assert p.get_many([1]) == {}
        assert p.stale(T) == []
        assert p.claim("x", 10) is False  # unknown: never do a once-only thing twice
        assert p.touch_room(1, T) is None and p.server_alive(T) is None
        p.save_rules(1, {"a": 1})
        p.drop_beat(1)
        p.forget([1])
    outage_logs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage_logs) == 1  # logged once per outage, not per call
