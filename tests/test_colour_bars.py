"""``video.colour_bars`` (V1): a test signal where the lecture should be. The truth is FFmpeg's
own generators of the standard bars (SMPTE ECR 1-1978, RP 219, EBU 75 % and 100/0/75/0) and
of other test pictures that are not bars, coded in H.264 as a camera or a master would be."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from video_signals import camera_luma, flat_chroma, rgb_to_yuv420, slide_luma

from encoder_profiles import load_profile
from qc_metrics.bars import ColourBarsDetector, colour_bars
from qc_metrics.colour import CameraSpan
from qc_metrics.frames import YUVFrame
from tasks.qc import qc_file

PROFILE = load_profile()
BARS = ("smptebars", "smptehdbars", "pal75bars", "pal100bars")
NOT_BARS = ("testsrc", "testsrc2", "rgbtestsrc", "yuvtestsrc", "colorchart", "colorspectrum")


def _ffmpeg(*args: str) -> None:
    from foreign_media import FFMPEG  # here: the GPU machine runs the parity test without it

    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   capture_output=True, timeout=120)


def _frames(path: Path) -> list[YUVFrame]:
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            a, h, w = f.to_ndarray(format="yuv420p"), f.height, f.width
            out.append(YUVFrame(a[:h], a[h:h + h // 4].reshape(h // 2, w // 2),
                                a[h + h // 4:].reshape(h // 2, w // 2)))
    return out


def _source(tmp_path: Path, name: str, size: str, vf: str = "") -> Path:
    path = tmp_path / f"{name}-{size}.mp4"
    src = f"{name}=rate=25:duration=0.4" + ("" if name == "colorchart" else f":size={size}")
    _ffmpeg("-f", "lavfi", "-i", src, "-vf", f"scale={size.replace('x', ':')},"
            + (f"{vf}," if vf else "") + "format=yuv420p", "-c:v", "libx264", "-crf", "28",
            str(path))
    return path


@pytest.mark.parametrize("name", BARS)
def test_every_standard_bar_signal_is_found(tmp_path: Path, name: str) -> None:
    """HD and SD, BT.709 and BT.601 coding, 75 % and 100 %, coded at CRF 28; and after an
    analogue capture's noise (uniform ±4 codes, σ ≈ 2.3, different in every frame)."""
    for size, vf in (("1280x720", ""), ("720x576", ""), ("1920x1080", "noise=alls=4:allf=t")):
        frames = _frames(_source(tmp_path, name, size, vf))
        assert all(colour_bars(*f) for f in frames), (name, size, vf)


@pytest.mark.parametrize("name", NOT_BARS)
def test_other_test_pictures_are_not_bars(tmp_path: Path, name: str) -> None:
    frames = _frames(_source(tmp_path, name, "1280x720"))
    assert not any(colour_bars(*f) for f in frames), name


def test_lecture_pictures_and_flat_fields_are_not_bars() -> None:
    h, w = 720, 1280
    u, v = flat_chroma(h, w)
    camera = np.clip(np.round(camera_luma(h, w, seed=3)[0]), 0, 255).astype(np.uint8)
    assert not colour_bars(camera, u, v)
    slide = slide_luma(h, w)[0].astype(np.uint8)
    assert not colour_bars(slide, u, v)
    grey = np.full((h, w), 120, np.uint8)
    assert not colour_bars(grey, u, v)                      # a flat field: one run, no bars
    stripes = np.repeat(np.linspace(30, 220, 8).astype(np.uint8), w // 8)[None].repeat(h, 0)
    assert not colour_bars(stripes, u, v)                   # grey stripes: not the colours


def test_bars_in_a_file_are_found_where_they_are(tmp_path: Path) -> None:
    """A master with a second of bars cut into it at 2 s: ``video.colour_bars`` fails there,
    to the frame; the same file without them passes."""
    path = tmp_path / "master.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
            "-f", "lavfi", "-i", "smptehdbars=size=640x360:rate=25:duration=1",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
            "-filter_complex", "[0][1][2]concat=n=3,format=yuv420p", "-c:v", "libx264",
            str(path))
    check = next(c for c in qc_file(path, profile=PROFILE, gpu=False,
                                    thumbnails=False).report.checks
                 if c.id == "video.colour_bars")
    assert (check.status, check.clause) == ("fail", "V1"), check
    (event,) = check.events
    assert (event.start_s, event.end_s) == pytest.approx((2.0, 3.0), abs=0.001)
    assert check.measured == pytest.approx(1.0, abs=0.001)
    clean = tmp_path / "clean.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", str(clean))
    check = next(c for c in qc_file(clean, profile=PROFILE, gpu=False,
                                    thumbnails=False).report.checks
                 if c.id == "video.colour_bars")
    assert check.status == "pass"


def test_a_camera_on_bars_inside_the_layout_is_named(tmp_path: Path) -> None:
    """Picture in picture: the teacher's inset shows bars while the slides fill the rest; the
    whole picture is not bars, the teacher's region is."""
    (bars,) = _frames(_source(tmp_path, "smptehdbars", "320x180"))[:1]
    h, w = 720, 1280
    u, v = flat_chroma(h, w)
    y = slide_luma(h, w)[0].astype(np.uint8)
    y[520:700, 940:1260], u, v = bars.y, u.copy(), v.copy()
    u[260:350, 470:630], v[260:350, 470:630] = bars.u, bars.v
    assert not colour_bars(y, u, v)
    spans = [CameraSpan(0.0, 10.0, {"slides": (0, 0, 1280, 720),
                                    "teacher": (940, 520, 320, 180)}, authored=("slides",))]
    det = ColourBarsDetector(fps=25, profile=PROFILE, spans=spans)
    frames = YUVFrame(*(np.stack([p] * 10) for p in (y, u, v)))
    det.process_batch(frames, [k / 25 for k in range(10)])
    (check,) = det.finish()
    assert check.status == "fail" and "in the teacher camera's place" in check.events[0].detail


@pytest.mark.gpu
def test_cupy_parity(device_xp: Any) -> None:
    """The same answers from planes on the GPU (the rows are sliced there, judged on the
    host): RP 219-like bars drawn here (75 %, grey side panels), a camera picture, a slide."""
    cupy = device_xp
    h, w = 720, 1280
    bars = np.full((h, w, 3), 104.0)                              # 40 % grey
    colours = [(191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191),
               (191, 0, 0), (0, 0, 191)]
    for k, rgb in enumerate(colours):
        bars[:, 160 + k * 137: 160 + (k + 1) * 137] = rgb
    u, v = flat_chroma(h, w)
    camera = np.clip(np.round(camera_luma(h, w, seed=3)[0]), 0, 255).astype(np.uint8)
    frames = [rgb_to_yuv420(bars / 255.0), YUVFrame(camera, u, v),
              YUVFrame(slide_luma(h, w)[0].astype(np.uint8), u, v)]
    answers = [colour_bars(*f) for f in frames]
    assert answers == [True, False, False]
    assert [colour_bars(*(cupy.asarray(p) for p in f)) for f in frames] == answers
