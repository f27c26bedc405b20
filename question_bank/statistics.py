"""The improvement loop: item statistics per analysis run, accumulated per item version, review
tasks for flagged items, and measured difficulty for paper assembly.

An :class:`AnalysisRun` analyses one set of responses (a closed session, or exported responses
uploaded by an analyst) with :mod:`item_analysis`. Its per-item results are stored as
:class:`ItemStatistic` rows keyed by item *version*, so a revised item starts fresh. Across runs,
statistics accumulate weighted by the number of responses (:func:`accumulated`), and
:class:`MeasuredDifficulty` keeps the pooled facility that assembly uses instead of the author's
estimate once enough candidates answered (:func:`effective_difficulties`). Flags open a
:class:`ReviewTask` for editors with the evidence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from item_analysis import AnalysisOptions, FlagThresholds, analyze
from item_analysis.scoring import letters_to_code, score_choices

from .audit import Actor, record
from .db import Base, JSONDoc, UTCDateTime, utcnow
from .errors import Conflict, NotFound, ValidationFailed
from .messages import Msg, msg
from .models import BankRelease, Item, ItemVersion
from .schema import ItemContent, ItemType

# Responses needed before a measured facility replaces the author's difficulty estimate.
MIN_RESPONSES = 30


class AnalysisRun(Base):
    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # "upload" or "session"
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("bank_releases.id"))
    n_candidates: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    irt_model: Mapped[str] = mapped_column(String(10), default="")
    # Test-level results: reliability, SEM, score distribution, test information, similarity.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    statistics: Mapped[list[ItemStatistic]] = relationship(
        back_populates="run", order_by="ItemStatistic.position"
    )


class ItemStatistic(Base):
    """Classical (and IRT) statistics of one item version in one analysis run."""

    __tablename__ = "item_statistics"
    __table_args__ = (UniqueConstraint("run_id", "item_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    facility: Mapped[float | None]
    sd: Mapped[float | None]
    item_rest_r: Mapped[float | None]
    discrimination_index: Mapped[float | None]
    discriminative_efficiency: Mapped[float | None]
    alpha_if_deleted: Mapped[float | None]
    irt_a: Mapped[float | None]
    irt_b: Mapped[float | None]
    irt_a_se: Mapped[float | None]  # standard errors (observed information)
    irt_b_se: Mapped[float | None]
    irt_fit_p: Mapped[float | None]  # Orlando–Thissen S-X² p-value (complete data only)
    # Per-option analysis (proportions overall and by score group, option-rest r).
    options: Mapped[list[Any]] = mapped_column(JSONDoc)
    flags: Mapped[list[Any]] = mapped_column(JSONDoc)

    run: Mapped[AnalysisRun] = relationship(back_populates="statistics")
    version: Mapped[ItemVersion] = relationship()


class MeasuredDifficulty(Base):
    """Pooled facility of an item version over every analysis run (the bank's measured value)."""

    __tablename__ = "measured_difficulty"

    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    facility: Mapped[float]
    item_rest_r: Mapped[float | None]
    runs: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewTask(Base):
    """An item version flagged by analysis, waiting for an editor's decision."""

    __tablename__ = "review_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"))
    reasons: Mapped[list[Any]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, resolved, dismissed
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[ItemVersion] = relationship()
    item: Mapped[Item] = relationship()


# -- turning bank items into item_analysis inputs ------------------------------------------------


@dataclass(frozen=True)
class KeyArrays:
    """Keys of a list of item versions in item_analysis's codes (see item_analysis.scoring)."""

    keys: np.ndarray
    n_options: np.ndarray
    multi: np.ndarray
    true_false: np.ndarray
    max_points: np.ndarray


def key_arrays(contents: list[ItemContent]) -> KeyArrays:
    keys, n_opt, multi, tf, pts = [], [], [], [], []
    for c in contents:
        is_multi = c.type == ItemType.MULTIPLE_CHOICE
        if c.type == ItemType.TRUE_FALSE:
            keys.append(0 if c.key == ["T"] else 1)
            n_opt.append(2)
        elif c.type == ItemType.FILL_BLANK:
            keys.append(-1)
            n_opt.append(0)
        else:
            keys.append(letters_to_code("".join(c.key), multi=is_multi))
            n_opt.append(len(c.options))
        multi.append(is_multi)
        tf.append(c.type == ItemType.TRUE_FALSE)
        pts.append(float(c.points))
    return KeyArrays(
        np.array(keys), np.array(n_opt), np.array(multi, bool), np.array(tf, bool), np.array(pts)
    )


@dataclass(frozen=True)
class EncodedCells:
    """An exported response table in item_analysis's codes (see :func:`encode_cells`)."""

    choices: np.ndarray | None  # None for a scored matrix
    seen: np.ndarray
    scores: np.ndarray | None
    zero_option: np.ndarray  # (J,) items whose answers use option number 0 ("other")
    numeric_items: int  # items answered with option numbers


_NUMERIC_CELL = re.compile(r"^\d+([,;/| ]+\d+)*$")


def encode_cells(
    answers: np.ndarray,
    contents: list[ItemContent],
    *,
    not_presented: str = "-",
    cells: str = "auto",
) -> EncodedCells:
    """Cells of an exported response table to option codes, seen mask and scores.

    ``cells="auto"``: choice and true/false cells hold the chosen letters (``"B"``, ``"ACD"``,
    ``"T"``) or option numbers (``"2"``, ``"1,3"``; 1 = the first option; ``0`` a wrong
    answer of its own such as "other", kept as an extra option of the item); fill-in cells
    hold the points earned; empty = no answer. ``cells="scored"``: every cell holds the points
    earned (0 … the item's points). ``"-"`` = the item was not on the candidate's paper.
    Raises ``ValueError`` with a message naming the first bad cell.
    """
    if cells not in ("auto", "scored"):
        raise ValueError(msg("analysis_cells_mode", "Cells must be 'auto' or 'scored'."))
    n, j = answers.shape
    ka = key_arrays(contents)
    choices = np.full((n, j), -1, dtype=np.int64)
    seen = np.ones((n, j), dtype=bool)
    fill = np.zeros((n, j))
    zero = np.zeros(j, dtype=bool)
    numeric_items = 0
    for col, c in enumerate(contents):
        multi, tf = bool(ka.multi[col]), bool(ka.true_false[col])
        used_numbers = False
        for row in range(n):
            cell = str(answers[row, col]).strip().upper()
            where = msg(
                "analysis_cell_place", "row %(row)s, column %(column)s", row=row + 2, column=col + 2
            )
            if cell == not_presented:
                seen[row, col] = False
            elif cells == "scored" or c.type == ItemType.FILL_BLANK:
                try:
                    value = float(cell) if cell else 0.0
                except ValueError:
                    raise ValueError(
                        msg(
                            "analysis_cell_points",
                            "%(where)s: the cell holds the points earned, got '%(cell)s'.",
                            where=where,
                            cell=cell,
                        )
                    ) from None
                if not 0 <= value <= ka.max_points[col]:
                    raise ValueError(
                        msg(
                            "analysis_cell_points_range",
                            "%(where)s: %(value)s is outside 0 to %(max)s points.",
                            where=where,
                            value=f"{value:g}",
                            max=f"{ka.max_points[col]:g}",
                        )
                    )
                fill[row, col] = value
            else:
                letters = cell
                if cell and _NUMERIC_CELL.match(cell):
                    used_numbers = True
                    numbers = sorted({int(x) for x in re.split(r"[,;/| ]+", cell)})
                    if 0 in numbers:
                        if len(numbers) > 1 or tf:
                            raise ValueError(
                                msg(
                                    "analysis_cell_zero",
                                    "%(where)s: option 0 ('other') cannot be combined with "
                                    "other options or used in a true/false item.",
                                    where=where,
                                )
                            )
                        zero[col] = True
                        choices[row, col] = -3  # the extra option, placed below
                        continue
                    if numbers[-1] > ka.n_options[col] or (tf and numbers[-1] > 2):
                        raise ValueError(
                            msg(
                                "analysis_cell_number",
                                "%(where)s: option %(number)s is beyond the item's %(count)s "
                                "options.",
                                where=where,
                                number=numbers[-1],
                                count=int(ka.n_options[col]),
                            )
                        )
                    letters = "".join(chr(64 + x) for x in numbers)
                try:
                    code = letters_to_code(letters, multi=multi, true_false=tf)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                top = code.bit_length() - 1 if multi else code
                if top >= ka.n_options[col]:
                    raise ValueError(
                        msg(
                            "analysis_cell_beyond",
                            "%(where)s: answer '%(cell)s' is beyond the item's %(count)s options.",
                            where=where,
                            cell=cell,
                            count=int(ka.n_options[col]),
                        )
                    )
                choices[row, col] = code
        numeric_items += used_numbers
        if zero[col]:
            extra = int(ka.n_options[col])
            choices[choices[:, col] == -3, col] = (1 << extra) if multi else extra
    if cells == "scored":
        return EncodedCells(None, seen, np.where(seen, fill, 0.0), zero, 0)
    is_fill = ka.n_options == 0
    if not is_fill.any():
        return EncodedCells(choices, seen, None, zero, numeric_items)
    scores = score_choices(
        np.where(is_fill, 0, choices),
        np.where(is_fill, 0, ka.keys),
        n_options=np.maximum(ka.n_options + zero, 1),
        multi=ka.multi,
        max_points=ka.max_points,
    )
    scores = np.where(is_fill, fill, np.where(choices < 0, 0.0, scores))
    return EncodedCells(choices, seen, scores, zero, numeric_items)


# -- running an analysis ------------------------------------------------------------------------


def analyze_versions(
    session: Session,
    actor: Actor,
    versions: list[ItemVersion],
    *,
    choices: np.ndarray | None,
    seen: np.ndarray,
    scores: np.ndarray | None = None,
    zero_option: np.ndarray | None = None,
    label: str,
    source: str,
    source_ref: str = "",
    release_id: int | None = None,
    irt: str | None = None,
    thresholds: FlagThresholds | None = None,
) -> AnalysisRun:
    """Analyse responses to ``versions`` (columns of the arrays), store the statistics, update
    measured difficulty, and open review tasks for flagged items."""
    if not versions:
        raise ValidationFailed("no items to analyse", field="responses")
    occ_ids = {v.item.occupation_id for v in versions}
    levels = {v.item.level for v in versions}
    if len(occ_ids) != 1 or len(levels) != 1:
        raise ValidationFailed(
            "an analysis covers items of one occupation and level", field="responses"
        )
    contents = [ItemContent.model_validate(v.content) for v in versions]
    ka = key_arrays(contents)
    zero = np.zeros(len(versions), bool) if zero_option is None else zero_option
    opts = AnalysisOptions(thresholds=thresholds or FlagThresholds())
    n_cand = seen.shape[0]
    rep = analyze(
        choices=choices,
        scores=scores,
        keys=None if choices is None else ka.keys,
        n_options=None if choices is None else ka.n_options + zero,
        multi=ka.multi,
        max_points=ka.max_points,
        seen=seen,
        irt=irt,
        similarity=choices is not None and 2 <= n_cand <= 5000,
        options=opts,
    )
    codes = [v.item.code for v in versions]
    out = rep.to_dict(item_ids=codes, include_candidates=False)
    # An answer "0" ("other") is an extra option after the item's own: label it 0.
    for j in np.flatnonzero(zero).tolist():
        extra = int(ka.n_options[j])
        for opt in out["items"][j].get("options", [])[extra:]:
            opt["label"] = "0"
        for flag in out["items"][j]["flags"]:
            if flag["option"] is not None and ord(flag["option"]) - 65 == extra:
                flag["option"] = "0"
    summary = {k: out[k] for k in ("test", "score_groups") if k in out}
    summary["flags"] = out["flags"]
    if out.get("irt"):
        summary["irt"] = {k: v for k, v in out["irt"].items() if k != "items"}
    if out.get("similarity"):
        summary["similarity"] = out["similarity"]
    run = AnalysisRun(
        label=label,
        source=source,
        source_ref=source_ref,
        occupation_id=occ_ids.pop(),
        level=levels.pop(),
        release_id=release_id,
        n_candidates=rep.n_candidates,
        n_items=rep.n_items,
        irt_model=irt or "",
        summary=summary,
        created_by_id=actor.id,
    )
    session.add(run)
    session.flush()
    flagged = 0
    for j, (v, row) in enumerate(zip(versions, out["items"], strict=True)):
        irt_row = row.get("irt") or {}
        session.add(
            ItemStatistic(
                run_id=run.id,
                item_version_id=v.id,
                position=j,
                n=row["n"],
                facility=row["facility"],
                sd=row["sd"],
                item_rest_r=row["item_rest_r"],
                discrimination_index=row["discrimination_index"],
                discriminative_efficiency=row["discriminative_efficiency"],
                alpha_if_deleted=row["alpha_if_deleted"],
                irt_a=irt_row.get("discrimination"),
                irt_b=irt_row.get("difficulty"),
                irt_a_se=irt_row.get("discrimination_se"),
                irt_b_se=irt_row.get("difficulty_se"),
                irt_fit_p=(irt_row.get("fit") or {}).get("p_value"),
                options=row.get("options", []),
                flags=row["flags"],
            )
        )
        if row["flags"]:
            flagged += 1
            _open_task(session, v, run, row["flags"])
    session.flush()
    update_measured(session, [v.id for v in versions])
    record(
        session,
        actor,
        "analysis.run",
        "analysis_run",
        run.id,
        reason=label,
        data={
            "source": source,
            "source_ref": source_ref,
            "candidates": rep.n_candidates,
            "items": rep.n_items,
            "flagged": flagged,
        },
    )
    return run


def _open_task(session: Session, v: ItemVersion, run: AnalysisRun, flags: list[dict]) -> None:
    task = session.scalar(
        select(ReviewTask).where(ReviewTask.item_version_id == v.id, ReviewTask.status == "open")
    )
    evidence = [{**f, "run": run.id} for f in flags]
    if task is None:
        session.add(
            ReviewTask(item_id=v.item_id, item_version_id=v.id, run_id=run.id, reasons=evidence)
        )
    else:
        task.reasons = [*task.reasons, *evidence]
        task.run_id = run.id


def accumulated(session: Session, item_version_id: int) -> dict[str, Any] | None:
    """Statistics of a version pooled over runs, each weighted by its number of responses.

    Facility and SD pool as response-weighted means of the run values; correlations
    (item-rest r, discrimination index) likewise — a simple, stated approximation that keeps
    every run's influence proportional to its size.
    """
    rows = session.scalars(
        select(ItemStatistic).where(ItemStatistic.item_version_id == item_version_id)
    ).all()
    rows = [r for r in rows if r.n > 0]
    if not rows:
        return None
    total = sum(r.n for r in rows)

    def pooled(attr: str) -> float | None:
        pairs = [(getattr(r, attr), r.n) for r in rows if getattr(r, attr) is not None]
        if not pairs:
            return None
        return sum(x * n for x, n in pairs) / sum(n for _x, n in pairs)

    return {
        "n": total,
        "runs": len(rows),
        "facility": pooled("facility"),
        "item_rest_r": pooled("item_rest_r"),
        "discrimination_index": pooled("discrimination_index"),
    }


def update_measured(session: Session, version_ids: list[int]) -> None:
    for vid in version_ids:
        acc = accumulated(session, vid)
        row = session.get(MeasuredDifficulty, vid)
        if acc is None or acc["facility"] is None:
            continue
        if row is None:
            row = MeasuredDifficulty(item_version_id=vid, n=0, facility=0.0, runs=0)
            session.add(row)
        row.n, row.facility, row.runs = acc["n"], acc["facility"], acc["runs"]
        row.item_rest_r = acc["item_rest_r"]
        row.updated_at = utcnow()
    session.flush()


def effective_difficulties(
    session: Session, versions: list[ItemVersion], *, min_responses: int = MIN_RESPONSES
) -> dict[int, float]:
    """Difficulty (expected proportion correct) per version id for balancing papers: the
    measured facility once ``min_responses`` candidates answered, else the author's estimate."""
    ids = [v.id for v in versions]
    measured = {
        m.item_version_id: m
        for m in session.scalars(
            select(MeasuredDifficulty).where(MeasuredDifficulty.item_version_id.in_(ids))
        )
    }
    out = {}
    for v in versions:
        m = measured.get(v.id)
        out[v.id] = m.facility if m is not None and m.n >= min_responses else v.difficulty
    return out


def irt_estimates(session: Session, version_ids: list[int]) -> dict[int, tuple[float, float]]:
    """2PL ``(a, b)`` per item version from the analysis runs that calibrated it, on the
    standard-normal ability scale of the runs (a Rasch run's ``b`` is divided and its slope
    multiplied by its ability SD). Several runs are pooled as response-weighted means, like
    the classical statistics (:func:`accumulated`)."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(ItemStatistic, AnalysisRun.irt_model, AnalysisRun.summary)
        .join(AnalysisRun, AnalysisRun.id == ItemStatistic.run_id)
        .where(
            ItemStatistic.item_version_id.in_(version_ids),
            ItemStatistic.irt_a.is_not(None),
            ItemStatistic.irt_b.is_not(None),
        )
    ).all()
    sums: dict[int, list[float]] = {}
    for stat, model, summary in rows:
        a, b = float(stat.irt_a), float(stat.irt_b)
        if model == "rasch":
            sigma = float(((summary or {}).get("irt") or {}).get("sigma") or 1.0)
            a, b = a * sigma, b / sigma
        if not (a > 0 and np.isfinite(a) and np.isfinite(b)) or stat.n <= 0:
            continue
        acc = sums.setdefault(stat.item_version_id, [0.0, 0.0, 0.0])
        acc[0] += stat.n * a
        acc[1] += stat.n * b
        acc[2] += stat.n
    return {vid: (sa / n, sb / n) for vid, (sa, sb, n) in sums.items()}


def close_task(session: Session, actor: Actor, task_id: int, action: str, note: str) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None:
        raise NotFound(f"no review task {task_id}")
    if action not in ("resolve", "dismiss"):
        raise ValidationFailed("action must be resolve or dismiss", field="action")
    if task.status != "open":
        raise Conflict(f"review task {task_id} is already {task.status}", field="status")
    if not note.strip():
        raise ValidationFailed(
            f"{action} needs a note saying what was done or why not", field="note"
        )
    task.status = "resolved" if action == "resolve" else "dismissed"
    task.note, task.closed_by_id, task.closed_at = note.strip(), actor.id, utcnow()
    session.flush()
    record(
        session,
        actor,
        f"review_task.{task.status}",
        "item",
        task.item.code,
        reason=note,
        data={"task": task.id, "version": task.version.number},
    )
    return task


def analyze_upload(
    session: Session,
    actor: Actor,
    data: bytes,
    filename: str,
    *,
    occupation_id: int,
    level: int,
    release: BankRelease | None = None,
    irt: str | None = None,
    label: str = "",
    cells: str = "auto",
) -> AnalysisRun:
    """Analyse an exported response table (CSV: candidate id, then one column per item code)
    against the bank: a release's versions, or each item's approved (else newest) version.
    ``cells``: ``auto`` (letters or option numbers) or ``scored`` (points per item), see
    :func:`encode_cells`."""
    import csv
    import io

    from .formats import decode_text

    try:
        rows = [r for r in csv.reader(io.StringIO(decode_text(data, source=filename))) if r]
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ValidationFailed(
            "the responses file needs a header (candidate, item codes …) and "
            "at least one candidate row",
            field="file",
        )
    codes = [c.strip() for c in rows[0][1:]]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("an item code appears twice in the header", field="file")
    width = len(rows[0])
    short = next((i + 1 for i, r in enumerate(rows) if len(r) != width), None)
    if short is not None:
        raise ValidationFailed(
            f"row {short} has {len(rows[short - 1])} cells, the header has {width}", field="file"
        )
    versions = _versions_for(session, codes, occupation_id, level, release)
    answers = np.array([r[1:] for r in rows[1:]], dtype=object)
    contents = [ItemContent.model_validate(v.content) for v in versions]
    try:
        enc = encode_cells(answers, contents, cells=cells)
    except ValueError as exc:
        reason = exc.args[0]
        raise ValidationFailed(
            reason if isinstance(reason, Msg) else str(exc), field="file"
        ) from None
    return analyze_versions(
        session,
        actor,
        versions,
        choices=enc.choices,
        seen=enc.seen,
        scores=enc.scores,
        zero_option=enc.zero_option,
        label=label or filename,
        source="upload",
        source_ref=filename,
        release_id=release.id if release else None,
        irt=irt,
    )


def _versions_for(
    session: Session, codes: list[str], occupation_id: int, level: int, release: BankRelease | None
) -> list[ItemVersion]:
    items = {
        i.code: i
        for i in session.scalars(
            select(Item).where(
                Item.code.in_(codes), Item.occupation_id == occupation_id, Item.level == level
            )
        )
    }
    unknown = [c for c in codes if c not in items]
    if unknown:
        raise ValidationFailed(
            f"unknown item codes for this occupation and level: {', '.join(unknown[:10])}",
            field="file",
        )
    if release is not None:
        from .releases import release_versions

        by_item = {v.item_id: v for v in release_versions(session, release)}
        missing = [c for c in codes if items[c].id not in by_item]
        if missing:
            raise ValidationFailed(
                f"items not in release {release.name}: {', '.join(missing[:10])}", field="file"
            )
        return [by_item[items[c].id] for c in codes]
    out = []
    for c in codes:
        versions = session.scalars(
            select(ItemVersion)
            .where(ItemVersion.item_id == items[c].id)
            .order_by(ItemVersion.number.desc())
        ).all()
        approved = [v for v in versions if v.status == "approved"]
        out.append(approved[0] if approved else versions[0])
    return out


def session_response_arrays(
    versions: list[ItemVersion], attempts: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Response arrays over the union of the items of a session's papers.

    ``attempts``: one dict per candidate with ``items`` (the paper's item list: ``version_id``,
    ``options`` in display order) and ``answers`` (position -> response in displayed labels,
    as stored) and ``points`` (position -> points earned, for fill-in items). Choices are
    mapped back to original option labels, so every candidate's answer to an item is coded the
    same way whatever order they saw the options in.
    """
    col = {v.id: j for j, v in enumerate(versions)}
    contents = [ItemContent.model_validate(v.content) for v in versions]
    ka = key_arrays(contents)
    n, j = len(attempts), len(versions)
    choices = np.full((n, j), -1, dtype=np.int64)
    seen = np.zeros((n, j), dtype=bool)
    fill = np.zeros((n, j))
    for row, att in enumerate(attempts):
        for pos, item in enumerate(att["items"], start=1):
            c = col[int(item["version_id"])]
            seen[row, c] = True
            response = att["answers"].get(pos)
            content = contents[c]
            if content.type == ItemType.FILL_BLANK:
                fill[row, c] = float(att["points"].get(pos) or 0)
            elif response is None:
                continue
            elif content.type == ItemType.TRUE_FALSE:
                choices[row, c] = 0 if response == "T" else 1
            else:
                order = item["options"]
                original = "".join(sorted(order[ord(label) - ord("A")] for label in response))
                choices[row, c] = letters_to_code(original, multi=bool(ka.multi[c]))
    if not (ka.n_options == 0).any():
        return choices, seen, None
    is_fill = ka.n_options == 0
    scores = score_choices(
        np.where(is_fill, 0, choices),
        np.where(is_fill, 0, ka.keys),
        n_options=np.maximum(ka.n_options, 1),
        multi=ka.multi,
        max_points=ka.max_points,
    )
    scores = np.where(is_fill, fill, np.where(choices < 0, 0.0, scores))
    return choices, seen, scores
