"""Video frames as the video detectors take them, and what those detectors share.

Input convention (every function and detector in ``qc_metrics`` video modules):

* 8-bit **planar YUV 4:2:0**, BT.709, **limited range** (luma 16–235, chroma 16–240 nominal),
  as three arrays: ``y`` of shape (H, W), ``u`` (Cb) and ``v`` (Cr) of shape (H/2, W/2),
  dtype ``uint8``. This is what decoders produce (PyAV ``frame.to_ndarray(format="yuv420p")``
  is the three planes stacked; :func:`split_yuv420p` splits it) and what the levels clause
  (V4) is defined on, so no RGB round trip can hide or invent out-of-range values.
* A **batch** is the same three planes with a leading frame axis: (N, H, W), (N, H/2, W/2).
  Batches let the GPU work on many frames per kernel launch.
* Arrays are NumPy or CuPy; each function picks its namespace from its input
  (:func:`qc_metrics.xp.array_namespace`) and returns Python floats.
* ``t`` is the presentation time of the frame in seconds, as the decoder reports it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from qc_metrics.detector import Detector
from qc_metrics.xp import array_namespace


class YUVFrame(NamedTuple):
    """One frame (2-D planes) or a batch (3-D planes) of planar 8-bit YUV 4:2:0."""

    y: Any
    u: Any
    v: Any


def split_yuv420p(buf: Any) -> YUVFrame:
    """Split a decoder's stacked ``yuv420p`` array of shape (H*3/2, W) into its planes."""
    rows, width = buf.shape[-2:]
    height = rows * 2 // 3
    ch, cw = height // 2, width // 2
    chroma = buf[..., height:, :].reshape((*buf.shape[:-2], 2, ch, cw))
    return YUVFrame(buf[..., :height, :], chroma[..., 0, :, :], chroma[..., 1, :, :])


def as_batch(frame: YUVFrame | Sequence[Any]) -> YUVFrame:
    """The frame as a batch: planes get a leading frame axis unless they have one already."""
    y, u, v = frame
    if y.ndim == 2:
        y, u, v = y[None], u[None], v[None]
    if y.ndim != 3 or u.shape != v.shape or u.shape[:1] != y.shape[:1]:
        raise ValueError(f"expected planar YUV 4:2:0 planes, got shapes {y.shape}, {u.shape}, "
                         f"{v.shape}")
    h, w = y.shape[-2:]
    if u.shape[-2:] != ((h + 1) // 2, (w + 1) // 2):
        raise ValueError(f"chroma planes {u.shape[-2:]} do not match 4:2:0 for luma {(h, w)}")
    return YUVFrame(y, u, v)


def sample_planes(frames: YUVFrame, step: int) -> YUVFrame:
    """Co-sited point samples (no averaging) of a batch: luma every ``2*step`` pixels, chroma
    every ``step``, so each luma sample has the chroma sample of its 2×2 block.

    Point sampling keeps per-pixel statistics (shares of pixels, mean absolute differences)
    unbiased, unlike averaging, which lowers noise and hides isolated out-of-range pixels.
    """
    y, u, v = frames
    ys = y[:, ::2 * step, ::2 * step]
    us = u[:, ::step, ::step][:, :ys.shape[1], :ys.shape[2]]
    vs = v[:, ::step, ::step][:, :ys.shape[1], :ys.shape[2]]
    return YUVFrame(ys, us, vs)


def box_downscale(y: Any, factor: int) -> Any:
    """Mean of ``factor``×``factor`` blocks of a batch of 8-bit planes (N, H, W), as float32.

    Adds whole rows first (an integer sum over a reshaped axis whose rows stay contiguous),
    then columns of the already small result: halving adjacent pairs when ``factor`` is a
    power of two, else ``factor`` strided slices. The full-resolution plane is never
    converted to float; the sums are exact, so every order gives the same result."""
    xp = array_namespace(y)
    if factor <= 1:
        return y.astype(xp.float32)
    n, h, w = y.shape
    h, w = h - h % factor, w - w % factor
    acc = xp.uint16 if factor * factor * 255 < 2**16 else xp.uint32
    rows = y[:, :h, :w].reshape(n, h // factor, factor, w).sum(axis=2, dtype=acc)
    if factor & (factor - 1) == 0:
        sums = rows
        while sums.shape[-1] > w // factor:
            sums = sums[..., 0::2] + sums[..., 1::2]
    else:
        sums = rows[..., 0::factor].copy()
        for k in range(1, factor):
            sums += rows[..., k::factor]
    return sums.astype(xp.float32) * (1.0 / (factor * factor))


def timecode(t: float) -> str:
    """``HH:MM:SS.mmm`` for a time in seconds."""
    ms = round(max(t, 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def spoken_length(seconds: float) -> str:
    """A stretch of time as a person says it: ``50 min``, ``1 min 32 s``, ``32 s``."""
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s} s" if m and s else f"{m} min" if m else f"{s} s"


def stretches(events: Sequence[Any], what: str) -> str:
    """``; 2 stretch(es) below the minimum, 7.4 s in all`` for the events of a check whose
    value over the whole file is within its limit (why it is a warning), or ``""``."""
    if not events:
        return ""
    total = sum(e.end_s - e.start_s for e in events)
    return f"; {len(events)} stretch(es) {what}, {total:.1f} s in all"


def runs(flags: Sequence[bool] | np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive true flags."""
    mask = np.asarray(flags, dtype=bool)
    if not mask.size:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


class VideoDetector(Detector):
    """A detector over planar YUV 4:2:0 frames; ``process_batch`` is the real work.

    ``process(frame, t)`` is a batch of one. Subclasses take ``fps`` and ``profile`` as
    required keyword arguments.
    """

    kind = "video"

    def process(self, data: Any, t: float) -> None:
        self.process_batch(as_batch(data), [float(t)])

    @abstractmethod
    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        """Consume a batch of frames (planes with a leading frame axis) at times ``ts``."""
