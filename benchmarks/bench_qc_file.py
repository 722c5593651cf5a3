"""End-to-end `courseware qc` on a 1080p H.264 file against decoding the same file.

Encodes (or takes) a 1080p25 H.264 + AAC file, then in the same run measures
(1) decoding alone: the same demux and threaded decoder settings as ``courseware qc``,
    frames only pulled, and
(2) ``qc_file``: decode + every format, video and audio check (no thumbnails),
on NumPy, and on CuPy when it imports and sees a device; each after an untimed run.
Prints wall time, CPU time and frames per second of each, and QC's wall time as a ratio of
decoding's.

    .venv/bin/python benchmarks/bench_qc_file.py --seconds 20
    .venv/bin/python benchmarks/bench_qc_file.py --file lecture.mp4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from encoder_profiles import load_profile
from qc_metrics.xp import gpu_namespace
from tasks.qc import qc_file


def make_file(path: Path, seconds: float, *, bitrate: int = 8_000_000) -> None:
    """A camera-like 1080p25 clip: a noisy textured scene panning 2 px per frame, and a
    speech-like tone burst pattern in AAC stereo."""
    rng = np.random.default_rng(0)
    n = round(seconds * 25)
    base = rng.integers(40, 200, (1080 // 8, (1920 + 2 * n + 8) // 8 + 1), dtype=np.uint8)
    scene = np.kron(base, np.ones((8, 8), np.uint8))[:1080]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.bit_rate = bitrate
        vs.options = {"preset": "veryfast"}
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


def decode_only(path: Path) -> int:
    """As ``courseware qc`` decodes: one demux of both streams, threaded video decoding."""
    frames = 0
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        container.streams.video[0].thread_type = "AUTO"
        for packet in container.demux(streams):
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return frames


def timed(label: str, fn: object) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    frames = fn()  # type: ignore[operator]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:28s} {frames:5d} frames  {wall:6.2f} s wall  {cpu:6.2f} s CPU  "
          f"{frames / wall:7.1f} fps")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--file", type=Path, help="measure this file instead of a generated one")
    args = parser.parse_args()
    profile = load_profile()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "camera-1080p.mp4"
            make_file(path, args.seconds)
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {os.cpu_count()} CPUs")
        decode_only(path)  # warm the page cache
        # one untimed QC run: lazy imports (scipy.fft) and FFT plans are paid once per
        # worker process, not per file
        qc_file(path, profile=profile, gpu=False, thumbnails=False)
        decoding = timed("decode only", lambda: decode_only(path))
        numpy_qc = timed("courseware qc (NumPy)", lambda: qc_file(
            path, profile=profile, gpu=False, thumbnails=False).frames)
        print(f"QC / decode wall time: {numpy_qc / decoding:.2f} (NumPy)")
        if gpu_namespace() is None:
            print("CuPy not available (no CuPy or no CUDA device): GPU path not measured")
            return
        qc_file(path, profile=profile, gpu=True, thumbnails=False)  # compile kernels
        cupy_qc = timed("courseware qc (CuPy)", lambda: qc_file(
            path, profile=profile, gpu=True, thumbnails=False).frames)
        print(f"QC / decode wall time: {cupy_qc / decoding:.2f} (CuPy)")


if __name__ == "__main__":
    main()
