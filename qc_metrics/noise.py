"""Luma noise and image SNR (V2: SNR ≥ 55 dB, no visible noise).

SNR = 20·log10(span / σ) with span the nominal luma range (235 − 16 = 219 codes for BT.709
limited range, taken from ``profile.video.luma_range``) and σ the RMS luma noise in code
values, measured in flat regions. 55 dB ⇔ σ ≈ 0.39 codes; quantisation of natural content
alone gives 1/√12 ≈ 0.289 codes, so the estimator must be precise to a tenth of a code.

Method: Immerkær's fast noise estimation (J. Immerkær, "Fast Noise Variance Estimation",
CVIU 64(2), 1996) restricted to low-texture blocks. The mask N = [1 −2 1]ᵀ[1 −2 1] is the
difference of two Laplacians; it is blind to planes (gradients, vignetting) and for white noise
E[(I∗N)²] = σ²·ΣN² = 36σ² whatever the noise distribution, so the *mean square* response is
used (not the mean absolute, whose √(π/2) factor assumes Gaussian noise and fails for the
sparse ±1 noise of quantised low-σ video). Edges and texture (slide text, the lecturer) give
responses orders of magnitude larger; blocks are kept by an iterated threshold around the
lowest-energy population, so text on a flat slide does not inflate σ.

Full resolution always: downscaling averages noise away and changes the answer. Speed comes
from evaluating only every ``row_step``-th row of blocks and every ``every``-th frame.

Limits: blocks with no response at all (perfectly flat digital content, or hard clipping)
carry no noise; if they outnumber the noisy flat blocks the frame counts as noise-free. Noise
that differs across the frame (brightness-dependent sensor noise) is measured in the
lowest-noise flat population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan, authored_sources, span_runs
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, runs, stretches, timecode
from qc_metrics.xp import array_namespace, to_host

#: Σ N² of Immerkær's mask [[1,-2,1],[-2,4,-2],[1,-2,1]]
_MASK_ENERGY = 36.0
#: the flat population: blocks up to this multiple of its mean energy (≈ 6 standard deviations
#: of a 30×30-response block mean for Gaussian noise, ~4 for sparse quantised noise)
_FLAT_SPREAD = 1.6
#: start the iteration from this quantile of the non-zero block energies
_START_QUANTILE = 0.05


@dataclass(frozen=True)
class NoiseEstimate:
    sigma: float        #: RMS luma noise in code values (0.0: no noise measurable)
    snr_db: float       #: 20·log10(span / σ); inf when σ is 0, nan when nothing was flat
    flat_blocks: int    #: blocks the estimate rests on
    blocks: int         #: blocks evaluated


def snr_db(sigma: float, *, luma_range: Sequence[float]) -> float:
    """V2: SNR = 20·log10(span / σ), span = nominal white − black in code values."""
    span = float(luma_range[1]) - float(luma_range[0])
    if sigma != sigma:  # nan: nothing to measure
        return math.nan
    return math.inf if sigma <= 0 else 20.0 * math.log10(span / sigma)


def block_energies(y: Any, *, block: int = 32, row_step: int = 1) -> Any:
    """Mean squared Immerkær response inside each ``block``×``block`` tile, per frame.

    ``y``: luma, (H, W) or a batch (N, H, W), any dtype, full resolution. Only every
    ``row_step``-th row of tiles is evaluated. Returns float32 of shape (N, tiles).
    The mask is applied within each tile (no response crosses a tile border).
    """
    xp = array_namespace(y)
    if y.ndim == 2:
        y = y[None]
    n, h, w = y.shape
    by, bx = h // block, w // block
    if by == 0 or bx == 0:
        return xp.zeros((n, 0), dtype=xp.float32)
    rows = y[:, : by * block, : bx * block].reshape(n, by, block, bx * block)[:, ::row_step]
    tiles = rows.reshape(n, rows.shape[1], block, bx, block).astype(xp.float32)
    # separable Immerkær mask: [1 -2 1] along x, then along y (Immerkær 1996, eq. 4)
    dx = tiles[..., :-2] - 2.0 * tiles[..., 1:-1] + tiles[..., 2:]
    dxy = dx[:, :, :-2] - 2.0 * dx[:, :, 1:-1] + dx[:, :, 2:]
    energy = (dxy * dxy).mean(axis=(2, 4))
    return energy.reshape(n, -1)


def sigma_from_energies(energy: Any) -> tuple[Any, Any]:
    """σ per frame from block energies (N, tiles): (sigma, flat block count), xp arrays.

    The flat population is found by iterated thresholding: start from a low quantile of the
    non-zero energies, keep blocks ≤ 1.6 × the mean of those kept, repeat. σ² = mean / 36.
    A frame whose zero-energy blocks outnumber its flat noisy blocks is noise-free (σ = 0);
    a frame without blocks gives nan.
    """
    xp = array_namespace(energy)
    n, m = energy.shape
    positive = energy > 0
    npos = positive.sum(axis=1)
    ordered = xp.sort(xp.where(positive, energy, xp.inf), axis=1)
    k = xp.clip((npos * _START_QUANTILE).astype(xp.int64), 0, max(m - 1, 0))
    start = xp.take_along_axis(ordered, k[:, None], axis=1)[:, 0] if m else xp.zeros(n)
    threshold = _FLAT_SPREAD * start
    for _ in range(6):
        keep = positive & (energy <= threshold[:, None])
        count = keep.sum(axis=1)
        mean = xp.where(keep, energy, 0.0).sum(axis=1) / xp.maximum(count, 1)
        threshold = _FLAT_SPREAD * mean
    sigma = xp.sqrt(mean / _MASK_ENERGY)
    zeros = m - npos
    sigma = xp.where(zeros > count, 0.0, sigma)
    sigma = xp.where((count == 0) & (zeros == 0), xp.nan, sigma)
    return sigma, xp.where(zeros > count, zeros, count)


def active_area(y: Any) -> tuple[slice, slice]:
    """Rows and columns of a batch of planes (N, H, W) inside its constant borders: the
    letterbox or pillarbox bars a source gets in a layout slot (FFmpeg cropdetect's idea).
    A block straddling a bar's edge holds a few picture pixels and many flat ones, and would
    pass for a low-noise flat block."""
    xp = array_namespace(y)
    cols = to_host(xp.all(y.max(axis=(0, 1)) == y.min(axis=(0, 1))[None], axis=0))
    rows = to_host(xp.all(y.max(axis=(0, 2)) == y.min(axis=(0, 2))[None], axis=0))

    def inside(constant: Any) -> slice:
        live = [i for i, c in enumerate(constant) if not c]
        return slice(live[0], live[-1] + 1) if live else slice(0, 0)

    return inside(rows), inside(cols)


def estimate_noise(y: Any, *, luma_range: Sequence[float], block: int = 32,
                   row_step: int = 1) -> NoiseEstimate:
    """RMS luma noise of one frame (H, W) at full resolution, and its SNR (V2)."""
    energy = block_energies(y, block=block, row_step=row_step)
    sigma, count = sigma_from_energies(energy)
    s = float(to_host(sigma)[0])
    return NoiseEstimate(sigma=s, snr_db=snr_db(s, luma_range=luma_range),
                         flat_blocks=int(to_host(count)[0]), blocks=int(energy.shape[1]))


class NoiseDetector(VideoDetector):
    """``video.snr`` (V2): SNR of luma noise in flat regions, in dB.

    Every ``every``-th frame (default: five per second) is measured at full resolution on every
    ``row_step``-th row of tiles. The reported SNR comes from the median σ of the measured
    frames; spans of frames below the minimum are events.

    ``spans`` (the render's layout): each camera's region is measured on its own, inside its
    letterbox bars, every row of its tiles, and the V2 value is the worst camera's. Measured
    on the whole picture, a noisy teacher camera in an inset is hidden: the slides' flat areas
    outnumber its own, and the lowest-noise population (or the noise-free one) wins. Authored
    captures are not measured.
    """

    def __init__(self, *, fps: float, profile: Profile, every: int | None = None,
                 block: int = 32, row_step: int = 3,
                 spans: Sequence[CameraSpan] = ()) -> None:
        self.fps = float(fps)
        self.limits = profile.video
        self.every = every or max(1, round(fps / 5))
        self.block = block
        self.row_step = row_step
        self.spans = sorted(spans, key=lambda c: c.start_s)
        self._count = 0
        self._times: list[float] = []
        self._sigmas: list[float] = []      # with spans: the noisiest camera's, per frame
        self._cameras: dict[str, list[tuple[float, float]]] = {}   # with spans: (t, σ)

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        y = as_batch(frames).y
        picks = [i for i in range(len(ts)) if (self._count + i) % self.every == 0]
        self._count += len(ts)
        if not picks:
            return
        if self.spans:
            self._measure_cameras(y, picks, [float(ts[i]) for i in picks])
            return
        energy = block_energies(y[picks[0]::self.every], block=self.block,
                                row_step=self.row_step)
        sigma, _ = sigma_from_energies(energy)
        self._sigmas.extend(float(s) for s in to_host(sigma))
        self._times.extend(float(ts[i]) for i in picks)

    def _measure_cameras(self, y: Any, picks: list[int], times: list[float]) -> None:
        for i, j, span in span_runs(self.spans, times):
            cameras = span.cameras() if span is not None else {}
            if not cameras:
                continue
            frames = y[picks[i]: picks[j - 1] + 1: self.every]    # picks are evenly spaced
            worst = [math.nan] * (j - i)
            for name, (x0, y0, w, h) in cameras.items():
                crop = frames[:, y0: y0 + h, x0: x0 + w]
                energy = block_energies(crop[(slice(None), *active_area(crop))],
                                        block=self.block)
                sigma, _ = sigma_from_energies(energy)
                sigmas = [float(s) for s in to_host(sigma)]
                self._cameras.setdefault(name, []).extend(zip(times[i:j], sigmas, strict=True))
                worst = [b if a != a or b > a else a for a, b in zip(worst, sigmas, strict=True)]
            self._times.extend(times[i:j])
            self._sigmas.extend(worst)

    def noise_free(self) -> bool:
        """True when most measured frames' flat areas carry no noise at all (median σ = 0):
        a digital picture, such as a computer's screen captured directly, not a camera's."""
        valid = sorted(s for s in self._sigmas if s == s)
        return bool(valid) and valid[len(valid) // 2] == 0.0

    def finish(self) -> list[Check]:
        minimum = self.limits.snr_min_db
        if self.spans:
            return [self._judge_cameras()]
        valid = [(t, s) for t, s in zip(self._times, self._sigmas, strict=True) if s == s]
        if not valid:
            return [Check("video.snr", "V2", "skip", None, minimum, "dB",
                          "no flat image area to measure noise in")]
        sigma, value, events = self._judge(valid)
        below = stretches(events, "below the minimum")
        if value == math.inf:
            return [Check("video.snr", "V2", "warn" if events else "pass", None, minimum, "dB",
                          "no noise measurable (noise-free flat areas)" + below, events)]
        status: Status = "fail" if value < minimum else "warn" if events else "pass"
        message = (f"luma noise σ = {sigma:.3f} codes in flat areas → SNR {value:.1f} dB "
                   f"(minimum {minimum:g} dB)")
        if value >= minimum:
            message += below
        return [Check("video.snr", "V2", status, round(value, 2), minimum, "dB", message,
                      events)]

    def _judge(self, valid: list[tuple[float, float]], label: str = "",
               ) -> tuple[float, float, tuple[Event, ...]]:
        """(median σ, its SNR, stretches below the minimum) of measured (t, σ)."""
        lo_hi = self.limits.luma_range
        minimum = self.limits.snr_min_db
        sigmas = sorted(s for _, s in valid)
        sigma = sigmas[len(sigmas) // 2]
        # V2: SNR >= 55 dB (profile.video.snr_min_db)
        low = [snr_db(s, luma_range=lo_hi) < minimum for _, s in valid]
        step = self.every / self.fps
        who = f"{label} " if label else ""
        events = tuple(
            Event(valid[i][0], valid[j - 1][0] + step,
                  f"{timecode(valid[i][0])}: {who}SNR "
                  f"{min(snr_db(s, luma_range=lo_hi) for _, s in valid[i:j]):.1f} dB "
                  f"(σ up to {max(s for _, s in valid[i:j]):.2f} codes)")
            for i, j in runs(low))
        return sigma, snr_db(sigma, luma_range=lo_hi), events

    def _judge_cameras(self) -> Check:
        """V2 with the layout: every camera region on its own; the worst one is the value."""
        minimum = self.limits.snr_min_db
        authored = authored_sources(self.spans)
        skipped = (f"; {', '.join(authored)}: an authored capture, not measured"
                   if authored else "")
        judged = {name: self._judge(valid, name) for name, rows in sorted(self._cameras.items())
                  if (valid := [(t, s) for t, s in rows if s == s])}
        if not judged:
            return Check("video.snr", "V2", "skip", None, minimum, "dB",
                         "no camera picture with a flat area to measure noise in" + skipped)
        events = tuple(sorted((e for _, _, ev in judged.values() for e in ev),
                              key=lambda e: e.start_s))
        worst = min(judged, key=lambda n: judged[n][1])
        value = judged[worst][1]
        parts = "; ".join(
            f"{name}: " + (f"σ = {sigma:.3f} codes → SNR {snr:.1f} dB" if snr != math.inf
                           else "no noise measurable")
            for name, (sigma, snr, _) in judged.items())
        below = stretches(events, "below the minimum")
        if value == math.inf:
            return Check("video.snr", "V2", "warn" if events else "pass", None, minimum, "dB",
                         f"each camera's picture judged on its own: {parts}{skipped}{below}",
                         events)
        status: Status = "fail" if value < minimum else "warn" if events else "pass"
        message = (f"{worst} is the noisiest camera (minimum {minimum:g} dB); each camera's "
                   f"picture judged on its own: {parts}{skipped}")
        if value >= minimum:
            message += below
        return Check("video.snr", "V2", status, round(value, 2), minimum, "dB", message, events)
