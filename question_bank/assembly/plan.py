"""A blueprint resolved against one release: quotas, eligible items per cell, feasibility.

A *cell* is one (section, knowledge point) pair with its quota: every paper holds exactly
``quota`` items of the section's type whose leaf knowledge point lies under the cell's node,
pinned items included. :func:`plan_blueprint` turns a spec and a pool into a :class:`Plan`
with every cell's eligible items, and lists every rule the release cannot meet as a
:class:`~question_bank.blueprints.Problem` — it never raises for an infeasible blueprint, so a
feasibility check can show all problems at once.

Quota rounding (derived quotas): each node's exact share is ``count × w`` where ``w`` is the
product of the node's and its ancestors' weights, each divided by the sum of its siblings'
weights (exact fractions). Every node gets the whole part of its share; the items left over go
one each to the nodes with the largest fractional remainders, ties broken by knowledge-point
code (ascending). The quotas therefore always add up to the section count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from ..blueprints import BlueprintSpec, Problem, spec_problems
from ..messages import msg
from ..schema import OPTION_LABELS
from .pool import ItemPool

PAD = 1e9  # sorts absent options after every real one
KEPT = 10.0  # sorts kept-last options after the shuffled ones, in their original order


# -- the knowledge table --------------------------------------------------------------------


@dataclass
class Node:
    code: str
    share: Fraction  # of the whole table
    depth: int
    parent: str | None
    children: list[str] = field(default_factory=list)


class KnowledgeTable:
    """The knowledge-table snapshot of a release, with each node's share of the whole."""

    def __init__(self, tree: list[dict[str, Any]]):
        self.nodes: dict[str, Node] = {}
        self.roots: list[str] = []
        self._add(tree, None, Fraction(1), 1)
        self._leaves: dict[str, frozenset[str]] = {}

    def _add(self, nodes: list[dict[str, Any]], parent: str | None, share: Fraction, depth: int):
        total = sum((Fraction(str(n.get("weight", 0))) for n in nodes), Fraction(0))
        for n in nodes:
            w = Fraction(str(n.get("weight", 0)))
            node = Node(n["code"], share * (w / total if total else 0), depth, parent)
            self.nodes[node.code] = node
            if parent is None:
                self.roots.append(node.code)
            else:
                self.nodes[parent].children.append(node.code)
            self._add(n.get("children") or [], node.code, node.share, depth + 1)

    def __contains__(self, code: str) -> bool:
        return code in self.nodes

    def leaves_under(self, code: str) -> frozenset[str]:
        if code not in self._leaves:
            node = self.nodes[code]
            if not node.children:
                out = frozenset([code])
            else:
                out = frozenset().union(*(self.leaves_under(c) for c in node.children))
            self._leaves[code] = out
        return self._leaves[code]

    def is_ancestor(self, a: str, b: str) -> bool:
        """True if node ``a`` lies above node ``b``."""
        p = self.nodes[b].parent
        while p is not None:
            if p == a:
                return True
            p = self.nodes[p].parent
        return False

    def at_depth(self, depth: int | None) -> list[str]:
        """Nodes at ``depth`` (1 = top level) plus leaves above it; ``None``: every leaf."""
        out = []
        stack = list(reversed(self.roots))
        while stack:
            code = stack.pop()
            node = self.nodes[code]
            if not node.children or (depth is not None and node.depth >= depth):
                out.append(code)
            else:
                stack.extend(reversed(node.children))
        return sorted(out)


def largest_remainder(shares: dict[str, Fraction], total: int) -> dict[str, int]:
    """Integers proportional to ``shares`` that add up to exactly ``total``.

    Whole parts first; the rest go one each to the largest remainders, ties by code.

    >>> largest_remainder({"A": Fraction(1, 3), "B": Fraction(1, 3), "C": Fraction(1, 3)}, 4)
    {'A': 2, 'B': 1, 'C': 1}
    """
    whole = sum(shares.values(), Fraction(0))
    if whole <= 0:
        raise ValueError("shares must add up to more than zero")
    exact = {c: total * s / whole for c, s in shares.items()}
    out = {c: math.floor(v) for c, v in exact.items()}
    left = total - sum(out.values())
    for c in sorted(exact, key=lambda c: (-(exact[c] - out[c]), c))[:left]:
        out[c] += 1
    return out


def derived_quotas(table: KnowledgeTable, count: int, depth: int | None) -> dict[str, int]:
    nodes = table.at_depth(depth)
    return largest_remainder({c: table.nodes[c].share for c in nodes}, count)


# -- the plan -------------------------------------------------------------------------------


@dataclass
class InformationPlan:
    """Test information at the cut score θ_cut, per item and for the session's target.

    ``theta_cut`` is the ability whose expected score on an average paper of the release
    equals the pass mark (on the scale of the bank's IRT estimates). ``item_information`` is
    ``a² P (1 − P)`` at θ_cut per pool item (estimates where the bank has them, else the
    difficulty with a default discrimination). ``balance`` says whether papers are balanced
    on it (spec ``information.balance``: ``auto`` = once any eligible item is calibrated).
    """

    theta_cut: float
    item_information: list[float]
    target: float
    target_from_bank: bool
    tolerance: float  # absolute, either side of the target
    relative_tolerance: float
    balance: bool
    calibrated_items: int
    eligible_items: int
    information_range: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "theta_cut": round(self.theta_cut, 4),
            "target": round(self.target, 4),
            "target_from_bank": self.target_from_bank,
            "tolerance": round(self.tolerance, 4),
            "relative_tolerance": self.relative_tolerance,
            "balanced": self.balance,
            "calibrated_items": self.calibrated_items,
            "eligible_items": self.eligible_items,
            "information_range": None
            if self.information_range is None
            else [round(v, 4) for v in self.information_range],
        }


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _cell_average(cells: list[Cell], pts: list[float], values: np.ndarray) -> np.ndarray:
    """Σ over cells of points × (pinned values + need × mean of the eligible items' values),
    for ``values`` of shape (items, …): the value of an average paper."""
    out = np.zeros(values.shape[1:])
    for c in cells:
        if c.need < 0 or (c.need > 0 and not c.pool):
            continue
        fixed = values[c.pinned].sum(axis=0) if c.pinned else 0.0
        mean = values[c.pool].mean(axis=0) if c.pool else 0.0
        out = out + pts[c.section] * (fixed + c.need * mean)
    return out


def expected_score_curve(plan: Plan, theta: np.ndarray) -> np.ndarray:
    """Expected score of an average paper of the plan at each ability (2PL, points)."""
    a, b = plan.pool.item_parameters
    p = _logistic(a[:, None] * (np.asarray(theta)[None, :] - b[:, None]))
    return _cell_average(plan.cells, [float(x) for x in plan.section_points], p)


def _information_plan(
    spec: BlueprintSpec,
    pool: ItemPool,
    cells: list[Cell],
    pts: list[float],
    problems: list[Problem],
) -> InformationPlan | None:
    eligible = sorted({i for c in cells for i in c.pool} | {i for c in cells for i in c.pinned})
    if not eligible or any(c.need < 0 or len(c.pool) < c.need for c in cells):
        return None
    cal = pool.calibrated
    n_cal = int(cal[eligible].sum())
    mode = spec.information.balance
    balance = mode == "on" or (mode == "auto" and n_cal > 0)
    a, b = pool.item_parameters

    # θ_cut: the average paper's expected score equals the pass mark (it rises with θ).
    def score_at(theta: float) -> float:
        return float(_cell_average(cells, pts, _logistic(a * (theta - b))[:, None])[0])

    cut = float(spec.pass_mark)
    lo, hi = -8.0, 8.0
    if score_at(lo) >= cut:
        theta_cut = lo
    elif score_at(hi) <= cut:
        theta_cut = hi
    else:
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if score_at(mid) < cut else (lo, mid)
        theta_cut = 0.5 * (lo + hi)
    pc = _logistic(a * (theta_cut - b))
    info = a * a * pc * (1.0 - pc)
    ones = [1.0] * len(pts)
    mean_info = float(_cell_average(cells, ones, info[:, None])[0])
    target_from_bank = spec.information.target is None
    target = mean_info if target_from_bank else float(spec.information.target)
    rel = spec.information.tolerance
    lo_sum = hi_sum = 0.0
    for c in cells:
        fixed = float(info[c.pinned].sum()) if c.pinned else 0.0
        values = np.sort(info[c.pool])
        lo_sum += fixed + float(values[: c.need].sum())
        hi_sum += fixed + (float(values[len(values) - c.need :].sum()) if c.need else 0.0)
    if balance and (target * (1 + rel) < lo_sum - 1e-9 or target * (1 - rel) > hi_sum + 1e-9):
        problems.append(
            Problem(
                "information.unreachable",
                msg(
                    "information_unreachable",
                    "The information target %(target)s ± %(percent)s%% at the pass mark "
                    "(θ = %(theta)s) cannot be reached: papers from release %(release)s have "
                    "between %(low)s and %(high)s.",
                    target=f"{target:.2f}",
                    percent=f"{rel * 100:g}",
                    theta=f"{theta_cut:.2f}",
                    release=pool.name,
                    low=f"{lo_sum:.2f}",
                    high=f"{hi_sum:.2f}",
                ),
                "information.target",
            )
        )
    return InformationPlan(
        theta_cut=theta_cut,
        item_information=info.tolist(),
        target=target,
        target_from_bank=target_from_bank,
        tolerance=rel * target,
        relative_tolerance=rel,
        balance=balance,
        calibrated_items=n_cal,
        eligible_items=len(eligible),
        information_range=(lo_sum, hi_sum),
    )


@dataclass
class Cell:
    """One (section, knowledge point) quota with the items that may fill it."""

    section: int
    node: str
    quota: int
    pinned: list[int]
    pool: list[int]  # eligible, not pinned, not an enemy of a pinned item
    by_difficulty: list[int] = field(default_factory=list)
    sorted_difficulty: list[float] = field(default_factory=list)

    @property
    def need(self) -> int:
        """Items to draw on every paper (the quota less the pinned items)."""
        return self.quota - len(self.pinned)


@dataclass
class Plan:
    """A spec resolved against a pool. ``problems`` empty means the blueprint can be met."""

    spec: BlueprintSpec
    spec_hash: str
    pool: ItemPool
    cells: list[Cell]
    problems: list[Problem]
    warnings: list[Problem]
    quotas: list[dict[str, int]]
    pinned: list[int]
    enemies: list[tuple[int, ...]]
    section_points: list[Decimal]
    target: float  # expected score (points) every paper aims at
    target_from_bank: bool
    tolerance: float  # points either side of the target
    score_range: tuple[float, float] | None
    option_offsets: np.ndarray
    canon_rank: list[int]
    information: InformationPlan | None = None

    @property
    def feasible(self) -> bool:
        return not self.problems

    @property
    def balances_information(self) -> bool:
        return self.information is not None and self.information.balance

    @property
    def total_points(self) -> float:
        return float(self.spec.total_points)

    def to_dict(self) -> dict[str, Any]:
        """The feasibility report: problems, warnings, quotas per section and the target."""
        sections = []
        for s_index, s in enumerate(self.spec.sections):
            cells = [c for c in self.cells if c.section == s_index]
            sections.append(
                {
                    "type": s.type,
                    "count": s.count,
                    "points": str(s.points),
                    "difficulty_band": [s.difficulty_min, s.difficulty_max],
                    "quota_rule": "by hand"
                    if s.quotas is not None
                    else "largest remainder, "
                    + ("leaf points" if s.quota_depth is None else f"depth {s.quota_depth}"),
                    "quotas": [
                        {
                            "knowledge_point": c.node,
                            "quota": c.quota,
                            "pinned": len(c.pinned),
                            "eligible": len(c.pool),
                        }
                        for c in cells
                    ],
                }
            )
        return {
            "feasible": self.feasible,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
            "release": self.pool.name,
            "spec_hash": self.spec_hash,
            "items_per_paper": self.spec.paper_length,
            "total_points": str(self.spec.total_points),
            "target": {
                "proportion": round(self.target / self.total_points, 4),
                "expected_score": round(self.target, 3),
                "tolerance_points": round(self.tolerance, 3),
                "from_bank": self.target_from_bank,
            },
            "score_range": None
            if self.score_range is None
            else [round(self.score_range[0], 3), round(self.score_range[1], 3)],
            "information": None if self.information is None else self.information.to_dict(),
            "sections": sections,
        }


def _band_text(lo: float, hi: float) -> str:
    return "" if (lo, hi) == (0.0, 1.0) else f" of difficulty {lo:g}–{hi:g}"


def plan_blueprint(spec: BlueprintSpec, pool: ItemPool) -> Plan:
    """Resolve ``spec`` against ``pool``; every rule the pool cannot meet is in ``problems``."""
    problems = list(spec_problems(spec))
    warnings: list[Problem] = []
    table = KnowledgeTable(pool.tree)
    index = pool.index
    n = len(pool)
    types = pool.types
    kps = pool.knowledge_points
    diff = pool.difficulty.tolist()
    section_of_type = {s.type: i for i, s in enumerate(spec.sections)}

    # Quotas per section.
    quotas: list[dict[str, int]] = []
    for i, s in enumerate(spec.sections):
        where = f"sections.{i}.quotas"
        if s.quotas is not None:
            unknown = sorted(c for c in s.quotas if c not in table)
            for code in unknown:
                problems.append(
                    Problem(
                        "quotas.unknown_point",
                        f"section {i + 1} has a quota for knowledge point {code}, which is not in "
                        f"the knowledge table of release {pool.name}",
                        f"{where}.{code}",
                    )
                )
            known = [c for c in s.quotas if c in table and s.quotas[c] > 0]
            for a in known:
                for b in known:
                    if table.is_ancestor(a, b):
                        problems.append(
                            Problem(
                                "quotas.overlap",
                                f"section {i + 1} has quotas for both {a} and {b}, which lies "
                                f"under it; quotas must name separate parts of the table",
                                f"{where}.{b}",
                            )
                        )
            quotas.append({c: q for c, q in sorted(s.quotas.items()) if c in table})
        elif not table.nodes:
            problems.append(
                Problem(
                    "quotas.no_table",
                    f"release {pool.name} has no knowledge table to derive quotas from; "
                    f"set section {i + 1}'s quotas by hand",
                    where,
                )
            )
            quotas.append({})
        else:
            quotas.append(derived_quotas(table, s.count, s.quota_depth))

    # Cell of each (section, leaf point).
    cell_keys: list[tuple[int, str]] = []
    cell_of_leaf: list[dict[str, int]] = [{} for _ in spec.sections]
    for s_index, q in enumerate(quotas):
        for code, quota in q.items():
            if quota <= 0:
                continue
            cell_of_leaf_here = cell_of_leaf[s_index]
            for leaf in table.leaves_under(code):
                cell_of_leaf_here.setdefault(leaf, len(cell_keys))
            cell_keys.append((s_index, code))

    # Pinned items.
    pinned: list[int] = []
    pinned_cells: dict[int, list[int]] = {}
    for code in dict.fromkeys(spec.pinned):
        i = index.get(code)
        if i is None:
            problems.append(
                Problem(
                    "pinned.not_in_release",
                    f"pinned item {code} is not in release {pool.name}",
                    "pinned",
                )
            )
            continue
        s_index = section_of_type.get(types[i])
        if s_index is None:
            problems.append(
                Problem(
                    "pinned.wrong_type",
                    f"pinned item {code} is a {types[i]} item and the blueprint has no "
                    f"{types[i]} section",
                    "pinned",
                )
            )
            continue
        cell = cell_of_leaf[s_index].get(kps[i])
        if cell is None:
            problems.append(
                Problem(
                    "pinned.no_quota",
                    f"pinned item {code} (knowledge point {kps[i]}) falls under no quota of "
                    f"section {s_index + 1}",
                    "pinned",
                )
            )
            continue
        pinned.append(i)
        pinned_cells.setdefault(cell, []).append(i)

    # Enemies: every other member of every group an item belongs to.
    enemy_sets: list[set[int]] = [set() for _ in range(n)]
    for g, group in enumerate(spec.enemy_groups):
        members = [index[c] for c in dict.fromkeys(group) if c in index]
        missing = [c for c in group if c not in index]
        if missing:
            warnings.append(
                Problem(
                    "enemies.unknown_item",
                    f"enemy group {g + 1} names items not in release {pool.name}: "
                    f"{', '.join(missing)}",
                    f"enemy_groups.{g}",
                )
            )
        for a in members:
            enemy_sets[a].update(b for b in members if b != a)
    enemies = [tuple(sorted(s)) for s in enemy_sets]
    banned_by_pins = set().union(*(enemy_sets[i] for i in pinned)) if pinned else set()

    # Eligible items per cell.
    pinned_set = set(pinned)
    eligible: list[list[int]] = [[] for _ in cell_keys]
    enemy_of_pin: list[int] = [0] * len(cell_keys)
    bands = [s.band for s in spec.sections]
    for i in range(n):
        s_index = section_of_type.get(types[i])
        if s_index is None or i in pinned_set:
            continue
        cell = cell_of_leaf[s_index].get(kps[i])
        if cell is None:
            continue
        lo, hi = bands[s_index]
        if not lo <= diff[i] <= hi:
            continue
        if i in banned_by_pins:
            enemy_of_pin[cell] += 1
            continue
        eligible[cell].append(i)

    cells: list[Cell] = []
    for k, (s_index, code) in enumerate(cell_keys):
        s = spec.sections[s_index]
        quota = quotas[s_index][code]
        pins = pinned_cells.get(k, [])
        by_d = sorted(eligible[k], key=lambda i: (diff[i], i))
        cell = Cell(s_index, code, quota, pins, eligible[k], by_d, [diff[i] for i in by_d])
        cells.append(cell)
        if cell.need < 0:
            problems.append(
                Problem(
                    "pinned.over_quota",
                    f"{len(pins)} items are pinned under knowledge point {code} in section "
                    f"{s_index + 1}, but its quota is {quota}",
                    "pinned",
                )
            )
            continue
        supply = len(cell.pool)
        besides = f" besides {len(pins)} pinned" if pins else ""
        if supply < cell.need:
            extra = (
                f" ({enemy_of_pin[k]} more are enemies of pinned items)" if enemy_of_pin[k] else ""
            )
            problems.append(
                Problem(
                    "quotas.shortage",
                    f"knowledge point {code} needs {cell.need} {s.type_name} items"
                    f"{_band_text(*s.band)}{besides}; release {pool.name} has {supply}{extra}",
                    f"sections.{s_index}.quotas.{code}",
                )
            )
            continue
        # At most one item of each enemy group can be on a paper.
        free = sum(1 for i in cell.pool if not enemies[i])
        bound = free + _most_without_enemies([i for i in cell.pool if enemies[i]], enemies)
        if bound < cell.need:
            problems.append(
                Problem(
                    "enemies.shortage",
                    f"knowledge point {code} needs {cell.need} {s.type_name} items"
                    f"{_band_text(*s.band)}{besides}; release {pool.name} has {supply}, but "
                    f"enemy groups allow at most {bound} of them on one paper",
                    "enemy_groups",
                )
            )

    # keep_last names options that exist.
    for code, labels in spec.keep_last.items():
        i = index.get(code)
        if i is None:
            warnings.append(
                Problem(
                    "keep_last.unknown_item",
                    f"keep_last names item {code}, which is not in release {pool.name}",
                    f"keep_last.{code}",
                )
            )
            continue
        bad = [lab for lab in labels if lab not in pool.option_labels[i]]
        if bad:
            problems.append(
                Problem(
                    "keep_last.unknown_option",
                    f"keep_last of {code} names options {', '.join(bad)}, but the item has "
                    f"options {', '.join(pool.option_labels[i]) or '(none)'}",
                    f"keep_last.{code}",
                )
            )

    # Target and the range of expected scores a paper can have.
    points = [s.points for s in spec.sections]
    pts = [float(p) for p in points]
    target_from_bank = spec.difficulty.target is None
    tolerance = spec.difficulty.tolerance * float(spec.total_points)
    lo_sum = hi_sum = mean_sum = 0.0
    complete = True
    for c in cells:
        p = pts[c.section]
        fixed = sum(diff[i] for i in c.pinned)
        if c.need < 0 or len(c.sorted_difficulty) < c.need:
            complete = False
            continue
        sd = c.sorted_difficulty
        lo_sum += p * (fixed + sum(sd[: c.need]))
        hi_sum += p * (fixed + sum(sd[len(sd) - c.need :]) if c.need else fixed)
        mean_sum += p * (fixed + (c.need * sum(sd) / len(sd) if sd else 0.0))
    score_range = (lo_sum, hi_sum) if complete else None
    if target_from_bank:
        target = mean_sum
    else:
        target = float(spec.difficulty.target) * float(spec.total_points)
    if score_range is not None and not target_from_bank and cells:
        lo, hi = score_range
        if target + tolerance < lo - 1e-9 or target - tolerance > hi + 1e-9:
            problems.append(
                Problem(
                    "difficulty.unreachable",
                    f"the target expected score {target:.2f} ± {tolerance:.2f} "
                    f"(proportion {spec.difficulty.target}) cannot be reached: papers from "
                    f"release {pool.name} score between {lo:.2f} and {hi:.2f}",
                    "difficulty.target",
                )
            )

    information = _information_plan(spec, pool, cells, pts, problems) if cells else None

    return Plan(
        spec=spec,
        spec_hash=spec.spec_hash(),
        pool=pool,
        cells=cells,
        problems=problems,
        warnings=warnings,
        quotas=quotas,
        pinned=pinned,
        enemies=enemies,
        section_points=points,
        target=target,
        target_from_bank=target_from_bank,
        tolerance=tolerance,
        score_range=score_range,
        option_offsets=_option_offsets(spec, pool),
        canon_rank=_canonical_rank(pool),
        information=information,
    )


def _most_without_enemies(members: list[int], enemies: list[tuple[int, ...]]) -> int:
    """How many of ``members`` one paper can hold without two enemies (exact up to 24
    members, an upper bound beyond: one per enemy group is then not checked)."""
    if len(members) > 24:
        return len(members)
    inside = set(members)
    graph = {i: set(enemies[i]) & inside for i in members}

    def best(left: frozenset[int]) -> int:
        if not left:
            return 0
        v = max(left, key=lambda i: (len(graph[i] & left), i))
        if not graph[v] & left:
            return len(left) if all(not graph[i] & left for i in left) else 1 + best(left - {v})
        return max(best(left - {v}), 1 + best(left - {v} - graph[v]))

    return best(frozenset(members))


def _option_offsets(spec: BlueprintSpec, pool: ItemPool) -> np.ndarray:
    """Per item and option slot, what is added to a uniform key before sorting the options.

    0 for an option that is shuffled, ``KEPT + slot`` for one kept last (so kept options follow
    the shuffled ones in their original order), ``slot`` for every option of an item whose
    section does not shuffle options, and ``PAD`` for slots the item does not have.
    """
    width = len(OPTION_LABELS)
    out = np.full((len(pool), width), PAD)
    shuffle = {s.type: s.shuffle_options for s in spec.sections}
    for i, labels in enumerate(pool.option_labels):
        if not labels:
            continue
        kept = set(spec.keep_last.get(pool.codes[i], ()))
        if spec.keep_last_auto:
            kept.update(pool.auto_keep_last[i])
        for slot, label in enumerate(labels):
            if not shuffle.get(pool.types[i], True):
                out[i, slot] = slot
            elif label in kept:
                out[i, slot] = KEPT + slot
            else:
                out[i, slot] = 0.0
    return out


def _canonical_rank(pool: ItemPool) -> list[int]:
    """Order of items in an unshuffled section: by knowledge point, then item code."""
    order = sorted(range(len(pool)), key=lambda i: (pool.knowledge_points[i], pool.codes[i]))
    rank = [0] * len(pool)
    for r, i in enumerate(order):
        rank[i] = r
    return rank


def session_problems(plan: Plan, n_papers: int) -> list[Problem]:
    """Rules that depend on the number of papers of a session (the exposure limit)."""
    limit = plan.spec.exposure_limit
    if limit is None or n_papers <= 0:
        return []
    max_uses = max_uses_for(limit, n_papers)
    out = []
    for c in plan.cells:
        if c.need <= 0:
            continue
        needed = c.need * n_papers
        capacity = len(c.pool) * max_uses
        if needed > capacity:
            s = plan.spec.sections[c.section]
            out.append(
                Problem(
                    "exposure.shortage",
                    f"exposure limit {limit:g}% lets an item appear on at most {max_uses} of "
                    f"{n_papers} papers; knowledge point {c.node} needs {c.need} {s.type_name} "
                    f"items on every paper ({needed} in all), but its {len(c.pool)} eligible "
                    f"items give at most {capacity}",
                    "exposure_limit",
                )
            )
    return out


def max_uses_for(limit_percent: float, n_papers: int) -> int:
    """Papers an item may appear on: ``floor(limit × papers)``, but at least one."""
    return max(1, math.floor(limit_percent * n_papers / 100 + 1e-9))
