"""Composite camera streams into one frame by a layout (A7: one video per lecture).

Works on planar yuv420p: the canvas is one packed buffer whose Y, U and V views the
sources are pasted into; each source is scaled once per frame by swscale to its slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from courseware.media import rgb_to_frame
from encoder_profiles import Layout


def _even(x: float) -> int:
    return max(2, round(x / 2.0) * 2)


@dataclass(frozen=True)
class Slot:
    """Where one source goes: its fitted size and top-left corner, even pixels."""

    source: str
    x: int
    y: int
    w: int
    h: int


def fit(region_px: tuple[int, int, int, int], src_w: int, src_h: int, sar: float = 1.0,
        source: str = "") -> Slot:
    """Fit a source inside a region without distortion (letterbox / pillarbox), centred."""
    rx, ry, rw, rh = region_px
    aspect = src_w * sar / src_h
    if rw / rh > aspect:
        h, w = rh, _even(rh * aspect)
    else:
        w, h = rw, _even(rw / aspect)
    w, h = min(w, rw), min(h, rh)
    return Slot(source, rx + _even((rw - w) / 2) if rw > w else rx,
                ry + _even((rh - h) / 2) if rh > h else ry, w, h)


def region_px(layout: Layout, width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    return {r.source: (_even(r.x * width) if r.x else 0, _even(r.y * height) if r.y else 0,
                       _even(r.w * width), _even(r.h * height)) for r in layout.regions}


def _planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out.append(arr[: plane.height, : plane.width])
    return out[0], out[1], out[2]


class Compositor:
    """Builds output frames of ``width``×``height`` from source frames by a layout."""

    def __init__(self, layout: Layout, *, width: int, height: int,
                 sizes: dict[str, tuple[int, int, float]]) -> None:
        self.width, self.height = width, height
        regions = region_px(layout, width, height)
        self.slots = [fit(regions[s], *sizes[s], source=s) for s in layout.sources if s in sizes]
        bg = rgb_to_frame(np.full((2, 2, 3), layout.background, np.uint8))
        by, bu, bv = _planes(bg)
        self._bg = (int(by[0, 0]), int(bu[0, 0]), int(bv[0, 0]))

    def _canvas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        w, h = self.width, self.height
        buf = np.empty((h * 3 // 2, w), np.uint8)
        y = buf[:h]
        u = buf[h: h + h // 4].reshape(h // 2, w // 2)
        v = buf[h + h // 4:].reshape(h // 2, w // 2)
        y[:], u[:], v[:] = self._bg
        return buf, y, u, v

    def compose(self, frames: dict[str, av.VideoFrame | None]) -> av.VideoFrame:
        return self._paint(self.slots, frames)

    def full_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        """One source fitted to the whole frame (intro clips of any size)."""
        slot = fit((0, 0, self.width, self.height), frame.width, frame.height, source="full")
        return self._paint([slot], {"full": frame})

    def _paint(self, slots: list[Slot], frames: dict[str, av.VideoFrame | None],
               ) -> av.VideoFrame:
        buf, y, u, v = self._canvas()
        for slot in slots:
            frame = frames.get(slot.source)
            if frame is None:
                continue
            scaled = frame.reformat(width=slot.w, height=slot.h, format="yuv420p",
                                    interpolation="BICUBIC")
            sy, su, sv = _planes(scaled)
            y[slot.y: slot.y + slot.h, slot.x: slot.x + slot.w] = sy
            cx, cy, cw, ch = slot.x // 2, slot.y // 2, slot.w // 2, slot.h // 2
            u[cy: cy + ch, cx: cx + cw] = su
            v[cy: cy + ch, cx: cx + cw] = sv
        return av.VideoFrame.from_ndarray(buf, format="yuv420p")
