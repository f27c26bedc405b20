"""Integrity rules: pure functions from what a candidate's browser reports to incident drafts.

No I/O and no clock: every function takes the policy, the seat's small rule state (a JSON-able
dict kept in presence, ``SeatPresence.rules``), the input and ``now`` (epoch seconds, server
time; an aware datetime is accepted too) and returns ``(state, drafts)``. The state passed in
is never modified; a new dict is returned. The services persist the drafts (an incident insert,
or an update of the open incident a draft merges into) and then call :func:`remember` with the
incident's id so the next signal of the same kind can join it.

State keys (all optional): ``leaves`` (end times of counted leaves inside the window),
``last_leave`` ([start, end] of the last counted leave, to fold a hidden page and the blurred
window of the same moment into one leave), ``last`` (kind → time of its last draft, for the
merge window), ``ids`` (kind → id of the incident drafts of that kind merge into), ``sev``
(kind → severity of that incident), ``gap`` (an open disconnection: ``from`` and its ``id``),
``ip``/``ua`` (address and browser the seat is known by), ``small``/``multi`` (the window is
small / several screens, so only the change is reported), ``highs`` (high incidents so far),
``paused_at_highs`` (``highs`` when the policy last paused the candidate).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .models import IncidentKind as K
from .models import Severity
from .policy import IntegrityPolicy

State = dict[str, Any]

# Signal kinds the candidate page reports (``signal {kind, duration_ms?, client_time?,
# detail?}``) and the incident kind each one feeds.
SignalKind = Literal[
    "hidden",
    "blur",
    "fullscreen_exit",
    "copy",
    "paste",
    "context_menu",
    "second_screen",
    "small_window",
]
SIGNAL_KINDS: tuple[str, ...] = get_args(SignalKind)
_SIMPLE: dict[str, tuple[str, str]] = {
    "fullscreen_exit": (K.FULLSCREEN_EXIT, Severity.LOW),
    "copy": (K.CLIPBOARD, Severity.MEDIUM),
    "paste": (K.CLIPBOARD, Severity.MEDIUM),
    "context_menu": (K.CONTEXT_MENU, Severity.LOW),
    "second_screen": (K.SECOND_SCREEN, Severity.MEDIUM),
}
# Two leave reports whose intervals are this close are the same leave (hidden + blur).
LEAVE_OVERLAP_SECONDS = 1.0


@dataclass
class IncidentDraft:
    """An incident the rules want recorded.

    ``merge``: join the open incident of this kind of the seat (``state["ids"][kind]``) when
    there is one (count + 1, evidence appended, severity raised to this one), else insert.
    ``close``: for ``disconnected`` only, complete the open disconnection record
    (``state["gap"]["id"]``) with ``to`` and ``seconds`` instead of inserting.
    ``incident_id``: the record a ``close`` draft completes (from ``state["gap"]["id"]``).
    ``event``: this occurrence, appended to the incident's ``evidence["events"]``.
    ``evidence``: kind-specific facts set on the incident (``from``/``to``/``seconds``, ``ip`` …).
    """

    kind: str
    severity: str
    at: float
    evidence: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)
    merge: bool = False
    close: bool = False
    incident_id: int | None = None  # the record a ``close`` draft completes, when known


def ts(now: float | dt.datetime) -> float:
    """Epoch seconds of ``now`` (a float is returned as is)."""
    return now.timestamp() if isinstance(now, dt.datetime) else float(now)


def _copy(state: State | None) -> State:
    return copy.deepcopy(state) if state else {}


def _draft(
    policy: IntegrityPolicy,
    state: State,
    kind: str,
    severity: str,
    now: float,
    *,
    event: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
    mergeable: bool = True,
) -> IncidentDraft:
    """A draft of ``kind``; decides merging and tracks the seat's high incidents."""
    last = state.setdefault("last", {})
    previous = last.get(kind)
    merge = (
        mergeable
        and previous is not None
        and now - float(previous) <= policy.merge_minutes * 60
        and kind in state.get("ids", {})
    )
    last[kind] = now
    sev = state.setdefault("sev", {})
    before = sev.get(kind) if merge else None
    merged_severity = Severity.max(before, severity) if before else severity
    sev[kind] = merged_severity
    if merged_severity == Severity.HIGH and before != Severity.HIGH:
        state["highs"] = int(state.get("highs", 0)) + 1
    return IncidentDraft(
        kind, severity, now, evidence or {}, {"at": now, **(event or {})}, merge=merge
    )


def _prune(policy: IntegrityPolicy, state: State, now: float) -> None:
    horizon = now - max(policy.merge_minutes * 60, 1.0)
    state["last"] = {k: t for k, t in state.get("last", {}).items() if float(t) >= horizon}


def _policy_pause(policy: IntegrityPolicy, state: State, now: float) -> list[IncidentDraft]:
    """A ``policy_pause`` draft when the seat reached another ``pause_after_high`` highs."""
    n = policy.pause_after_high
    highs = int(state.get("highs", 0))
    if not n or highs < n or highs - int(state.get("paused_at_highs", 0)) < n:
        return []
    state["paused_at_highs"] = highs
    return [
        IncidentDraft(
            K.POLICY_PAUSE,
            Severity.HIGH,
            now,
            {"high_incidents": highs, "pause_after_high": n},
            {"at": now},
        )
    ]


def on_high(policy: IntegrityPolicy, state: State, now: float | dt.datetime) -> tuple[State, list]:
    """Count one high incident raised outside these rules (e.g. ``second_device``); returns a
    ``policy_pause`` draft when the policy says so."""
    state, now = _copy(state), ts(now)
    state["highs"] = int(state.get("highs", 0)) + 1
    return state, _policy_pause(policy, state, now)


def _leave(
    policy: IntegrityPolicy, state: State, signal: dict[str, Any], now: float
) -> list[IncidentDraft]:
    duration = signal.get("duration_ms")
    if duration is None:
        return []  # the start of a leave: it is judged when it ends (with its duration)
    seconds = max(0.0, float(duration) / 1000.0)
    if seconds <= policy.hidden_min_seconds:
        return []
    start, end = now - seconds, now
    event = {"signal": signal.get("kind"), "seconds": round(seconds, 1)}
    if signal.get("client_time") is not None:
        event["client_time"] = signal["client_time"]
    last = state.get("last_leave")
    if last and start <= float(last[1]) + LEAVE_OVERLAP_SECONDS and end >= float(last[0]):
        # The same leave reported twice (the page hidden and the window blurred): no new count.
        state["last_leave"] = [min(start, float(last[0])), max(end, float(last[1]))]
        return []
    state["last_leave"] = [start, end]
    window = policy.leaves_window_minutes * 60
    leaves = [t for t in state.get("leaves", []) if float(t) > now - window]
    leaves.append(now)
    state["leaves"] = leaves
    severity = Severity.HIGH if len(leaves) >= policy.leaves_high_count else Severity.LOW
    event["leaves_in_window"] = len(leaves)
    return [_draft(policy, state, K.LEFT_PAGE, severity, now, event=event)]


def _is_small(policy: IntegrityPolicy, detail: dict[str, Any]) -> bool | None:
    """True/False from window and screen sizes; None when they are not all given."""
    try:
        w, h = float(detail["width"]), float(detail["height"])
        sw, sh = float(detail["screen_width"]), float(detail["screen_height"])
    except (KeyError, TypeError, ValueError):
        return None
    if sw <= 0 or sh <= 0:
        return None
    return w * h < policy.small_window_ratio * sw * sh


def _sizes(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in ("width", "height", "screen_width", "screen_height") if k in d}


def _small_window(
    policy: IntegrityPolicy, state: State, now: float, source: str, sizes: dict[str, Any]
) -> IncidentDraft:
    """A ``small_window`` draft (low) from a ``source`` (signal kind or ``heartbeat``) that
    reported the window and screen ``sizes``."""
    return _draft(
        policy,
        state,
        K.SMALL_WINDOW,
        Severity.LOW,
        now,
        event={"signal": source, **_sizes(sizes)},
    )


def on_signal(
    policy: IntegrityPolicy,
    state: State | None,
    signal: dict[str, Any],
    now: float | dt.datetime,
) -> tuple[State, list[IncidentDraft]]:
    """One ``signal {kind, duration_ms?, client_time?, detail?}`` from the candidate page.

    ``hidden``/``blur`` count as a leave only when ``duration_ms`` exceeds
    ``hidden_min_seconds`` (a report without a duration is the start of a leave and is ignored);
    the ``leaves_high_count``th leave within ``leaves_window_minutes`` is high. ``small_window``
    is checked against ``small_window_ratio`` when the sizes are in ``detail``. Unknown kinds
    are ignored.
    """
    state, now = _copy(state), ts(now)
    _prune(policy, state, now)
    kind = signal.get("kind")
    detail = signal.get("detail") if isinstance(signal.get("detail"), dict) else {}
    drafts: list[IncidentDraft] = []
    if kind in ("hidden", "blur"):
        drafts = _leave(policy, state, signal, now)
    elif kind in _SIMPLE:
        incident_kind, severity = _SIMPLE[kind]
        event: dict[str, Any] = {"signal": kind}
        if signal.get("client_time") is not None:
            event["client_time"] = signal["client_time"]
        if detail:
            event["detail"] = detail
        drafts = [_draft(policy, state, incident_kind, severity, now, event=event)]
        if kind == "second_screen":
            state["multi"] = True
    elif kind == "small_window":
        small = _is_small(policy, detail)
        if small is not False:
            state["small"] = True
            drafts = [_small_window(policy, state, now, kind, detail)]
    if any(d.severity == Severity.HIGH for d in drafts):
        drafts += _policy_pause(policy, state, now)
    return state, drafts


def close_gap(state: State, now: float) -> list[IncidentDraft]:
    """Close the seat's open disconnection (mutates ``state``); [] when none is open."""
    gap = state.pop("gap", None)
    if not gap:
        return []
    return [_reconnected(float(gap["from"]), now, close=True, incident_id=gap.get("id"))]


def _reconnected(start: float, now: float, **flags: Any) -> IncidentDraft:
    """The complete record of a disconnection from ``start`` that ended with a reconnection
    at ``now``."""
    return IncidentDraft(
        K.DISCONNECTED,
        Severity.INFO,
        now,
        {"from": start, "to": now, "seconds": round(now - start)},
        {"at": now, "reconnected": True},
        **flags,
    )


def on_heartbeat(
    policy: IntegrityPolicy,
    state: State | None,
    beat: dict[str, Any],
    now: float | dt.datetime,
) -> tuple[State, list[IncidentDraft]]:
    """A heartbeat ``{visible, focused, fullscreen, client_time, width?, height?,
    screen_width?, screen_height?, screens?}``.

    Closes an open disconnection (the seat is back: ``to`` and ``seconds`` are known now),
    reports a window that *became* small and several screens that *appeared*. Most heartbeats
    return no drafts and, when nothing changed, an equal state (callers may skip saving it).
    """
    state, now = _copy(state), ts(now)
    drafts = close_gap(state, now)
    small = _is_small(policy, beat)
    if small is not None:
        if small and not state.get("small"):
            drafts.append(_small_window(policy, state, now, "heartbeat", beat))
        if bool(state.get("small")) != small:
            state["small"] = small
    screens = beat.get("screens")
    if isinstance(screens, int) and not isinstance(screens, bool):
        multi = screens > 1
        if multi and not state.get("multi"):
            drafts.append(
                _draft(
                    policy,
                    state,
                    K.SECOND_SCREEN,
                    Severity.MEDIUM,
                    now,
                    event={"signal": "heartbeat", "screens": screens},
                )
            )
        if bool(state.get("multi")) != multi:
            state["multi"] = multi
    return state, drafts


def on_gap(
    policy: IntegrityPolicy,
    state: State | None,
    last_beat: float | dt.datetime,
    now: float | dt.datetime,
) -> tuple[State, list[IncidentDraft]]:
    """The sweeper found no heartbeat since ``last_beat``: when the gap exceeds
    ``heartbeat_gap_seconds`` (and no disconnection is open yet) a ``disconnected`` record
    opens (``from`` = the last beat; ``to``/``seconds`` follow when the seat is back)."""
    state, now, last_beat = _copy(state), ts(now), ts(last_beat)
    if state.get("gap") or now - last_beat <= policy.heartbeat_gap_seconds:
        return state, []
    state["gap"] = {"from": last_beat}
    return state, [
        IncidentDraft(
            K.DISCONNECTED,
            Severity.INFO,
            now,
            {"from": last_beat, "to": None, "seconds": None},
            {"at": now, "detected": True},
        )
    ]


def on_reconnect(
    policy: IntegrityPolicy,
    state: State | None,
    ip: str,
    ua: str,
    now: float | dt.datetime,
    *,
    last_beat: float | dt.datetime | None = None,
) -> tuple[State, list[IncidentDraft]]:
    """A (re)connection of the seat from ``ip`` with browser ``ua``.

    The first connection only remembers address and browser. Later: a different address is a
    ``new_ip`` (medium), a different browser a ``new_browser`` (medium); the seat is then known
    by the new ones. An open disconnection is closed; one the sweeper did not see yet (the last
    beat is older than ``heartbeat_gap_seconds``) is recorded complete.
    """
    state, now = _copy(state), ts(now)
    _prune(policy, state, now)
    drafts = close_gap(state, now)
    if not drafts and last_beat is not None:
        start = ts(last_beat)
        if now - start > policy.heartbeat_gap_seconds:
            drafts.append(_reconnected(start, now))
    ip, ua = ip or "", ua or ""
    if "ip" not in state and "ua" not in state:
        state["ip"], state["ua"] = ip, ua
        return state, drafts
    for key, kind, value in (("ip", K.NEW_IP, ip), ("ua", K.NEW_BROWSER, ua)):
        if value and value != state.get(key):
            change = {key: value, f"previous_{key}": state.get(key)}
            drafts.append(
                _draft(
                    policy,
                    state,
                    kind,
                    Severity.MEDIUM,
                    now,
                    evidence=change,
                    event=change,
                    mergeable=False,
                )
            )
            state[key] = value
    return state, drafts


def remember(state: State | None, draft: IncidentDraft, incident_id: int) -> State:
    """After the services stored ``draft`` as incident ``incident_id``: later drafts of its
    kind merge into it, and a disconnection can be closed."""
    state = _copy(state)
    if draft.kind == K.DISCONNECTED:
        if not draft.close and draft.evidence.get("to") is None and state.get("gap"):
            state["gap"]["id"] = incident_id
        return state
    state.setdefault("ids", {})[draft.kind] = incident_id
    return state


def forget(state: State | None, kind: str) -> State:
    """The incident drafts of ``kind`` merged into was closed by a proctor: the next one
    opens a new incident."""
    state = _copy(state)
    state.get("ids", {}).pop(kind, None)
    state.get("sev", {}).pop(kind, None)
    return state
