"""Tables owned by the server: user accounts and their roles.

The bank's tables live in :mod:`question_bank.models`; every table shares one declarative base.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from question_bank.audit import Actor
from question_bank.db import Base, UTCDateTime, utcnow


class Role:
    ADMIN = "admin"
    EDITOR = "editor"
    REVIEWER = "reviewer"
    PROCTOR = "proctor"
    SUPERVISOR = "supervisor"
    ALL = (ADMIN, EDITOR, REVIEWER, PROCTOR, SUPERVISOR)


MIN_PASSWORD_LENGTH = 8


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    # Comma-separated role names; a user may hold several (e.g. editor and reviewer).
    roles_csv: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or sign-out-everywhere; API tokens carry it and die with it.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str] = mapped_column(String(10), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def roles(self) -> set[str]:
        return {r for r in self.roles_csv.split(",") if r}

    @roles.setter
    def roles(self, value: set[str] | list[str]) -> None:
        unknown = set(value) - set(Role.ALL)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(Role.ALL)}")
        self.roles_csv = ",".join(sorted(set(value)))

    def has_role(self, *roles: str) -> bool:
        """True if the user holds any of ``roles``; admins hold every role."""
        mine = self.roles
        return Role.ADMIN in mine or bool(mine.intersection(roles))

    def set_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        self.password_hash = generate_password_hash(password)
        self.token_generation = (self.token_generation or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:  # Flask-Login: the session dies when the generation changes
        return f"{self.id}:{self.token_generation}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.username)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(self.roles),
            "active": self.active,
        }
