"""Cards draw real CJK glyphs from the font the setup provides; missing glyphs fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from courseware.cards import BACKGROUND, Line, render_card, title_card_lines
from courseware.errors import FontError
from courseware.fonts import find_face


def test_default_font_covers_chinese_and_draws_it() -> None:
    face = find_face()
    assert face.missing("碳达峰碳中和 第1讲 教授 西安交通大学 IPCC") == []
    blank = render_card([Line("", 0.1)], width=640, height=360, font=face, what="t")
    text = render_card([Line("碳中和", 0.1)], width=640, height=360, font=face, what="t")
    changed = np.any(blank != text, axis=2)
    _, xs = np.nonzero(changed)
    assert changed.sum() > 500  # strokes were drawn, not nothing
    assert xs.max() - xs.min() > 60  # three glyphs wide, centred
    assert abs((xs.max() + xs.min()) / 2 - 320) < 8


def test_distinct_characters_draw_distinct_shapes() -> None:
    """An empty-box (.notdef) fallback draws the same shape for every character."""
    face = find_face()
    a = render_card([Line("碳", 0.2)], width=200, height=200, font=face, what="t")
    b = render_card([Line("峰", 0.2)], width=200, height=200, font=face, what="t")
    assert np.count_nonzero(np.any(a != b, axis=2)) > 200


def test_missing_glyph_is_a_clear_error() -> None:
    face = find_face()
    with pytest.raises(FontError, match="no glyph for '𠀀' in the title card of 第1讲"):
        render_card([Line("碳𠀀", 0.1)], width=640, height=360, font=face,
                    what="the title card of 第1讲")


def test_title_card_has_all_five_fields() -> None:
    lines = title_card_lines(course="课程", number=3, title="标题", lecturer="张明",
                             lecturer_title="教授", unit="西安交通大学")
    text = " ".join(line.text for line in lines)
    for field in ("课程", "第3讲", "张明", "教授", "西安交通大学"):
        assert field in text  # A4
    card = render_card(lines, width=1280, height=720, font=find_face(), what="t")
    assert card.shape == (720, 1280, 3)
    assert tuple(card[5, 5]) == BACKGROUND
