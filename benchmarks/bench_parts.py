"""A recording in parts vs the same recording in one file: what reading it through the concat
list costs.

Generates a 1080p25 H.264 + AAC camera file with FFmpeg, cuts it into parts at keyframes
without re-encoding (as a camera splits one recording), and reads both as the render does:
every picture at 25 fps (``cfr_frames``) and every sample at 48 kHz (``AudioFeed``). Prints
the wall time of each, their ratio, and the pictures each gave.
Run on an idle machine; record the figure with the machine in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_parts.py [--seconds 60 --parts 3 --repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from courseware.media import AudioFeed, cfr_frames  # noqa: E402
from tasks.probe import join_parts, probe_source  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
RATE, FPS = 48000, 25


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _read(path: Path, seconds: float) -> tuple[float, int]:
    """Wall time and the pictures read (every picture at 25 fps, every sample at 48 kHz)."""
    started = time.perf_counter()
    frames = sum(1 for f in cfr_frames(path, fps=FPS) if f is not None)
    feed, n = AudioFeed(path, rate=RATE), 0
    while n < seconds * RATE:
        n += feed.read(RATE).shape[1]
    return time.perf_counter() - started, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--parts", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as tmp:
        folder = Path(tmp)
        whole = folder / "whole.mp4"
        _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}",
                "-t", str(args.seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "50",
                "-b:v", "8M", "-c:a", "aac", "-ac", "2", "-b:a", "192k", str(whole))
        _ffmpeg("-i", str(whole), "-c", "copy", "-f", "segment", "-segment_time",
                str(args.seconds / args.parts), "-reset_timestamps", "1",
                str(folder / "MVI_%04d.MP4"))
        parts = sorted(folder.glob("MVI_*.MP4"))
        joined = join_parts("teacher", parts, lecture="bench").path
        length = probe_source("teacher", whole, lecture="bench", needs_video=True).duration_s
        print(f"{len(parts)} parts of a {length:.1f}-s 1080p25 file", file=sys.stderr)
        one, many = [], []
        for _ in range(args.repeat):
            t1, f1 = _read(whole, args.seconds)
            t2, f2 = _read(joined, args.seconds)
            one.append(t1)
            many.append(t2)
            print(f"one file {t1:.2f} s ({f1} pictures), parts {t2:.2f} s ({f2} pictures)",
                  file=sys.stderr)
        a, b = statistics.median(one), statistics.median(many)
        print(f"parts / one file (median of {args.repeat}): {b / a:.3f}  "
              f"({b:.2f} s / {a:.2f} s)")


if __name__ == "__main__":
    main()
