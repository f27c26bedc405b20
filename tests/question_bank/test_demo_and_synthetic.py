"""The demo electrician bank and the synthetic bank generator (no database needed)."""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import question_bank
from question_bank.schema import (
    ITEM_CODE,
    OPTION_LABELS,
    ItemContent,
    ItemDraft,
    ItemType,
    KnowledgePointNode,
    weight_problems,
)
from question_bank.synthetic import (
    DIFFICULTY_MAX,
    DIFFICULTY_MIN,
    ITEM_TYPES,
    TYPE_MIX,
    _weights,
    synthetic_bank,
    synthetic_drafts,
)

DEMO_PATH = Path(question_bank.__file__).parent / "data" / "demo_electrician_l4.json"
DEMO_TYPE_COUNTS = {
    "true_false": 22,
    "single_choice": 30,
    "multiple_choice": 13,
    "fill_blank": 8,
}
CHOICE_TYPES = {ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE}


# ---------------------------------------------------------------------------- helpers


def load_tree(bank: dict[str, Any]) -> list[KnowledgePointNode]:
    return [KnowledgePointNode.model_validate(node) for node in bank["knowledge_points"]]


def walk(nodes: list[KnowledgePointNode]) -> list[KnowledgePointNode]:
    out: list[KnowledgePointNode] = []
    for node in nodes:
        out.append(node)
        out.extend(walk(node.children))
    return out


def leaf_codes(nodes: list[KnowledgePointNode]) -> set[str]:
    return {n.code for n in walk(nodes) if not n.children}


def check_tree_codes(nodes: list[KnowledgePointNode], parent: str | None = None) -> None:
    """Codes are unique and nested like the national tables: ``A`` → ``A-01`` → ``A-01-001``."""
    for node in nodes:
        if parent is not None:
            assert node.code.startswith(parent + "-"), (parent, node.code)
        check_tree_codes(node.children, node.code)


def text_fields(raw: dict[str, Any]) -> list[str]:
    texts = [raw["stem"], raw.get("explanation", "")]
    texts += [o["text"] for o in raw.get("options", [])]
    for tr in raw.get("translations", {}).values():
        texts += [tr.get("stem", ""), tr.get("explanation", "")]
        texts += list(tr.get("options", {}).values())
    return texts


def validated_text_fields(content: ItemContent) -> list[str]:
    texts = [content.stem, content.explanation]
    texts += [o.text for o in content.options]
    for tr in content.translations.values():
        texts += [tr.stem, tr.explanation]
        texts += list(tr.options.values())
    return texts


# ---------------------------------------------------------------------------- demo bank


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_drafts(demo: dict[str, Any]) -> list[ItemDraft]:
    return [ItemDraft.model_validate(item) for item in demo["items"]]


def test_demo_file_has_the_bank_header(demo: dict[str, Any]) -> None:
    assert demo["format"] == "exam-server-bank"
    assert demo["format_version"] == 1
    assert demo["occupation"] == {"code": "6-31-01-03", "name": "电工", "name_en": "Electrician"}
    assert demo["level"] == 4
    assert set(demo) == {
        "format",
        "format_version",
        "occupation",
        "level",
        "knowledge_points",
        "items",
    }


def test_demo_file_is_utf8_without_bom() -> None:
    data = DEMO_PATH.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")


def test_demo_items_validate_and_codes_are_unique(
    demo: dict[str, Any], demo_drafts: list[ItemDraft]
) -> None:
    assert len(demo_drafts) >= 70
    codes = [d.code for d in demo_drafts]
    assert len(set(codes)) == len(codes)
    assert all(ITEM_CODE.match(c) and c.startswith("E4-") for c in codes)


def test_demo_type_counts(demo_drafts: list[ItemDraft]) -> None:
    counts = Counter(d.content.type.value for d in demo_drafts)
    assert counts == DEMO_TYPE_COUNTS


def test_demo_knowledge_table_weights_and_codes(demo: dict[str, Any]) -> None:
    tree = load_tree(demo)
    assert weight_problems(tree) == []
    nodes = walk(tree)
    codes = [n.code for n in nodes]
    assert len(set(codes)) == len(codes)
    check_tree_codes(tree)
    assert all(n.name and n.name_en for n in nodes)
    # Module → unit → knowledge point: every leaf is exactly three levels down.
    for module in tree:
        assert module.children
        for unit in module.children:
            assert unit.children
            assert all(not point.children for point in unit.children)


def test_demo_items_point_at_leaves_and_cover_most_of_them(
    demo: dict[str, Any], demo_drafts: list[ItemDraft]
) -> None:
    leaves = leaf_codes(load_tree(demo))
    used = Counter(d.content.knowledge_point for d in demo_drafts)
    assert set(used) <= leaves, sorted(set(used) - leaves)
    assert len(used) >= 0.8 * len(leaves)
    # No single point dominates the demo bank.
    assert max(used.values()) <= 0.15 * len(demo_drafts)


def test_demo_items_have_english_translations(demo_drafts: list[ItemDraft]) -> None:
    for draft in demo_drafts:
        c = draft.content
        en = c.translations.get("en")
        assert en is not None, draft.code
        assert en.stem and en.explanation, draft.code
        if c.type in CHOICE_TYPES:
            assert set(en.options) == {o.label for o in c.options}, draft.code
            assert all(en.options.values()), draft.code
        else:
            assert not en.options, draft.code
        if c.type == ItemType.FILL_BLANK:
            # The English stem keeps the blank markers so both languages render the inputs.
            assert en.stem.count("{{") == len(c.blanks), draft.code


def test_demo_item_rules_per_type(demo_drafts: list[ItemDraft]) -> None:
    for draft in demo_drafts:
        c = draft.content
        assert c.explanation, draft.code
        assert c.tags, draft.code
        assert 0.3 <= c.difficulty <= 0.9, draft.code
        if c.type == ItemType.TRUE_FALSE:
            assert c.points == Decimal(1)
        elif c.type == ItemType.SINGLE_CHOICE:
            assert c.points == Decimal(1)
            assert len(c.options) == 4, draft.code
        elif c.type == ItemType.MULTIPLE_CHOICE:
            assert c.points == Decimal(2)
            assert 4 <= len(c.options) <= 5, draft.code
            assert 2 <= len(c.key) < len(c.options), draft.code
        else:
            assert c.points == Decimal(1)
            assert all(len(b.accepted) >= 2 for b in c.blanks), draft.code


def test_demo_has_two_blank_items_and_balanced_keys(demo_drafts: list[ItemDraft]) -> None:
    fills = [d.content for d in demo_drafts if d.content.type == ItemType.FILL_BLANK]
    assert sum(len(c.blanks) == 2 for c in fills) >= 2
    tf_keys = Counter(
        d.content.key[0] for d in demo_drafts if d.content.type == ItemType.TRUE_FALSE
    )
    assert tf_keys["T"] >= 5 and tf_keys["F"] >= 5
    single_keys = Counter(
        d.content.key[0] for d in demo_drafts if d.content.type == ItemType.SINGLE_CHOICE
    )
    assert len(single_keys) >= 3


def test_demo_difficulty_is_spread(demo_drafts: list[ItemDraft]) -> None:
    values = [d.content.difficulty for d in demo_drafts]
    assert min(values) <= 0.35
    assert max(values) >= 0.8
    assert len({round(v, 1) for v in values}) >= 5


def test_demo_text_is_unchanged_by_sanitising(demo: dict[str, Any]) -> None:
    """Stored text is already clean: nothing gets escaped (a stray ``<`` would become ``&lt;``)."""
    for item in demo["items"]:
        content = ItemContent.model_validate(item["content"])
        assert validated_text_fields(content) == text_fields(item["content"]), item["code"]


@pytest.mark.parametrize(
    ("code", "blank", "response", "expected"),
    [
        ("E4-A03-010", 0, "50", True),
        ("E4-A03-010", 0, "５０ Hz", True),  # full-width digits
        ("E4-A03-010", 1, "0.02 s", True),
        ("E4-A03-010", 1, "0.2", False),
        ("E4-A03-011", 0, "380V", True),
        ("E4-A03-004", 1, "5Ω", True),
        ("E4-A03-004", 1, "5 \u2126", True),  # OHM SIGN, folded to omega by NFKC
        ("E4-B05-004", 1, "pe", True),
        ("E4-B05-004", 0, "PE", False),
    ],
)
def test_demo_fill_in_answers_accept_unit_variants(
    demo_drafts: list[ItemDraft], code: str, blank: int, response: str, expected: bool
) -> None:
    by_code = {d.code: d.content for d in demo_drafts}
    content = by_code[code]
    assert content.type == ItemType.FILL_BLANK
    assert content.blanks[blank].matches(response) is expected


# ---------------------------------------------------------------------------- synthetic bank


@pytest.fixture(scope="module")
def bank() -> dict[str, Any]:
    return synthetic_bank()


def test_synthetic_bank_is_deterministic_per_seed(bank: dict[str, Any]) -> None:
    again = synthetic_bank(seed=0)
    assert json.dumps(again, ensure_ascii=False) == json.dumps(bank, ensure_ascii=False)
    small = synthetic_bank(300, 12, seed=7)
    assert synthetic_bank(300, 12, seed=7) == small


def test_synthetic_bank_differs_across_seeds(bank: dict[str, Any]) -> None:
    other = synthetic_bank(seed=1)
    assert other["knowledge_points"] != bank["knowledge_points"]
    contents = [i["content"] for i in bank["items"]]
    other_contents = [i["content"] for i in other["items"]]
    same = sum(a == b for a, b in zip(contents, other_contents, strict=True))
    assert same < 0.01 * len(contents)


def test_synthetic_bank_is_plain_json(bank: dict[str, Any]) -> None:
    """Only built-in types: it survives a JSON round trip unchanged (no numpy scalars)."""
    assert json.loads(json.dumps(bank, ensure_ascii=False)) == bank
    assert bank["format"] == "exam-server-bank"
    assert bank["format_version"] == 1
    assert bank["occupation"]["code"] == "9-99-99-99"
    assert bank["level"] == 3


@pytest.mark.parametrize(
    ("n_items", "n_points"),
    [(5000, 30), (1, 1), (0, 3), (200, 7), (1000, 100), (50, 2)],
)
def test_synthetic_bank_sizes(n_items: int, n_points: int) -> None:
    bank = synthetic_bank(n_items, n_points, seed=3, occupation_code="X-1", level=5)
    tree = load_tree(bank)
    assert len(bank["items"]) == n_items
    assert len(leaf_codes(tree)) == n_points
    assert weight_problems(tree) == []
    check_tree_codes(tree)
    assert bank["level"] == 5
    codes = [item["code"] for item in bank["items"]]
    assert len(set(codes)) == n_items
    assert all(ITEM_CODE.match(c) for c in codes)
    assert {item["content"]["knowledge_point"] for item in bank["items"]} <= leaf_codes(tree)


def test_synthetic_bank_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        synthetic_bank(-1)
    with pytest.raises(ValueError):
        synthetic_bank(10, 0)
    with pytest.raises(ValueError):
        synthetic_bank(10, level=6)
    with pytest.raises(ValueError):
        synthetic_bank(10, occupation_code="no spaces")


def test_synthetic_sample_validates(bank: dict[str, Any]) -> None:
    items = bank["items"]
    for item in items[:: len(items) // 500][:500]:
        draft = ItemDraft.model_validate(item)
        assert validated_text_fields(draft.content) == text_fields(item["content"])


def test_synthetic_all_items_validate(bank: dict[str, Any]) -> None:
    # About 1 s for 5,000 items; the whole bank must import cleanly.
    drafts = [ItemDraft.model_validate(item) for item in bank["items"]]
    assert len(drafts) == 5000


def test_synthetic_drafts_match_the_bank() -> None:
    drafts = synthetic_drafts(120, 9, seed=5)
    raw = synthetic_bank(120, 9, seed=5)["items"]
    assert [d.code for d in drafts] == [item["code"] for item in raw]
    assert all(isinstance(d, ItemDraft) for d in drafts)


def test_synthetic_weights_are_valid(bank: dict[str, Any]) -> None:
    tree = load_tree(bank)
    assert weight_problems(tree) == []
    for node in walk(tree):
        assert node.weight > 0


@pytest.mark.parametrize("n", [1, 2, 7, 50, 51, 120, 999])
def test_synthetic_sibling_weights_add_up_exactly(n: int) -> None:
    import numpy as np

    weights = _weights(np.random.default_rng(n), n)
    assert len(weights) == n
    total = sum((Decimal(str(w)) for w in weights), Decimal(0))
    assert total == 100
    assert all(Decimal(str(w)) == Decimal(str(w)).quantize(Decimal("0.01")) for w in weights)
    assert all(w > 0 for w in weights)


def test_synthetic_type_mix(bank: dict[str, Any]) -> None:
    counts = Counter(item["content"]["type"] for item in bank["items"])
    total = len(bank["items"])
    for item_type, share in zip(ITEM_TYPES, TYPE_MIX, strict=True):
        assert abs(counts[item_type] / total - share) < 0.02, (item_type, counts)


def test_synthetic_points_and_shapes(bank: dict[str, Any]) -> None:
    for item in bank["items"]:
        c = item["content"]
        if c["type"] == "multiple_choice":
            assert c["points"] == 2
            assert 4 <= len(c["options"]) <= 5
            assert 2 <= len(c["key"]) < len(c["options"])
        elif c["type"] == "single_choice":
            assert c["points"] == 1
            assert len(c["options"]) == 4
            assert len(c["key"]) == 1
        elif c["type"] == "true_false":
            assert c["points"] == 1
            assert c["key"] in (["T"], ["F"])
        else:
            assert c["points"] == 1
            assert 1 <= len(c["blanks"]) <= 2
        assert c["tags"]
        assert c["translations"]["en"]["stem"]
        if "options" in c:
            labels = [o["label"] for o in c["options"]]
            assert labels == list(OPTION_LABELS[: len(labels)])
            assert set(c["translations"]["en"]["options"]) == set(labels)


def test_synthetic_difficulty_spread(bank: dict[str, Any]) -> None:
    values = [item["content"]["difficulty"] for item in bank["items"]]
    n = len(values)
    assert min(values) >= DIFFICULTY_MIN and max(values) <= DIFFICULTY_MAX
    assert sum(v < 0.4 for v in values) >= 0.1 * n
    assert sum(0.4 <= v <= 0.8 for v in values) >= 0.1 * n
    assert sum(v > 0.8 for v in values) >= 0.1 * n


def test_synthetic_every_leaf_has_every_type_and_a_difficulty_range(
    bank: dict[str, Any],
) -> None:
    leaves = leaf_codes(load_tree(bank))
    types: dict[str, set[str]] = {code: set() for code in leaves}
    difficulty: dict[str, list[float]] = {code: [] for code in leaves}
    for item in bank["items"]:
        c = item["content"]
        types[c["knowledge_point"]].add(c["type"])
        difficulty[c["knowledge_point"]].append(c["difficulty"])
    for code in leaves:
        assert types[code] == set(ITEM_TYPES), code
        values = difficulty[code]
        # Every point can supply easy and hard items to a balanced paper.
        assert min(values) < 0.4 and max(values) > 0.8, code


def test_synthetic_small_leaves_still_get_every_type() -> None:
    """Any leaf with at least four items has one of each type, however small the bank."""
    bank = synthetic_bank(6 * 25, 25, seed=11)
    per_leaf: dict[str, list[str]] = {}
    for item in bank["items"]:
        per_leaf.setdefault(item["content"]["knowledge_point"], []).append(item["content"]["type"])
    assert len(per_leaf) == 25
    assert any(len(types) < 10 for types in per_leaf.values())
    for code, types in per_leaf.items():
        if len(types) >= len(ITEM_TYPES):
            assert set(types) == set(ITEM_TYPES), (code, types)


def test_synthetic_bank_is_fast() -> None:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        synthetic_bank(seed=42)
        best = min(best, time.perf_counter() - start)
    assert best < 1.0, f"5,000 synthetic items took {best:.2f} s"
