"""Colour bars where the lecture should be (V1): a test signal, not a picture.

A camera or recorder left on its bars, a capture device showing bars for a lost input, a
master with bars and tone at its head: the learner sees the test signal. Every colour-bar
signal in use (SMPTE ECR 1-1978 and RP 219 / ARIB STD-B28, EBU 100/0/75/0 and 75 % bars,
in BT.601 or BT.709 coding) has, across its upper part, seven vertical bars of equal width in
one order: white (or grey), yellow, cyan, green, magenta, red, blue, their colours those of
R'G'B' primaries and their sums at one amplitude (75 % or 100 %; EBU's white at 100 % over
75 % colours). That is what :func:`colour_bars` looks for:

1. the band from 15 % to 45 % of the height is constant down each column (a picture of a
   scene never is): a cheap test that rejects camera pictures and slides at once;
2. the columns fall into runs of one colour; seven neighbouring runs of about equal width
   have the bars' colours at one amplitude (fitted by least squares from the six coloured
   bars, each within ``TOL_CODES`` of it) after a neutral bar at least as bright as yellow.

Pictures are 8-bit limited-range planes (:mod:`qc_metrics.frames`); the test reads four
rows of each, at most 320 columns, by plain slicing on either backend, and works on them on
the host: 0.12–0.2 ms per 1080p frame on a 2-core CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from courseware.report import Check, Event
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan, crop_planes, span_at
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, runs, timecode
from qc_metrics.xp import to_host

#: rows of the band that must be constant down each column, as fractions of the height
BAND_ROWS = (0.15, 0.25, 0.35, 0.45)
#: a column is constant when its rows lie within this (8-bit codes; coding noise, an
#: analogue capture's)
COLUMN_CODES = 8
#: at least this share of the columns is constant in a bars picture (edges ring)
CONSTANT_SHARE = 0.85
#: a bar's colour within this of the signal's (8-bit codes, Y' and Cb/Cr)
TOL_CODES = 14
#: runs narrower than this share of the width are edges between bars, not bars
MIN_RUN = 0.03
#: columns read across the picture
COLUMNS = 320

_RGB = np.array([(1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1)], float)


def _codes_per_unit(kr: float, kb: float) -> np.ndarray:
    """Y', Cb, Cr code offsets of the six coloured bars at 100 % (limited range)."""
    y = kr * _RGB[:, 0] + (1 - kr - kb) * _RGB[:, 1] + kb * _RGB[:, 2]
    cb = (_RGB[:, 2] - y) / (2 * (1 - kb))
    cr = (_RGB[:, 0] - y) / (2 * (1 - kr))
    return np.stack([219 * y, 224 * cb, 224 * cr], axis=1)


#: BT.709 (HD bars) and BT.601 (SD bars, FFmpeg's smptebars)
_MATRICES = (_codes_per_unit(0.2126, 0.0722), _codes_per_unit(0.299, 0.114))
_OFFSET = np.array([16.0, 128.0, 128.0])


def band(y: Any, u: Any, v: Any) -> np.ndarray | None:
    """The band's rows of one picture as (rows, columns, 3) Y'CbCr on the host, or None
    when its columns are not constant (not a test signal)."""
    h, w = y.shape
    step = max(2, (w // COLUMNS) & ~1)          # even: the chroma columns are the same ones
    luma, chroma = slice(0, 2 * (w // 2), step), slice(0, w // 2, step // 2)
    rows = [min(h - 2, round(f * h)) & ~1 for f in BAND_ROWS]
    planes = np.stack([
        np.stack([to_host(y[r, luma]) for r in rows]),
        np.stack([to_host(u[r // 2, chroma]) for r in rows]),
        np.stack([to_host(v[r // 2, chroma]) for r in rows])], axis=2).astype(np.int16)
    spread = (planes.max(axis=0) - planes.min(axis=0)).max(axis=1)
    if (spread <= COLUMN_CODES).mean() < CONSTANT_SHARE:
        return None
    return planes


def colour_runs(profile: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Runs of one colour across a band's column profile (columns, 3): (first, end, mean),
    split where neighbouring columns differ by more than ``COLUMN_CODES``; the narrow ones
    (edges between bars) left out."""
    steps = np.abs(np.diff(profile, axis=0)).max(axis=1) > COLUMN_CODES
    edges = [0, *(np.flatnonzero(steps) + 1).tolist(), len(profile)]
    return [(a, b, profile[a:b].mean(axis=0)) for a, b in itertools.pairwise(edges)
            if b - a >= MIN_RUN * len(profile)]


def bars_in(colours: Sequence[np.ndarray], widths: Sequence[int]) -> bool:
    """Seven neighbouring runs that are the bars: about equal widths; a neutral first bar at
    least as bright as the yellow one; six colours at one amplitude of a matrix's bars."""
    if len(colours) < 7:
        return False
    obs = np.asarray(colours, float) - _OFFSET
    for k in range(len(colours) - 6):
        w = np.asarray(widths[k:k + 7], float)
        if np.abs(w - np.median(w)).max() > 0.4 * np.median(w):
            continue
        white, bars = obs[k], obs[k + 1:k + 7]
        if max(abs(white[1]), abs(white[2])) > TOL_CODES:
            continue
        for unit in _MATRICES:
            amp = float((bars * unit).sum() / (unit * unit).sum())
            if not 0.5 <= amp <= 1.05:
                continue
            if (np.abs(bars - amp * unit).max() <= TOL_CODES
                    and white[0] >= bars[0][0] - TOL_CODES):
                return True
    return False


def colour_bars(y: Any, u: Any, v: Any) -> bool:
    """Whether one picture (limited-range planes, 4:2:0) shows colour bars."""
    rows = band(y, u, v)
    if rows is None:
        return False
    found = colour_runs(rows.mean(axis=0))
    return bars_in([c for _, _, c in found], [b - a for a, b, _ in found])


class ColourBarsDetector(VideoDetector):
    """``video.colour_bars`` (V1): stretches of colour bars of ``min_duration_s`` or more,
    in the whole picture, and with ``spans`` (the render's layout) in each camera's region.
    Any is a failure: a test signal is never part of a lecture."""

    def __init__(self, *, fps: float, profile: Profile, min_duration_s: float = 0.2,
                 spans: Sequence[CameraSpan] = ()) -> None:
        self.fps = float(fps)
        self.min_duration_s = min_duration_s
        self.spans = sorted(spans, key=lambda c: c.start_s)
        self._times: list[float] = []
        self._bars: list[str | None] = []      # per frame: where the bars are (None: none)

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        batch = as_batch(frames)
        for i, t in enumerate(ts):
            y, u, v = batch.y[i], batch.u[i], batch.v[i]
            where = "the picture" if colour_bars(y, u, v) else None
            span = span_at(self.spans, float(t)) if where is None and self.spans else None
            for source, rect in (span.regions.items() if span is not None else ()):
                part = crop_planes(YUVFrame(y, u, v), rect)
                if part is not None and colour_bars(*part):
                    where = source
                    break
            self._bars.append(where)
            self._times.append(float(t))

    def finish(self) -> list[Check]:
        t = self._times
        end = t[-1] + 1.0 / self.fps if t else 0.0
        events = []
        for i, j in runs([b is not None for b in self._bars]):
            a, b = t[i], t[j] if j < len(t) else end
            if b - a >= self.min_duration_s:
                where = self._bars[i]
                events.append(Event(a, b, f"{timecode(a)}–{timecode(b)}: colour bars for "
                                          f"{b - a:.2f} s"
                                          + ("" if where == "the picture" else
                                             f" in the {where} camera's place")))
        total = sum(e.end_s - e.start_s for e in events)
        if not events:
            return [Check("video.colour_bars", "V1", "pass", 0.0, self.min_duration_s, "s",
                          "no colour bars")]
        return [Check("video.colour_bars", "V1", "fail", round(total, 3), self.min_duration_s,
                      "s", f"colour bars for {total:.1f} s in {len(events)} stretch(es), "
                      f"first at {timecode(events[0].start_s)}: a test signal where the lecture "
                      "should be (a camera or recorder left on bars, an input lost, bars and "
                      "tone at a master's head): cut them out or re-record", tuple(events))]
