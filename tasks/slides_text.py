"""How tall the slides' text is in the film (B3, "legible"): a picture of each page the
slides' region shows, its lines of text found by OCR and measured.

The lines are found and read by the OCR that reads the cards (:mod:`tasks.card_text`; a
line must read as words to count); each line's height is the run of rows its ink covers
(:func:`qc_metrics.layout.ink_height`), not the finder's box, which is padded by a varying
amount. The pages are where the decoding pass saw the slides turn a page
(:class:`qc_metrics.layout.PageDetector`): one picture in the middle of each, up to
``MOST_READS`` pages evenly chosen; where it told fewer than ``SLIDES_TEXT_READS`` apart,
pictures spread over the time the slides are shown, away from layout switches, make up the
rest. Each picture costs about a second on two CPU cores.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qc_metrics.colour import CameraSpan, span_at
from qc_metrics.layout import SLIDES, TextPage, ink_height
from tasks.card_text import MIN_SCORE, ocr_engine, picture_at

log = logging.getLogger(__name__)

#: pictures of the slides measured per film at least (spread over it where fewer pages
#: were told apart)
SLIDES_TEXT_READS = 3
#: pictures measured per film at most: one per page, the pages evenly chosen beyond it
MOST_READS = 12
#: a line of text found is at least this many times as wide as it is tall (two characters)
LINE_ASPECT = 2.0
#: a line within this many pixels of the same box in every picture read is an overlay
OVERLAY_PX = 2
#: seconds kept away from a stretch's start and end (a layout switch's transition)
SETTLE_S = 1.0


@dataclass(frozen=True)
class Line:
    """A line of text found in a picture: its box (x0, y0, x1, y1) and its ink's height."""

    box: tuple[int, int, int, int]
    height: int


def text_lines(rgb: np.ndarray) -> tuple[Line, ...] | None:
    """Each line of text in an RGB picture, top to bottom; None where there is no OCR here.
    A line counts where it reads as words (two characters or more, read with ``MIN_SCORE``
    confidence: a diagram's boxes and a photograph's edges do not) and its box is at least
    ``LINE_ASPECT`` times as wide as tall (a page number, a bullet, vertical text are not
    measured)."""
    engine = ocr_engine()
    if engine is None:
        return None
    out = engine(np.ascontiguousarray(rgb[:, :, ::-1]))            # RapidOCR takes BGR
    if out.boxes is None or out.txts is None:
        return ()
    gray = (rgb[:, :, 0] * 0.2126 + rgb[:, :, 1] * 0.7152 + rgb[:, :, 2] * 0.0722
            ).astype(np.uint8)
    h, w = gray.shape
    found: list[Line] = []
    for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
        x0, y0 = (max(0, int(v)) for v in box.min(axis=0))
        x1, y1 = (min(limit, int(np.ceil(v)) + 1) for limit, v in zip((w, h), box.max(axis=0),
                                                                      strict=True))
        if (score < MIN_SCORE or len(re.sub(r"\s", "", text)) < 2
                or x1 - x0 < LINE_ASPECT * (y1 - y0)):
            continue
        height = ink_height(gray[y0:y1, x0:x1])
        if height is not None:
            found.append(Line((x0, y0, x1, y1), height))
    return tuple(sorted(found, key=lambda line: (line.box[1], line.box[0])))


def _same_place(a: Line, b: Line) -> bool:
    return all(abs(p - q) <= OVERLAY_PX for p, q in zip(a.box, b.box, strict=True))


def without_overlays(read: Sequence[tuple[float, tuple[Line, ...]]]
                     ) -> list[TextPage] | None:
    """The pages read, less the lines found in the same place in every picture (a logo, a
    burnt-in timecode, a caption bar: the film's furniture, not what it shows). None where
    every line is such a line (a picture held throughout, or furniture alone: which, cannot
    be told)."""
    if len(read) < 2:
        return [TextPage(at, tuple(line.height for line in lines)) for at, lines in read]
    fixed = [line for line in read[0][1]
             if all(any(_same_place(line, other) for other in lines) for _, lines in read[1:])]
    pages = [TextPage(at, tuple(line.height for line in lines
                                if not any(_same_place(line, f) for f in fixed)))
             for at, lines in read]
    if fixed and not any(page.heights for page in pages):
        return None
    return pages


def spread(stretches: Sequence[tuple[float, float]], reads: int = SLIDES_TEXT_READS
           ) -> list[float]:
    """``reads`` times spread evenly over ``stretches`` ((from, to), seconds), each less
    ``SETTLE_S`` at either end (a layout switch's transition, a cut), or its middle half
    where it is short."""
    kept = []
    for start, end in stretches:
        margin = min(SETTLE_S, (end - start) / 4)
        if end - margin > start + margin:
            kept.append((start + margin, end - margin))
    total = sum(b - a for a, b in kept)
    times = []
    for i in range(reads if total > 0 else 0):
        left = (i + 0.5) / reads * total
        for a, b in kept:
            if left <= b - a:
                times.append(round(a + left, 3))
                break
            left -= b - a
    return times


def page_times(stretches: Sequence[tuple[float, float]],
               pages: Sequence[tuple[float, float]] = (), *, least: int = SLIDES_TEXT_READS,
               most: int = MOST_READS) -> list[float]:
    """When to read the slides shown over ``stretches`` ((from, to), seconds): the middle of
    each of ``pages`` (where the slides turned a page: :class:`PageDetector`) that lies in a
    stretch, ``most`` of them at most, evenly chosen; where that makes fewer than ``least``,
    times spread over the stretches (:func:`spread`) that are not on a page already read."""
    middles = []
    for start, end in pages:
        for a, b in stretches:
            lo, hi = max(start, a), min(end, b)
            if hi - lo >= SETTLE_S:         # a page shown in this stretch
                middles.append(round((lo + hi) / 2, 3))
                break
    if len(middles) > most:
        middles = [middles[(2 * i + 1) * len(middles) // (2 * most)] for i in range(most)]
    times = list(middles)
    for t in spread(stretches, least):
        if len(times) >= least:
            break
        if not any(a <= t < b and a <= m < b for a, b in pages for m in middles):
            times.append(t)
    return sorted(times)


def read_times(spans: Sequence[CameraSpan], *, end_s: float,
               pages: Sequence[tuple[float, float]] = ()) -> list[float]:
    """When to read the slides the layout ``spans`` shows (:func:`page_times`)."""
    return page_times([(s.start_s, min(s.end_s, end_s)) for s in spans
                       if SLIDES in s.regions], pages)


def slides_text(path: Path, spans: Sequence[CameraSpan], *, end_s: float,
                lecture: str | None = None, pages: Sequence[tuple[float, float]] = ()
                ) -> list[TextPage] | None:
    """The slides' text measured in pictures of the film at ``path`` whose layout is
    ``spans``, one per page of ``pages`` (:func:`read_times`): per picture, the height of
    each line found in the slides' region. None where there is no OCR here; [] where the
    film shows no slides."""
    if ocr_engine() is None:
        return None
    read = []
    for at in read_times(spans, end_s=end_s, pages=pages):
        span = span_at(spans, at)
        rgb = picture_at(path, at, lecture=lecture)
        if span is None or rgb is None:
            continue
        x, y, w, h = span.regions[SLIDES]
        lines = text_lines(rgb[y:y + h, x:x + w])
        if lines is not None:
            read.append(TextPage(at, tuple(line.height for line in lines)))
    log.debug("%s: slides' text %s", path, read)
    return read


def film_text(path: Path, *, between: tuple[float, float], lecture: str | None = None,
              pages: Sequence[tuple[float, float]] = ()) -> list[TextPage] | None:
    """The text a film without a known layout shows, measured over the whole picture, one
    picture per page of ``pages`` between ``between`` (seconds from the file's start: the
    lecture between its cards; :func:`page_times`), the lines in the same place in every
    picture left out (:func:`without_overlays`). None where there is no OCR here or
    nothing can be told."""
    if ocr_engine() is None:
        return None
    read = []
    for at in page_times([between], pages):
        rgb = picture_at(path, at, lecture=lecture)
        lines = text_lines(rgb) if rgb is not None else None
        if lines is not None:
            read.append((at, lines))
    log.debug("%s: the film's text %s", path, read)
    return without_overlays(read)
