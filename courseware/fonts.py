"""Fonts for cards and reports: Noto Sans CJK from the ``manimgx-fonts-cjk`` package by default.

Before drawing, the text is checked against the font's character map: a missing glyph is a
clear error naming the characters, never an empty box on a delivered lecture. The HTML reports
carry the glyphs their text needs (:func:`web_font_face`), so their Chinese reads the same on a
machine without a CJK font (a Linux server printing them, a fresh container), not as boxes.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

from courseware.errors import FontError

FONT_ENV = "COURSEWARE_FONT"
#: the family name the reports give the glyphs they carry
WEB_FAMILY = "Courseware CJK"
#: tables a page's subset leaves out: vertical writing, baselines, the old signature
WEB_DROP = ("VORG", "vhea", "vmtx", "VVAR", "BASE", "DSIG", "STAT")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # face inside a .ttc collection

    def pil(self, size: int, *, weight: int = 400) -> ImageFont.FreeTypeFont:
        """A Pillow font; ``weight`` (100–900) applies to variable fonts."""
        return _pil_font(self.path, self.index, size, weight)

    @property
    def family(self) -> str:
        """The family name the face gives itself (what a browser reports drawing with)."""
        names = _load(self.path, self.index)["name"]
        return str(names.getDebugName(16) or names.getDebugName(1) or self.path.stem)

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` (ignoring whitespace) that the face has no glyph for."""
        cmap = _cmap(self.path, self.index)
        return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in cmap})

    def require(self, text: str, *, what: str) -> None:
        missing = self.missing(text)
        if missing:
            raise FontError(
                f"font {self.path.name} has no glyph for {''.join(missing)!r} in {what}; "
                f"configure a font that covers them (--font or ${FONT_ENV})")


def default_font_path() -> Path:
    env = os.environ.get(FONT_ENV)
    if env:
        return Path(env)
    try:
        import manimgx_fonts_cjk
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise FontError(
            "no CJK font: install the package 'manimgx-fonts-cjk' (a dependency) "
            f"or point ${FONT_ENV} at a .ttf/.otf/.ttc that covers Chinese") from exc
    return Path(manimgx_fonts_cjk.__file__).parent / "NotoSansCJK-VF.otf.ttc"


@cache
def find_face(path: Path | None = None, *, prefer: str = "SC") -> FontFace:
    """The face of ``path`` (default font when None) whose name mentions ``prefer``."""
    path = Path(path) if path is not None else default_font_path()
    if not path.is_file():
        raise FontError(f"font file {path} not found; point --font or ${FONT_ENV} at a font")
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            faces = TTCollection(str(path), lazy=True).fonts
        else:
            faces = [TTFont(str(path), lazy=True)]
    except Exception as exc:
        raise FontError(f"{path} is not a readable font file: {exc}") from exc
    for index, face in enumerate(faces):
        name = face["name"].getDebugName(4) or ""
        if prefer in name.split() or name.endswith(prefer):
            return FontFace(path, index)
    return FontFace(path, 0)


def web_font_face(text: str, face: FontFace | None = None, *, family: str = WEB_FAMILY) -> str:
    """A CSS ``@font-face`` rule named ``family`` carrying the glyphs of ``face`` (the default
    font) for the characters of ``text`` beyond ASCII, inline as a ``data:`` URI.

    Only what the page shows: 44 KB for a demo lecture's QC page (128 characters), 57 KB
    for its course page (172), a third more as base64, against 32 MB for the whole
    collection (a variable font keeps its weights: bold stays bold). The
    rule's ``unicode-range`` leaves ASCII to the fonts after it in a stack, so the family can
    come first in every stack, monospace included (a web font only later in a stack, as a
    fallback, sometimes leaves Chromium drawing boxes where it was needed). "" when there is
    no font to take the glyphs from; the page then falls back on the viewer's fonts.
    """
    wanted = {ord(ch) for ch in text if ord(ch) > 0x7F}
    if not wanted:
        return ""
    try:
        face = face or find_face()
        font = _load(face.path, face.index, lazy=None)
        options = subset.Options()
        options.layout_features = []       # no alternates; plain horizontal text
        options.drop_tables += list(WEB_DROP)
        options.hinting = False
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=wanted)
        subsetter.subset(font)
        font.recalcTimestamp = False       # the same page, byte for byte, for the same text
        out = io.BytesIO()
        font.save(out)
    except (FontError, OSError, subset.Subsetter.SubsettingError) as exc:
        log.warning("HTML report without its own font (the viewer's fonts will be used): %s",
                    exc)
        return ""
    data = base64.b64encode(out.getvalue()).decode("ascii")
    weights = " font-weight: 100 900;" if "fvar" in font else ""  # a variable font's range
    return (f'@font-face {{ font-family: "{family}";{weights} unicode-range: U+80-10FFFF; '
            f"src: url(data:font/otf;base64,{data}); }}\n")


def _load(path: Path, index: int, *, lazy: bool | None = True) -> TTFont:
    if path.suffix.lower() in (".ttc", ".otc"):
        return TTCollection(str(path), lazy=lazy).fonts[index]
    return TTFont(str(path), lazy=lazy)


@cache
def _cmap(path: Path, index: int) -> frozenset[int]:
    return frozenset(_load(path, index).getBestCmap())


@cache
def _pil_font(path: Path, index: int, size: int, weight: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(path), size, index=index)
    try:
        axes = font.get_variation_axes()
    except OSError:  # not a variable font
        return font
    font.set_variation_by_axes(
        [float(weight if a["name"] == b"Weight" else a["default"] or 0) for a in axes])
    return font
