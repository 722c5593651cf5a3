"""B3 "legible", measured: the height of the slides' text in the film.

Truth: text drawn with the embedded CJK font at known sizes; each line's ink measured on the
drawing itself (the rows where the line's strokes cover at least half a pixel), then found
again by OCR in an H.264 film at the delivery bit rate and measured by
:func:`qc_metrics.layout.ink_height`.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from html import escape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from video_signals import rgb_to_yuv420, write_h264

from courseware.fonts import find_face
from courseware.html_report import render_html
from encoder_profiles import load_profile
from qc_metrics.colour import CameraSpan
from qc_metrics.layout import TextPage, ink_height, slides_layout

PROFILE = load_profile("shaanxi-2024")
LINES = ("碳达峰碳中和的政策框架与实施路径", "Energy transition: 2030 targets",
         "一次能源消费中煤炭占比逐年下降", "第三讲 能源结构转型与低碳技术")
PAPER, INK = (246, 244, 240), (30, 34, 40)


def draw_page(size: int, wh: tuple[int, int], *, lines=LINES, paper=PAPER, ink=INK,
              ) -> tuple[np.ndarray, list[int]]:
    """A slide of ``wh`` pixels with ``lines`` set at ``size`` px, and each line's ink height:
    the rows where its strokes cover half a pixel or more (drawn again, alone, to tell)."""
    face = find_face()
    font = face.pil(size)
    page = Image.new("RGB", wh, paper)
    draw = ImageDraw.Draw(page)
    heights = []
    y = wh[1] // 8
    for line in lines:
        draw.text((wh[0] // 12, y), line, font=font, fill=ink)
        alone = Image.new("L", wh, 0)
        ImageDraw.Draw(alone).text((wh[0] // 12, y), line, font=font, fill=255)
        rows = np.flatnonzero((np.asarray(alone) >= 128).any(axis=1))
        heights.append(int(rows[-1] - rows[0] + 1))
        y += round(size * 2.2)
    return np.asarray(page), heights


def test_a_line_of_text_is_measured_by_its_ink():
    """Lines at 8–40 px, Chinese and Latin, dark on light and light on dark, each cropped
    as a text finder boxes it (padded by a third of its height, the next line's strokes
    peeping in at the bottom edge): the ink's height within a pixel of the drawing's. A
    crop without contrast has none."""
    for size in (8, 10, 12, 16, 24, 40):
        for paper, ink in ((PAPER, INK), ((20, 40, 90), (250, 250, 250))):
            rgb, truth = draw_page(size, (900, 12 * size + 80), paper=paper, ink=ink)
            gray = rgb.mean(axis=2).astype(np.uint8)
            y = (12 * size + 80) // 8
            for line, want in zip(LINES, truth, strict=True):
                pad = max(2, size // 3)
                crop = gray[max(0, y - pad):y + size + 2 * pad, :]
                got = ink_height(crop)
                assert got is not None and abs(got - want) <= 1, (size, line, got, want)
                y += round(size * 2.2)
    assert ink_height(np.full((30, 200), 128, np.uint8)) is None
    assert ink_height(np.zeros((0, 0), np.uint8)) is None


def _film(path: Path, pages: list[np.ndarray], *, rect: tuple[int, int, int, int],
          seconds: float = 2.0, keyint: int = 50, moving: bool = False) -> None:
    """A 1280×720 film at 900 kbps: each page in the slides' ``rect`` for ``seconds``, a
    textured teacher picture beside it (``moving``: new noise in every frame below it, which
    takes the bits, so that the coder codes the slides anew at each keyframe)."""
    rng = np.random.default_rng(3)
    teacher = (rng.integers(60, 200, (90, 160, 3)).repeat(4, 0).repeat(4, 1)).astype(np.uint8)
    x, y, w, h = rect
    frames = []
    for page in pages:
        canvas = np.full((720, 1280, 3), 16, np.uint8)
        canvas[y:y + h, x:x + w] = page
        canvas[360:540, 960:1280] = teacher[:180, :320]
        for _ in range(round(seconds * 25)):
            if moving:
                canvas[360:720, 960:1280] = rng.integers(0, 256, (360, 320, 3))
            frames.append(rgb_to_yuv420(canvas / 255.0))
    write_h264(path, frames, fps=25, kbps=900, keyint=keyint)


def test_the_slides_text_is_measured_in_the_film(tmp_path: Path, monkeypatch):
    """Picture-in-picture (slides on 960×540, 56 % of the frame): three pages shown 2 s each,
    their text at 24, 9 and 18 px. The slides' region is measured at the middle of each
    page: each line within a pixel of the drawing; the 9 px page is a warning at its time,
    the others not; the share alone would have passed. Without OCR the text is not
    measured and the share decides (a pass)."""
    from tasks import card_text
    from tasks.qc import qc_file
    from tasks.slides_text import read_times, slides_text

    rect = (0, 0, 960, 540)
    drawn = [draw_page(size, (960, 540)) for size in (24, 9, 18)]
    film = tmp_path / "pip.mp4"
    _film(film, [page for page, _ in drawn], rect=rect)
    spans = [CameraSpan(0.0, math.inf, {"slides": rect, "teacher": (960, 360, 320, 180)})]
    assert read_times(spans, end_s=6.0) == [pytest.approx(t, abs=1e-3)
                                            for t in (1 + 4 / 6, 3.0, 5 - 4 / 6)]
    pages = slides_text(film, spans, end_s=6.0)
    assert pages is not None and len(pages) == 3
    for page, (_, truth) in zip(pages, drawn, strict=True):
        assert len(page.heights) == len(truth), (page, truth)
        assert all(abs(a - b) <= 1 for a, b in zip(page.heights, truth, strict=True)), \
            (page, truth)

    check = next(c for c in qc_file(film, profile=PROFILE, gpu=False, thumbnails=False,
                                     cameras=spans).report.checks
                 if c.id == "video.slides_layout")
    assert (check.status, check.measured) == ("warn", pytest.approx(0.5625, abs=1e-4)), check
    assert [e.start_s for e in check.events] == [3.0], check.events
    assert "the slides' body text 9 px tall in the film" in check.events[0].detail
    assert "under 12 px tall in the film on 1 of 3 page(s) measured" in check.message

    monkeypatch.setattr(card_text, "_engine", False)          # as when rapidocr is missing
    unread = next(c for c in qc_file(film, profile=PROFILE, gpu=False, thumbnails=False,
                                     cameras=spans).report.checks
                  if c.id == "video.slides_layout")
    assert (unread.status, unread.events) == ("pass", ()), unread
    assert "body text" not in unread.message


def test_the_verdict_on_the_slides_text():
    """What the measured pages decide: body text (a page's median line) under the profile's
    12 px warns at that page, with slides alone too; a small footnote under a readable body
    does not; pages without text are said; the share's warning stays, told what the text
    measured."""
    alone = [CameraSpan(0, 60, {"slides": (0, 0, 1280, 720)})]
    side = [CameraSpan(0, 60, {"slides": (0, 180, 640, 360), "teacher": (640, 180, 640, 360)})]

    def judge(spans, *pages):
        return slides_layout(spans, size=(1280, 720), profile=PROFILE, end_s=60,
                             text=[TextPage(t, h) for t, h in pages])

    small = judge(alone, (10.0, (30, 11, 11, 10)), (30.0, (28, 16, 16, 9)))
    assert small.status == "warn" and [e.start_s for e in small.events] == [10.0], small
    assert "11 px tall in the film (smallest line 10 px), under 12 px" in \
        small.events[0].detail
    ok = judge(alone, (10.0, (30, 16, 16, 9)), (30.0, (40, 20, 20)))
    assert (ok.status, ok.events) == ("pass", ()), ok
    assert "their body text 16–20 px tall in the film (2 page(s) measured" in ok.message
    none = judge(alone, (10.0, ()))
    assert none.status == "pass" and "no text found on the slides in the 1 picture(s)" in \
        none.message
    beside = judge(side, (10.0, (18, 14, 14)))
    assert beside.status == "warn" and "under the 50 % B3 is read to want" in beside.message
    assert "their body text 14 px tall in the film" in beside.message
    assert slides_layout(alone, size=(1280, 720), profile=PROFILE).message == \
        "the slides uncovered, shown alone (B3)"


def test_lines_in_the_same_place_in_every_picture_are_furniture():
    """A logo or a burnt-in timecode (the same box in every picture read, within 2 px) is
    left out of every page; a heading at the same place whose length changes is not; where
    nothing but such lines was found, nothing can be told (None)."""
    from tasks.slides_text import Line, without_overlays

    logo = Line((1100, 680, 1260, 692), 9)
    page1 = (Line((80, 60, 700, 100), 36), Line((80, 140, 900, 160), 18), logo)
    page2 = (Line((80, 60, 520, 100), 36), Line((80, 140, 400, 150), 9),
             Line((1101, 679, 1261, 693), 9))
    pages = without_overlays([(10.0, page1), (20.0, page2)])
    assert pages == [TextPage(10.0, (36, 18)), TextPage(20.0, (36, 9))]
    assert without_overlays([(10.0, (logo,)), (20.0, (logo,))]) is None
    assert without_overlays([(10.0, page1)]) == [TextPage(10.0, (36, 18, 9))]


def test_a_finished_lecture_has_its_text_measured_over_the_whole_picture(tmp_path: Path):
    """A delivered lecture checked on its own (a stick: its layout not known): a title
    card, three pages of slides full screen (body text at 20, 9 and 20 px) and the credits;
    two 9 px lines of the base's logo in the bottom corners throughout. The pictures read
    lie between the cards; the 9 px page is a warning at its time and the logo is left
    out (with it, the third page, one 20 px line, would measure 9 px)."""
    from video_signals import cut_film

    from tasks.qc import qc_file

    def page(size: int, lines: tuple[str, ...]) -> np.ndarray:
        rgb, _ = draw_page(size, (1280, 720), lines=lines)
        logo, _ = draw_page(9, (300, 40), lines=("陕西省继续教育示范基地",))
        out = rgb.copy()
        out[676:716, 0:300] = logo
        out[676:716, 980:1280] = logo
        return out

    film = tmp_path / "第3讲.mp4"
    cut_film(film, [("card", ((20, 40, 90), "Lecture 3"), 3.0),
                    ("picture", page(20, LINES), 2.0), ("picture", page(9, LINES), 2.0),
                    ("picture", page(20, LINES[:1]), 2.0),
                    ("card", ((30, 30, 30), "Credits"), 3.0)], size=(1280, 720))
    report = qc_file(film, profile=PROFILE, gpu=False, thumbnails=False,
                     finished=True).report
    check = next(c for c in report.checks if c.id == "video.slides_layout")
    assert (check.status, check.measured) == ("warn", None), check
    assert [e.start_s for e in check.events] == [pytest.approx(6.0, abs=0.05)], check
    assert "the film's body text 9 px tall in the film" in check.events[0].detail, check
    assert "its whole picture measured, the layout not known" in check.message


def test_a_slides_capture_has_its_text_judged_at_the_size_the_layout_shows_it(
        tmp_path: Path):
    """A raw slides capture at 1920×1080 (three pages set at 36, 20 and 36 px: their ink 34,
    20 and 34 px tall) that the lecture's layout shows at half its size (picture-in-picture:
    960×540): the 20 px page will be 10 px in the film, an early warning for the base at its
    time; the others 17 px. Shown whole (scale 0.67) the same page is 13 px: no warning.
    Without a scale (a raw file whose place in a layout is not known) B3 stays a skip. A
    capture of one page held throughout is measured too."""
    from video_signals import cut_film

    from tasks.qc import qc_file

    drawn = [draw_page(size, (1920, 1080)) for size in (36, 20, 36)]
    bodies = [statistics.median(heights) for _, heights in drawn]     # the ink's, as drawn
    assert bodies == [34, 20, 34]
    capture = tmp_path / "slides.mp4"
    cut_film(capture, [("picture", page, 2.0) for page, _ in drawn], size=(1920, 1080))

    said: dict = {}

    def b3(scale: float | None):
        result = qc_file(capture, profile=PROFILE, gpu=False, thumbnails=False, raw=True,
                         slides_scale=scale)
        said["html"] = render_html(result)
        return next(c for c in result.report.checks if c.id == "video.slides_layout")

    half = b3(0.5)
    assert (half.status, half.measured, half.unit) == ("warn", 10, "px"), half
    assert escape("3 page(s) read, body text in the film at the layout's scale of 0.50 of "
                  "the capture's: ") in said["html"], said["html"]
    assert re.search(r"00:00:0[23]\.\d+ 10 px \(4 line\(s\)\)", said["html"])
    assert [e.start_s for e in half.events] == [pytest.approx(3.0, abs=0.05)], half
    assert "the capture's body text 20–34 px; the lecture's layout shows the slides at " \
        "0.50 of their size: under 12 px in the film on 1 of 3 page(s)" in half.message, half
    whole = b3(1280 / 1920)
    assert (whole.status, whole.measured, whole.events) == ("pass", 13, ()), whole
    unplaced = b3(None)
    assert unplaced.status == "skip" and "a raw source that is not a lecture's slides " \
        "capture" in unplaced.message, unplaced

    # one page held throughout (its turns told by the decoding pass: none) is read once,
    # not taken for a logo in the same place in every picture
    cut_film(capture, [("picture", drawn[1][0], 4.0)], size=(1920, 1080))
    held = b3(0.5)
    assert (held.status, held.measured) == ("warn", 10), held
    assert "on 1 of 1 page(s) measured" in held.message, held


def _pages_seen(pages: list[np.ndarray], *, spans=(), seconds: float = 2.0,
                fade_s: float = 0.48, moving: tuple[int, int, int, int] | None = None
                ) -> list[tuple[float, float]]:
    """The pages a :class:`PageDetector` tells apart in a 25-fps stream (no coding) of
    ``pages`` shown ``seconds`` each, each dissolving into the next over ``fade_s``, with
    sensor-like noise (σ 2 codes) and, in the ``moving`` rectangle, a textured picture
    scrolling two pixels a frame (a teacher's inset whose content is never still)."""
    from qc_metrics.layout import PageDetector

    rng = np.random.default_rng(5)
    wall = rng.integers(40, 220, (90, 400, 3)).repeat(4, 0).repeat(4, 1).astype(np.float64)
    noise = rng.normal(0, 2, (8, *pages[0].shape))
    detector = PageDetector(fps=25, profile=PROFILE, spans=spans)
    per_page, fade = round(seconds * 25), round(fade_s * 25)
    for n, page in enumerate(pages):
        for f in range(per_page):
            picture = page.astype(np.float64)
            if n and f < fade:
                picture = picture * (f / fade) + pages[n - 1] * (1 - f / fade)
            if moving is not None:
                x, y, w, h = moving
                shift = 2 * (n * per_page + f) % 900
                picture[y:y + h, x:x + w] = wall[:h, shift:shift + w]
            picture = np.clip(picture + noise[f % 8], 0, 255)
            detector.process(rgb_to_yuv420(picture / 255.0), (n * per_page + f) / 25)
    return detector.pages()


def test_the_pages_the_slides_turn_to_are_told_apart():
    """Five slides (640×360) shown 2 s each, dissolving into each other over half a second;
    some as sparse as four short lines in the top left (a few of the region's 64 tiles):
    every page turn is found at the first picture sampled after it (0.2 s apart), and the
    dissolves' further steps are not pages. A teacher's inset scrolling all the while turns
    no page, whether the layout says where it is (left out) or not (it never holds still); a
    stretch without slides ends the page shown."""
    sizes = (14, 12, 10, 14, 9)
    pages = [draw_page(size, (640, 360), lines=LINES[i % 4:] + LINES[:i % 4])[0]
             for i, size in enumerate(sizes)]
    truth = [(2.0 * i, 2.0 * (i + 1)) for i in range(5)]

    def near(found, want):
        return len(found) == len(want) and all(
            a <= p <= a + 0.25 and (b <= q <= b + 0.25 or q == b == want[-1][1])
            for (p, q), (a, b) in zip(found, want, strict=True))

    plain = _pages_seen(pages)
    assert near(plain, truth), plain
    inset = (480, 250, 160, 110)
    unknown = _pages_seen(pages, moving=inset)
    assert near(unknown, truth), unknown
    layout = [CameraSpan(0.0, 5.4, {"slides": (0, 0, 640, 360), "teacher": inset}),
              CameraSpan(5.4, 6.6, {"teacher": (0, 0, 640, 360)}),
              CameraSpan(6.6, math.inf, {"slides": (0, 0, 640, 360), "teacher": inset})]
    known = _pages_seen(pages, spans=layout, moving=inset)
    want = [(0.0, 2.0), (2.0, 4.0), (4.0, 5.4), (6.6, 8.0), (8.0, 10.0)]
    assert near(known, want), known


def test_a_page_coded_anew_is_the_same_page(tmp_path: Path):
    """Two pages held 5 s each in picture-in-picture at 900 kbps, a keyframe every second and
    a picture beside them that takes the bits: at each keyframe the coder codes the slides'
    text anew, thousands of pixels at its strokes' edges moving by more than 12 codes; the
    means of 8×8 blocks move by under 8, so only the real turn is one."""
    import av

    from qc_metrics.frames import YUVFrame
    from qc_metrics.layout import PageDetector

    rect = (0, 0, 960, 540)
    film = tmp_path / "pip.mp4"
    _film(film, [draw_page(size, (960, 540), lines=LINES[i:] + LINES[:i])[0]
                 for i, size in enumerate((16, 14))], rect=rect, seconds=5.0, keyint=25,
          moving=True)
    spans = [CameraSpan(0.0, math.inf, {"slides": rect, "teacher": (960, 360, 320, 180)})]
    detector = PageDetector(fps=25, profile=PROFILE, spans=spans)
    edges = 0
    with av.open(str(film)) as c:
        previous = None
        for frame in c.decode(video=0):
            planes = frame.to_ndarray(format="yuv420p")
            chroma = planes[720:].reshape(2, 360, 640)
            detector.process(YUVFrame(planes[:720], chroma[0], chroma[1]), float(frame.time))
            slides = planes[:540, :960].astype(np.int16)
            if previous is not None and not 4.9 < frame.time < 5.1:
                edges = max(edges, int((np.abs(slides - previous) > 12).sum()))
            previous = slides
    assert edges > 1000         # the premise: thousands of pixels move within a page
    pages = detector.pages()
    assert len(pages) == 2 and 5.0 <= pages[1][0] <= 5.2, pages


def test_a_video_in_the_slides_turns_no_page():
    """A picture moving all over (a video played in the slides, a camera panning) never
    holds still: one page from start to end, however much it changes."""
    still = np.zeros((360, 640, 3), np.uint8)
    moving = _pages_seen([still] * 3, moving=(0, 0, 640, 360))
    assert moving == [(0.0, 6.0)], moving


def test_each_page_is_read_once_the_most_evenly_chosen():
    """The reading times: the middle of each page inside the stretches the slides are
    shown; 20 pages are read 12 times, evenly over them; pages read are not read again;
    where no page was told apart, three pictures spread over the stretches (away from
    their ends), and where only part of the time was, the rest is filled so."""
    from tasks.slides_text import MOST_READS, page_times

    many = [(10.0 * i, 10.0 * (i + 1)) for i in range(20)]
    times = page_times([(0.0, 200.0)], many)
    assert len(times) == MOST_READS == 12
    assert times[0] < 20 and times[-1] > 180 and all(t % 10 == 5 for t in times), times
    assert len({t // 10 for t in times}) == 12
    assert page_times([(0.0, 30.0), (40.0, 60.0)], [(0.0, 30.0), (40.0, 60.0)]) == [15, 50]
    assert page_times([(0.0, 60.0)], [(0.0, 10.0), (10.0, 60.0)]) == [5, 35]
    assert page_times([(0.0, 60.0)]) == [pytest.approx(t, abs=1e-3)
                                         for t in (1 + 58 / 6, 30, 59 - 58 / 6)]
    assert page_times([(0.0, 60.0)], [(20.0, 30.0)]) == [
        pytest.approx(t, abs=1e-3) for t in (1 + 58 / 6, 25, 30)]
    # a page shown for only half a second of the stretches is not read
    assert page_times([(0.0, 20.0)], [(0.0, 19.5), (19.5, 40.0)]) == [9.75]


def test_every_page_of_the_slides_is_read(tmp_path: Path):
    """Eight pages of 2 s in picture-in-picture, all at 20 px but the fourth at 9 px (6–8
    s): three pictures spread over the film (at 2.7, 8.0 and 13.3 s) would not see it;
    reading each page once does, and says how many were read."""
    from tasks.qc import qc_file

    rect = (0, 0, 960, 540)
    sizes = (20, 20, 20, 9, 20, 20, 20, 20)
    film = tmp_path / "pip.mp4"
    _film(film, [draw_page(size, (960, 540), lines=LINES[i % 4:] + LINES[:i % 4])[0]
                 for i, size in enumerate(sizes)], rect=rect)
    spans = [CameraSpan(0.0, math.inf, {"slides": rect, "teacher": (960, 360, 320, 180)})]
    result = qc_file(film, profile=PROFILE, gpu=False, thumbnails=False, cameras=spans)
    check = next(c for c in result.report.checks if c.id == "video.slides_layout")
    assert check.status == "warn", check
    assert [e.start_s for e in check.events] == [pytest.approx(7.0, abs=0.25)], check
    assert "under 12 px tall in the film on 1 of 8 page(s) measured" in check.message, check
    # what was read, in the report: each page's time and lines, and in the HTML's summary
    read = json.loads(result.report.to_json())["slides_text"]
    assert read["scale"] is None and len(read["pages"]) == 8
    assert [round(p["at_s"]) for p in read["pages"]] == [1, 3, 5, 7, 9, 11, 13, 15]
    assert [p["body_px"] < 12 for p in read["pages"]] == [False] * 3 + [True] + [False] * 4
    html = render_html(result)
    assert "Slides' text (B3)</th><td>8 page(s) read, body text in the film: " in html
    assert re.search(r"00:00:0[67]\.\d+ 9 px \(4 line\(s\)\)", html), html
