"""Throughput of the full video QC set (VideoQC: V1–V4) on decoded 1080p frames.

Generates N frames of 8-bit planar YUV 4:2:0 in memory (a slowly panning, noisy, textured
picture; decoding is not timed), runs every video detector over them in batches and prints
frames per second: NumPy on the CPU, and CuPy on the GPU when it imports and sees a device.

    .venv/bin/python benchmarks/bench_video_qc.py --frames 200 --batch 16
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from encoder_profiles import load_profile
from qc_metrics.frames import YUVFrame
from qc_metrics.video import VideoQC
from qc_metrics.xp import gpu_namespace


def make_frames(n: int, *, height: int = 1080, width: int = 1920, seed: int = 0) -> YUVFrame:
    """A batch of ``n`` frames: a textured scene panning 2 px per frame, luma noise σ ≈ 1."""
    rng = np.random.default_rng(seed)
    pad = 2 * n + 8
    base = rng.integers(40, 200, (height // 8, (width + pad) // 8 + 1), dtype=np.uint8)
    scene = np.kron(base, np.ones((8, 8), np.uint8))[:height]
    y = np.empty((n, height, width), np.uint8)
    for i in range(n):
        noise = rng.integers(-1, 2, (height, width), dtype=np.int16)
        y[i] = np.clip(scene[:, 2 * i: 2 * i + width] + noise, 0, 255)
    u = np.full((n, height // 2, width // 2), 120, np.uint8)
    v = np.full((n, height // 2, width // 2), 134, np.uint8)
    return YUVFrame(y, u, v)


def run(frames: YUVFrame, *, fps: float, batch: int) -> float:
    """Seconds to run VideoQC over the frames in batches of ``batch``."""
    qc = VideoQC(fps=fps, profile=load_profile(), batch=batch)
    n = frames.y.shape[0]
    start = time.perf_counter()
    for k in range(0, n, batch):
        qc.process_batch(YUVFrame(*(p[k:k + batch] for p in frames)),
                         [i / fps for i in range(k, min(n, k + batch))])
    qc.finish()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--fps", type=float, default=25.0)
    args = parser.parse_args()
    frames = make_frames(args.frames)
    run(YUVFrame(*(p[: args.batch] for p in frames)), fps=args.fps, batch=args.batch)  # warm-up
    seconds = run(frames, fps=args.fps, batch=args.batch)
    print(f"numpy  {args.frames} frames 1920x1080, batch {args.batch}, {os.cpu_count()} CPUs: "
          f"{args.frames / seconds:.1f} fps ({1000 * seconds / args.frames:.2f} ms/frame)")
    cupy = gpu_namespace()
    if cupy is None:
        print("cupy   not available (no CuPy or no CUDA device): GPU path not measured")
        return
    gpu = YUVFrame(*(cupy.asarray(p) for p in frames))
    run(YUVFrame(*(p[: args.batch] for p in gpu)), fps=args.fps, batch=args.batch)  # warm-up
    cupy.cuda.Device().synchronize()
    seconds = run(gpu, fps=args.fps, batch=args.batch)
    print(f"cupy   {args.frames} frames 1920x1080, batch {args.batch}, frames already on the "
          f"GPU: {args.frames / seconds:.1f} fps ({1000 * seconds / args.frames:.2f} ms/frame)")
    # as in `courseware qc`: decoded frames arrive in host memory, one copy per batch
    qc = VideoQC(fps=args.fps, profile=load_profile(), batch=args.batch)
    n = frames.y.shape[0]
    start = time.perf_counter()
    for k in range(0, n, args.batch):
        qc.process_batch(YUVFrame(*(cupy.asarray(p[k:k + args.batch]) for p in frames)),
                         [i / args.fps for i in range(k, min(n, k + args.batch))])
    qc.finish()
    cupy.cuda.Device().synchronize()
    seconds = time.perf_counter() - start
    print(f"cupy   {args.frames} frames 1920x1080, batch {args.batch}, host→device copy "
          f"included: {args.frames / seconds:.1f} fps ({1000 * seconds / args.frames:.2f} "
          "ms/frame)")


if __name__ == "__main__":
    main()
