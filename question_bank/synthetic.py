"""Synthetic question banks for load tests, benchmarks and blueprint experiments.

:func:`synthetic_bank` returns a plain dict in the native bank format (``"exam-server-bank"``,
version 1), the same shape as ``question_bank/data/demo_electrician_l4.json``, so the same
loader imports both. It builds plain dicts without pydantic (5,000 items take a few tens of
milliseconds); validation happens when the bank is imported, or call :func:`synthetic_drafts`
to get validated :class:`~question_bank.schema.ItemDraft` objects directly.

The output is a pure function of the arguments: the same seed gives the same bank, byte for
byte once serialised. Only numpy's :func:`numpy.random.default_rng` supplies randomness.

Shape of a generated bank:

* A knowledge table of modules → units → ``n_knowledge_points`` leaves, coded like the
  national tables (``A``, ``A-01``, ``A-01-001``). Sibling weights always add up to exactly
  100: whole percentages where there are at most 50 siblings, hundredths otherwise.
* Items of all four types in a fixed mix (25 % true/false, 50 % single choice, 15 % multiple
  choice, 10 % fill-in) *within every leaf*, so every leaf has items of every type as soon as
  it has four or more items.
* Leaf item counts are half uniform, half proportional to the leaf's share of the total
  weight, so heavily weighted points have more items but light ones are never starved.
* Difficulties follow a beta distribution per leaf, scaled to 0.05–0.98, so each leaf has
  easy, medium and hard items and paper blueprints can be balanced by difficulty.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .schema import ITEM_CODE, KP_CODE, LEVELS, OPTION_LABELS, ItemDraft

BANK_FORMAT = "exam-server-bank"
BANK_FORMAT_VERSION = 1

ITEM_TYPES = ("true_false", "single_choice", "multiple_choice", "fill_blank")
TYPE_MIX = (0.25, 0.50, 0.15, 0.10)  # shares of ITEM_TYPES, in the same order
POINTS = {"true_false": 1, "single_choice": 1, "multiple_choice": 2, "fill_blank": 1}
DIFFICULTY_MIN, DIFFICULTY_MAX = 0.05, 0.98
LEAVES_PER_UNIT = 3

_MODULE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_IMPORTANCE = ("X", "Y", "Z")
_IMPORTANCE_P = (0.35, 0.45, 0.20)
_TAG_POOL = (
    "概念",
    "计算",
    "识图",
    "安全",
    "操作规程",
    "故障分析",
    "标准规范",
    "设备维护",
    "测量",
    "新技术",
)
_TAG_POOL_EN = (
    "concept",
    "calculation",
    "drawings",
    "safety",
    "procedure",
    "fault analysis",
    "standards",
    "maintenance",
    "measurement",
    "new technology",
)
_BLANK_NORMALIZE = ["trim", "width", "case", "space"]


def _split_evenly(total: int, parts: int) -> list[int]:
    """``parts`` sizes that differ by at most one and add up to ``total``, larger first."""
    q, r = divmod(total, parts)
    return [q + 1 if i < r else q for i in range(parts)]


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``shares`` (which sum to 1) that add up to exactly ``total``."""
    raw = shares * total
    base = np.floor(raw).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        # Stable sort keeps ties in index order, so the result is deterministic.
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:short]] += 1
    return base


def _weights(rng: np.random.Generator, n: int) -> list[int] | list[float]:
    """Random sibling weights adding up to exactly 100, each at least the smallest step.

    Up to 50 siblings get whole percentages (at least 1 each); more siblings get hundredths
    (at least 0.01 each), which still add up exactly as the decimals the schema stores.
    """
    steps = 100 if n <= 50 else 10_000
    if n > steps:
        raise ValueError(f"cannot give {n} siblings a positive weight of at least 0.01")
    shares = rng.dirichlet(np.full(n, 4.0))
    units = _largest_remainder(shares, steps - n) + 1
    if steps == 100:
        return [int(u) for u in units]
    return [round(int(u) / 100, 2) for u in units]


def _module_code(index: int) -> str:
    return _MODULE_LETTERS[index] if index < len(_MODULE_LETTERS) else f"M{index + 1:02d}"


def _knowledge_tree(
    rng: np.random.Generator, n_leaves: int
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], float]]]:
    """The tree as JSON-ready dicts, and each leaf with its share of the whole table (0–1)."""
    n_units = max(1, round(n_leaves / LEAVES_PER_UNIT))
    n_modules = max(1, round(math.sqrt(n_units)))
    units_per_module = _split_evenly(n_units, n_modules)
    leaves_per_unit = _split_evenly(n_leaves, n_units)

    tree: list[dict[str, Any]] = []
    leaves: list[tuple[dict[str, Any], float]] = []
    unit_index = 0
    for m, (m_weight, m_units) in enumerate(
        zip(_weights(rng, n_modules), units_per_module, strict=True)
    ):
        m_code = _module_code(m)
        module: dict[str, Any] = {
            "code": m_code,
            "name": f"合成模块 {m_code}",
            "name_en": f"Synthetic module {m_code}",
            "weight": m_weight,
            "importance": "X",
            "children": [],
        }
        for u, u_weight in enumerate(_weights(rng, m_units)):
            u_code = f"{m_code}-{u + 1:02d}"
            n_here = leaves_per_unit[unit_index]
            unit_index += 1
            unit: dict[str, Any] = {
                "code": u_code,
                "name": f"合成单元 {u_code}",
                "name_en": f"Synthetic unit {u_code}",
                "weight": u_weight,
                "importance": str(rng.choice(_IMPORTANCE, p=_IMPORTANCE_P)),
                "children": [],
            }
            importance = rng.choice(_IMPORTANCE, size=n_here, p=_IMPORTANCE_P).tolist()
            for k, k_weight in enumerate(_weights(rng, n_here)):
                k_code = f"{u_code}-{k + 1:03d}"
                leaf = {
                    "code": k_code,
                    "name": f"合成知识点 {k_code}",
                    "name_en": f"Synthetic knowledge point {k_code}",
                    "weight": k_weight,
                    "importance": importance[k],
                    "children": [],
                }
                unit["children"].append(leaf)
                share = float(m_weight) * float(u_weight) * float(k_weight) / 1_000_000
                leaves.append((leaf, share))
            module["children"].append(unit)
        tree.append(module)
    return tree, leaves


def _type_counts(n: int) -> list[int]:
    """How many items of each type a leaf with ``n`` items gets (every type once ``n >= 4``)."""
    counts = _largest_remainder(np.asarray(TYPE_MIX), n)
    if n >= len(ITEM_TYPES):
        while (counts == 0).any():
            counts[int(np.argmax(counts))] -= 1
            counts[int(np.argmin(counts))] += 1
    return [int(c) for c in counts]


def synthetic_bank(
    n_items: int = 5000,
    n_knowledge_points: int = 30,
    *,
    seed: int = 0,
    occupation_code: str = "9-99-99-99",
    level: int = 3,
) -> dict[str, Any]:
    """A reproducible synthetic bank in the native JSON bank format (plain dicts, not validated).

    ``n_knowledge_points`` is the number of leaves of the knowledge table; items are spread
    over all of them. The same arguments always give the same bank.
    """
    if n_items < 0:
        raise ValueError(f"n_items must be 0 or more, got {n_items}")
    if n_knowledge_points < 1:
        raise ValueError(f"n_knowledge_points must be at least 1, got {n_knowledge_points}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level}")
    if not KP_CODE.match(occupation_code):
        raise ValueError(
            f"occupation code {occupation_code!r} has characters item codes cannot use"
        )
    width = max(5, len(str(n_items)))
    prefix = f"SYN-{occupation_code}-L{level}-"
    if not ITEM_CODE.match(prefix + "9" * width):
        raise ValueError(f"occupation code {occupation_code!r} makes item codes that are too long")

    rng = np.random.default_rng(seed)
    tree, leaves = _knowledge_tree(rng, n_knowledge_points)

    # Items per leaf: half spread evenly, half following the leaf's weight in the table.
    n_leaves = len(leaves)
    weight_share = np.asarray([share for _, share in leaves])
    mixed_share = 0.5 / n_leaves + 0.5 * weight_share / weight_share.sum()
    per_leaf = _largest_remainder(mixed_share / mixed_share.sum(), n_items).tolist()

    # One (leaf, type) slot per item, then shuffled so codes do not cluster by leaf or type.
    slot_leaf: list[int] = []
    slot_type: list[int] = []
    for leaf_index, count in enumerate(per_leaf):
        for type_index, type_count in enumerate(_type_counts(count)):
            slot_leaf.extend([leaf_index] * type_count)
            slot_type.extend([type_index] * type_count)
    order = rng.permutation(n_items).tolist()

    # Difficulty: a beta distribution per leaf with its own shape, scaled to the range.
    shape_a = rng.uniform(0.9, 1.6, n_leaves)
    shape_b = rng.uniform(0.9, 1.6, n_leaves)
    leaf_of_slot = np.asarray(slot_leaf, dtype=np.int64)
    raw = rng.beta(shape_a[leaf_of_slot], shape_b[leaf_of_slot]) if n_items else np.zeros(0)
    difficulty = np.round(DIFFICULTY_MIN + (DIFFICULTY_MAX - DIFFICULTY_MIN) * raw, 3).tolist()

    # Every other random choice, drawn in bulk (unused draws are simply ignored).
    tf_true = (rng.random(n_items) < 0.5).tolist()
    single_key = rng.integers(0, 4, n_items).tolist()
    multi_options = rng.integers(4, 6, n_items).tolist()
    multi_keys = rng.integers(2, 5, n_items).tolist()
    multi_rank = np.argsort(rng.random((n_items, 5)), axis=1).tolist()
    two_blanks = (rng.random(n_items) < 0.3).tolist()
    tag_pick = rng.integers(0, len(_TAG_POOL), (n_items, 2)).tolist()

    items: list[dict[str, Any]] = []
    for position, slot in enumerate(order):
        number = position + 1
        code = f"{prefix}{number:0{width}d}"
        leaf = leaves[slot_leaf[slot]][0]
        kp = leaf["code"]
        item_type = ITEM_TYPES[slot_type[slot]]
        title = f"合成题 {number:0{width}d}"
        title_en = f"Synthetic item {number:0{width}d}"
        first, second = tag_pick[slot]
        tags = ["合成", f"模块{kp.split('-', 1)[0]}", _TAG_POOL[first]]
        if second != first:
            tags.append(_TAG_POOL[second])
        tags.sort()
        en_tags = "; ".join(_TAG_POOL_EN[t] for t in dict.fromkeys((first, second)))
        content: dict[str, Any] = {"type": item_type}

        if item_type == "true_false":
            true = tf_true[slot]
            content["stem"] = f"{title}：判断关于知识点 {kp} 的合成陈述第 {number} 条。"
            content["key"] = ["T" if true else "F"]
            answer, answer_en = ("正确", "true") if true else ("错误", "false")
            explanation = f"该陈述{answer}，依据知识点 {kp} 的要求判断。"
            translation: dict[str, Any] = {
                "stem": f"{title_en}: judge synthetic statement {number} about knowledge point {kp}.",
                "explanation": f"The statement is {answer_en}, judged by knowledge point {kp} ({en_tags}).",
            }
        elif item_type in ("single_choice", "multiple_choice"):
            if item_type == "single_choice":
                n_options = 4
                keys = [OPTION_LABELS[single_key[slot]]]
                ask, ask_en = "正确的是", "statement is"
            else:
                n_options = multi_options[slot]
                n_keys = min(multi_keys[slot], n_options - 1)
                ranked = [r for r in multi_rank[slot] if r < n_options]
                keys = sorted(OPTION_LABELS[r] for r in ranked[:n_keys])
                ask, ask_en = "正确的有", "statements are"
            labels = OPTION_LABELS[:n_options]
            content["stem"] = f"{title}：下列关于知识点 {kp} 的说法中，{ask}（ ）。"
            content["options"] = [
                {"label": label, "text": f"{kp} 第 {number} 题的说法 {label}"} for label in labels
            ]
            content["key"] = keys
            explanation = f"正确答案为 {'、'.join(keys)}，其余选项与知识点 {kp} 的要求不符。"
            translation = {
                "stem": f"{title_en}: which {ask_en} correct about knowledge point {kp}? ( )",
                "options": {
                    label: f"Statement {label} of item {number} on {kp}" for label in labels
                },
                "explanation": f"The answer is {', '.join(keys)}; the other options contradict "
                f"knowledge point {kp} ({en_tags}).",
            }
        else:  # fill_blank
            n_blanks = 2 if two_blanks[slot] else 1
            marks = "，".join(f"第 {b} 个要点是{{{{{b}}}}}" for b in range(1, n_blanks + 1))
            marks_en = ", ".join(f"key point {b} is {{{{{b}}}}}" for b in range(1, n_blanks + 1))
            answers = [f"答案{number}-{b}" for b in range(1, n_blanks + 1)]
            answers_en = [f"answer {number}-{b}" for b in range(1, n_blanks + 1)]
            content["stem"] = f"{title}：知识点 {kp} 中，{marks}。"
            content["blanks"] = [
                {"accepted": [zh, en], "normalize": list(_BLANK_NORMALIZE)}
                for zh, en in zip(answers, answers_en, strict=True)
            ]
            explanation = f"各空答案依次为：{'；'.join(answers)}。"
            translation = {
                "stem": f"{title_en}: in knowledge point {kp}, {marks_en}.",
                "explanation": f"The answers in order: {'; '.join(answers_en)} ({en_tags}).",
            }

        content["points"] = POINTS[item_type]
        content["knowledge_point"] = kp
        content["difficulty"] = difficulty[slot]
        content["explanation"] = explanation
        content["tags"] = tags
        content["translations"] = {"en": translation}
        items.append({"code": code, "content": content})

    return {
        "format": BANK_FORMAT,
        "format_version": BANK_FORMAT_VERSION,
        "occupation": {
            "code": occupation_code,
            "name": f"合成职业 {occupation_code}",
            "name_en": f"Synthetic occupation {occupation_code}",
        },
        "level": level,
        "knowledge_points": tree,
        "items": items,
    }


def synthetic_drafts(
    n_items: int = 5000,
    n_knowledge_points: int = 30,
    *,
    seed: int = 0,
    occupation_code: str = "9-99-99-99",
    level: int = 3,
) -> list[ItemDraft]:
    """The items of :func:`synthetic_bank`, validated into :class:`ItemDraft` objects."""
    bank = synthetic_bank(
        n_items,
        n_knowledge_points,
        seed=seed,
        occupation_code=occupation_code,
        level=level,
    )
    return [ItemDraft.model_validate(item) for item in bank["items"]]
