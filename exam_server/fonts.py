"""The CJK font of every PDF and plot: IBM Plex Sans SC (SIL Open Font License), from npm.

``web/package.json`` pins ``@ibm/plex-sans-sc``; ``./dev setup`` installs it and runs
``python -m exam_server.fonts`` once, which turns the package's WOFF files into TrueType files
that ReportLab embeds (as subsets) and matplotlib draws with. ReportLab's built-in CID fonts
(STSong-Light) are not embedded, so a reader without them shows boxes; an embedded font shows
the same glyphs everywhere. ``EXAM_CJK_FONT`` (and ``EXAM_CJK_FONT_BOLD``) name TrueType files
to use instead, e.g. on a server installed without npm.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
PACKAGE = WEB / "node_modules" / "@ibm" / "plex-sans-sc" / "fonts" / "complete" / "woff" / "hinted"
CACHE = WEB / "node_modules" / ".fonts"
SOURCES = {"regular": "IBMPlexSansSC-Regular", "bold": "IBMPlexSansSC-Bold"}
# Names the font is registered under in ReportLab.
REPORTLAB_NAME = "ExamCJK"
REPORTLAB_BOLD = "ExamCJK-Bold"


class FontMissing(RuntimeError):
    """The CJK font is not installed (run ./dev setup, or set EXAM_CJK_FONT)."""


def _convert(woff: Path, ttf: Path) -> None:
    from fontTools.ttLib import TTFont

    font = TTFont(str(woff))
    font.flavor = None
    ttf.parent.mkdir(parents=True, exist_ok=True)
    tmp = ttf.with_suffix(".tmp")
    font.save(str(tmp))
    tmp.replace(ttf)  # atomic: a concurrent reader never sees half a font


def font_path(weight: str = "regular") -> Path:
    """The TrueType file of ``weight`` (``regular`` or ``bold``), converted on first use."""
    env = os.environ.get("EXAM_CJK_FONT_BOLD" if weight == "bold" else "EXAM_CJK_FONT")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FontMissing(f"EXAM_CJK_FONT file {path} does not exist")
        return path
    ttf = CACHE / f"{SOURCES[weight]}.ttf"
    if ttf.is_file():
        return ttf
    woff = PACKAGE / f"{SOURCES[weight]}.woff"
    if not woff.is_file():
        raise FontMissing(
            "the CJK font is not installed: run ./dev setup (npm installs @ibm/plex-sans-sc) "
            "or set EXAM_CJK_FONT to a TrueType font with Chinese glyphs"
        )
    _convert(woff, ttf)
    return ttf


@functools.cache
def reportlab_fonts() -> tuple[str, str]:
    """Register the font with ReportLab once; returns the (regular, bold) font names.

    ReportLab embeds the subset of glyphs a document uses, so PDFs stay small.
    """
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(REPORTLAB_NAME, str(font_path("regular"))))
    pdfmetrics.registerFont(TTFont(REPORTLAB_BOLD, str(font_path("bold"))))
    pdfmetrics.registerFontFamily(
        REPORTLAB_NAME,
        normal=REPORTLAB_NAME,
        bold=REPORTLAB_BOLD,
        italic=REPORTLAB_NAME,
        boldItalic=REPORTLAB_BOLD,
    )
    addMapping(REPORTLAB_NAME, 0, 0, REPORTLAB_NAME)
    addMapping(REPORTLAB_NAME, 1, 0, REPORTLAB_BOLD)
    return REPORTLAB_NAME, REPORTLAB_BOLD


@functools.cache
def matplotlib_family() -> str:
    """Add the font to matplotlib's font manager once; returns its family name for
    ``rcParams["font.family"]`` / ``fontfamily=``."""
    from matplotlib import font_manager

    for weight in ("regular", "bold"):
        font_manager.fontManager.addfont(str(font_path(weight)))
    return font_manager.FontProperties(fname=str(font_path("regular"))).get_name()


def main() -> int:
    try:
        for weight in SOURCES:
            print(font_path(weight))
    except FontMissing as exc:
        print(f"warning: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
