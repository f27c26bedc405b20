"""The server's garbage-collector policy (exam_server/gc_policy.py): long full collections
during an exam freeze the surviving heap; cycles frozen with it are reclaimed once nobody is
connected. Runs in the test process, which is restored afterwards."""

from __future__ import annotations

import gc
import weakref

import pytest

from exam_server import gc_policy


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.setattr(gc_policy, "LONG_PAUSE_MS", -1.0)  # every full collection is "long"
    monkeypatch.setattr(
        gc_policy,
        "_state",
        {"began": 0.0, "long_full": False, "exam_frozen": False, "freezes": 0, "thaws": 0},
    )
    yield gc_policy
    if gc_policy._watch in gc.callbacks:
        gc.callbacks.remove(gc_policy._watch)
    gc.unfreeze()
    gc.collect()


def test_a_long_full_collection_freezes_the_heap_and_an_empty_process_thaws_it(policy):
    policy.install()
    assert gc.get_freeze_count() > 0
    assert policy.tick(connected=10) is None  # no full collection yet
    cycle = Node()
    ref = weakref.ref(cycle)
    gc.collect()  # a full collection, "long"
    assert policy.tick(connected=10) == "froze"
    assert policy.tick(connected=10) is None  # once per long collection
    del cycle
    gc.collect()
    assert ref() is not None  # frozen: full collections skip it
    assert policy.tick(connected=0) == "thawed"
    assert ref() is None  # reclaimed once nobody was connected
    assert policy.tick(connected=0) is None
    assert policy.stats()["freezes"] == 1 and policy.stats()["thaws"] == 1


def test_without_candidates_nothing_is_frozen(policy):
    policy.install()
    base = gc.get_freeze_count()
    gc.collect()
    assert policy.tick(connected=0) is None
    assert gc.get_freeze_count() == base
