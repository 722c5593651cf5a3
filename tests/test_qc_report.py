"""``courseware qc``: one decode pass over a file with planted defects → the QC report
(contract JSON), the HTML page (rendered by headless Chromium) and the CLI exit codes.

The clips are made by the FFmpeg binary of imageio-ffmpeg (an independent encoder), with
known answers: black from 2.5 s to 3.5 s, a tone whose peak jumps from −18 to −1.2 dBFS
between 3 s and 4 s (S1's window is −8…−2 dBFS), luma noise for a measurable SNR.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import cjk, fonts_drawn, lines_drawn, screenshot
from device_emulator import assert_same_report
from foreign_media import CLIPS, FFMPEG
from PIL import Image

from courseware.fonts import find_face
from courseware.html_report import COLOURS, render_html
from courseware.report import Check, Report
from encoder_profiles import DEFAULT_PROFILE, Profile, load_profile
from tasks.qc import QcResult, _thumbnails, qc_file
from tests import audio_signals

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 6
BLACK = (2.5, 3.5)
LOUD = (3.0, 4.0)
LOUD_GAIN = 7.0                                   # sine at 1/8 full scale, ×7 = 0.875
LOUD_PEAK_DBFS = 20 * math.log10(LOUD_GAIN / 8)   # −1.16 dBFS: above S1's −2 dBFS
QUIET_PEAK_DBFS = 20 * math.log10(4 / 8)          # −6.02 dBFS: inside −8…−2

STATUSES = {"pass", "warn", "fail", "skip"}
# shared/DESIGN.md: the per-file ids of a file (camera_match is a skip unless the layout is
# known; av_sync is checked for separately)
FILE_IDS = {
    "format.container", "format.video_codec", "format.pixel_format", "format.bitrate",
    "format.resolution", "format.aspect", "format.fps", "format.scan", "format.audio_codec",
    "format.audio_rate", "format.audio_bitrate", "format.audio_channels", "format.faststart",
    "video.stability", "video.timestamps", "video.colour_jumps", "video.freeze", "video.black",
    "video.snr", "video.white_balance", "video.levels", "video.camera_match",
    "video.interlacing", "video.colour_bars", "video.slides_layout",
    "audio.peak", "audio.clipping", "audio.snr", "audio.hum", "audio.volume_swings",
    "audio.loudness", "audio.phase", "audio.dc_offset", "audio.dropouts", "audio.silence",
    "audio.timestamps", "audio.music_bed", "audio.tones",
}


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile(DEFAULT_PROFILE)


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """640×360, 25 fps, H.264 + AAC stereo: black 2.5–3.5 s, loud 3–4 s, noisy picture."""
    out = tmp_path_factory.mktemp("qc") / "defects.mp4"
    black = ("drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill"
             f":enable='between(t,{BLACK[0]},{BLACK[1]})'")
    loud = f"volume=volume='if(between(t,{LOUD[0]},{LOUD[1]}),{LOUD_GAIN},1)':eval=frame"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={SECONDS}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
            "-vf", f"{black},noise=alls=3:allf=t",
            # pan, not -ac 2: FFmpeg's mono→stereo upmix would lower the level by 3 dB
            "-af", f"pan=stereo|c0=c0|c1=c0,{loud}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", str(out))
    return out


@pytest.fixture(scope="module")
def result(defects: Path, profile: Profile) -> QcResult:
    return qc_file(defects, profile=profile, gpu=False)


def _check(report: Report, check_id: str) -> Check:
    (check,) = [c for c in report.checks if c.id == check_id]
    return check


# ------------------------------------------------------------------------------ qc_file

def test_planted_black_and_peak_are_found(result: QcResult) -> None:
    report = result.report
    assert report.status == "fail"
    assert report.backend == "numpy"
    assert report.duration_s == pytest.approx(SECONDS, abs=0.1)
    assert result.frames == 25 * SECONDS

    black = _check(report, "video.black")
    assert black.status == "fail"
    (event,) = black.events
    assert event.start_s == pytest.approx(BLACK[0], abs=0.05)
    assert event.end_s == pytest.approx(BLACK[1], abs=0.05)

    peak = _check(report, "audio.peak")
    assert peak.status == "fail"
    assert peak.measured == pytest.approx(LOUD_PEAK_DBFS, abs=0.5)
    assert peak.events
    assert all(LOUD[0] - 0.1 <= e.start_s and e.end_s <= LOUD[1] + 0.1 for e in peak.events)

    assert _check(report, "format.resolution").status == "fail"   # 640×360 < 1280×720 (D4)
    assert _check(report, "video.snr").measured is not None         # noise was measurable


def test_smaller_batches_give_the_same_report(defects: Path, result: QcResult,
                                              profile: Profile,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames larger than 1080p go to the detectors in smaller batches (a batch holds at
    most BATCH_PIXELS: memory does not grow with the picture size). Every check's verdict,
    value and events are the same whatever the batch: here 3 frames of 640×360 at a time
    against 16."""
    import tasks.qc

    monkeypatch.setattr(tasks.qc, "BATCH_PIXELS", 3 * 640 * 360)
    small = qc_file(defects, profile=profile, gpu=False, thumbnails=False)
    assert small.frames == result.frames
    for got, ref in zip(small.report.checks, result.report.checks, strict=True):
        assert (got.id, got.status, got.measured, got.events) == (
            ref.id, ref.status, ref.measured, ref.events), got.id


def test_timelines_follow_the_clip(result: QcResult) -> None:
    lines = {tl.key: tl for tl in result.timelines}
    assert set(lines) == {"loudness", "snr", "motion"}
    for tl in lines.values():
        assert len(tl.times) == len(tl.values) > 0
        assert all(v is None or math.isfinite(v) for v in tl.values)
    loud = dict(zip(lines["loudness"].times, lines["loudness"].values, strict=True))
    # the 3-s window ending at 4 s holds the loud second, the one ending at 3 s does not
    assert loud[4.0] is not None and loud[3.0] is not None
    assert loud[4.0] - loud[3.0] > 10.0
    assert all(v is not None for v in lines["snr"].values)


def test_thumbnails_show_the_event_frames(result: QcResult) -> None:
    assert 0 < len(result.thumbnails) <= 24
    by_time = {th.at_s: th for th in result.thumbnails}
    assert len(by_time) == len(result.thumbnails)
    black = _check(result.report, "video.black").events[0]
    thumb = by_time[black.start_s]
    image = Image.open(io.BytesIO(thumb.jpeg))
    assert image.format == "JPEG" and image.size == (thumb.width, thumb.height) == (240, 136)
    assert np.asarray(image.convert("L")).mean() < 30              # the black frame itself
    others = [th for th in result.thumbnails if not BLACK[0] <= th.frame_s < BLACK[1]]
    assert others and all(
        np.asarray(Image.open(io.BytesIO(th.jpeg)).convert("L")).mean() > 60 for th in others)


def test_times_are_from_the_files_start(defects: Path, tmp_path: Path,
                                        profile: Profile) -> None:
    """The same clip as a camera's MPEG-TS file whose clock starts at one hour (AVCHD and
    broadcast recorders start at the time of day): events, timelines and thumbnails are
    timed from the file's start, as a player shows them, not on the file's clock."""
    ts = tmp_path / "clock.ts"
    _ffmpeg("-i", str(defects), "-c", "copy", "-f", "mpegts", "-output_ts_offset", "3600",
            str(ts))
    got = qc_file(ts, profile=profile, gpu=False)
    (event,) = _check(got.report, "video.black").events
    assert event.start_s == pytest.approx(BLACK[0], abs=0.05)
    assert all(LOUD[0] - 0.1 <= e.start_s and e.end_s <= LOUD[1] + 0.1
               for e in _check(got.report, "audio.peak").events)
    for line in got.timelines:
        assert min(line.times) >= 0.0 and max(line.times) <= SECONDS + 1.0, line.key
    thumb = next(th for th in got.thumbnails if th.at_s == event.start_s)
    assert thumb.frame_s == pytest.approx(BLACK[0], abs=0.05)
    assert np.asarray(Image.open(io.BytesIO(thumb.jpeg)).convert("L")).mean() < 30


def test_a_span_of_the_file_is_checked(defects: Path, tmp_path: Path,
                                       profile: Profile) -> None:
    """``span`` (a raw source's part that goes into the lecture): the pictures and sound
    inside it only, timed from the file's start; what lies outside is not judged. In an
    MP4 and in an MPEG-TS whose clock starts at 1.4 s (the seek is on the file's clock)."""
    ts = tmp_path / "camera.ts"
    _ffmpeg("-i", str(defects), "-c", "copy", "-f", "mpegts", str(ts))
    for path in (defects, ts):
        inside = qc_file(path, profile=profile, gpu=False, span=(2.0, 4.0))
        assert inside.frames == 50, path
        (event,) = _check(inside.report, "video.black").events
        assert (event.start_s, event.end_s) == pytest.approx(BLACK, abs=0.05)
        assert _check(inside.report, "audio.peak").status == "fail"
        assert inside.report.extra["span_s"] == [2.0, 4.0]
        assert any("00:00:02.000–00:00:04.000 of the file only" in n for n in inside.notes)
        # the same file past its black second and its loud one: nothing to find
        after = qc_file(path, profile=profile, gpu=False, span=(4.2, 6.0))
        assert after.frames == 45, path
        assert _check(after.report, "video.black").status == "pass"
        # the sine alone (1/8 of full scale), far under its loud second's peak
        assert _check(after.report, "audio.peak").measured < LOUD_PEAK_DBFS - 12.0
        assert _check(after.report, "audio.timestamps").status == "pass", _check(
            after.report, "audio.timestamps").message
        assert _check(after.report, "video.timestamps").status == "pass"


def test_the_qc_flow_takes_a_span(defects: Path, tmp_path: Path, prefect_server: None) -> None:
    """The QC deployment's flow (where raw-source QC goes with ``qc_deployment``) is given
    the span as JSON takes it, a list, and the report says which part it judged."""
    from flows.qc import qc_flow

    out = tmp_path / "span.qc.json"
    state = qc_flow(str(defects), str(out), span=[2.0, 4.0], gpu=False, return_state=True)
    assert state.result() == "fail"
    data = json.loads(out.read_text("utf-8"))
    assert data["span_s"] == [2.0, 4.0]
    (black,) = [c for c in data["checks"] if c["id"] == "video.black"]
    assert [(e["start_s"], e["end_s"]) for e in black["events"]] == [
        pytest.approx(BLACK, abs=0.05)]
    # the operator watches a long file's QC in the UI: a progress artifact of its task run
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    with get_client(sync_client=True) as client:
        (shown,) = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            type=ArtifactFilterType(any_=["progress"])))
    assert (shown.data, shown.description) == (100.0, "QC of defects.mp4")
    assert shown.task_run_id is not None


def test_progress_is_told_as_the_file_is_decoded(defects: Path, profile: Profile) -> None:
    """About once a second of the file (of the span, when one is given), rising to 1."""
    told: list[float] = []
    qc_file(defects, profile=profile, gpu=False, thumbnails=False, progress=told.append)
    assert told[0] == 0.0 and told[-1] == 1.0 and told == sorted(told)
    assert SECONDS <= len(told) <= SECONDS + 2, told
    assert told[-2] >= (SECONDS - 1) / SECONDS
    told.clear()
    qc_file(defects, profile=profile, gpu=False, thumbnails=False, span=(2.0, 4.0),
            progress=told.append)
    assert told == [pytest.approx(0.0, abs=0.01), pytest.approx(0.5, abs=0.01), 1.0], told


def test_the_command_shows_progress_on_a_terminal(defects: Path, tmp_path: Path) -> None:
    """``courseware qc FILE`` on a terminal: one line rewritten in place as the file is
    checked, removed before the table; piped, none (the table alone). Nothing else on the
    terminal: a fresh Prefect home outside CI would have Prefect's telemetry notice there,
    were the command not keeping the client from sending usage data."""
    import os
    import pty

    from prefect._internal.analytics.ci_detection import CI_ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in CI_ENV_VARS | {"DO_NOT_TRACK"}}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    main, terminal = pty.openpty()
    command = [sys.executable, "-m", "courseware.cli", "qc", str(defects), "--cpu"]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, check=False,
                         timeout=300, env=env)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:             # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert run.returncode == 1, run              # the planted defects fail
    lines = shown.decode("utf-8").split("\r\x1b[K")      # each a rewrite of the line
    assert lines[:2] == ["", "checking defects.mp4:   0 %"], shown
    assert "checking defects.mp4: 100 %" in lines, shown
    assert not lines[-1].startswith("checking"), shown      # removed before the table
    assert b"checking" not in run.stdout and b"video.black" in run.stdout
    piped = subprocess.run(command, capture_output=True, check=False, timeout=300)
    assert b"checking" not in piped.stderr + piped.stdout


def test_thumbnails_of_a_phone_video_are_upright(tmp_path: Path) -> None:
    # a display rotation (a phone held upright): thumbnails show what players show
    plain, phone = tmp_path / "plain.mp4", tmp_path / "phone.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", str(plain))
    _ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(phone))
    (thumb,) = _thumbnails(phone, [0.4], lecture=None)
    got = np.asarray(Image.open(io.BytesIO(thumb.jpeg)).convert("L"), float)
    assert (thumb.width, thumb.height) == (240, 426) and got.shape == (426, 240)
    (flat,) = _thumbnails(plain, [0.4], lecture=None)
    stored = Image.open(io.BytesIO(flat.jpeg)).convert("L")
    upright = np.asarray(stored.rotate(90, expand=True).resize((240, 426)), float)
    wrong = np.asarray(stored.rotate(-90, expand=True).resize((240, 426)), float)
    assert np.abs(got - upright).mean() < 0.3 * np.abs(got - wrong).mean()


def test_sound_on_one_channel_fails_d9(tmp_path: Path, profile: Profile) -> None:
    # a camera's microphone on input 1 only: two channels, one of them silent
    path = tmp_path / "one-sided.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-af", "pan=stereo|c0=c0|c1=0*c0", "-c:a", "aac", "-b:a", "128k", str(path))
    check = _check(qc_file(path, profile=profile, gpu=False).report, "format.audio_channels")
    assert check.status == "fail" and "only channel 1 carries sound" in check.message


def test_audio_only_file(tmp_path: Path, profile: Profile) -> None:
    path = tmp_path / "speech.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
            "-af", "pan=stereo|c0=c0|c1=c0,volume=4", "-c:a", "aac", "-b:a", "128k", str(path))
    res = qc_file(path, profile=profile, gpu=False)
    checks = {c.id: c for c in res.report.checks}
    assert checks["audio.peak"].status == "pass"
    assert checks["audio.peak"].measured == pytest.approx(QUIET_PEAK_DBFS, abs=0.5)
    assert all(c.status == "skip" for i, c in checks.items() if i.startswith("video."))
    assert res.frames == 0 and res.thumbnails == ()
    assert [tl.key for tl in res.timelines] == ["loudness"]


def test_a_dropout_survives_aac_and_is_found(tmp_path: Path, profile: Profile) -> None:
    # a wireless microphone gone for 300 ms mid-sentence, in a camera's AAC sound; the
    # room's noise (−65 dBFS) under the speech elsewhere comes through the encoder
    speech = audio_signals.speech_like(level_dbfs=-20.0, seconds=12.0, sample_rate=48000,
                                       seed=1)
    x = speech.samples.repeat(2, axis=0) + audio_signals.white_noise(
        rms_dbfs=-65.0, seconds=12.0, sample_rate=48000, channels=2, seed=2)
    i, j = round(7.6 * 48000), round(7.9 * 48000)
    assert speech.active[i - 960: j + 960].all()
    x[:, i:j] = 0.0
    wav, path = tmp_path / "mic.wav", tmp_path / "camera.m4a"
    audio_signals.write_wav(wav, x, 48000)
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "128k", str(path))
    check = _check(qc_file(path, profile=profile, gpu=False).report, "audio.dropouts")
    assert (check.status, check.measured) == ("fail", 1.0), check.message
    (event,) = check.events
    # the encoder smears each edge by up to one AAC frame (21 ms)
    assert (event.start_s, event.end_s) == pytest.approx((7.6, 7.9), abs=0.03)


def _cut_to_a_card(path: Path, sound: np.ndarray, *, still: tuple[float, float] | None,
                   seconds: float, rate: int = 48000,
                   more: tuple[tuple[float, float], ...] = (),
                   card: tuple[int, int, int] = (30, 60, 120)) -> None:
    """A 25-fps film whose picture moves every frame, except a still card of colour ``card``
    over ``still`` (and over each of ``more``)."""
    from video_signals import cut_film

    parts: list[tuple[str, object, float]] = []
    t = 0.0
    for a, b in sorted(((still,) if still else ()) + more):
        if a > t:
            parts.append(("moving", 4, a - t))
        parts.append(("still", card, b - a))
        t = b
    if seconds > t:
        parts.append(("moving", 4, seconds - t))
    cut_film(path, parts, sound=sound, rate=rate)


def test_a_silence_cut_with_a_card_is_an_edit_not_a_dropout(tmp_path: Path,
                                                            profile: Profile) -> None:
    """A preview cuts from an excerpt to a silent 1.5-s card and back: sound and picture break
    together, an edit. The same silence under a moving picture is a dropout, and so is one in
    the middle of a slide that stays up before and after it: a receiver losing the microphone
    does not wait for the picture to change."""
    rate, seconds = 48000, 12.0
    speech = audio_signals.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=rate,
                                       seed=1)
    x = (speech.samples.repeat(2, axis=0) + audio_signals.white_noise(
        rms_dbfs=-65.0, seconds=seconds, sample_rate=rate, channels=2, seed=2)).astype(
        np.float32)
    # a cut at a frame boundary with speech on both sides (the card comes mid-sentence)
    i = next(k for k in range(round(5.0 * rate), round(7.0 * rate), rate // 25)
             if speech.active[k - 4800: k].all() and speech.active[k + 72000: k + 76800].all())
    j = i + 72000
    cut = (i / rate, j / rate)
    x[:, i:j] = 0.0
    verdicts = {}
    for case, still in (("card", cut), ("moving", None), ("slide", (cut[0] - 2, cut[1] + 2))):
        path = tmp_path / f"{case}.mp4"
        _cut_to_a_card(path, x, still=still, seconds=seconds)
        check = _check(qc_file(path, profile=profile, gpu=False).report, "audio.dropouts")
        verdicts[case] = (check.status, check.measured)
        if case == "card":
            assert "1 such silence(s) cut in and out with a still picture" in check.message
        else:
            (event,) = check.events
            assert (event.start_s, event.end_s) == pytest.approx(cut, abs=0.03)
    assert verdicts == {"card": ("pass", 0.0), "moving": ("fail", 1.0),
                        "slide": ("fail", 1.0)}


def test_a_finished_lectures_title_card_and_credits_are_not_freezes(tmp_path: Path,
                                                                    profile: Profile) -> None:
    """A lecture off a stick (``finished``): the still title card at its start (A4: ≤ 5 s)
    and the credits at its end (A5) are the regulation's, not frozen pictures, and their
    bluish grey is the designer's, not a cast; a picture frozen inside the lecture still is
    a freeze. Checked as a raw file, all three are freezes and the cards' colour a cast."""
    rate, seconds = 48000, 16.0
    sound = np.zeros((2, round(seconds * rate)), np.float32)
    path = tmp_path / "lecture.mp4"
    _cut_to_a_card(path, sound, still=(0.0, 4.0), seconds=seconds,
                   more=((7.0, 9.6), (13.0, 16.0)), card=(160, 165, 182))
    raw_report = qc_file(path, profile=profile, gpu=False).report
    raw = _check(raw_report, "video.freeze")
    assert raw.status == "warn" and len(raw.events) == 3, raw
    cast = _check(raw_report, "video.white_balance")
    assert cast.status == "warn" and len(cast.events) == 3, cast
    done_report = qc_file(path, profile=profile, gpu=False, finished=True).report
    wb = _check(done_report, "video.white_balance")
    assert [(e.start_s, e.end_s) for e in wb.events] == [(e.start_s, e.end_s)
                                                         for e in cast.events[1:2]], wb
    assert "designed graphics, their colours not judged" in wb.message
    done = _check(done_report, "video.freeze")
    assert done.status == "warn" and [(e.start_s, e.end_s) for e in done.events] == [
        pytest.approx((7.0, 9.6), abs=0.05)], done
    assert "the title card at the start (00:00:00.000–00:00:04.000, A4)" in done.message
    assert "the closing card at the end (00:00:13.000–00:00:16.000, credits, A5)" in \
        done.message
    assert done.measured == pytest.approx(2.6, abs=0.05)
    # a still too long for a title card, at the very start: a frozen picture all the same
    _cut_to_a_card(path, sound, still=(0.0, 6.0), seconds=seconds)
    long = _check(qc_file(path, profile=profile, gpu=False, finished=True).report,
                  "video.freeze")
    assert long.status == "warn" and long.events[0].start_s == 0.0, long


#: a bluish grey card: a cast were it a camera's picture
CARD = (160, 165, 182)


def test_lecture_1_opens_with_the_provinces_intro(tmp_path: Path, profile: Profile) -> None:
    """With the province's intro (A3) given, a finished lecture that opens with it: the
    intro's pictures (its 2.4-s bluish logo included) are the province's and the title card
    is the still after it, neither a frozen picture nor a cast. Without the intro the logo is
    taken for the card and the real card 3.4 s in is a freeze. Another tool's render that
    leads with two black frames opens with the intro all the same; a lecture that does not
    open with it is said so, with how far its opening is from it."""
    from video_signals import cut_film

    from tasks.course_qc import INTRO_MAD_CODES, IntroPictures

    intro_parts = [("moving", 7, 1.0), ("still", (120, 130, 165), 2.4)]
    lecture = [("still", CARD, 4.0), ("moving", 3, 6.0)]
    cut_film(tmp_path / "intro.mp4", intro_parts)
    cut_film(tmp_path / "first.mp4", [*intro_parts, *lecture])
    cut_film(tmp_path / "second.mp4", lecture)
    intro = IntroPictures(tmp_path / "intro.mp4", fps=25)
    assert intro.duration_s == pytest.approx(3.4)

    report = qc_file(tmp_path / "first.mp4", profile=profile, gpu=False, finished=True,
                     intro=intro).report
    opening = report.extra["intro"]
    assert isinstance(opening, dict) and opening["opens"] is True, opening
    assert opening["mad"] < INTRO_MAD_CODES
    cards = dict(report.extra["cards"])        # type: ignore[call-overload]
    assert isinstance(cards.pop("title_card_picture"), str)   # the card's luma, in short
    assert cards == {"intro": [0.0, 3.4], "opening_still": [3.4, 7.4],
                     "title_card": [3.4, 7.4], "animated_card": None,
                     "closing_still": None, "credits": None, "moving_credits": None,
                     "title_card_text": None,       # a 160×90 film: too small to read
                     "credits_text": None}
    freeze, wb = _check(report, "video.freeze"), _check(report, "video.white_balance")
    assert (freeze.status, wb.status, wb.events) == ("pass", "pass", ()), (freeze, wb)
    assert "the province's intro (00:00:00.000–00:00:03.400, A3)" in freeze.message

    from click.testing import CliRunner

    from courseware.cli import cli

    saved = tmp_path / "first.json"     # the command: --intro reads the file as finished
    CliRunner().invoke(cli, ["qc", str(tmp_path / "first.mp4"), "--cpu", "--json", str(saved),
                             "--intro", str(tmp_path / "intro.mp4")])
    said = json.loads(saved.read_text("utf-8"))
    assert (said["intro"]["opens"], said["cards"]["title_card"]) == (True, [3.4, 7.4])

    alone = qc_file(tmp_path / "first.mp4", profile=profile, gpu=False, finished=True).report
    frozen = _check(alone, "video.freeze")
    assert [(e.start_s, e.end_s) for e in frozen.events] == [
        pytest.approx((3.4, 7.4), abs=0.05)]
    assert ("if the file opens with the province's intro (A3), the still at "
            "00:00:03.400–00:00:07.400 may be its title card: give the intro clip "
            "(--intro 统一片头.mp4") in frozen.message, frozen.message   # how to have it read
    assert _check(alone, "video.white_balance").status == "warn"

    # another tool's render: two black frames before the intro
    cut_film(tmp_path / "late.mp4", [("still", (0, 0, 0), 0.08), *intro_parts, *lecture])
    late = qc_file(tmp_path / "late.mp4", profile=profile, gpu=False, finished=True,
                   intro=intro).report
    assert late.extra["intro"]["from_s"] == 0.08, late.extra   # type: ignore[index]
    assert late.extra["cards"]["title_card"] == [3.48, 7.48]   # type: ignore[index]
    assert not [e for e in _check(late, "video.white_balance").events if e.start_s < 7.48]

    other = qc_file(tmp_path / "second.mp4", profile=profile, gpu=False, finished=True,
                    intro=intro).report
    opening = other.extra["intro"]
    assert isinstance(opening, dict) and opening["opens"] is False, opening
    assert opening["mad"] > INTRO_MAD_CODES
    assert other.extra["cards"]["title_card"] == [0.0, 4.0]   # type: ignore[index]


def test_a_previews_cards_between_its_excerpts_are_not_freezes(tmp_path: Path,
                                                              profile: Profile) -> None:
    """A preview (预览 in its name, A6) read as finished: the still cards before each excerpt
    are its own, not frozen pictures or a cast, and it has no credits; the same film under
    another name keeps the middle card as a freeze."""
    from video_signals import cut_film

    parts = [("still", CARD, 3.0), ("moving", 3, 4.0), ("still", CARD, 2.4),
             ("moving", 4, 4.0), ("still", CARD, 2.4), ("moving", 5, 3.0)]
    cut_film(tmp_path / "课程预览.mp4", parts)
    (tmp_path / "film.mp4").write_bytes((tmp_path / "课程预览.mp4").read_bytes())
    preview = qc_file(tmp_path / "课程预览.mp4", profile=profile, gpu=False,
                      finished=True).report
    freeze, wb = _check(preview, "video.freeze"), _check(preview, "video.white_balance")
    assert (freeze.status, wb.status) == ("pass", "pass"), (freeze, wb)
    assert "the preview's 2 still card(s) between its excerpts" in freeze.message
    film = qc_file(tmp_path / "film.mp4", profile=profile, gpu=False, finished=True).report
    assert [(e.start_s, e.end_s) for e in _check(film, "video.freeze").events] == [
        pytest.approx((7.0, 9.4), abs=0.05), pytest.approx((13.4, 15.8), abs=0.05)]


def test_one_channels_dropout_is_found(tmp_path: Path, profile: Profile) -> None:
    # a camcorder: a wireless lavalier on input 1 loses its receiver for 300 ms while the
    # camera's own microphone on input 2 goes on (6 dB quieter, its room 20 dB under)
    rate = 48000
    speech = audio_signals.speech_like(level_dbfs=-20.0, seconds=12.0, sample_rate=rate,
                                       seed=1)
    lav = speech.samples[0] + audio_signals.pink_noise(rms_dbfs=-65.0, seconds=12.0,
                                                       sample_rate=rate, seed=2)[0]
    own = 0.5 * speech.samples[0] + audio_signals.pink_noise(rms_dbfs=-46.0, seconds=12.0,
                                                             sample_rate=rate, seed=3)[0]
    i, j = round(7.6 * rate), round(7.9 * rate)
    assert speech.active[i - 960: j + 960].all()
    lav[i:j] = 0.0
    wav, path = tmp_path / "camera.wav", tmp_path / "camera.m4a"
    audio_signals.write_wav(wav, np.vstack([lav, own]), rate)
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(path))
    check = _check(qc_file(path, profile=profile, gpu=False).report, "audio.dropouts")
    assert (check.status, check.measured) == ("fail", 1.0), check.message
    (event,) = check.events
    assert (event.start_s, event.end_s) == pytest.approx((7.6, 7.9), abs=0.03)
    assert "channel 1's sound gone" in event.detail


def test_a_music_bed_survives_aac_and_is_weighed(tmp_path: Path, profile: Profile) -> None:
    # a lecture delivered with music 10 dB under the narration (S4 wants 15), through AAC
    speech = audio_signals.speech_like(level_dbfs=-20.0, seconds=24.0, sample_rate=48000,
                                       seed=1)
    x = (speech.samples + audio_signals.music_like(rms_dbfs=-30.0, seconds=24.0,
                                                   sample_rate=48000, seed=4)).repeat(2, axis=0)
    wav, path = tmp_path / "lecture.wav", tmp_path / "lecture.m4a"
    audio_signals.write_wav(wav, x, 48000)
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "128k", str(path))
    report = qc_file(path, profile=profile, gpu=False).report
    check = _check(report, "audio.music_bed")
    assert check.status == "fail" and check.measured == pytest.approx(10.0, abs=1.0)
    assert _check(report, "audio.snr").status == "warn"


def test_a_gap_in_a_file_counts_its_missing_frames(tmp_path: Path, profile: Profile) -> None:
    # FFmpeg drops the 12 frames from 1.52 s to 1.96 s and keeps the others' timestamps: the
    # stream's average rate is then 22 fps; the gap is still 12 frames of 40 ms
    path = tmp_path / "gap.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
            "-vf", "select='not(between(t,1.5,1.98))'", "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", "ultrafast", str(path))
    report = qc_file(path, profile=profile, gpu=False).report
    check = _check(report, "video.timestamps")
    assert (check.status, check.measured) == ("fail", 12.0)
    (event,) = check.events
    assert event.start_s == pytest.approx(1.52) and event.end_s == pytest.approx(2.0)
    assert _check(report, "format.fps").status == "fail"      # D6: not a constant rate


@pytest.mark.parametrize("noise", ["noise=alls=8:allf=t,", ""], ids=["filmed", "digital"])
def test_fades_made_by_ffmpeg_are_not_colour_jumps(tmp_path: Path, profile: Profile,
                                                   noise: str) -> None:
    # FFmpeg's fade filter, then x264: 0.5-s fades whose encoded steps move the mean colour
    # by ΔE2000 3–4 each (each above V1's threshold alone); with a camera's noise, or
    # without, as a digital capture (judged as one: a fade over moving pictures is still
    # gradual, not cut into jumps by the stricter content rule)
    path = tmp_path / "fades.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
            "-vf", f"{noise}fade=t=in:st=0:d=0.5,fade=t=out:st=3.5:d=0.5",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(path))
    check = _check(qc_file(path, profile=profile, gpu=False, thumbnails=False).report,
                   "video.colour_jumps")
    assert check.status == "pass" and "gradual transition(s)" in check.message, check
    assert ("judged as a digital capture" in check.message) == (not noise), check
    if noise:
        assert "2 gradual transition(s)" in check.message, check


def test_a_full_range_file_is_judged_as_the_picture_it_shows(tmp_path: Path,
                                                             profile: Profile) -> None:
    """The same noisy picture exported in limited and in full range (FFmpeg's scale, flagged
    'pc'): SNR and cast agree; only V4 fails the full-range one, naming the coding."""
    source = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2"]
    chain = "noise=alls=3:allf=t"
    limited, full = tmp_path / "tv.mp4", tmp_path / "pc.mp4"
    _ffmpeg(*source, "-vf", chain, "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p",
            str(limited))
    _ffmpeg(*source, "-vf", f"{chain},scale=in_range=tv:out_range=pc,format=yuvj420p",
            "-c:v", "libx264", "-crf", "10", "-color_range", "pc", str(full))
    tv, pc = ({c.id: c for c in qc_file(p, profile=profile, gpu=False,
                                        thumbnails=False).report.checks}
              for p in (limited, full))
    assert tv["video.snr"].measured == pytest.approx(pc["video.snr"].measured, abs=0.5)
    assert tv["video.white_balance"].measured == pytest.approx(
        pc["video.white_balance"].measured, abs=0.5)
    assert pc["video.levels"].status == "fail"
    assert pc["video.levels"].measured > tv["video.levels"].measured + 0.1
    assert "coded in full range" in pc["video.levels"].message
    assert "full range" not in tv["video.levels"].message


def test_an_rgb_file_is_not_taken_for_full_range_yuv(tmp_path: Path, profile: Profile) -> None:
    # RGB (a screen recorder's libx264rgb) is full range by nature and says so; it becomes
    # limited-range Y'CbCr like any source, so its levels are legal: not a coding fault
    path = tmp_path / "screen.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1",
            "-c:v", "libx264rgb", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "bgr0",
            str(path))
    check = _check(qc_file(path, profile=profile, gpu=False, thumbnails=False).report,
                   "video.levels")
    assert check.status == "pass" and "full range" not in check.message, check


# ------------------------------------------------------------------------------ contract

def test_json_follows_the_contract(result: QcResult, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result.report.write_json(out)
    doc = json.loads(out.read_text("utf-8"))
    assert {"file", "profile", "status", "duration_s", "backend", "checks"} <= set(doc)
    assert doc["status"] in {"pass", "warn", "fail"}
    assert doc["profile"] == DEFAULT_PROFILE
    assert isinstance(doc["duration_s"], float)
    spec = (ROOT.parent / "shared/spec/courseware-spec.md")
    clauses = set(re.findall(r"^\| ([A-Z]\d+) \|", spec.read_text("utf-8"), re.M)) \
        if spec.is_file() else None
    ids = [c["id"] for c in doc["checks"]]
    assert len(ids) == len(set(ids))
    assert set(ids) >= FILE_IDS
    for c in doc["checks"]:
        assert set(c) == {"id", "clause", "status", "measured", "threshold", "unit",
                          "message", "events"}
        assert c["status"] in STATUSES
        assert isinstance(c["clause"], str) and isinstance(c["message"], str) and c["message"]
        if c["id"] != "audio.loudness":                 # informational, no clause
            assert re.fullmatch(r"[A-Z]\d+", c["clause"])
            assert clauses is None or c["clause"] in clauses
        for e in c["events"]:
            assert set(e) == {"start_s", "end_s", "detail"}
            assert 0.0 <= e["start_s"] <= e["end_s"]
    assert doc["status"] == "fail"


# ------------------------------------------------------------------------------ CLI

B3 = "video.slides_layout"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courseware.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_reports_and_exits_1_on_fail(defects: Path, tmp_path: Path) -> None:
    json_out, html_out = tmp_path / "r.json", tmp_path / "r.html"
    run = _cli("qc", str(defects), "--json", str(json_out), "--html", str(html_out), "--cpu")
    assert run.returncode == 1, run.stderr
    assert "video.black" in run.stdout and "FAIL" in run.stdout
    # where: the planted black span and loud peak, by timecode, under the table
    where = run.stdout.split("\nwhere:\n", 1)[1]
    assert re.search(r"^  video\.black  00:00:02\.[45]\d\d–00:00:03\.[45]\d\d  black for",
                     where, re.M), where
    assert re.search(r"^  audio\.peak  00:00:0[23]\.\d{3}–00:00:0[34]\.\d{3}  true peak",
                     where, re.M), where
    assert "backend numpy" in run.stdout
    assert json.loads(json_out.read_text("utf-8"))["status"] == "fail"
    assert html_out.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_cli_layout_with_an_authored_source(defects: Path, tmp_path: Path) -> None:
    # --authored: the slides region is a digital capture, not measured as a camera
    json_out = tmp_path / "r.json"
    run = _cli("qc", str(defects), "--layout", "pip", "--authored", "slides", "--cpu",
               "--json", str(json_out))
    assert run.returncode == 1, run.stderr
    snr = next(c for c in json.loads(json_out.read_text("utf-8"))["checks"]
               if c["id"] == "video.snr")
    assert "slides: an authored capture, not measured" in snr["message"], snr
    b3 = next(c for c in json.loads(json_out.read_text("utf-8"))["checks"]
              if c["id"] == "video.slides_layout")      # the layout for the whole file
    assert (b3["status"], b3["measured"]) == ("pass", 0.5625), b3
    # testsrc2's only words (its timecode, top left) are outside pip's slides region: its
    # coloured squares and ramps found there by the OCR's finder are not lines of text
    assert "no text found on the slides in the 3 picture(s) measured" in b3["message"], b3
    bad = _cli("qc", str(defects), "--layout", "pip", "--authored", "screen", "--cpu")
    assert bad.returncode == 2 and "screen: not a source of layout pip" in bad.stderr


def test_cli_checks_part_of_a_file(defects: Path, tmp_path: Path) -> None:
    """``--start``/``--end`` in seconds or as timecodes: the part after the black second
    and the loud one is judged alone; a time that is not one, or an end before the start,
    is refused with what to give."""
    json_out = tmp_path / "r.json"
    run = _cli("qc", str(defects), "--start", "0:04.2", "--cpu", "--json", str(json_out))
    assert "00:00:04.200–00:00:06.000 of the file only" in run.stderr, run.stderr
    doc = json.loads(json_out.read_text("utf-8"))
    assert doc["span_s"] == [4.2, 6.0]
    assert next(c for c in doc["checks"] if c["id"] == "video.black")["status"] == "pass"
    bad = _cli("qc", str(defects), "--start", "1:75", "--cpu")
    assert bad.returncode == 2 and "'1:75' is not a time" in bad.stderr
    bad = _cli("qc", str(defects), "--start", "5", "--end", "4", "--cpu")
    assert bad.returncode == 2 and "must come after --start (5 s)" in bad.stderr


def test_a_raw_source_is_judged_for_the_lecture_made_of_it(tmp_path: Path) -> None:
    """``--raw``: a camera's original (MJPEG in AVI at 20 Mbit/s, 640×480, 30 fps, no sound)
    fails D2/D3/D4/D5/D6/D9/D10 as a lecture; as a raw source the clauses the render meets
    anyway are skipped with their measurement kept, the small 4:3 picture is a warning (its
    place in the layout decides), the missing sound points to the other sources. HDR video,
    which the render does not tone-map, still fails D2; a quiet recorder's S1 peaks are the
    render's to set. --raw with --finished is refused."""
    from tasks.qc import as_source
    from tasks.verify import verify_file

    camera = tmp_path / "camera.avi"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x480:r=30:d=2",
                    "-c:v", "mjpeg", "-b:v", "20M", "-an", str(camera)], check=True)
    lecture_json, raw_json = tmp_path / "lecture.json", tmp_path / "raw.json"
    _cli("qc", str(camera), "--cpu", "--json", str(lecture_json))
    said = _cli("qc", str(camera), "--cpu", "--raw", "--json", str(raw_json), "--html",
                str(tmp_path / "raw.html"))
    assert "note: judged as a raw source, for the lecture the render makes of it" in said.stderr
    assert "<th>判定 Judged as</th><td>原始素材 A raw source, for the lecture made of it" in (
        tmp_path / "raw.html").read_text("utf-8")
    assert json.loads(raw_json.read_text("utf-8"))["raw_source"] is True
    as_lecture, as_raw = ({c["id"]: c for c in json.loads(p.read_text("utf-8"))["checks"]}
                          for p in (lecture_json, raw_json))
    remade = ["format.container", "format.video_codec", "format.bitrate", "format.fps",
              "format.audio_codec", "format.audio_rate", "format.audio_channels"]
    for key in [*remade, "format.resolution", "format.aspect"]:
        assert as_lecture[key]["status"] == "fail", as_lecture[key]
    for key in remade:
        assert as_raw[key]["status"] == "skip", as_raw[key]
        assert as_raw[key]["measured"] == as_lecture[key]["measured"]
        assert "the specification wants" not in as_raw[key]["message"], as_raw[key]
    assert "a raw source; the render makes the lecture's format (D3)" in as_raw[
        "format.bitrate"]["message"]
    assert "`courseware plan` shows which" in as_raw["format.audio_codec"]["message"]
    assert as_raw["format.resolution"]["status"] == as_raw["format.aspect"]["status"] == "warn"
    assert as_raw["format.resolution"]["message"].startswith(
        "640x480: a raw source smaller than the lecture's picture (≥ 1280x720)")
    # the picture is judged as it is; B3 is the lecture's (or its slides capture's, told
    # its layout's scale by the flow)
    assert {k: c for k, c in as_raw.items() if k.startswith("video.") and k != B3} == {
        k: c for k, c in as_lecture.items() if k.startswith("video.") and k != B3}
    assert as_raw[B3]["status"] == "skip" and "a raw source that is not a lecture's slides " \
        "capture" in as_raw[B3]["message"], as_raw[B3]

    # a recorder's quiet sound (peaks near -26 dBFS): S1 fails for a lecture; for a raw
    # source the render sets the level, and the sound's own faults (clipping, S2) stay
    quiet = tmp_path / "quiet.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=2",
                    "-f", "lavfi", "-i", "sine=f=440:d=2,volume=0.05", "-c:v", "libx264",
                    "-c:a", "aac", "-shortest", str(quiet)], check=True)
    levels = [{c.id: c for c in qc_file(quiet, profile=load_profile(), thumbnails=False,
                                        gpu=False, raw=raw).report.checks}
              for raw in (False, True)]
    assert levels[0]["audio.peak"].status == "fail", levels[0]["audio.peak"]
    assert levels[1]["audio.peak"].status == "skip", levels[1]["audio.peak"]
    assert levels[1]["audio.peak"].measured == levels[0]["audio.peak"].measured
    assert "the render sets the lecture's level" in levels[1]["audio.peak"].message
    for key in ("audio.clipping", "audio.snr", "audio.hum"):
        assert levels[1][key] == levels[0][key], key

    phone = CLIPS["hlg"].make(tmp_path, load_profile())      # a phone's HDR video
    pixels = next(c for c in verify_file(phone, profile=load_profile()).checks
                  if c.id == "format.pixel_format")
    assert pixels.status == "fail" and "high dynamic range" in pixels.message, pixels
    assert as_source(pixels, load_profile()) == pixels
    ten_bit = CLIPS["10bit"].make(tmp_path, load_profile())   # 10-bit SDR: converted
    pixels = next(c for c in verify_file(ten_bit, profile=load_profile()).checks
                  if c.id == "format.pixel_format")
    assert pixels.status == "fail" and as_source(pixels, load_profile()).status == "skip"
    refused = _cli("qc", str(camera), "--cpu", "--raw", "--finished")
    assert refused.returncode == 2 and "a raw source is no finished lecture" in refused.stderr


def test_a_raw_slides_captures_pages_are_not_freezes(tmp_path: Path) -> None:
    """A slides capture straight from a computer (no sensor noise), three pages of a cream
    template held 2.4–3.2 s: as a raw source its stills are pages, not counted, and its
    template's colour is not judged (the render neither corrects nor judges an authored
    capture's colours); checked as a film, each still is a frozen span (a finished film's
    stills may be cards or a frozen picture) and the cream a warning to judge by eye."""
    from video_signals import cut_film

    cream = (240, 230, 200)
    cut_film(tmp_path / "slides.mp4", [("card", (cream, "one"), 2.4),
                                       ("card", (cream, "two"), 3.2),
                                       ("card", (cream, "three"), 2.6)], size=(320, 180))
    film, raw = ({c.id: c for c in qc_file(tmp_path / "slides.mp4", profile=load_profile(),
                                           thumbnails=False, gpu=False, raw=r).report.checks}
                 for r in (False, True))
    assert film["video.freeze"].status == "warn", film["video.freeze"]
    assert [(e.start_s, e.end_s) for e in film["video.freeze"].events] == [
        pytest.approx(s, abs=0.05) for s in ((0.0, 2.4), (2.4, 5.6), (5.6, 8.2))]
    pages = raw["video.freeze"]
    assert (pages.status, pages.measured, pages.events) == ("pass", 0.0, ()), pages
    assert "3 still stretch(es) of 2 s or more (8.2 s in all) are its pages" in pages.message
    assert "the longest, 00:00:02.400–00:00:05.600 (3.2 s)" in pages.message
    cast, template = film["video.white_balance"], raw["video.white_balance"]
    assert cast.status == "warn" and "judge by eye" in cast.message, cast
    assert (template.status, template.measured) == ("skip", cast.measured), template
    assert "the render does not correct an authored capture's colours" in template.message
    assert {k: c for k, c in raw.items() if k.startswith("video.") and k not in (
        "video.freeze", "video.white_balance", B3)} == {
        k: c for k, c in film.items() if k.startswith("video.") and k not in (
            "video.freeze", "video.white_balance", B3)}


def test_what_the_render_corrects_is_a_warning_for_a_raw_source() -> None:
    """A raw source's S2 fail is a warning where the render's noise reduction (at most
    ``encode.audio_denoise_max_db``) can bring it to S2's minimum, and stays a fail beyond
    that or with the reduction off; its hum is a warning where the render notches every line
    the check counts (its prominence limit no lower than the render's); clipping stays."""
    import dataclasses as dc

    from tasks.qc import as_source

    profile = load_profile()
    least = profile.audio.snr_min_db - profile.encode.audio_denoise_max_db

    def snr(db: float) -> Check:
        return Check("audio.snr", "S2", "fail", db, profile.audio.snr_min_db, "dB",
                     f"SNR {db:.1f} dB is below 48 dB")

    assert as_source(snr(least + 1.0), profile).status == "warn"
    assert "noise reduction lowers a steady noise floor by up to 20 dB" in as_source(
        snr(least + 1.0), profile).message
    assert as_source(snr(least - 1.0), profile) == snr(least - 1.0)
    off = profile.model_copy(update={"encode": profile.encode.model_copy(
        update={"audio_denoise": "off"})})
    assert as_source(snr(least + 1.0), off).status == "fail"
    hum = Check("audio.hum", "S3", "fail", 24.0, 10.0, "dB", "50 Hz mains hum")
    assert as_source(hum, profile).status == "warn"
    assert as_source(dc.replace(hum, threshold=8.0), profile).status == "fail"
    clipped = Check("audio.clipping", "S1", "fail", 3.0, 0.0, "runs", "3 clipped runs")
    assert as_source(clipped, profile) == clipped


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    run = _cli("qc", str(tmp_path / "absent.mp4"), "--cpu")
    assert run.returncode == 2
    assert "absent.mp4" in run.stderr


# ------------------------------------------------------------------------------ HTML

def test_each_clause_in_the_html_says_what_it_asks(result: QcResult, profile: Profile) -> None:
    """Every check's clause cell carries what the clause asks (a hover hint), B3 included."""
    from html import escape

    from courseware.html_report import clause_texts

    page = render_html(result)
    texts = clause_texts(profile)
    clauses = {c.clause for c in result.report.checks}
    assert {"B3", "V2", "S1", "D3"} <= clauses & set(texts)
    for clause in clauses & set(texts):
        assert f'<td title="{escape(texts[clause])}">{clause}</td>' in page, clause


def test_html_is_self_contained_and_escaped(result: QcResult) -> None:
    hostile = dataclasses.replace(result.report, file="<script>alert('x')</script>&.mp4")
    page = render_html(dataclasses.replace(result, report=hostile))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert '<meta charset="utf-8">' in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    assert page.count("data:image/jpeg;base64,") >= len(result.thumbnails)
    assert page.count("<svg") == 3
    assert "00:00:02.520" in page                      # the black span's timecode
    for group in ("封装格式 Format", "视频信号 Video signal", "音频信号 Audio signal"):
        assert group in page


def test_a_chart_keeps_silence_on_its_floor_and_its_labels_apart() -> None:
    """Short-term loudness of a lecture with a second of digital silence (an edit, the gap
    after the intro) and its three reference lines 6 LU apart: the axis ends at the
    timeline's floor, not at the silence's −150 LUFS, which would squash speech into a
    sliver; the lines' labels do not print over each other."""
    import itertools

    from courseware.html_report import LABEL_GAP_PX, _svg_chart
    from tasks.qc import Limit, Timeline

    loudness = Timeline("loudness", "Short-term loudness", "短期响度", "LUFS", 1.0,
                        times=tuple(float(t) for t in range(20)),
                        values=(-20.0,) * 8 + (-150.0,) + (-21.0,) * 11,
                        limits=(Limit(-20.1, "integrated"), Limit(-14.1, "+6 LU"),
                                Limit(-26.1, "−6 LU")), check_ids=(), source="", floor=-70.0)

    def drawn(tl: Timeline) -> tuple[list[float], list[float]]:
        svg = _svg_chart(tl, [], duration_s=20.0)
        ticks = re.findall(r'text-anchor="end" font-size="12" fill="#616161">([-\d.]+)<', svg)
        labels = re.findall(r'<text x="\d+" y="([\d.]+)" font-size="12" fill="#c62828"', svg)
        return [float(t) for t in ticks], sorted(float(y) for y in labels)

    ticks, labels = drawn(loudness)
    assert min(ticks) > -80 and max(ticks) <= -10, ticks
    unfloored, crowded = drawn(dataclasses.replace(loudness, floor=None))
    assert min(unfloored) <= -140                   # what the chart did before
    for shown in (labels, crowded):                 # 6 LU is 8 px there
        assert len(shown) == 3
        assert all(b - a >= LABEL_GAP_PX - 1e-6 for a, b in itertools.pairwise(shown)), shown


def test_html_renders_in_chromium(result: QcResult, tmp_path: Path) -> None:
    page, png = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(render_html(result), "utf-8")
    width, height = 1280, 8000
    screenshot(page, png, width=width, height=height, profile=tmp_path / "profile")
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
    assert pixels.shape == (height, width, 3)
    assert pixels.std() > 20                                   # not blank

    def share(region: np.ndarray, hex_colour: str) -> float:
        rgb = np.array([int(hex_colour[i: i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(region - rgb).sum(axis=-1) < 30).mean())

    # the verdict band across the top is the FAIL red
    assert share(pixels[:60], COLOURS["fail"]) > 0.8
    # the page ends inside the window, well below the first screen: all sections rendered
    background = np.array([245, 245, 245])
    content_rows = np.nonzero((np.abs(pixels - background).sum(axis=-1) > 10).any(axis=1))[0]
    assert 2000 < content_rows.max() < height - 10
    # the chart lines (#1565c0) and the status badges are drawn
    assert share(pixels, "#1565c0") > 1e-4
    assert share(pixels, COLOURS["pass"]) > 1e-4


def test_check_ids_wrap_after_their_dots(result: QcResult, tmp_path: Path) -> None:
    """In a desktop window and on a phone's width, a check id that does not fit its cell
    breaks after its dot (``format.`` / ``video_codec``), never inside a word."""
    page = tmp_path / "report.html"
    page.write_text(render_html(result), "utf-8")
    for width in (1280, 420):
        drawn = lines_drawn(page, "td.check code", width=width, profile=tmp_path / "profile")
        assert len(drawn) == len(result.report.checks)
        ids = {c.id for c in result.report.checks}
        for lines in drawn:
            assert "".join(lines) in ids, lines
            assert all(line.endswith(".") for line in lines[:-1]), (width, lines)
        assert any(len(lines) == 2 for lines in drawn), width      # some do wrap


def test_html_draws_its_chinese_with_the_glyphs_it_carries(result: QcResult,
                                                           tmp_path: Path) -> None:
    """Every Chinese character on the page, in the text and in monospace file names, is
    drawn by the font the page carries, whatever fonts the machine has (this one and CI
    have no CJK font: without it they are boxes); ASCII is left to the machine's fonts."""
    renamed = dataclasses.replace(result.report, file="/课程/第01讲_碳中和.mp4")
    page = tmp_path / "report.html"
    page.write_text(render_html(dataclasses.replace(result, report=renamed)), "utf-8")
    drawn = fonts_drawn(page, profile=tmp_path / "profile")
    chinese = [d for d in drawn if cjk(d.text)]
    assert len(chinese) > 30
    for d in chinese:
        assert sum(d.custom.values()) >= cjk(d.text), d
        assert set(d.custom) <= {find_face().family}, d
    title = next(d for d in drawn if d.text.startswith("课件质检报告"))
    assert sum(title.custom.values()) == sum(ord(ch) > 0x7F for ch in title.text), title
    name = next(d for d in drawn if d.text == renamed.file)
    assert sum(name.custom.values()) == cjk(name.text), name
    assert sum(name.system.values()) == len(name.text) - cjk(name.text), name  # the Latin


# ------------------------------------------------------------------------------ backends

def test_gpu_request_without_gpu_falls_back_and_says_so(
        defects: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.qc

    monkeypatch.setattr(tasks.qc, "gpu_namespace", lambda: None)
    res = qc_file(defects, profile=profile, gpu=True, thumbnails=False)
    assert res.report.backend == "numpy"
    assert any("NumPy" in note for note in res.notes)
    assert "NumPy" in render_html(res)


@pytest.mark.gpu
def test_gpu_report_matches_cpu(defects: Path, profile: Profile, result: QcResult,
                                device_xp: Any) -> None:
    res = qc_file(defects, profile=profile, gpu=True, thumbnails=False)
    assert res.report.backend == "cupy" and not res.notes
    assert_same_report(res.report, result.report)


@pytest.mark.gpu
def test_gpu_reads_a_finished_lecture_as_the_cpu_does(tmp_path: Path, profile: Profile,
                                                      device_xp: Any) -> None:
    """The finished-file reading on the device: the intro found, the title card after it and
    its picture kept (for the stick's A4), the same checks as on the CPU."""
    from video_signals import cut_film

    from tasks.course_qc import IntroPictures

    intro_parts = [("moving", 7, 1.0), ("still", (120, 130, 165), 2.4)]
    cut_film(tmp_path / "intro.mp4", intro_parts)
    cut_film(tmp_path / "first.mp4", [*intro_parts, ("still", CARD, 4.0), ("moving", 3, 4.0),
                                      ("still", (200, 200, 200), 3.0)])
    intro = IntroPictures(tmp_path / "intro.mp4", fps=25)
    host, device = (qc_file(tmp_path / "first.mp4", profile=profile, gpu=gpu, finished=True,
                            intro=intro, thumbnails=False).report for gpu in (False, True))
    assert (host.backend, device.backend) == ("numpy", "cupy")
    assert_same_report(device, host)
    assert device.extra["intro"] == host.extra["intro"]
    assert device.extra["cards"] == host.extra["cards"]
    cards = host.extra["cards"]
    assert isinstance(cards, dict)
    assert (cards["title_card"], cards["credits"]) == ([3.4, 7.4], [11.4, 14.4])
    assert isinstance(cards["title_card_picture"], str)
