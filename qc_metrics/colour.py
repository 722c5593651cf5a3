"""Colour: white balance (V3), camera match (V3), video levels (V4), colour jumps (V1).

Planar YUV 4:2:0 in (see :mod:`qc_metrics.frames`). The coding ranges (BT.709 limited:
luma 16–235, chroma 16–240) come from ``profile.video`` and are passed as keyword arguments.
Colour metrics work on co-sited point samples (:func:`~qc_metrics.frames.sample_planes`);
decimation does not move a mean colour or a share of pixels beyond sampling error.

Colour science:
* Y'CbCr → R'G'B': ITU-R BT.709-6 (Kr = 0.2126, Kb = 0.0722).
* R'G'B' → linear → XYZ → CIELAB: BT.709 primaries and D65 white are those of sRGB; the
  display transfer is the sRGB curve (IEC 61966-2-1); CIELAB per CIE 15:2004.
* ΔE2000: CIE 142-2001 as implemented and tested in G. Sharma, W. Wu, E. N. Dalal, "The
  CIEDE2000 color-difference formula: implementation notes, supplementary test data, and
  mathematical observations", Color Res. Appl. 30(1), 2005.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.frames import (
    VideoDetector,
    YUVFrame,
    as_batch,
    runs,
    sample_planes,
    stretches,
    timecode,
)
from qc_metrics.xp import array_namespace, to_host

# ITU-R BT.709-6 item 3.2/3.3: luma coefficients
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
# D65 reference white (CIE 15:2004), XYZ with Y = 1
_WHITE = (0.95047, 1.0, 1.08883)
# linear BT.709 / sRGB RGB → XYZ (IEC 61966-2-1)
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
               (0.2126729, 0.7151522, 0.0721750),
               (0.0193339, 0.1191920, 0.9503041))


# --------------------------------------------------------------------------- conversions

def yuv_to_rgb(y: Any, u: Any, v: Any, *, luma_range: Sequence[float],
               chroma_range: Sequence[float]) -> Any:
    """Y'CbCr code values (same shapes) → non-linear R'G'B' in [0, 1], shape (…, 3).

    BT.709-6: Y' = (Y − black) / (white − black); Cb, Cr = (C − mid) / (max − min)."""
    xp = array_namespace(y, u, v)
    y0, y1 = (float(x) for x in luma_range)
    c0, c1 = (float(x) for x in chroma_range)
    mid = (c0 + c1) / 2.0
    yl = (y.astype(xp.float32) - y0) / (y1 - y0)
    cb = (u.astype(xp.float32) - mid) / (c1 - c0)
    cr = (v.astype(xp.float32) - mid) / (c1 - c0)
    r = yl + 2.0 * (1.0 - _KR) * cr
    b = yl + 2.0 * (1.0 - _KB) * cb
    g = (yl - _KR * r - _KB * b) / _KG
    return xp.clip(xp.stack([r, g, b], axis=-1), 0.0, 1.0)


def rgb_to_lab(rgb: Any) -> Any:
    """Non-linear R'G'B' in [0, 1] (…, 3) → CIELAB (…, 3) under D65."""
    xp = array_namespace(rgb)
    # sRGB EOTF, IEC 61966-2-1
    lin = xp.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = xp.asarray(_RGB_TO_XYZ, dtype=lin.dtype)
    xyz = lin @ m.T / xp.asarray(_WHITE, dtype=lin.dtype)
    # CIE 15:2004 eq. 8.3: f(t) = t^(1/3) above (6/29)^3, linear below
    eps = (6.0 / 29.0) ** 3
    f = xp.where(xyz > eps, xp.cbrt(xp.maximum(xyz, eps)), xyz / (3 * (6.0 / 29.0) ** 2) + 4 / 29)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return xp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def yuv_to_lab(y: Any, u: Any, v: Any, *, luma_range: Sequence[float],
               chroma_range: Sequence[float]) -> Any:
    """Y'CbCr code values (same shapes) → CIELAB (…, 3)."""
    return rgb_to_lab(yuv_to_rgb(y, u, v, luma_range=luma_range, chroma_range=chroma_range))


def delta_e2000(lab1: Any, lab2: Any) -> Any:
    """CIEDE2000 colour difference (kL = kC = kH = 1) between CIELAB colours (…, 3).

    Follows Sharma, Wu & Dalal 2005, eqs. 1–19 (including the hue-angle and mean-hue
    special cases); returns a float for single colours, an array otherwise."""
    xp = array_namespace(lab1, lab2)
    lab1 = xp.asarray(lab1, dtype=xp.float64)
    lab2 = xp.asarray(lab2, dtype=xp.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (xp.hypot(a1, b1) + xp.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - xp.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))          # eq. 4
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2                              # eq. 5
    c1p, c2p = xp.hypot(a1p, b1), xp.hypot(a2p, b2)                       # eq. 6
    h1p = xp.where(c1p == 0, 0.0, xp.degrees(xp.arctan2(b1, a1p)) % 360.0)  # eq. 7
    h2p = xp.where(c2p == 0, 0.0, xp.degrees(xp.arctan2(b2, a2p)) % 360.0)
    dlp = l2 - l1                                                          # eq. 8
    dcp = c2p - c1p                                                        # eq. 9
    dh = h2p - h1p                                                         # eq. 10
    dh = xp.where(dh > 180.0, dh - 360.0, xp.where(dh < -180.0, dh + 360.0, dh))
    dh = xp.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2.0 * xp.sqrt(c1p * c2p) * xp.sin(xp.radians(dh) / 2.0)        # eq. 11
    lbp = (l1 + l2) / 2.0                                                  # eq. 12
    cbp = (c1p + c2p) / 2.0                                                # eq. 13
    hsum = h1p + h2p                                                       # eq. 14
    hbp = xp.where(xp.abs(h1p - h2p) <= 180.0, hsum / 2.0,
                   xp.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0))
    hbp = xp.where(c1p * c2p == 0, hsum, hbp)
    t = (1.0 - 0.17 * xp.cos(xp.radians(hbp - 30.0)) + 0.24 * xp.cos(xp.radians(2.0 * hbp))
         + 0.32 * xp.cos(xp.radians(3.0 * hbp + 6.0))
         - 0.20 * xp.cos(xp.radians(4.0 * hbp - 63.0)))                   # eq. 15
    d_theta = 30.0 * xp.exp(-(((hbp - 275.0) / 25.0) ** 2))               # eq. 16
    rc = 2.0 * xp.sqrt(cbp**7 / (cbp**7 + 25.0**7))                       # eq. 17
    sl = 1.0 + 0.015 * (lbp - 50.0) ** 2 / xp.sqrt(20.0 + (lbp - 50.0) ** 2)  # eq. 18
    sc = 1.0 + 0.045 * cbp
    sh = 1.0 + 0.015 * cbp * t
    rt = -xp.sin(xp.radians(2.0 * d_theta)) * rc                          # eq. 19
    de = xp.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2
                 + rt * (dcp / sc) * (dhp / sh))
    return float(de) if de.ndim == 0 else de


# --------------------------------------------------------------------------- white balance

@dataclass(frozen=True)
class Cast:
    a: float                #: mean a* of near-neutral pixels (− green, + magenta)
    b: float                #: mean b* of near-neutral pixels (− blue, + yellow/warm)
    magnitude: float        #: |(a*, b*)|, the V3 cast measure
    neutral_share: float    #: share of sampled pixels judged near-neutral

    @property
    def hue(self) -> str:
        """A word for the direction of the cast."""
        if abs(self.b) >= abs(self.a):
            return "warm (yellow)" if self.b > 0 else "cool (blue)"
        return "magenta" if self.a > 0 else "green"


def cast_of_batch(frames: YUVFrame, *, luma_range: Sequence[float],
                  chroma_range: Sequence[float], step: int = 4, neutral_chroma: float = 15.0,
                  lightness: tuple[float, float] = (20.0, 95.0)) -> Any:
    """Per frame (a*, b*, neutral share) of near-neutral pixels: xp array (N, 3).

    Near-neutral: lightness inside ``lightness`` (no clipped blacks/whites) and chroma within
    ``neutral_chroma`` of the cast — first of neutral, then of the first estimate, so a strong
    cast still finds its greys. Frames with no neutral pixel give nan."""
    ys, us, vs = sample_planes(as_batch(frames), step)
    xp = array_namespace(ys)
    lab = yuv_to_lab(ys, us, vs, luma_range=luma_range, chroma_range=chroma_range)
    n = lab.shape[0]
    lab = lab.reshape(n, -1, 3)
    lum, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    lit = (lum >= lightness[0]) & (lum <= lightness[1])
    centre_a = xp.zeros((n, 1), dtype=a.dtype)
    centre_b = xp.zeros((n, 1), dtype=a.dtype)
    for _ in range(3):
        near = lit & ((a - centre_a) ** 2 + (b - centre_b) ** 2 <= neutral_chroma**2)
        count = near.sum(axis=1, keepdims=True)
        centre_a = xp.where(near, a, 0).sum(axis=1, keepdims=True) / xp.maximum(count, 1)
        centre_b = xp.where(near, b, 0).sum(axis=1, keepdims=True) / xp.maximum(count, 1)
    share = count / a.shape[1]
    out = xp.concatenate([centre_a, centre_b, share], axis=1)
    return xp.where(count > 0, out, xp.nan)


def colour_cast(frame: YUVFrame, *, luma_range: Sequence[float],
                chroma_range: Sequence[float], step: int = 4,
                neutral_chroma: float = 15.0) -> Cast:
    """V3: colour cast of one frame as the mean (a*, b*) of its near-neutral pixels."""
    a, b, share = (float(x) for x in to_host(cast_of_batch(
        frame, luma_range=luma_range, chroma_range=chroma_range, step=step,
        neutral_chroma=neutral_chroma))[0])
    return Cast(a=a, b=b, magnitude=math.hypot(a, b), neutral_share=share)


def mean_lab(frames: YUVFrame, *, luma_range: Sequence[float],
             chroma_range: Sequence[float], step: int = 4) -> Any:
    """Mean colour of each frame in CIELAB (N, 3): the mean Y'CbCr converted once."""
    ys, us, vs = sample_planes(as_batch(frames), step)
    xp = array_namespace(ys)
    means = [p.reshape(p.shape[0], -1).astype(xp.float32).mean(axis=1) for p in (ys, us, vs)]
    return yuv_to_lab(*means, luma_range=luma_range, chroma_range=chroma_range)


def camera_delta_e(frames_a: YUVFrame, frames_b: YUVFrame, *, luma_range: Sequence[float],
                   chroma_range: Sequence[float]) -> float:
    """V3 camera match: ΔE2000 between the mean colours of two cameras' frames of matched
    content (each a frame or a batch; all frames of a side are averaged)."""
    means = [to_host(mean_lab(f, luma_range=luma_range, chroma_range=chroma_range)).mean(axis=0)
             for f in (frames_a, frames_b)]
    return float(delta_e2000(means[0], means[1]))


class WhiteBalanceDetector(VideoDetector):
    """``video.white_balance`` (V3): cast magnitude |(a*, b*)| of near-neutral pixels.

    Every ``every``-th frame (default: five per second) is measured on point samples.
    The reported cast is the median a*, b* over measured frames; spans of frames whose cast
    exceeds ``profile.video.cast_max`` are events.

    ``spans`` (the render's layout, :class:`CameraSpan`): when given, only the camera
    pictures are judged, the regions each span names, their casts pooled by neutral pixel
    count; frames outside every span (the provincial intro, title card, credits: authored
    graphics, not a camera's white balance) are not measured."""

    def __init__(self, *, fps: float, profile: Profile, every: int | None = None,
                 step: int = 4, neutral_chroma: float = 15.0,
                 spans: Sequence[CameraSpan] = ()) -> None:
        self.fps = float(fps)
        self.limits = profile.video
        self.every = every or max(1, round(fps / 5))
        self.step = step
        self.neutral_chroma = neutral_chroma
        self.spans = sorted(spans, key=lambda s: s.start_s)
        self._count = 0
        self._rows: list[tuple[float, float, float]] = []

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        frames = as_batch(frames)
        first = (-self._count) % self.every
        self._count += len(ts)
        if first >= len(ts):
            return
        if self.spans:
            self._regions(frames, range(first, len(ts), self.every), ts)
            return
        picked = YUVFrame(*(p[first::self.every] for p in frames))
        casts = to_host(cast_of_batch(picked, luma_range=self.limits.luma_range,
                                      chroma_range=self.limits.chroma_range, step=self.step,
                                      neutral_chroma=self.neutral_chroma))
        for t, (a, b, _) in zip(ts[first::self.every], casts, strict=True):
            if a == a:
                self._rows.append((float(t), float(a), float(b)))

    def _regions(self, frames: YUVFrame, picks: range, ts: Sequence[float]) -> None:
        lim = self.limits
        for i in picks:
            span = span_at(self.spans, float(ts[i]))
            if span is None:
                continue
            total = sa = sb = 0.0
            for rect in span.cameras().values():
                crop = crop_planes(YUVFrame(*(p[i] for p in frames)), rect)
                if crop is None:
                    continue
                a, b, share = (float(x) for x in to_host(cast_of_batch(
                    crop, luma_range=lim.luma_range, chroma_range=lim.chroma_range,
                    step=self.step, neutral_chroma=self.neutral_chroma))[0])
                if share == share and share > 0:
                    weight = share * crop.y.size
                    total, sa, sb = total + weight, sa + weight * a, sb + weight * b
            if total > 0:
                self._rows.append((float(ts[i]), sa / total, sb / total))

    def finish(self) -> list[Check]:
        limit = self.limits.cast_max
        if not self._rows:
            return [Check("video.white_balance", "V3", "skip", None, limit, "ΔE(a*b*)",
                          "no near-neutral pixels to judge white balance by")]
        a = sorted(r[1] for r in self._rows)[len(self._rows) // 2]
        b = sorted(r[2] for r in self._rows)[len(self._rows) // 2]
        cast = Cast(a=a, b=b, magnitude=math.hypot(a, b), neutral_share=math.nan)
        over = [math.hypot(r[1], r[2]) > limit for r in self._rows]
        step = self.every / self.fps
        events = []
        for i, j in runs(over):
            worst = max(self._rows[i:j], key=lambda r: math.hypot(r[1], r[2]))
            events.append(Event(self._rows[i][0], self._rows[j - 1][0] + step,
                                f"{timecode(self._rows[i][0])}: cast "
                                f"{math.hypot(worst[1], worst[2]):.1f} "
                                f"(a*={worst[1]:+.1f}, b*={worst[2]:+.1f})"))
        # V3: no visible colour cast (profile.video.cast_max)
        status: Status = "fail" if cast.magnitude > limit else "warn" if events else "pass"
        what = f"{cast.hue} cast" if cast.magnitude > limit else "neutral"
        message = (f"{what}: near-neutral pixels at a*={a:+.1f}, b*={b:+.1f} "
                   f"(|cast| {cast.magnitude:.1f}, limit {limit:g})")
        if status == "warn":
            message += stretches(events, "with a cast over the limit")
        if self.spans:
            authored = authored_sources(self.spans)
            message += ("; camera pictures only (intro and cards are not judged"
                        + (f", nor the {' and '.join(authored)} capture, whose colours are "
                           "the author's" if authored else "") + ")")
        return [Check("video.white_balance", "V3", status, round(cast.magnitude, 3), limit,
                      "ΔE(a*b*)", message, tuple(events))]


# --------------------------------------------------------------------------- levels (V4)

@dataclass(frozen=True)
class Levels:
    share: float        #: pixels with luma or co-sited chroma out of range (FFmpeg BRNG)
    luma_low: float     #: share of luma below the nominal black
    luma_high: float    #: share of luma above the nominal white
    chroma: float       #: share of pixels whose Cb or Cr is out of range


def levels_of_batch(frames: YUVFrame, *, luma_range: Sequence[float],
                    chroma_range: Sequence[float], step: int = 1) -> Any:
    """Per frame (share, luma_low, luma_high, chroma): xp array (N, 4).

    Same counting as FFmpeg's signalstats BRNG: a luma pixel is out of range when its luma or
    the Cb or Cr of its 4:2:0 block is outside the legal range. ``step`` > 1 counts point
    samples (an estimate of the same share)."""
    frames = as_batch(frames)
    y, u, v = frames
    xp = array_namespace(y)
    n = y.shape[0]
    # most frames are legal throughout, and their extremes say so without counting: only
    # the others are counted (at their sample points, as before; the result is the same)
    legal = to_host(_within(y, luma_range) & _within(u, chroma_range)
                    & _within(v, chroma_range))
    out = xp.zeros((n, 4), xp.float32)
    if legal.all():
        return out
    suspect = np.flatnonzero(~legal)
    if suspect.size < n:
        frames = YUVFrame(*(p[xp.asarray(suspect)] for p in frames))
    out[xp.asarray(suspect)] = _out_of_range(frames, luma_range=luma_range,
                                             chroma_range=chroma_range, step=step)
    return out


def _within(plane: Any, limits: Sequence[float]) -> Any:
    """Per frame of a batch (N, H, W): are all its 8-bit codes within ``limits``?"""
    flat = plane.reshape(plane.shape[0], -1)
    return ((flat.min(axis=1) >= math.ceil(limits[0]))
            & (flat.max(axis=1) <= math.floor(limits[1])))


def _out_of_range(frames: YUVFrame, *, luma_range: Sequence[float],
                  chroma_range: Sequence[float], step: int) -> Any:
    """levels_of_batch's counting, on every frame given."""
    y, u, v = frames
    xp = array_namespace(y)
    y0, y1 = luma_range
    c0, c1 = chroma_range

    def outside(p: Any, lo: float, hi: float) -> Any:
        # 8-bit codes against integer limits: p − lo wraps below lo, so one comparison
        # tests both ends
        return (p - xp.uint8(math.ceil(lo))) > xp.uint8(math.floor(hi) - math.ceil(lo))

    if step == 1:
        h, w = y.shape[-2:]
        bad_c = outside(u, c0, c1) | outside(v, c0, c1)
        # each chroma sample covers a 2×2 block of luma (4:2:0)
        bad_c = xp.repeat(xp.repeat(bad_c, 2, axis=1), 2, axis=2)[:, :h, :w]
    else:
        y, u, v = sample_planes(frames, step)
        bad_c = outside(u, c0, c1) | outside(v, c0, c1)
    low, high = y < y0, y > y1
    n = y.shape[0]
    size = y[0].size
    counts = [xp.count_nonzero(m.reshape(n, -1), axis=1) for m in (low | high | bad_c, low,
                                                                    high, bad_c)]
    return xp.stack(counts, axis=1).astype(xp.float32) / size


def levels(frame: YUVFrame, *, luma_range: Sequence[float], chroma_range: Sequence[float],
           step: int = 1) -> Levels:
    """V4: shares of one frame's pixels outside the legal ranges."""
    row = to_host(levels_of_batch(frame, luma_range=luma_range, chroma_range=chroma_range,
                                  step=step))[0]
    return Levels(*(float(x) for x in row))


def to_limited_range(frames: YUVFrame, *, luma_range: Sequence[float],
                     chroma_range: Sequence[float]) -> YUVFrame:
    """Full-range (0–255, "pc", yuvj) 8-bit planes as the limited-range codes the same picture
    has (luma 0–255 → ``luma_range``, chroma about 128 → ``chroma_range``), rounded: what
    the render makes of such a source, and what the other detectors must measure (a σ or a
    chroma offset in full-range codes is 255/219 too large in limited-range terms)."""
    xp = array_namespace(frames.y)
    y0, y1 = (float(x) for x in luma_range)
    c0, c1 = (float(x) for x in chroma_range)
    mid = (c0 + c1) / 2

    def scale(plane: Any, low: float, gain: float, centre: float) -> Any:
        return (plane.astype(xp.float32) * gain + (low - centre * gain + 0.5)).astype(xp.uint8)

    y, u, v = frames
    cgain = (c1 - c0) / 255.0
    return YUVFrame(scale(y, y0, (y1 - y0) / 255.0, 0.0),
                    scale(u, mid, cgain, 128.0), scale(v, mid, cgain, 128.0))


class LevelsDetector(VideoDetector):
    """``video.levels`` (V4): share of pixels out of the legal range, over the whole film.

    Frames whose share exceeds ``profile.video.out_of_range_max`` form events. The codes are
    judged as they are stored (as FFmpeg's signalstats BRNG does). ``full_range``: the file
    says it is coded in full range (0–255); the message says so and how to fix it, and a
    picture whose codes happen to stay legal is still a warning (a player that honours the
    flag shows it with grey blacks and dull whites once it is taken for limited range)."""

    def __init__(self, *, fps: float, profile: Profile, step: int = 2,
                 full_range: bool = False) -> None:
        self.fps = float(fps)
        self.limits = profile.video
        self.step = step
        self.full_range = full_range
        self._times: list[float] = []
        self._rows: list[tuple[float, ...]] = []

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        rows = to_host(levels_of_batch(frames, luma_range=self.limits.luma_range,
                                       chroma_range=self.limits.chroma_range, step=self.step))
        self._rows.extend(tuple(float(x) for x in r) for r in rows)
        self._times.extend(float(t) for t in ts)

    def finish(self) -> list[Check]:
        limit = self.limits.out_of_range_max
        lo, hi = self.limits.luma_range
        if not self._rows:
            return [Check("video.levels", "V4", "skip", None, limit, "share", "no frames")]
        n = len(self._rows)
        share, low, high, chroma = (sum(r[k] for r in self._rows) / n for k in range(4))
        frame_s = 1.0 / self.fps
        events = []
        for i, j in runs([r[0] > limit for r in self._rows]):
            worst = max(self._rows[i:j], key=lambda r: r[0])
            events.append(Event(self._times[i], self._times[j - 1] + frame_s,
                                f"{timecode(self._times[i])}: up to {100 * worst[0]:.2f} % "
                                f"out of range (luma <{lo}: {100 * worst[1]:.2f} %, "
                                f">{hi}: {100 * worst[2]:.2f} %, chroma {100 * worst[3]:.2f} %)"))
        # V4: luma within luma_range, chroma within chroma_range (profile.video)
        status: Status = "fail" if share > limit else "warn" if events else "pass"
        message = (f"{100 * share:.3f} % of pixels out of range on average (luma <{lo}: "
                   f"{100 * low:.3f} %, >{hi}: {100 * high:.3f} %, chroma {100 * chroma:.3f} %)")
        if status == "warn":
            message += stretches(events, "over the limit")
        if self.full_range:
            c0, c1 = self.limits.chroma_range
            status = "fail" if status == "fail" else "warn"
            message = (f"the file is coded in full range (0–255, 'pc'/yuvj), where V4 wants "
                       f"limited range (luma {lo}–{hi}, chroma {c0}–{c1}): {message}; "
                       "re-encode to limited range (FFmpeg: -vf scale=out_range=tv "
                       "-color_range tv); the pipeline converts such a raw source itself")
        return [Check("video.levels", "V4", status, round(share, 6), limit, "share", message,
                      tuple(events))]


# --------------------------------------------------------------------------- colour jumps (V1)

class _Pair(NamedTuple):
    """Two consecutive frames, as the colour-jump detector saw them."""

    t: float                        #: time of the second frame
    same: bool                      #: same content (not a cut)
    corr: float                     #: the content correlation that said so
    moves: bool                     #: the colour moved (by half the threshold, whole picture)
    before: tuple[float, ...]       #: mean L*a*b* of the first frame
    after: tuple[float, ...]        #: … and of the second


#: cuts a ColourJumpDetector keeps (the film's first ones)
MAX_CUTS = 64


class ColourJumpDetector(VideoDetector):
    """``video.colour_jumps`` (V1: no sudden colour changes): ΔE2000 between consecutive
    frames' mean colours above ``jump_delta_e`` while the picture content stays the same.

    Content sameness is the Pearson correlation of point-sampled luma between the two frames
    (blind to gain and offset, i.e. to the colour change itself); below ``cut_correlation``
    the change is a cut or new content and is not flagged. The default threshold is the
    visible-difference limit of V3 (``profile.video.camera_delta_e_max``).

    A colour jump (exposure, white balance) changes the whole picture; new content in part
    of it (a slide build revealing a coloured chart, a book held up) changes the mean colour
    too. So the picture is also cut into a ``grid``×``grid`` grid: a change counts only when
    at least ``min_spread`` of the tiles changed by more than half the threshold.

    *Sudden* is judged on the run of consecutive frame pairs whose colour moves (by more than
    half the threshold, same content, whole picture): a run that changes the colour by more
    than the threshold within fewer than ``ramp_s`` seconds, the colour steady (within half
    the threshold) over the few frames before and after it, is one sudden change (a camera's
    white balance or exposure snapping over one to a few frames); a longer run, or one inside
    a moving colour, is a gradual transition (a fade in or out, a dissolve, a slow exposure
    ramp), an edit and not a jump.

    ``spans`` (the render's layout, :class:`CameraSpan`): when given, each camera's region is
    judged on its own (a jump of the teacher camera in a small inset is a jump of that
    camera), frames outside every span are not judged, and a layout switch is a cut. An
    authored capture (digital slides) has no sensor noise, so a colour fault there (a capture
    device switching range or matrix) leaves its content correlation at ≈ 1, while any new
    slide lowers it: its region counts a change as a cut below ``authored_correlation``."""

    def __init__(self, *, fps: float, profile: Profile, jump_delta_e: float | None = None,
                 cut_correlation: float = 0.6, step: int = 4, grid: int = 4,
                 min_spread: float = 0.5, ramp_s: float = 0.2,
                 authored_correlation: float = 0.98, spans: Sequence[CameraSpan] = (),
                 label: str = "") -> None:
        self.fps = float(fps)
        self.profile = profile
        self.limits = profile.video
        self.threshold = (profile.video.camera_delta_e_max if jump_delta_e is None
                          else jump_delta_e)
        self.cut_correlation = cut_correlation
        self.step = step
        self.grid = grid
        self.min_spread = min_spread
        self.ramp_s = ramp_s
        self.authored_correlation = authored_correlation
        self.spans = sorted(spans, key=lambda s: s.start_s)
        self.label = label          #: the camera whose region this judges, in event details
        self._prev: tuple[Any, Any, Any] | None = None
        #: per frame pair; None where a segment starts (a layout switch: runs do not cross it)
        self._pairs: list[_Pair | None] = []
        self._last_move = -1        # index in _pairs of the last moving pair
        self._local = 0             # changes of part of the picture only (not counted)
        self._regions: dict[str, ColourJumpDetector] = {}   # with spans: one per camera
        self._span: CameraSpan | None = None
        #: the film's first cuts (the first picture of each new shot, s; at most MAX_CUTS):
        #: where an animated title card ends (``tasks.qc``)
        self.cuts: list[float] = []

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        frames = as_batch(frames)
        if not self.spans:
            self._judge(frames, ts)
            return
        for i, j, span in span_runs(self.spans, ts):
            if span is not self._span:          # a layout switch (or a card): a cut
                for region in self._regions.values():
                    region._prev = None
                self._span = span
            if span is None:
                continue
            for name, rect in span.regions.items():
                crop = crop_planes(YUVFrame(*(p[i:j] for p in frames)), rect)
                if crop is None:
                    continue
                key = f"{name} (authored)" if name in span.authored else name
                if key not in self._regions:
                    self._regions[key] = ColourJumpDetector(
                        fps=self.fps, profile=self.profile, jump_delta_e=self.threshold,
                        cut_correlation=(self.authored_correlation if name in span.authored
                                         else self.cut_correlation),
                        step=self.step, grid=self.grid, min_spread=self.min_spread,
                        ramp_s=self.ramp_s, label=name)
                self._regions[key]._judge(crop, ts[i:j])

    def _judge(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        xp = array_namespace(frames.y)
        samples = sample_planes(frames, self.step)
        n, h, w = samples.y.shape
        g = max(1, min(self.grid, h, w))
        th, tw = h // g, w // g
        planes = [p.astype(xp.float32) for p in samples]
        # the mean Y'CbCr of the frame and of each tile, converted once (as mean_lab)
        lab = self._lab([p.reshape(n, -1).mean(axis=1) for p in planes])
        tiles = self._lab([p[:, : g * th, : g * tw].reshape(n, g, th, g, tw).mean(axis=(2, 4))
                           .reshape(n, g * g) for p in planes])
        thumbs = planes[0].reshape(n, -1)
        thumbs = thumbs - thumbs.mean(axis=1, keepdims=True)
        thumbs = thumbs / xp.maximum(xp.sqrt((thumbs * thumbs).mean(axis=1, keepdims=True)),
                                     1e-3)
        if self._prev is not None:
            lab = xp.concatenate([self._prev[0], lab])
            tiles = xp.concatenate([self._prev[1], tiles])
            thumbs = xp.concatenate([self._prev[2], thumbs])
            times = [math.nan, *ts]
        else:
            times = list(ts)
            self._pairs.append(None)
        self._prev = (lab[-1:], tiles[-1:], thumbs[-1:])
        if lab.shape[0] < 2:
            return
        de = delta_e2000(lab[1:], lab[:-1])
        spread = (delta_e2000(tiles[1:], tiles[:-1]) > self.threshold / 2).mean(axis=1)
        corr = (thumbs[1:] * thumbs[:-1]).mean(axis=1)
        de, spread, corr, lab_h = to_host(de), to_host(spread), to_host(corr), to_host(lab)
        for k in range(len(de)):
            d = float(de[k])
            same = bool(corr[k] >= self.cut_correlation)
            if not same and len(self.cuts) < MAX_CUTS:
                self.cuts.append(float(times[k + 1]))
            if d > self.threshold and same and spread[k] < self.min_spread:
                self._local += 1        # part of the picture: new content
            moves = same and d > self.threshold / 2 and bool(spread[k] >= self.min_spread)
            self._pairs.append(_Pair(float(times[k + 1]), same, float(corr[k]), moves,
                                     tuple(float(x) for x in lab_h[k]),
                                     tuple(float(x) for x in lab_h[k + 1])))
            if moves:
                self._last_move = len(self._pairs) - 1
            self._forget_quiet()

    def _forget_quiet(self) -> None:
        """Memory flat in the film's length: a still pair that no run's context can reach
        any more (more than ``settle`` pairs after the last moving one, and before the newest)
        becomes a segment break, and consecutive breaks are one."""
        settle = self._settle()
        i = len(self._pairs) - settle - 1
        if i <= self._last_move + settle or i < 1:
            return
        self._pairs[i] = None
        if self._pairs[i - 1] is None:
            del self._pairs[i]

    def _settle(self) -> int:
        """Pairs of steady colour looked for around a run; a run this long is gradual."""
        return max(1, self._ramp() // 2)

    def _ramp(self) -> int:
        return max(2, round(self.ramp_s * self.fps))    # pairs: 0.2 s at 25 fps = 5

    def _changes(self, cut: float | None = None) -> tuple[list[tuple[Event, float]], int]:
        """(sudden changes with their ΔE2000, gradual transitions) from the pair runs;
        ``cut``: a stricter content correlation than the one the pairs were judged with,
        under which a pair's colour change is new content, not a jump (an authored capture,
        judged after the fact); the colour around a run is still looked for up to the cuts
        the pairs were judged with, so a fade over moving content stays gradual.

        A run of moving pairs is sudden when it is short (< ``ramp_s``) and the colour is
        steady around it: within half the threshold over the ``settle`` frames before and
        after. Otherwise it belongs to a gradual transition (a fade's steps are uneven once
        encoded: a few frames move less than half the threshold, which splits the run)."""
        events: list[tuple[Event, float]] = []
        ramps = 0
        ramp, settle = self._ramp(), self._settle()
        half = self.threshold / 2
        pairs: list[_Pair | None] = self._pairs
        if cut is not None:     # new content does not move the colour; the context stays
            pairs = [row if row is None or row.corr >= cut else row._replace(moves=False)
                     for row in pairs]
        last_ramp = -len(pairs) - ramp                  # index of the last transition's end

        def apart(a: tuple[float, ...], b: tuple[float, ...]) -> float:
            return float(to_host(delta_e2000(np.asarray(a), np.asarray(b))))

        def same(i: int) -> bool:
            row = pairs[i] if 0 <= i < len(pairs) else None
            return row is not None and row.same

        k = 0
        while k < len(pairs):
            row = pairs[k]
            if row is None or not row.moves:
                k += 1
                continue
            j = k
            while j + 1 < len(pairs) and (nxt := pairs[j + 1]) is not None and nxt.moves:
                j += 1
            last = pairs[j]
            assert last is not None
            total = apart(row.before, last.after)
            if total > self.threshold:
                # the colour `settle` frames before and after, up to a cut or a layout switch
                a, b = k, j
                while a > k - settle and same(a - 1):
                    a -= 1
                while b < j + settle and same(b + 1):
                    b += 1
                before, after = pairs[a], pairs[b]
                assert before is not None and after is not None
                steady = (apart(before.before, row.before) <= half
                          and apart(last.after, after.after) <= half)
                if j - k + 1 >= ramp or not steady:
                    ramps += 1 if k - last_ramp > settle else 0
                    last_ramp = j
                else:
                    t = row.t
                    (l0, a0, b0), (l1, a1, b1) = row.before, last.after
                    steps = f" over {j - k + 1} frames" if j > k else ""
                    events.append((Event(
                        t, last.t + 1.0 / self.fps,
                        f"{timecode(t)}: {self.label + ' ' if self.label else ''}mean colour "
                        f"jumps by ΔE2000 {total:.1f}{steps} (L*a*b* {l0:.0f},{a0:+.1f},"
                        f"{b0:+.1f} → {l1:.0f},{a1:+.1f},{b1:+.1f})"), total))
            k = j + 1
        return events, ramps

    def _lab(self, means: list[Any]) -> Any:
        return yuv_to_lab(*means, luma_range=self.limits.luma_range,
                          chroma_range=self.limits.chroma_range)

    def finish(self) -> list[Check]:
        parts = [r._changes() for r in self._regions.values()] if self.spans \
            else [self._changes()]
        return [self._verdict(parts)]

    def finish_authored(self) -> list[Check]:
        """As :meth:`finish`, the whole picture judged as an authored capture (a digital
        capture checked without a layout, as the layout's authored regions are judged): a
        change of content under ``authored_correlation`` is a new slide, not a jump; a
        colour change of the same content is a capture fault, a jump."""
        if self.spans:
            return self.finish()
        check = self._verdict([self._changes(self.authored_correlation)])
        return [dataclasses.replace(check, message=(
            f"{check.message}; judged as a digital capture (no sensor noise): a colour "
            f"change with new content (content correlation under "
            f"{self.authored_correlation:g}) is a new slide, not counted"))]

    def _verdict(self, parts: list[tuple[list[tuple[Event, float]], int]]) -> Check:
        found = sorted((e for events, _ in parts for e in events), key=lambda e: e[0].start_s)
        ramps = sum(r for _, r in parts)
        local = sum(r._local for r in self._regions.values()) if self.spans else self._local
        n = len(found)
        status: Status = "fail" if n else "pass"
        message = (f"{n} sudden colour change(s) outside cuts, up to ΔE2000 "
                   f"{max(d for _, d in found):.1f}" if n
                   else "no sudden colour changes outside cuts")
        if ramps:
            message += (f"; {ramps} gradual transition(s) (fades, dissolves: the colour "
                        "still moving before or after) not counted")
        if local:
            message += (f"; {local} change(s) of part of the picture only (new content "
                        "such as a slide build, not a colour shift) not counted")
        return Check("video.colour_jumps", "V1", status, float(n), 0.0, "events", message,
                     tuple(e for e, _ in found))


# --------------------------------------------------------------------------- camera match

#: a camera's region counts when at least this share of its samples is near-neutral
CAMERA_MIN_NEUTRAL_SHARE = 0.02
#: around a layout switch, each side's colour is the median over this many seconds
SWITCH_WINDOW_S = 2.0


@dataclass(frozen=True)
class CameraSpan:
    """Where each camera is in the film from ``start_s`` to ``end_s``: per source the
    rectangle (x, y, w, h) of the frame, in pixels, that shows it (the render knows its
    layout; ``courseware qc --layout`` assumes one for the whole file)."""

    start_s: float
    end_s: float
    regions: dict[str, tuple[int, int, int, int]]
    #: sources whose colours are the author's (a digital slides capture): shown, but not
    #: judged for white balance or camera match (V3 is about cameras)
    authored: tuple[str, ...] = ()

    def cameras(self) -> dict[str, tuple[int, int, int, int]]:
        """The regions that show camera pictures."""
        return {s: r for s, r in self.regions.items() if s not in self.authored}


def span_at(spans: Sequence[CameraSpan], t: float) -> CameraSpan | None:
    return next((s for s in spans if s.start_s <= t < s.end_s), None)


def authored_sources(spans: Sequence[CameraSpan]) -> list[str]:
    """The sources some span shows as an authored capture (not a camera), sorted."""
    return sorted({a for span in spans for a in span.authored})


def span_runs(spans: Sequence[CameraSpan], ts: Sequence[float],
              ) -> list[tuple[int, int, CameraSpan | None]]:
    """Consecutive frames ``ts[i:j]`` under the same span (None: outside every span)."""
    runs: list[tuple[int, int, CameraSpan | None]] = []
    for k, t in enumerate(ts):
        span = span_at(spans, float(t))
        if runs and runs[-1][2] is span:
            runs[-1] = (runs[-1][0], k + 1, span)
        else:
            runs.append((k, k + 1, span))
    return runs


def crop_planes(frame: YUVFrame, rect: tuple[int, int, int, int]) -> YUVFrame | None:
    """The 4:2:0 planes of one frame (or a batch) inside ``rect`` (x, y, w, h; aligned to
    even), None when it is too small to sample."""
    x0, y0, w, h = rect
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    y, u, v = frame
    chroma = (..., slice(y0 // 2, (y0 + h) // 2), slice(x0 // 2, (x0 + w) // 2))
    crop = YUVFrame(y[..., y0: y0 + h, x0: x0 + w], u[chroma], v[chroma])
    return crop if min(crop.u.shape[-2:]) >= 2 else None


def neutral_delta_e(a1: float, b1: float, a2: float, b2: float) -> float:
    """V3 camera match: ΔE2000 between two cameras' near-neutral colours (a*, b*), at one
    lightness. Neutral surfaces are the content both cameras must render alike; how light
    they are depends on what each camera sees (a white slide, a grey wall), not on the
    camera, so lightness is left out."""
    return float(delta_e2000((60.0, a1, b1), (60.0, a2, b2)))


class CameraMatchDetector(VideoDetector):
    """``video.camera_match`` (V3): colour difference between cameras, ΔE2000.

    Every ``every``-th frame, the near-neutral colour (a*, b*) of each camera's region (from
    ``spans``) is measured as for the white balance, with two differences that make the
    content comparable: light greys up to L* 99 count (the white of a slide is the neutral a
    slides capture has; a room camera's walls and whiteboard are its), and the neutral band
    is narrower (``neutral_chroma`` 8), so tinted design elements of the slides (a pale blue
    caption, a coloured rule) are not taken for its neutrals. Measured: the largest ΔE2000
    (:func:`neutral_delta_e`) between a camera's median and the reference camera's (the
    slides, else the first by name). Events: measured frames showing two cameras that
    differ by more than ``profile.video.camera_delta_e_max``, and layout switches where the
    camera shown before and the one after differ by more (the "transitions" of V3).
    Without spans, or with fewer than two cameras showing near-neutral pixels, it skips."""

    def __init__(self, *, fps: float, profile: Profile, spans: Sequence[CameraSpan],
                 every: int | None = None, step: int = 4, neutral_chroma: float = 8.0,
                 lightness: tuple[float, float] = (20.0, 99.0)) -> None:
        self.fps = float(fps)
        self.limits = profile.video
        self.spans = sorted(spans, key=lambda s: s.start_s)
        self.lightness = lightness
        self.every = every or max(1, round(fps / 5))
        self.step = step
        self.neutral_chroma = neutral_chroma
        self._count = 0
        self._rows: dict[str, list[tuple[float, float, float]]] = {}   # source → (t, a*, b*)

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        frames = as_batch(frames)
        first = (-self._count) % self.every
        self._count += len(ts)
        lim = self.limits
        for i in range(first, len(ts), self.every):
            span = span_at(self.spans, float(ts[i]))
            if span is None:
                continue
            frame = YUVFrame(*(p[i] for p in frames))
            for source, rect in span.cameras().items():
                crop = crop_planes(frame, rect)
                if crop is None:
                    continue
                a, b, share = (float(x) for x in to_host(cast_of_batch(
                    crop, luma_range=lim.luma_range, chroma_range=lim.chroma_range,
                    step=self.step, neutral_chroma=self.neutral_chroma,
                    lightness=self.lightness))[0])
                if share == share and share >= CAMERA_MIN_NEUTRAL_SHARE:
                    self._rows.setdefault(source, []).append((float(ts[i]), a, b))

    @staticmethod
    def _median(rows: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
        a = sorted(r[1] for r in rows)[len(rows) // 2]
        b = sorted(r[2] for r in rows)[len(rows) // 2]
        return a, b

    def finish(self) -> list[Check]:
        limit = self.limits.camera_delta_e_max
        cameras = sorted(self._rows)
        if len(cameras) < 2:
            authored = authored_sources(self.spans)
            why = ("camera regions unknown (one picture)" if not self.spans else
                   "fewer than two cameras show near-neutral surfaces to compare"
                   + (f" (only {cameras[0]})" if cameras else "")
                   + (f"; the {' and '.join(authored)} capture is not a camera: its colours "
                      "are the author's" if authored else ""))
            return [Check("video.camera_match", "V3", "skip", None, limit, "ΔE2000", why)]
        reference = "slides" if "slides" in self._rows else cameras[0]
        medians = {c: self._median(self._rows[c]) for c in cameras}
        worst, worst_cam = 0.0, reference
        for cam in cameras:
            if cam != reference:
                de = neutral_delta_e(*medians[cam], *medians[reference])
                if de >= worst:
                    worst, worst_cam = de, cam
        events = self._frame_events(limit) + self._switch_events(limit)
        events.sort(key=lambda e: e.start_s)
        status: Status = "fail" if worst > limit else "warn" if events else "pass"
        (ra, rb), (ca, cb) = medians[reference], medians[worst_cam]
        message = (f"neutral surfaces: {worst_cam} a*={ca:+.1f}, b*={cb:+.1f} against "
                   f"{reference} a*={ra:+.1f}, b*={rb:+.1f}: ΔE2000 {worst:.2f} "
                   f"(limit {limit:g})")
        if events:
            message += f"; {len(events)} place(s) where the cameras differ by more"
        return [Check("video.camera_match", "V3", status, round(worst, 3), limit, "ΔE2000",
                      message, tuple(events))]

    def _frame_events(self, limit: float) -> list[Event]:
        """Frames where two cameras are on screen together and differ by more than the limit."""
        by_time: dict[float, dict[str, tuple[float, float]]] = {}
        for cam, rows in self._rows.items():
            for t, a, b in rows:
                by_time.setdefault(t, {})[cam] = (a, b)
        times = sorted(t for t, seen in by_time.items() if len(seen) >= 2)
        worst: list[float] = []
        for t in times:
            seen = by_time[t]
            pairs = [neutral_delta_e(*seen[c1], *seen[c2])
                     for c1 in seen for c2 in seen if c1 < c2]
            worst.append(max(pairs))
        step = self.every / self.fps
        return [Event(times[i], times[j - 1] + step,
                      f"{timecode(times[i])}: cameras on screen together differ by ΔE2000 up "
                      f"to {max(worst[i:j]):.1f}")
                for i, j in runs([w > limit for w in worst])]

    def _switch_events(self, limit: float) -> list[Event]:
        """Layout switches: the camera(s) shown just before against those just after."""
        out: list[Event] = []
        for before, after in zip(self.spans, self.spans[1:], strict=False):
            at = after.start_s
            if set(before.regions) == set(after.regions):
                continue
            near = {}
            for side, span, lo, hi in (("before", before, at - SWITCH_WINDOW_S, at),
                                       ("after", after, at, at + SWITCH_WINDOW_S)):
                for cam in span.regions:
                    rows = [r for r in self._rows.get(cam, []) if lo <= r[0] < hi]
                    if rows:
                        near[(side, cam)] = self._median(rows)
            pairs = [(neutral_delta_e(*near[k1], *near[k2]), k1[1], k2[1])
                     for k1 in near if k1[0] == "before"
                     for k2 in near if k2[0] == "after" and k1[1] != k2[1]]
            if pairs:
                de, c1, c2 = max(pairs)
                if de > limit:
                    out.append(Event(at, at + 1.0 / self.fps,
                                     f"{timecode(at)}: layout switch from {c1} to {c2}, "
                                     f"colour difference ΔE2000 {de:.1f}"))
        return out
