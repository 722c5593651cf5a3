"""Title card (A4) and closing credits (A5), drawn once as RGB images.

The render task turns a card into frames; cards never pass through Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from courseware.fonts import FontFace

BACKGROUND = (18, 42, 86)
ACCENT = (214, 170, 72)
TEXT = (240, 240, 236)
MUTED = (190, 200, 214)


@dataclass(frozen=True)
class Line:
    text: str
    size: float  # fraction of the frame height
    colour: tuple[int, int, int] = TEXT
    weight: int = 400


def title_card_lines(*, course: str, number: int, title: str, lecturer: str,
                     lecturer_title: str, unit: str) -> list[Line]:
    """A4: course name, lecture number, lecturer's name, professional title and unit."""
    return [
        Line(course, 0.070, TEXT, 700),
        Line(f"第{number}讲  {title}", 0.052, ACCENT, 500),
        Line(f"主讲：{lecturer}  {lecturer_title}", 0.040, TEXT, 400),
        Line(unit, 0.036, MUTED, 400),
    ]


def credits_lines(*, course: str, production_unit: str, recording_date: str,
                  applying_unit: str) -> list[Line]:
    """A5: production unit and recording date."""
    return [
        Line(course, 0.056, TEXT, 700),
        Line(f"制作单位：{production_unit}", 0.042, TEXT, 400),
        Line(f"录制时间：{recording_date}", 0.042, TEXT, 400),
        Line(f"申报单位：{applying_unit}", 0.036, MUTED, 400),
    ]


def render_card(lines: list[Line], *, width: int, height: int, font: FontFace,
                what: str) -> np.ndarray:
    """An H×W×3 uint8 RGB card with the lines centred; FontError if a glyph is missing."""
    for line in lines:
        font.require(line.text, what=what)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    bar = max(2, height // 120)
    draw.rectangle((0, int(height * 0.16), width, int(height * 0.16) + bar), fill=ACCENT)
    draw.rectangle((0, int(height * 0.84), width, int(height * 0.84) + bar), fill=ACCENT)
    fitted = []
    for line in lines:
        size = max(8, int(line.size * height))
        face = font.pil(size, weight=line.weight)
        while face.getlength(line.text) > width * 0.9 and size > 8:  # long titles shrink
            size = int(size * 0.92)
            face = font.pil(size, weight=line.weight)
        fitted.append((line, face, size))
    gap = int(height * 0.045)
    total = sum(size for _, _, size in fitted) + gap * (len(fitted) - 1)
    y = (height - total) // 2
    for line, face, size in fitted:
        draw.text((width // 2, y + size // 2), line.text, font=face, fill=line.colour, anchor="mm")
        y += size + gap
    return np.asarray(image)
