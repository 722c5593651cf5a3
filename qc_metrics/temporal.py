"""Continuity in time (V1: sync continuous, no loss of sync, no black/frozen frames at edits).

* Timestamps: gaps (dropped frames), repeats, reversals and irregular steps, from the ``t``
  values the decoder reports; duplicated pictures (a frame identical to the previous one inside
  moving content) from the pixels.
* Frozen spans with FFmpeg ``freezedetect`` semantics: a frame is frozen while its mean absolute
  difference from the reference frame (the first frame of the still stretch), summed over all
  planes and divided by 2^bitdepth, is ≤ ``noise`` (freezedetect ``n``, default 0.001 = −60 dB);
  a span runs from the reference frame to the first frame that moves, and is reported when it
  lasts ≥ ``min_duration_s`` (freezedetect ``d``, default 2 s). One departure: the encoder
  coding the same picture again (a keyframe's refresh, x264 refining a static picture over its
  first frames) moves no content, only the coding noise, yet breaks freezedetect's span there:
  a frozen camera in a file with a keyframe every second is reported by freezedetect as 2 s
  of a 10-s freeze, or not at all. Here a still whose next still shows the same picture (the
  means of 16×16-pixel blocks, luma and chroma, within ``REFRESH_CODES`` of the first
  still's: coding noise averages out in a block, a moving hand or a new line of text does
  not) continues it.
* Where one stream plays and the other has nothing (:func:`uncovered`): sound that starts
  after the pictures or ends before them is silence a player fills in; pictures that end
  before the sound are held (or blacked out) by the player. Neither is a break inside the
  stream, so the timestamp checks alone do not see it.
* Black spans with FFmpeg ``blackdetect`` semantics: a pixel is black when its luma is
  ≤ black + ``pix_th``·(white − black) (limited range); a picture is black when the share of
  black pixels is ≥ ``pic_th``; a span runs from the first black frame to the first non-black
  one and is reported when it lasts ≥ ``min_duration_s``.

Pixel statistics use point samples of the full-resolution planes (not averages), so the mean
absolute difference and the black share keep their per-pixel meaning.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan
from qc_metrics.frames import (
    VideoDetector,
    YUVFrame,
    as_batch,
    box_downscale,
    runs,
    sample_planes,
    timecode,
)
from qc_metrics.xp import array_namespace, to_host

#: how far the ends of a file's picture and sound may lie apart unremarked: encoders leave an
#: audio frame or a picture or two of difference (priming, the last frame's duration), which
#: nobody sees or hears; a quarter of a second is a clipped word or a visibly held picture
STREAM_ENDS_S = 0.25


@dataclass(frozen=True)
class Uncovered:
    """A stretch at the start or the end of a file where the other stream plays and this one
    has nothing."""

    start_s: float
    end_s: float
    at: str            #: "start" or "end"

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def uncovered(span: tuple[float, float], other: tuple[float, float], *,
              tolerance_s: float = STREAM_ENDS_S) -> list[Uncovered]:
    """Where ``other`` (start, end of a stream, seconds on the file's clock) plays and
    ``span`` does not: before its start and after its end, each when longer than
    ``tolerance_s``."""
    out = []
    if span[0] - other[0] > tolerance_s:
        out.append(Uncovered(other[0], span[0], "start"))
    if other[1] - span[1] > tolerance_s:
        out.append(Uncovered(span[1], other[1], "end"))
    return out


def _flatten(frames: YUVFrame) -> Any:
    """All planes of each frame of a batch as one row of int16 samples: (N, pixels)."""
    xp = array_namespace(frames.y)
    n = frames.y.shape[0]
    return xp.concatenate([p.reshape(n, -1) for p in frames], axis=1).astype(xp.int16)


def _blocks(frames: YUVFrame, k: int) -> Any:
    """Means of ``REFRESH_BLOCK``² pixel blocks of frame ``k`` of a batch, luma and chroma
    (4:2:0: half the block in each chroma plane), as one row."""
    xp = array_namespace(frames.y)
    y, u, v = (p[k:k + 1] for p in frames)
    return xp.concatenate([box_downscale(y, REFRESH_BLOCK).ravel(),
                           box_downscale(u, REFRESH_BLOCK // 2).ravel(),
                           box_downscale(v, REFRESH_BLOCK // 2).ravel()])


def mafd(a: Any, b: Any) -> Any:
    """Mean absolute difference of rows of 8-bit samples over 2^8, as in FFmpeg freezedetect."""
    xp = array_namespace(a, b)
    return xp.abs(a - b).astype(xp.float32).mean(axis=-1) / 256.0


class TimestampDetector(VideoDetector):
    """``video.timestamps`` (V1): gaps, repeats, reversals, irregular steps, duplicated frames.

    The frame duration T is the file's own cadence: the median step between timestamps when at
    least ``cadence_share`` of the steps lie within ``tolerance``·T of it, else 1/fps. (The
    stream's average rate counts a gap as slower frames: 0.5 s missing from 4 s at 25 fps
    averages 22 fps, and the gap would count 10 frames instead of 12.)
    A step > (1 + ``tolerance``)·T is a gap of
    round(step/T) − 1 dropped frames; a step ≤ ``tolerance``·T repeats a timestamp; a negative
    step reverses time; other steps off T by more than ``tolerance``·T are irregular. A picture
    identical (on point samples) to the previous one while both neighbouring steps move by
    more than ``moving`` is a duplicated frame."""

    def __init__(self, *, fps: float, profile: Profile, tolerance: float = 0.25,
                 moving: float = 0.002, step: int = 8, cadence_share: float = 0.8) -> None:
        self.fps = float(fps)
        self.profile = profile
        self.tolerance = tolerance
        self.cadence_share = cadence_share
        self.moving = moving
        self.step = step
        self._times: list[float] = []
        self._diffs: list[float] = []   # MAFD to the previous frame (nan for the first)
        self._prev: Any = None

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        xp = array_namespace(frames.y)
        rows = _flatten(sample_planes(as_batch(frames), self.step))
        if self._prev is not None:
            rows = xp.concatenate([self._prev, rows])
        else:
            self._diffs.append(float("nan"))
        self._prev = rows[-1:]
        if rows.shape[0] > 1:
            self._diffs.extend(float(d) for d in to_host(mafd(rows[1:], rows[:-1])))
        self._times.extend(float(t) for t in ts)

    def period(self) -> float:
        """The frame duration the steps are judged against (see the class doc)."""
        steps = [b - a for a, b in itertools.pairwise(self._times) if b > a]
        if len(steps) >= 2:
            steps.sort()
            median = steps[len(steps) // 2]
            on_cadence = sum(abs(s - median) <= self.tolerance * median for s in steps)
            if on_cadence >= self.cadence_share * len(steps):
                return median
        return 1.0 / self.fps

    def finish(self) -> list[Check]:
        period = self.period()
        tol = self.tolerance * period
        events: list[Event] = []
        dropped = repeats = reversals = irregular = duplicates = 0
        for k in range(1, len(self._times)):
            t0, t1 = self._times[k - 1], self._times[k]
            step = t1 - t0
            if step < 0:
                reversals += 1
                events.append(Event(t0, t0, f"{timecode(t0)}: time goes back to "
                                            f"{timecode(t1)} ({step * 1000:+.0f} ms)"))
            elif step <= tol:
                repeats += 1
                events.append(Event(t1, t1, f"{timecode(t1)}: timestamp repeated"))
            elif step > period + tol:
                n = max(1, round(step / period) - 1)
                dropped += n
                events.append(Event(t0 + period, t1, f"{timecode(t0)}: {n} frame(s) missing "
                                                     f"({step * 1000:.0f} ms step)"))
            elif abs(step - period) > tol:
                irregular += 1
                events.append(Event(t0, t1, f"{timecode(t0)}: irregular step "
                                            f"{step * 1000:.1f} ms"))
        d = self._diffs
        for k in range(1, len(d) - 1):
            if d[k] == 0.0 and d[k - 1] > self.moving and d[k + 1] > self.moving:
                duplicates += 1
                t = self._times[k]
                events.append(Event(t, t + period, f"{timecode(t)}: duplicated frame in "
                                                   f"moving picture"))
        events.sort(key=lambda e: e.start_s)
        total = dropped + repeats + reversals + irregular + duplicates
        parts = [f"{n} {what}" for n, what in ((dropped, "dropped frame(s)"),
                                               (repeats, "repeated timestamp(s)"),
                                               (reversals, "reversal(s)"),
                                               (irregular, "irregular step(s)"),
                                               (duplicates, "duplicated frame(s)")) if n]
        status: Status = "fail" if dropped or repeats or reversals or duplicates else \
            "warn" if irregular else "pass"
        message = ", ".join(parts) if parts else \
            f"{len(self._times)} frames, continuous at {1.0 / period:.4g} fps"
        return [Check("video.timestamps", "V1", status, float(total), 0.0, "frames", message,
                      tuple(events))]


#: still stretches this long or longer are kept (:meth:`FreezeDetector.stills`): two frames
#: at 25 fps, a card or a slide, not one repeated frame
STILL_MIN_S = 0.08

#: the same picture coded again: block means (``REFRESH_BLOCK``² pixels; luma and chroma)
#: within this many codes of the still's first frame. Measured on H.264 at lecture bit
#: rates: a keyframe's refresh of a title card or a frozen camera moves block means by
#: ≤ 3.8 codes; the smallest content change between two stills of a rendered lecture (the
#: teacher's inset) by 19.5
REFRESH_CODES = 8.0
REFRESH_BLOCK = 16
#: the first stills' pictures kept (luma block means): a finished lecture's title card is
#: among them (after an intro's stills), for telling one lecture's card from another's …
KEEP_PICTURES = 16
#: … of stills held at least this long (a card is held long enough to be read; a shorter
#: still, a camera's first frames or an animation's doubled frames, is not one)
CARD_MIN_S = 1.0


class FreezeDetector(VideoDetector):
    """``video.freeze`` (V1): frozen spans, FFmpeg freezedetect semantics (see module doc).

    Frozen pictures are legitimate on a slides stream, so spans are warnings for a person to
    judge, not failures."""

    def __init__(self, *, fps: float, profile: Profile, noise: float = 0.001,
                 min_duration_s: float = 2.0, step: int = 4) -> None:
        self.fps = float(fps)
        self.profile = profile
        self.noise = noise
        self.min_duration_s = min_duration_s
        self.step = step
        self._ref: Any = None           # samples of the reference frame
        self._ref_t = 0.0
        self._ref_is_prev = True        # the reference is the frame just before
        self._last: Any = None          # samples of the last frame seen
        self._last_t = 0.0
        self._stills: list[tuple[float, float]] = []
        self._anchor: Any = None        # block means of the last still's first picture
        self._continues = False         # the reference frame shows the last still's picture
        self._pictures: list[tuple[float, np.ndarray]] = []   # (time, luma block means)
        self._chain_t = 0.0             # where the still (with its refreshes) began

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        frames = as_batch(frames)
        xp = array_namespace(frames.y)
        rows = _flatten(sample_planes(frames, self.step))
        times = [float(t) for t in ts]
        start = 0
        if self._ref is None:
            self._ref, self._ref_t, self._last, start = rows[:1], times[0], rows[:1], 1
        # consecutive differences in one call: while the reference is the previous frame
        # they decide alone; only inside a still stretch is the reference compared again
        prev = xp.concatenate([self._last, rows[:-1]]) if start == 0 else rows[:-1]
        step_diff = to_host(mafd(rows[start:], prev))
        k = start
        while k < len(times):
            if self._ref_is_prev:
                if step_diff[k - start] > self.noise:
                    self._close(times[k], frames, k)
                    self._ref, self._ref_t = rows[k:k + 1], times[k]
                else:
                    self._ref_is_prev = False
                    if not self._continues:     # a still begins: its picture
                        self._anchor = _blocks(frames, k)
                        self._chain_t = self._ref_t
                        if len(self._pictures) < KEEP_PICTURES:
                            self._pictures.append((times[k], to_host(box_downscale(
                                frames.y[k:k + 1], REFRESH_BLOCK)[0])))
                k += 1
                continue
            d = to_host(mafd(rows[k:], self._ref))
            moved = [i for i, x in enumerate(d) if x > self.noise]
            if not moved:
                break
            m = k + moved[0]
            self._close(times[m], frames, m)
            self._ref, self._ref_t, self._ref_is_prev = rows[m:m + 1], times[m], True
            k = m + 1
        self._ref = self._ref.copy()
        self._last = rows[-1:].copy()
        self._last_t = times[-1]

    def _close(self, t: float, frames: YUVFrame, k: int) -> None:
        """The still stretch that started at the reference frame ends at ``t``, where the
        picture of frame ``k`` of ``frames`` begins. While the pictures are the last still's
        picture coded again (a keyframe's refresh, a few frames of x264 refining it), the
        still goes on."""
        if t - self._ref_t >= STILL_MIN_S:
            if self._continues:
                self._stills[-1] = (self._stills[-1][0], t)
            else:
                self._stills.append((self._ref_t, t))
        elif not self._continues:
            self._anchor = None
        xp = array_namespace(frames.y)
        self._continues = self._anchor is not None and float(to_host(
            xp.abs(_blocks(frames, k) - self._anchor).max())) <= REFRESH_CODES
        if not self._continues:         # the still is over, refreshes and all
            self._anchor = None
            if (self._pictures and self._pictures[-1][0] >= self._chain_t
                    and t - self._chain_t < CARD_MIN_S):
                self._pictures.pop()    # too short for a card: its place goes to another

    def stills(self) -> list[tuple[float, float]]:
        """Every still stretch of ``STILL_MIN_S`` or more seen so far (start, end): a card,
        a slide, a frozen camera, each in one piece however often the encoder refreshed it;
        the last one up to the end of the stream."""
        end = self._last_t + 1.0 / self.fps
        if self._ref is None:
            return list(self._stills)
        if self._continues:
            return [*self._stills[:-1], (self._stills[-1][0], end)]
        if end - self._ref_t >= STILL_MIN_S:
            return [*self._stills, (self._ref_t, end)]
        return list(self._stills)

    def picture(self, start: float, end: float) -> np.ndarray | None:
        """The luma of the still over (start, end) as block means (``REFRESH_BLOCK``² pixels),
        when it is one of the first ``KEEP_PICTURES`` stills held ``CARD_MIN_S`` or more;
        else None."""
        return next((p for t, p in self._pictures if start - 1e-6 <= t < end), None)

    def finish(self) -> list[Check]:
        spans = [(a, b) for a, b in self.stills() if b - a >= self.min_duration_s]
        events = tuple(Event(a, b, f"{timecode(a)}–{timecode(b)}: picture frozen for "
                                   f"{b - a:.2f} s") for a, b in spans)
        total = sum(b - a for a, b in spans)
        status: Status = "warn" if spans else "pass"
        message = (f"{len(spans)} frozen span(s), {total:.1f} s in all (≥ "
                   f"{self.min_duration_s:g} s each)" if spans else "no frozen spans")
        return [Check("video.freeze", "V1", status, round(float(total), 3),
                      self.min_duration_s, "s", message, events)]


#: FFmpeg blackdetect's defaults: a pixel is black at or under black + PIX_TH·(white − black);
#: a picture is black where at least PIC_TH of its pixels are
PIX_TH = 0.10
PIC_TH = 0.98


def black_level(luma_range: Sequence[int], pix_th: float = PIX_TH) -> int:
    """blackdetect's pixel_black_th_i: the highest luma code a black pixel has (truncated)."""
    lo, hi = luma_range
    return int(lo + pix_th * (hi - lo))


def black_shares(y: Any, level: int, *, step: int = 4) -> Any:
    """Per picture of a batch of luma planes (n, h, w), the share of its pixels at or under
    ``level``, from point samples every ``step`` pixels (per-pixel meaning kept)."""
    ys = y[:, ::step, ::step]
    black = (ys <= level).reshape(ys.shape[0], -1)
    return black.astype(array_namespace(ys).float32).mean(axis=1)


class BlackDetector(VideoDetector):
    """``video.black`` (V1): black spans, FFmpeg blackdetect semantics (see module doc).

    Black inside the film fails (a gap in the picture); black only at its very start or end
    (fades) is a warning. ``spans`` (the render's layout): where the picture shows only an
    authored capture (digital slides full screen), black inside the film is a warning too: a
    dark slide of the author's looks the same as a lost capture signal, and a person judges."""

    def __init__(self, *, fps: float, profile: Profile, pix_th: float = PIX_TH,
                 pic_th: float = PIC_TH, min_duration_s: float = 0.5, step: int = 4,
                 spans: Sequence[CameraSpan] = ()) -> None:
        self.fps = float(fps)
        self.spans = sorted(spans, key=lambda c: c.start_s)
        self.black_level = black_level(profile.video.luma_range, pix_th)
        self.pic_th = pic_th
        self.min_duration_s = min_duration_s
        self.step = step
        self._times: list[float] = []
        self._black: list[bool] = []

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        share = black_shares(as_batch(frames).y, self.black_level, step=self.step)
        self._black.extend(bool(s >= self.pic_th) for s in to_host(share))
        self._times.extend(float(t) for t in ts)

    def finish(self) -> list[Check]:
        t = self._times
        end = t[-1] + 1.0 / self.fps if t else 0.0
        spans = []
        for i, j in runs(self._black):
            a, b = t[i], t[j] if j < len(t) else end
            if b - a >= self.min_duration_s:
                spans.append((a, b, i == 0 or j == len(t)))
        authored = [not edge and self._authored_only(a, b) for a, b, edge in spans]
        events = tuple(Event(a, b, f"{timecode(a)}–{timecode(b)}: black for {b - a:.2f} s"
                                   + (" (at the start/end)" if edge else "")
                                   + (" (the slides capture alone: a dark slide, or its signal "
                                      "lost?)" if dark else ""))
                       for (a, b, edge), dark in zip(spans, authored, strict=True))
        inner = [s for s, dark in zip(spans, authored, strict=True) if not s[2] and not dark]
        total = sum(b - a for a, b, _ in spans)
        status: Status = "fail" if inner else "warn" if spans else "pass"
        message = (f"{len(spans)} black span(s), {total:.1f} s in all, {len(inner)} inside "
                   f"the film" if spans else "no black spans")
        if any(authored):
            message += (f"; {sum(authored)} where only an authored slides capture is shown "
                        "(a dark slide looks the same as a lost signal): judge by eye")
        return [Check("video.black", "V1", status, round(float(total), 3),
                      self.min_duration_s, "s", message, events)]

    def _authored_only(self, a: float, b: float) -> bool:
        """From ``a`` to ``b`` the layout shows authored captures only (no camera)."""
        inside = [s for s in self.spans if s.start_s < b and s.end_s > a]
        covered = bool(inside) and inside[0].start_s <= a and inside[-1].end_s >= b
        return covered and not any(s.cameras() for s in inside)
