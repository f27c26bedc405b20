"""Paper assembly: stratified random draw per quota cell, then balancing swaps.

A paper is a pure function of the release content, the blueprint spec, the session seed and the
candidate id — and, when the blueprint has an exposure limit, of the candidates assembled
before it in the same session (see :class:`SessionAssembler`). Its random stream is numpy's
``default_rng`` seeded from a SHA-256 over those inputs (:func:`paper_seed`).

Balanced assembly, per paper:

1. Pinned items first; their enemies are blocked for this paper.
2. For each cell (tightest first), draw the cell's remaining quota uniformly from its eligible
   items that are not blocked by an enemy already on the paper and have not reached the
   exposure limit (a partial Fisher–Yates shuffle that drops unavailable items).
3. While the expected score ``S = Σ points × difficulty`` is further than half the tolerance
   from the target ``T``, pick a random drawn item and swap it for the available item of the
   same cell whose difficulty brings ``S`` closest to ``T``; a swap is kept only if it brings
   ``S`` closer. A paper still outside the tolerance after ``max_swaps`` attempts fails.
4. Questions are shuffled within each section (or put in knowledge-point and code order) and
   options are shuffled, keeping "keep last" options at the end in their original order.

The naive draw (:func:`naive_paper`) does step 2 only, with no pins, enemies, exposure limit or
balancing — the way common systems draw random questions — for comparison.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from ..blueprints import BlueprintInfeasible, Problem
from ..messages import msg
from ..schema import OPTION_LABELS
from .plan import Plan, max_uses_for, session_problems

SEED_TAG = "exam-paper-v1"
NAIVE_TAG = "exam-paper-naive-v1"
AIM = 0.5  # balancing stops once a paper is within AIM × tolerance of the target
_WIDTH = len(OPTION_LABELS)


def paper_seed(
    release_hash: str, spec_hash: str, session_seed: str, candidate: str, *, tag: str = SEED_TAG
) -> str:
    """Hex SHA-256 over the length-prefixed inputs of one paper."""
    fields = [tag, release_hash, spec_hash, str(session_seed), str(candidate)]
    blob = "".join(f"{len(f)}:{f};" for f in fields)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def rng_for(seed_hex: str) -> np.random.Generator:
    return np.random.default_rng(int(seed_hex[:32], 16))


@dataclass(frozen=True)
class Paper:
    """One candidate's paper, in display order.

    ``options[k]`` lists item ``k``'s original option labels in the order the candidate sees
    them: the option shown as ``A`` is ``options[k][0]`` (empty for items without options).
    ``indices`` are positions in the pool the paper was drawn from.
    """

    candidate: str
    version_ids: tuple[int, ...]
    codes: tuple[str, ...]
    sections: tuple[int, ...]
    points: tuple[Decimal, ...]
    options: tuple[str, ...]
    expected_score: float
    seed: str
    indices: tuple[int, ...] = field(repr=False)
    information: float | None = None  # test information at θ_cut, when the plan has it

    def __len__(self) -> int:
        return len(self.version_ids)

    def items_json(self) -> list[dict[str, Any]]:
        return [
            {"version_id": v, "code": c, "section": s, "points": str(p), "options": o}
            for v, c, s, p, o in zip(
                self.version_ids, self.codes, self.sections, self.points, self.options, strict=True
            )
        ]

    def to_json(self) -> dict[str, Any]:
        out = {
            "candidate": self.candidate,
            "seed": self.seed,
            "expected_score": round(self.expected_score, 6),
            "items": self.items_json(),
        }
        if self.information is not None:
            out["information"] = round(self.information, 6)
        return out

    @property
    def paper_hash(self) -> str:
        from ..schema import content_hash

        return content_hash(self.items_json())


@dataclass(frozen=True)
class PaperFailure:
    candidate: str
    rule: str
    message: str
    expected_score: float | None = None
    information: float | None = None


class PaperFailed(Exception):
    def __init__(self, failure: PaperFailure):
        super().__init__(failure.message)
        self.failure = failure


class SessionAssembler:
    """Assembles the papers of one session in order, tracking item exposure.

    ``n_papers`` sets the exposure limit in papers (``floor(limit% × n_papers)``, at least 1).
    To continue a session (a candidate added later), replay its papers in their order first.

    Exposure: with ``R`` papers still to make, an item with ``cap`` uses left can still be used
    ``min(cap, R)`` times. While a cell's slack ``Σ min(cap, R) − need × R`` is not negative,
    the rest of the session can be filled; an item left off this paper while ``cap >= R``
    (saturated) lowers the slack by one. So each paper first draws at least
    ``saturated − slack`` of the saturated items (and balancing swaps those only for other
    saturated items), which keeps the slack non-negative to the last paper whenever the
    exposure check passed and enemy groups do not block saturated items.
    """

    def __init__(
        self,
        plan: Plan,
        session_seed: str,
        *,
        n_papers: int,
        max_swaps: int | None = None,
    ):
        if plan.problems:
            raise BlueprintInfeasible(plan.problems)
        problems = session_problems(plan, n_papers)
        if problems:
            raise BlueprintInfeasible(problems, what="session cannot be assembled")
        self.plan = plan
        self.session_seed = str(session_seed)
        self.n_papers = n_papers
        pool = plan.pool
        self.n = len(pool)
        limit = plan.spec.exposure_limit
        self.max_uses = max_uses_for(limit, n_papers) if limit is not None else None
        self.counts = [0] * self.n
        self.done = 0
        self.diff = pool.difficulty.tolist()
        self.pts = [float(p) for p in plan.section_points]
        self.length = plan.spec.paper_length
        self.max_swaps = max_swaps if max_swaps is not None else 10 + 2 * self.length
        # Tightest cells first, so scarce items are not blocked by enemies drawn elsewhere.
        self.order = sorted(
            range(len(plan.cells)),
            key=lambda k: (len(plan.cells[k].pool) - plan.cells[k].need, k),
        )
        self.pinned = [(i, self._cell_of_pin(i)) for i in plan.pinned]
        self.shuffle_q = [s.shuffle_questions for s in plan.spec.sections]
        # Cells that draw items, their pools laid end to end (for the vectorised slack).
        self.drawn = [k for k, c in enumerate(plan.cells) if c.need > 0]
        self.flat = np.asarray([i for k in self.drawn for i in plan.cells[k].pool], dtype=np.int64)
        sizes = [len(plan.cells[k].pool) for k in self.drawn]
        self.offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        self.needs = np.asarray([plan.cells[k].need for k in self.drawn], dtype=np.int64)
        self.counts_np = np.zeros(self.n, dtype=np.int64)
        info_plan = plan.information
        self.info = info_plan.item_information if info_plan is not None else None
        self.balance_info = plan.balances_information
        if self.balance_info:
            # Per cell, the items and their contributions scaled by the tolerances, so one swap
            # search is a handful of vector operations.
            d = pool.difficulty
            inf = np.asarray(self.info)
            tol_s, tol_i = plan.tolerance, info_plan.tolerance
            self.cell_items = [np.asarray(c.pool, dtype=np.int64) for c in plan.cells]
            self.cell_ds = [
                d[items] * (self.pts[c.section] / tol_s)
                for items, c in zip(self.cell_items, plan.cells, strict=True)
            ]
            self.cell_is = [inf[items] / tol_i for items in self.cell_items]
            self.exhausted = np.zeros(self.n, dtype=bool)
            self.blocked_np = np.zeros(self.n, dtype=np.int64)

    def resize(self, n_papers: int) -> None:
        """Continue the session with ``n_papers`` papers in all (candidates added late): the
        exposure limit applies to the larger session from here on."""
        self.n_papers = n_papers
        limit = self.plan.spec.exposure_limit
        self.max_uses = max_uses_for(limit, n_papers) if limit is not None else None
        if self.balance_info and self.max_uses is not None:
            self.exhausted = self.counts_np >= self.max_uses

    def _must(self) -> dict[int, tuple[int, list[int], set[int]]]:
        """Per cell: how many saturated items this paper must take, and which are saturated."""
        if self.max_uses is None or not self.drawn:
            return {}
        remaining = max(1, self.n_papers - self.done)
        if remaining > self.max_uses:
            return {}  # no item can be saturated yet
        caps = self.max_uses - self.counts_np[self.flat]
        saturated = caps >= remaining
        n_sat = np.add.reduceat(saturated.astype(np.int64), self.offsets)
        slack = np.add.reduceat(np.minimum(caps, remaining), self.offsets) - self.needs * remaining
        must = n_sat - np.maximum(slack, 0)
        out = {}
        for c in np.nonzero(must > 0)[0].tolist():
            lo = int(self.offsets[c])
            hi = lo + len(self.plan.cells[self.drawn[c]].pool)
            items = self.flat[lo:hi][saturated[lo:hi]].tolist()
            out[self.drawn[c]] = (min(int(must[c]), self.needs[c].item()), items, set(items))
        return out

    def _cell_of_pin(self, i: int) -> int:
        return next(k for k, c in enumerate(self.plan.cells) if i in c.pinned)

    def paper(self, candidate: str) -> Paper:
        """The next paper, for ``candidate``; raises :class:`PaperFailed` if it breaks a rule
        (nothing is counted then)."""
        plan = self.plan
        pool = plan.pool
        cells = plan.cells
        diff = self.diff
        pts = self.pts
        enemies = plan.enemies
        counts = self.counts
        max_uses = self.max_uses if self.max_uses is not None else 1 << 60
        seed = paper_seed(pool.content_hash, plan.spec_hash, self.session_seed, candidate)
        rng = rng_for(seed)
        buf = rng.random(4 * self.length + 64).tolist()
        pos = 0

        used = bytearray(self.n)
        blocked = [0] * self.n
        sel: list[int] = []
        sel_cell: list[int] = []

        def take(i: int) -> None:
            used[i] = 1
            for e in enemies[i]:
                blocked[e] += 1

        for i, _k in self.pinned:
            take(i)
        pinned_items = [i for i, _ in self.pinned]
        pinned_cells = [k for _, k in self.pinned]

        def draw(items: list[int], count: int, k: int, lock: bool) -> int:
            """Partial Fisher–Yates over ``items`` (a copy), dropping unavailable ones."""
            nonlocal pos
            lo, hi = 0, len(items)
            got = 0
            while got < count and lo < hi:
                if pos >= len(buf):
                    buf.extend(rng.random(64).tolist())
                r = lo + int(buf[pos] * (hi - lo))
                pos += 1
                i = items[r]
                if used[i] or blocked[i] or counts[i] >= max_uses:
                    hi -= 1
                    items[r] = items[hi]
                    items[hi] = i
                else:
                    items[r] = items[lo]
                    items[lo] = i
                    lo += 1
                    got += 1
                    take(i)
                    if lock:
                        locked.add(len(sel))
                    sel.append(i)
                    sel_cell.append(k)
            return got

        must = self._must()
        locked: set[int] = set()
        for k in self.order:
            cell = cells[k]
            need = cell.need
            if need <= 0:
                continue
            got = 0
            if k in must:
                count, saturated, _ = must[k]
                got = draw(saturated.copy(), count, k, True)
            got += draw(cell.pool.copy(), need - got, k, False)
            if got < need:
                spec_section = plan.spec.sections[cell.section]
                raise PaperFailed(
                    PaperFailure(
                        candidate,
                        "assembly.shortage",
                        f"knowledge point {cell.node} ran out of {spec_section.type_name} items "
                        f"({got} of {need}) under the enemy groups and the exposure limit",
                    )
                )

        target = plan.target
        score = sum(
            pts[cells[k].section] * diff[i] for i, k in zip(pinned_items, pinned_cells, strict=True)
        )
        score += sum(pts[cells[k].section] * diff[i] for i, k in zip(sel, sel_cell, strict=True))
        information = None
        if self.balance_info:
            score, information, attempts, pos = self._balance_both(
                sel, sel_cell, locked, must, used, blocked, max_uses, score, buf, pos, rng,
                pinned_items,
            )  # fmt: skip
        else:
            aim = AIM * plan.tolerance
            attempts = 0
            n_free = len(sel)
            while abs(score - target) > aim and attempts < self.max_swaps and n_free:
                attempts += 1
                if pos >= len(buf):
                    buf.extend(rng.random(64).tolist())
                j = int(buf[pos] * n_free)
                pos += 1
                a = sel[j]
                cell = cells[sel_cell[j]]
                p = pts[cell.section]
                want = diff[a] + (target - score) / p
                # A saturated item drawn because it must be may only give way to another one.
                allowed = must[sel_cell[j]][2] if j in locked else None
                b = self._nearest_available(cell, want, used, blocked, max_uses, allowed)
                if b < 0:
                    continue
                new = score + p * (diff[b] - diff[a])
                if abs(new - target) < abs(score - target) - 1e-12:
                    used[a] = 0
                    for e in enemies[a]:
                        blocked[e] -= 1
                    take(b)
                    sel[j] = b
                    score = new
            if self.info is not None:
                information = sum(self.info[i] for i in pinned_items) + sum(
                    self.info[i] for i in sel
                )
        # Both out of band: the information is named (score-only balancing would succeed).
        if self.balance_info:
            ip = plan.information
            if abs(information - ip.target) > ip.tolerance + 1e-9:
                raise PaperFailed(
                    PaperFailure(
                        candidate,
                        "assembly.information",
                        f"information {information:.3f} at the pass mark stays outside "
                        f"{ip.target:.3f} ± {ip.tolerance:.3f} after {attempts} swap attempts",
                        score,
                        information,
                    )
                )
        if abs(score - target) > plan.tolerance + 1e-9:
            raise PaperFailed(
                PaperFailure(
                    candidate,
                    "assembly.tolerance",
                    f"expected score {score:.2f} stays outside {target:.2f} ± "
                    f"{plan.tolerance:.2f} after {attempts} swap attempts",
                    score,
                    information,
                )
            )
        for i in sel:
            counts[i] += 1
        self.counts_np[sel] += 1
        if self.balance_info and self.max_uses is not None:
            self.exhausted[sel] = self.counts_np[sel] >= self.max_uses
        self.done += 1
        return self._finish(
            candidate,
            seed,
            rng,
            buf[pos:],
            pinned_items + sel,
            pinned_cells + sel_cell,
            score,
            information,
        )

    def _balance_both(
        self, sel, sel_cell, locked, must, used, blocked, max_uses, score, buf, pos, rng, pinned
    ):
        """Swaps that bring both the expected score and the information at θ_cut within
        half their tolerances: a random drawn item gives way to the available item of its cell
        that minimises ``((S − T) / tol_S)² + ((I − I_T) / tol_I)²``; a swap is kept only if
        it lowers that distance."""
        plan = self.plan
        cells = plan.cells
        pts = self.pts
        diff = self.diff
        info = self.info
        enemies = plan.enemies
        ip = plan.information
        target, t_info = plan.target, ip.target
        tol_s, tol_i = plan.tolerance, ip.tolerance
        aim_s, aim_i = AIM * tol_s, AIM * tol_i
        information = sum(info[i] for i in pinned) + sum(info[i] for i in sel)
        # Unavailable items: on the paper, blocked by an enemy on it, or at the exposure limit.
        unavailable = np.frombuffer(used, dtype=np.uint8).astype(bool)
        unavailable |= self.exhausted
        blocked_np = self.blocked_np
        touched = [e for i in (*pinned, *sel) for e in enemies[i]]
        for e in touched:
            blocked_np[e] += 1
        if touched:
            unavailable[touched] = True
        attempts = 0
        n_free = len(sel)
        while (
            (abs(score - target) > aim_s or abs(information - t_info) > aim_i)
            and attempts < self.max_swaps
            and n_free
        ):
            attempts += 1
            if pos >= len(buf):
                buf.extend(rng.random(64).tolist())
            j = int(buf[pos] * n_free)
            pos += 1
            a = sel[j]
            k = sel_cell[j]
            p = pts[cells[k].section]
            items = self.cell_items[k]
            u = self.cell_ds[k] + (score - p * diff[a] - target) / tol_s
            v = self.cell_is[k] + (information - info[a] - t_info) / tol_i
            cost = u * u + v * v
            bad = unavailable[items]
            if j in locked:  # a saturated item drawn because it must be gives way to another
                bad |= ~np.isin(items, must[k][1])
            cost[bad] = np.inf
            t = int(np.argmin(cost))
            now = ((score - target) / tol_s) ** 2 + ((information - t_info) / tol_i) ** 2
            if cost[t] < now - 1e-12:
                b = int(items[t])
                unavailable[a] = False
                for e in enemies[a]:
                    blocked_np[e] -= 1
                    if blocked_np[e] == 0 and not used[e] and not self.exhausted[e]:
                        unavailable[e] = False
                used[a] = 0
                used[b] = 1
                unavailable[b] = True
                for e in enemies[b]:
                    blocked_np[e] += 1
                    unavailable[e] = True
                    touched.append(e)
                sel[j] = b
                score += p * (diff[b] - diff[a])
                information += info[b] - info[a]
        if touched:
            blocked_np[touched] = 0
        return score, information, attempts, pos

    def _nearest_available(
        self,
        cell,
        want: float,
        used: bytearray,
        blocked: list[int],
        max_uses: int,
        allowed: set[int] | None = None,
    ) -> int:
        """The available item of ``cell`` whose difficulty is closest to ``want`` (or -1)."""
        values = cell.sorted_difficulty
        items = cell.by_difficulty
        counts = self.counts
        right = bisect.bisect_left(values, want)
        left = right - 1
        n = len(values)
        while left >= 0 or right < n:
            if right >= n or (left >= 0 and want - values[left] <= values[right] - want):
                i = items[left]
                left -= 1
            else:
                i = items[right]
                right += 1
            if (
                not used[i]
                and not blocked[i]
                and counts[i] < max_uses
                and (allowed is None or i in allowed)
            ):
                return i
        return -1

    def _finish(
        self,
        candidate: str,
        seed: str,
        rng: np.random.Generator,
        keys: list[float],
        chosen: list[int],
        chosen_cells: list[int],
        score: float,
        information: float | None = None,
    ) -> Paper:
        return finish_paper(
            self.plan,
            candidate,
            seed,
            rng,
            keys,
            chosen,
            chosen_cells,
            score,
            self.shuffle_q,
            information,
        )


def finish_paper(
    plan: Plan,
    candidate: str,
    seed: str,
    rng: np.random.Generator,
    keys: list[float],
    chosen: list[int],
    chosen_cells: list[int],
    score: float,
    shuffle_q: list[bool],
    information: float | None = None,
) -> Paper:
    """Order the chosen items by section (shuffled or canonical) and permute their options."""
    pool = plan.pool
    cells = plan.cells
    if len(keys) < len(chosen):
        keys = keys + rng.random(len(chosen) - len(keys)).tolist()
    rank = plan.canon_rank
    n_sections = len(plan.spec.sections)
    per_section: list[list[tuple[float, int]]] = [[] for _ in range(n_sections)]
    for n, (i, k) in enumerate(zip(chosen, chosen_cells, strict=True)):
        s = cells[k].section
        per_section[s].append((keys[n] if shuffle_q[s] else rank[i], i))
    order: list[int] = []
    section_of: list[int] = []
    for s, entries in enumerate(per_section):
        entries.sort()
        order.extend(i for _, i in entries)
        section_of.extend([s] * len(entries))
    idx = np.asarray(order, dtype=np.int64)
    option_keys = rng.random((len(order), _WIDTH)) + plan.option_offsets[idx]
    perm = (np.argsort(option_keys, axis=1, kind="stable").astype(np.uint8) + 65).tobytes()
    labels = pool.option_labels
    options = tuple(
        perm[_WIDTH * n : _WIDTH * n + len(labels[i])].decode("ascii") for n, i in enumerate(order)
    )
    section_points = plan.section_points
    return Paper(
        candidate=candidate,
        version_ids=tuple(pool.version_ids[i] for i in order),
        codes=tuple(pool.codes[i] for i in order),
        sections=tuple(section_of),
        points=tuple(section_points[s] for s in section_of),
        options=options,
        expected_score=score,
        seed=seed,
        indices=tuple(order),
        information=information,
    )


def naive_paper(plan: Plan, session_seed: str, candidate: str) -> Paper:
    """A paper drawn uniformly per quota cell: section counts and quotas only (no pins,
    enemies, exposure limit or balancing)."""
    if plan.problems:
        raise BlueprintInfeasible(plan.problems)
    pool = plan.pool
    seed = paper_seed(pool.content_hash, plan.spec_hash, session_seed, candidate, tag=NAIVE_TAG)
    rng = rng_for(seed)
    diff = pool.difficulty.tolist()
    pts = [float(p) for p in plan.section_points]
    buf = rng.random(plan.spec.paper_length).tolist()
    pos = 0
    chosen: list[int] = []
    chosen_cells: list[int] = []
    score = 0.0
    for k, cell in enumerate(plan.cells):
        items = cell.pool + cell.pinned
        m = len(items)
        for t in range(cell.quota):
            r = t + int(buf[pos] * (m - t))
            pos += 1
            items[t], items[r] = items[r], items[t]
            chosen.append(items[t])
            chosen_cells.append(k)
            score += pts[cell.section] * diff[items[t]]
    shuffle_q = [s.shuffle_questions for s in plan.spec.sections]
    info = plan.information.item_information if plan.information is not None else None
    information = None if info is None else sum(info[i] for i in chosen)
    return finish_paper(
        plan, candidate, seed, rng, [], chosen, chosen_cells, score, shuffle_q, information
    )


@dataclass
class SessionResult:
    """The papers of a session (in the order the candidates were given) and any failures."""

    papers: list[Paper]
    failures: list[PaperFailure]
    counts: list[int]

    @property
    def ok(self) -> bool:
        return not self.failures


def assembly_order(candidates: list[str]) -> list[str]:
    """The deterministic order papers of a session are assembled in: sorted candidate ids."""
    return sorted(candidates)


def assemble(
    plan: Plan,
    session_seed: str,
    candidates: list[str],
    *,
    naive: bool = False,
    n_papers: int | None = None,
) -> SessionResult:
    """Assemble one paper per candidate (ids are strings, unique within the session).

    With an exposure limit, papers are made in :func:`assembly_order` so the session can be
    rebuilt exactly. A candidate whose paper breaks a rule is listed in ``failures``.
    """
    candidates = [str(c) for c in candidates]
    if len(set(candidates)) != len(candidates):
        dupes = sorted({c for c in candidates if candidates.count(c) > 1})
        raise ValueError(f"candidate ids must be unique in a session: {', '.join(dupes[:5])}")
    if naive:
        papers = [naive_paper(plan, session_seed, c) for c in candidates]
        return SessionResult(papers, [], [])
    assembler = SessionAssembler(plan, session_seed, n_papers=n_papers or len(candidates))
    made: dict[str, Paper] = {}
    failures: list[PaperFailure] = []
    for c in assembly_order(candidates):
        try:
            made[c] = assembler.paper(c)
        except PaperFailed as exc:
            failures.append(exc.failure)
    return SessionResult([made[c] for c in candidates if c in made], failures, assembler.counts)


def failure_problems(plan: Plan, failures: list[PaperFailure], n_papers: int) -> list[Problem]:
    """Failed papers summarised as one problem per rule."""
    out = []
    by_rule: dict[str, list[PaperFailure]] = {}
    for f in failures:
        by_rule.setdefault(f.rule, []).append(f)
    for rule, fs in sorted(by_rule.items()):
        example = fs[0]
        if rule == "assembly.tolerance":
            scores = [f.expected_score for f in fs if f.expected_score is not None]
            message = (
                f"{len(fs)} of {n_papers} papers cannot be balanced within "
                f"{plan.target:.2f} ± {plan.tolerance:.2f} points (they reach "
                f"{min(scores):.2f}–{max(scores):.2f}); add items of the needed difficulty, "
                f"widen the tolerance or relax the exposure limit"
            )
        elif rule == "assembly.information":
            ip = plan.information
            values = [f.information for f in fs if f.information is not None]
            message = msg(
                "assembly_information",
                "%(failed)s of %(papers)s papers cannot be balanced within %(target)s ± "
                "%(tolerance)s of test information at the pass mark (they reach %(low)s–"
                "%(high)s); add calibrated items that measure near the pass mark, widen "
                "information.tolerance or relax the exposure limit.",
                failed=len(fs),
                papers=n_papers,
                target=f"{ip.target:.2f}",
                tolerance=f"{ip.tolerance:.2f}",
                low=f"{min(values):.2f}",
                high=f"{max(values):.2f}",
            )
        else:
            message = (
                f"{len(fs)} of {n_papers} papers cannot be filled: {example.message} "
                f"(first: candidate {example.candidate})"
            )
        out.append(Problem(rule, message, None))
    return out
