"""A camera whose pictures go black while it records (a slides capture that lost its signal
while the lecturer changed laptops, a lens cap): for runs of ``encode.hide_black_s`` or
more the layout shows the other cameras, from the first black frame to the first one that
is not; shorter runs (a fade through black) are left as they are; the render says where."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from video_signals import frame_at

from courseware.compose import black_picture, black_runs
from encoder_profiles import load_profile

PROFILE = load_profile()
LIMITED = PROFILE.video.luma_range
FPS = 25
SLIDES_RGB = (200, 210, 220)
TEACHER_RGB = (150, 100, 60)


def _yuv(y: int, *, fmt: str = "yuv420p", size: tuple[int, int] = (64, 36),
         white_share: float = 0.0) -> av.VideoFrame:
    """A picture of luma ``y`` (chroma neutral), ``white_share`` of its pixels (spread at
    random, as text is over a picture) at 235."""
    w, h = size
    luma = np.full((h, w), y, np.uint8)
    white = np.random.default_rng(1).choice(w * h, round(white_share * w * h), replace=False)
    luma.reshape(-1)[white] = 235
    buf = np.concatenate([luma.reshape(-1), np.full(w * h // 2, 128, np.uint8)])
    frame = av.VideoFrame.from_ndarray(buf.reshape(h * 3 // 2, w), format="yuv420p")
    if fmt == "yuvj420p":              # the same codes, read as full range
        full = av.VideoFrame(w, h, fmt)
        for mine, theirs in zip(full.planes, frame.planes, strict=True):
            mine.update(bytes(theirs))
        return full
    return frame if fmt == "yuv420p" else frame.reformat(format=fmt)


def test_a_black_picture_by_ffmpeg_blackdetects_test() -> None:
    """blackdetect's defaults in the limited range: a pixel is black at or under
    16 + 0.10·219 = 37.9 → 37; a picture is black when 98 % of its pixels are."""
    assert black_picture(_yuv(16), LIMITED)
    assert black_picture(_yuv(37), LIMITED)
    assert not black_picture(_yuv(38), LIMITED)
    # white text on black: 1 % of the pixels is still a black picture, 4 % is not
    assert black_picture(_yuv(16, size=(256, 144), white_share=0.01), LIMITED)
    assert not black_picture(_yuv(16, size=(256, 144), white_share=0.04), LIMITED)
    # full range: black is 0 and the level 25; a 10-bit picture is judged as the film has it
    full = _yuv(30)
    full.color_range = 2
    assert not black_picture(full, LIMITED)
    full = _yuv(20)
    full.color_range = 2
    assert black_picture(full, LIMITED)
    assert not black_picture(_yuv(30, fmt="yuvj420p"), LIMITED)  # full range by its format
    assert black_picture(_yuv(20, fmt="yuv420p10le"), LIMITED)
    assert not black_picture(_yuv(120, fmt="yuv420p10le"), LIMITED)


def test_black_runs_look_ahead_only_over_black_pictures(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Flags for every frame in order; a run of ``min_frames`` black pictures is known from
    its first; a shorter one (also at the end) is not; the same frame object again (a CFR
    repeat) is judged once, and a held black picture with the same pixels as the one before
    it (a lost signal's steady black) is held as that one; closing it closes its source."""
    lit, dark = _yuv(120), _yuv(16)
    dark_again, grey = _yuv(16), _yuv(20)       # the same pixels as ``dark``; other ones
    seq = [None, lit, dark, dark, lit, dark, dark_again, grey, dark, lit, dark, dark]
    judged: list[av.VideoFrame] = []

    def counting(frame: av.VideoFrame, luma_range: tuple[int, int]) -> bool:
        judged.append(frame)
        return black_picture(frame, luma_range)

    monkeypatch.setattr("courseware.compose.black_picture", counting)
    out = list(black_runs(iter(seq), min_frames=3, luma_range=LIMITED))
    assert [f for f, _ in out] == [*seq[:6], dark, *seq[7:]]
    assert out[6][0] is dark and out[7][0] is grey
    assert [b for _, b in out] == [None, None, None, None, None,
                                   "black", "black", "black", "black", None, None, None]
    assert len(judged) == 9                      # not None, nor a repeated object

    assert not any(b for _, b in black_runs(iter([dark] * 10), min_frames=0,
                                            luma_range=LIMITED))
    closed: list[bool] = []

    def source() -> Iterator[av.VideoFrame]:
        try:
            while True:
                yield dark
        finally:
            closed.append(True)

    runs = black_runs(source(), min_frames=4, luma_range=LIMITED)
    assert next(runs) == (dark, "black")
    runs.close()
    assert closed == [True]


#: 75 % colour bars (SMPTE ECR 1-1978's upper part) at the test clips' size, as R'G'B'
BARS_RGB = np.repeat(np.array([(191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0),
                               (191, 0, 191), (191, 0, 0), (0, 0, 191)], np.uint8),
                     [23, 23, 23, 23, 23, 23, 22], axis=0)[None].repeat(90, axis=0)


def _clip(path: Path, colour_at: Callable[[float], tuple[int, int, int] | np.ndarray],
          seconds: float) -> None:
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        for i in range(round(seconds * FPS)):
            rgb = np.ascontiguousarray(np.broadcast_to(
                np.asarray(colour_at(i / FPS), np.uint8), (90, 160, 3)))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))


#: the slides capture's black stretches (s, on frames): 1 s (a fade: left), 2.6 s and 2 s
#: (hidden)
BLACK = ((1.0, 2.0), (3.0, 5.6), (7.6, 9.6))


def _slides(t: float) -> tuple[int, int, int]:
    return (0, 0, 0) if any(a <= t < b for a, b in BLACK) else SLIDES_RGB


def _mean(path: Path, t: float, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    part = frame_at(path, t)[y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4]
    return part.reshape(-1, 3).mean(axis=0)


def _render_pip(tmp_path: Path, seconds: float, *, name: str,
                switches: list[dict[str, object]] | None = None
                ) -> tuple[Any, list[tuple[float, float, list[str]]]]:
    """``slides.mp4`` and ``teacher.mp4`` in ``tmp_path`` with a microphone, rendered in
    picture-in-picture; the result and where each camera was (lecture time, sources)."""
    from audio_signals import speech_like, write_wav
    from course_files import one_lecture

    from courseware.course import load_course
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture

    speech = speech_like(level_dbfs=-26.0, seconds=seconds, sample_rate=48000, seed=5).samples
    write_wav(tmp_path / "mic.wav", speech.repeat(2, axis=0), 48000)
    course = load_course(one_lecture(
        tmp_path, {"slides": "slides.mp4", "teacher": "teacher.mp4", "audio": "mic.wav"},
        layout="pip", switches=switches or [], name=name))
    inputs = probe_lecture(course, course.lectures[0])
    out = render_lecture(course, inputs, audio=plan_audio(inputs, PROFILE), profile=PROFILE,
                         out_dir=tmp_path / "out")
    start = out.cameras[0].start_s
    return out, [(round(c.start_s - start, 3), round(c.end_s - start, 3), sorted(c.regions))
                 for c in out.cameras]


def test_a_slides_capture_that_goes_black_leaves_the_layout(tmp_path: Path) -> None:
    """Picture-in-picture, then slides only from 7 s: while the slides capture is black for
    2 s or more, the teacher camera fills the frame (from the first black frame to the first
    that is not); the 1-s black stays in its place. The layout record (which QC reads) and
    the render's notes say so."""
    seconds = 10.0
    _clip(tmp_path / "slides.mp4", _slides, seconds)
    _clip(tmp_path / "teacher.mp4", lambda t: TEACHER_RGB, seconds)
    out, spans = _render_pip(tmp_path, seconds, name="黑屏测试",
                             switches=[{"at": 7.0, "layout": "slides_only"}])
    start = out.cameras[0].start_s
    assert spans == [(0.0, 3.0, ["slides", "teacher"]), (3.0, 5.6, ["teacher"]),
                     (5.6, 7.0, ["slides", "teacher"]), (7.0, 7.6, ["slides"]),
                     (7.6, 9.6, ["teacher"]), (9.6, 10.0, ["slides"])], spans
    whole = (0, 0, 1280, 720)
    assert out.cameras[1].regions["teacher"] == whole
    pip_slides = out.cameras[0].regions["slides"]

    def close(t: float, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> bool:
        return bool(np.abs(_mean(out.path, start + t, box) - rgb).max() < 25)

    assert close(1.5, pip_slides, (0, 0, 0))        # the short black stays
    assert close(2.96, pip_slides, SLIDES_RGB)      # the last frame before the run …
    assert close(3.0, whole, TEACHER_RGB)           # … and its first: the teacher
    assert close(5.56, whole, TEACHER_RGB)
    assert close(5.6, pip_slides, SLIDES_RGB)
    assert close(7.56, whole, SLIDES_RGB)
    assert close(7.6, whole, TEACHER_RGB)           # slides only: the teacher stands in
    assert close(9.6, whole, SLIDES_RGB)

    (note,) = [w for w in out.warnings if "pictures are black" in w]
    assert "slides: its pictures are black 2 times, 5 s in all" in note, note   # 4.6 s
    assert "00:00:03.000–00:00:05.600, 00:00:07.600–00:00:09.600" in note, note
    assert "the layout is teacher_only (teacher only)" in note, note


def test_with_no_other_camera_the_black_is_in_the_film(tmp_path: Path) -> None:
    """A slides capture alone: nothing stands in; the note says the black is in the film;
    with ``hide_black_s: 0`` nothing is hidden or said."""
    from course_files import one_lecture

    from courseware.course import load_course
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture

    _clip(tmp_path / "slides.mp4", _slides, 6.0)
    course = load_course(one_lecture(tmp_path, {"slides": "slides.mp4"}, layout="slides_only",
                                     name="黑屏测试"))
    inputs = probe_lecture(course, course.lectures[0])
    out = render_lecture(course, inputs, audio=plan_audio(inputs, PROFILE), profile=PROFILE,
                         out_dir=tmp_path / "out")
    assert len(out.cameras) == 1
    (note,) = [w for w in out.warnings if "pictures are black" in w]
    assert "black from 00:00:03.000 to 00:00:05.600" in note, note
    assert "no other camera has pictures then" in note, note
    assert np.abs(_mean(out.path, out.cameras[0].start_s + 4.0, (0, 0, 1280, 720))).max() < 20

    never = PROFILE.model_copy(update={"encode": PROFILE.encode.model_copy(
        update={"hide_black_s": 0.0})})
    out = render_lecture(course, inputs, audio=plan_audio(inputs, never), profile=never,
                         out_dir=tmp_path / "never")
    assert not [w for w in out.warnings if "pictures are black" in w]


def test_a_camera_on_colour_bars_leaves_the_layout(tmp_path: Path) -> None:
    """The teacher camera shows its colour bars for 2.6 s (an operator pressed BARS; a
    recorder's input lost): the slides fill the frame there, as for a black camera, the note
    says bars, and QC finds no bars in the film."""
    from qc_metrics.bars import colour_bars
    from tasks.qc import qc_file

    seconds, on_bars = 8.0, (3.0, 5.6)
    _clip(tmp_path / "slides.mp4", lambda t: SLIDES_RGB, seconds)
    _clip(tmp_path / "teacher.mp4",
          lambda t: BARS_RGB if on_bars[0] <= t < on_bars[1] else TEACHER_RGB, seconds)
    out, spans = _render_pip(tmp_path, seconds, name="彩条测试")
    assert spans == [(0.0, 3.0, ["slides", "teacher"]), (3.0, 5.6, ["slides"]),
                     (5.6, 8.0, ["slides", "teacher"])], spans
    (note,) = [w for w in out.warnings if "colour bars" in w]
    assert "teacher: it shows colour bars from 00:00:03.000 to 00:00:05.600" in note, note
    assert "left on bars" in note and "the layout is slides_only (slides only)" in note, note
    with av.open(str(out.path)) as c:      # the film itself: no bars in any picture
        for f in c.decode(video=0):
            a, h, w = f.to_ndarray(format="yuv420p"), f.height, f.width
            assert not colour_bars(a[:h], a[h:h + h // 4].reshape(h // 2, w // 2),
                                   a[h + h // 4:].reshape(h // 2, w // 2)), f.time
    report = qc_file(out.path, profile=PROFILE, gpu=False, thumbnails=False,
                     cameras=out.cameras).report
    assert next(c for c in report.checks if c.id == "video.colour_bars").status == "pass"


def test_a_cable_that_keeps_losing_the_signal_is_one_note() -> None:
    """Seven dropouts of a slides capture: one note, the first five listed, the rest
    counted; one stretch alone is said from–to."""
    from courseware.compose import Compositor
    from encoder_profiles import load_layout
    from tasks.probe import LectureInputs, SourceInfo
    from tasks.render import blackouts

    pip, alone = load_layout("pip"), load_layout("teacher_only")
    sizes = {"slides": (1920, 1080, 1.0), "teacher": (1280, 720, 1.0)}
    comp = Compositor(pip, width=1280, height=720, sizes=sizes, stand_in=lambda shown: alone)
    frame = _yuv(120, size=(64, 36))
    for i in range(0, 700):
        dark = {"slides"} if i % 100 >= 50 else set()
        comp.compose({"slides": frame, "teacher": frame}, i / FPS, hidden=dark)
    inputs = LectureInputs(number=1, label="第1讲", sources={
        r: SourceInfo(role=r, path=Path(f"{r}.mp4"), duration_s=28.0) for r in sizes})
    runs = [[k * 100 + 50, k * 100 + 100] for k in range(7)]
    (note,) = blackouts(inputs, comp, {"slides": runs}, fps=FPS)
    assert "black 7 times, 14 s in all: 00:00:02.000–00:00:04.000, " in note, note
    assert "00:00:18.000–00:00:20.000, and 2 more" in note, note
    assert "the layout is teacher_only (teacher only)" in note
    (one,) = blackouts(inputs, comp, {"slides": runs[:1]}, fps=FPS)
    assert "black from 00:00:02.000 to 00:00:04.000 of the lecture, 2 s (" in one, one
