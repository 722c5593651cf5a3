"""Offset between two recordings of the same sound: GCC-PHAT cross-correlation.

Knapp & Carter 1976, "The generalized correlation method for estimation of time delay":
whitening the cross-spectrum (phase transform) gives a sharp peak even when the two
microphones colour the sound differently (camera mic vs. capture box line-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qc_metrics.xp import array_namespace


@dataclass(frozen=True)
class OffsetEstimate:
    #: seconds to add to a time in ``b`` to get the time of the same sound in ``a``
    lag_s: float
    #: peak height over the median absolute correlation (≥ ~10: a clear match)
    confidence: float


def estimate_offset(a: Any, b: Any, *, rate: float, max_lag_s: float) -> OffsetEstimate:
    """Lag of mono signal ``b`` relative to ``a`` (same rate), within ±``max_lag_s``.

    ``a(t) ≈ b(t - lag)``: an event at time ``t_b`` in b is at ``t_b + lag`` in a.
    """
    xp = array_namespace(a, b)
    a = xp.asarray(a, dtype=xp.float64)
    b = xp.asarray(b, dtype=xp.float64)
    a = a - a.mean()
    b = b - b.mean()
    n = 1 << int(a.shape[0] + b.shape[0] - 1).bit_length()
    cross = xp.fft.rfft(a, n) * xp.conj(xp.fft.rfft(b, n))
    cross /= xp.maximum(xp.abs(cross), 1e-12)  # PHAT weighting
    corr = xp.fft.irfft(cross, n)
    # the inverse FFT's circular layout (n ≥ len(a) + len(b) − 1): lags 0…len(a) − 1 from the
    # start, −1…−(len(b) − 1) from the end; each side as far as asked
    ahead = min(int(max_lag_s * rate), a.shape[0] - 1)
    behind = min(int(max_lag_s * rate), b.shape[0] - 1)
    window = xp.concatenate([corr[n - behind:], corr[: ahead + 1]])
    k = int(xp.argmax(window))
    peak = float(window[k])
    floor = float(xp.median(xp.abs(window))) or 1e-12
    lag: float = k - behind
    # parabolic interpolation around the peak for sub-sample precision
    if 0 < k < window.shape[0] - 1:
        y0, y1, y2 = float(window[k - 1]), peak, float(window[k + 1])
        denom = y0 - 2 * y1 + y2
        if denom:
            lag += 0.5 * (y0 - y2) / denom
    return OffsetEstimate(lag_s=lag / rate, confidence=peak / floor)
