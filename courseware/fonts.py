"""Fonts for cards: Noto Sans CJK from the ``manimgx-fonts-cjk`` package by default.

Before drawing, the text is checked against the font's character map: a missing glyph is a
clear error naming the characters, never an empty box on a delivered lecture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

from courseware.errors import FontError

FONT_ENV = "COURSEWARE_FONT"


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # face inside a .ttc collection

    def pil(self, size: int, *, weight: int = 400) -> ImageFont.FreeTypeFont:
        """A Pillow font; ``weight`` (100–900) applies to variable fonts."""
        return _pil_font(self.path, self.index, size, weight)

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


@cache
def _cmap(path: Path, index: int) -> frozenset[int]:
    if path.suffix.lower() in (".ttc", ".otc"):
        face = TTCollection(str(path), lazy=True).fonts[index]
    else:
        face = TTFont(str(path), lazy=True)
    return frozenset(face.getBestCmap())


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
