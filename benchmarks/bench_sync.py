"""The sync (tasks.sync) on two recordings of one room, against FFmpeg decoding what it
reads, same run: sources started seconds apart (found in their first two minutes) and
minutes apart (each one's start looked for in the other's first half hour).

Generates the room's speech in one-minute pieces (not timed) and writes each microphone's
recording as AAC (48 kHz mono, as a camera's): the earlier one ``--minutes`` long, the later
one switched on ``--late`` seconds after it, 6 dB quieter over its own noise. The baseline
decodes the same stretches with FFmpeg to 8 kHz mono (``-f null``); the ratio is the sync's
wall time over it.

    .venv/bin/python benchmarks/bench_sync.py --minutes 36 --late 420
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

from tasks.probe import LectureInputs, SourceInfo
from tasks.sync import LATE_SEARCH_S, sync_sources

RATE = 48000
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def write_pair(folder: Path, *, minutes: float, late_s: float) -> tuple[Path, Path]:
    """early.m4a (the whole) and late.m4a (from ``late_s`` on), a minute of speech at a
    time piped to FFmpeg: memory stays flat in the length."""
    def encoder(path: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f",
                                 "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-", "-c:a",
                                 "aac", "-b:a", "128k", str(path)], stdin=subprocess.PIPE)

    early, late = encoder(folder / "early.m4a"), encoder(folder / "late.m4a")
    assert early.stdin is not None and late.stdin is not None
    rng = np.random.default_rng(3)
    skip = round(late_s * RATE)
    for k in range(int(np.ceil(minutes))):
        talk = sig.speech_like(level_dbfs=-22.0, seconds=60.0, sample_rate=RATE,
                               seed=100 + k).samples[0]
        room = talk + rng.normal(0.0, 10 ** (-55 / 20), talk.size)
        early.stdin.write(room.astype(np.float32).tobytes())
        far = 0.5 * room + rng.normal(0.0, 10 ** (-60 / 20), talk.size)
        cut = min(max(skip - k * talk.size, 0), talk.size)
        late.stdin.write(far[cut:].astype(np.float32).tobytes())
    for proc in (early, late):
        assert proc.stdin is not None
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit("FFmpeg could not write the test recordings")
    return folder / "early.m4a", folder / "late.m4a"


def ffmpeg_decode(path: Path, seconds: float) -> float:
    started = time.perf_counter()
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-t", f"{seconds:g}", "-i",
                    str(path), "-ac", "1", "-ar", "8000", "-f", "null", "-"], check=True)
    return time.perf_counter() - started


def timed_sync(early: Path, late: Path, *, minutes: float, late_s: float
               ) -> tuple[float, float]:
    """Seconds for sync_sources, and the slides capture's offset it found."""
    sources = {"teacher": SourceInfo(role="teacher", path=late, duration_s=60 * minutes - late_s,
                                     has_audio=True),
               "slides": SourceInfo(role="slides", path=early, duration_s=60 * minutes,
                                    has_audio=True)}
    inputs = LectureInputs(number=1, label="bench", sources=sources)
    started = time.perf_counter()
    synced = sync_sources(inputs)
    return time.perf_counter() - started, synced.sources["slides"].offset_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=36.0)
    ap.add_argument("--late", type=float, default=420.0, help="seconds apart (far case)")
    ap.add_argument("--near", type=float, default=1.3, help="seconds apart (near case)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case, late_s in (("near", args.near), ("far", args.late)):
            early, late = write_pair(folder, minutes=args.minutes, late_s=late_s)
            if case == "near":   # the first two minutes of each
                base = ffmpeg_decode(early, 120.0) + ffmpeg_decode(late, 120.0)
            else:                # … and half an hour of each, where they do not match
                base = (ffmpeg_decode(early, 120.0) + ffmpeg_decode(late, 120.0)
                        + ffmpeg_decode(early, LATE_SEARCH_S)
                        + ffmpeg_decode(late, LATE_SEARCH_S))
            spent, offset = timed_sync(early, late, minutes=args.minutes, late_s=late_s)
            print(f"{case}: started {late_s:g} s apart, found {offset:.3f} s "
                  f"(error {1000 * (offset - late_s):+.1f} ms); sync {spent:.2f} s, FFmpeg "
                  f"decoding the same stretches {base:.2f} s: {spent / base:.2f}×")


if __name__ == "__main__":
    main()
