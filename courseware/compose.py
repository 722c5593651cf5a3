"""Composite camera streams into one frame by a layout (A7: one video per lecture).

Works on planar yuv420p: the canvas is one packed buffer whose Y, U and V views the
sources are pasted into; each source is scaled once per frame by swscale to its slot (a held
frame of a slower source is scaled once), then filtered at slot size by its chain
(:mod:`courseware.video_chain`). Layouts may switch at given lecture times, and a source whose
pictures are black for a while (:func:`black_runs`: a capture that lost its signal, a lens
cap) is left out of the layout there, the other cameras shown in its place.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass

import av
import numpy as np

from courseware.media import rgb_to_frame
from courseware.video_chain import clamp_legal
from encoder_profiles import Layout
from qc_metrics.bars import colour_bars
from qc_metrics.temporal import PIC_TH, black_level, black_shares


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


#: AVColorSpace values of SD (BT.601) material: converted to BT.709 while scaling
_BT601 = (5, 6)
JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range (0–255) Y'CbCr


def _interpolation(frame: av.VideoFrame, width: int) -> str:
    """Area averaging to shrink (no aliasing on slide text, ~3× faster than bicubic here),
    bicubic to enlarge."""
    return "AREA" if width < frame.width else "BICUBIC"


def scale_frame(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """A source frame at slot size as BT.709 limited-range yuv420p (swscale)."""
    how = _interpolation(frame, width)
    if frame.colorspace in _BT601:
        return frame.reformat(width=width, height=height, format="yuv420p",
                              interpolation=how, src_colorspace="ITU601",
                              dst_colorspace="ITU709", src_color_range=_range(frame),
                              dst_color_range="MPEG")
    if _range(frame) == "JPEG":  # full-range pictures into the limited range (V4)
        return frame.reformat(width=width, height=height, format="yuv420p",
                              interpolation=how, src_color_range="JPEG",
                              dst_color_range="MPEG")
    return frame.reformat(width=width, height=height, format="yuv420p", interpolation=how)


def _range(frame: av.VideoFrame) -> str:
    return "JPEG" if frame.color_range == JPEG_RANGE else "MPEG"


PlaneFilter = Callable[[np.ndarray, np.ndarray, np.ndarray],
                       tuple[np.ndarray, np.ndarray, np.ndarray]]


#: 8-bit pixel formats whose first plane is the luma, read as they are for the black test
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                         "nv12", "nv21", "gray"})


def black_picture(frame: av.VideoFrame, luma_range: Sequence[int]) -> bool:
    """FFmpeg blackdetect's test (as ``video.black`` applies it) on a source picture: its
    luma point samples, against the black level of the range it is coded in. Pictures of
    other formats (10-bit, RGB) are brought to limited-range yuv420p first, at a quarter of
    their size."""
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        y = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        y = y[: plane.height, : plane.width]
        full = _range(frame) == "JPEG" or frame.format.name.startswith("yuvj")
        level = black_level((0, 255) if full else luma_range)
        step = 4
    else:
        y = _planes(scale_frame(frame, _even(frame.width / 4), _even(frame.height / 4)))[0]
        level, step = black_level(luma_range), 1
    return bool(black_shares(y[None], level, step=step)[0] >= PIC_TH)


def no_picture(frame: av.VideoFrame, luma_range: Sequence[int]) -> str | None:
    """What stands where a camera's picture should be: ``"black"`` (:func:`black_picture`),
    ``"colour bars"`` (a test signal, :func:`qc_metrics.bars.colour_bars`, as QC's
    ``video.colour_bars`` judges it), or None: a picture."""
    if black_picture(frame, luma_range):
        return "black"
    plain = frame.format.name == "yuv420p" and _range(frame) != "JPEG"
    picture = frame if plain else scale_frame(frame, _even(frame.width / 2),
                                              _even(frame.height / 2))
    return "colour bars" if colour_bars(*_planes(picture)) else None


def black_runs(frames: Iterator[av.VideoFrame | None], *, min_frames: int,
               luma_range: Sequence[int]
               ) -> Generator[tuple[av.VideoFrame | None, str | None], None, None]:
    """A source's frames, each with what it shows instead of a picture (:func:`no_picture`:
    "black", "colour bars") when it lies in a run of at least ``min_frames`` such frames
    (0: never), else None. Looks ahead only while there is no picture, holding at most
    ``min_frames`` frames, so the run is known from its first frame; a picture the same as
    the one before (a CFR repeat, a lost signal's steady black) is judged and held once,
    whatever its size. Closing it closes ``frames``."""
    held: deque[tuple[av.VideoFrame | None, str]] = deque()
    confirmed = False
    last: av.VideoFrame | None = None
    dark: str | None = None
    try:
        for frame in frames:
            if frame is not last:
                last = frame
                dark = (no_picture(frame, luma_range) if min_frames > 0 and frame is not None
                        else None)
            if dark is None:
                confirmed = False
                while held:
                    yield held.popleft()[0], None
                yield frame, None
            elif confirmed:
                yield frame, dark
            else:
                same = held and _same(held[-1][0], frame)
                held.append((held[-1][0] if same else frame, dark))
                if len(held) >= min_frames:
                    confirmed = True
                    while held:
                        yield held.popleft()
        while held:                # a shorter run where the source ends
            yield held.popleft()[0], None
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def _same(a: av.VideoFrame | None, b: av.VideoFrame | None) -> bool:
    """Two decoded pictures with the same pixels."""
    if a is b:
        return True
    if a is None or b is None or (a.format.name, a.width, a.height) != (
            b.format.name, b.width, b.height):
        return False
    return all(np.array_equal(np.frombuffer(memoryview(pa), np.uint8),
                              np.frombuffer(memoryview(pb), np.uint8))
               for pa, pb in zip(a.planes, b.planes, strict=True))


@dataclass(frozen=True)
class Scene:
    """One layout's slots and background, in force from lecture time ``at``."""

    at: float
    slots: tuple[Slot, ...]
    background: tuple[int, int, int]
    layout: str = ""

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(sl.source for sl in self.slots)


def _background(layout: Layout) -> tuple[int, int, int]:
    bg = rgb_to_frame(np.full((2, 2, 3), layout.background, np.uint8))
    by, bu, bv = _planes(bg)
    return int(by[0, 0]), int(bu[0, 0]), int(bv[0, 0])


class Compositor:
    """Builds output frames of ``width``×``height`` from source frames by a layout.

    ``sizes``: per source (width, height, sample aspect ratio). ``switches``: later layouts
    and the lecture time they start at (A7: one film, the layout may change). ``chains``: per
    source a filter on the scaled planes (colour, denoise: :mod:`courseware.video_chain`).
    ``legal``: (luma_range, chroma_range) the finished canvas is clamped to (V4).
    ``stand_in``: the layout that shows exactly the given sources (None: there is none), for
    a source hidden while it is black (:meth:`compose`). ``timeline`` records the scenes
    composed, each from the lecture time it was first shown.
    """

    def __init__(self, layout: Layout, *, width: int, height: int,
                 sizes: dict[str, tuple[int, int, float]],
                 switches: Sequence[tuple[float, Layout]] = (),
                 chains: Mapping[str, PlaneFilter] | None = None,
                 legal: tuple[Sequence[int], Sequence[int]] | None = None,
                 stand_in: Callable[[frozenset[str]], Layout | None] | None = None) -> None:
        self.width, self.height = width, height
        self.sizes = sizes
        self.chains = dict(chains or {})
        self.legal = legal
        self.stand_in = stand_in
        self._stand_ins: dict[tuple[float, frozenset[str]], Scene] = {}
        self.timeline: list[tuple[float, Scene]] = []
        scenes = [self._scene(0.0, layout)]
        for at, lay in sorted(switches, key=lambda s: s[0]):
            if at <= 0.0:
                scenes = [self._scene(0.0, lay)]
            else:
                scenes.append(self._scene(at, lay))
        self.scenes = scenes
        self._starts = [sc.at for sc in scenes]
        self.slots = list(scenes[0].slots)
        self._bg = scenes[0].background
        # per source: (source frame, slot size, scaled frame, processed planes) of the last paint
        self._cache: dict[str, tuple[av.VideoFrame, tuple[int, int], av.VideoFrame,
                                     tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def _scene(self, at: float, layout: Layout) -> Scene:
        regions = region_px(layout, self.width, self.height)
        slots = tuple(fit(regions[s], *self.sizes[s], source=s) for s in layout.sources
                      if s in self.sizes)
        return Scene(at, slots, _background(layout), layout.name)

    def scene_at(self, t: float) -> Scene:
        return self.scenes[max(0, bisect_right(self._starts, t + 1e-9) - 1)]

    def _canvas(self, bg: tuple[int, int, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        w, h = self.width, self.height
        buf = np.empty((h * 3 // 2, w), np.uint8)
        y = buf[:h]
        u = buf[h: h + h // 4].reshape(h // 2, w // 2)
        v = buf[h + h // 4:].reshape(h // 2, w // 2)
        y[:], u[:], v[:] = bg
        return buf, y, u, v

    def compose(self, frames: dict[str, av.VideoFrame | None], t: float = 0.0,
                hidden: Set[str] = frozenset()) -> av.VideoFrame:
        """The output frame at lecture time ``t``, in the layout in force then; where it
        shows a source of ``hidden`` (black pictures), in the layout of its other sources,
        else of the other sources that have a frame (``stand_in``)."""
        scene = self.scene_at(t)
        if hidden & scene.sources:
            scene = self._without(scene, frozenset(hidden), frames)
        if not self.timeline or self.timeline[-1][1] is not scene:
            self.timeline.append((t, scene))
        return self._paint(scene.slots, frames, scene.background)

    def _without(self, scene: Scene, hidden: frozenset[str],
                 frames: Mapping[str, av.VideoFrame | None]) -> Scene:
        shown = scene.sources - hidden or frozenset(
            r for r, f in frames.items() if f is not None and r in self.sizes) - hidden
        if not shown or self.stand_in is None:
            return scene
        key = (scene.at, shown)
        if key not in self._stand_ins:
            layout = self.stand_in(shown)
            self._stand_ins[key] = scene if layout is None else self._scene(scene.at, layout)
        return self._stand_ins[key]

    def full_frame(self, frame: av.VideoFrame, sar: float = 1.0) -> av.VideoFrame:
        """One source fitted to the whole frame (intro clips of any size)."""
        slot = fit((0, 0, self.width, self.height), frame.width, frame.height, sar,
                   source="full")
        return self._paint([slot], {"full": frame}, self._bg)

    def _source_planes(self, slot: Slot, frame: av.VideoFrame
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The source at slot size, through its chain; a held frame (CFR repeat) is reused."""
        cached = self._cache.get(slot.source)
        if cached is not None and cached[0] is frame and cached[1] == (slot.w, slot.h):
            return cached[3]
        scaled = scale_frame(frame, slot.w, slot.h)
        planes = _planes(scaled)
        chain = self.chains.get(slot.source)
        if chain is not None:
            planes = chain(*planes)
        self._cache[slot.source] = (frame, (slot.w, slot.h), scaled, planes)
        return planes

    def _paint(self, slots: Sequence[Slot], frames: dict[str, av.VideoFrame | None],
               bg: tuple[int, int, int]) -> av.VideoFrame:
        buf, y, u, v = self._canvas(bg)
        for slot in slots:
            frame = frames.get(slot.source)
            if frame is None:
                continue
            sy, su, sv = self._source_planes(slot, frame)
            y[slot.y: slot.y + slot.h, slot.x: slot.x + slot.w] = sy
            cx, cy, cw, ch = slot.x // 2, slot.y // 2, slot.w // 2, slot.h // 2
            u[cy: cy + ch, cx: cx + cw] = su
            v[cy: cy + ch, cx: cx + cw] = sv
        if self.legal is not None:  # V4: legal range, whatever the sources carried
            clamp_legal(y, u, v, luma_range=self.legal[0], chroma_range=self.legal[1])
        return av.VideoFrame.from_ndarray(buf, format="yuv420p")
