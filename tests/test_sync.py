"""GCC-PHAT offsets: planted lags recovered within a fraction of a video frame."""

from __future__ import annotations

import numpy as np
import pytest

from qc_metrics.sync import estimate_offset

RATE = 8000


def _speechish(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 4 * t) > 0) * (rng.random(t.size // 2000 + 1) > 0.3
                                                  ).repeat(2000)[: t.size]
    return (voiced * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("lag_s", [0.7, 3.2, -1.35, 0.0])
def test_planted_lag_is_recovered(lag_s: float) -> None:
    src = _speechish(30.0, seed=1)
    shift = round(lag_s * RATE)
    a = src[max(0, shift): max(0, shift) + 20 * RATE]  # reference starts `lag` later
    b = src[max(0, -shift): max(0, -shift) + 20 * RATE]
    # a different microphone: other gain, a low-pass, its own noise
    rng = np.random.default_rng(2)
    b = np.convolve(0.4 * b, np.ones(5) / 5, mode="same") + 0.005 * rng.standard_normal(b.size)
    est = estimate_offset(a, b, rate=RATE, max_lag_s=10)
    # a(t) = src(t + shift) and b(t) = src(t): the same sound is at t_a = t_b − lag
    assert est.lag_s == pytest.approx(-lag_s, abs=0.04 / 10)
    assert est.confidence > 20


def test_unrelated_audio_has_low_confidence() -> None:
    a, b = _speechish(10, seed=3), _speechish(10, seed=4)
    rng = np.random.default_rng(5)
    est = estimate_offset(rng.standard_normal(a.size), b, rate=RATE, max_lag_s=5)
    assert est.confidence < 8
