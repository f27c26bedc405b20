"""Who sees and does what in a session's proctoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from question_bank.errors import Forbidden

from ...models import Role
from ...sessions import services as session_svc
from ...sessions.models import ExamSession


@dataclass(frozen=True)
class ProctorScope:
    """What one staff user may see and do in one session. ``None``: every room."""

    view_rooms: frozenset[int] | None
    act_rooms: frozenset[int] | None
    admin: bool = False

    @property
    def read_only(self) -> bool:
        return self.act_rooms is not None and not self.act_rooms

    def can_view(self, room_id: int) -> bool:
        return self.view_rooms is None or room_id in self.view_rooms

    def can_act(self, room_id: int) -> bool:
        return self.act_rooms is None or room_id in self.act_rooms


def scope_for(db_session: Session, user: Any, es: ExamSession) -> ProctorScope:
    """Admins see and act everywhere; supervisors see every room read-only (and act in rooms
    they proctor, if they are proctors too); proctors see and act in their rooms only."""
    if user.has_role(Role.ADMIN):
        return ProctorScope(None, None, admin=True)
    roles = user.roles
    mine = (
        frozenset(session_svc.proctored_room_ids(db_session, es, user.id))
        if Role.PROCTOR in roles
        else frozenset()
    )
    if Role.SUPERVISOR in roles:
        return ProctorScope(None, mine)
    if not mine:
        raise Forbidden(f"you are not assigned to a room of session {es.code}")
    return ProctorScope(mine, mine)
