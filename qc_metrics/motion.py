"""Global motion: jumps and jitter (V1: stable image, no jitter or jumps, stable at edits).

Global displacement between consecutive frames by phase correlation (C. D. Kuglin,
D. C. Hines, "The phase correlation image alignment method", IEEE Conf. Cybernetics and
Society, 1975) on box-downscaled luma with a Hann window, the peak refined to sub-pixel by a
parabola through its neighbours. Only the array namespace's FFT is used (``scipy.fft`` on the
CPU, ``cupy.fft`` on the GPU), so NumPy and CuPy run the same code,
and a whole batch of frames is one FFT call.

A *jump* is a displacement that departs suddenly from the running motion (the median of the
last few displacements, so a steady pan is not a jump). A *cut* is a large content change:
the correlation peak collapses (the two frames share no shifted content); cuts are never
flagged and restart the running motion. *Jitter* is a shaky stretch: the RMS deviation of the
displacements from their running median over about a second.

The camera moves the whole picture; a lecturer stepping aside moves part of it. On a plain
wall the lecturer's texture can dominate the whole-frame correlation, so each frame pair is
also correlated in a 3×3 grid of tiles: the *support* of the whole-frame displacement is the
share of tiles with a clear peak that moved the same way. Departures with a support below
``min_support`` are motion inside the picture, not of the picture: neither jumps nor jitter.
Where no tile has a clear peak, the whole-frame displacement is judged alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan, crop_planes, span_runs
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, box_downscale, timecode
from qc_metrics.xp import array_namespace, fft_namespace, to_host


@dataclass(frozen=True)
class Shift:
    dx: float       #: displacement of the content to the right, full-resolution pixels
    dy: float       #: displacement of the content downwards, full-resolution pixels
    peak: float     #: phase-correlation peak height (≈ 1 same content, ≈ 0 unrelated)


def downscale_factor(width: int, target: int = 240) -> int:
    """The integer factor that brings ``width`` near ``target`` pixels (phase correlation
    needs texture, not resolution; 1080p → 8)."""
    return max(1, round(width / target))


def _spectra(small: Any) -> Any:
    """rfft2 of mean-removed, Hann-windowed planes (N, h, w)."""
    xp = array_namespace(small)
    h, w = small.shape[-2:]
    window = xp.outer(xp.hanning(h), xp.hanning(w)).astype(xp.float32)
    centred = small - small.mean(axis=(1, 2), keepdims=True)
    return fft_namespace(xp).rfft2(centred * window)


#: tiles per side of the grid that tells camera motion from motion inside the picture
_GRID = 3


def _tiles(small: Any) -> Any:
    """Planes (N, h, w) → their ``_GRID``×``_GRID`` tiles (N·_GRID², h/_GRID, w/_GRID), the
    tiles of each plane consecutive, row by row."""
    n, h, w = small.shape
    th, tw = h // _GRID, w // _GRID
    grid = small[:, : th * _GRID, : tw * _GRID].reshape(n, _GRID, th, _GRID, tw)
    return grid.transpose(0, 1, 3, 2, 4).reshape(n * _GRID * _GRID, th, tw)


def _correlate(fa: Any, fb: Any, shape: tuple[int, int]) -> tuple[Any, Any, Any]:
    """Phase correlation of spectra pairs (N, h, w//2+1): (dy, dx, peak), xp arrays (N,).

    Shift of b relative to a; sub-pixel by a 3-point parabola along each axis."""
    xp = array_namespace(fa)
    h, w = shape
    cross = fb * xp.conj(fa)
    cross = cross / xp.maximum(xp.abs(cross), 1e-6)
    surface = fft_namespace(xp).irfft2(cross, s=(h, w))
    n = surface.shape[0]
    flat = surface.reshape(n, -1)
    idx = xp.argmax(flat, axis=1)
    py, px = idx // w, idx % w
    rows = xp.arange(n)
    peak = flat[rows, idx]

    def parabola(minus: Any, plus: Any) -> Any:
        denom = minus - 2.0 * peak + plus
        ok = xp.abs(denom) > 1e-9
        return xp.where(ok, 0.5 * (minus - plus) / xp.where(ok, denom, 1.0), 0.0)

    fy = parabola(surface[rows, (py - 1) % h, px], surface[rows, (py + 1) % h, px])
    fx = parabola(surface[rows, py, (px - 1) % w], surface[rows, py, (px + 1) % w])
    dy = xp.where(py > h // 2, py - h, py) + xp.clip(fy, -0.5, 0.5)
    dx = xp.where(px > w // 2, px - w, px) + xp.clip(fx, -0.5, 0.5)
    return dy, dx, peak


def phase_correlate(a: Any, b: Any, *, factor: int = 1) -> Shift:
    """Global displacement of luma plane ``b`` relative to ``a`` (both (H, W)), estimated on
    planes box-downscaled by ``factor`` and given in full-resolution pixels."""
    small = box_downscale(a[None], factor), box_downscale(b[None], factor)
    xp = array_namespace(small[0])
    spectra = _spectra(xp.concatenate(small))
    dy, dx, peak = _correlate(spectra[:1], spectra[1:], small[0].shape[1:])
    return Shift(dx=float(to_host(dx)[0]) * factor, dy=float(to_host(dy)[0]) * factor,
                 peak=float(to_host(peak)[0]))


class StabilityDetector(VideoDetector):
    """``video.stability`` (V1): global-motion jumps and jitter outside cuts.

    ``jump_frac``: a departure from the running motion larger than this share of the frame
    width is a jump (0.5 %: ~10 px at 1080p). ``jitter_frac``: RMS deviation over a
    ``window_s`` window above this share of the width is jitter. ``cut_peak``: correlation peaks
    below it mark cuts (unrelated pictures score ~0.02, shifted same content 0.3–1).
    ``settle``: a departure is a jump when the motion returns to the running motion within
    this many frames; a lasting change (a pan starting or stopping) is not a jump.
    ``min_support``: share of the tiles with a clear peak (≥ ``tile_peak``) that must move
    with a departure for it to be the camera's (see the module doc).

    ``spans`` (the render's layout): each camera's region is judged on its own, span by span
    (a knocked teacher camera in a small inset moves a small part of the film); frames
    outside every span (intro, cards) and authored captures are not judged."""

    def __init__(self, *, fps: float, profile: Profile, jump_frac: float = 0.005,
                 jitter_frac: float = 0.002, cut_peak: float = 0.08, window_s: float = 1.0,
                 history: int = 5, settle: int = 3, target_width: int = 240,
                 min_support: float = 2 / 3, tile_peak: float = 0.15,
                 spans: Sequence[CameraSpan] = (), label: str = "") -> None:
        self.fps = float(fps)
        self.profile = profile
        self.jump_frac = jump_frac
        self.jitter_frac = jitter_frac
        self.cut_peak = cut_peak
        self.window = max(3, round(window_s * fps))
        self.history = history
        self.settle = settle
        self.target_width = target_width
        self.min_support = min_support
        self.tile_peak = tile_peak
        self.spans = sorted(spans, key=lambda c: c.start_s)
        self.label = label      #: the camera whose region this judges, in event details
        self._regions: dict[tuple[int, str], StabilityDetector] = {}  # (span, camera)
        self._prev: Any = None
        self._prev_tiles: Any = None
        self._width = 0
        self._factor = 1
        self._rows: list[tuple[float, float, float, float]] = []  # t, dx, dy, peak
        self._support: list[float] = []         # per row; nan: no tile had a clear peak
        self._local = 0                         # departures of part of the picture only

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        if not self.spans:
            self._measure(as_batch(frames).y, ts)
            return
        frames = as_batch(frames)
        for i, j, span in span_runs(self.spans, ts):
            if span is not None:
                k = self.spans.index(span)
                for name, rect in span.cameras().items():
                    crop = crop_planes(YUVFrame(*(p[i:j] for p in frames)), rect)
                    if crop is None:
                        continue
                    if (k, name) not in self._regions:
                        self._regions[(k, name)] = StabilityDetector(
                            fps=self.fps, profile=self.profile, jump_frac=self.jump_frac,
                            jitter_frac=self.jitter_frac, cut_peak=self.cut_peak,
                            window_s=self.window / self.fps, history=self.history,
                            settle=self.settle, target_width=self.target_width,
                            min_support=self.min_support, tile_peak=self.tile_peak,
                            label=name)
                    self._regions[(k, name)]._measure(crop.y, ts[i:j])

    def _measure(self, y: Any, ts: Sequence[float]) -> None:
        xp = array_namespace(y)
        if self._prev is None:
            self._width = y.shape[-1]
            self._factor = downscale_factor(self._width, self.target_width)
        small = box_downscale(y, self._factor)
        spectra, tiles = _spectra(small), _spectra(_tiles(small))
        shape = small.shape[-2:]
        times = list(ts)
        if self._prev is not None:
            spectra = xp.concatenate([self._prev, spectra])
            tiles = xp.concatenate([self._prev_tiles, tiles])
        else:
            times = times[1:]
        self._prev, self._prev_tiles = spectra[-1:], tiles[-_GRID * _GRID:]
        if spectra.shape[0] < 2:
            return
        dy, dx, peak = _correlate(spectra[:-1], spectra[1:], shape)
        per = _GRID * _GRID
        tile_shape = (shape[0] // _GRID, shape[1] // _GRID)
        ty, tx, tpeak = (a.reshape(-1, per) for a in _correlate(tiles[:-per], tiles[per:],
                                                                 tile_shape))
        # a tile moved with the frame: within half the jump limit (in downscaled pixels)
        near = max(1.0, self.jump_frac * self._width / 2) / self._factor
        clear = tpeak >= self.tile_peak
        with_frame = clear & (xp.hypot(tx - dx[:, None], ty - dy[:, None]) <= near)
        counted = clear.sum(axis=1)
        support = xp.where(counted > 0, with_frame.sum(axis=1) / xp.maximum(counted, 1),
                           xp.nan)
        dy, dx, peak, support = (to_host(a) for a in (dy, dx, peak, support))
        f = self._factor
        self._rows.extend((float(t), float(x) * f, float(v) * f, float(p))
                          for t, x, v, p in zip(times, dx, dy, peak, strict=True))
        self._support.extend(float(s) for s in support)

    def camera_motion(self) -> list[tuple[float, float]]:
        """(time, displacement in px) of each frame pair whose motion is the camera's: not
        a cut, and not a move of part of the picture only."""
        if self._regions:
            return sorted(m for r in self._regions.values() for m in r.camera_motion())
        return [(t, math.hypot(dx, dy))
                for (t, dx, dy, peak), support in zip(self._rows, self._support, strict=True)
                if peak >= self.cut_peak and not support < self.min_support]

    def finish(self) -> list[Check]:
        parts = ([r._judge() for r in self._regions.values()] if self.spans
                 else [self._judge()])
        jumps = [e for p in parts for e in p[0]]
        events = sorted(jumps + [e for p in parts for e in p[1]], key=lambda e: e.start_s)
        changes, local = sum(p[2] for p in parts), sum(p[3] for p in parts)
        n = len(events)
        status: Status = "fail" if n else "pass"
        skipped = f"{changes} frame pair(s) without common content (cuts, black) skipped"
        if local:
            skipped += (f"; {local} sudden move(s) of part of the picture only (a person or "
                        "object moving, not the camera) not counted")
        if self.spans:
            skipped += "; each camera's picture judged on its own"
        message = (f"{len(jumps)} jump(s) and {n - len(jumps)} jittery stretch(es); {skipped}"
                   if n else f"global motion steady; {skipped}")
        return [Check("video.stability", "V1", status, float(n), 0.0, "events", message,
                      tuple(events))]

    def _judge(self) -> tuple[list[Event], list[Event], int, int]:
        """(jumps, jittery stretches, cut pairs, moves of part of the picture)."""
        # sub-pixel wobble is invisible: floors of 2 px (jump) and 0.5 px RMS (jitter)
        jump_px = max(2.0, self.jump_frac * self._width)
        jitter_px = max(0.5, self.jitter_frac * self._width)
        rows = self._rows
        jitter = self._jitter(jitter_px, jump_px)
        events: list[Event] = []
        recent: list[tuple[float, float]] = []
        changes = local = 0
        i = 0
        while i < len(rows):
            t, dx, dy, peak = rows[i]
            if peak < self.cut_peak:                   # a cut (or a featureless picture)
                recent.clear()
                changes += 1
                i += 1
                continue
            if not recent:
                recent.append((dx, dy))
                i += 1
                continue
            ex = sorted(r[0] for r in recent)[len(recent) // 2]
            ey = sorted(r[1] for r in recent)[len(recent) // 2]
            dev = math.hypot(dx - ex, dy - ey)
            shaky = any(e.start_s <= t < e.end_s for e in jitter)
            if dev <= jump_px or shaky:                # within a shaky stretch: jitter
                recent.append((dx, dy))
                del recent[: -self.history]
                i += 1
                continue
            if self._support[i] < self.min_support:    # part of the picture moved (nan: no)
                local += 1
                i += 1
                continue
            # a departure: a jump if the motion comes back within `settle` pairs (the picture
            # was knocked), otherwise the camera motion itself changed (a pan starts or stops)
            back = next((j for j in range(i + 1, min(i + 1 + self.settle, len(rows)))
                         if rows[j][3] >= self.cut_peak
                         and math.hypot(rows[j][1] - ex, rows[j][2] - ey) <= jump_px), None)
            ends_at_cut = i + 1 >= len(rows) or rows[i + 1][3] < self.cut_peak
            if back is None and not ends_at_cut:
                recent[:] = [(dx, dy)]
                i += 1
                continue
            stop = back if back is not None else i + 1
            end = rows[stop][0] if stop < len(rows) else t + 1.0 / self.fps
            events.append(Event(t, end, f"{timecode(t)}: {self._what()} jumps by {dev:.1f} "
                                        f"px (dx={dx:+.1f}, dy={dy:+.1f} against a running "
                                        f"{ex:+.1f}, {ey:+.1f})"))
            i = stop
        return events, jitter, changes, local

    def _what(self) -> str:
        return f"the {self.label} picture" if self.label else "picture"

    def _jitter(self, limit: float, outlier: float) -> list[Event]:
        """Stretches where the displacements wobble about the smooth camera motion by more
        than ``limit`` px RMS over ``window`` frame pairs. The smooth motion is the mean of the
        window without outliers (further than ``outlier`` px from its median: jumps)."""
        steady = [r for r, support in zip(self._rows, self._support, strict=True)
                  if r[3] >= self.cut_peak and not support < self.min_support]
        w = self.window
        out: list[Event] = []
        for i in range(0, len(steady) - w + 1, max(1, w // 2)):
            chunk = steady[i: i + w]
            medx = sorted(r[1] for r in chunk)[w // 2]
            medy = sorted(r[2] for r in chunk)[w // 2]
            kept = [r for r in chunk if math.hypot(r[1] - medx, r[2] - medy) <= outlier]
            mx = sum(r[1] for r in kept) / len(kept)
            my = sum(r[2] for r in kept) / len(kept)
            rms = math.sqrt(sum((r[1] - mx) ** 2 + (r[2] - my) ** 2 for r in kept) / len(kept))
            if rms <= limit:
                continue
            start, end = chunk[0][0], chunk[-1][0] + 1.0 / self.fps
            if out and start <= out[-1].end_s:
                start = out.pop().start_s
            out.append(Event(start, end, f"{timecode(start)}: {self._what()} jitters, RMS "
                                         f"{rms:.1f} px about the smooth motion"))
        return out
