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

#: Discrimination assumed for items without IRT estimates (on the N(0, 1) ability scale).
DEFAULT_DISCRIMINATION = 1.0
_D = 1.702  # logistic ≈ normal ogive with slope a / 1.702

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
    # 2PL estimates on the bank's ability scale (NaN where the item has none).
    irt_a: np.ndarray | None = None
    irt_b: np.ndarray | None = None

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
        if self.irt_a is None or self.irt_b is None:
            self.irt_a = np.full(n, np.nan)
            self.irt_b = np.full(n, np.nan)
        self.irt_a = np.asarray(self.irt_a, dtype=np.float64)
        self.irt_b = np.asarray(self.irt_b, dtype=np.float64)
        if self.irt_a.shape != (n,) or self.irt_b.shape != (n,):
            raise ValueError("IRT parameters need one value per item")

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

    @property
    def calibrated(self) -> np.ndarray:
        """Items with IRT estimates (from analysis runs)."""
        return np.isfinite(self.irt_a) & np.isfinite(self.irt_b) & (self.irt_a > 0)

    @cached_property
    def item_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """2PL ``(a, b)`` of every item: the estimates where the bank has them, else the
        difficulty estimate turned into ``b`` with :data:`DEFAULT_DISCRIMINATION`.

        With ``θ ~ N(0, 1)`` and the normal-ogive approximation of the logistic, an item of
        slope ``a`` and location ``b`` is answered correctly by a share
        ``p = Φ(−α b / √(1 + α²))`` of candidates (``α = a / 1.702``); solved for ``b``:
        ``b = −Φ⁻¹(p) · √(1 + α²) / α``.
        """
        from statistics import NormalDist

        cal = self.calibrated
        a = np.where(cal, self.irt_a, DEFAULT_DISCRIMINATION)
        alpha = DEFAULT_DISCRIMINATION / _D
        inv = NormalDist().inv_cdf
        p = np.clip(self.difficulty, 0.01, 0.99)
        b_est = np.array([-inv(float(v)) for v in p]) * np.sqrt(1 + alpha * alpha) / alpha
        b = np.where(cal, self.irt_b, b_est)
        return a, b

    @cached_property
    def irt_hash(self) -> str | None:
        """SHA-256 of the IRT estimates used (None when there are none)."""
        if not self.calibrated.any():
            return None
        rows = "\n".join(
            f"{v}:{a:.6f}:{b:.6f}"
            for v, a, b in sorted(
                zip(self.version_ids, self.irt_a.tolist(), self.irt_b.tolist(), strict=True)
            )
            if np.isfinite(a) and np.isfinite(b)
        )
        return hashlib.sha256(rows.encode()).hexdigest()

    def irt_snapshot(self) -> dict[str, list[float]]:
        """``{version id: [a, b]}`` of the calibrated items (stored with a paper set)."""
        cal = self.calibrated
        return {
            str(v): [float(self.irt_a[i]), float(self.irt_b[i])]
            for i, v in enumerate(self.version_ids)
            if cal[i]
        }

    def with_irt(self, parameters: Mapping[int, tuple[float, float]]) -> ItemPool:
        """A copy whose 2PL ``(a, b)`` per version id come from ``parameters`` (others none)."""
        a = np.array([parameters.get(v, (np.nan, np.nan))[0] for v in self.version_ids])
        b = np.array([parameters.get(v, (np.nan, np.nan))[1] for v in self.version_ids])
        fields = {k: v for k, v in self.__dict__.items() if k in self.__dataclass_fields__}
        return ItemPool(**{**fields, "irt_a": a, "irt_b": b})

    def with_difficulties(self, difficulties: Mapping[int, float]) -> ItemPool:
        """A copy whose difficulty per version id comes from ``difficulties`` where given."""
        d = np.array(
            [
                difficulties.get(v, old)
                for v, old in zip(self.version_ids, self.difficulty, strict=True)
            ],
            dtype=np.float64,
        )
        fields = {k: v for k, v in self.__dict__.items() if k in self.__dataclass_fields__}
        return ItemPool(**{**fields, "difficulty": d})

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
        irt: Mapping[int, tuple[float, float]] | None = None,
    ) -> ItemPool:
        """Build a pool from ``(version id, code, content dict)`` triples; ``irt`` gives 2PL
        ``(a, b)`` per version id where the bank has estimates."""
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
            irt_a=None if irt is None else [irt.get(v, (np.nan, np.nan))[0] for v in vids],
            irt_b=None if irt is None else [irt.get(v, (np.nan, np.nan))[1] for v in vids],
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
