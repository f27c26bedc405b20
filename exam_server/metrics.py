"""Per-process counters of the live path: events handled and the SQL statements they ran.

Operators and the benchmarks read them (``GET /api/v1/ops/metrics``, administrators only) to
check rules like "a heartbeat costs no SQL statement" on a running server, not only in tests.
Counting is cheap: one dict update per event and one per statement. The statement counter is a
SQLAlchemy ``before_cursor_execute`` listener that charges the statement to the event running
in the current greenlet or thread (a context variable; gevent gives every greenlet its own
context).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import gc_policy

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "exam_metrics_event", default=None
)
_lock = threading.Lock()
_events: Counter[str] = Counter()
_statements: Counter[str] = Counter()
_counters: Counter[str] = Counter()
_started = time.time()
_installed: set[int] = set()
# Garbage-collector pauses per generation: count, total and longest (ms). A pause stops every
# greenlet of the process, so long ones show as latency of every event at once.
_gc: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
_gc_began = 0.0


def _gc_timer(phase: str, info: dict[str, Any]) -> None:
    global _gc_began
    if phase == "start":
        _gc_began = time.perf_counter()
        return
    ms = (time.perf_counter() - _gc_began) * 1000
    entry = _gc.get(info.get("generation", 2))
    if entry is not None:
        entry[0] += 1
        entry[1] += ms
        entry[2] = max(entry[2], ms)


if _gc_timer not in gc.callbacks:
    gc.callbacks.append(_gc_timer)


def install(engine: Engine) -> None:
    """Count the statements this engine runs (once per engine)."""
    if id(engine) in _installed:
        return
    _installed.add(id(engine))

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        _statements[_current.get() or "other"] += 1


@contextlib.contextmanager
def track(name: str) -> Iterator[None]:
    """Charge the statements run inside to ``name`` and count one ``name`` event."""
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)
        _events[name] += 1


def add(name: str, n: int = 1) -> None:
    """Count something that is not an event (e.g. ``save_groups``: transactions of saves)."""
    with _lock:
        _counters[name] += n


def snapshot() -> dict[str, Any]:
    """Counters since the process started (or since :func:`reset`)."""
    with _lock:
        events, statements, counters = dict(_events), dict(_statements), dict(_counters)
    cpu = os.times()
    return {
        "pid": os.getpid(),
        "since": _started,
        "cpu_seconds": round(cpu.user + cpu.system, 3),
        "events": events,
        "sql_statements": statements,
        "counters": counters,
        "gc": {
            str(gen): {"count": int(c), "total_ms": round(t, 1), "max_ms": round(m, 1)}
            for gen, (c, t, m) in _gc.items()
        },
        "gc_policy": gc_policy.stats(),
    }


def reset() -> None:
    global _started
    with _lock:
        _events.clear()
        _statements.clear()
        _counters.clear()
        for entry in _gc.values():
            entry[:] = [0, 0.0, 0.0]
        _started = time.time()
