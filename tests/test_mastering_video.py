"""Video mastering (V2–V4, B2, D5–D7, layouts): planted inputs, measured outputs.

Small generated clips with known answers go through analyse_video → render_lecture (no
Prefect); the delivered file is decoded and measured with the QC metrics.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from course_files import one_lecture
from device_emulator import assert_same_report
from foreign_media import FFMPEG

from courseware.course import load_course
from courseware.errors import CourseFileError
from courseware.media import cfr_frames
from courseware.report import Check
from encoder_profiles import Profile, load_profile
from qc_metrics.colour import camera_delta_e, colour_cast, levels
from qc_metrics.frames import YUVFrame
from qc_metrics.interlace import InterlaceDetector
from qc_metrics.noise import estimate_noise
from tasks.analyse_video import VideoPlan, _sample, analyse_video
from tasks.probe import SourceInfo, probe_lecture, probe_source
from tasks.qc import qc_file
from tasks.render import (
    AudioPlan,
    RenderResult,
    hdr_sources,
    lecture_compositor,
    render_lecture,
)
from tasks.verify import verify_file

PROFILE = load_profile()
FPS = 25
SECONDS = 3.0
LEAD = round(PROFILE.encode.title_card_s * FPS)  # title card frames before the lecture
LIM = PROFILE.video
_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB

# R'G'B' gains of the planted casts (V3) and the teacher camera's under-exposure
WARM = (1.07, 1.0, 0.91)
GREEN = (0.93, 1.06, 0.95)
CREAM = (1.0, 0.97, 0.86)      # a slide template's off-white: the author's, not a cast
EXPOSURE = 0.9

Picture = np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- generated media

def _rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R'G'B' 0…255 → BT.709 limited-range 4:2:0 planes (box-averaged chroma)."""
    x = rgb.astype(np.float64) / 255.0
    y = _KR * x[..., 0] + _KG * x[..., 1] + _KB * x[..., 2]
    cb = (x[..., 2] - y) / (2 * (1 - _KB))
    cr = (x[..., 0] - y) / (2 * (1 - _KR))
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def u8(p: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(p), 0, 255).astype(np.uint8)

    return u8(16 + 219 * y), u8(128 + 224 * sub(cb)), u8(128 + 224 * sub(cr))


def _write(path: Path, pictures: Iterable[Picture], *, size: tuple[int, int],
           rate: Fraction | int = FPS, times_ms: list[int] | None = None,
           params: str = "", sar: Fraction | None = None) -> None:
    """An H.264 MP4 of the pictures (R'G'B' arrays or 4:2:0 plane triples)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=1000 if times_ms else rate)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        options = {"preset": "ultrafast", "crf": "10"}
        if params:
            options["x264-params"] = params
        v.codec_context.options = options
        if sar is not None:
            v.codec_context.sample_aspect_ratio = sar
        tb = Fraction(1, 1000) if times_ms else 1 / Fraction(rate)
        for i, pic in enumerate(pictures):
            if isinstance(pic, tuple):
                y, u, vv = pic
                frame = av.VideoFrame.from_ndarray(np.concatenate(
                    [y, u.reshape(-1, y.shape[1]), vv.reshape(-1, y.shape[1])]), format="yuv420p")
            else:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pic), format="rgb24")
            frame.pts = times_ms[i] if times_ms else i
            frame.time_base = tb
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)


def _chart(w: int, h: int) -> np.ndarray:
    """Grey patches (the near-neutrals) and a few colours: matched content for both cameras."""
    greys = (60, 90, 120, 150, 180, 210, 105, 165)
    colours = ((180, 80, 70), (70, 140, 90), (80, 100, 170), (200, 170, 120))
    cells = [(g, g, g) for g in greys] + list(colours)
    img = np.zeros((h, w, 3), np.uint8)
    for k, c in enumerate(cells):
        r, col = divmod(k, 4)
        img[r * h // 3:(r + 1) * h // 3, col * w // 4:(col + 1) * w // 4] = c
    return img


def _cast(rgb: np.ndarray, gains: tuple[float, float, float], exposure: float = 1.0
          ) -> np.ndarray:
    return np.clip(np.rint(rgb * np.asarray(gains) * exposure), 0, 255).astype(np.uint8)


def _moving_box(w: int, h: int, t: float) -> np.ndarray:
    img = np.full((h, w, 3), 110, np.uint8)
    x = int(40 + 400 * t / SECONDS) % (w - 80)
    img[h // 4: 3 * h // 4, x: x + 80] = 235
    return img


def _interlaced(w: int, h: int, n: int) -> Iterable[np.ndarray]:
    """50i: each frame's top field at t, bottom field at t + 20 ms (tff)."""
    for i in range(n):
        top, bottom = _moving_box(w, h, i / FPS), _moving_box(w, h, i / FPS + 0.02)
        img = top.copy()
        img[1::2] = bottom[1::2]
        yield img


def _noisy(w: int, h: int, n: int, sigma: float, seed: int = 3
           ) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    base = np.full((h, w), 120.0)
    base[h // 3: 2 * h // 3, w // 4: w // 2] = 170.0
    for _ in range(n):
        y = np.clip(np.rint(base + rng.normal(0, sigma, base.shape)), 0, 255).astype(np.uint8)
        c = np.clip(np.rint(128 + rng.normal(0, 1.0, (2, h // 2, w // 2))), 0, 255)
        yield y, c[0].astype(np.uint8), c[1].astype(np.uint8)


def _out_of_range(w: int, h: int, n: int) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """V4 truth: a third of the luma below black (0–10), a third above white (245–255)."""
    y = np.full((h, w), 128, np.uint8)
    y[:, : w // 3] = np.tile(np.arange(11, dtype=np.uint8), w)[: w // 3]
    y[:, 2 * w // 3:] = 245 + np.arange(w - 2 * w // 3, dtype=np.uint8) % 11
    u = np.full((h // 2, w // 2), 128, np.uint8)
    for _ in range(n):
        yield y, u, u


def _frames(n: int, make: Callable[[float], np.ndarray], rate: float = FPS
            ) -> Iterable[np.ndarray]:
    return (make(i / rate) for i in range(n))


def _lecture(root: Path, *, slides: Path, teacher: Path, layout: str | None = None,
             switches: list[dict[str, object]] | None = None) -> Path:
    return one_lecture(root, {"slides": slides.name, "teacher": teacher.name}, layout=layout,
                       switches=switches, name="视频测试课程")


def _render(root: Path, profile: Profile = PROFILE, *, plan: bool = True, out: str = "out"
            ) -> tuple[RenderResult, VideoPlan | None]:
    course = load_course(root / "course.yaml")
    inputs = probe_lecture(course, course.lectures[0])
    video = analyse_video(inputs, profile) if plan else None
    res = render_lecture(course, inputs, audio=AudioPlan(role=None), profile=profile,
                         out_dir=root / out, video=video)
    return res, video


def _decode(path: Path, picks: Iterable[int]) -> dict[int, YUVFrame]:
    """Chosen output frames (index in the film) as 4:2:0 planes."""
    wanted, out = set(picks), {}
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                buf = frame.to_ndarray(format="yuv420p")
                h, w = frame.height, frame.width
                out[i] = YUVFrame(buf[:h].copy(), buf[h: h + h // 4].reshape(h // 2, w // 2),
                                  buf[h + h // 4:].reshape(h // 2, w // 2))
    return out


def _crop(f: YUVFrame, x: int, y: int, w: int, h: int) -> YUVFrame:
    return YUVFrame(f.y[y: y + h, x: x + w], f.u[y // 2: (y + h) // 2, x // 2: (x + w) // 2],
                    f.v[y // 2: (y + h) // 2, x // 2: (x + w) // 2])


# pip (1280×720): slides slot 960×540 at (20, 90); teacher slot 260×146 at (1000, 90)
PIP_SLIDES = (40, 110, 920, 500)
PIP_TEACHER = (1008, 96, 244, 132)
# side_by_side: slides region (0, 180, 640, 360), teacher region (640, 180, 640, 360)
SBS_TEACHER = (640, 180, 640, 360)


# --------------------------------------------------------------------------- analysis pass

@pytest.mark.parametrize("keyint", [5, 250])
def test_analysis_measures_keyframes_when_the_source_has_them(tmp_path: Path,
                                                              keyint: int) -> None:
    """A keyframe every 0.2 s: the keyframe at or before each target time is measured
    (decoded alone). One keyframe in the clip (long GOP): the target frames themselves,
    decoded forward. Each picture's luma codes its frame index, so the test reads which
    frames were measured."""
    n, size = 75, (320, 180)
    chroma = np.full((size[1] // 2, size[0] // 2), 128, np.uint8)
    pictures = ((np.full((size[1], size[0]), 20 + 2 * i, np.uint8), chroma, chroma)
                for i in range(n))
    path = tmp_path / "camera.mp4"
    _write(path, pictures, size=size,
           params=f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0")
    targets = [0.5, 1.5, 2.5]
    got = _sample(SourceInfo(role="teacher", path=path, duration_s=n / FPS), targets,
                  lecture="1", profile=PROFILE)
    measured = got.measures
    index = [round((float(np.median(y)) - 20) / 2) for y, _, _ in measured.cosited]
    assert index == [round(t * FPS) for t in measured.times]     # the frame at each time
    assert len(measured.casts) == len(measured.sigmas) == len(index)
    if keyint == 5:
        assert index == [10, 35, 60]                             # the keyframes before
    else:
        assert all(abs(i / FPS - t) <= 1 / FPS for i, t in zip(index, targets, strict=True))
    assert not got.interlaced and got.sar == 1.0


# --------------------------------------------------------------------------- colour (V3)

@pytest.fixture(scope="module")
def colour(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RenderResult, VideoPlan]]:
    """Two cameras: the slides filmed (sensor noise), the teacher with a planted cast
    ("warm", "green"); and a digital slides capture in a cream template ("authored")."""
    out = {}
    n = round(SECONDS * FPS)
    rng = np.random.default_rng(7)
    chart = _chart(640, 360)

    def filmed() -> Iterable[np.ndarray]:
        for _ in range(n):
            yield np.clip(chart + rng.normal(0, 1.5, chart.shape), 0, 255).astype(np.uint8)

    for name, gains in (("warm", WARM), ("green", GREEN), ("authored", WARM)):
        root = tmp_path_factory.mktemp(name)
        if name == "authored":
            cream = _cast(chart, CREAM)
            _write(root / "slides.mp4", (cream for _ in range(n)), size=(640, 360))
        else:
            _write(root / "slides.mp4", filmed(), size=(640, 360))
        teacher = _cast(_chart(320, 180), gains, EXPOSURE)
        _write(root / "teacher.mp4", (teacher for _ in range(n)), size=(320, 180))
        _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4")
        res, plan = _render(root)
        assert plan is not None
        out[name] = (res, plan)
    return out


@pytest.mark.parametrize("name", ["warm", "green"])
def test_cast_is_removed_and_cameras_match(colour: dict, name: str) -> None:
    res, plan = colour[name]
    teacher = plan.sources["teacher"]
    assert teacher.cast is not None and teacher.cast > 2 * LIM.cast_max  # planted
    frames = _decode(res.path, range(LEAD + 10, LEAD + 70, 10))
    for f in frames.values():
        slot, slides = _crop(f, *PIP_TEACHER), _crop(f, *PIP_SLIDES)
        cast = colour_cast(slot, luma_range=LIM.luma_range, chroma_range=LIM.chroma_range,
                           step=1)
        assert cast.magnitude < LIM.cast_max, cast  # V3: no visible cast
        de = camera_delta_e(slot, slides, luma_range=LIM.luma_range,
                            chroma_range=LIM.chroma_range)
        assert de < LIM.camera_delta_e_max, de  # V3: cameras match
    assert plan.camera_delta_e_after is not None
    assert plan.camera_delta_e_after < LIM.camera_delta_e_max


def test_camera_match_is_measured_on_the_rendered_film(colour: dict) -> None:
    """video.camera_match of the lecture's QC: the render says where each camera is; the
    film with the planted cast left in fails, the corrected one passes."""
    res, _ = colour["warm"]
    (span,) = res.cameras
    assert span.start_s == pytest.approx(LEAD / FPS)
    assert span.end_s == pytest.approx(LEAD / FPS + SECONDS)
    assert set(span.regions) == {"slides", "teacher"}

    def checks(path: Path) -> dict[str, Check]:
        report = qc_file(path, profile=PROFILE, thumbnails=False, cameras=res.cameras).report
        return {c.id: c for c in report.checks}

    fixed = checks(res.path)["video.camera_match"]
    assert fixed.status == "pass" and fixed.measured < LIM.camera_delta_e_max, fixed
    raw, _ = _render(res.path.parent.parent, plan=False, out="uncorrected")
    uncorrected = checks(raw.path)
    left = uncorrected["video.camera_match"]
    assert left.status == "fail" and left.measured > LIM.camera_delta_e_max, left
    assert "teacher" in left.message
    # B3 from the same layout: picture-in-picture keeps the slides whole on over half
    b3 = uncorrected["video.slides_layout"]
    *_, w, h = span.regions["slides"]
    assert b3.status == "pass" and b3.measured == pytest.approx(w * h / (1280 * 720), abs=1e-4)
    assert b3.measured >= LIM.slides_share_min and b3.clause == "B3"


def test_authored_slides_keep_their_colours(colour: dict) -> None:
    """A slides capture straight from the computer (no sensor noise) in a cream template:
    the render keeps the author's cream and still corrects the teacher camera; the lecture's
    QC judges white balance on the teacher only and has no second camera to match."""
    res, plan = colour["authored"]
    slides, teacher = plan.sources["slides"], plan.sources["teacher"]
    assert slides.authored and not teacher.authored
    assert slides.cast is not None and slides.cast > 2 * LIM.cast_max       # the template
    assert slides.gains == (1.0, 1.0, 1.0)
    frames = _decode(res.path, range(LEAD + 10, LEAD + 70, 20))
    for f in frames.values():
        kept = colour_cast(_crop(f, *PIP_SLIDES), luma_range=LIM.luma_range,
                           chroma_range=LIM.chroma_range, step=1)
        assert kept.magnitude == pytest.approx(slides.cast, abs=1.0)         # still cream
        fixed = colour_cast(_crop(f, *PIP_TEACHER), luma_range=LIM.luma_range,
                            chroma_range=LIM.chroma_range, step=1)
        assert fixed.magnitude < LIM.cast_max
    (span,) = res.cameras
    assert span.authored == ("slides",)
    report = qc_file(res.path, profile=PROFILE, thumbnails=False, cameras=res.cameras).report
    checks = {c.id: c for c in report.checks}
    assert checks["video.white_balance"].status == "pass", checks["video.white_balance"]
    assert "nor the slides capture" in checks["video.white_balance"].message
    assert checks["video.camera_match"].status == "skip"
    assert "not a camera" in checks["video.camera_match"].message
    # judged as a camera, the cream template is a cast: what the QC did before
    as_camera = [dataclasses.replace(span, authored=())]
    report = qc_file(res.path, profile=PROFILE, thumbnails=False, cameras=as_camera).report
    assert next(c for c in report.checks if c.id == "video.camera_match").status == "fail"


@pytest.mark.gpu
def test_the_device_judges_a_rendered_lecture_as_the_cpu_does(colour: dict,
                                                              device_xp: Any) -> None:
    """The lecture's QC with its layout (each camera's region: camera match, white balance
    of the cameras only, the authored slides left alone) on the device path."""
    for key in ("warm", "authored"):
        res, _ = colour[key]
        host, device = (qc_file(res.path, profile=PROFILE, thumbnails=False,
                                cameras=res.cameras, gpu=gpu).report for gpu in (False, True))
        assert (host.backend, device.backend) == ("numpy", "cupy")
        assert_same_report(device, host)


def test_cameras_differ_before_correction(colour: dict) -> None:
    """The planted difference is real: the raw teacher camera vs the slides."""
    res, _ = colour["warm"]
    root = res.path.parent.parent
    a = next(f for f in cfr_frames(root / "teacher.mp4", fps=FPS) if f is not None)
    b = next(f for f in cfr_frames(root / "slides.mp4", fps=FPS) if f is not None)

    def planes(frame: av.VideoFrame) -> YUVFrame:
        buf, h = frame.to_ndarray(format="yuv420p"), frame.height
        w = frame.width
        return YUVFrame(buf[:h], buf[h: h + h // 4].reshape(h // 2, w // 2),
                        buf[h + h // 4:].reshape(h // 2, w // 2))

    de = camera_delta_e(planes(a), planes(b), luma_range=LIM.luma_range,
                        chroma_range=LIM.chroma_range)
    assert de > 2 * LIM.camera_delta_e_max


# --------------------------------------------------------------------------- conform (D5–D7, B2)

def _comb(y: np.ndarray) -> float:
    """Comb artefact energy: mean |2·y[r] − y[r−1] − y[r+1]| (line-to-line zig-zag)."""
    f = y.astype(np.float32)
    return float(np.abs(2 * f[1:-1] - f[:-2] - f[2:]).mean())


@pytest.fixture(scope="module")
def conform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RenderResult, Path]]:
    """Three lectures: 50i teacher + 29.97 fps 4:3 slides; progressive teacher + 30 fps
    anamorphic slides (SAR 4:3); VFR teacher + 50p out-of-range slides, switching layout."""
    n = round(SECONDS * FPS)
    out = {}
    root = tmp_path_factory.mktemp("interlaced")
    ntsc = Fraction(30000, 1001)
    _write(root / "slides.mp4", _frames(round(SECONDS * ntsc), lambda t: _chart(640, 480), 29.97),
           size=(640, 480), rate=ntsc)
    _write(root / "teacher.mp4", _interlaced(640, 360, n), size=(640, 360),
           params="interlaced=1:tff=1")
    _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4",
             layout="side_by_side")
    out["interlaced"] = (_render(root)[0], root)

    root = tmp_path_factory.mktemp("progressive")
    _write(root / "slides.mp4", _frames(round(SECONDS * 30), lambda t: _chart(480, 360), 30),
           size=(480, 360), rate=30, sar=Fraction(4, 3))
    _write(root / "teacher.mp4", _frames(n, lambda t: _moving_box(640, 360, t)),
           size=(640, 360))
    _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4",
             layout="side_by_side")
    out["progressive"] = (_render(root, plan=False)[0], root)  # no plan: SAR probed in render

    root = tmp_path_factory.mktemp("vfr")
    _write(root / "slides.mp4", _out_of_range(640, 360, round(SECONDS * 50)), size=(640, 360),
           rate=50)
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.uniform(20, 70, 200)).astype(int)
    times = [0, *times[times < SECONDS * 1000 - 10].tolist()]
    _write(root / "teacher.mp4", (_chart(320, 180) for _ in times), size=(320, 180),
           times_ms=times)
    _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4",
             switches=[{"at": 2.0, "layout": "side_by_side"}])
    out["vfr"] = (_render(root)[0], root)
    return out


@pytest.mark.parametrize("case", ["interlaced", "progressive", "vfr"])
def test_any_input_comes_out_25p_16_9_progressive(conform: dict, case: str) -> None:
    res, _ = conform[case]
    report = verify_file(res.path, profile=PROFILE)
    assert report.status == "pass", report.table()
    cards = PROFILE.encode.title_card_s + PROFILE.encode.credits_s
    # every source is SECONDS long (29.97: 90 frames = 3.003 s; VFR: last frame + its duration)
    assert res.duration_s == pytest.approx(SECONDS + cards, abs=0.1), res.duration_s
    with av.open(str(res.path)) as c:
        pts = [p.pts for p in c.demux(video=0) if p.pts is not None]
        stream = c.streams.video[0]
        assert stream.average_rate == FPS
    steps = np.diff(sorted(pts))
    assert len(set(steps.tolist())) == 1  # constant frame rate, no gaps (D6)
    assert len(pts) == res.frames == round(res.duration_s * FPS)
    # B2: every source here is below 1280×720, and the render says so
    assert len(res.warnings) == 2 and all("B2" in w for w in res.warnings)


def test_interlaced_source_is_detected_and_combing_removed(conform: dict) -> None:
    res, root = conform["interlaced"]
    ref, _ = conform["progressive"]
    assert res.video.sources["teacher"].interlaced
    assert res.video.sources["teacher"].field_order == "tff"
    assert not res.video.sources["slides"].interlaced
    raw = [f for f in cfr_frames(root / "teacher.mp4", fps=FPS, deinterlace=False)][10:60:10]
    combed = np.mean([_comb(f.to_ndarray(format="yuv420p")[:360]) for f in raw])
    picks = range(LEAD + 10, LEAD + 60, 10)
    out = np.mean([_comb(_crop(f, *SBS_TEACHER).y) for f in _decode(res.path, picks).values()])
    clean = np.mean([_comb(_crop(f, *SBS_TEACHER).y)
                     for f in _decode(ref.path, picks).values()])
    assert combed > 3 * clean  # the planted artefact
    assert out < 1.5 * clean, (combed, out, clean)
    # and the QC's picture check (D7) sees the combing in the source, not in the lecture
    assert _interlacing(root / "teacher.mp4").status == "fail"
    assert _interlacing(res.path).status == "pass"


def test_an_interlaced_picture_flagged_progressive_is_deinterlaced(tmp_path: Path,
                                                                   conform: dict) -> None:
    """50i footage coded as progressive (a capture chain that did not deinterlace): the flags
    say nothing, the analysis sees the combing, the render deinterlaces every frame."""
    n = round(SECONDS * FPS)
    _write(tmp_path / "slides.mp4", _frames(n, lambda t: _chart(640, 360)), size=(640, 360))
    _write(tmp_path / "teacher.mp4", _interlaced(640, 360, n), size=(640, 360))  # no flags
    _lecture(tmp_path, slides=tmp_path / "slides.mp4", teacher=tmp_path / "teacher.mp4",
             layout="side_by_side")
    res, video = _render(tmp_path)
    assert video is not None
    teacher = video.sources["teacher"]
    assert (teacher.combed, teacher.interlaced, teacher.field_order) == (True, True, "tff")
    assert not video.sources["slides"].combed and not video.sources["slides"].interlaced
    assert any("interlaced picture" in w and "top field first" in w for w in res.warnings)
    assert _interlacing(tmp_path / "teacher.mp4").status == "fail"
    assert _interlacing(res.path).status == "pass"
    ref, _ = conform["progressive"]                  # the same scene filmed progressive
    picks = range(LEAD + 10, LEAD + 60, 10)
    out = np.mean([_comb(_crop(f, *SBS_TEACHER).y) for f in _decode(res.path, picks).values()])
    clean = np.mean([_comb(_crop(f, *SBS_TEACHER).y)
                     for f in _decode(ref.path, picks).values()])
    assert out < 1.5 * clean, (out, clean)


def test_25p_stored_as_50i_keeps_its_full_picture(tmp_path: Path) -> None:
    """25PsF (camcorders store 25p in a 50i stream): the frames are flagged interlaced, but
    both fields of each show one instant. The picture says so; the render leaves the frames
    as they are, as it does the same scene flagged progressive (bwdif would interpolate the
    moving edges, every other line)."""
    n = round(SECONDS * FPS)
    outs = {}
    for name, params in (("psf", "interlaced=1:tff=1"), ("progressive", "")):
        root = tmp_path / name
        root.mkdir()
        _write(root / "slides.mp4", _frames(n, lambda t: _chart(640, 360)), size=(640, 360))
        _write(root / "teacher.mp4", _frames(n, lambda t: _pan(640, 360, t)),
               size=(640, 360), params=params)
        _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4",
                 layout="side_by_side")
        outs[name] = _render(root)
    (psf, video), (ref, _) = outs["psf"], outs["progressive"]
    assert video is not None
    teacher = video.sources["teacher"]
    assert (teacher.psf, teacher.interlaced, teacher.field_order) == (True, False, "progressive")
    picks = range(LEAD + 10, LEAD + 60, 10)

    def detail(path: Path) -> float:   # line-to-line detail of the teacher's picture
        return float(np.mean([_detail(_crop(f, *SBS_TEACHER).y)
                              for f in _decode(path, picks).values()]))
    # as the progressive scene's (0.2 % apart); deinterlaced, 4 % of it would be lost
    assert detail(psf.path) == pytest.approx(detail(ref.path), rel=0.02)


def _detail(y: np.ndarray) -> float:
    """Mean |y[r] − y[r+1]|: the vertical detail that deinterlacing interpolates away."""
    return float(np.abs(np.diff(y.astype(np.float32), axis=0)).mean())


def _pan(w: int, h: int, t: float) -> np.ndarray:
    """A camera panning 100 px/s over a finely textured wall (detail on every line)."""
    rng = np.random.default_rng(11)
    wall = cv2.GaussianBlur(rng.normal(0, 1, (h, w + 400)).astype(np.float32), (0, 0), 1.2)
    wall = np.clip(128 + 40 * wall / wall.std(), 0, 255).astype(np.uint8)
    x = int(100 * t)
    return np.repeat(wall[:, x: x + w, None], 3, axis=2)


def _interlacing(path: Path) -> Check:
    detector = InterlaceDetector(fps=FPS, profile=PROFILE, every=2)
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            planes = f.to_ndarray(format="yuv420p")
            h = f.height
            detector.process(YUVFrame(planes[:h], planes[h:h + h // 4].reshape(h // 2, -1),
                                      planes[h + h // 4:].reshape(h // 2, -1)), float(f.time))
    (check,) = detector.finish()
    return check


# --------------------------------------------------------------------------- rotation

def _rotated(src: Path, dst: Path, degrees: int) -> None:
    """``src`` remuxed with a display rotation, as a phone writes it: the same pixels, and a
    matrix telling players to turn them ``degrees`` counterclockwise."""
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-display_rotation",
                    str(degrees), "-i", str(src), "-c", "copy", str(dst)],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("degrees", [90, 180, -90])
def test_a_rotated_source_is_read_as_players_show_it(tmp_path: Path, degrees: int) -> None:
    """cfr_frames applies a file's display rotation as FFmpeg's autorotate does (the ffmpeg
    command line decodes the file to the same pixels), and the probe gives the size shown."""
    camera, phone = tmp_path / "camera.mp4", tmp_path / "phone.mp4"
    _write(camera, _frames(3, lambda t: _chart(320, 180)), size=(320, 180))
    _rotated(camera, phone, degrees)
    ours = next(f for f in cfr_frames(phone, fps=FPS) if f is not None).to_ndarray(format="gray")
    ref = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(phone),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    assert ours.shape == ((180, 320) if degrees == 180 else (320, 180))
    assert np.array_equal(ours, np.frombuffer(ref, np.uint8).reshape(ours.shape))
    info = probe_source("teacher", phone, lecture="1", needs_video=True)
    assert (info.width, info.height) == (ours.shape[1], ours.shape[0])
    assert info.rotation % 360 == degrees % 360


@pytest.mark.parametrize(("size", "sar"), [((640, 360), None), ((480, 360), Fraction(4, 3))])
def test_a_portrait_phone_teacher_is_upright_and_keeps_its_shape(
        tmp_path: Path, size: tuple[int, int], sar: Fraction | None) -> None:
    """A teacher filmed on a phone held upright: stored 16:9 (square pixels, or 480×360 with
    4:3 pixels), shown turned 90°. The render shows it as players do: a 9:16 picture in its
    slot (the pixels' aspect turned too), the right way round."""
    n = round(SECONDS * FPS)
    _write(tmp_path / "slides.mp4", _frames(n, lambda t: _chart(640, 360)), size=(640, 360))
    _write(tmp_path / "camera.mp4", _frames(n, lambda t: _chart(*size)), size=size, sar=sar)
    _rotated(tmp_path / "camera.mp4", tmp_path / "teacher.mp4", 90)
    _lecture(tmp_path, slides=tmp_path / "slides.mp4", teacher=tmp_path / "teacher.mp4",
             layout="side_by_side")
    res, _ = _render(tmp_path)
    f = _decode(res.path, [LEAD + 5])[LEAD + 5]
    x, y, w, h = SBS_TEACHER
    luma = f.y[y: y + h, x: x + w].astype(float)
    on = np.abs(luma - float(f.y[5, 5])) > 6                # not the layout's background
    cols, rows = np.flatnonzero(on.any(axis=0)), np.flatnonzero(on.any(axis=1))
    box = luma[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    assert box.shape[1] / box.shape[0] == pytest.approx(9 / 16, rel=0.03), box.shape
    stored = _rgb_to_yuv(_chart(*size))[0].astype(np.float32)

    def error(turned: np.ndarray) -> float:
        shown = cv2.resize(np.ascontiguousarray(turned), box.shape[::-1],
                           interpolation=cv2.INTER_AREA)
        return float(np.abs(shown - box).mean())

    upright, upside_down = error(np.rot90(stored, 1)), error(np.rot90(stored, -1))
    assert upright < 0.25 * upside_down, (upright, upside_down)


@pytest.mark.parametrize(("transfer", "hdr"), [("arib-std-b67", "HLG"), ("smpte2084", "PQ"),
                                              ("bt709", None)])
def test_hdr_sources_are_named_with_the_fix(tmp_path: Path, transfer: str, hdr: str | None
                                             ) -> None:
    """A phone's default HDR video (HLG, or PQ) would be rendered as standard range: the
    render says so, naming the file and the fix; an SDR source gets no such warning."""
    _write(tmp_path / "slides.mp4", _frames(3, lambda t: _chart(320, 180)), size=(320, 180))
    _write(tmp_path / "teacher.mp4", _frames(3, lambda t: _chart(320, 180)), size=(320, 180),
           params=f"transfer={transfer}:colorprim=bt2020:colormatrix=bt2020nc")
    course = load_course(_lecture(tmp_path, slides=tmp_path / "slides.mp4",
                                  teacher=tmp_path / "teacher.mp4"))
    inputs = probe_lecture(course, course.lectures[0])
    assert inputs.sources["teacher"].hdr == hdr and inputs.sources["slides"].hdr is None
    warnings = hdr_sources(inputs)
    if hdr is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert f"teacher.mp4 is HDR video ({hdr} transfer)" in warning
        assert "HDR off" in warning


def _picture_box(f: YUVFrame, region: tuple[int, int, int, int], bg: int) -> tuple[int, int]:
    """Width and height of the source picture inside a region (pixels differing from the
    background colour's luma)."""
    x, y, w, h = region
    luma = f.y[y: y + h, x: x + w].astype(int)
    on = np.abs(luma - bg) > 6
    cols, rows = np.flatnonzero(on.any(axis=0)), np.flatnonzero(on.any(axis=1))
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def test_4_3_and_anamorphic_sources_keep_their_shape(conform: dict) -> None:
    """D5: letterboxed/pillarboxed without distortion; SAR 4:3 × 480×360 displays 16:9."""
    bg = int(_decode(conform["interlaced"][0].path, [LEAD])[LEAD].y[5, 5])  # layout background
    for case, aspect in (("interlaced", 4 / 3), ("progressive", 16 / 9)):
        res, _ = conform[case]
        f = _decode(res.path, [LEAD + 5])[LEAD + 5]
        w, h = _picture_box(f, (0, 180, 640, 360), bg)
        assert w / h == pytest.approx(aspect, rel=0.02), (case, w, h)


def test_out_of_range_levels_are_made_legal(conform: dict) -> None:
    res, _ = conform["vfr"]
    src = next(iter(_out_of_range(640, 360, 1)))
    share = levels(YUVFrame(*src), luma_range=LIM.luma_range, chroma_range=LIM.chroma_range)
    assert share.share > 0.5  # planted
    for f in _decode(res.path, range(LEAD, LEAD + 75, 5)).values():
        lv = levels(f, luma_range=LIM.luma_range, chroma_range=LIM.chroma_range)
        assert lv.share <= LIM.out_of_range_max, lv  # V4


def test_layout_switches_at_two_seconds(conform: dict) -> None:
    res, _ = conform["vfr"]
    at = LEAD + round(2.0 * FPS)
    frames = _decode(res.path, [at - 1, at])
    before, after = frames[at - 1], frames[at]
    # pip: the teacher chart sits top right, background below it; side_by_side: the chart
    # fills the right half from y = 180, background above
    pip_slot = (slice(96, 170), slice(1008, 1252))
    sbs_slot = (slice(300, 500), slice(1000, 1250))
    assert before.y[pip_slot].std() > 10 and before.y[sbs_slot].std() < 2
    assert after.y[sbs_slot].std() > 10 and after.y[pip_slot].std() < 2


def test_layout_switches_are_validated(tmp_path: Path) -> None:
    src = tmp_path / "a.mp4"
    for switches, word in (([{"at": 1.0, "layout": "nope"}], "unknown layout"),
                           ([{"at": 2.0, "layout": "pip"}, {"at": 1.0, "layout": "pip"}],
                            "increase")):
        _lecture(tmp_path, slides=src, teacher=src, switches=switches)
        with pytest.raises(CourseFileError, match=word):
            load_course(tmp_path / "course.yaml")


# --------------------------------------------------------------------------- noise (V2)

def test_denoise_lowers_output_noise(tmp_path: Path) -> None:
    """σ = 3 codes planted in the teacher camera; measured on the composed frames (what goes
    into the encoder: at 912 kbps x264 itself flattens most of what is left) with the plan
    of ``encode.denoise: auto`` and of ``off``; the delivered file is no noisier either."""
    n = round(SECONDS * FPS)
    root = tmp_path / "noisy"
    root.mkdir()
    _write(root / "slides.mp4", (_chart(640, 360) for _ in range(n)), size=(640, 360))
    _write(root / "teacher.mp4", _noisy(320, 180, n, sigma=3.0), size=(320, 180))
    _lecture(root, slides=root / "slides.mp4", teacher=root / "teacher.mp4")
    course = load_course(root / "course.yaml")
    inputs = probe_lecture(course, course.lectures[0])
    off = PROFILE.model_copy(update={"encode": PROFILE.encode.model_copy(
        update={"denoise": "off"})})
    sigma = {}
    for name, profile in (("auto", PROFILE), ("off", off)):
        plan = analyse_video(inputs, profile)
        teacher = plan.sources["teacher"]
        assert teacher.noise_sigma == pytest.approx(3.0, rel=0.25)  # planted, measured
        assert teacher.snr_db is not None and teacher.snr_db < LIM.snr_min_db
        assert teacher.denoise is (name == "auto")
        comp = lecture_compositor(course.lectures[0], inputs, profile=profile, video=plan)
        readers = {r: cfr_frames(s.path, fps=FPS) for r, s in inputs.sources.items()}
        found = []
        for i in range(50):
            frame = comp.compose({r: next(it) for r, it in readers.items()}, i / FPS)
            if i >= 20 and i % 5 == 0:
                buf = frame.to_ndarray(format="yuv420p")[:720]
                x, y, w, h = PIP_TEACHER
                found.append(estimate_noise(buf[y: y + h, x: x + w],
                                            luma_range=LIM.luma_range).sigma)
        sigma[name] = float(np.median(found))
    # still clearly noisy at slot size (area downscaling from 320×180 averages some away;
    # V2 allows σ ≈ 0.39)
    assert sigma["off"] > 1.0
    assert sigma["auto"] < 0.6 * sigma["off"], sigma
