"""Cards draw real CJK glyphs from the font the setup provides; missing glyphs fail clearly."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont

from courseware.cards import BACKGROUND, Line, render_card, title_card_lines
from courseware.errors import FontError
from courseware.fonts import WEB_FAMILY, FontFace, find_face, web_font_face


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


def test_a_page_carries_the_glyphs_of_its_text_and_no_more() -> None:
    face = find_face()
    text = "课件质检报告 · 结论 Verdict: 不合格 ≥ 55 dB"
    rule = web_font_face(text)
    assert rule.startswith(f'@font-face {{ font-family: "{WEB_FAMILY}"; font-weight: 100 900;')
    data = re.fullmatch(r'.*url\(data:font/otf;base64,([A-Za-z0-9+/=]+)\); }\n', rule, re.S)
    assert data is not None
    font = TTFont(io.BytesIO(base64.b64decode(data[1])))
    carried = set(font.getBestCmap())
    wanted = {ord(ch) for ch in text if ord(ch) > 0x7F}
    assert wanted <= carried and len(carried) <= len(wanted) + 3  # ≥ brings its mirror ≤
    assert min(carried) > 0x7F                                      # ASCII left to the viewer
    assert "fvar" in font                                           # bold stays bold
    assert len(base64.b64decode(data[1])) < face.path.stat().st_size / 1000
    assert web_font_face("ASCII only: 55 dB") == ""


def test_a_page_without_a_font_to_carry_uses_the_viewers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert web_font_face("课件", FontFace(tmp_path / "absent.otf", 0)) == ""
    assert "HTML report without its own font" in caplog.text
