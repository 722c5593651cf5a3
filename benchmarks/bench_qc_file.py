"""End-to-end `courseware qc` on a 1080p H.264 file against decoding the same file.

Encodes (or takes) 1080p25 H.264 + AAC files, then, in rounds on the same machine, measures
(1) decoding alone, the same demux, with FFmpeg's frame+slice threads ("AUTO") and with
    slice threads only ("SLICE"); the faster of the two is the baseline, and
(2) ``qc_file``: decode + every format, video and audio check (no thumbnails), on NumPy,
    and on CuPy when it imports and sees a device;
each after an untimed run. Two generated files by default: one encoded with several slices
per picture (as x264's slice threads and our renders write them) and one with a single slice
(as many cameras write them: only frame threads decode it in parallel). Prints wall time,
CPU time, frames per second, and per file the median over the rounds of
QC's wall time as a ratio of the baseline's in the same round.

    .venv/bin/python benchmarks/bench_qc_file.py --seconds 20 --repeat 3
    .venv/bin/python benchmarks/bench_qc_file.py --file lecture.mp4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from encoder_profiles import load_profile
from qc_metrics.xp import gpu_namespace
from tasks.qc import qc_file


def make_file(path: Path, seconds: float, *, bitrate: int = 8_000_000,
              slices: bool = True) -> None:
    """A camera-like 1080p25 clip: a noisy textured scene panning 2 px per frame, and a
    speech-like tone burst pattern in AAC stereo; ``slices``: several slices per picture
    (x264's slice threads) or one (frame threads)."""
    rng = np.random.default_rng(0)
    n = round(seconds * 25)
    base = rng.integers(40, 200, (1080 // 8, (1920 + 2 * n + 8) // 8 + 1), dtype=np.uint8)
    scene = np.kron(base, np.ones((8, 8), np.uint8))[:1080]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.bit_rate = bitrate
        vs.options = {"preset": "veryfast",
                      "x264-params": f"sliced-threads={int(slices)}:threads=4"}
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "stereo"
        chroma = np.full((540, 960), 128, np.uint8)
        t = np.arange(1920) / 48000
        for i in range(n):
            y = scene[:, 2 * i: 2 * i + 1920] + rng.integers(0, 3, (1080, 1920), dtype=np.uint8)
            frame = av.VideoFrame(1920, 1080, "yuv420p")
            for plane, data in zip(frame.planes, (y, chroma, chroma), strict=True):
                view = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                view[:, : data.shape[1]] = data
            frame.pts = i
            out.mux(vs.encode(frame))
            level = 0.3 if (i // 12) % 3 else 0.02
            tone = (level * np.sin(2 * np.pi * 220 * (t + i * 1920 / 48000))).astype(np.float32)
            audio = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp",
                                               layout="stereo")
            audio.sample_rate, audio.pts = 48000, i * 1920
            out.mux(aus.encode(audio))
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))


def decode_only(path: Path, thread_type: str) -> int:
    """One demux of both streams, as ``courseware qc`` does, decoding only."""
    frames = 0
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        container.streams.video[0].thread_type = thread_type
        for packet in container.demux(streams):
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return frames


def timed(label: str, fn: Callable[[], int]) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    frames = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:34s} {frames:5d} frames  {wall:6.2f} s wall  {cpu:6.2f} s CPU  "
          f"{frames / wall:7.1f} fps")
    return wall


def measure(path: Path, rounds: int, gpu: bool) -> None:
    profile = load_profile()
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {os.cpu_count()} CPUs")
    runs: dict[str, Callable[[], int]] = {
        "QC (NumPy)": lambda: qc_file(path, profile=profile, gpu=False,
                                      thumbnails=False).frames,
    }
    if gpu:
        runs["QC (CuPy)"] = lambda: qc_file(path, profile=profile, gpu=True,
                                            thumbnails=False).frames
    decode_only(path, "AUTO")  # the page cache
    for run in runs.values():  # lazy imports (scipy.fft), FFT plans, CUDA kernels: once
        run()
    ratios: dict[str, list[float]] = {label: [] for label in runs}
    for k in range(rounds):
        print(f" round {k + 1}")
        baseline = min(timed("decode only, frame+slice threads", lambda: decode_only(path, "AUTO")),
                       timed("decode only, slice threads", lambda: decode_only(path, "SLICE")))
        for label, run in runs.items():
            ratios[label].append(timed(label, run) / baseline)
    for label, values in ratios.items():
        print(f" {label}: QC / faster decode, wall time: median "
              f"{statistics.median(values):.2f} ({', '.join(f'{r:.2f}' for r in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the machine's speed "
                        "drifts between runs: compare within a round, take the median)")
    parser.add_argument("--file", type=Path, help="measure this file instead of generated ones")
    args = parser.parse_args()
    gpu = gpu_namespace() is not None
    if not gpu:
        print("CuPy not available (no CuPy or no CUDA device): GPU path not measured")
    if args.file is not None:
        measure(args.file, args.repeat, gpu)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, slices in (("camera-1080p-sliced.mp4", True),
                             ("camera-1080p-one-slice.mp4", False)):
            path = Path(tmp) / name
            make_file(path, args.seconds, slices=slices)
            measure(path, args.repeat, gpu)


if __name__ == "__main__":
    main()
