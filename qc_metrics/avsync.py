"""S3 sound/picture sync: the lag between picture events and sound onsets.

Picture events are sudden changes of the picture (a clap, a cut, a gesture: the mean absolute
luma difference between consecutive frames, on a coarse grid); sound events are onsets (the
rise of short-term log energy, 10 ms hops). Their cross-correlation over ±``max_lag_s``
peaks at the offset; unless most events line up there (normalised correlation ≥
``MIN_CORRELATION``: static slides, or nothing shared) the check is "skip", never a guess.
Sign as EBU R37 and the profile's ``audio.av_sync_ms``: positive = sound
before picture (early), negative = sound after picture (late).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from courseware.report import Check
from qc_metrics.xp import array_namespace, to_host

HOP_S = 0.01            # analysis grid for both signals
#: normalised correlation at the peak needed to trust the lag: most events must line up
#: (a chance coincidence of one clap among several gives ~1/n)
MIN_CORRELATION = 0.5


class AvSync:
    """Feed picture luma (``add_video``) and sound blocks (``add_audio``); ``finish()``."""

    def __init__(self, *, sample_rate: float, av_sync_ms: tuple[float, float],
                 max_lag_s: float = 1.0, stride: int = 8) -> None:
        self.rate = float(sample_rate)
        self.window = av_sync_ms
        self.max_lag_s = max_lag_s
        self.stride = stride
        self._prev: Any = None
        self._video: list[tuple[float, float]] = []   # (t, picture change)
        self._hop = max(1, round(HOP_S * self.rate))
        self._carry = np.zeros(0, np.float64)
        self._audio_t0: float | None = None
        self._energy: list[float] = []                # log energy per hop

    def add_video(self, luma: Any, times: list[float]) -> None:
        """A batch of luma planes (N, H, W) on either backend, with their times."""
        xp = array_namespace(luma)
        small = luma[:, :: self.stride, :: self.stride].astype(xp.float32)
        first = self._prev is None
        stack = small if first else xp.concatenate([self._prev[None], small])
        diffs = to_host(xp.abs(stack[1:] - stack[:-1]).mean(axis=(1, 2)))
        if first:  # the first frame has nothing to change from
            self._video.append((float(times[0]), 0.0))
        for t, d in zip(times[1:] if first else times, diffs, strict=True):
            self._video.append((float(t), float(d)))
        self._prev = small[-1]

    def add_audio(self, block: Any, t: float) -> None:
        """A (channels, n) block starting at ``t`` seconds (blocks contiguous)."""
        x = to_host(block).astype(np.float64)
        mono = x.mean(axis=0) if x.ndim == 2 else x
        if self._audio_t0 is None:
            self._audio_t0 = float(t)
        data = np.concatenate([self._carry, mono])
        n = data.size // self._hop
        frames = data[: n * self._hop].reshape(n, self._hop)
        self._energy.extend(np.log10(np.mean(frames**2, axis=1) + 1e-10).tolist())
        self._carry = data[n * self._hop:]

    def finish(self) -> Check:
        lo, hi = self.window
        threshold = f"{lo:g}…{hi:g}"
        if len(self._video) < 3 or len(self._energy) < 10 or self._audio_t0 is None:
            return Check("audio.av_sync", "S3", "skip", None, threshold, "ms",
                         "needs both picture and sound to measure sync")
        t0 = self._audio_t0
        n = len(self._energy)
        onset = np.maximum(np.diff(np.asarray(self._energy), prepend=self._energy[0]), 0.0)
        picture = np.zeros(n)
        for t, d in self._video:  # a frame's change lands on the hop of its display time
            k = round((t - t0) / HOP_S)
            if 0 <= k < n:
                picture[k] = max(picture[k], d)
        lag = round(self.max_lag_s / HOP_S)
        a, v = onset - onset.mean(), picture - picture.mean()
        if not a.any() or not v.any():
            return Check("audio.av_sync", "S3", "skip", None, threshold, "ms",
                         "no sound onsets or picture changes to match")
        size = 1 << (2 * n).bit_length()
        corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(v, size)), size)
        window = np.concatenate([corr[-lag:], corr[: lag + 1]])  # sound lag −lag … +lag hops
        k = int(np.argmax(window))
        confidence = float(window[k] / (np.linalg.norm(a) * np.linalg.norm(v)))
        if confidence < MIN_CORRELATION:
            return Check("audio.av_sync", "S3", "skip", None, threshold, "ms",
                         f"no clear shared events to measure sync by (correlation "
                         f"{confidence:.2f}); check lip sync by eye at a few points")
        late_ms = (k - lag) * HOP_S * 1000.0   # sound after picture by this much
        lead_ms = -late_ms                      # R37 sign: positive = sound early
        ok = lo <= lead_ms <= hi
        words = (f"sound {abs(lead_ms):.0f} ms {'before' if lead_ms > 0 else 'after'} the "
                 "picture" if not math.isclose(lead_ms, 0.0, abs_tol=0.5)
                 else "sound and picture in step")
        message = (f"{words} (correlation {confidence:.2f}); S3 allows {hi:g} ms early to "
                   f"{-lo:g} ms late" + ("" if ok else ": re-align the sound track"))
        return Check("audio.av_sync", "S3", "pass" if ok else "fail", lead_ms, threshold, "ms",
                     message)
