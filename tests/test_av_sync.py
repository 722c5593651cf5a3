"""S3 sound/picture sync: flashes with clicks, in step and with the sound 200 ms late."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from encoder_profiles import load_profile
from qc_metrics.avsync import AvSync
from tasks.qc import qc_file

PROFILE = load_profile()
RATE, FPS, SECONDS = 48000, 25, 8.0
EVENTS = (0.8, 1.96, 3.12, 4.4, 5.28, 6.6)  # irregular: no periodic ambiguity


def _signals(sound_late_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Luma frames (N, 36, 64) that cut between dark and bright at each event (one picture
    change per event, as a clap or a cut); stereo clicks at the events (+ the planted lag)."""
    n = round(SECONDS * FPS)
    luma = np.full((n, 36, 64), 40, np.float32)
    audio = np.zeros((2, round(SECONDS * RATE)), np.float32)
    rng = np.random.default_rng(1)
    audio += 0.001 * rng.standard_normal(audio.shape).astype(np.float32)  # room tone
    for i, t in enumerate(EVENTS):
        k = round(t * FPS)
        luma[k:] = 230 if i % 2 == 0 else 40  # a cut: the picture changes once and stays
        a = round((t + sound_late_s) * RATE)
        audio[:, a:a + 960] += 0.5 * rng.standard_normal(960).astype(np.float32)  # 20 ms click
    return luma, audio


def _measure(sound_late_s: float) -> float | None:
    luma, audio = _signals(sound_late_s)
    sync = AvSync(sample_rate=RATE, av_sync_ms=PROFILE.audio.av_sync_ms)
    for k in range(0, luma.shape[0], 16):
        sync.add_video(luma[k:k + 16], [i / FPS for i in range(k, min(k + 16, luma.shape[0]))])
    for k in range(0, audio.shape[1], 4800):
        sync.add_audio(audio[:, k:k + 4800], k / RATE)
    check = sync.finish()
    assert check.id == "audio.av_sync" and check.clause == "S3"
    return check.measured if isinstance(check.measured, float) else None


@pytest.mark.parametrize(("late_s", "status"), [(0.0, "pass"), (0.2, "fail"), (-0.03, "pass"),
                                                (0.1, "fail"), (-0.1, "fail")])
def test_planted_offsets_are_measured(late_s: float, status: str) -> None:
    measured = _measure(late_s)
    assert measured == pytest.approx(-1000 * late_s, abs=20)  # R37 sign: + is sound early
    lo, hi = PROFILE.audio.av_sync_ms
    assert (lo <= measured <= hi) == (status == "pass")


@pytest.mark.parametrize("seed", range(5))
def test_unrelated_events_are_a_skip_not_a_guess(seed: int) -> None:
    """The same cuts, clicks at other times: a chance coincidence is not a measurement."""
    luma, _ = _signals(0.0)
    rng = np.random.default_rng(seed)
    audio = (0.001 * rng.standard_normal((2, round(SECONDS * RATE)))).astype(np.float32)
    for t in rng.uniform(0.2, SECONDS - 0.2, len(EVENTS)):
        a = round(t * RATE)
        audio[:, a:a + 960] += 0.5 * rng.standard_normal(960).astype(np.float32)
    sync = AvSync(sample_rate=RATE, av_sync_ms=PROFILE.audio.av_sync_ms)
    sync.add_video(luma, [i / FPS for i in range(luma.shape[0])])
    sync.add_audio(audio, 0.0)
    check = sync.finish()
    assert check.status == "skip" and check.measured is None, check


def _clip(path: Path, sound_late_s: float) -> None:
    luma, audio = _signals(sound_late_s)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "qp": "10"}
        a = out.add_stream("aac", rate=RATE, layout="stereo")
        for i, plane in enumerate(luma):
            value = int(plane[0, 0])
            frame = av.VideoFrame.from_ndarray(np.full((180, 320, 3), value, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for p in v.encode(frame):
                out.mux(p)
        for k in range(0, audio.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, k:k + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, k, Fraction(1, RATE)
            for p in a.encode(frame):
                out.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                out.mux(p)


def test_qc_file_reports_a_late_sound_track(tmp_path: Path) -> None:
    """Through the file: encode, decode once, both streams into the one meter."""
    _clip(tmp_path / "late.mp4", 0.2)
    check = next(c for c in qc_file(tmp_path / "late.mp4", profile=PROFILE,
                                    thumbnails=False).report.checks if c.id == "audio.av_sync")
    assert check.status == "fail" and check.measured == pytest.approx(-200, abs=30), check
