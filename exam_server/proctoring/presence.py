"""Presence of candidates' seats: connection, last heartbeat, address, browser, page state and
the seat's rule state. Kept in Redis (``REDIS_URL``, shared by every server process) or, when
embedded, in this process's memory. Never SQL: a heartbeat costs no database statement.

Every method takes the current time from its caller (epoch seconds, server time).

Redis layout (prefix ``PRESENCE_PREFIX``, default ``exam:``): hash ``p:{reg}`` per seat,
sorted set ``beats`` (member registration id, score its last beat; a seat leaves it when its
disconnection is recorded, see :meth:`Presence.drop_beat`), ``room-contact:{room}`` (last
heartbeat of anyone in the room), ``alive`` (last sweep of any server process), ``claim:{key}``.

Every Redis call is guarded: when Redis is unreachable the call logs once per outage, returns a
neutral value (``None``, ``False``, ``{}``, ``[]``, or for :meth:`heartbeat` a record built from
the beat alone) and the caller goes on. redis-py reconnects by itself on a later call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

log = logging.getLogger(__name__)

# Hash fields, kept short (there is one hash per seat and one write per heartbeat).
STAMP_TTL = 24 * 3600


@dataclass
class SeatPresence:
    """What the server knows of one seat's connection (times are epoch seconds)."""

    registration_id: int
    sid: str = ""
    device: str = ""
    process: str = ""
    connected: bool = False
    connected_at: float | None = None
    last_beat: float | None = None
    ip: str = ""
    ua: str = ""
    clock_offset_ms: float | None = None  # server time - client time
    visible: bool | None = None
    focused: bool | None = None
    fullscreen: bool | None = None
    rules: dict[str, Any] = field(default_factory=dict)  # the seat's rule state (rules.py)

    def fresh(self, now: float, gap_seconds: float) -> bool:
        """Connected, with a heartbeat within ``gap_seconds``."""
        return self.connected and self.last_beat is not None and now - self.last_beat <= gap_seconds

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("rules")
        return d


def _beat_fields(beat: dict[str, Any], now: float) -> dict[str, Any]:
    """The presence fields a heartbeat payload sets."""
    out: dict[str, Any] = {"last_beat": now, "connected": True}
    for key in ("visible", "focused", "fullscreen"):
        if isinstance(beat.get(key), bool):
            out[key] = beat[key]
    client = beat.get("client_time")
    if isinstance(client, (int, float)) and not isinstance(client, bool):
        out["clock_offset_ms"] = round(now * 1000 - float(client), 1)
    return out


class Presence:
    """The interface both implementations follow (see docs/proctoring.md, "Presence")."""

    def connect(
        self, reg_id: int, *, sid: str, device: str, ip: str, ua: str, process: str, now: float
    ) -> SeatPresence | None:
        """Mark the seat connected through ``sid``; returns the previous record (or None).
        The rule state survives; the connection counts as a beat."""
        raise NotImplementedError

    def disconnect(self, reg_id: int, sid: str, now: float) -> bool:
        """Mark the seat not connected if ``sid`` is its current connection (else False: a
        newer connection took over). The last beat is kept, so a gap is still detected."""
        raise NotImplementedError

    def heartbeat(self, reg_id: int, sid: str, beat: dict[str, Any], now: float) -> SeatPresence:
        """Record a heartbeat; returns the updated record."""
        raise NotImplementedError

    def get_many(self, reg_ids: list[int]) -> dict[int, SeatPresence]:
        """Records of the seats that have one."""
        raise NotImplementedError

    def stale(self, before: float) -> list[int]:
        """Seats whose last beat is older than ``before`` and whose gap is not recorded yet."""
        raise NotImplementedError

    def drop_beat(self, reg_id: int) -> None:
        """Take the seat out of :meth:`stale` until its next beat (its gap is recorded)."""
        raise NotImplementedError

    def claim(self, key: str, ttl: float) -> bool:
        """True for exactly one caller (in every process) until ``ttl`` seconds pass."""
        raise NotImplementedError

    def save_rules(self, reg_id: int, state: dict[str, Any]) -> None:
        """Store the seat's rule state."""
        raise NotImplementedError

    def stamp(self, name: str, now: float) -> float | None:
        """Set the named time stamp to ``now``; returns the previous one."""
        raise NotImplementedError

    def read_stamp(self, name: str) -> float | None:
        raise NotImplementedError

    def forget(self, reg_ids: list[int]) -> None:
        """Delete the seats' records (an attempt that is over)."""
        raise NotImplementedError

    def touch_room(self, room_id: int, now: float) -> float | None:
        """Someone in the room is alive at ``now``; returns the previous contact."""
        return self.stamp(f"room-contact:{room_id}", now)

    def server_alive(self, now: float) -> float | None:
        """A server process swept at ``now``; returns the previous stamp (of any process)."""
        return self.stamp("alive", now)


class MemoryPresence(Presence):
    """Presence of the embedded server: one process, a dict under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seats: dict[int, SeatPresence] = {}
        self._beats: dict[int, float] = {}
        self._stamps: dict[str, float] = {}
        self._claims: dict[str, float] = {}

    def connect(
        self, reg_id: int, *, sid: str, device: str, ip: str, ua: str, process: str, now: float
    ) -> SeatPresence | None:
        with self._lock:
            prev = self._seats.get(reg_id)
            self._seats[reg_id] = SeatPresence(
                reg_id,
                sid=sid,
                device=device or "",
                process=process or "",
                connected=True,
                connected_at=now,
                last_beat=now,
                ip=ip or "",
                ua=ua or "",
                rules=dict(prev.rules) if prev else {},
            )
            self._beats[reg_id] = now
            return replace(prev, rules=dict(prev.rules)) if prev else None

    def disconnect(self, reg_id: int, sid: str, now: float) -> bool:
        with self._lock:
            rec = self._seats.get(reg_id)
            if rec is None or rec.sid != sid:
                return False
            rec.connected = False
            return True

    def heartbeat(self, reg_id: int, sid: str, beat: dict[str, Any], now: float) -> SeatPresence:
        with self._lock:
            rec = self._seats.get(reg_id)
            if rec is None:
                rec = self._seats[reg_id] = SeatPresence(reg_id, sid=sid, connected_at=now)
            elif not rec.sid:
                rec.sid = sid
            for key, value in _beat_fields(beat, now).items():
                setattr(rec, key, value)
            self._beats[reg_id] = now
            return replace(rec, rules=dict(rec.rules))

    def get_many(self, reg_ids: list[int]) -> dict[int, SeatPresence]:
        with self._lock:
            return {
                r: replace(self._seats[r], rules=dict(self._seats[r].rules))
                for r in reg_ids
                if r in self._seats
            }

    def stale(self, before: float) -> list[int]:
        with self._lock:
            return [r for r, t in self._beats.items() if t < before]

    def drop_beat(self, reg_id: int) -> None:
        with self._lock:
            self._beats.pop(reg_id, None)

    def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            self._claims[key] = now + ttl
            return True

    def save_rules(self, reg_id: int, state: dict[str, Any]) -> None:
        with self._lock:
            rec = self._seats.get(reg_id)
            if rec is None:
                rec = self._seats[reg_id] = SeatPresence(reg_id)
            rec.rules = dict(state)

    def stamp(self, name: str, now: float) -> float | None:
        with self._lock:
            prev = self._stamps.get(name)
            self._stamps[name] = now
            return prev

    def read_stamp(self, name: str) -> float | None:
        with self._lock:
            return self._stamps.get(name)

    def forget(self, reg_ids: list[int]) -> None:
        with self._lock:
            for r in reg_ids:
                self._seats.pop(r, None)
                self._beats.pop(r, None)


_BOOL = ("connected", "visible", "focused", "fullscreen")
_FLOAT = ("connected_at", "last_beat", "clock_offset_ms")
_STR = ("sid", "device", "process", "ip", "ua")

_DISCONNECT = """
if redis.call('HGET', KEYS[1], 'sid') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'connected', '0')
  return 1
end
return 0
"""


def _encode(fields: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in fields.items():
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif value is None:
            out[key] = ""
        elif key == "rules":
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def _decode(reg_id: int, raw: dict[str, str]) -> SeatPresence:
    rec = SeatPresence(reg_id)
    for key in _STR:
        if key in raw:
            setattr(rec, key, raw[key])
    for key in _BOOL:
        if raw.get(key) in ("0", "1"):
            setattr(rec, key, raw[key] == "1")
    for key in _FLOAT:
        if raw.get(key):
            with contextlib.suppress(ValueError):
                setattr(rec, key, float(raw[key]))
    if raw.get("rules"):
        try:
            rec.rules = json.loads(raw["rules"])
        except ValueError:
            rec.rules = {}
    return rec


class RedisPresence(Presence):
    """Presence shared by every server process through Redis."""

    def __init__(self, url: str, prefix: str = "exam:", *, client: Any = None) -> None:
        import redis

        self.url = url
        self.prefix = prefix
        self.redis = client or redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        self._errors = (redis.exceptions.RedisError, OSError)
        self._down = False
        self._disconnect = self.redis.register_script(_DISCONNECT)

    # -- guard -----------------------------------------------------------------------------

    def _call(self, what: str, fn, neutral):
        try:
            result = fn()
        except self._errors as exc:
            if not self._down:
                self._down = True
                log.warning("presence: Redis unreachable (%s: %s); going on without it", what, exc)
            return neutral
        if self._down:
            self._down = False
            log.warning("presence: Redis reachable again")
        return result

    def _seat(self, reg_id: int) -> str:
        return f"{self.prefix}p:{reg_id}"

    @property
    def _beats(self) -> str:
        return f"{self.prefix}beats"

    # -- interface -------------------------------------------------------------------------

    def connect(
        self, reg_id: int, *, sid: str, device: str, ip: str, ua: str, process: str, now: float
    ) -> SeatPresence | None:
        key = self._seat(reg_id)
        fields = _encode(
            {
                "sid": sid,
                "device": device or "",
                "process": process or "",
                "connected": True,
                "connected_at": now,
                "last_beat": now,
                "ip": ip or "",
                "ua": ua or "",
            }
        )

        def run():
            pipe = self.redis.pipeline()
            pipe.hgetall(key)
            pipe.hdel(key, "visible", "focused", "fullscreen", "clock_offset_ms")
            pipe.hset(key, mapping=fields)
            pipe.expire(key, STAMP_TTL)
            pipe.zadd(self._beats, {str(reg_id): now})
            prev = pipe.execute()[0]
            return _decode(reg_id, prev) if prev else None

        return self._call("connect", run, None)

    def disconnect(self, reg_id: int, sid: str, now: float) -> bool:
        return bool(
            self._call(
                "disconnect", lambda: self._disconnect(keys=[self._seat(reg_id)], args=[sid]), 0
            )
        )

    def heartbeat(self, reg_id: int, sid: str, beat: dict[str, Any], now: float) -> SeatPresence:
        key = self._seat(reg_id)
        fields = _beat_fields(beat, now)

        def run():
            # No MULTI/EXEC: the commands touch one seat's keys, and a heartbeat is hot.
            pipe = self.redis.pipeline(transaction=False)
            pipe.hsetnx(key, "sid", sid)
            pipe.hsetnx(key, "connected_at", str(now))
            pipe.hset(key, mapping=_encode(fields))
            pipe.expire(key, STAMP_TTL)
            pipe.zadd(self._beats, {str(reg_id): now})
            pipe.hgetall(key)
            return _decode(reg_id, pipe.execute()[-1])

        neutral = SeatPresence(reg_id, sid=sid, connected_at=now)
        for k, v in fields.items():
            setattr(neutral, k, v)
        return self._call("heartbeat", run, neutral)

    def get_many(self, reg_ids: list[int]) -> dict[int, SeatPresence]:
        ids = list(reg_ids)
        if not ids:
            return {}

        def run():
            pipe = self.redis.pipeline(transaction=False)
            for r in ids:
                pipe.hgetall(self._seat(r))
            return {r: _decode(r, raw) for r, raw in zip(ids, pipe.execute(), strict=True) if raw}

        return self._call("get_many", run, {})

    def stale(self, before: float) -> list[int]:
        def run():
            members = self.redis.zrangebyscore(self._beats, "-inf", f"({before}")
            return [int(m) for m in members]

        return self._call("stale", run, [])

    def drop_beat(self, reg_id: int) -> None:
        self._call("drop_beat", lambda: self.redis.zrem(self._beats, str(reg_id)), None)

    def claim(self, key: str, ttl: float) -> bool:
        def run():
            ms = max(1, int(ttl * 1000))
            return bool(self.redis.set(f"{self.prefix}claim:{key}", "1", nx=True, px=ms))

        # Unknown whether another process did it: do not risk doing it twice.
        return self._call("claim", run, False)

    def save_rules(self, reg_id: int, state: dict[str, Any]) -> None:
        key = self._seat(reg_id)

        def run():
            pipe = self.redis.pipeline()
            pipe.hset(key, "rules", json.dumps(state, separators=(",", ":")))
            pipe.expire(key, STAMP_TTL)
            pipe.execute()

        self._call("save_rules", run, None)

    def stamp(self, name: str, now: float) -> float | None:
        key = f"{self.prefix}{name}"

        def run():
            prev = self.redis.set(key, str(now), ex=STAMP_TTL, get=True)  # SET … GET: one trip
            return float(prev) if prev else None

        return self._call("stamp", run, None)

    def read_stamp(self, name: str) -> float | None:
        def run():
            value = self.redis.get(f"{self.prefix}{name}")
            return float(value) if value else None

        return self._call("read_stamp", run, None)

    def forget(self, reg_ids: list[int]) -> None:
        ids = list(reg_ids)
        if not ids:
            return

        def run():
            pipe = self.redis.pipeline()
            pipe.delete(*[self._seat(r) for r in ids])
            pipe.zrem(self._beats, *[str(r) for r in ids])
            pipe.execute()

        self._call("forget", run, None)

    def clear(self) -> None:
        """Delete every key under the prefix (tests)."""

        def run():
            keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=500))
            if keys:
                self.redis.delete(*keys)

        self._call("clear", run, None)


_lock = threading.Lock()


def get_presence(app: Any = None) -> Presence:
    """The app's presence (one per app, so one per server process): :class:`RedisPresence`
    when ``REDIS_URL`` is set, else :class:`MemoryPresence`. Tests may put their own in
    ``app.extensions["presence"]``. Without ``app``, the current app is used."""
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()
    found = app.extensions.get("presence")
    if found is not None:
        return found
    with _lock:
        found = app.extensions.get("presence")
        if found is None:
            url = app.config.get("REDIS_URL")
            prefix = app.config.get("PRESENCE_PREFIX") or "exam:"
            found = RedisPresence(url, prefix) if url else MemoryPresence()
            app.extensions["presence"] = found
        return found
