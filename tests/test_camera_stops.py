"""A camera that stops before the lecture does (a full card, a flat battery, a recording
split into files), or a source left running after it: where the lecture ends, the layout
for the rest, and what the render says. A camera switched on late: what the render says,
and a lecture begun before it (a negative start)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from video_signals import frame_at

from courseware.course import Lecture, Sources
from courseware.errors import CourseFileError
from encoder_profiles import load_layout
from tasks.probe import LectureInputs, SourceInfo, begin_at, earliest_start, picture_starts
from tasks.render import (
    CAMERAS_APART_S,
    camera_absences,
    camera_late,
    camera_stopped,
    camera_stops,
    head_left_out,
    layout_timeline,
    left_out,
    main_duration,
)

HOUR = 3600.0
PIP = load_layout("pip")


def _inputs(**sources: tuple[float, bool]) -> LectureInputs:
    """A lecture of sources by role: (file length in s, has its own sound that the sync
    matched). A separate recorder (``audio``) is the programme microphone."""
    return LectureInputs(number=1, label="第1讲 测试", sources={
        role: SourceInfo(role=role, path=Path(f"{role}.mp4"), duration_s=length,
                         has_audio=sound or role == "audio",
                         matched=sound and role != "audio" and "audio" in sources)
        for role, (length, sound) in sources.items()})


def _lecture(*switches: tuple[float, str]) -> Lecture:
    return Lecture(number=1, title="测试", lecturer="a", layout="pip",
                   sources=Sources(slides=Path("slides.mp4"), teacher=Path("teacher.mp4")),
                   layout_switches=[{"at": at, "layout": name} for at, name in switches])


def test_cameras_stopped_one_after_the_other_end_the_lecture_with_the_first() -> None:
    """Operators press stop a few seconds apart: the lecture ends with the first camera,
    the seconds after are trimmed without a word."""
    inputs = _inputs(slides=(HOUR + 12.0, False), teacher=(HOUR, True))
    assert main_duration(inputs) == HOUR
    assert camera_stops(inputs) == {}
    assert camera_stopped(inputs) == left_out(inputs) == []


def test_a_camera_that_stops_early_leaves_the_layout_while_the_sound_goes_on() -> None:
    """The teacher camera's card is full after 10 min; the slides capture and the recorder
    run the whole hour: the lecture runs the hour, the slides fill the frame from 10 min on
    (a switch the course file asked for after that is overruled; one before it stands),
    and the render names the camera, where it stops and the layout after."""
    inputs = _inputs(slides=(HOUR, False), teacher=(600.0, True), audio=(HOUR + 2.0, True))
    assert main_duration(inputs) == HOUR
    assert camera_stops(inputs) == {"teacher": 600.0}
    switches = layout_timeline(_lecture((300.0, "side_by_side"), (1200.0, "pip")), inputs, PIP)
    assert [(at, lay.name) for at, lay in switches] == [(300.0, "side_by_side"),
                                                        (600.0, "slides_only")]
    (warning,) = camera_stopped(inputs)
    assert "teacher" in warning and "00:10:00" in warning and "50 min before" in warning
    assert "slides_only" in warning
    assert left_out(inputs) == []
    # the slides capture crashes instead: the teacher camera fills the frame
    crashed = _inputs(slides=(900.0, False), teacher=(HOUR, True), audio=(HOUR, True))
    assert main_duration(crashed) == HOUR
    assert [(at, lay.name) for at, lay in layout_timeline(_lecture(), crashed, PIP)] == [
        (900.0, "teacher_only")]


def test_past_the_sound_the_lecture_ends() -> None:
    """The teacher camera is the only microphone and stops after 10 min; the slides capture
    (no sound of its own) runs on: what follows has no sound, so the lecture ends with the
    camera and the render says what is left out and how to keep it. Where the slides
    capture has its own microphone (matched by the sync), the lecture goes on."""
    inputs = _inputs(slides=(HOUR, False), teacher=(600.0, True))
    assert main_duration(inputs) == 600.0 and camera_stops(inputs) == {}
    (warning,) = left_out(inputs)
    assert "slides" in warning and "50 min past" in warning and "sound ends" in warning
    heard = _inputs(slides=(HOUR, True), teacher=(600.0, True))
    heard = heard.model_copy(update={"sources": {
        r: s.model_copy(update={"matched": r == "slides"}) for r, s in heard.sources.items()}})
    assert main_duration(heard) == HOUR and camera_stops(heard) == {"teacher": 600.0}
    # just past the operators' skew: still its own part of the lecture
    inputs = _inputs(slides=(600.0 + CAMERAS_APART_S + 1.0, False), teacher=(600.0, False),
                     audio=(HOUR, True))
    assert main_duration(inputs) == 600.0 + CAMERAS_APART_S + 1.0
    (warning,) = left_out(inputs)          # the recorder left running after the cameras
    assert warning.startswith("第1讲 测试 audio") and "pictures end" in warning
    # one camera, its export's pictures 50 min shorter than its sound: no film without a
    # picture; the lost part is named, with the fix
    alone = _inputs(teacher=(HOUR, True))
    alone = alone.model_copy(update={"sources": {"teacher": alone.sources["teacher"].model_copy(
        update={"picture_end_s": 600.0})}})
    assert main_duration(alone) == 600.0
    (warning,) = left_out(alone)
    assert "sound goes on after its pictures" in warning and "whole picture" in warning


def test_the_course_file_ends_a_lecture() -> None:
    """``end`` in the course file: a slides capture and recorder left running after the
    class (the teacher camera stopped at 50 min) end where it says, with nothing named as
    left out or stopped; an end past the sources' is said, and the lecture ends with them."""
    inputs = _inputs(slides=(HOUR, False), teacher=(3000.0, True), audio=(HOUR, True))
    assert main_duration(inputs) == HOUR and camera_stops(inputs) == {"teacher": 3000.0}
    ended = inputs.model_copy(update={"end_s": 2990.0})
    assert main_duration(ended) == 2990.0 and camera_stops(ended) == {}
    assert camera_stopped(ended) == left_out(ended) == []
    (warning,) = left_out(inputs.model_copy(update={"end_s": 4000.0}))
    assert "01:06:40" in warning and "01:00:00" in warning
    assert main_duration(inputs.model_copy(update={"end_s": 4000.0})) == HOUR
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"end \(5 s\) must come after start \(10 s\)"):
        Lecture(number=1, title="测试", lecturer="a", start=10.0, end=5.0,
                sources=Sources(slides=Path("slides.mp4")))


def _late_teacher(*, slides_heard: bool) -> LectureInputs:
    """The slides capture started at 8:50 (its own microphone matched by the sync when
    ``slides_heard``), the teacher camera (the programme microphone) at 9:00 and ran the
    hour; the sync puts the lecture's 0 where the teacher camera starts."""
    inputs = _inputs(slides=(HOUR + 600.0, slides_heard), teacher=(HOUR, True))
    slides = inputs.sources["slides"].model_copy(update={"offset_s": 600.0,
                                                         "matched": slides_heard})
    return inputs.model_copy(update={"sources": {**inputs.sources, "slides": slides}})


def test_a_camera_switched_on_late() -> None:
    """The slides capture runs 10 min before the teacher camera: by default that part is
    left out, and the render says so and which start keeps it. With that start (−600 s),
    the lecture runs 70 min, the teacher camera joins at 10 min: the slides fill the frame
    until then (a switch the course file asked for in the head is overruled; the one in
    force when the camera starts is the layout from there), and the render says where it
    joins. A start before every camera's pictures is refused with the earliest one."""
    inputs = _late_teacher(slides_heard=True)
    assert main_duration(inputs) == HOUR and camera_absences(inputs) == {}
    (warning,) = head_left_out(inputs)
    assert "slides" in warning and "10 min before the lecture" in warning
    assert "the teacher camera starts" in warning and "start: -600" in warning
    assert "silent" not in warning
    (unheard,) = head_left_out(_late_teacher(slides_heard=False))
    assert "no microphone heard the first 10 min" in unheard

    begun = begin_at(inputs, -600.0)
    assert picture_starts(begun) == {"slides": 0.0, "teacher": 600.0}
    assert main_duration(begun) == HOUR + 600.0
    assert camera_absences(begun) == {"teacher": ((0.0, 600.0),)}
    lecture = _lecture((-300.0, "side_by_side"), (1200.0, "pip"))
    assert [(at, lay.name) for at, lay in layout_timeline(lecture, begun, PIP)] == [
        (0.0, "slides_only"), (600.0, "side_by_side"), (1800.0, "pip")]
    assert head_left_out(begun) == []
    (joined,) = camera_late(begun)
    assert "teacher" in joined and "00:10:00" in joined and "slides_only" in joined
    assert camera_late(inputs) == []

    assert begin_at(inputs, -600.03).sources["teacher"].offset_s == pytest.approx(-600.03)
    with pytest.raises(CourseFileError, match=r"start -700 s is before any camera's "
                                              r"pictures begin .*give a start of -600 or later"):
        begin_at(inputs, -700.0)
    assert earliest_start(600.37) == "-600.3"


def test_a_camera_missing_between_two_parts_leaves_the_layout() -> None:
    """A teacher recording in parts with 2 min between them (by the files' creation times):
    for those 2 min the slides fill the frame, then the course file's layout comes back."""
    inputs = _inputs(slides=(HOUR, False), teacher=(HOUR, True))
    teacher = inputs.sources["teacher"].model_copy(update={"gaps": ((1200.0, 1320.0),)})
    gap = inputs.model_copy(update={"sources": {**inputs.sources, "teacher": teacher}})
    assert camera_absences(gap) == {"teacher": ((1200.0, 1320.0),)}
    assert [(at, lay.name) for at, lay in layout_timeline(_lecture((1250.0, "side_by_side")),
                                                    gap, PIP)] == [
        (1200.0, "slides_only"), (1320.0, "side_by_side")]


# ------------------------------------------------------------------------------ rendered

FS = 48000
LECTURE_S = 70.0
TEACHER_S = 8.0
SLIDES_RGB, TEACHER_RGB = (40, 60, 200), (200, 40, 40)


def _picture(path: Path, rgb: tuple[int, int, int], seconds: float) -> None:
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        flat = np.full((90, 160, 3), rgb, np.uint8)
        for i in range(round(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(flat, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))


def test_the_render_goes_on_without_a_camera_that_stopped(tmp_path: Path) -> None:
    """A picture-in-picture lecture whose teacher camera stops after 8 s of 70 (the slides
    capture and the recorder run on): the film is the whole 70 s; the teacher's inset is
    there before the stop, and after it the slides fill the frame where the inset was; the
    sound goes on at its level; the lecture's layout record (which QC reads) has the switch;
    the render's warning names the camera and the time."""
    from audio_signals import decoded_sound, speech_like, write_wav
    from course_files import one_lecture

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture

    _picture(tmp_path / "slides.mp4", SLIDES_RGB, LECTURE_S)
    _picture(tmp_path / "teacher.mp4", TEACHER_RGB, TEACHER_S)
    speech = speech_like(level_dbfs=-26.0, seconds=LECTURE_S, sample_rate=FS, seed=3).samples
    write_wav(tmp_path / "mic.wav", speech.repeat(2, axis=0), FS)
    course = load_course(one_lecture(
        tmp_path, {"slides": "slides.mp4", "teacher": "teacher.mp4", "audio": "mic.wav"},
        layout="pip", name="断机测试"))
    profile = load_profile()
    inputs = probe_lecture(course, course.lectures[0])
    out = render_lecture(course, inputs, audio=plan_audio(inputs, profile), profile=profile,
                         out_dir=tmp_path / "out")
    first, rest = out.cameras
    start = first.start_s
    assert rest.start_s - start == pytest.approx(TEACHER_S, abs=0.001)
    assert rest.end_s - start == pytest.approx(LECTURE_S, abs=0.05)
    assert set(first.regions) == {"slides", "teacher"} and set(rest.regions) == {"slides"}
    assert any("teacher" in w and "00:00:08" in w for w in out.warnings), out.warnings

    x, y, w, h = first.regions["teacher"]
    inset = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    before = frame_at(out.path, start + 4.0)[inset].reshape(-1, 3).mean(axis=0)
    after = frame_at(out.path, start + 40.0)[inset].reshape(-1, 3).mean(axis=0)
    assert np.abs(before - TEACHER_RGB).max() < 25, before     # (after white balance)
    assert np.abs(after - SLIDES_RGB).max() < 25, after

    sound = decoded_sound(out.path)[0, round(start * FS):]

    def level(a: float, b: float, x: np.ndarray) -> float:
        part = x[round(a * FS): round(b * FS)]
        return float(10 * np.log10(np.mean(part * part) + 1e-30))

    gain = level(2.0, 7.0, sound) - level(2.0, 7.0, speech[0])
    assert level(20.0, 68.0, sound) - level(20.0, 68.0, speech[0]) == pytest.approx(
        gain, abs=1.5)

    # the course file's end: read from it, the lecture ends there
    import yaml

    data = yaml.safe_load(course.path.read_text("utf-8"))
    data["lectures"][0]["end"] = 20.5
    course.path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    trimmed = load_course(course.path)
    assert main_duration(probe_lecture(trimmed, trimmed.lectures[0])) == 20.5


def test_the_course_file_starts_a_lecture(tmp_path: Path) -> None:
    """``start`` and ``end`` on the sources' timeline: a slides capture whose first 4 s are
    setting up (another colour) begins at 4.5 s and ends at 10 s: 5.5 s of lecture, the
    first picture after the setting up; a layout switch at 2 s (before the start) is the
    layout the lecture begins in, one at 7 s comes 2.5 s in (the film's first frame in it is
    at 2.52 s, where the layout record has it). A separate recorder whose clock runs fast
    is read from its own time for 4.5 s of the cameras'."""
    import av
    import yaml
    from course_files import one_lecture

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import begin_at, probe_lecture
    from tasks.render import plan_audio, render_lecture

    with av.open(str(tmp_path / "slides.mp4"), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        for i in range(12 * 25):
            rgb = TEACHER_RGB if i < 4 * 25 else SLIDES_RGB       # setting up, then slides
            frame = av.VideoFrame.from_ndarray(np.full((90, 160, 3), rgb, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    path = one_lecture(tmp_path, {"slides": "slides.mp4"}, layout="pip", name="起止测试",
                       switches=[{"at": 2.0, "layout": "side_by_side"},
                                 {"at": 7.0, "layout": "slides_only"}])
    data = yaml.safe_load(path.read_text("utf-8"))
    data["lectures"][0] |= {"start": 4.5, "end": 10.0}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    course = load_course(path)
    profile = load_profile()
    inputs = begin_at(probe_lecture(course, course.lectures[0]), course.lectures[0].start)
    out = render_lecture(course, inputs, audio=plan_audio(inputs, profile), profile=profile,
                         out_dir=tmp_path / "out")
    first, second = out.cameras
    start = first.start_s
    assert second.start_s - start == pytest.approx(2.52, abs=0.001)   # its first frame
    assert second.end_s - start == pytest.approx(5.5, abs=0.05)
    assert first.regions["slides"] != second.regions["slides"] == (0, 0, 1280, 720)
    x, y, w, h = first.regions["slides"]
    shown = frame_at(out.path, start)[y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4]
    assert np.abs(shown.reshape(-1, 3).mean(axis=0) - SLIDES_RGB).max() < 25

    fast = _inputs(slides=(HOUR, False), audio=(HOUR, True))
    fast = fast.model_copy(update={"end_s": 3000.0, "sources": {
        **fast.sources, "audio": fast.sources["audio"].model_copy(
            update={"offset_s": 1.0, "clock": 1.0008})}})
    later = begin_at(fast, 100.0)
    assert later.sources["audio"].offset_s == pytest.approx(1.0 + 100.08)
    assert later.sources["slides"].offset_s == pytest.approx(100.0)
    assert later.end_s == 2900.0 and main_duration(later) == 2900.0
    from courseware.errors import CourseFileError

    with pytest.raises(CourseFileError, match=r"start 3601 s is at or past .*3600\.0 s"):
        begin_at(fast, 3601.0)


def test_a_lecture_begun_before_its_teacher_camera(tmp_path: Path) -> None:
    """The slides capture (with a microphone of its own, 6 dB quieter) ran 6 s before the
    teacher camera, whose sound is the programme's; ``start: -6`` keeps those 6 s. The film
    is the whole 18 s: the slides fill the frame until the camera starts, then the
    picture-in-picture; the sound of the first 6 s comes from the slides capture at the
    programme's level; the render says where the camera and its sound begin."""
    import yaml
    from audio_signals import decoded_sound, speech_like
    from course_files import one_lecture
    from video_signals import camera_file

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture

    speech = speech_like(level_dbfs=-26.0, seconds=18.0, sample_rate=FS, seed=5).samples[0]
    speech += np.random.default_rng(5).normal(0.0, 10 ** (-70 / 20), speech.size)  # a room
    camera_file(tmp_path / "slides.mp4", SLIDES_RGB, speech * 10 ** (-6 / 20))
    camera_file(tmp_path / "teacher.mp4", TEACHER_RGB, speech[6 * FS:])
    path = one_lecture(tmp_path, {"slides": "slides.mp4", "teacher": "teacher.mp4"},
                       layout="pip", name="迟到测试")
    data = yaml.safe_load(path.read_text("utf-8"))
    data["lectures"][0]["sources"]["offsets"] = {"slides": 6.0}
    data["lectures"][0]["start"] = -6.0
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    course = load_course(path)
    profile = load_profile()
    probed = probe_lecture(course, course.lectures[0])
    assert [w for w in head_left_out(probed)] == []       # 6 s: no more than setting up
    matched = probed.sources["slides"].model_copy(update={"matched": True})   # as the sync
    inputs = begin_at(probed.model_copy(update={"sources": {**probed.sources,
                                                            "slides": matched}}),
                      course.lectures[0].start)
    audio = plan_audio(inputs, profile)
    assert audio.role == "teacher" and audio.patch_role == "slides"
    assert audio.sound_begins_s == pytest.approx(6.0, abs=0.05)
    assert audio.patch_gain_db == pytest.approx(6.0, abs=1.0)
    out = render_lecture(course, inputs, audio=audio, profile=profile,
                         out_dir=tmp_path / "out")
    head, rest = out.cameras
    start = head.start_s
    assert set(head.regions) == {"slides"} and set(rest.regions) == {"slides", "teacher"}
    assert rest.start_s - start == pytest.approx(6.0, abs=0.001)
    assert rest.end_s - start == pytest.approx(18.0, abs=0.05)
    x, y, w, h = rest.regions["teacher"]
    inset = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    before = frame_at(out.path, start + 3.0)[inset].reshape(-1, 3).mean(axis=0)
    after = frame_at(out.path, start + 10.0)[inset].reshape(-1, 3).mean(axis=0)
    assert np.abs(before - SLIDES_RGB).max() < 25, before
    assert np.abs(after - TEACHER_RGB).max() < 25, after
    assert any("teacher: its pictures begin at 00:00:06" in w for w in out.warnings)
    assert any("teacher: its sound begins at 00:00:06" in w and "slides camera's own sound"
               in w for w in out.warnings), out.warnings

    sound = decoded_sound(out.path)[0, round(start * FS):]

    def level(a: float, b: float, x: np.ndarray) -> float:
        part = x[round(a * FS): round(b * FS)]
        return float(10 * np.log10(np.mean(part * part) + 1e-30))

    gain = level(7.0, 17.0, sound) - level(7.0, 17.0, speech)
    assert level(0.5, 5.5, sound) - level(0.5, 5.5, speech) == pytest.approx(gain, abs=1.5)
