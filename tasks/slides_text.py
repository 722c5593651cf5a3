"""How tall the slides' text is in the film (B3, "legible"): a few pictures of the slides'
region, their lines of text found by OCR and measured.

The lines are found and read by the OCR that reads the cards (:mod:`tasks.card_text`; a
line must read as words to count); each line's height is the run of rows its ink covers
(:func:`qc_metrics.layout.ink_height`), not the finder's box, which is padded by a varying
amount. The pictures are spread over the time the slides are shown, away from
layout switches; each costs under a second on two CPU cores.
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

#: pictures of the slides measured per film (pages, most often)
SLIDES_TEXT_READS = 3
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


def read_times(spans: Sequence[CameraSpan], *, end_s: float,
               reads: int = SLIDES_TEXT_READS) -> list[float]:
    """``reads`` times spread over the time the layout ``spans`` shows the slides."""
    return spread([(s.start_s, min(s.end_s, end_s)) for s in spans if SLIDES in s.regions],
                  reads)


def slides_text(path: Path, spans: Sequence[CameraSpan], *, end_s: float,
                lecture: str | None = None, reads: int = SLIDES_TEXT_READS
                ) -> list[TextPage] | None:
    """The slides' text measured in ``reads`` pictures of the film at ``path`` whose layout
    is ``spans``: per picture, the height of each line found in the slides' region. None
    where there is no OCR here; [] where the film shows no slides."""
    if ocr_engine() is None:
        return None
    pages = []
    for at in read_times(spans, end_s=end_s, reads=reads):
        span = span_at(spans, at)
        rgb = picture_at(path, at, lecture=lecture)
        if span is None or rgb is None:
            continue
        x, y, w, h = span.regions[SLIDES]
        lines = text_lines(rgb[y:y + h, x:x + w])
        if lines is not None:
            pages.append(TextPage(at, tuple(line.height for line in lines)))
    log.debug("%s: slides' text %s", path, pages)
    return pages


def film_text(path: Path, *, between: tuple[float, float], lecture: str | None = None,
              reads: int = SLIDES_TEXT_READS) -> list[TextPage] | None:
    """The text a film without a known layout shows, measured over the whole picture in
    ``reads`` pictures spread over ``between`` (seconds from the file's start: the lecture
    between its cards), the lines in the same place in every picture left out
    (:func:`without_overlays`). None where there is no OCR here or nothing can be told."""
    if ocr_engine() is None:
        return None
    read = []
    for at in spread([between], reads):
        rgb = picture_at(path, at, lecture=lecture)
        lines = text_lines(rgb) if rgb is not None else None
        if lines is not None:
            read.append((at, lines))
    log.debug("%s: the film's text %s", path, read)
    return without_overlays(read)
