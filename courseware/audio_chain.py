"""Programme-audio mastering, streamed block by block (S1–S3): mains-hum notches, noise
reduction, gain, and a look-ahead peak limiter. Each stage keeps the state it needs across
blocks.

The analysis that decides the settings (loudness, true peak, hum lines, SNR and the noise's
spectrum) runs before, over the whole lecture (two-pass mastering); see tasks/render.py
``plan_audio``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, signal

from qc_metrics.audio import CLIP_MIN_SAMPLES, SpectrumClasses
from qc_metrics.frames import runs as frame_runs


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


# ------------------------------------------------------------------------------ S4 dropouts

class Patch:
    """``main`` with ``backup`` played instead over ``spans`` (seconds from the first sample
    read): a recorder's dropouts filled from another microphone that heard the same speech
    (in step with it, and at its level). Each patch fades in over the ``fade_s`` before its
    span and out over the ``fade_s`` after (raised cosine; the two sounds are in step, so
    the crossfade does not comb). Both sources are read all along, so they stay in step."""

    def __init__(self, main: Callable[[int], np.ndarray], backup: Callable[[int], np.ndarray],
                 spans: Sequence[tuple[float, float]], *, sample_rate: int,
                 fade_s: float = 0.01) -> None:
        self.main, self.backup = main, backup
        self.fade = max(1, round(fade_s * sample_rate))
        self.spans = [(round(a * sample_rate), round(b * sample_rate)) for a, b in spans]
        self.position = 0

    def read(self, n: int) -> np.ndarray:
        x, y = self.main(n), self.backup(n)
        start, self.position = self.position, self.position + n
        f = self.fade
        near = [(a, b) for a, b in self.spans if a - f < start + n and b + f > start]
        if not near:
            return x
        t = np.arange(start, start + n, dtype=np.float64)
        w = np.zeros(n)
        for a, b in near:
            w = np.maximum(w, np.clip(np.minimum(t - (a - f), (b + f) - t) / f, 0.0, 1.0))
        w = (0.5 - 0.5 * np.cos(np.pi * w)).astype(np.float32)
        return x * (1.0 - w) + y * w


# ------------------------------------------------------------------------------ S2 noise

#: STFT of the noise reducer and of the pause spectrum it is given: 1024 samples (21 ms at
#: 48 kHz), hop 512; √Hann (periodic) on analysis and synthesis, whose squares sum to 1
NR_FFT = 1024
NR_HOP = NR_FFT // 2


def nr_window() -> np.ndarray:
    return np.sqrt(np.hanning(NR_FFT + 1)[:NR_FFT])


def pause_spectrum(sample_rate: int) -> SpectrumClasses:
    """A meter of the recording's noise as the noise reducer's frames see it (its window,
    its size, per channel): ``quietest(share, 1)`` is the mean power per bin of the pauses
    (the share S2's noise floor is taken from)."""
    return SpectrumClasses(sample_rate=sample_rate, frame_s=NR_FFT / sample_rate,
                           top_hz=sample_rate / 2.0, window=nr_window(), per_channel=True,
                           keep_mean=True)


class NoiseReducer:
    """Stationary noise reduction (S2: room tone, hiss, fans), streamed: a reader of
    (2, n) blocks in, the same blocks with less noise out, sample-aligned.

    Short-time spectral attenuation with the Wiener gain and the decision-directed a-priori
    SNR of Ephraim & Malah (1984; α = 0.98, which keeps the residual noise smooth, without
    "musical" tones). ``noise`` is the noise power per bin (:func:`pause_spectrum`, mean over
    the channels); one gain per bin for all channels (the stereo image is kept). The gain
    never goes under ``floor_db``: the noise is lowered by that much in the pauses, and the
    speech, far above the noise, is left as it is.
    """

    def __init__(self, read: Callable[[int], np.ndarray], noise: np.ndarray, *,
                 floor_db: float, alpha: float = 0.98, channels: int = 2,
                 batch: int = 16) -> None:
        self._read = read
        self.noise = np.maximum(np.asarray(noise, dtype=np.float64), 1e-20)
        self.floor = 10.0 ** (floor_db / 20.0)
        self.alpha = float(alpha)
        self.batch = int(batch)
        self._window = nr_window()
        self._last_in = np.zeros((channels, NR_HOP))    # the previous hop of input
        self._overlap = np.zeros((channels, NR_HOP))    # second half of the last frame out
        self._clean: np.ndarray | None = None           # |G·X|² of the previous frame
        self._out: list[np.ndarray] = []
        self._queued = 0
        self._primed = False

    def read(self, n: int) -> np.ndarray:
        while self._queued < n:
            self._process(self._read(self.batch * NR_HOP))
        out = np.concatenate(self._out, axis=1) if len(self._out) > 1 else self._out[0]
        self._out = [out[:, n:]]
        self._queued -= n
        return out[:, :n]

    def _process(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64)
        x = np.concatenate([self._last_in, block], axis=1)         # (C, (m + 1) · hop)
        m = block.shape[1] // NR_HOP
        frames = np.lib.stride_tricks.sliding_window_view(x, NR_FFT, axis=1)[:, ::NR_HOP][:, :m]
        spec = np.fft.rfft(frames * self._window, axis=-1)         # (C, m, bins)
        power = (np.abs(spec) ** 2).mean(axis=0)                   # (m, bins)
        gains = np.empty_like(power)
        clean = self._clean
        for j in range(m):
            post = power[j] / self.noise
            prior = np.maximum(post - 1.0, 0.0)
            if clean is not None:
                prior = self.alpha * clean / self.noise + (1.0 - self.alpha) * prior
            g = np.maximum(prior / (1.0 + prior), self.floor)
            gains[j] = g
            clean = g * g * power[j]
        self._clean = clean
        y = np.fft.irfft(spec * gains, n=NR_FFT, axis=-1) * self._window   # (C, m, fft)
        heads = y[:, :, :NR_HOP]
        tails = np.concatenate([self._overlap[:, None], y[:, :-1, NR_HOP:]], axis=1)
        out = (heads + tails).reshape(block.shape[0], m * NR_HOP)
        self._overlap = y[:, -1, NR_HOP:]
        self._last_in = x[:, -NR_HOP:]
        # frame j covers input hops j−1 and j: its head completes hop j−1 (one hop late)
        if not self._primed:
            out, self._primed = out[:, NR_HOP:], True
        self._out.append(out.astype(np.float32))
        self._queued += out.shape[1]


# ------------------------------------------------------------------------------ S1 clipping

#: a clipped run is restored from this much sound on each side (the AR model is fitted there
#: and the run interpolated from it): 10.7 ms at 48 kHz, a few pitch periods of a voice
DECLIP_CONTEXT = 512
#: order of the AR model (a voice's spectral envelope at 48 kHz)
DECLIP_ORDER = 32
#: the longest run restored: 1 ms (interpolation holds a voice's waveform over a fraction of
#: its pitch period; longer runs are left and said)
DECLIP_MAX_S = 0.001


def restore_clipped(x: np.ndarray, missing: np.ndarray, *, level: float,
                    made: np.ndarray | None = None, order: int = DECLIP_ORDER,
                    rounds: int = 4) -> np.ndarray | None:
    """``x`` (1-D) with its ``missing`` samples (a clipped run and its context's other runs)
    interpolated by least-squares AR interpolation, constrained to lie beyond the clip level.

    The AR model (``order``) is fitted by least squares (covariance method) on the windows of
    the known samples; the missing samples are those that minimise the model's prediction
    error over every window that touches them (Janssen, Veldhuis & Vries, IEEE Trans. ASSP
    34(2), 1986). A clipped sample's true value lay beyond the level, on its side: where the
    interpolation falls short, the sample is held at the level and the rest solved again
    (consistent declipping). ``made``: samples that are not the recording's own (runs
    restored before, the silence before it begins): known for the interpolation, never
    fitted. None when too little of the sound around the run is the recording's own,
    unclipped, to fit the model on (four windows per coefficient)."""
    x = np.asarray(x, dtype=np.float64).copy()
    n, p = x.size, order
    own = ~missing if made is None else ~(missing | made)
    windows = np.lib.stride_tricks.sliding_window_view(x, p + 1)      # (n − p, p + 1)
    clean = np.lib.stride_tricks.sliding_window_view(own, p + 1).all(axis=1)
    if clean.sum() < 4 * p:                 # too little sound around it to model
        return None
    past, now = windows[clean, :p], windows[clean, p]
    gram = past.T @ past
    gram[np.diag_indices(p)] += 1e-9 * max(float(np.trace(gram)) / p, 1e-30)
    a = np.linalg.solve(gram, past.T @ now)                           # x[t] ≈ past · a
    taps = np.concatenate([-a, [1.0]])                                # e[t] = taps · x[t−p…t]
    sign = np.sign(x)
    free = missing.copy()
    for _ in range(rounds):
        cols = np.flatnonzero(free)
        if not cols.size:
            break
        # the prediction errors of the windows that touch a free sample
        rows = np.unique(np.clip((cols[:, None] - np.arange(p + 1)[None]).ravel(), 0, n - p - 1))
        band = np.zeros((rows.size, n))
        for j in range(p + 1):
            band[np.arange(rows.size), rows + j] = taps[j]
        fixed = x.copy()
        fixed[cols] = 0.0
        rhs = -(band @ fixed)
        sol = np.linalg.lstsq(band[:, cols], rhs, rcond=None)[0]
        x[cols] = sol
        short = free & (x * sign < level)                  # under the level on its side
        if not short.any():
            break
        x[short] = sign[short] * level
        free &= ~short
    return x


class Declipper:
    """Clipped runs restored, streamed: a reader of (2, n) blocks in, the same blocks out,
    sample-aligned, with every run of ``min_samples`` or more samples at or beyond ``level``
    (|x|) and at most ``max_samples`` long interpolated from the sound around it
    (:func:`restore_clipped`). Longer runs, and runs in sound clipped so densely that too
    little around them is whole, are left as they are and counted. Nothing else is
    changed."""

    def __init__(self, read: Callable[[int], np.ndarray], *, level: float, max_samples: int,
                 min_samples: int = CLIP_MIN_SAMPLES, context: int = DECLIP_CONTEXT,
                 channels: int = 2) -> None:
        self._read = read
        self.level, self.max_samples = float(level), int(max_samples)
        self.min_samples, self.context = int(min_samples), int(context)
        self._history = np.zeros((channels, context))  # the last samples given out
        self._pending = np.zeros((channels, 0))        # read, not yet given out
        # which of those are made up (restored runs; the silence before the first sample)
        self._history_made = np.ones((channels, context), dtype=bool)
        self._pending_made = np.zeros((channels, 0), dtype=bool)
        self.position = 0                              # samples given out
        #: (start, end) samples of each run restored / left, per channel
        self.restored: list[tuple[int, int, int]] = []
        self.left: list[tuple[int, int, int]] = []

    def read(self, n: int) -> np.ndarray:
        look = self.max_samples + self.context
        while self._pending.shape[1] < n + look:
            block = np.asarray(self._read(max(n, look)), np.float64)
            self._pending = np.concatenate([self._pending, block], axis=1)
            self._pending_made = np.concatenate(
                [self._pending_made, np.zeros(block.shape, dtype=bool)], axis=1)
        c = self.context
        channels = self._pending.shape[0]
        same = channels == 2 and np.array_equal(self._pending[0], self._pending[1]) \
            and np.array_equal(self._history[0], self._history[1]) \
            and np.array_equal(self._history_made[0], self._history_made[1])  # one microphone
        for ch in range(1 if same else channels):
            work = np.concatenate([self._history[ch], self._pending[ch, : n + look]])
            made = np.concatenate([self._history_made[ch], self._pending_made[ch, : n + look]])
            beyond = np.abs(work) >= self.level
            if not beyond[c: c + n].any():
                continue
            runs = frame_runs(beyond)
            long_enough = [(a, b) for a, b in runs if b - a >= self.min_samples]
            clipped = np.zeros(work.size, dtype=bool)    # never fitted: not the sound itself
            for a, b in long_enough:
                clipped[a:b] = True
            for i, (a, b) in enumerate(long_enough):
                if not c <= a < c + n:            # begun earlier (done) or later (next time)
                    continue
                where = (ch, self.position + a - c, self.position + b - c)
                if b - a > self.max_samples or b > work.size - c:
                    self.left.append(where)
                    continue
                lo, hi = a - c, min(work.size, b + c)
                missing = np.zeros(hi - lo, dtype=bool)
                for s, e in long_enough[i:]:      # this run and the unrestored ones after it
                    if s >= hi:
                        break
                    missing[s - lo: min(e, hi) - lo] = True
                fixed = restore_clipped(work[lo:hi], missing, level=self.level,
                                        made=made[lo:hi] | clipped[lo:hi])
                if fixed is None:
                    self.left.append(where)
                    continue
                work[a:b] = fixed[a - lo: b - lo]
                made[a:b] = True
                self.restored.append(where)
            for k in (0, 1) if same else (ch,):
                self._pending[k, : n + look] = work[c:]
                self._pending_made[k, : n + look] = made[c:]
        out = self._pending[:, :n]
        self._history = np.concatenate([self._history, out], axis=1)[:, -c:]
        self._history_made = np.concatenate(
            [self._history_made, self._pending_made[:, :n]], axis=1)[:, -c:]
        self._pending = self._pending[:, n:]
        self._pending_made = self._pending_made[:, n:]
        self.position += n
        return out.astype(np.float32)

