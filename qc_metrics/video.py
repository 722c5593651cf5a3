"""Video QC (clauses V1–V4): every video detector over one stream of frames.

Frames are 8-bit planar YUV 4:2:0, BT.709 limited range, as three arrays (y: H×W,
u, v: H/2×W/2) or batches of them; see :mod:`qc_metrics.frames` for the convention.

=======================  ======  ==========================  ===============================
check id                 clause  detector                    measured
=======================  ======  ==========================  ===============================
``video.snr``            V2      :class:`NoiseDetector`      SNR in dB (Immerkær 1996)
``video.white_balance``  V3      :class:`WhiteBalanceDetector`  |(a*, b*)| of near-neutrals
``video.levels``         V4      :class:`LevelsDetector`     share out of range (BRNG)
``video.stability``      V1      :class:`StabilityDetector`  jumps + jittery stretches
``video.timestamps``     V1      :class:`TimestampDetector`  dropped/repeated/... frames
``video.colour_jumps``   V1      :class:`ColourJumpDetector` sudden colour changes
``video.freeze``         V1      :class:`FreezeDetector`     seconds frozen (freezedetect)
``video.black``          V1      :class:`BlackDetector`      seconds black (blackdetect)
``video.colour_bars``    V1      :class:`ColourBarsDetector`  seconds of colour bars
``video.camera_match``   V3      :class:`CameraMatchDetector`  ΔE2000 between cameras
``video.interlacing``    D7      :class:`InterlaceDetector`  share of moving frames combed
=======================  ======  ==========================  ===============================

``video.camera_match`` needs to know which part of the picture shows which camera
(``cameras``: the render's layout spans); without them it reports a skip. With them, the
white balance is judged on the camera pictures only, and the freeze and colour-jump
detectors see only the frames inside the spans: the provincial intro and the title and
credits cards are still graphics by design, not a frozen or flickering lecture (black is
still looked for everywhere: a black gap at a join is an edit-point fault, V1).

A picture whose flat areas carry no noise at all, checked without a layout, is a digital
capture (slides straight from a computer): a cast found there may be the author's template,
and a colour jump a new slide of another colour, so ``video.white_balance`` and
``video.colour_jumps`` warn instead of failing.

A file coded in full range (``full_range``: 0–255, "pc", yuvj formats) is measured as the
limited-range picture it shows (what the render makes of it); only ``video.levels`` judges
its stored codes, and says that the coding itself is the fault.

``VideoQC`` gathers single frames into batches (``batch`` frames) before handing them to the
detectors, so on the GPU each kernel works on many frames at once; ``process_batch`` takes a
ready stack. Frames must not be modified by the caller after ``process`` (they are buffered).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from courseware.report import Check
from encoder_profiles import Profile
from qc_metrics.bars import ColourBarsDetector, colour_bars
from qc_metrics.colour import (
    CameraMatchDetector,
    CameraSpan,
    Cast,
    ColourJumpDetector,
    Levels,
    LevelsDetector,
    WhiteBalanceDetector,
    camera_delta_e,
    colour_cast,
    delta_e2000,
    levels,
    mean_lab,
    span_at,
    to_limited_range,
)
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, split_yuv420p, timecode
from qc_metrics.interlace import InterlaceDetector
from qc_metrics.layout import PageDetector
from qc_metrics.motion import Shift, StabilityDetector, phase_correlate
from qc_metrics.noise import NoiseDetector, NoiseEstimate, estimate_noise, snr_db
from qc_metrics.temporal import BlackDetector, FreezeDetector, TimestampDetector
from qc_metrics.xp import array_namespace, backend_name

__all__ = [
    "BlackDetector", "CameraMatchDetector", "CameraSpan", "Cast", "ColourBarsDetector",
    "ColourJumpDetector",
    "FreezeDetector", "InterlaceDetector", "Levels",
    "LevelsDetector", "NoiseDetector", "NoiseEstimate", "Shift", "StabilityDetector",
    "TimestampDetector", "VideoQC", "WhiteBalanceDetector", "YUVFrame", "as_capture",
    "camera_delta_e", "colour_bars", "colour_cast", "delta_e2000", "estimate_noise", "levels",
    "mean_lab", "phase_correlate", "snr_db", "split_yuv420p",
]


class VideoQC(VideoDetector):
    """All video checks of V1–V4 over one frame stream, in the order of the check-id table.

    A picture without sensor noise checked without a layout (:meth:`captured`) is a digital
    capture: its colour jumps are judged as an authored capture's (a new slide is not one:
    :meth:`ColourJumpDetector.finish_authored`) and its off-white may be the author's (a
    failed V3 is a warning to judge by eye); with ``source`` (a raw source, judged for the
    lecture made of it) its cast is not judged at all and its stills are its pages
    (:func:`as_capture`)."""

    def __init__(self, *, fps: float, profile: Profile, batch: int = 16,
                 cameras: Sequence[CameraSpan] | None = None, full_range: bool = False,
                 source: bool = False) -> None:
        self.fps = float(fps)
        self.source = source
        self.batch = batch
        self.profile = profile
        self.full_range = full_range
        self.levels = LevelsDetector(fps=fps, profile=profile, full_range=full_range)
        self.detectors: tuple[VideoDetector, ...] = (
            NoiseDetector(fps=fps, profile=profile, spans=cameras or ()),
            WhiteBalanceDetector(fps=fps, profile=profile, spans=cameras or ()),
            self.levels,
            StabilityDetector(fps=fps, profile=profile, spans=cameras or ()),
            TimestampDetector(fps=fps, profile=profile),
            ColourJumpDetector(fps=fps, profile=profile, spans=cameras or ()),
            FreezeDetector(fps=fps, profile=profile),
            BlackDetector(fps=fps, profile=profile, spans=cameras or ()),
            ColourBarsDetector(fps=fps, profile=profile, spans=cameras or ()),
            CameraMatchDetector(fps=fps, profile=profile, spans=cameras or ()),
            InterlaceDetector(fps=fps, profile=profile),
            PageDetector(fps=fps, profile=profile, spans=cameras or ()),
        )
        #: detectors that judge the lecture picture only (not the intro and cards)
        self._lecture_only = (
            {id(d) for d in self.detectors if isinstance(d, (FreezeDetector,
                                                             ColourJumpDetector))}
            if cameras else set())
        self._cameras = sorted(cameras or (), key=lambda c: c.start_s)
        self.backend: str | None = None      #: "numpy" or "cupy", from the first frame
        self._pending: list[tuple[YUVFrame, float]] = []

    def process(self, data: Any, t: float) -> None:
        self._pending.append((YUVFrame(*data), float(t)))
        if len(self._pending) >= self.batch:
            self._flush()

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        self._flush()
        self._run(as_batch(frames), ts)

    def finish(self) -> list[Check]:
        self._flush()
        captured = self.captured()
        checks = [check for d in self.detectors
                  for check in (d.finish_authored() if captured and isinstance(
                      d, ColourJumpDetector) else d.finish())]
        if captured:
            checks = [as_capture(c) if self.source else c for c in checks]
            checks = [_authored(c) if c.id == "video.white_balance" and c.status == "fail"
                      else c for c in checks]
        return checks

    def captured(self) -> bool:
        """The picture has no sensor noise and no layout says what it shows: a digital
        capture checked on its own (slides straight from a computer), or a film that is all
        designed graphics."""
        noise = next(d for d in self.detectors if isinstance(d, NoiseDetector))
        return not self._cameras and noise.noise_free()

    def cuts(self) -> list[float]:
        """The film's first cuts (:attr:`ColourJumpDetector.cuts`; none with a layout)."""
        return next(d.cuts for d in self.detectors if isinstance(d, ColourJumpDetector))

    def pages(self) -> list[tuple[float, float]]:
        """Where the slides (the layout's, or the whole picture) held one page
        (:meth:`PageDetector.pages`)."""
        return next(d.pages() for d in self.detectors if isinstance(d, PageDetector))

    def stills(self) -> list[tuple[float, float]]:
        """The picture's still stretches seen so far (:meth:`FreezeDetector.stills`)."""
        return self._freeze().stills()

    def still_picture(self, start: float, end: float) -> Any:
        """A still's luma block means (:meth:`FreezeDetector.picture`), or None."""
        return self._freeze().picture(start, end)

    def _freeze(self) -> FreezeDetector:
        return next(d for d in self.detectors if isinstance(d, FreezeDetector))

    def _flush(self) -> None:
        if not self._pending:
            return
        xp = array_namespace(self._pending[0][0].y)
        planes = YUVFrame(*(xp.stack([f[i] for f, _ in self._pending]) for i in range(3)))
        ts = [t for _, t in self._pending]
        self._pending.clear()
        self._run(as_batch(planes), ts)

    def _run(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        if self.backend is None:
            self.backend = backend_name(array_namespace(frames.y))
        inside: list[int] | None = None
        if self._lecture_only:
            inside = [i for i, t in enumerate(ts) if span_at(self._cameras, float(t))]
        coded = frames
        if self.full_range:     # levels judge the stored codes, the others the picture
            frames = to_limited_range(frames, luma_range=self.profile.video.luma_range,
                                      chroma_range=self.profile.video.chroma_range)
        for detector in self.detectors:
            if detector is self.levels:
                detector.process_batch(coded, ts)
                continue
            if inside is not None and id(detector) in self._lecture_only:
                if len(inside) == len(ts):
                    detector.process_batch(frames, ts)
                elif inside:
                    detector.process_batch(YUVFrame(*(p[inside] for p in frames)),
                                           [ts[i] for i in inside])
                continue
            detector.process_batch(frames, ts)


def as_capture(check: Check) -> Check:
    """A check of a raw source that is a digital capture (:meth:`VideoQC.captured`: slides
    straight from a computer), for the lecture made of it. Its still pictures are pages held
    while the lecturer talks, not a camera that froze: not counted, as a finished lecture's
    cards are not; a capture that stalled looks the same, so the message names the longest
    page. Its off-white (V3) may be the author's template, which the render does not correct
    and the lecture's QC does not judge (the plan marks such a capture as authored): skipped,
    the measurement kept. Any other check is returned as it is."""
    if check.id == "video.freeze" and check.events:
        longest = max(check.events, key=lambda e: e.end_s - e.start_s)
        total = sum(e.end_s - e.start_s for e in check.events)
        return dataclasses.replace(check, status="pass", measured=0.0, events=(), message=(
            f"no frozen camera: the picture has no sensor noise, a digital capture (slides "
            f"straight from a computer) whose {len(check.events)} still stretch(es) of "
            f"{check.threshold:g} s or more ({total:.1f} s in all) are its pages, held by "
            f"design, not counted; the longest, {timecode(longest.start_s)}–"
            f"{timecode(longest.end_s)} ({longest.end_s - longest.start_s:.1f} s), is where "
            "a capture that stalled would show"))
    if check.id == "video.white_balance" and check.status != "pass":
        return dataclasses.replace(check, status="skip", events=(), message=(
            f"{check.message}; a raw source without sensor noise, a digital capture, "
            f"{_TEMPLATE}: not judged (the render does not correct an authored "
            "capture's colours, nor does the lecture's QC judge them)"))
    return check


#: why a digital capture's cast may not be one
_TEMPLATE = "whose colours may be the author's template rather than a cast"


def _authored(check: Check) -> Check:
    """A failed V3 on a picture without sensor noise and without a layout (a slides capture
    checked on its own): its off-white may be the author's template, not a camera's cast. A
    warning for a person to judge, not a failure; in a rendered lecture the layout says which
    region is such a capture, and its colours are not judged."""
    return dataclasses.replace(check, status="warn", message=(
        f"{check.message}; but the picture has no sensor noise: a digital capture (slides "
        f"straight from a computer), {_TEMPLATE}: judge by eye"))
