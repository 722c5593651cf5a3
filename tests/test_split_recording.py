"""A recording split into several files (a camera starts a new file at 4 GB on a FAT32 card,
AVCHD at 2 GB): named as a list in the course file, it plays as one source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from video_signals import camera_file, frame_at

FS = 48000
FPS = 25
PART_1, PART_2 = (0, 100, 200), (0, 200, 100)


def _course(root: Path, teacher: str | list[str]) -> Path:
    from course_files import one_lecture

    path = one_lecture(root, {"slides": "slides.mp4", "teacher": "teacher.mp4"},
                       layout="pip", name="分段测试")
    data = yaml.safe_load(path.read_text("utf-8"))
    data["lectures"][0]["sources"]["teacher"] = teacher
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def _speech(seconds: float) -> np.ndarray:
    from audio_signals import speech_like

    return speech_like(level_dbfs=-26.0, seconds=seconds, sample_rate=FS, seed=4).samples[0]


def test_a_camera_recording_in_two_files_is_one_lecture(tmp_path: Path) -> None:
    """The teacher camera's recording is in two MP4 files (6 s and 4 s, each with its clock
    from 0) beside a 10-s slides capture: the lecture is 10 s (with the first file alone,
    6 s); the raw-source QC reads each file; the inset shows the first file's pictures,
    then the second's; the sound goes on across the join at its level; the render says
    nothing about a camera stopping."""
    from audio_signals import decoded_sound

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import LectureInputs, begin_at, probe_lecture
    from tasks.render import main_duration, plan_audio, render_lecture

    speech = _speech(10.0)
    camera_file(tmp_path / "MVI_0001.MP4", PART_1, speech[:6 * FS])
    camera_file(tmp_path / "MVI_0002.MP4", PART_2, speech[6 * FS:])
    camera_file(tmp_path / "slides.mp4", (200, 200, 200), np.zeros(10 * FS, np.float32))
    course = load_course(_course(tmp_path, ["MVI_0001.MP4", "MVI_0002.MP4"]))
    profile = load_profile()
    inputs = probe_lecture(course, course.lectures[0])
    teacher = inputs.sources["teacher"]
    assert [p.name for p in teacher.parts] == ["MVI_0001.MP4", "MVI_0002.MP4"]
    assert teacher.duration_s == pytest.approx(10.0, abs=0.05)
    assert main_duration(inputs) == pytest.approx(10.0, abs=0.05)
    first = load_course(_course(tmp_path, "MVI_0001.MP4"))
    assert main_duration(probe_lecture(first, first.lectures[0])) == pytest.approx(6.0, abs=0.05)

    from flows.lecture import raw_files

    def parts(lecture: LectureInputs) -> list[tuple[str, str, object, bool]]:
        return [(f.name, f.path.name, f.span and pytest.approx(f.span, abs=0.05), f.unused)
                for f in raw_files(lecture)]

    assert parts(inputs) == [("slides", "slides.mp4", None, False),
                             ("teacher-1", "MVI_0001.MP4", None, False),
                             ("teacher-2", "MVI_0002.MP4", None, False)]
    # the raw-source QC judges what goes into the lecture: a lecture ending at 3.5 s uses
    # the first 3.5 s of the slides and of the first part, none of the second
    assert parts(inputs.model_copy(update={"end_s": 3.5})) == [
        ("slides", "slides.mp4", (0.0, 3.5), False),
        ("teacher-1", "MVI_0001.MP4", (0.0, 3.5), False),
        ("teacher-2", "MVI_0002.MP4", None, True)]
    # one that starts at 7 s: the slides from 7 s, the second part (all but its first second)
    assert parts(begin_at(inputs, 7.0)) == [
        ("slides", "slides.mp4", (7.0, 10.0), False),
        ("teacher-1", "MVI_0001.MP4", None, True),
        ("teacher-2", "MVI_0002.MP4", None, False)]

    out = render_lecture(course, inputs, audio=plan_audio(inputs, profile), profile=profile,
                         out_dir=tmp_path / "out")
    assert not any("pictures end" in w for w in out.warnings), out.warnings
    (span,) = out.cameras
    start = span.start_s
    assert span.end_s - start == pytest.approx(10.0, abs=0.05)
    x, y, w, h = span.regions["teacher"]
    inset = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    seen = [frame_at(out.path, start + dt)[inset].reshape(-1, 3).mean(axis=0)
            for dt in (3.0, 5.9, 6.1, 9.0)]
    # the nearer of the two parts' colours (the white balance moves both a little)
    shown = [min((PART_1, PART_2), key=lambda c: float(np.abs(got - c).sum()))
             for got in seen]
    assert shown == [PART_1, PART_1, PART_2, PART_2], seen

    sound = decoded_sound(out.path)[0, round(start * FS):]

    def gain(a: float, b: float) -> float:
        got, ref = sound[round(a * FS): round(b * FS)], speech[round(a * FS): round(b * FS)]
        return float(10 * np.log10(np.mean(got * got) / np.mean(ref * ref)))

    assert gain(6.2, 9.8) == pytest.approx(gain(0.5, 5.8), abs=1.0)

    # the render's notes (here: sources below 1280×720, B2) go into the lecture's QC report
    from courseware.html_report import render_html
    from tasks.qc import qc_file

    assert any("below 1280×720" in w for w in out.warnings)
    qc = qc_file(out.path, profile=profile, cameras=out.cameras, thumbnails=False,
                 render_notes=out.warnings)
    assert qc.report.to_dict()["render_notes"] == list(out.warnings)
    page = render_html(qc)
    assert 'id="render-notes"' in page and "below 1280×720" in page


def test_the_sound_runs_on_across_the_join(tmp_path: Path) -> None:
    """Parts as an encoder closes and opens files (FFmpeg's MP4: the first AAC frame's
    priming signalled, the last frame padded past the part's end): the joined sound is the
    whole recording's, in place on both sides of the join, with no quiet stretch where the
    first part's padding would play (a dropout in the speech for S4)."""
    import subprocess

    from audio_signals import speech_like
    from foreign_media import FFMPEG

    from courseware.media import AudioFeed
    from tasks.probe import join_parts

    voice = speech_like(level_dbfs=-26.0, seconds=10.0, sample_rate=FS, seed=4)
    # the join inside a word
    cut = next(k / FPS for k in range(5 * FPS, 7 * FPS)
               if voice.active[round((k / FPS - 0.1) * FS): round((k / FPS + 0.1) * FS)].all())
    camera_file(tmp_path / "whole.mp4", PART_1, voice.samples[0])
    for name, span in (("a.mp4", ["-t", f"{cut}"]), ("b.mp4", ["-ss", f"{cut}"])):
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i",
                        str(tmp_path / "whole.mp4"), *span, "-c:v", "libx264", "-preset",
                        "ultrafast", "-c:a", "aac", "-b:a", "192k", str(tmp_path / name)],
                       check=True, capture_output=True)
    joined = join_parts("teacher", [tmp_path / "a.mp4", tmp_path / "b.mp4"],
                        lecture="1").path
    x = AudioFeed(joined, rate=FS).read(10 * FS)[0]
    ref = AudioFeed(tmp_path / "whole.mp4", rate=FS).read(10 * FS)[0]

    def lag(a: float, b: float) -> int:
        k0, k1 = round(a * FS), round(b * FS)
        return min(range(-1500, 1501), key=lambda d: float(np.mean(
            (x[k0 + d: k1 + d] - ref[k0:k1]) ** 2)))

    assert abs(lag(cut - 2.0, cut - 0.2)) <= 2 and abs(lag(cut + 0.2, cut + 2.0)) <= 2

    def rms_db(y: np.ndarray) -> np.ndarray:
        w = y[: y.size // 240 * 240].reshape(-1, 240)      # 5 ms windows
        return 10 * np.log10(np.mean(w * w, axis=1) + 1e-12)

    near = slice(round((cut - 0.1) * FS), round((cut + 0.1) * FS))
    assert (rms_db(x[near]) - rms_db(ref[near])).min() > -6.0


def test_a_camcorders_parts_go_on_with_its_clock(tmp_path: Path) -> None:
    """AVCHD: the camcorder's clock starts at 1.4 s and the second file goes on with it
    (7.4 s): the parts are placed by their clock, the pictures run on at 25 fps across the
    join (no gap, no frame twice) and the whole is as long as the two."""
    from courseware.media import open_media
    from tasks.probe import join_parts, probe_source

    speech = _speech(10.0)
    camera_file(tmp_path / "00000.MTS", PART_1, speech[:6 * FS], start_s=1.4, container="mpegts")
    camera_file(tmp_path / "00001.MTS", PART_2, speech[6 * FS:], start_s=7.4, container="mpegts")
    joined = join_parts("teacher", [tmp_path / "00000.MTS", tmp_path / "00001.MTS"],
                        lecture="1 《测试》").path
    assert probe_source("teacher", joined, lecture="1 《测试》",
                        needs_video=True).duration_s == pytest.approx(10.0, abs=0.06)
    with open_media(joined) as film:
        times = np.array([f.time for f in film.decode(video=0)])
    assert times.size == 10 * FPS
    assert np.diff(times) == pytest.approx(1.0 / FPS, abs=1e-3)


def test_time_between_parts_is_kept_by_the_files_creation_times(tmp_path: Path) -> None:
    """The camera started its second file 10 s after its first (6 s long): 4 s passed in
    between (a file left out, the camera stopped). The second part is placed by the clock,
    so it stays in step with sources that ran on: its pictures at 10 s, the whole 14 s long,
    and a person is told. Files 6 s apart join end to end without a word; files named in
    the wrong order are said to be."""
    from courseware.media import open_media
    from tasks.probe import join_parts, probe_source

    speech = _speech(10.0)
    clock = "2026-11-01T09:00:{:02d}.000000Z"
    camera_file(tmp_path / "a.mp4", PART_1, speech[:6 * FS], created=clock.format(0))
    camera_file(tmp_path / "b.mp4", PART_2, speech[6 * FS:], created=clock.format(10))
    camera_file(tmp_path / "c.mp4", PART_2, speech[6 * FS:], created=clock.format(6))
    gap = join_parts("teacher", [tmp_path / "a.mp4", tmp_path / "b.mp4"], lecture="1")
    (note,) = gap.notes
    assert "4 s passed between the end of part 1 (a.mp4) and the start of part 2" in note
    assert probe_source("teacher", gap.path, lecture="1",
                        needs_video=True).duration_s == pytest.approx(14.0, abs=0.05)
    with open_media(gap.path) as film:
        times = [f.time for f in film.decode(video=0)]
    assert times[6 * FPS - 1] == pytest.approx(6.0 - 1 / FPS, abs=1e-3)
    assert times[6 * FPS] == pytest.approx(10.0, abs=1e-3)
    assert join_parts("teacher", [tmp_path / "a.mp4", tmp_path / "c.mp4"], lecture="1").notes == ()
    # the lecture's probe keeps the note for the render to say
    from courseware.course import load_course
    from tasks.probe import probe_lecture

    camera_file(tmp_path / "slides.mp4", (200, 200, 200), np.zeros(14 * FS, np.float32))
    course = load_course(_course(tmp_path, ["a.mp4", "b.mp4"]))
    inputs = probe_lecture(course, course.lectures[0])
    (kept,) = inputs.sources["teacher"].part_notes
    assert "4 s passed" in kept and kept.startswith("1 《第一讲》 teacher")
    # in the gap the layout leaves the camera out: the slides fill the frame, then the
    # picture-in-picture comes back
    from encoder_profiles import load_layout
    from tasks.render import camera_absences, layout_timeline

    ((a, b),) = gap.gaps
    assert (a, b) == (pytest.approx(6.0, abs=0.05), pytest.approx(10.0, abs=0.05))
    assert camera_absences(inputs) == {"teacher": ((a, b),)}
    assert [(at, lay.name) for at, lay in layout_timeline(
        course.lectures[0], inputs, load_layout("pip"))] == [(a, "slides_only"), (b, "pip")]
    (note,) = join_parts("teacher", [tmp_path / "b.mp4", tmp_path / "a.mp4"], lecture="1").notes
    assert "part 2 (a.mp4) was started before part 1 (b.mp4)" in note


def test_time_passed_between_two_parts_is_bridged(tmp_path: Path) -> None:
    """The teacher camera (the programme microphone) stopped for 4 s between its two files
    (by their creation times); the slides capture ran on, its own microphone 6 dB quieter.
    For those 4 s the slides fill the frame and the sound comes from the slides capture at
    the programme's level; the render says so; the inset comes back after."""
    from audio_signals import decoded_sound

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture

    speech = _speech(14.0) + np.random.default_rng(4).normal(0.0, 10 ** (-60 / 20), 14 * FS)
    clock = "2026-11-01T09:00:{:02d}.000000Z"
    camera_file(tmp_path / "a.mp4", PART_1, speech[:6 * FS], created=clock.format(0))
    camera_file(tmp_path / "b.mp4", PART_2, speech[10 * FS:], created=clock.format(10))
    camera_file(tmp_path / "slides.mp4", (200, 200, 200), 0.5 * speech)
    course = load_course(_course(tmp_path, ["a.mp4", "b.mp4"]))
    profile = load_profile()
    probed = probe_lecture(course, course.lectures[0])
    slides = probed.sources["slides"].model_copy(update={"matched": True})    # as the sync
    inputs = probed.model_copy(update={"sources": {**probed.sources, "slides": slides}})
    audio = plan_audio(inputs, profile)
    ((a, b),) = audio.sound_gaps_s
    assert (a, b) == (pytest.approx(6.0, abs=0.05), pytest.approx(10.0, abs=0.05))
    assert audio.role == "teacher" and audio.patch_role == "slides" and (a, b) in audio.patch_spans
    out = render_lecture(course, inputs, audio=audio, profile=profile, out_dir=tmp_path / "out")
    assert [set(c.regions) for c in out.cameras] == [{"slides", "teacher"}, {"slides"},
                                                     {"slides", "teacher"}]
    start = out.cameras[0].start_s
    assert any("its sound is missing at 00:00:06" in w and "slides camera's own sound" in w
               for w in out.warnings), out.warnings
    sound = decoded_sound(out.path)[0, round(start * FS):]

    def gain(lo: float, hi: float) -> float:
        got, ref = sound[round(lo * FS): round(hi * FS)], speech[round(lo * FS): round(hi * FS)]
        return float(10 * np.log10(np.mean(got * got) / np.mean(ref * ref)))

    assert gain(6.3, 9.7) == pytest.approx(gain(0.5, 5.7), abs=1.5)
    assert gain(10.3, 13.7) == pytest.approx(gain(0.5, 5.7), abs=1.5)


def test_a_part_that_is_missing_or_from_another_recording_is_named(tmp_path: Path) -> None:
    """The error names the part, its place, and what differs from the first part."""
    from courseware.course import load_course
    from courseware.errors import CorruptMediaError, MissingSourceError
    from tasks.probe import probe_lecture

    speech = _speech(4.0)
    camera_file(tmp_path / "slides.mp4", (200, 200, 200), speech)
    camera_file(tmp_path / "a.mp4", PART_1, speech)
    camera_file(tmp_path / "b.mp4", PART_2, speech, size=(320, 180))
    course = load_course(_course(tmp_path, ["a.mp4", "gone.mp4"]))
    with pytest.raises(MissingSourceError, match=r"gone\.mp4 .*teacher, part 2 of 2\): file not"):
        probe_lecture(course, course.lectures[0])
    course = load_course(_course(tmp_path, ["a.mp4", "b.mp4"]))
    mixed = (r"b\.mp4 .*part 2 of 2\): h264 320×180.*part 1 \(a\.mp4\) is h264 160×90.*"
             r"sources\.teacher")
    with pytest.raises(CorruptMediaError, match=mixed):
        probe_lecture(course, course.lectures[0])
    # a base handing the course in learns it first, and nothing is uploaded
    from courseware.submit import submit_course

    with pytest.raises(CorruptMediaError, match=mixed):
        submit_course(course.path, str(tmp_path / "inbox"))
    assert not (tmp_path / "inbox").exists() or not any((tmp_path / "inbox").rglob("*"))


def test_every_part_is_a_file_of_the_course(tmp_path: Path) -> None:
    """A base's submission uploads every part, and a rerun renders again when a part
    changes; an empty list is refused when the course file is read."""
    from courseware.course import load_course
    from courseware.errors import CourseFileError
    from encoder_profiles import load_profile
    from tasks.cache import lecture_cache_key

    speech = _speech(2.0)
    for name in ("slides.mp4", "a.mp4", "b.mp4"):
        camera_file(tmp_path / name, PART_1, speech)
    course = load_course(_course(tmp_path, ["a.mp4", "b.mp4"]))
    assert [p.name for role, p, _ in course.named_files() if role == "teacher"] == [
        "a.mp4", "b.mp4"]
    before = lecture_cache_key(course, course.lectures[0], profile=load_profile())
    camera_file(tmp_path / "b.mp4", PART_2, speech)
    after = lecture_cache_key(course, course.lectures[0], profile=load_profile())
    assert [k for k in before.parts if before.parts[k] != after.parts[k]] == ["sources.teacher"]
    with pytest.raises(CourseFileError, match="empty list"):
        load_course(_course(tmp_path, []))
