"""Generated video with known answers, for the video QC tests (nothing is committed).

Frames are 8-bit planar YUV 4:2:0, BT.709 limited range (qc_metrics.frames convention).
Scenes are built as float images first (the "clean" truth), then noise is added and the result
rounded, so the true noise of a frame is known exactly: RMS(frame − clean).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from qc_metrics.frames import YUVFrame, split_yuv420p

# BT.709 luma coefficients and limited-range coding (ITU-R BT.709-6, table 4)
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def rgb_to_yuv_float(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-linear R'G'B' in [0, 1] (…, 3) → float Y, Cb, Cr code values (limited range),
    chroma still at full resolution."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    yl = KR * r + KG * g + KB * b
    cb = (b - yl) / (2 * (1 - KB))
    cr = (r - yl) / (2 * (1 - KR))
    return 16 + 219 * yl, 128 + 224 * cb, 128 + 224 * cr


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def subsample(c: np.ndarray) -> np.ndarray:
    """4:2:0 chroma: mean of 2×2 blocks (float)."""
    h, w = c.shape
    return c[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def rgb_to_yuv420(rgb: np.ndarray) -> YUVFrame:
    y, cb, cr = rgb_to_yuv_float(rgb)
    return YUVFrame(to_u8(y), to_u8(subsample(cb)), to_u8(subsample(cr)))


def flat_chroma(h: int, w: int, value: int = 128) -> tuple[np.ndarray, np.ndarray]:
    c = np.full((h // 2, w // 2), value, np.uint8)
    return c, c.copy()


# --------------------------------------------------------------------------- scenes (luma)

def texture(h: int, w: int, *, seed: int, scale: float = 6.0, contrast: float = 60.0,
            mean: float = 120.0) -> np.ndarray:
    """Smooth random texture (blurred noise) with strong structure at every scale."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w), np.float32)
    for s in (scale, scale * 4, scale * 16):
        layer = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), s)
        out += layer / (layer.std() + 1e-9)
    return (mean + contrast / 3 * out).astype(np.float64)


def slide_luma(h: int, w: int, *, background: int = 200, ink: int = 40,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A slide: flat integer background with a title bar, anti-aliased text and a diagram.

    Returns (clean luma as float, mask of the flat background far from any edge)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w), background, np.uint8)
    img[: h // 8, :] = background - 90                       # title bar
    words = ["Continuing", "education", "network", "courseware", "signal", "noise", "SNR"]
    scale = h / 360
    for line in range(6):
        text = " ".join(rng.choice(words, size=4))
        org = (int(w * 0.08), int(h * (0.25 + 0.1 * line)))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, ink,
                    max(1, round(2 * scale)), cv2.LINE_AA)
    cv2.rectangle(img, (int(w * 0.7), int(h * 0.3)), (int(w * 0.9), int(h * 0.7)),
                  ink, max(1, round(3 * scale)), cv2.LINE_AA)
    edges = cv2.dilate((cv2.Laplacian(img, cv2.CV_64F) != 0).astype(np.uint8),
                       np.ones((5, 5), np.uint8))
    return img.astype(np.float64), (edges == 0) & (img == background)


def camera_luma(h: int, w: int, *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A camera-like picture: a smooth wall (gradient + vignette, non-integer values) and a
    textured region (the lecturer). Returns (clean luma as float, mask of the wall)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    wall = 90 + 50 * xx / w + 30 * ((yy / h - 0.5) ** 2 + (xx / w - 0.5) ** 2)
    img = wall.copy()
    person = np.zeros((h, w), bool)
    person[h // 4:, int(w * 0.35): int(w * 0.65)] = True
    img[person] = texture(h, w, seed=seed, scale=1.0, contrast=90)[person]
    wall_mask = ~cv2.dilate(person.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    return img, wall_mask


def add_noise(clean: np.ndarray, sigma: float, *, seed: int,
              mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Clean + white Gaussian noise of ``sigma`` codes, rounded to 8 bits.

    Returns (luma uint8, true RMS noise in the flat mask, quantisation included)."""
    rng = np.random.default_rng(seed)
    noisy = to_u8(clean + rng.normal(0.0, sigma, clean.shape))
    true = float(np.sqrt(np.mean((noisy[mask] - clean[mask]) ** 2)))
    return noisy, true


# --------------------------------------------------------------------------- colour

def colour_scene(h: int, w: int, *, gains: Sequence[float] = (1.0, 1.0, 1.0),
                 seed: int = 3) -> np.ndarray:
    """A lecture-room scene in R'G'B' [0, 1]: grey walls and whiteboard (neutral), a few
    saturated objects; ``gains`` multiply linear R, G, B (a white-balance error)."""
    rng = np.random.default_rng(seed)
    lin = np.ones((h, w, 3)) * 0.35                                  # grey wall
    lin[: h // 3, : w // 2] = 0.8                                    # whiteboard
    lin[h // 2:, w // 2:] = 0.1                                      # dark desk (neutral)
    for _ in range(6):                                               # coloured objects
        y0, x0 = rng.integers(0, h - h // 6), rng.integers(0, w - w // 6)
        lin[y0: y0 + h // 8, x0: x0 + w // 8] = rng.uniform(0.05, 0.7, 3)
    lin = lin * (1 + 0.05 * texture(h, w, seed=seed, mean=0, contrast=3)[..., None])
    lin = np.clip(lin * np.asarray(gains), 0, 1)
    # sRGB / BT.709 display encoding (IEC 61966-2-1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


# --------------------------------------------------------------------------- motion

def pan_clip(h: int, w: int, n: int, *, speed: float = 1.0, jumps: dict[int, float] | None = None,
             cut_at: int | None = None, seed: int = 5) -> list[YUVFrame]:
    """A slow horizontal pan over a textured scene (integer shifts, ``speed`` px/frame).

    ``jumps``: frame index → extra displacement in px added from that frame on (a camera
    jump). ``cut_at``: from that frame on, a different scene (a cut)."""
    jumps = jumps or {}
    span = int(n * speed + sum(abs(v) for v in jumps.values())) + 8
    scenes = [texture(h, w + span, seed=seed, contrast=36),
              texture(h, w + span, seed=seed + 100, mean=110, contrast=36)]
    u, v = flat_chroma(h, w)
    frames = []
    offset = 0.0
    for i in range(n):
        offset += speed + jumps.get(i, 0.0)
        x0 = round(offset) + 4
        scene = scenes[1 if cut_at is not None and i >= cut_at else 0]
        frames.append(YUVFrame(to_u8(scene[:, x0: x0 + w]), u, v))
    return frames


def lecturer_clip(h: int, w: int, n: int, *, steps: dict[int, int], whole: bool = False,
                  seed: int = 5) -> list[YUVFrame]:
    """A static camera on a textured wall, a lecturer (a strongly textured block a quarter of
    the width, three quarters of the height) in front of it, and a little sensor noise.

    ``steps``: frame index → horizontal offset in px of the lecturer from that frame on (a
    step aside and back). ``whole``: move the whole picture by those offsets instead (the
    camera was knocked)."""
    rng = np.random.default_rng(seed)
    pad = 2 * max((abs(v) for v in steps.values()), default=0) + 8
    wall = texture(h, w + pad, seed=seed, contrast=20)
    person = texture(h, w // 4, seed=seed + 1, scale=1.0, contrast=90)
    u, v = flat_chroma(h, w)
    frames = []
    offset = 0
    for i in range(n):
        offset = steps.get(i, offset)
        x = pad // 2 + w * 3 // 8
        img = wall.copy()
        img[h // 4:, x + (0 if whole else offset): x + (0 if whole else offset) + w // 4] = (
            person[h // 4:])
        left = pad // 2 - (offset if whole else 0)
        frames.append(YUVFrame(to_u8(img[:, left: left + w] + rng.normal(0, 1.0, (h, w))),
                               u, v))
    return frames


def stack(frames: Sequence[YUVFrame]) -> YUVFrame:
    return YUVFrame(*(np.stack([f[i] for f in frames]) for i in range(3)))


# --------------------------------------------------------------------------- files + FFmpeg

def _write_yuv(path: Path, frames: Iterable[YUVFrame], *, fps: int, codec: str,
               bit_rate: int | None = None, options: dict[str, str] | None = None) -> None:
    """Frames (planar 4:2:0) through PyAV's ``codec`` into ``path``, one tick a frame."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        stream = None
        for i, (y, u, v) in enumerate(frames):
            if stream is None:
                stream = out.add_stream(codec, rate=fps)
                stream.height, stream.width = y.shape
                stream.pix_fmt = "yuv420p"
                stream.time_base = Fraction(1, fps)
                if bit_rate is not None:
                    stream.bit_rate = bit_rate
                stream.codec_context.options = options or {}
            buf = np.concatenate([y, u.reshape(-1, y.shape[1]), v.reshape(-1, y.shape[1])])
            frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def write_lossless(path: Path, frames: Iterable[YUVFrame], *, fps: int) -> None:
    """Write frames to a lossless FFV1 Matroska file with PyAV (exact yuv420p round trip)."""
    _write_yuv(path, frames, fps=fps, codec="ffv1")


def write_h264(path: Path, frames: Iterable[YUVFrame], *, fps: int, kbps: int,
               keyint: int) -> None:
    """Write frames as H.264 (x264, ``kbps`` average, a keyframe every ``keyint`` frames
    and none at scene changes): a camera's or an editor's lossy file, whose keyframes code
    an unchanged picture again."""
    _write_yuv(path, frames, fps=fps, codec="libx264", bit_rate=kbps * 1000,
               options={"preset": "veryfast", "g": str(keyint), "keyint_min": str(keyint),
                        "sc_threshold": "0"})


def cut_film(path: Path, parts: Sequence[tuple[str, object, float]], *,
             size: tuple[int, int] = (160, 90), fps: int = 25,
             sound: np.ndarray | None = None, rate: int = 48000) -> None:
    """A 25-fps H.264 film cut from ``parts``, each (kind, what, seconds): ``("moving",
    seed, s)`` a random texture scrolling a pixel a frame (the same seed, the same pictures:
    an intro put in front of a lecture), ``("still", (r, g, b), s)`` a card of one colour,
    ``("card", ((r, g, b), text), s)`` one with a line of white text, ``("picture", rgb,
    s)`` an H×W×3 picture held (a rendered card; scaled to ``size``), ``("drifting", rgb,
    s)`` one drifting a pixel a frame to the right (an animated card: never still),
    ``("scrolling", rgb, s)`` one scrolling up two pixels a frame into place at its end
    (credits that scroll), ``("dissolving", (rgb, scene, held_s, fade_s), s)`` one drifting
    for ``held_s``, then dissolving over ``fade_s`` into ``scene`` (an RGB picture) drifting
    the other way, which goes on to the part's end (an animated card dissolving into the
    lecture, no cut);
    ``sound``: stereo float32 (2, n) at ``rate``, silence when None."""
    from fractions import Fraction

    import av

    w, h = size
    seconds = sum(p[2] for p in parts)
    if sound is None:
        sound = np.zeros((2, round(seconds * rate)), np.float32)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "crf": "12"}
        a = out.add_stream("aac", rate=rate, layout="stereo")
        pts = 0
        for kind, what, length in parts:
            n = round(length * fps)
            if kind in ("picture", "drifting", "scrolling"):
                held = cv2.resize(np.asarray(what, np.uint8), (w, h),
                                  interpolation=cv2.INTER_AREA)
                pictures: Iterable[np.ndarray] = (
                    np.roll(held, 2 * (n - 1 - i), axis=0) if kind == "scrolling"
                    else np.roll(held, i if kind == "drifting" else 0, axis=1)
                    for i in range(n))
            elif kind == "dissolving":
                card, scene, held_s, fade_s = what  # type: ignore[misc]
                held, other = (cv2.resize(np.asarray(p, np.uint8), (w, h),
                                          interpolation=cv2.INTER_AREA).astype(np.float32)
                               for p in (card, scene))
                pictures = (
                    np.clip(np.rint((1 - a) * np.roll(held, i, axis=1)
                                    + a * np.roll(other, -i, axis=1)), 0, 255).astype(np.uint8)
                    for i in range(n)
                    for a in [min(1.0, max(0.0, (i / fps - held_s) / fade_s))])
            elif kind in ("still", "card"):
                colour, text = (what, "") if kind == "still" else what  # type: ignore[misc]
                rgb = np.full((h, w, 3), colour, np.uint8)
                cv2.putText(rgb, text, (w // 10, h * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, h / 45,
                            (255, 255, 255), max(1, h // 30), cv2.LINE_AA)
                pictures = (rgb for _ in range(n))
            else:
                texture = np.random.default_rng(int(what)).integers(  # type: ignore[call-overload]
                    40, 200, (h, 2 * w, 3), dtype=np.uint8)
                pictures = (np.ascontiguousarray(texture[:, i % w: i % w + w])
                            for i in range(n))
            for rgb in pictures:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = pts, Fraction(1, fps)
                pts += 1
                out.mux(v.encode(frame))
        for k in range(0, sound.shape[1], 1024):
            block = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[:, k:k + 1024]),
                                               format="fltp", layout="stereo")
            block.sample_rate, block.pts = rate, k
            out.mux(a.encode(block))
        out.mux(v.encode(None))
        out.mux(a.encode(None))


def decode(path: Path) -> list[tuple[YUVFrame, float]]:
    """Decoded planes and presentation times, as a QC task would feed the detectors."""
    import av

    with av.open(str(path)) as src:
        return [(split_yuv420p(f.to_ndarray(format="yuv420p")), float(f.time))
                for f in src.decode(video=0)]


def frame_at(path: Path, t: float) -> np.ndarray:
    """The first decoded picture at or after ``t`` seconds, as RGB."""
    import av

    with av.open(str(path)) as src:
        for frame in src.decode(video=0):
            if frame.time is not None and frame.time >= t:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {t} s in {path}")


def ffmpeg_filter(path: Path, vf: str) -> tuple[list[dict[str, str]], str]:
    """Run an FFmpeg video filter chain ending in ``metadata=print``; per-frame metadata
    (``{"pts_time": …, "lavfi.…": …}``) and the log text."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path),
           "-vf", f"{vf},metadata=print:file=-", "-an", "-f", "null", "-"]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    frames: list[dict[str, str]] = []
    for line in run.stdout.splitlines():
        m = re.match(r"frame:\s*\d+\s+pts:\s*\S+\s+pts_time:(\S+)", line)
        if m:
            frames.append({"pts_time": m.group(1)})
        elif "=" in line and frames:
            key, _, value = line.partition("=")
            frames[-1][key.strip()] = value.strip()
    return frames, run.stderr


def log_spans(log: str, name: str) -> list[tuple[float, float]]:
    """(start, end) spans from blackdetect's log lines (``black_start:1 black_end:2``)."""
    pat = rf"{name}_start:\s*([\d.]+)\s+{name}_end:\s*([\d.]+)"
    return [(float(a), float(b)) for a, b in re.findall(pat, log)]


def meta_spans(frames: list[dict[str, str]], key: str,
               end_of_stream: float) -> list[tuple[float, float]]:
    """(start, end) spans from per-frame metadata such as freezedetect's
    (``key`` = ``lavfi.freezedetect.freeze``: ``…_start`` and ``…_end`` entries)."""
    spans: list[tuple[float, float]] = []
    start = None
    for f in frames:
        if f"{key}_start" in f:
            start = float(f[f"{key}_start"])
        if f"{key}_end" in f and start is not None:
            spans.append((start, float(f[f"{key}_end"])))
            start = None
    if start is not None:
        spans.append((start, end_of_stream))
    return spans


def camera_file(path: Path, rgb: tuple[int, int, int], sound: np.ndarray, *,
                start_s: float = 0.0, size: tuple[int, int] = (160, 90),
                container: str | None = None, created: str | None = None,
                codec: str = "aac", rate: int = 48000) -> None:
    """A 25-fps H.264 + AAC camera file of one colour and ``sound`` (mono, ``rate``, on both
    channels; its length sets the file's), its clock starting at ``start_s``, started at
    ``created`` (its creation time, ISO 8601); ``codec``: its sound's (``pcm_s16le`` in a
    MOV: a broadcast camcorder's)."""
    from fractions import Fraction

    import av

    fps, fs = 25, rate
    w, h = size
    with av.open(str(path), "w", format=container) as out:
        if created is not None:
            out.metadata["creation_time"] = created
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = out.add_stream(codec, rate=fs, layout="stereo")
        flat = np.full((h, w, 3), rgb, np.uint8)
        for i in range(round(sound.size / fs * fps)):
            frame = av.VideoFrame.from_ndarray(flat, format="rgb24")
            frame.pts, frame.time_base = i + round(start_s * fps), Fraction(1, fps)
            out.mux(v.encode(frame))
        stereo = np.ascontiguousarray(np.vstack([sound, sound]), dtype=np.float32)
        for k in range(0, stereo.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, k:k + 1024]),
                                               format="fltp", layout="stereo")
            frame.pts, frame.time_base = k + round(start_s * fs), Fraction(1, fs)
            frame.sample_rate = fs
            out.mux(a.encode(frame))
        out.mux(v.encode(None))
        out.mux(a.encode(None))
