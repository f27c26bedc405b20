"""Garbage-collector policy of a server process: keep full collections short during an exam.

CPython's full collection (generation 2) walks every container object the process holds and
stops every greenlet while it does. A server process in an exam holds a large, long-lived heap
(about a thousand connections with their engine.io, websocket and greenlet objects, the rendered
papers, the libraries), and the load benchmark measured full collections of 550–590 ms every
10–20 s at 2,000 candidates: every event in flight waited for them, which was most of the save
latency's tail (bench/load.py prints the pauses per process).

The policy (server processes only; installed by :func:`live.start_sweeper`):

* at start, the objects of the loaded application are frozen (``gc.freeze``: moved to the
  permanent generation, which collections skip);
* when a full collection took longer than ``LONG_PAUSE_MS`` while candidates are connected,
  the next sweeper pass collects the young generations and freezes what is left: the objects
  that survived a full collection moments ago, i.e. the live long-lived heap. Later full
  collections walk only what was allocated since;
* frozen objects that become garbage are still freed by reference counting; only reference
  cycles among them wait, until no candidate is connected to the process any more (an exam
  ended): then the permanent generation is thawed and one full collection reclaims them, at a
  moment when a pause harms no one.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)
LONG_PAUSE_MS = 50.0

_state = {"began": 0.0, "long_full": False, "exam_frozen": False, "freezes": 0, "thaws": 0}


def _watch(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _state["began"] = time.perf_counter()
    elif (time.perf_counter() - _state["began"]) * 1000 > LONG_PAUSE_MS:
        _state["long_full"] = True


def install() -> None:
    """Freeze what the application loaded and watch full collections (once per process)."""
    if _watch in gc.callbacks:
        return
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_watch)


def tick(connected: int) -> str | None:
    """One step of the policy (the sweeper calls it every pass with the number of candidates
    connected to this process). Returns what it did: ``"froze"``, ``"thawed"`` or None."""
    if _watch not in gc.callbacks:
        return None
    if connected and _state["long_full"]:
        _state["long_full"] = False
        gc.collect(1)  # young garbage is not frozen with the survivors
        gc.freeze()
        _state["exam_frozen"] = True
        _state["freezes"] += 1
        log.info("gc: froze %d long-lived objects", gc.get_freeze_count())
        return "froze"
    if not connected and _state["exam_frozen"]:
        gc.unfreeze()
        gc.collect()
        gc.freeze()  # the application's own objects again, as at start
        _state["exam_frozen"] = False
        _state["thaws"] += 1
        _state["long_full"] = False
        return "thawed"
    return None


def stats() -> dict[str, int]:
    return {
        "frozen_objects": gc.get_freeze_count(),
        "freezes": _state["freezes"],
        "thaws": _state["thaws"],
    }
