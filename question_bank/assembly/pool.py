"""The items a paper is drawn from, as plain arrays.

An :class:`ItemPool` holds one release (or a synthetic bank) in the shape the assembler needs:
per item, in one fixed order, its code, version id, type, leaf knowledge point, difficulty and
option labels; plus the knowledge-table snapshot. It knows nothing of the database: the service
layer builds it from a release, tests and benchmarks build it from a bank dict.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..sanitize import plain_text

# Options that only make sense in the last place: "all of the above", "none of the above" ….
_KEEP_LAST_ZH = re.compile(
    r"^(?:(?:以上|上述|前述)(?:各项|各|选项|答案|说法|几项|所有|全部)?(?:都|均|皆|全)不?"
    r"(?:对|正确|是|非|错|错误|能|可以|符合|选)(?:的)?"
    r"|(?:以上|上述)皆(?:是|非)"
    r"|(?:都|全|均)不?(?:对|正确|是|错))$"
)
_KEEP_LAST_EN = re.compile(
    r"^(?:all|none|both|neither) of (?:the )?(?:above|these|the above)(?: answers)?$", re.I
)
_TRAILING = "。.！!；;"


def is_keep_last_text(text: str) -> bool:
    """True for option texts like 以上都对, 以上都不对, 都不对, "All of the above"."""
    t = unicodedata.normalize("NFKC", plain_text(text)).strip().rstrip(_TRAILING).strip()
    t = re.sub(r"\s+", " ", t)
    return bool(_KEEP_LAST_ZH.match(t.replace(" ", "")) or _KEEP_LAST_EN.match(t))


@dataclass
class ItemPool:
    """One release's items as parallel sequences (index ``i`` is one item everywhere).

    ``tree`` is the knowledge-table snapshot (nested dicts with ``code``, ``weight`` and
    ``children``). ``contents`` (version id -> content dict) is only needed to render papers.
    """

    name: str
    content_hash: str
    tree: list[dict[str, Any]]
    codes: list[str]
    version_ids: list[int]
    types: list[str]
    knowledge_points: list[str]
    difficulty: np.ndarray
    option_labels: list[str]
    auto_keep_last: list[str]
    contents: dict[int, dict[str, Any]] | None = None
    occupation: str | None = None
    level: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.codes)
        self.difficulty = np.asarray(self.difficulty, dtype=np.float64)
        for name in ("version_ids", "types", "knowledge_points", "option_labels"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, codes have {n}")
        if self.difficulty.shape != (n,):
            raise ValueError(f"difficulty has shape {self.difficulty.shape}, expected ({n},)")
        if n and not (np.all(self.difficulty >= 0) and np.all(self.difficulty <= 1)):
            raise ValueError("difficulty values must lie within 0..1")
        if len(set(self.codes)) != n:
            raise ValueError("item codes in a pool must be unique")

    def __len__(self) -> int:
        return len(self.codes)

    @cached_property
    def index(self) -> dict[str, int]:
        """Item code -> position in the pool."""
        return {c: i for i, c in enumerate(self.codes)}

    @cached_property
    def difficulty_hash(self) -> str:
        """SHA-256 of the difficulties used for balancing (they change as analysis runs)."""
        rows = "\n".join(
            f"{v}:{d:.6f}"
            for v, d in sorted(zip(self.version_ids, self.difficulty.tolist(), strict=True))
        )
        return hashlib.sha256(rows.encode()).hexdigest()

    def with_difficulties(self, difficulties: Mapping[int, float]) -> ItemPool:
        """A copy whose difficulty per version id comes from ``difficulties`` where given."""
        d = np.array(
            [
                difficulties.get(v, old)
                for v, old in zip(self.version_ids, self.difficulty, strict=True)
            ],
            dtype=np.float64,
        )
        return ItemPool(**{**self.__dict__, "difficulty": d})

    @classmethod
    def from_items(
        cls,
        items: Iterable[tuple[int, str, Mapping[str, Any]]],
        tree: list[dict[str, Any]],
        *,
        name: str,
        content_hash: str,
        difficulties: Mapping[int, float] | None = None,
        keep_contents: bool = True,
        occupation: str | None = None,
        level: int | None = None,
    ) -> ItemPool:
        """Build a pool from ``(version id, code, content dict)`` triples."""
        codes, vids, types, kps, diffs, labels, auto, contents = [], [], [], [], [], [], [], {}
        for vid, code, content in items:
            codes.append(code)
            vids.append(int(vid))
            types.append(content["type"])
            kps.append(content["knowledge_point"])
            d = content.get("difficulty", 0.5)
            diffs.append(float(difficulties.get(vid, d)) if difficulties else float(d))
            options = content.get("options") or []
            labels.append("".join(o["label"] for o in options))
            auto.append("".join(o["label"] for o in options if is_keep_last_text(o["text"])))
            if keep_contents:
                contents[int(vid)] = dict(content)
        return cls(
            name=name,
            content_hash=content_hash,
            tree=tree,
            codes=codes,
            version_ids=vids,
            types=types,
            knowledge_points=kps,
            difficulty=np.asarray(diffs, dtype=np.float64),
            option_labels=labels,
            auto_keep_last=auto,
            contents=contents if keep_contents else None,
            occupation=occupation,
            level=level,
        )

    @classmethod
    def from_bank(
        cls, bank: Mapping[str, Any], *, name: str = "bank", keep_contents: bool = True
    ) -> ItemPool:
        """A pool from a native bank dict (e.g. :func:`question_bank.synthetic.synthetic_bank`),
        treating every item as released; version ids are 1, 2, 3 … in file order."""
        rows = [(n + 1, it["code"], it["content"]) for n, it in enumerate(bank["items"])]
        digest = hashlib.sha256(
            "\n".join(
                sorted(f"{code}:1:{_content_digest(content)}" for _, code, content in rows)
            ).encode()
        ).hexdigest()
        return cls.from_items(
            rows,
            bank["knowledge_points"],
            name=name,
            content_hash=digest,
            keep_contents=keep_contents,
            occupation=(bank.get("occupation") or {}).get("code"),
            level=bank.get("level"),
        )


def _content_digest(content: Mapping[str, Any]) -> str:
    from ..schema import content_hash

    return content_hash(content)
