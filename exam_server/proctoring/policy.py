"""The integrity policy of a session: thresholds of the rules and the optional policy action.

Stored as JSON on ``exam_sessions.integrity_policy``; ``NULL`` (or a missing key) means the
default. Every value is checked (pydantic) when an administrator sets it, so the rules can
trust it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from ..sessions.models import ExamSession

log = logging.getLogger(__name__)


class IntegrityPolicy(BaseModel):
    """Per-session thresholds (see docs/proctoring.md, "Rules")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A hidden page / blurred window counts as one leave only if it lasted longer than this.
    hidden_min_seconds: float = Field(3, ge=0, le=600)
    # The ``leaves_high_count``th leave within ``leaves_window_minutes`` makes it high.
    leaves_high_count: int = Field(5, ge=1, le=1000)
    leaves_window_minutes: float = Field(10, gt=0, le=600)
    # No heartbeat for longer than this: the seat is disconnected (a disconnection record).
    heartbeat_gap_seconds: float = Field(20, ge=5, le=3600)
    # A window whose area is below this share of the screen's area is a small window.
    small_window_ratio: float = Field(0.5, gt=0, le=1)
    # A signal of the same kind within this time joins the open incident.
    merge_minutes: float = Field(10, ge=0, le=600)
    # Pause the candidate after this many high incidents (None: never, the default).
    pause_after_high: int | None = Field(None, ge=1, le=1000)
    # Every running seat of a room silent together this long: a room outage, time credited.
    room_outage_seconds: float = Field(15, ge=5, le=3600)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


DEFAULT_POLICY = IntegrityPolicy()


def parse_policy(data: dict[str, Any] | None) -> IntegrityPolicy:
    """A policy from stored JSON (``None`` → defaults). Raises pydantic's ValidationError."""
    return IntegrityPolicy.model_validate(data or {})


def policy_for(es: ExamSession) -> IntegrityPolicy:
    """The session's policy; stored values that no longer validate fall back to the defaults
    (logged), so a bad row never stops the rules."""
    try:
        return parse_policy(es.integrity_policy)
    except ValidationError:
        log.warning("session %s has an invalid integrity policy; using the defaults", es.id)
        return DEFAULT_POLICY
