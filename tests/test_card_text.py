"""The words on finished lectures' cards (A4 title card, A5 credits), read by OCR: the
truth is the text the cards were drawn with (``courseware.cards``, the render's own cards,
in Noto Sans CJK), at the sizes a delivered lecture has and at half that."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_signals import cut_film

from courseware.cards import credits_lines, render_card, title_card_lines
from courseware.fonts import find_face
from courseware.html_report import render_html
from tasks.card_text import CardFields, card_fields, read_card, read_picture

TITLE = {"course": "碳达峰碳中和与绿色低碳发展", "number": 3,
         "title": "能源结构转型与低碳技术路径", "lecturer": "李敏",
         "lecturer_title": "高级工程师", "unit": "陕西省环境科学研究院"}
CREDITS = {"course": "碳达峰碳中和与绿色低碳发展", "production_unit": "西安交通大学继续教育学院",
           "recording_date": "2024年5月", "applying_unit": "陕西省环境科学研究院"}


def _drawn(lines: list, size: tuple[int, int]) -> tuple[object, list[str]]:
    w, h = size
    picture = render_card(lines, width=w, height=h, font=find_face(), what="test card")
    return picture, [" ".join(line.text.split()) for line in lines]


@pytest.mark.parametrize("size", [(1280, 720), (640, 360)])
def test_a_title_card_and_credits_are_read_as_drawn(size: tuple[int, int]) -> None:
    for lines in (title_card_lines(**TITLE), credits_lines(**CREDITS)):  # type: ignore[arg-type]
        picture, truth = _drawn(lines, size)
        assert list(read_picture(picture) or ()) == truth       # type: ignore[arg-type]


def test_the_fields_a4_and_a5_ask_for() -> None:
    _, card = _drawn(title_card_lines(**TITLE), (1280, 720))    # type: ignore[arg-type]
    assert card_fields(card) == CardFields(title="高级工程师", unit="陕西省环境科学研究院",
                                           producer=False, date=False, titles=("高级工程师",))
    _, credits = _drawn(credits_lines(**CREDITS), (1280, 720))  # type: ignore[arg-type]
    got = card_fields(credits)
    assert (got.producer, got.date, got.unit) == (True, True, "西安交通大学继续教育学院")
    # the longest title wins; units by their endings; dates as cards write them
    assert card_fields(["王伟 副主任医师", "西安市第一医院"]).title == "副主任医师"
    assert card_fields(["张华 副教授 西北工业大学"]) == CardFields(
        "副教授", "张华副教授西北工业大学", False, False, ("副教授",))
    # every title on a card, in reading order (two lecturers; 副教授 is not 教授)
    assert card_fields(["主讲：张伟 教授", "王芳 副教授"]).titles == ("教授", "副教授")
    assert card_fields(["主讲人 赵强"]).title is None                  # a name alone
    assert card_fields(["绿色低碳发展 第1讲"]).unit is None             # a course, no unit
    assert card_fields(["摄制：陕西广播电视台", "2023.11"]) == CardFields(
        None, "陕西广播电视台", True, True)
    assert not card_fields(["谢谢观看"]).date


def test_a_card_is_read_from_the_film(tmp_path: Path) -> None:
    """The still in the middle of an H.264 film, found by its time; a film too small to
    have legible words is not read."""
    picture, truth = _drawn(title_card_lines(**TITLE), (1280, 720))    # type: ignore[arg-type]
    film = tmp_path / "第3讲.mp4"
    cut_film(film, [("moving", 1, 1.0), ("picture", picture, 2.0), ("moving", 2, 1.0)],
             size=(1280, 720))
    assert list(read_card(film, (1.0, 3.0)) or ()) == truth
    small = tmp_path / "small.mp4"
    cut_film(small, [("picture", picture, 1.0)], size=(320, 180))
    assert read_card(small, (0.0, 1.0)) is None


def test_without_ocr_the_report_says_the_words_were_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without the OCR package still checks the file; the report says the cards'
    words were not read, and why."""
    import tasks.card_text
    from encoder_profiles import DEFAULT_PROFILE, load_profile
    from tasks.qc import qc_file

    picture, _ = _drawn(title_card_lines(**TITLE), (640, 360))          # type: ignore[arg-type]
    film = tmp_path / "第3讲.mp4"
    cut_film(film, [("picture", picture, 3.0), ("moving", 2, 2.0)], size=(640, 360))
    profile = load_profile(DEFAULT_PROFILE)
    read = qc_file(film, profile=profile, gpu=False, thumbnails=False, finished=True)
    assert read.report.extra["cards"]["title_card_text"][1] == "第3讲 能源结构转型与低碳技术路径"  # type: ignore[index]
    page = render_html(read)              # the page says where the card is and what it reads
    assert ("<th>片头字幕 Title card (A4)</th><td>00:00:00.000–00:00:03.000 · “碳达峰碳中和"
            "与绿色低碳发展 / 第3讲 能源结构转型与低碳技术路径 / 主讲：李敏 高级工程师 / "
            "陕西省环境科学研究院”</td>") in page, page
    from click.testing import CliRunner

    from courseware.cli import cli

    said = CliRunner().invoke(cli, ["qc", str(film), "--cpu", "--finished"]).output
    assert "片头字幕 Title card (A4): 00:00:00.000–00:00:03.000 · “碳达峰碳中和与绿色低碳发展 / " \
        "第3讲" in said, said
    monkeypatch.setattr(tasks.card_text, "_engine", False)    # as when rapidocr is missing
    unread = qc_file(film, profile=profile, gpu=False, thumbnails=False, finished=True)
    assert unread.report.extra["cards"]["title_card_text"] is None  # type: ignore[index]
    assert any("the cards' words were not read: no OCR here" in n for n in unread.notes)


def test_an_animated_title_card_is_read_and_timed_to_its_cut(tmp_path: Path) -> None:
    """A finished lecture opening with an animated card (drifting, never still) cut to the
    lecture (a room filmed, the camera panning) at 3 s: its words are read and it is the
    title card from 0 to the cut, not a freeze; a card drifting 9 s (no cut within A4's 5 s
    and the slack) is one without an end; a cut inside the card (its picture goes on after
    it) is not its end: the cut to the room 3.04 s in is, found where the card's words go;
    a lecture that opens on its own moving pictures (no words) has none."""
    import numpy as np
    from video_signals import colour_scene

    from encoder_profiles import DEFAULT_PROFILE, load_profile
    from tasks.qc import qc_file

    picture, truth = _drawn(title_card_lines(**TITLE), (640, 360))      # type: ignore[arg-type]
    room = ("drifting", (255 * colour_scene(360, 640)).astype(np.uint8), 3.0)
    inverted = 255 - np.asarray(picture)        # a flash inside the card: a cut of its own
    profile = load_profile(DEFAULT_PROFILE)
    found = {}
    for name, parts in (("card", [("drifting", picture, 3.0), room]),
                        ("long", [("drifting", picture, 9.0), room]),
                        ("flash", [("drifting", picture, 1.5), ("picture", inverted, 0.04),
                                   ("drifting", picture, 1.5), room]),
                        ("none", [("moving", 3, 3.0), room])):
        cut_film(tmp_path / f"{name}.mp4", parts, size=(640, 360))
        found[name] = qc_file(tmp_path / f"{name}.mp4", profile=profile, gpu=False,
                              thumbnails=False, finished=True)
    cards = found["card"].report.extra["cards"]
    assert isinstance(cards, dict)
    assert (cards["animated_card"], cards["opening_still"]) == ([0.0, 3.0], None), cards
    assert cards["title_card_text"] == truth
    assert ("<th>片头字幕 Title card (A4)</th><td>00:00:00.000–00:00:03.000 (animated) · “"
            "碳达峰碳中和与绿色低碳发展") in render_html(found["card"])
    long = found["long"].report.extra["cards"]
    assert isinstance(long, dict) and long["animated_card"] == [0.0, None], long
    assert long["title_card_text"] == truth
    flash = found["flash"].report.extra["cards"]         # its end: where its words go
    assert isinstance(flash, dict) and flash["animated_card"][0] == 0.0, flash
    assert 3.04 <= flash["animated_card"][1] <= 3.04 + 0.25, flash
    none = found["none"].report.extra["cards"]
    assert isinstance(none, dict)
    assert (none["animated_card"], none["title_card_text"]) == (None, None), none


def test_an_animated_card_dissolving_into_the_lecture_ends_where_its_words_go(
        tmp_path: Path) -> None:
    """An animated title card (drifting) that dissolves over 1 s into the lecture's moving
    pictures, no cut between them: its end is where its words stop reading, inside the
    dissolve (2.5–3.5 s) to a quarter of a second; held 6 s before dissolving it runs past
    A4's 5 s and its end is found there (a card too long, for the stick to fail). Cut to
    pictures that are all cuts, it ends at the cut, found by its words."""
    import numpy as np
    from video_signals import colour_scene

    from encoder_profiles import DEFAULT_PROFILE, load_profile
    from tasks.qc import qc_file

    picture, truth = _drawn(title_card_lines(**TITLE), (640, 360))      # type: ignore[arg-type]
    room = (255 * colour_scene(360, 640)).astype(np.uint8)
    profile = load_profile(DEFAULT_PROFILE)
    ends = {}
    for name, held in (("short", 2.5), ("long", 6.0)):
        film = tmp_path / f"{name}.mp4"
        cut_film(film, [("dissolving", (picture, room, held, 1.0), held + 4.0)],
                 size=(640, 360))
        cards = qc_file(film, profile=profile, gpu=False, thumbnails=False,
                        finished=True).report.extra["cards"]
        assert isinstance(cards, dict) and cards["title_card_text"] == truth, cards
        assert cards["animated_card"][0] == 0.0, cards
        ends[name] = cards["animated_card"][1]
    assert ends["short"] is not None and 2.5 < ends["short"] <= 3.5 + 0.25, ends
    assert ends["long"] is not None and 6.0 < ends["long"] <= 7.0 + 0.25, ends
    # cut at 3 s to a lecture whose every frame is a cut (a noise texture): more cuts than
    # are kept; the last kept is not taken for one with none after it
    noisy = tmp_path / "noisy.mp4"
    cut_film(noisy, [("drifting", picture, 3.0), ("moving", 5, 4.0)], size=(640, 360))
    cards = qc_file(noisy, profile=profile, gpu=False, thumbnails=False,
                    finished=True).report.extra["cards"]
    assert isinstance(cards, dict) and cards["animated_card"][0] == 0.0, cards
    assert 3.0 <= cards["animated_card"][1] <= 3.0 + 0.25, cards


def test_scrolling_credits_are_read_where_they_end(tmp_path: Path) -> None:
    """A finished lecture ending with credits that scroll into place (never still): their
    lines are read in the last seconds, and they are the credits, moving; a lecture ending
    on its own moving pictures has none."""
    import numpy as np
    from video_signals import colour_scene

    from encoder_profiles import DEFAULT_PROFILE, load_profile
    from tasks.qc import qc_file

    picture, truth = _drawn(credits_lines(**CREDITS), (640, 360))      # type: ignore[arg-type]
    room = ("drifting", (255 * colour_scene(360, 640)).astype(np.uint8), 3.0)
    profile = load_profile(DEFAULT_PROFILE)
    cards = {}
    for name, parts in (("credits", [room, ("scrolling", picture, 5.0)]),
                        ("none", [room, ("moving", 2, 3.0)])):
        cut_film(tmp_path / f"{name}.mp4", parts, size=(640, 360))
        result = qc_file(tmp_path / f"{name}.mp4", profile=profile, gpu=False,
                         thumbnails=False, finished=True)
        cards[name] = result.report.extra["cards"]
        if name == "credits":
            assert "<th>片尾字幕 Credits (A5)</th><td>its last seconds, to 00:00:08.000 " \
                "(moving) · “" in render_html(result)
    assert cards["credits"]["moving_credits"] == [None, 8.0], cards["credits"]
    assert sorted(cards["credits"]["credits_text"]) == sorted(truth), cards["credits"]
    assert (cards["none"]["moving_credits"], cards["none"]["credits_text"]) == (None, None)
