"""Input schemas of sessions, rooms and registrations, shared by the JSON API and the CLI.

Shapes are checked here (pydantic); rules that need the database or several fields at once
(release matches the occupation, seats within capacity …) are checked by the services.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SESSION_CODE = r"^[A-Za-z0-9][A-Za-z0-9\-]{0,19}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoomIn(_In):
    name: str = Field(min_length=1, max_length=100)
    capacity: int = Field(ge=1, le=500)
    location: str = Field(default="", max_length=200)


class RoomPatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    capacity: int | None = Field(default=None, ge=1, le=500)
    location: str | None = Field(default=None, max_length=200)
    reason: str = Field(default="", max_length=1000)


class _SessionFields(_In):
    name: str = Field(min_length=1, max_length=200)
    occupation: str = Field(min_length=1, max_length=32)
    level: int = Field(ge=1, le=5)
    scheduled_start: AwareDatetime
    duration_minutes: int = Field(ge=1, le=600)
    late_entry_minutes: int = Field(default=15, ge=0, le=600)
    earliest_submit_minutes: int = Field(default=30, ge=0, le=600)
    start_mode: Literal["unified", "window"] = "unified"
    start_window_minutes: int | None = Field(default=None, ge=1, le=1440)
    release_id: int | None = Field(default=None, ge=1)
    blueprint_version_id: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)


class SessionIn(_SessionFields):
    code: str = Field(pattern=SESSION_CODE)
    rooms: list[RoomIn] = Field(default_factory=list, max_length=99)


class SessionPatch(_In):
    """Fields to change; the ones left out keep their value (``null`` clears the nullable ones)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    occupation: str | None = Field(default=None, min_length=1, max_length=32)
    level: int | None = Field(default=None, ge=1, le=5)
    scheduled_start: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=600)
    late_entry_minutes: int | None = Field(default=None, ge=0, le=600)
    earliest_submit_minutes: int | None = Field(default=None, ge=0, le=600)
    start_mode: Literal["unified", "window"] | None = None
    start_window_minutes: int | None = Field(default=None, ge=1, le=1440)
    release_id: int | None = Field(default=None, ge=1)
    blueprint_version_id: int | None = Field(default=None, ge=1)
    note: str | None = Field(default=None, max_length=2000)
    reason: str = Field(default="", max_length=1000)

    # Fields that may be cleared with null; the others refuse null.
    NULLABLE: ClassVar[tuple[str, ...]] = (
        "start_window_minutes",
        "release_id",
        "blueprint_version_id",
    )


class TransitionIn(_In):
    action: str = Field(min_length=1, max_length=20)
    reason: str = Field(default="", max_length=1000)


class ReasonIn(_In):
    reason: str = Field(default="", max_length=1000)


class ProctorsIn(_In):
    usernames: list[str] = Field(max_length=20)
    reason: str = Field(default="", max_length=1000)


class RegistrationIn(_In):
    candidate_name: str = Field(max_length=200)
    id_type: str = Field(default="", max_length=40)
    id_number: str = Field(max_length=64)
    ticket_number: str = Field(default="", max_length=64)
    room: str = Field(default="", max_length=100)
    seat: int | None = None


class RegistrationPatch(_In):
    candidate_name: str | None = Field(default=None, max_length=200)
    id_type: str | None = Field(default=None, max_length=40)
    id_number: str | None = Field(default=None, max_length=64)
    ticket_number: str | None = Field(default=None, max_length=64)
    room: str | None = Field(default=None, max_length=100)
    seat: int | None = None
    reason: str = Field(default="", max_length=1000)


class EligibilityIn(_In):
    status: Literal["pending", "approved", "rejected"]
    reason: str = Field(default="", max_length=1000)


class BulkEligibilityIn(EligibilityIn):
    registration_ids: list[int] = Field(min_length=1, max_length=5000)


class SignInIn(_In):
    """The candidate's sign-in (see docs/sessions.md, "Check-in protocol")."""

    ticket_number: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=64)
    access_code: str = Field(min_length=1, max_length=32)
    # The candidate page's device id (docs/proctoring.md, "One seat, one device"); optional.
    device: str | None = Field(default=None, max_length=64)
