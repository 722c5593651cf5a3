"""Per-source picture mastering, applied to each scaled source frame at slot size (cheap).

* V3 white balance and camera match: R'G'B' channel gains (the analysis pass measures them,
  :mod:`tasks.analyse_video`) applied as one 3×3 transform of limited-range Y'CbCr code
  values, ``out − o = M (in − o)`` with ``o`` = (black, mid-chroma, mid-chroma). A gain in
  R'G'B' is a gain in linear light raised to 1/γ (exact for a pure power law, close for the
  BT.709 / sRGB curve), so it white-balances at every grey level.
* V2 noise: a recursive temporal average with a per-pixel motion gate (static slides and
  walls average out, moving parts pass through).
* V4 levels: the composed canvas is clamped to the legal ranges (luma 16–235, chroma 16–240).

Planes are 8-bit 4:2:0 as in :mod:`qc_metrics.frames`; everything is vectorised NumPy on
look-up tables, so the per-frame cost is a few passes over slot-sized arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from encoder_profiles import Profile
from qc_metrics.colour import rgb_to_lab, yuv_to_rgb

# ITU-R BT.709-6 item 3.2/3.3: luma coefficients
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


class SourcePlan(BaseModel):
    """What the analysis pass found for one video source and what the render applies."""

    model_config = ConfigDict(frozen=True)

    role: str
    width: int
    height: int
    sar: float = 1.0                     # sample aspect ratio (pixel width / height)
    interlaced: bool = False             # D7: detected from the decoded frames' flags
    field_order: str | None = None       # "tff", "bff", "progressive" or None (unknown)
    #: D7: an interlaced picture in frames flagged progressive (seen in the pixels: 50i
    #: captured or transcoded without deinterlacing): every frame is deinterlaced, in
    #: ``field_order``
    combed: bool = False
    #: D7: frames flagged interlaced whose two fields show one instant (25PsF, as camcorders
    #: store 25p in a 50i stream): left as they are, with their full vertical detail
    psf: bool = False
    below_hd: bool = False               # B2: smaller than delivery.min_width × min_height
    samples: int = 0                     # frames measured
    cast_a: float | None = None          # V3 before correction: median a* of near-neutrals
    cast_b: float | None = None          # … median b*
    cast: float | None = None            # … |(a*, b*)|
    wb_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)     # R'G'B' white balance
    match_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # R'G'B' camera match (V3)
    cast_after: float | None = None      # cast of the corrected samples
    noise_sigma: float | None = None     # V2: median luma noise σ (codes) at source size
    snr_db: float | None = None
    denoise: bool = False                # temporal denoise in the render
    #: a digital slides capture (no sensor noise in its flat areas): its colours are the
    #: author's (a cream template is not a cast), so it is neither white-balanced nor judged
    #: for V3 white balance and camera match
    authored: bool = False

    @property
    def gains(self) -> tuple[float, float, float]:
        g = np.asarray(self.wb_gains) * np.asarray(self.match_gains)
        return float(g[0]), float(g[1]), float(g[2])

    @property
    def display_width(self) -> float:
        return self.width * self.sar


class VideoPlan(BaseModel):
    """The video analysis of one lecture (per source), passed from analyse to render."""

    model_config = ConfigDict(frozen=True)

    sources: dict[str, SourcePlan]
    reference: str | None = None                  # the camera others are matched to (slides)
    camera_delta_e_before: float | None = None    # V3: ΔE2000 of neutral means, after WB only
    camera_delta_e_after: float | None = None     # … after the camera match
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- colour transform

def _ycbcr_from_rgb() -> np.ndarray:
    """Normalised R'G'B' → (Y', Cb, Cr), BT.709-6 items 3.2–3.5."""
    return np.array([
        [_KR, _KG, _KB],
        [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
        [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
    ])


def gain_transform(gains: Sequence[float] | np.ndarray, *, luma_range: Sequence[float],
                   chroma_range: Sequence[float]) -> np.ndarray:
    """The 3×3 matrix M on code values (``out − o = M (in − o)``) equal to R'G'B' ``gains``."""
    a = _ycbcr_from_rgb()
    t = a @ np.diag(np.asarray(gains, np.float64)) @ np.linalg.inv(a)
    y0, y1 = (float(x) for x in luma_range)
    c0, c1 = (float(x) for x in chroma_range)
    s = np.diag([y1 - y0, c1 - c0, c1 - c0])
    return s @ t @ np.linalg.inv(s)


def _origin(luma_range: Sequence[float], chroma_range: Sequence[float]) -> np.ndarray:
    return np.array([float(luma_range[0]), (float(chroma_range[0]) + float(chroma_range[1])) / 2,
                     (float(chroma_range[0]) + float(chroma_range[1])) / 2])


def transform_samples(y: np.ndarray, u: np.ndarray, v: np.ndarray, m: np.ndarray, *,
                      luma_range: Sequence[float], chroma_range: Sequence[float]) -> Planes:
    """Apply M to co-sited point samples (same shapes), float32 out (analysis only)."""
    o = _origin(luma_range, chroma_range)
    x = np.stack([y, u, v], axis=-1).astype(np.float32) - o.astype(np.float32)
    out = x @ m.T.astype(np.float32) + o.astype(np.float32)
    out = np.clip(out, 0.0, 255.0)
    return out[..., 0], out[..., 1], out[..., 2]


class ColourCorrection:
    """R'G'B' gains applied to 4:2:0 planes as a Y'CbCr transform on look-up tables.

    Luma takes the chroma terms from its 2×2 block's chroma sample; chroma takes the luma term
    from the block's mean luma (4:2:0 siting)."""

    def __init__(self, gains: Sequence[float], *, luma_range: Sequence[float],
                 chroma_range: Sequence[float]) -> None:
        m = gain_transform(gains, luma_range=luma_range, chroma_range=chroma_range)
        self.identity = bool(np.allclose(m, np.eye(3), atol=1e-4))
        y0, mid, _ = _origin(luma_range, chroma_range)
        i = np.arange(256, dtype=np.float64)
        f32 = np.float32
        # +0.5 so that truncation to uint8 rounds
        self._y = (m[0, 0] * (i - y0) + y0 + 0.5).astype(f32)
        self._yu, self._yv = (m[0, 1] * (i - mid)).astype(f32), (m[0, 2] * (i - mid)).astype(f32)
        self._uu = (m[1, 1] * (i - mid) + mid + 0.5).astype(f32)
        self._uv = (m[1, 2] * (i - mid)).astype(f32)
        self._vu = (m[2, 1] * (i - mid)).astype(f32)
        self._vv = (m[2, 2] * (i - mid) + mid + 0.5).astype(f32)
        self._uy, self._vy = f32(m[1, 0]), f32(m[2, 0])
        self._y0 = f32(y0)

    def __call__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Planes:
        if self.identity:
            return y, u, v
        h, w = y.shape
        ch, cw = u.shape
        if h != 2 * ch or w != 2 * cw:
            raise ValueError(f"planes {y.shape}, {u.shape} are not even-sized 4:2:0")
        blocks = y.reshape(ch, 2, cw, 2)
        luma_from_chroma = self._yu[u] + self._yv[v]
        yf = self._y[blocks] + luma_from_chroma[:, None, :, None]
        ybox = blocks.sum(axis=(1, 3), dtype=np.uint16).astype(np.float32) * np.float32(0.25)
        ybox -= self._y0
        uf = self._uu[u] + self._uv[v] + self._uy * ybox
        vf = self._vu[u] + self._vv[v] + self._vy * ybox
        return (_u8(yf).reshape(h, w), _u8(uf), _u8(vf))


def _u8(x: np.ndarray) -> np.ndarray:
    np.clip(x, 0.0, 255.0, out=x)
    return x.astype(np.uint8)


# --------------------------------------------------------------------------- noise (V2)

class TemporalDenoise:
    """Recursive temporal average, gated per pixel by motion.

    ``acc += k·(x − acc)`` with k = ``weight`` where |x − acc| ≤ ``threshold`` (noise), rising
    linearly to 1 at 2 × threshold (motion: the new pixel is taken as it is, no smear). On a
    static pixel the noise falls to √(k / (2 − k)) of its input. A size change (layout switch)
    restarts the average."""

    def __init__(self, *, weight: float, threshold: float) -> None:
        self.weight, self.threshold = float(weight), float(threshold)
        self._acc: list[np.ndarray] | None = None

    def __call__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Planes:
        planes = (y, u, v)
        if self._acc is None or any(a.shape != p.shape for a, p in zip(self._acc, planes,
                                                                       strict=True)):
            self._acc = [p.astype(np.float32) for p in planes]
            return y, u, v
        w, thr = np.float32(self.weight), np.float32(self.threshold)
        slope = (np.float32(1.0) - w) / thr
        out = []
        for p, acc in zip(planes, self._acc, strict=True):
            d = p.astype(np.float32)
            d -= acc
            k = np.abs(d)
            k -= thr
            k *= slope
            np.clip(k, 0.0, 1.0 - w, out=k)
            k += w
            d *= k
            acc += d
            out.append(_u8(acc + np.float32(0.5)))
        return out[0], out[1], out[2]


# --------------------------------------------------------------------------- per source

class SourceChain:
    """One source's correction at slot size: colour (V3) then temporal denoise (V2)."""

    def __init__(self, plan: SourcePlan, *, profile: Profile) -> None:
        lim, enc = profile.video, profile.encode
        self.plan = plan
        self.colour = ColourCorrection(plan.gains, luma_range=lim.luma_range,
                                       chroma_range=lim.chroma_range)
        self._weight, self._sigmas = enc.denoise_weight, enc.denoise_threshold_sigmas
        self.denoise: TemporalDenoise | None = None
        self.denoise_width = 0

    @property
    def active(self) -> bool:
        return not self.colour.identity or self.plan.denoise

    def __call__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Planes:
        y, u, v = self.colour(y, u, v)
        if self.plan.denoise and self.plan.noise_sigma:
            if self.denoise is None or self.denoise_width != y.shape[1]:
                # downscaling by s averages noise down by about s (σ at slot size)
                scale = min(1.0, y.shape[1] / max(self.plan.display_width, 1.0))
                sigma = self.plan.noise_sigma * scale
                self.denoise = TemporalDenoise(
                    weight=self._weight, threshold=max(1.0, self._sigmas * sigma))
                self.denoise_width = y.shape[1]
            y, u, v = self.denoise(y, u, v)
        return y, u, v


def clamp_legal(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, luma_range: Sequence[int],
                chroma_range: Sequence[int]) -> None:
    """V4: luma into ``luma_range``, chroma into ``chroma_range``, in place."""
    np.clip(y, luma_range[0], luma_range[1], out=y)
    np.clip(u, chroma_range[0], chroma_range[1], out=u)
    np.clip(v, chroma_range[0], chroma_range[1], out=v)


# --------------------------------------------------------------------------- neutrals

def neutral_mean(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, luma_range: Sequence[float],
                 chroma_range: Sequence[float], neutral_chroma: float = 15.0,
                 lightness: tuple[float, float] = (20.0, 95.0),
                 ) -> tuple[np.ndarray, int, int]:
    """Mean R'G'B' of the near-neutral pixels among co-sited samples (any equal shapes).

    Near-neutral as in :func:`qc_metrics.colour.cast_of_batch`: lightness inside
    ``lightness`` and chroma within ``neutral_chroma`` of the cast, found by iterating from
    neutral. Returns (mean R'G'B' (3,), neutral count, sample count); nan means when none."""
    rgb = yuv_to_rgb(y.ravel(), u.ravel(), v.ravel(), luma_range=luma_range,
                     chroma_range=chroma_range)
    lab = rgb_to_lab(rgb)
    lit = (lab[:, 0] >= lightness[0]) & (lab[:, 0] <= lightness[1])
    ca = cb = 0.0
    near = lit
    for _ in range(3):
        near = lit & ((lab[:, 1] - ca) ** 2 + (lab[:, 2] - cb) ** 2 <= neutral_chroma**2)
        if not near.any():
            return np.full(3, np.nan), 0, int(lab.shape[0])
        ca, cb = float(lab[near, 1].mean()), float(lab[near, 2].mean())
    return rgb[near].mean(axis=0).astype(np.float64), int(near.sum()), int(lab.shape[0])


def luma_of(rgb: Sequence[float] | np.ndarray) -> float:
    """BT.709 Y' of an R'G'B' triple."""
    return _KR * float(rgb[0]) + _KG * float(rgb[1]) + _KB * float(rgb[2])
