"""Programme-audio mastering, streamed block by block (S1, S3): mains-hum notches, gain,
and a look-ahead peak limiter. Each stage keeps the state it needs across blocks.

The analysis that decides the settings (loudness, true peak, hum lines) runs before, over
the whole lecture (two-pass normalisation); see tasks/render.py ``plan_audio``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, signal


class HumNotch:
    """Narrow IIR notches at the given mains lines (S3: no mains hum).

    RBJ biquad notches (scipy.signal.iirnotch), Q = f / bandwidth: at Q = 30 a 50 Hz notch is
    1.7 Hz wide, so the voice around it is untouched.
    """

    def __init__(self, frequencies: Sequence[float], *, sample_rate: int, q: float = 30.0,
                 channels: int = 2) -> None:
        sections = [np.concatenate(signal.iirnotch(f, q, fs=sample_rate))
                    for f in frequencies if 0 < f < sample_rate / 2]
        self.sos = np.array(sections) if sections else np.zeros((0, 6))
        self.state = np.zeros((channels, len(sections), 2))

    @property
    def active(self) -> bool:
        return bool(len(self.sos))

    def warm_up(self, block: np.ndarray) -> None:
        """Run over ``block`` and keep only the state. Hum is periodic: over a whole number of
        mains periods (1 s is 50 periods of 50 Hz and of each harmonic) the state reached is
        the steady state at the block's start, so the filter does not ring when it begins."""
        self(block)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if not len(self.sos):
            return block
        out = np.empty_like(block)
        for ch in range(block.shape[0]):
            out[ch], self.state[ch] = signal.sosfilt(self.sos, block[ch], zi=self.state[ch])
        return out


class PeakLimiter:
    """Look-ahead limiter: no sample leaves above ``ceiling`` (linear), gain changes smooth.

    For look-ahead n, the gain of sample k is the mean over j ∈ [k−n+1, k] of the minimum of
    the needed gain over [j, j+n−1]. Every one of those windows contains k, so the gain never
    exceeds what sample k needs: no overshoot by construction, attack and release each spread
    over n samples. Sample k can leave once sample k+n−1 has arrived: the latency is n−1
    samples (``latency``), which the caller compensates once at the start.
    """

    def __init__(self, ceiling: float, *, sample_rate: int, lookahead_s: float = 0.005,
                 channels: int = 2) -> None:
        self.ceiling = float(ceiling)
        self.n = max(2, round(lookahead_s * sample_rate))
        self.latency = self.n - 1
        # needed gains of samples e−(n−1) … e+len(pending)−1: the emitted tail and the pending
        self.need_hist = np.ones(self.latency)
        self.pending = np.zeros((channels, 0), np.float32)  # input from sample e on
        self.reduced = 0  # samples whose gain was below 1

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n, lat = self.n, self.latency
        peak = np.abs(block).max(axis=0) if block.shape[1] else np.zeros(0)
        need = np.minimum(1.0, self.ceiling / np.maximum(peak, 1e-12))
        g = np.concatenate([self.need_hist, need])  # samples e−lat … e+P−1 (P: x's length)
        x = np.concatenate([self.pending, block.astype(np.float32)], axis=1)
        ready = max(0, x.shape[1] - lat)  # samples e … e+ready−1 see their whole window
        # forward minimum over [j, j+n−1] (a negative origin moves the window ahead)
        fmin = ndimage.minimum_filter1d(g, size=n, origin=-(n // 2), mode="nearest")
        csum = np.concatenate([[0.0], np.cumsum(fmin[: lat + ready])])
        gain = (csum[n:] - csum[:-n]) / n  # trailing means: gain[i] ↔ sample e + i
        out = x[:, :ready] * gain[:ready].astype(np.float32)
        self.reduced += int(np.count_nonzero(gain[:ready] < 1.0 - 1e-9))
        self.need_hist = g[ready:]
        self.pending = x[:, ready:]
        return out

    def replace_pending(self, block: np.ndarray) -> None:
        """Swap the look-ahead samples (read but not emitted) for others: at a cut to another
        source, the samples after the cut come from the new source, exactly aligned."""
        if block.shape[1] != self.pending.shape[1]:
            raise ValueError(f"expected {self.pending.shape[1]} samples, got {block.shape[1]}")
        peak = np.abs(block).max(axis=0) if block.shape[1] else np.zeros(0)
        if block.shape[1]:
            self.need_hist[-block.shape[1]:] = np.minimum(
                1.0, self.ceiling / np.maximum(peak, 1e-12))
        self.pending = block.astype(np.float32)


class Programme:
    """The programme's audio through one limiter, source after source (intro, card, lecture,
    credits), each exactly aligned with its pictures: ``cut_to(read)`` then ``read(n)``."""

    def __init__(self, limiter: PeakLimiter) -> None:
        self.limiter = limiter
        self._read: Callable[[int], np.ndarray] | None = None

    def cut_to(self, read: Callable[[int], np.ndarray]) -> None:
        ahead = read(self.limiter.latency)
        if self._read is None:
            self.limiter(ahead)  # fills the look-ahead; emits nothing
        else:
            self.limiter.replace_pending(ahead)
        self._read = read

    def read(self, n: int) -> np.ndarray:
        if self._read is None:
            raise RuntimeError("cut_to a source first")
        return self.limiter(self._read(n))
