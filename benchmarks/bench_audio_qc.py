"""Audio QC (AudioQC: S1–S4) against FFmpeg's audio meters on the same sound, same run.

Generates M minutes of 48 kHz stereo in memory (speech-like sound over a room, a music bed
under it; not timed) and runs AudioQC over it in one-second blocks. The baseline is one
FFmpeg command over the same samples as a WAV file: ``ebur128=peak=true`` (loudness and true
peak, S1/S4), ``astats`` (peaks, DC) and ``silencedetect`` (the dropouts' rule), which
covers less than AudioQC does. Each meter's share is timed inside the same run.

    .venv/bin/python benchmarks/bench_audio_qc.py --minutes 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import audio_signals as sig
import imageio_ffmpeg

from encoder_profiles import load_profile
from qc_metrics.audio import AudioQC

RATE = 48000
#: the meters AudioQC runs on each hop, by attribute
METERS = ("loudness", "clipping", "speech", "hum", "dropouts", "music")


def make_sound(minutes: float) -> np.ndarray:
    seconds = 60.0 * minutes
    speech = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE, seed=1)
    x = speech.samples[0] + sig.pink_noise(rms_dbfs=-60.0, seconds=seconds,
                                           sample_rate=RATE, seed=2)[0]
    x += sig.music_like(rms_dbfs=-42.0, seconds=seconds, sample_rate=RATE, seed=4)[0]
    return np.stack([x, 0.9 * x]).astype(np.float32)


def run(x: np.ndarray) -> tuple[float, dict[str, float]]:
    """Seconds for AudioQC over ``x`` (one-second blocks), and the seconds each meter took
    of it (its share of the hops, and ``finish``: the verdicts at the end)."""
    qc = AudioQC(sample_rate=RATE, profile=load_profile())
    spent = dict.fromkeys([*METERS, "finish"], 0.0)

    def timed(name: str, consume):
        def wrapper(hop) -> None:
            t = time.perf_counter()
            consume(hop)
            spent[name] += time.perf_counter() - t
        return wrapper

    for name in METERS:
        meter = getattr(qc, name)
        meter.consume = timed(name, meter.consume)
    start = time.perf_counter()
    for i in range(0, x.shape[1], RATE):
        qc.process(x[:, i: i + RATE], i / RATE)
    t = time.perf_counter()
    qc.finish()
    spent["finish"] = time.perf_counter() - t
    return time.perf_counter() - start, spent


def ffmpeg(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i",
                    str(path), "-af", "ebur128=peak=true,astats,silencedetect=n=-80dB:d=0.01",
                    "-f", "null", "-"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    x = make_sound(args.minutes)
    hour = 60.0 / args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "sound.wav"
        sig.write_wav(wav, x.astype(np.float64), RATE)
        base = ffmpeg(wav)
    run(x[:, : 10 * RATE])                                      # imports, FFT plans
    whole, spent = run(x)
    print(f"{args.minutes:g} min of 48 kHz stereo")
    print(f"FFmpeg ebur128+astats+silencedetect: {base:.2f} s ({base * hour:.0f} s per hour)")
    print(f"AudioQC, every check:                {whole:.2f} s ({whole * hour:.0f} s per hour), "
          f"{whole / base:.2f}× FFmpeg")
    for name, cost in spent.items():
        print(f"  {name:9s} {cost:6.2f} s ({cost * hour:5.1f} s per hour, "
              f"{100 * cost / whole:4.1f} %)")
    rest = whole - sum(spent.values())
    print(f"  {'the rest':9s} {rest:6.2f} s (filter bank, true peak, channel sums)")

if __name__ == "__main__":
    main()
