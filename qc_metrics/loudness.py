"""Loudness and true peak after ITU-R BS.1770-4, EBU Tech 3341 and EBU Tech 3342, streaming.

Audio arrives as blocks of samples shaped (channels, n) at a known rate. Memory stays flat in
the programme's length apart from one float per 100 ms (the gating-block energies, from
which integrated loudness, loudness range, momentary and short-term loudness all follow).

Filtering runs on the array namespace (NumPy or CuPy) as overlap-save FFT convolution,
because a recursive (IIR) filter is a sequential loop that neither backend vectorises:

* K-weighting (BS.1770-4 §2.1, Annex 1): the pre-filter (high shelf) and RLB (high pass)
  biquads, with coefficients computed for the actual sample rate by the bilinear transform
  of their analogue prototypes (as libebur128 and FFmpeg do; at 48 kHz they reproduce the
  coefficients printed in BS.1770-4 Tables 1 and 2). The cascade is applied as its impulse
  response, truncated where its tail energy is below 1e-15 of the total (about 0.1 s), so
  the result equals the recursive filter from zero initial state to float precision.
* True peak (BS.1770-4 Annex 2): 4× oversampling by a polyphase windowed-sinc FIR
  (32 taps per phase, Kaiser β = 9, cut-off 0.97 × Nyquist; the interpolator FFmpeg's
  swresample uses by default, so ``ebur128=peak=true`` agrees), filter state carried across
  blocks. The true peak is the larger of the interpolated and the sample peak.

Results are built on the host as frozen dataclasses of Python floats.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qc_metrics.xp import array_namespace, backend_name, to_host

#: BS.1770-4 eq. 2: L = −0.691 + 10·log10(Σ G_i z_i)
LOUDNESS_OFFSET = -0.691
#: BS.1770-4 §2.8 / EBU Tech 3341: gating block 400 ms, overlap 75 % → a step of 100 ms
STEP_S = 0.1
MOMENTARY_STEPS = 4      # EBU Tech 3341: momentary = 400 ms
SHORT_TERM_STEPS = 30    # EBU Tech 3341: short-term = 3 s
ABSOLUTE_GATE_LUFS = -70.0   # BS.1770-4 eq. 4 (Γ_a)
RELATIVE_GATE_LU = -10.0     # BS.1770-4 eq. 6 (Γ_r = L_abs − 10 LU)
LRA_RELATIVE_GATE_LU = -20.0  # EBU Tech 3342 §3: relative gate for loudness range
LRA_PERCENTILES = (10.0, 95.0)  # EBU Tech 3342 §3: LRA = L95 − L10 of short-term loudness

#: BS.1770-4 Table 3: channel weights G_i; surround channels (Ls, Rs) get 1.41, LFE is left out
SURROUND_GAIN = 1.41

#: true-peak interpolator (BS.1770-4 Annex 2: 4× oversampling)
OVERSAMPLE = 4
TP_TAPS = 32          # taps per phase (FFmpeg swresample filter_size)
TP_KAISER_BETA = 9.0  # FFmpeg swresample default
TP_CUTOFF = 0.97      # of the input Nyquist frequency (FFmpeg swresample default)


@dataclass(frozen=True)
class Biquad:
    """One second-order section, H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)."""

    b0: float
    b1: float
    b2: float
    a1: float
    a2: float


@dataclass(frozen=True)
class KWeighting:
    """BS.1770-4 K-weighting for one sample rate: stage 1 (shelf), then stage 2 (RLB)."""

    sample_rate: float
    shelf: Biquad
    highpass: Biquad


def k_weighting(*, sample_rate: float) -> KWeighting:
    """The two K-weighting biquads for ``sample_rate`` (BS.1770-4 Annex 1, Tables 1 and 2).

    Analogue prototypes (libebur128's derivation of the 48 kHz coefficients): a high shelf of
    +4 dB at f0 = 1681.97 Hz, Q = 0.7072, and a second-order high pass at f0 = 38.135 Hz,
    Q = 0.5003, each mapped to ``sample_rate`` by the bilinear transform with prewarping.
    """
    fs = float(sample_rate)
    # stage 1, pre-filter: BS.1770-4 Table 1 (48 kHz) from its analogue prototype
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = Biquad(b0=(vh + vb * k / q + k * k) / a0, b1=2.0 * (k * k - vh) / a0,
                   b2=(vh - vb * k / q + k * k) / a0, a1=2.0 * (k * k - 1.0) / a0,
                   a2=(1.0 - k / q + k * k) / a0)
    # stage 2, RLB weighting curve: BS.1770-4 Table 2 (numerator 1, −2, 1)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    highpass = Biquad(b0=1.0, b1=-2.0, b2=1.0, a1=2.0 * (k * k - 1.0) / a0,
                      a2=(1.0 - k / q + k * k) / a0)
    return KWeighting(sample_rate=fs, shelf=shelf, highpass=highpass)


def _biquad_response(bq: Biquad, z1: np.ndarray) -> np.ndarray:
    """H(e^{jω}) of a biquad, given z⁻¹ = e^{−jω} on a frequency grid."""
    return (bq.b0 + bq.b1 * z1 + bq.b2 * z1 * z1) / (1.0 + bq.a1 * z1 + bq.a2 * z1 * z1)


def k_weighting_fir(*, sample_rate: float, tail: float = 1e-15) -> np.ndarray:
    """Impulse response of the K-weighting cascade, truncated where the remaining tail holds
    less than ``tail`` of its energy (float64, host). Used as an FIR in overlap-save."""
    kw = k_weighting(sample_rate=sample_rate)
    n = 1 << max(12, math.ceil(math.log2(2.0 * sample_rate)))  # 2 s: the tail has long died
    z1 = np.exp(-2j * np.pi * np.arange(n // 2 + 1) / n)
    h = np.fft.irfft(_biquad_response(kw.shelf, z1) * _biquad_response(kw.highpass, z1), n)
    energy = np.cumsum(h[::-1] ** 2)[::-1]        # energy from index i to the end
    keep = int(np.argmax(energy < tail * energy[0]))
    return h[: max(keep, 8)]


def true_peak_fir(*, taps: int = TP_TAPS, oversample: int = OVERSAMPLE,
                  beta: float = TP_KAISER_BETA, cutoff: float = TP_CUTOFF) -> np.ndarray:
    """Polyphase interpolator for true peak (BS.1770-4 Annex 2), shape (oversample, taps + 1).

    Phase p computes the sample at input time n − taps/2 + p/oversample from x[n − j],
    j = 0…taps; each phase is normalised to unit gain at DC (as swresample does).
    """
    m = np.arange(oversample * taps + 1, dtype=np.float64)
    centre = oversample * taps / 2
    g = cutoff * np.sinc(cutoff * (m - centre) / oversample) * np.kaiser(m.size, beta)
    phases = np.zeros((oversample, taps + 1))
    for p in range(oversample):
        h = g[p::oversample]
        phases[p, : h.size] = h / h.sum()
    return phases


def lowpass_fir(*, sample_rate: float, pass_hz: float, stop_hz: float,
                attenuation_db: float = 100.0) -> np.ndarray:
    """Kaiser-window lowpass (Kaiser's design formulas), flat to ``pass_hz``, down by
    ``attenuation_db`` from ``stop_hz``."""
    if not 0 < pass_hz < stop_hz <= sample_rate / 2:
        raise ValueError(f"lowpass needs 0 < pass {pass_hz} < stop {stop_hz} <= fs/2")
    width = 2.0 * math.pi * (stop_hz - pass_hz) / sample_rate
    taps = math.ceil((attenuation_db - 7.95) / (2.285 * width)) | 1
    beta = 0.1102 * (attenuation_db - 8.7)
    cutoff = (pass_hz + stop_hz) / sample_rate        # (fc / (fs/2)), fc midway
    m = np.arange(taps) - (taps - 1) / 2
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, beta)
    return h / h.sum()


@dataclass(frozen=True)
class Loudness:
    """Programme loudness (BS.1770-4, EBU Tech 3341/3342) and peaks, all Python floats."""

    integrated_lufs: float      #: gated integrated loudness; −inf when nothing passes the gates
    loudness_range_lu: float    #: EBU Tech 3342 LRA (0.0 when too short)
    max_momentary_lufs: float   #: highest 400 ms loudness
    max_short_term_lufs: float  #: highest 3 s loudness
    true_peak_dbfs: float       #: 4× oversampled peak, max over channels
    sample_peak_dbfs: float
    duration_s: float           #: samples analysed / sample rate


def power_db(power: float, offset: float = 0.0) -> float:
    return offset + 10.0 * math.log10(power) if power > 0 else -math.inf


def amplitude_db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def channel_gains(channels: int) -> tuple[float, ...]:
    """BS.1770-4 Table 3 weights for the usual layouts: up to 3 channels (L, R, C) weigh 1;
    six are taken as 5.1 in FFmpeg order (L, R, C, LFE, Ls, Rs): LFE 0, surrounds 1.41."""
    if channels == 6:
        return (1.0, 1.0, 1.0, 0.0, SURROUND_GAIN, SURROUND_GAIN)
    if channels == 5:
        return (1.0, 1.0, 1.0, SURROUND_GAIN, SURROUND_GAIN)
    return (1.0,) * channels


def as_block(block: Any) -> Any:
    """Samples as a float64 (channels, n) array on their own backend (1-D means mono)."""
    xp = array_namespace(block)
    x = xp.asarray(block, dtype=xp.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"audio block must be (channels, n), got shape {tuple(x.shape)}")
    return x


class FilterBank:
    """Streaming overlap-save filtering of the raw input: K-weighted signal and 4× true-peak
    envelope, hop by hop, on the input's backend. Blocks of any size go in; output comes in
    fixed hops, so every result is independent of how the caller cut the stream.

    :meth:`push` / :meth:`flush` return a list of :class:`Hop`: ``start`` (sample index of the
    hop's first sample), ``raw`` and ``kw`` (C, n) aligned with the input, ``tp``: the max
    over channels and phases of |interpolated| (n,), delayed by :attr:`tp_delay` samples, and
    with ``low_hz``, ``low``: the band below it at :attr:`low_rate` (delayed by the lowpass).
    """

    #: FFT size on a GPU backend: long hops, so that kernel launches and host syncs are few
    GPU_NFFT = 1 << 18

    def __init__(self, *, sample_rate: float, low_hz: float | None = None,
                 nfft: int | None = None, max_batch: int = 8) -> None:
        self.sample_rate = float(sample_rate)
        self._kw = k_weighting_fir(sample_rate=sample_rate)
        self._tp = true_peak_fir()
        self.tp_delay = TP_TAPS // 2
        # optional low band for narrow-band analysis (mains hum): lowpass, then keep every
        # decimate-th sample, done by keeping only the low FFT bins (no aliasing)
        self.decimate = 1
        self._low: np.ndarray | None = None
        if low_hz is not None:
            while self.decimate < 64 and self.sample_rate / (4 * self.decimate) >= 1.6 * low_hz:
                self.decimate *= 2
            self._low = lowpass_fir(sample_rate=self.sample_rate, pass_hz=low_hz,
                                    stop_hz=self.sample_rate / (2 * self.decimate))
        self.low_rate = self.sample_rate / self.decimate
        longest = max(self._kw.size, self._tp.shape[1],
                      0 if self._low is None else self._low.size)
        d = self.decimate
        self.history = -(-(longest - 1) // d) * d           # a multiple of the decimation
        self._min_nfft = 1 << math.ceil(math.log2(4 * longest))
        if nfft is not None and (nfft < self._min_nfft or nfft % d):
            raise ValueError(f"nfft {nfft} must be ≥ {self._min_nfft} and a multiple of {d}")
        self._nfft = nfft
        self.nfft = self.hop = 0           # set from the backend of the first block
        self.max_batch = max_batch
        self._spectra: Any = None          # (1 + OVERSAMPLE, nfft/2 + 1) on the backend
        self._low_spectrum: Any = None     # (nfft / decimate / 2 + 1,)
        self._buf: Any = None              # history + pending input, (C, h + pending)
        self._pending: list[Any] = []
        self._n_pending = 0
        self.samples_in = 0                # input samples received
        self._emitted = 0                  # input samples already output

    def _setup(self, x: Any) -> None:
        xp = array_namespace(x)
        on_gpu = backend_name(xp) != "numpy"
        self.nfft = self._nfft or (max(self._min_nfft, self.GPU_NFFT) if on_gpu
                                   else self._min_nfft)
        self.hop = self.nfft - self.history
        filters = np.zeros((1 + OVERSAMPLE, self.nfft))
        filters[0, : self._kw.size] = self._kw
        filters[1:, : self._tp.shape[1]] = self._tp
        self._spectra = xp.asarray(np.fft.rfft(filters, axis=-1))
        if self._low is not None:
            low = np.zeros(self.nfft)
            low[: self._low.size] = self._low
            keep = self.nfft // self.decimate // 2 + 1
            self._low_spectrum = xp.asarray(np.fft.rfft(low)[:keep] / self.decimate)
        self._buf = xp.zeros((x.shape[0], self.history), dtype=xp.float64)

    def push(self, block: Any) -> list[Hop]:
        x = as_block(block)
        if self._spectra is None:
            self._setup(x)
        if x.shape[0] != self._buf.shape[0]:
            raise ValueError(f"channel count changed from {self._buf.shape[0]} to {x.shape[0]}")
        self._pending.append(x)
        self._n_pending += x.shape[1]
        self.samples_in += x.shape[1]
        if self._n_pending < self.hop:
            return []
        return self._run(self._n_pending // self.hop)

    def flush(self) -> list[Hop]:
        """Output what is left (the last partial hop), padding with silence."""
        if self._spectra is None:
            return []
        xp = array_namespace(self._buf)
        valid = self._n_pending
        self._pending.append(xp.zeros((self._buf.shape[0], self.hop - valid), dtype=xp.float64))
        self._n_pending = self.hop
        (hop,) = self._run(1)
        low = None if hop.low is None else hop.low[:, : valid // self.decimate]
        return [Hop(start=hop.start, raw=hop.raw[:, :valid], kw=hop.kw[:, :valid],
                    tp=hop.tp[: valid + self.tp_delay], low=low)]

    def _run(self, n_hops: int) -> list[Hop]:
        xp = array_namespace(self._buf)
        data = xp.concatenate([self._buf, *self._pending], axis=1)
        used = n_hops * self.hop
        rest = data[:, self.history + used:]
        self._pending = [rest] if rest.shape[1] else []
        self._n_pending = rest.shape[1]
        self._buf = data[:, used: used + self.history]
        out: list[Hop] = []
        for first in range(0, n_hops, self.max_batch):
            count = min(self.max_batch, n_hops - first)
            frames = xp.stack([data[:, (first + i) * self.hop: (first + i) * self.hop + self.nfft]
                               for i in range(count)])                       # (B, C, nfft)
            x_spec = xp.fft.rfft(frames, axis=-1)                               # (B, C, f)
            spec = x_spec[:, :, None, :] * self._spectra                        # (B, C, 5, f)
            y = xp.fft.irfft(spec, n=self.nfft, axis=-1)[..., self.history:]  # valid part
            tp = xp.max(xp.abs(y[:, :, 1:, :]), axis=(1, 2))                  # (B, hop)
            low = None
            if self._low_spectrum is not None:
                d = self.decimate
                low_spec = x_spec[..., : self._low_spectrum.shape[0]] * self._low_spectrum
                low = xp.fft.irfft(low_spec, n=self.nfft // d, axis=-1)[..., self.history // d:]
            for i in range(count):
                off = (first + i) * self.hop
                out.append(Hop(start=self._emitted, raw=data[:, self.history + off:
                                                             self.history + off + self.hop],
                               kw=y[i, :, 0, :], tp=tp[i],
                               low=None if low is None else low[i]))
                self._emitted += self.hop
        return out


@dataclass(frozen=True)
class Hop:
    """One hop of filter-bank output (arrays on the input's backend)."""

    start: int
    raw: Any
    kw: Any
    tp: Any
    low: Any = None   #: lowpassed and decimated (C, hop / decimate), when asked for


class Framer:
    """Cuts a stream of (C, n) arrays into whole frames of ``length`` samples every ``hop``;
    keeps only the unfinished remainder between calls."""

    def __init__(self, length: int, hop: int | None = None) -> None:
        self.length = int(length)
        self.hop = int(hop or length)
        self._rest: Any = None
        self.frames_out = 0

    def push(self, x: Any) -> Any:
        """Frames completed by ``x``, shape (C, m, length); m may be 0."""
        xp = array_namespace(x)
        data = x if self._rest is None else xp.concatenate([self._rest, x], axis=1)
        m = 0 if data.shape[1] < self.length else 1 + (data.shape[1] - self.length) // self.hop
        self._rest = data[:, m * self.hop:]
        self.frames_out += m
        if m == 0:
            return xp.zeros((data.shape[0], 0, self.length), dtype=data.dtype)
        if self.hop == self.length:
            return data[:, : m * self.length].reshape(data.shape[0], m, self.length)
        return xp.stack([data[:, i * self.hop: i * self.hop + self.length] for i in range(m)],
                        axis=1)


class LoudnessMeter:
    """Streaming BS.1770-4 loudness and true peak over blocks of (channels, n) samples.

    Keeps the channel-weighted mean square of each 100 ms step (8 bytes per 100 ms); the
    400 ms gating blocks (75 % overlap), momentary and short-term loudness are sums of 4 and
    30 consecutive steps.
    """

    def __init__(self, *, sample_rate: float, channel_weights: Sequence[float] | None = None,
                 bank: FilterBank | None = None) -> None:
        self.sample_rate = float(sample_rate)
        self.bank = bank or FilterBank(sample_rate=sample_rate)
        self._weights = None if channel_weights is None else tuple(channel_weights)
        self._gains: Any = None
        self._steps = Framer(round(STEP_S * self.sample_rate))
        self.step_energy = array("d")   #: Σ_i G_i · mean square over each 100 ms step
        self.sample_peak = 0.0
        self.true_peak = 0.0

    def process(self, block: Any) -> None:
        for hop in self.bank.push(block):
            self.consume(hop)

    def finish(self) -> Loudness:
        for hop in self.bank.flush():
            self.consume(hop)
        return self.result()

    def consume(self, hop: Hop) -> None:
        """Take one hop of filter-bank output (for owners that share the bank)."""
        xp = array_namespace(hop.kw)
        if self._gains is None:
            c = hop.kw.shape[0]
            gains = self._weights if self._weights is not None else channel_gains(c)
            if len(gains) != c:
                raise ValueError(f"{len(gains)} channel weights for {c} channels")
            self._gains = xp.asarray(np.asarray(gains, dtype=np.float64))
        steps = self._steps.push(hop.kw)                       # (C, m, step)
        if steps.shape[1]:
            # BS.1770-4 eq. 1 (z_i: mean square per channel) and the Σ G_i z_i of eq. 2
            z = xp.mean(steps * steps, axis=-1)
            self.step_energy.extend(to_host(self._gains @ z).tolist())
        if hop.raw.shape[1]:
            self.sample_peak = max(self.sample_peak, float(xp.max(xp.abs(hop.raw))))
        if hop.tp.shape[0]:
            self.true_peak = max(self.true_peak, float(xp.max(hop.tp)))

    # ------------------------------------------------------------------ results (host side)

    def momentary(self) -> np.ndarray:
        """Momentary loudness (LUFS, 400 ms) every 100 ms, at the end of each window."""
        return energies_to_lufs(window_energy(self.step_energy, MOMENTARY_STEPS))

    def short_term(self) -> np.ndarray:
        """Short-term loudness (LUFS, 3 s) every 100 ms, at the end of each window."""
        return energies_to_lufs(window_energy(self.step_energy, SHORT_TERM_STEPS))

    def result(self) -> Loudness:
        blocks = window_energy(self.step_energy, MOMENTARY_STEPS)
        short = window_energy(self.step_energy, SHORT_TERM_STEPS)
        true_peak = max(self.true_peak, self.sample_peak)
        return Loudness(
            integrated_lufs=gated_loudness(blocks),
            loudness_range_lu=loudness_range(short),
            max_momentary_lufs=float(energies_to_lufs(blocks).max(initial=-math.inf)),
            max_short_term_lufs=float(energies_to_lufs(short).max(initial=-math.inf)),
            true_peak_dbfs=amplitude_db(true_peak),
            sample_peak_dbfs=amplitude_db(self.sample_peak),
            duration_s=self.bank.samples_in / self.sample_rate,
        )


def window_energy(step_energy: Sequence[float], steps: int) -> np.ndarray:
    """Mean energy of every run of ``steps`` consecutive 100 ms steps (a sliding window)."""
    e = np.asarray(step_energy, dtype=np.float64)
    if e.size < steps:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(e)])
    return np.maximum(c[steps:] - c[:-steps], 0.0) / steps


def energies_to_lufs(energy: np.ndarray) -> np.ndarray:
    """BS.1770-4 eq. 2 for each block (−inf for silence)."""
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET + 10.0 * np.log10(energy)


def gated_loudness(block_energy: np.ndarray) -> float:
    """Integrated loudness over gating blocks, BS.1770-4 eqs. 4–7."""
    lufs = energies_to_lufs(block_energy)
    above_abs = block_energy[lufs > ABSOLUTE_GATE_LUFS]          # absolute gate, eq. 4
    if above_abs.size == 0:
        return -math.inf
    relative = power_db(float(above_abs.mean()), LOUDNESS_OFFSET) + RELATIVE_GATE_LU  # eq. 6
    gated = block_energy[(lufs > ABSOLUTE_GATE_LUFS) & (lufs > relative)]
    return power_db(float(gated.mean()), LOUDNESS_OFFSET)         # eq. 7


def loudness_range(short_term_energy: np.ndarray) -> float:
    """EBU Tech 3342 loudness range from short-term (3 s) energies taken every 100 ms."""
    lufs = energies_to_lufs(short_term_energy)
    above_abs = short_term_energy[lufs > ABSOLUTE_GATE_LUFS]
    if above_abs.size < 2:
        return 0.0
    relative = power_db(float(above_abs.mean()), LOUDNESS_OFFSET) + LRA_RELATIVE_GATE_LU
    gated = lufs[(lufs > ABSOLUTE_GATE_LUFS) & (lufs > relative)]
    if gated.size < 2:
        return 0.0
    lo, hi = np.percentile(gated, LRA_PERCENTILES)
    return float(hi - lo)


def measure_loudness(samples: Any, *, sample_rate: float,
                     channel_weights: Sequence[float] | None = None) -> Loudness:
    """Loudness and peaks of a whole signal (channels, n) in one call."""
    meter = LoudnessMeter(sample_rate=sample_rate, channel_weights=channel_weights)
    meter.process(samples)
    return meter.finish()
