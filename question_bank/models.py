"""Tables of the question bank.

An :class:`Item` is the stable identity of a question (its code); every edit creates a new
:class:`ItemVersion`, which is never changed afterwards except for its review status. A
:class:`BankRelease` pins a set of approved versions so that an exam never sees later edits.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, JSONDoc, UTCDateTime, utcnow


class VersionStatus:
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"
    ALL = (DRAFT, IN_REVIEW, APPROVED, RETIRED)


class Occupation(Base):
    __tablename__ = "occupations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "name_en": self.name_en}


class KnowledgePoint(Base):
    """A node of the knowledge table (鉴定要素细目表) of one occupation and level."""

    __tablename__ = "knowledge_points"
    __table_args__ = (
        UniqueConstraint("occupation_id", "level", "code"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint("importance IN ('X', 'Y', 'Z')", name="importance_xyz"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_points.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    importance: Mapped[str] = mapped_column(String(1), default="Y")
    position: Mapped[int] = mapped_column(Integer, default=0)

    occupation: Mapped[Occupation] = relationship()


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Denormalised pointer to the newest version, kept by the service that adds versions.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)

    occupation: Mapped[Occupation] = relationship()
    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.number"
    )


class ItemVersion(Base):
    """One immutable version of an item. Only ``status`` changes, through the review workflow."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "number"),
        CheckConstraint(
            "status IN ('draft', 'in_review', 'approved', 'retired')", name="status_known"
        ),
        CheckConstraint("difficulty >= 0 AND difficulty <= 1", name="difficulty_range"),
        Index("ix_item_versions_latest", "is_latest", "item_id"),
        Index("ix_item_versions_filter", "is_latest", "status", "type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.DRAFT)
    # True on exactly one version per item, the newest: the bank's lists and filters read only
    # these rows (kept by the service that adds versions).
    is_latest: Mapped[bool] = mapped_column(default=True)
    type: Mapped[str] = mapped_column(String(20))
    knowledge_point_id: Mapped[int] = mapped_column(ForeignKey("knowledge_points.id"))
    difficulty: Mapped[float]
    points: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # Searchable plain text of the stem (rich text lives in ``content``).
    stem_text: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(String(1000), default="")  # ",tag1,tag2," for LIKE search
    content: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    content_hash: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    change_note: Mapped[str] = mapped_column(String(500), default="")

    item: Mapped[Item] = relationship(back_populates="versions")
    knowledge_point: Mapped[KnowledgePoint] = relationship()
    reviews: Mapped[list[ReviewEvent]] = relationship(
        back_populates="version", order_by="ReviewEvent.id"
    )


class ReviewEvent(Base):
    """One transition of a version through the review workflow: who, when, from, to and why."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[ItemVersion] = relationship(back_populates="reviews")


class BankRelease(Base):
    """An immutable, named snapshot of the approved versions of one occupation and level."""

    __tablename__ = "bank_releases"
    __table_args__ = (UniqueConstraint("occupation_id", "level", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    item_count: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("bank_releases.id"))
    # Snapshot of the knowledge table at release time, so blueprints read the weights it had.
    knowledge_points: Mapped[list[Any]] = mapped_column(JSONDoc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    occupation: Mapped[Occupation] = relationship()


class ReleaseItem(Base):
    __tablename__ = "release_items"

    release_id: Mapped[int] = mapped_column(ForeignKey("bank_releases.id"), primary_key=True)
    item_version_id: Mapped[int] = mapped_column(
        ForeignKey("item_versions.id"), primary_key=True, index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))


class Asset(Base):
    """An uploaded image, content-addressed by SHA-256 so stems reference ``/assets/<sha256>``."""

    __tablename__ = "assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(50))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- blueprints (组卷方案) and assembled papers ---------------------------------------------------


class Blueprint(Base):
    """The stable identity of a paper blueprint of one occupation and level (its code)."""

    __tablename__ = "blueprints"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    occupation: Mapped[Occupation] = relationship()
    versions: Mapped[list[BlueprintVersion]] = relationship(
        back_populates="blueprint", order_by="BlueprintVersion.number"
    )


class BlueprintVersion(Base):
    """One immutable version of a blueprint: the spec (see ``question_bank.blueprints``)."""

    __tablename__ = "blueprint_versions"
    __table_args__ = (UniqueConstraint("blueprint_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprints.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    spec_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    blueprint: Mapped[Blueprint] = relationship(back_populates="versions")


class PaperSet(Base):
    """The papers assembled for one exam session, with every input needed to rebuild them.

    ``session_key`` is the session's own identifier (the session tables link to it). The
    difficulties used for balancing are stored because item analysis keeps updating the bank's.
    """

    __tablename__ = "paper_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_key: Mapped[str] = mapped_column(String(64), index=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("bank_releases.id"))
    blueprint_version_id: Mapped[int] = mapped_column(ForeignKey("blueprint_versions.id"))
    seed: Mapped[str] = mapped_column(String(128))
    # Difficulty used per item version id (JSON object keyed by the id as text).
    difficulties: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    # 2PL [a, b] per item version id (text) of the calibrated items used for balancing the
    # information at the pass mark; None when the bank had no IRT estimates.
    item_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    release: Mapped[BankRelease] = relationship()
    blueprint_version: Mapped[BlueprintVersion] = relationship()
    papers: Mapped[list[StoredPaper]] = relationship(
        back_populates="paper_set", order_by="StoredPaper.id"
    )


class StoredPaper(Base):
    """One candidate's paper: item version ids in order, option permutations, points."""

    __tablename__ = "papers"
    __table_args__ = (UniqueConstraint("paper_set_id", "candidate_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_set_id: Mapped[int] = mapped_column(ForeignKey("paper_sets.id"), index=True)
    candidate_key: Mapped[str] = mapped_column(String(64))
    items: Mapped[list[Any]] = mapped_column(JSONDoc)
    expected_score: Mapped[float]
    paper_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    paper_set: Mapped[PaperSet] = relationship(back_populates="papers")
