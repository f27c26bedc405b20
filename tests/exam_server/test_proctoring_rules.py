"""The integrity rules alone: pure functions, an injected clock (plain epoch seconds), no I/O."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from exam_server.proctoring import rules
from exam_server.proctoring.policy import IntegrityPolicy, parse_policy, policy_for

T = 1_780_000_000.0  # some moment, epoch seconds
P = IntegrityPolicy()


def leave(kind: str = "hidden", seconds: float = 5.0) -> dict:
    return {"kind": kind, "duration_ms": seconds * 1000, "client_time": 0}


def feed(policy, state, signals_at):
    """Run signals through on_signal, remembering ids as the services would."""
    all_drafts = []
    next_id = 100
    for at, signal in signals_at:
        state, drafts = rules.on_signal(policy, state, signal, at)
        for d in drafts:
            if not d.merge:
                next_id += 1
                state = rules.remember(state, d, next_id)
        all_drafts.append(drafts)
    return state, all_drafts


def test_defaults_match_the_design():
    assert P.hidden_min_seconds == 3 and P.leaves_high_count == 5
    assert P.leaves_window_minutes == 10 and P.heartbeat_gap_seconds == 20
    assert P.small_window_ratio == 0.5 and P.merge_minutes == 10
    assert P.pause_after_high is None and P.room_outage_seconds == 15
    assert parse_policy(None) == P


def test_policy_values_are_checked():
    with pytest.raises(ValidationError):
        parse_policy({"hidden_min_seconds": -1})
    with pytest.raises(ValidationError):
        parse_policy({"surprise": 1})

    es = SimpleNamespace(id=1, integrity_policy={"hidden_min_seconds": "many"})
    assert policy_for(es) == P  # a bad stored value falls back to the defaults


def test_hidden_for_three_seconds_or_less_is_ignored():
    state, drafts = rules.on_signal(P, {}, leave(seconds=3.0), T)
    assert drafts == [] and "leaves" not in state
    _state, drafts = rules.on_signal(P, {}, leave("blur", 0.4), T)
    assert drafts == []


def test_hidden_longer_than_three_seconds_counts_once():
    state, drafts = rules.on_signal(P, {}, leave(seconds=3.5), T)
    assert [(d.kind, d.severity, d.merge) for d in drafts] == [("left_page", "low", False)]
    assert drafts[0].event["seconds"] == 3.5 and drafts[0].event["leaves_in_window"] == 1
    # The window blurred for the same moment: the same leave, not a second one.
    state2, drafts = rules.on_signal(P, state, leave("blur", 3.6), T + 0.2)
    assert drafts == [] and len(state2["leaves"]) == 1


def test_a_report_without_a_duration_is_the_start_of_a_leave():
    state, drafts = rules.on_signal(P, {}, {"kind": "hidden"}, T)
    assert drafts == [] and state.get("leaves") is None


def test_the_fifth_leave_in_ten_minutes_is_high():
    signals = [(T + 60 * i, leave(seconds=4)) for i in range(5)]
    state, drafts = feed(P, {}, signals)
    severities = [d[0].severity for d in drafts]
    assert severities == ["low", "low", "low", "low", "high"]
    # The later ones merged into the first incident (within the merge window) ...
    assert [d[0].merge for d in drafts] == [False, True, True, True, True]
    assert state["highs"] == 1
    # ... and a leave after the window has slid counts from fewer again.
    _state, more = rules.on_signal(P, state, leave(seconds=4), T + 60 * 4 + 601)
    assert more[0].severity == "low" and more[0].event["leaves_in_window"] == 1


def test_leaves_spread_over_more_than_ten_minutes_stay_low():
    signals = [(T + 200 * i, leave(seconds=4)) for i in range(6)]
    _state, drafts = feed(P, {}, signals)
    assert all(d[0].severity == "low" for d in drafts)


def test_merge_window_joins_then_opens_a_new_incident():
    state, drafts = feed(
        P,
        {},
        [
            (T, {"kind": "copy"}),
            (T + 300, {"kind": "paste"}),  # same incident kind (clipboard), within 10 minutes
            (T + 300 + 601, {"kind": "copy"}),  # more than 10 minutes after the last one
        ],
    )
    assert [(d[0].kind, d[0].severity, d[0].merge) for d in drafts] == [
        ("clipboard", "medium", False),
        ("clipboard", "medium", True),
        ("clipboard", "medium", False),
    ]
    # A closed incident (the proctor dismissed it) is forgotten: the next one is new.
    state = rules.forget(state, "clipboard")
    _s, d = rules.on_signal(P, state, {"kind": "copy"}, T + 1000)
    assert d[0].merge is False


def test_simple_signal_kinds_and_severities():
    cases = {
        "fullscreen_exit": ("fullscreen_exit", "low"),
        "copy": ("clipboard", "medium"),
        "paste": ("clipboard", "medium"),
        "context_menu": ("context_menu", "low"),
        "second_screen": ("second_screen", "medium"),
        "small_window": ("small_window", "low"),
    }
    for signal, expected in cases.items():
        _s, drafts = rules.on_signal(P, {}, {"kind": signal}, T)
        assert [(d.kind, d.severity) for d in drafts] == [expected], signal
    assert rules.on_signal(P, {}, {"kind": "telepathy"}, T)[1] == []


def test_small_window_uses_the_ratio_of_the_screen():
    small = {"width": 900, "height": 500, "screen_width": 1920, "screen_height": 1080}
    large = {"width": 1800, "height": 1000, "screen_width": 1920, "screen_height": 1080}
    _s, drafts = rules.on_signal(P, {}, {"kind": "small_window", "detail": large}, T)
    assert drafts == []  # the client thought so, the sizes say otherwise
    _s, drafts = rules.on_signal(P, {}, {"kind": "small_window", "detail": small}, T)
    assert drafts[0].kind == "small_window" and drafts[0].event["width"] == 900
    # From heartbeats: only the change to small is reported.
    beat = {"visible": True, "focused": True, "fullscreen": False, **small}
    state, drafts = rules.on_heartbeat(P, {}, beat, T)
    assert [d.kind for d in drafts] == ["small_window"]
    state, drafts = rules.on_heartbeat(P, state, beat, T + 5)
    assert drafts == []
    state, drafts = rules.on_heartbeat(P, state, {**beat, **large}, T + 10)
    assert drafts == [] and state["small"] is False
    loose = IntegrityPolicy(small_window_ratio=0.2)
    assert rules.on_heartbeat(loose, {}, beat, T)[1] == []


def test_heartbeat_reports_several_screens_once():
    state, drafts = rules.on_heartbeat(P, {}, {"screens": 2}, T)
    assert [(d.kind, d.severity) for d in drafts] == [("second_screen", "medium")]
    assert rules.on_heartbeat(P, state, {"screens": 2}, T + 5)[1] == []


def test_heartbeat_gap_opens_a_disconnection_and_the_next_beat_closes_it_with_seconds():
    state, drafts = rules.on_gap(P, {}, T, T + 20)
    assert drafts == []  # exactly 20 s: not yet
    state, drafts = rules.on_gap(P, {}, T, T + 21)
    [d] = drafts
    assert (d.kind, d.severity, d.close) == ("disconnected", "info", False)
    assert d.evidence == {"from": T, "to": None, "seconds": None}
    state = rules.remember(state, d, 7)
    assert rules.on_gap(P, state, T, T + 30)[1] == []  # once per gap
    state, drafts = rules.on_heartbeat(P, state, {"visible": True}, T + 47.4)
    [closing] = drafts
    assert closing.close and closing.incident_id == 7
    assert closing.evidence == {"from": T, "to": T + 47.4, "seconds": 47}
    assert "gap" not in state


def test_reconnect_records_a_gap_the_sweeper_missed():
    _state, drafts = rules.on_reconnect(P, {"ip": "a", "ua": "b"}, "a", "b", T + 60, last_beat=T)
    [d] = drafts
    assert d.kind == "disconnected" and d.evidence["seconds"] == 60 and not d.close
    _state, drafts = rules.on_reconnect(P, {"ip": "a", "ua": "b"}, "a", "b", T + 10, last_beat=T)
    assert drafts == []


def test_new_ip_or_browser_on_reconnection_is_medium():
    state, drafts = rules.on_reconnect(P, {}, "10.0.0.5", "Firefox/128", T)
    assert drafts == [] and state["ip"] == "10.0.0.5"
    state, drafts = rules.on_reconnect(P, state, "10.0.0.5", "Firefox/128", T + 10)
    assert drafts == []
    state, drafts = rules.on_reconnect(P, state, "10.0.0.9", "Chrome/126", T + 20)
    assert sorted((d.kind, d.severity) for d in drafts) == [
        ("new_browser", "medium"),
        ("new_ip", "medium"),
    ]
    ip = next(d for d in drafts if d.kind == "new_ip")
    assert ip.evidence == {"ip": "10.0.0.9", "previous_ip": "10.0.0.5"}
    # Known by the new address from now on.
    assert rules.on_reconnect(P, state, "10.0.0.9", "Chrome/126", T + 30)[1] == []


def test_policy_pauses_after_n_high_incidents():
    policy = IntegrityPolicy(pause_after_high=2, merge_minutes=0, leaves_high_count=1)
    state, drafts = rules.on_signal(policy, {}, leave(), T)
    assert [d.kind for d in drafts] == ["left_page"] and drafts[0].severity == "high"
    state, drafts = rules.on_signal(policy, state, leave(), T + 30)
    assert [d.kind for d in drafts] == ["left_page", "policy_pause"]
    assert drafts[1].severity == "high" and drafts[1].evidence["high_incidents"] == 2
    # Not again at once; again after another two highs.
    state, drafts = rules.on_signal(policy, state, leave(), T + 60)
    assert [d.kind for d in drafts] == ["left_page"]
    state, drafts = rules.on_high(policy, state, T + 90)  # e.g. a second device
    assert [d.kind for d in drafts] == ["policy_pause"]
    # Off by default.
    state, drafts = rules.on_high(P, {"highs": 50}, T)
    assert drafts == []


def test_escalation_within_one_incident_counts_one_high():
    policy = IntegrityPolicy(leaves_high_count=2, pause_after_high=2)
    state, all_drafts = feed(policy, {}, [(T + 10 * i, leave()) for i in range(4)])
    assert [d[0].severity for d in all_drafts] == ["low", "high", "high", "high"]
    assert state["highs"] == 1  # one incident became high, once
    assert all(len(d) == 1 for d in all_drafts)  # no pause


def test_rules_never_change_the_state_they_are_given_and_accept_datetimes():
    state = {"leaves": [T - 10], "ip": "x", "ua": "y"}
    before = repr(state)
    when = dt.datetime.fromtimestamp(T, dt.UTC)
    rules.on_signal(P, state, leave(), when)
    rules.on_heartbeat(P, state, {"screens": 3}, when)
    rules.on_gap(P, state, T - 100, when)
    rules.on_reconnect(P, state, "z", "w", when)
    assert repr(state) == before
