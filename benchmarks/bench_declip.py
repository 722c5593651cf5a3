"""Restoring clipped runs (S1): ours (courseware.audio_chain.Declipper) against FFmpeg's
``adeclip`` on the same overdriven voice, in the same run: seconds of CPU per second of sound
and how close each comes to the unclipped truth.

    .venv/bin/python benchmarks/bench_declip.py [--seconds 60] [--drive 0.5 1 2 3]

The render pays this only for a lecture whose microphone clipped; ours runs where runs are
(each 1 ms or shorter: interpolated from 10.7 ms around it), ``adeclip`` over every window.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import audio_signals as sig

from courseware.audio_chain import DECLIP_MAX_S, Declipper
from qc_metrics.audio import CLIP_LEVEL

RATE = 48000


def snr_db(x: np.ndarray, truth: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(truth ** 2) / np.sum((x - truth) ** 2)))


def ours(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``x`` on both channels (one microphone, as the render plays it) in 40 ms blocks."""
    d = Declipper(sig.reader(np.stack([x, x])), level=CLIP_LEVEL,
                  max_samples=round(DECLIP_MAX_S * RATE))
    out = np.concatenate([d.read(1920) for _ in range(-(-x.size // 1920))], axis=1)
    return out[0, : x.size], len(d.restored), len(d.left)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--drive", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    args = ap.parse_args()
    voice = sig.speech_like(level_dbfs=-14.0, seconds=args.seconds, sample_rate=RATE,
                            seed=3).samples[0]
    print(f"{args.seconds:g} s of generated voice at 48 kHz, peaks driven over full scale")
    print("SNR: dB from the unclipped voice; runs: restored/left; s: CPU seconds")
    print(f"{'drive':>6} {'clipped':>8} {'SNR':>6} | {'ours s':>7} {'SNR':>6} {'runs':>11} | "
          f"{'adeclip s':>9} {'SNR':>6} | {'time ours/adeclip':>17}")
    for drive in args.drive:
        truth = voice * sig.amp(drive) / np.abs(voice).max()
        clipped = np.clip(truth, -1.0, 1.0)
        t0 = time.process_time()
        mine, restored, left = ours(clipped)
        t1 = time.process_time()
        theirs = sig.adeclip(clipped, RATE)
        t2 = time.process_time()
        share = float(np.mean(np.abs(clipped) >= CLIP_LEVEL))
        print(f"{drive:>5.1f}dB {share:>7.2%} {snr_db(clipped, truth):>6.1f} | "
              f"{t1 - t0:>7.2f} {snr_db(mine, truth):>6.1f} "
              f"{restored:>5}/{left:<5} | {t2 - t1:>9.2f} {snr_db(theirs, truth):>6.1f} | "
              f"{(t1 - t0) / (t2 - t1):>17.2f}")


if __name__ == "__main__":
    main()
