"""A generated course through the real Prefect flows, checked by an independent reader."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import av
import numpy as np
import pytest
from PIL import Image
from pymediainfo import MediaInfo
from video_signals import frame_at

from courseware.cards import BACKGROUND
from courseware.sample import make_sample
from encoder_profiles import load_profile
from flows.course import CourseOutcome, course_flow
from tasks.verify import verify_file

PROFILE = load_profile()
SECONDS = 4.0


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("raw") / "course", lectures=2, seconds=SECONDS)


@pytest.fixture(scope="module")
def outcome(raw: Path, tmp_path_factory: pytest.TempPathFactory,
            prefect_server: None) -> CourseOutcome:
    base = tmp_path_factory.mktemp("run")
    return course_flow(str(raw), str(base / "delivery"), work_dir=str(base / "work"))


def _store(outcome: CourseOutcome) -> Path:
    return Path(outcome.store)


def test_every_lecture_is_published_and_passes_verify(outcome: CourseOutcome) -> None:
    assert [lec.status for lec in outcome.lectures] == ["pass", "pass"], outcome
    for lec in outcome.lectures:
        assert lec.key is not None
        path = _store(outcome) / lec.key
        report = verify_file(path, profile=PROFILE)
        assert report.status == "pass", report.table()
        qc = json.loads(path.with_name(path.name.removesuffix(".mp4") + ".qc.json")
                        .read_text("utf-8"))
        # what the render said about the lecture travels with its report
        assert qc.get("render_notes", []) == list(lec.warnings)
    assert not list(_store(outcome).rglob("*.part"))


def test_delivery_package(outcome: CourseOutcome) -> None:
    """D1/D11/A6: preview, form, bank, a course manifest with checksums, a root listing."""
    import hashlib
    import json

    store = _store(outcome)
    assert outcome.package is not None and outcome.preview_rendered, outcome.package_message
    manifest = json.loads((store / outcome.package.manifest_key).read_text("utf-8"))
    assert manifest["bank_issues"] == [] and manifest["preview"]
    names = {Path(o["key"]).name for o in manifest["objects"]}
    assert {"申报表_附件2.docx", "题库.csv"} <= names
    for obj in manifest["objects"]:
        data = (store / obj["key"]).read_bytes()
        assert obj["sha256"] == hashlib.sha256(data).hexdigest() and obj["size"] == len(data)
    preview = store / manifest["preview"]
    report = verify_file(preview, profile=PROFILE)
    assert report.status == "pass" and report.duration_s <= PROFILE.structure.preview_max_s
    listing = (store / "课程清单.txt").read_text("utf-8")
    assert outcome.course in listing and "第1讲" in listing and "第2讲" in listing


def test_the_plan_foretells_the_course_reports_lengths(raw: Path,
                                                      outcome: CourseOutcome) -> None:
    """``courseware plan``, before anything is rendered, gives each film's length (intro,
    card, lecture, credits) as the published file has it, and the course report's A1/A2
    length checks with its verdicts and values."""
    from courseware.course import load_course
    from tasks.plan import course_length_checks, plan_lecture

    course = load_course(raw)
    plans = [plan_lecture(course, lec, PROFILE) for lec in course.lectures]
    for plan, lec in zip(plans, outcome.lectures, strict=True):
        assert plan.film_s == pytest.approx(lec.duration_s, abs=1 / PROFILE.delivery.fps)
    report = json.loads((_store(outcome) / outcome.course_report_key).read_text("utf-8"))
    published = {c["id"]: (c["status"], c["measured"]) for c in report["checks"]}
    planned = course_length_checks(course, plans, PROFILE)
    assert [c.id for c in planned] == [
        "course.lecture_count", "course.lecture_duration", "course.total_hours"]
    for c in planned:
        status, measured = published[c.id]
        assert c.status == status
        assert c.measured == pytest.approx(measured, abs=0.01), c
    assert course_length_checks(course, plans[:1], PROFILE) == ()   # not every lecture


def test_course_report_published(outcome: CourseOutcome) -> None:
    """The course report (course.*) after the package: the rendered structure passes (intro,
    title cards, credits, preview, bank, manifest, one size); the few-second sample lectures
    fail A2's durations, as the sample says they do."""
    import json

    store = _store(outcome)
    durations = {"course.lecture_count", "course.lecture_duration", "course.total_hours"}
    assert outcome.course_report_status == "fail", outcome.course_report_message
    assert set(outcome.course_report_failed) == durations
    assert outcome.course_report_key and outcome.course_report_html_key
    report = json.loads((store / outcome.course_report_key).read_text("utf-8"))
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        **dict.fromkeys(durations, "fail"),
        **dict.fromkeys(("course.uniform_resolution", "course.loudness", "course.title_card",
                         "course.intro", "course.credits", "course.preview",
                         "course.question_bank", "course.manifest"), "pass")}
    rows = report["lectures"]
    assert [r["format"] for r in rows] == ["pass", "pass"]
    assert all(r["qc"] in ("pass", "warn", "fail") for r in rows)
    html = (store / outcome.course_report_html_key)
    page = html.read_text("utf-8")
    for row in rows:  # each lecture's own QC page, linked relative to the course report
        assert (html.parent / row["qc_html"]).is_file()
        assert f'href="{quote(row["qc_html"])}"' in page
    assert outcome.package is not None
    manifest = json.loads((store / outcome.package.manifest_key).read_text("utf-8"))
    listed = {o["key"] for o in manifest["objects"]}
    assert outcome.course_report_key not in listed and outcome.course_report_html_key not in listed


def test_independent_reader_agrees(outcome: CourseOutcome) -> None:
    """MediaInfo (libmediainfo, not FFmpeg) reads the delivery clauses D2–D10 the same."""
    for lec in outcome.lectures:
        assert lec.key is not None
        info = MediaInfo.parse(str(_store(outcome) / lec.key))
        general, video, audio = info.general_tracks[0], info.video_tracks[0], info.audio_tracks[0]
        assert general.format == "MPEG-4" and general.isstreamable == "Yes"  # D2, D10
        assert video.format == "AVC" and video.bit_rate_mode == "CBR"  # D2, D3
        kbps = PROFILE.delivery.video_bitrate_kbps
        assert kbps.min * 1000 <= video.bit_rate <= kbps.max * 1000  # D3
        assert (video.width, video.height) == (1280, 720)  # D4
        assert float(video.display_aspect_ratio) == pytest.approx(16 / 9, abs=1e-3)  # D5
        assert float(video.frame_rate) == 25.0 and video.frame_rate_mode == "CFR"  # D6
        assert video.scan_type == "Progressive"  # D7
        assert audio.format == "AAC" and audio.format_additionalfeatures == "LC"  # D9
        assert audio.sampling_rate == 48000 and audio.channel_s == 2
        assert audio.bit_rate_mode == "CBR"
        assert audio.bit_rate == pytest.approx(128000, rel=0.005)


def test_windowed_video_bit_rate_stays_inside_d3(outcome: CourseOutcome) -> None:
    """Bit rate of the video stream over the profile's window, title card included."""
    kbps = PROFILE.delivery.video_bitrate_kbps
    window = PROFILE.delivery.bitrate_window_s
    for lec in outcome.lectures:
        assert lec.key is not None
        with av.open(str(_store(outcome) / lec.key)) as c:
            stream = c.streams.video[0]
            per_second: dict[int, int] = {}
            for packet in c.demux(stream):
                if packet.size and packet.pts is not None:
                    second = int(packet.pts * stream.time_base)
                    per_second[second] = per_second.get(second, 0) + packet.size
        seconds = [per_second.get(s, 0) for s in range(max(per_second))]  # complete seconds
        n = round(window)
        rates = [sum(seconds[i:i + n]) * 8 / 1000 / n for i in range(len(seconds) - n + 1)]
        assert min(rates) >= kbps.min and max(rates) <= kbps.max, rates


def test_structure_intro_card_lecture_credits(outcome: CourseOutcome, raw: Path) -> None:
    first, last = (_store(outcome) / lec.key for lec in outcome.lectures if lec.key)
    with av.open(str(raw.parent / "intro.mp4")) as c:
        intro_s = float(c.duration / av.time_base)
    card, credits = PROFILE.encode.title_card_s, PROFILE.encode.credits_s
    # A3: lecture 1 opens with the provincial intro, then the A4 title card
    assert outcome.lectures[0].duration_s == pytest.approx(intro_s + card + SECONDS, abs=0.2)
    # A5: the last lecture ends with the credits
    assert outcome.lectures[1].duration_s == pytest.approx(card + SECONDS + credits, abs=0.2)
    for path, t in ((first, intro_s + card / 2), (last, card / 2),
                    (last, card + SECONDS + credits / 2)):
        corner = frame_at(path, t)[10:40, 10:40].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - BACKGROUND).max() < 6, (path.name, t, corner)
    # the opening frames are the intro's own pictures, scaled to the delivery size
    intro = frame_at(raw.parent / "intro.mp4", 1.5)
    shown = frame_at(first, 1.5)
    scaled = np.asarray(Image.fromarray(intro).resize(shown.shape[1::-1], Image.BILINEAR))
    assert np.abs(scaled.astype(float) - shown).mean() < 6
    card_frame = frame_at(first, intro_s + card / 2)
    assert np.abs(card_frame.astype(float) - shown).mean() > 10


def test_a_broken_lecture_fails_alone(raw: Path, tmp_path: Path, prefect_server: None) -> None:
    course = tmp_path / "course"
    shutil.copytree(raw.parent, course)
    teacher = next((course / "lecture02").glob("teacher.*"))
    teacher.write_bytes(b"\x00garbage, not a video" * 100)
    result = course_flow(str(course / raw.name), str(tmp_path / "delivery"),
                         work_dir=str(tmp_path / "work"))
    ok, bad = result.lectures
    assert ok.status == "pass" and ok.key is not None
    assert bad.status == "error" and bad.key is None
    assert str(teacher) in bad.message and "lecture 2" in bad.message
    assert "re-export or re-upload" in bad.message
    published = sorted(p.name for p in (tmp_path / "delivery").rglob("*") if p.is_file())
    assert all("第01讲" in name for name in published), published


def test_cli_bad_course_file_one_message_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "course.yaml"
    bad.write_text("course:\n  name: 测试\n  kind: public\n", encoding="utf-8")
    out = tmp_path / "delivery"
    proc = subprocess.run(
        [sys.executable, "-m", "courseware.cli", "run", str(bad), "--out", str(out)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {bad}") and "course.hours" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
