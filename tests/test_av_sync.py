"""S3 sound/picture sync: flashes with clicks, in step and with the sound 200 ms late; the
render keeps a camera's sound with its pictures by their timestamps."""

from __future__ import annotations

import itertools
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from audio_signals import decoded_sound
from course_files import one_lecture
from foreign_media import FFMPEG

from courseware.course import load_course
from encoder_profiles import load_profile
from qc_metrics.avsync import AvSync
from tasks.probe import LectureInputs, probe_lecture
from tasks.qc import qc_file
from tasks.render import plan_audio, render_lecture

PROFILE = load_profile()
RATE, FPS, SECONDS = 48000, 25, 8.0
EVENTS = (0.8, 1.96, 3.12, 4.4, 5.28, 6.6)  # irregular: no periodic ambiguity


def _signals(sound_late_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Luma frames (N, 36, 64) that cut between dark and bright at each event (one picture
    change per event, as a clap or a cut); stereo clicks at the events (+ the planted lag)."""
    n = round(SECONDS * FPS)
    luma = np.full((n, 36, 64), 40, np.float32)
    audio = np.zeros((2, round(SECONDS * RATE)), np.float32)
    rng = np.random.default_rng(1)
    audio += 0.001 * rng.standard_normal(audio.shape).astype(np.float32)  # room tone
    for i, t in enumerate(EVENTS):
        k = round(t * FPS)
        luma[k:] = 230 if i % 2 == 0 else 40  # a cut: the picture changes once and stays
        a = round((t + sound_late_s) * RATE)
        audio[:, a:a + 960] += 0.5 * rng.standard_normal(960).astype(np.float32)  # 20 ms click
    return luma, audio


def _measure(sound_late_s: float) -> float | None:
    luma, audio = _signals(sound_late_s)
    sync = AvSync(sample_rate=RATE, av_sync_ms=PROFILE.audio.av_sync_ms)
    for k in range(0, luma.shape[0], 16):
        sync.add_video(luma[k:k + 16], [i / FPS for i in range(k, min(k + 16, luma.shape[0]))])
    for k in range(0, audio.shape[1], 4800):
        sync.add_audio(audio[:, k:k + 4800], k / RATE)
    check = sync.finish()
    assert check.id == "audio.av_sync" and check.clause == "S3"
    return check.measured if isinstance(check.measured, float) else None


@pytest.mark.parametrize(("late_s", "status"), [(0.0, "pass"), (0.2, "fail"), (-0.03, "pass"),
                                                (0.1, "fail"), (-0.1, "fail")])
def test_planted_offsets_are_measured(late_s: float, status: str) -> None:
    measured = _measure(late_s)
    assert measured == pytest.approx(-1000 * late_s, abs=20)  # R37 sign: + is sound early
    lo, hi = PROFILE.audio.av_sync_ms
    assert (lo <= measured <= hi) == (status == "pass")


@pytest.mark.parametrize("seed", range(5))
def test_unrelated_events_are_a_skip_not_a_guess(seed: int) -> None:
    """The same cuts, clicks at other times: a chance coincidence is not a measurement."""
    luma, _ = _signals(0.0)
    rng = np.random.default_rng(seed)
    audio = (0.001 * rng.standard_normal((2, round(SECONDS * RATE)))).astype(np.float32)
    for t in rng.uniform(0.2, SECONDS - 0.2, len(EVENTS)):
        a = round(t * RATE)
        audio[:, a:a + 960] += 0.5 * rng.standard_normal(960).astype(np.float32)
    sync = AvSync(sample_rate=RATE, av_sync_ms=PROFILE.audio.av_sync_ms)
    sync.add_video(luma, [i / FPS for i in range(luma.shape[0])])
    sync.add_audio(audio, 0.0)
    check = sync.finish()
    assert check.status == "skip" and check.measured is None, check


def _write(path: Path, luma: np.ndarray, audio: np.ndarray, *, container: str | None = None,
           sound_from_s: float = 0.0, gap: tuple[float, float] = (0.0, 0.0)) -> None:
    """H.264 + AAC of the frames and sound; the sound from ``sound_from_s``, without ``gap``
    (its timestamps still say where each piece belongs)."""
    with av.open(str(path), "w", format=container) as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "qp": "10"}
        a = out.add_stream("aac", rate=RATE, layout="stereo")
        for i, plane in enumerate(luma):
            value = int(plane[0, 0])
            frame = av.VideoFrame.from_ndarray(np.full((180, 320, 3), value, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for p in v.encode(frame):
                out.mux(p)
        for k in range(round(sound_from_s * RATE), audio.shape[1], 1024):
            if gap[0] * RATE <= k < gap[1] * RATE:
                continue
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, k:k + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, k, Fraction(1, RATE)
            for p in a.encode(frame):
                out.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                out.mux(p)


def _clip(path: Path, sound_late_s: float) -> None:
    _write(path, *_signals(sound_late_s))


def test_qc_file_reports_a_late_sound_track(tmp_path: Path) -> None:
    """Through the file: encode, decode once, both streams into the one meter."""
    _clip(tmp_path / "late.mp4", 0.2)
    checks = {c.id: c for c in qc_file(tmp_path / "late.mp4", profile=PROFILE,
                                       thumbnails=False).report.checks}
    check = checks["audio.av_sync"]
    assert check.status == "fail" and check.measured == pytest.approx(-200, abs=30), check
    # late in its content, not in its timestamps: they run on without a break
    assert checks["audio.timestamps"].status == "pass"


@pytest.mark.parametrize(("picture_s", "sound", "short", "missing"), [
    (8.0, (0.0, 8.0), None, None),            # one length
    (8.0, (0.0, 7.9), None, None),            # 0.1 s apart at the end: what encoders leave
    (8.0, (0.0, 5.0), "sound", (5.0, 8.0)),   # the sound ends 3 s early
    (8.0, (1.0, 8.0), "sound", (0.0, 1.0)),   # the sound starts 1 s late
    (5.0, (0.0, 8.0), "picture", (5.0, 8.0)),  # the picture ends 3 s early
])
def test_a_stream_that_starts_late_or_ends_early(tmp_path: Path, picture_s: float,
                                                  sound: tuple[float, float], short: str | None,
                                                  missing: tuple[float, float] | None) -> None:
    """An export whose sound track is shorter than its picture (or the other way round) has
    no break inside either stream: the missing stretch is at an end. The timestamp checks
    name it, in seconds where the planted stretch is; MediaInfo (libmediainfo, not FFmpeg)
    reads the same difference between the tracks' durations."""
    luma, audio = _signals(0.0)
    path = tmp_path / "cut.mp4"
    _write(path, luma[:round(picture_s * FPS)], audio[:, :round(sound[1] * RATE)],
           sound_from_s=sound[0])
    checks = {c.id: c for c in qc_file(path, profile=PROFILE, thumbnails=False).report.checks}
    sound_check, picture_check = checks["audio.timestamps"], checks["video.timestamps"]
    assert sound_check.status == ("fail" if short == "sound" else "pass"), sound_check.message
    assert picture_check.status == ("fail" if short == "picture" else "pass"), \
        picture_check.message
    if missing is None:
        return
    check = sound_check if short == "sound" else picture_check
    (event,) = check.events
    # within an AAC frame (21 ms, the encoder's priming) and a picture (40 ms)
    assert (event.start_s, event.end_s) == pytest.approx(missing, abs=0.045), event
    assert f"{event.end_s - event.start_s:.2f} s" in check.message
    if short == "picture":       # counted in frames, as the check counts dropped ones
        assert check.measured == pytest.approx((missing[1] - missing[0]) * FPS, abs=1)
    elif missing[0] > 0:         # an end: MediaInfo's durations differ by as much
        from pymediainfo import MediaInfo

        tracks = {t.track_type: float(t.duration) / 1000
                  for t in MediaInfo.parse(str(path)).tracks}
        assert tracks["Video"] - tracks["Audio"] == pytest.approx(event.end_s - event.start_s,
                                                                  abs=0.03)


@pytest.mark.parametrize("picture_s", [5.0, 8.0])
def test_a_lecture_ends_with_its_cameras_pictures(tmp_path: Path, picture_s: float) -> None:
    """A camera file whose pictures stop 3 s before its sound: the probe reads where they
    end from the file's index (MediaInfo reads the same video duration), and the lecture
    ends with them (no stretch without a picture; 3 s is no loss worth a word); a file whose
    streams end together runs to its end."""
    from pymediainfo import MediaInfo

    from tasks.render import camera_stopped, left_out, main_duration

    luma, audio = _signals(0.0)
    path = tmp_path / "teacher.mp4"
    _write(path, luma[:round(picture_s * FPS)], audio)
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4"},
                                     layout="teacher_only", name="断画测试"))
    inputs = probe_lecture(course, course.lectures[0])
    source = inputs.sources["teacher"]
    assert camera_stopped(inputs) == left_out(inputs) == []
    if picture_s == SECONDS:
        assert source.picture_end_s is None
        assert main_duration(inputs) == pytest.approx(SECONDS, abs=0.05)
        return
    video = next(t for t in MediaInfo.parse(str(path)).tracks if t.track_type == "Video")
    assert source.picture_end_s == pytest.approx(picture_s, abs=0.001)
    assert source.picture_end_s == pytest.approx(float(video.duration) / 1000, abs=0.001)
    assert main_duration(inputs) == pytest.approx(picture_s, abs=0.001)


@pytest.mark.parametrize("container", ["mpegts", "matroska"])
def test_where_the_pictures_end_when_the_index_does_not_say(tmp_path: Path,
                                                          container: str) -> None:
    """MPEG-TS and Matroska files give no stream lengths: where the pictures end is read
    from the last packets (the file's last 15 s, or the whole file where the pictures end
    before that), and the lecture ends with them."""
    from tasks.probe import probe_source
    from tasks.render import main_duration

    luma, audio = _signals(0.0)
    path = tmp_path / "teacher.bin"
    _write(path, luma[:round(5.0 * FPS)], audio, container=container)
    info = probe_source("teacher", path, lecture="1", needs_video=True)
    assert info.picture_end_s == pytest.approx(5.0, abs=0.03)   # TS: from its AAC priming
    assert main_duration(LectureInputs(number=1, label="1", sources={"teacher": info})
                         ) == info.picture_end_s
    _write(path, luma[:FPS], np.zeros((2, 20 * RATE), np.float32), container=container)
    assert probe_source("teacher", path, lecture="1",
                        needs_video=True).picture_end_s == pytest.approx(1.0, abs=0.03)
    _write(path, luma, audio, container=container)                   # streams end together
    assert probe_source("teacher", path, lecture="1", needs_video=True).picture_end_s is None


# ----------------------------------------------------------------------------- the render


def _camera_ts(path: Path, *, sound_from_s: float, gap: tuple[float, float]) -> None:
    """A camcorder-like MPEG-TS (its clock starts at 1.4 s) of the cuts and clicks in step,
    whose sound starts ``sound_from_s`` after the pictures and skips ``gap`` (a recorder
    dropping packets): the timestamps say where each piece belongs, as a player reads them."""
    made = path.with_suffix(".mkv")
    _write(made, *_signals(0.0), sound_from_s=sound_from_s, gap=gap)
    # FFmpeg's MPEG-TS muxer, as in a camera: the clock starts at 1.4 s
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(made), "-c", "copy", "-f", "mpegts",
                    str(path)], check=True, timeout=60)
    with av.open(str(path)) as c:
        assert c.start_time == pytest.approx(1.4e6, abs=0.05e6)


def _events(path: Path, start_s: float) -> tuple[list[float], list[float]]:
    """Lecture times of the picture's cuts and of the clicks' onsets in a rendered file."""
    with av.open(str(path)) as c:
        frames = [(float(f.time), float(f.to_ndarray(format="gray").mean()))
                  for f in c.decode(video=0) if f.time is not None and f.time >= start_s]
    sound = decoded_sound(path)[0]
    cuts = [t - start_s for (_, y0), (t, y1) in itertools.pairwise(frames) if abs(y1 - y0) > 60]
    loud = np.flatnonzero(np.abs(sound[round(start_s * RATE):]) > 0.1)
    onsets = loud[np.r_[True, np.diff(loud) > RATE // 4]] if loud.size else loud
    return cuts, [k / RATE for k in onsets]


def test_the_render_places_a_cameras_sound_by_its_timestamps(tmp_path: Path) -> None:
    """An AVCHD-like camera file: clock from 1.4 s, sound from 0.5 s after the pictures,
    0.3 s of sound missing at 3.5 s. The lecture keeps every click with its cut, before the
    gap and after it (read by sample count alone, the pictures came 1.4 s late and the sound
    0.5 s, then 0.8 s early)."""
    _camera_ts(tmp_path / "teacher.ts", sound_from_s=0.5, gap=(3.5, 3.8))
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.ts"},
                                     layout="teacher_only", name="同步测试"))
    inputs = probe_lecture(course, course.lectures[0])
    out = render_lecture(course, inputs, audio=plan_audio(inputs, PROFILE), profile=PROFILE,
                         out_dir=tmp_path / "out")
    cuts, clicks = _events(out.path, out.cameras[0].start_s)
    assert cuts == pytest.approx(EVENTS, abs=0.045)      # a picture from the first tick on
    assert clicks == pytest.approx(EVENTS, abs=0.045)    # S3: within a frame of the cuts
    assert max(abs(a - b) for a, b in zip(cuts, clicks, strict=True)) <= 0.04
    # QC of the camera file reads it the same way (by sample count: 300 ms early), and
    # names the gap where a player shows it (from the file's start, not on its clock at 1.4 s)
    checks = {c.id: c for c in qc_file(tmp_path / "teacher.ts", profile=PROFILE,
                                       thumbnails=False).report.checks}
    sync = checks["audio.av_sync"]
    assert sync.status == "pass" and abs(sync.measured) <= 20, sync.message
    stamps = checks["audio.timestamps"]
    assert (stamps.status, stamps.clause, stamps.measured) == ("fail", "S3", 2.0)
    # the first 0.5 s of pictures without sound, then the gap
    start, gap = stamps.events
    assert (start.start_s, start.end_s) == pytest.approx((0.0, 0.5), abs=0.025)
    assert (gap.start_s, gap.end_s) == pytest.approx((3.5, 3.8), abs=0.025)
