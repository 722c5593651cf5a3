"""``video.slides_layout`` (B3): the slides whole and large enough in the rendered picture.

B3 asks that the multimedia shown in class be complete and legible in the film; the
specification's reading: nothing drawn over the slides, and in picture-in-picture the
slides keep at least ``profile.video.slides_share_min`` of the frame. This is judged from
the layout as it was shown (the render's :class:`CameraSpan` list: per stretch of the film,
the rectangle each source was painted in, in painting order), not from the pixels: a
picture cannot tell a slide from a teacher standing before a whiteboard.

- A rectangle painted after the slides' that overlaps it covers part of them: a failure
  (B3: complete), with the stretches and the share covered.
- Where another source is shown beside the slides, the slides' share of the frame below the
  minimum is a warning: small text may no longer read (side by side, 16:9 slides have a
  quarter of the frame); a person judges the smallest text.
- Slides alone (letterboxed or not) and stretches without slides are not judged for their
  share.
- Where the slides' text was measured in the film (:class:`TextPage`, a picture of each
  page the slides turn to, :class:`PageDetector`, read by :mod:`tasks.slides_text`), a page
  whose body text (the median height of its lines) is under
  ``profile.video.slides_text_min_px`` is a warning, shown alone or not: B3's "legible"
  measured rather than inferred from the share.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan, span_runs
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, box_downscale, timecode
from qc_metrics.xp import to_host

SLIDES = "slides"


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Pixels two (x, y, w, h) rectangles share."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def ink_height(gray: np.ndarray) -> int | None:
    """The height, in rows, of the line of text in ``gray`` (8-bit, a crop around one line as
    a text finder boxes it): the run of rows holding ink around the crop's middle, gaps of a
    twelfth of the crop bridged (the strokes of 二 and 三). Ink is the smaller of the two
    classes Otsu's threshold splits the crop into (dark text on a light page or light on
    dark). None where nothing stands out (under 16 codes of contrast)."""
    if gray.size == 0 or int(gray.max()) - int(gray.min()) < 16:
        return None
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    below = np.cumsum(p)
    mean_below = np.cumsum(p * np.arange(256))
    between = (mean_below[-1] * below - mean_below) ** 2 / np.maximum(below * (1 - below),
                                                                      1e-12)
    dark = gray <= int(np.argmax(between))
    ink = dark if dark.mean() < 0.5 else ~dark
    rows = ink.sum(axis=1)
    inked = np.flatnonzero(rows >= max(2.0, 0.01 * float(rows.max())))
    if not inked.size:
        return None
    gap = max(1, len(rows) // 12) + 1
    middle = inked[np.argmin(np.abs(inked - len(rows) // 2))]
    top = bottom = int(np.flatnonzero(inked == middle)[0])
    while bottom + 1 < inked.size and inked[bottom + 1] - inked[bottom] <= gap:
        bottom += 1
    while top > 0 and inked[top] - inked[top - 1] <= gap:
        top -= 1
    return int(inked[bottom] - inked[top] + 1)


@dataclass(frozen=True)
class TextPage:
    """The slides' text in one picture of the film: the height in the film's pixels of each
    line of text found in the slides' region, top to bottom."""

    at_s: float
    heights: tuple[int, ...]

    @property
    def body(self) -> float | None:
        """The page's body text: the median height of its lines (a title or a footnote does
        not decide it); None where no text was found."""
        return statistics.median(self.heights) if self.heights else None

    def at_scale(self, scale: float) -> TextPage:
        """The page as a layout showing it at ``scale`` of its size shows it (each line's
        height scaled to whole pixels)."""
        return TextPage(self.at_s, tuple(round(h * scale) for h in self.heights))


#: seconds between the pictures a :class:`PageDetector` compares
PAGE_EVERY_S = 0.2
#: the side, in pixels, of the blocks whose luma means it compares: the coding noise of a
#: keyframe or of x264 refining a still picture averages out in a block (its means move by
#: under 11 codes in the demo's film), a stroke of text coming or going does not
PAGE_BLOCK = 8
#: tiles per side it judges the region in
PAGE_TILES = 8
#: a block whose mean moved by more than this many codes has changed
PAGE_CODES = 12
#: a tile has changed where this share of its blocks did (a word's strokes in it)
TILE_SHARE = 0.02
#: the page turned where this share of the region's tiles (three of 64) changed after holding
#: still: a new slide rewrites its heading and its body, however short; a talking head in an
#: inset never holds still
TURN_SHARE = 0.04
#: seconds a tile must have held still before its change can turn a page, and the shortest
#: page kept (a transition between slides, a wipe's steps, is not one)
PAGE_MIN_S = 1.0


class PageDetector(VideoDetector):
    """Where the slides turn a page: the stretches (start, end) over which the slides'
    region holds one page, so that each page can be read once (:mod:`tasks.slides_text`)
    rather than a few pictures at random times.

    The region is the slides' rectangle of the layout's span at each picture (``spans``,
    the other sources painted over it left out), or the whole picture without a layout (a
    film checked on its own, a raw capture). Every ``PAGE_EVERY_S`` the means of its luma's
    ``PAGE_BLOCK``-pixel blocks are compared with the previous ones, tile by tile: a page turns
    where ``TURN_SHARE`` of the tiles change at once after holding still ``PAGE_MIN_S``. A
    moving picture (a camera, a video in the slides) never holds still, so it turns no page;
    a stretch without slides, or a switch of layout, ends the page shown. Pages shorter than
    ``PAGE_MIN_S`` are transitions and are not kept. No check of its own."""

    def __init__(self, *, fps: float, profile: Profile,
                 spans: Sequence[CameraSpan] = ()) -> None:
        self.fps = float(fps)
        self.spans = sorted(spans, key=lambda c: c.start_s)
        self._pages: list[tuple[float, float]] = []
        self._key: object = None        # the span (or None: the whole picture) being watched
        self._start = 0.0               # where the page shown began
        self._prev: np.ndarray | None = None     # the last block means compared
        self._since: np.ndarray | None = None    # per tile, when it last changed
        self._tiles: np.ndarray | None = None    # per block, its tile (-1: painted over)
        self._due = -math.inf           # the next time a picture is sampled
        self._end_t = 0.0               # where the pictures seen so far end

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        y = as_batch(frames).y
        times = [float(t) for t in ts]
        runs = span_runs(self.spans, times) if self.spans else [(0, len(times), None)]
        for i, j, span in runs:
            if self.spans and (span is None or SLIDES not in span.regions):
                self._end(times[i])
                continue
            rect = span.regions[SLIDES] if span is not None else (0, 0, y.shape[2], y.shape[1])
            picked = []
            for k in range(i, j):
                if times[k] >= self._due:
                    picked.append(k)
                    self._due = max(self._due + PAGE_EVERY_S,
                                    times[k] + PAGE_EVERY_S - 0.5 / self.fps)
            if not picked:
                continue
            x, top, w, h = rect
            means = to_host(box_downscale(y[picked, top:top + h, x:x + w], PAGE_BLOCK))
            for k, picture in zip(picked, means, strict=True):
                self._compare(span, picture, times[k])
        self._end_t = times[-1] + 1.0 / self.fps

    def _compare(self, span: CameraSpan | None, picture: np.ndarray, t: float) -> None:
        if self._prev is None or span is not self._key or picture.shape != self._prev.shape:
            self._end(t)
            self._key, self._start, self._prev = span, t, picture
            self._tiles = _block_tiles(picture.shape, span)
            self._since = np.full(PAGE_TILES * PAGE_TILES, t)
            return
        assert self._tiles is not None and self._since is not None
        valid = self._tiles >= 0
        moved = (np.abs(picture - self._prev) > PAGE_CODES) & valid
        counts = np.bincount(self._tiles[valid], minlength=PAGE_TILES ** 2)
        share = np.bincount(self._tiles[moved], minlength=PAGE_TILES ** 2) / np.maximum(
            counts, 1)
        changed = share >= TILE_SHARE
        held = t - self._since >= PAGE_MIN_S - 1e-9
        if np.count_nonzero(changed & held) >= max(1.0, TURN_SHARE * np.count_nonzero(counts)):
            self._close(t)
            self._start = t
        self._since[changed] = t
        self._prev = picture

    def _close(self, t: float) -> None:
        """The page shown ends at ``t``; kept where it held ``PAGE_MIN_S``."""
        if t - self._start >= PAGE_MIN_S:
            self._pages.append((round(self._start, 3), round(t, 3)))

    def _end(self, t: float) -> None:
        """The region is no longer watched from ``t`` (no slides, another layout)."""
        if self._prev is not None:
            self._close(t)
        self._prev, self._key = None, None

    def pages(self) -> list[tuple[float, float]]:
        """The pages seen so far, (start, end) in seconds, the one shown last up to the end
        of the stream."""
        if self._prev is not None and self._end_t - self._start >= PAGE_MIN_S:
            return [*self._pages, (round(self._start, 3), round(self._end_t, 3))]
        return list(self._pages)

    def finish(self) -> list[Check]:
        return []


def _block_tiles(shape: tuple[int, ...], span: CameraSpan | None) -> np.ndarray:
    """Per block of the slides' region (``shape``: rows, columns of blocks), the tile it
    belongs to; -1 where a source painted after the slides covers its middle."""
    rows, cols = shape
    tiles = ((np.arange(rows) * PAGE_TILES // max(rows, 1))[:, None] * PAGE_TILES
             + (np.arange(cols) * PAGE_TILES // max(cols, 1))[None, :])
    if span is not None:
        names = list(span.regions)
        x0, y0 = span.regions[SLIDES][:2]
        xs = x0 + np.arange(cols) * PAGE_BLOCK + PAGE_BLOCK // 2
        ys = y0 + np.arange(rows) * PAGE_BLOCK + PAGE_BLOCK // 2
        for name in names[names.index(SLIDES) + 1:]:
            x, y, w, h = span.regions[name]
            over = ((ys >= y) & (ys < y + h))[:, None] & ((xs >= x) & (xs < x + w))[None, :]
            tiles = np.where(over, -1, tiles)
    return tiles


#: why ``slides_text_min_px`` is the size that reads, said in the messages
_LEGIBLE = "the smallest a Chinese character's strokes stay apart in"


def _text_verdict(pages: Sequence[TextPage], minimum: float, *, whose: str = "the slides'"
                  ) -> tuple[list[Event], str | None]:
    """The events of pages whose body text is under ``minimum`` pixels (``whose``: the
    slides' text, or the film's where the layout is not known), and the body text's heights
    over the pages, for the message: None where no page has text."""
    found = [p for p in pages if p.body is not None]
    if not found:
        return [], None
    small = [Event(p.at_s, p.at_s, (
        f"{timecode(p.at_s)}: {whose} body text {p.body:.0f} px tall in the film "
        f"(smallest line {min(p.heights)} px), under {minimum:g} px"))
        for p in found if (p.body or 0) < minimum]
    bodies = sorted(p.body or 0 for p in found)
    heights = (f"{bodies[0]:.0f} px" if bodies[0] == bodies[-1]
               else f"{bodies[0]:.0f}–{bodies[-1]:.0f} px")
    return small, (f"{heights} tall in the film ({len(found)} page(s) measured; "
                   f"≥ {minimum:g} px reads)")


def _measured(pages: Sequence[TextPage]) -> int:
    """How many of ``pages`` had text to measure."""
    return sum(p.body is not None for p in pages)


def _unknown_layout(text: Sequence[TextPage] | None, *, minimum: float, limit: float
                    ) -> Check:
    """B3 of a film checked on its own: whether the slides are whole is not known; the text
    its pictures show, measured over the whole picture (``text``), is judged where it is too
    small to read."""
    why = ("the layout is not known (a file checked on its own): whether the slides are "
           "whole and large enough is judged by eye")
    if text is None:
        return Check("video.slides_layout", "B3", "skip", None, minimum, "share", why)
    small, heights = _text_verdict(text, limit, whose="the film's")
    if small:
        return Check("video.slides_layout", "B3", "warn", None, minimum, "share", (
            f"the text the film shows (its whole picture measured, the layout not known) is "
            f"under {limit:g} px tall on {len(small)} of {_measured(text)} page(s) measured "
            f"({_LEGIBLE}): larger slides in the layout or larger fonts in the slides"),
            tuple(small))
    said = (f"the text it shows: body text {heights}" if heights else
            f"no text found on the film in the {len(text)} picture(s) measured")
    return Check("video.slides_layout", "B3", "skip", None, minimum, "share",
                 f"{why}; {said}")


def slides_layout(spans: Sequence[CameraSpan], *, size: tuple[int, int] | None,
                  profile: Profile, end_s: float = math.inf,
                  text: Sequence[TextPage] | None = None) -> Check:
    """``video.slides_layout`` (B3) of a film whose layout is known (``spans``) and whose
    frame is ``size`` (width, height); a skip without either, or without slides. ``end_s``:
    where the film's pictures end (a span to the end of the file may end at infinity).
    ``text``: the slides' text measured in pictures of the film (None: not measured, no
    OCR here); without a layout, the text of the whole picture (:func:`_unknown_layout`)."""
    minimum = profile.video.slides_share_min

    def skip(why: str) -> Check:
        return Check("video.slides_layout", "B3", "skip", None, minimum, "share", why)

    if not spans:
        return _unknown_layout(text, minimum=minimum, limit=profile.video.slides_text_min_px)
    if size is None:
        return skip("no picture")
    shown = [s for s in spans if SLIDES in s.regions]
    if not shown:
        return skip("the layout shows no slides")
    frame = size[0] * size[1]
    covered: list[Event] = []
    small: list[Event] = []
    shares: list[float] = []
    worst_cover = 0.0
    for span in shown:
        names = list(span.regions)
        rect = span.regions[SLIDES]
        area = rect[2] * rect[3]
        over = sum(_overlap(rect, span.regions[n]) for n in names[names.index(SLIDES) + 1:])
        end = min(span.end_s, end_s)
        when = (f"{timecode(span.start_s)}–{timecode(end)}" if math.isfinite(end)
                else f"from {timecode(span.start_s)}")
        if over:
            worst_cover = max(worst_cover, over / area)
            covered.append(Event(span.start_s, end, (
                f"{when}: {100 * over / area:.0f} % of the slides covered by "
                + ", ".join(n for n in names[names.index(SLIDES) + 1:]
                            if _overlap(rect, span.regions[n])))))
        if len(names) < 2:
            continue
        share = area / frame
        shares.append(share)
        if share < minimum:
            small.append(Event(span.start_s, end, (
                f"{when}: slides {rect[2]}×{rect[3]} px, {100 * share:.0f} % of the frame, "
                f"beside {', '.join(n for n in names if n != SLIDES)}")))
    least = min(shares) if shares else None
    small_text, heights = (_text_verdict(text, profile.video.slides_text_min_px)
                           if text is not None else ([], None))
    status: Status = "fail" if covered else "warn" if small or small_text else "pass"
    parts: list[str] = []
    if covered:
        parts.append(f"something is painted over the slides in {len(covered)} stretch(es) "
                     f"(up to {100 * worst_cover:.0f} % of them): B3 wants them complete; "
                     "use a layout whose regions do not overlap the slides")
    if small:
        parts.append(f"the slides have {100 * (least or 0):.0f} % of the frame beside another "
                     f"picture in {len(small)} stretch(es), under the {100 * minimum:.0f} % B3 "
                     "is read to want: check that their smallest text still reads, or use "
                     "picture-in-picture (`pip`)")
    if small_text:
        parts.append(f"the slides' body text is under {profile.video.slides_text_min_px:g} px "
                     f"tall in the film on {len(small_text)} of {_measured(text or ())} page(s) "
                     f"measured ({_LEGIBLE}): "
                     "use a larger slides region (`pip`, slides alone) or larger fonts in the "
                     "slides")
    if not parts:
        parts.append(f"the slides uncovered, on at least {100 * least:.0f} % of the frame "
                     f"beside another picture (≥ {100 * minimum:.0f} %, B3)"
                     if least is not None else "the slides uncovered, shown alone (B3)")
    if text is not None and not small_text:
        parts.append(f"their body text {heights}" if heights else
                     f"no text found on the slides in the {len(text)} picture(s) measured")
    return Check("video.slides_layout", "B3", status,
                 round(least, 4) if least is not None else None, minimum, "share",
                 "; ".join(parts),
                 tuple(sorted([*covered, *small, *small_text], key=lambda e: e.start_s)))


def capture_text(pages: Sequence[TextPage] | None, *, scale: float, profile: Profile) -> Check:
    """``video.slides_layout`` (B3) of a raw slides capture, for the base that recorded it:
    its text measured in its own pixels (``pages``) and judged at the size the lecture's
    layout will show it (``scale``: the slides' size in the film over the capture's). A
    page whose body text will be under ``profile.video.slides_text_min_px`` is a warning,
    early: the fonts can still be changed. A skip where no text was measured."""
    limit = profile.video.slides_text_min_px
    found = sorted(p.body for p in pages or () if p.body is not None)
    if not found:
        return Check("video.slides_layout", "B3", "skip", None, limit, "px",
                     "the capture's text not measured (no OCR here, no text found, or only "
                     "the same lines in the same place in every picture read: a logo, or a "
                     "page held while something moved on it)")
    shown = [p.at_scale(scale) for p in pages or ()]
    small, heights = _text_verdict(shown, limit)
    least = min(p.body for p in shown if p.body is not None)
    span = f"{found[0]:.0f}" if found[0] == found[-1] else f"{found[0]:.0f}–{found[-1]:.0f}"
    at = (f"the capture's body text {span} px; the lecture's layout shows the slides at "
          f"{scale:.2f} of their size: ")
    if small:
        return Check("video.slides_layout", "B3", "warn", least, limit, "px", (
            f"{at}under {limit:g} px in the film on {len(small)} of {_measured(shown)} page(s) "
            "measured "
            f"({_LEGIBLE}): larger fonts in the slides, or a layout giving them more of the "
            "frame"), tuple(small))
    return Check("video.slides_layout", "B3", "pass", least, limit, "px", f"{at}{heights}")
