"""``courseware qc FOLDER --out DIR``: every recording and lecture of a delivery stick checked,
a report each under its own name, and a summary (质检汇总.json / .html), through the real
Prefect flow ``qc-batch``."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import uuid
from pathlib import Path
from urllib.parse import unquote

import boto3
import numpy as np
import pytest
from audio_signals import speech_like
from browser import cjk, fonts_drawn
from click.testing import CliRunner
from video_signals import camera_file

from courseware.cli import cli
from courseware.errors import MissingSourceError, PipelineError
from courseware.fonts import find_face
from encoder_profiles import load_profile
from tasks.course_qc import LectureMeasure
from tasks.qc import qc_file
from tasks.qc_batch import SUMMARY_NAME, find_media, report_keys
from tasks.stick_qc import check_course_size, numbered

FS = 48000
PROFILE = load_profile()


def _speech(seconds: float, seed: int) -> np.ndarray:
    return speech_like(level_dbfs=-24.0, seconds=seconds, sample_rate=FS, seed=seed).samples


def test_the_walk_takes_recordings_in_lecture_order_and_passes_over_the_rest(
        tmp_path: Path) -> None:
    """Natural order (第2讲 before 第10讲); documents, banks and the hidden copies a Mac leaves
    on a stick (``._x.mp4``, ``.DS_Store``, ``.Trashes/``) are passed over and listed; a file
    given by name is taken whatever its suffix; two folders of the same name keep their files
    apart; what does not exist, or holds nothing to check, is an error naming it."""
    stick = tmp_path / "stick"
    course = stick / "课程A"
    (course / ".Trashes").mkdir(parents=True)
    for name in ("第10讲.mp4", "第2讲.MP4", "第1讲.mov", "._第1讲.mov", ".DS_Store", "题库.csv",
                 "申报表.docx", ".Trashes/old.mp4"):
        (course / name).write_bytes(b"x")
    (stick / "课程清单.txt").write_text("课程A", "utf-8")
    found, other = find_media([stick])
    assert [f.name for f in found] == ["课程A/第1讲.mov", "课程A/第2讲.MP4", "课程A/第10讲.mp4"]
    assert sorted(o.name for o in other) == sorted(["课程A/.DS_Store", "课程A/.Trashes/old.mp4",
                                    "课程A/._第1讲.mov", "课程A/申报表.docx", "课程A/题库.csv",
                                    "课程清单.txt"])
    odd = tmp_path / "export.bin"
    odd.write_bytes(b"x")
    found, other = find_media([odd])
    assert [(f.path, f.name) for f in found] == [(odd, "export.bin")] and other == []

    twin = tmp_path / "b" / "stick"
    (twin / "课程A").mkdir(parents=True)
    (twin / "课程A" / "第1讲.mov").write_bytes(b"x")
    found, _ = find_media([stick, twin, odd, twin / "课程A" / "第1讲.mov"])
    assert [f.name for f in found] == [       # both folders are "stick"
        "stick/课程A/第1讲.mov", "stick/课程A/第2讲.MP4", "stick/课程A/第10讲.mp4",
        "stick (2)/课程A/第1讲.mov", "export.bin"]   # and the file given again: once
    found, _ = find_media([stick / "课程A" / "第1讲.mov", twin / "课程A" / "第1讲.mov"])
    assert [f.name for f in found] == ["第1讲.mov", "第1讲 (2).mov"]

    with pytest.raises(MissingSourceError, match=r"nothing\.mp4: no such file or folder"):
        find_media([tmp_path / "nothing.mp4"])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "申报表.docx").write_bytes(b"x")
    with pytest.raises(MissingSourceError, match=r"no recordings or lectures found \(only "
                                                 r"申报表\.docx\)"):
        find_media([docs])


def test_a_sticks_course_folders_whatever_their_depth(tmp_path: Path) -> None:
    """A stick's course is the folder under its root, its videos and bank in subfolders or
    not (a document at the root, a listing in Excel, changes nothing); a course folder given
    on its own (lectures, or its documents with its videos in one folder, at its top) is one
    course; several paths given keep their labels."""
    from tasks.qc_batch import course_folders

    stick = tmp_path / "stick"
    for name in ("课程A/视频/第1讲.mp4", "课程A/视频/第2讲.mp4", "课程A/题库/题库.xlsx",
                 "课程A/预览.mp4", "课程B/第1讲.mp4", "课程清单.txt"):
        (stick / name).parent.mkdir(parents=True, exist_ok=True)
        (stick / name).write_bytes(b"x")
    found, other = find_media([stick])
    assert course_folders(found, other) == {
        "课程A/视频/第1讲.mp4": "课程A", "课程A/视频/第2讲.mp4": "课程A", "课程A/预览.mp4": "课程A",
        "课程A/题库/题库.xlsx": "课程A", "课程B/第1讲.mp4": "课程B", "课程清单.txt": ""}
    (stick / "课程清单.xlsx").write_bytes(b"x")        # a listing in Excel: still a stick
    found, other = find_media([stick])
    assert course_folders(found, other)["课程B/第1讲.mp4"] == "课程B"
    found, other = find_media([stick / "课程A"])       # a lecture (its preview) at its top
    assert set(course_folders(found, other).values()) == {""}
    alone = tmp_path / "课程C"
    (alone / "视频").mkdir(parents=True)
    (alone / "视频" / "第1讲.mp4").write_bytes(b"x")
    found, other = find_media([alone])
    assert course_folders(found, other) == {"视频/第1讲.mp4": "视频"}
    (alone / "题库.csv").write_bytes(b"x")             # a course's document at its top
    found, other = find_media([alone])
    assert set(course_folders(found, other).values()) == {""}
    found, other = find_media([stick / "课程A", stick / "课程B"])
    assert course_folders(found, other)["课程B/第1讲.mp4"] == "课程B"
    assert course_folders(found, other)["课程A/视频/第1讲.mp4"] == "课程A"


def test_report_names_follow_the_files_and_never_collide() -> None:
    assert report_keys(["课程A/第01讲.mp4", "课程A/第02讲.mov", "预览"]) == {
        "课程A/第01讲.mp4": "课程A/第01讲.qc", "课程A/第02讲.mov": "课程A/第02讲.qc",
        "预览": "预览.qc"}
    assert report_keys(["a/x.mp4", "a/x.mov", "b/x.mp4"]) == {
        "a/x.mp4": "a/x.mp4.qc", "a/x.mov": "a/x.mov.qc", "b/x.mp4": "b/x.qc"}


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    """A stick as a base might bring it: a course folder with two lectures of different sizes
    (D4 wants one), a recording whose file was never closed (its index missing), a bank and
    a Mac's hidden copy of a lecture."""
    root = tmp_path / "stick"
    course = root / "碳达峰课程"
    course.mkdir(parents=True)
    camera_file(course / "第2讲.mp4", (200, 120, 90), _speech(2.0, 1), size=(320, 180))
    camera_file(course / "第10讲.mp4", (90, 120, 200), _speech(2.4, 2), size=(160, 90))
    whole = tmp_path / "whole.mp4"
    camera_file(whole, (120, 120, 120), _speech(2.0, 3))
    data = whole.read_bytes()
    (course / "第11讲.mp4").write_bytes(data[: len(data) // 2])
    (course / "题库.csv").write_text("题型,题干\n", "utf-8")
    (course / "._第2讲.mp4").write_bytes(b"\x00\x05\x16\x07")
    return root


def _summary(out: Path) -> dict[str, object]:
    data = json.loads((out / f"{SUMMARY_NAME}.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_stick_checked_file_by_file_with_a_summary(stick: Path, tmp_path: Path,
                                                     prefect_server: None) -> None:
    """Every lecture gets the report ``courseware qc`` gives it alone, under its own name; the
    file that cannot be read is a row saying why and what to do, and the others are checked
    all the same (exit 2: a file needs the base's action); the summary lists them in lecture
    order, says the folder mixes sizes, links each page, and passes over the rest. A rerun
    reuses what is still valid and checks again what changed."""
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu"])
    assert result.exit_code == 2, result.output
    assert "D4: 碳达峰课程 mixes sizes 160x90, 320x180" in result.output, result.output
    assert re.search(r"^ERROR  碳达峰课程/第11讲\.mp4\n .*was not closed", result.output, re.M)
    assert re.search(r"^FAIL   碳达峰课程/第2讲\.mp4  0:00:02  failed: D3 format\.bitrate",
                     result.output, re.M), result.output
    summary = _summary(out)
    files = summary["files"]
    assert isinstance(files, list)
    assert [f["file"] for f in files] == ["碳达峰课程/第2讲.mp4", "碳达峰课程/第10讲.mp4",
                                          "碳达峰课程/第11讲.mp4"]
    assert [f["status"] for f in files] == ["fail", "fail", "error"]
    broken = files[2]
    assert "第11讲.mp4" in broken["error"] and "was not closed" in broken["error"], broken
    assert broken["report"] is None
    assert summary["skipped"] == ["碳达峰课程/._第2讲.mp4", "碳达峰课程/题库.csv"]
    (folder,) = summary["folders"]
    assert folder["resolutions"] == ["160x90", "320x180"]
    assert folder["counts"] == {"fail": 2, "error": 1}

    for f, path in zip(files[:2], ("第2讲.mp4", "第10讲.mp4"), strict=True):
        report = json.loads((out / f["report"]).read_text("utf-8"))
        alone = qc_file(stick / "碳达峰课程" / path, profile=PROFILE, thumbnails=False,
                        gpu=False).report
        assert report["file"] == f["file"]
        assert [(c["id"], c["status"]) for c in report["checks"]] == [
            (c.id, c.status) for c in alone.checks]
        assert [c["id"] for c in f["checks"] if c["status"] == "fail"] == [
            c.id for c in alone.checks if c.status == "fail"]
        assert "format.resolution" in [c["id"] for c in f["checks"]]
        assert (out / f["page"]).read_text("utf-8").startswith("<!DOCTYPE html>")
    assert f"{SUMMARY_NAME}.html" in result.output

    page = out / f"{SUMMARY_NAME}.html"
    html = page.read_text("utf-8")
    links = [unquote(h) for h in re.findall(r'href="([^"]+)"', html)]
    assert links == [files[0]["page"], files[0]["report"], files[1]["page"], files[1]["report"]]
    assert all((out / link).is_file() for link in links)
    assert "第11讲.mp4" in html and "was not closed" in html
    assert "one course, one size (D4)" in html

    # a rerun: nothing changed, nothing checked again; one lecture re-exported, that one is
    before = {f["file"]: (out / f["report"]).stat().st_mtime_ns for f in files[:2]}
    camera_file(stick / "碳达峰课程" / "第10讲.mp4", (90, 120, 200), _speech(3.2, 2),
                size=(160, 90))
    result = CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu"])
    assert result.exit_code == 2, result.output
    again = {f["file"]: f for f in _summary(out)["files"]}  # type: ignore[union-attr]
    assert again["碳达峰课程/第2讲.mp4"]["reused"] is True
    assert (out / again["碳达峰课程/第2讲.mp4"]["report"]).stat().st_mtime_ns == before[
        "碳达峰课程/第2讲.mp4"]
    assert again["碳达峰课程/第10讲.mp4"]["reused"] is False
    assert again["碳达峰课程/第10讲.mp4"]["duration_s"] > files[1]["duration_s"] + 0.5
    assert "[earlier report, unchanged]" in result.output        # failed, and not checked again
    result = CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu", "--force"])
    assert not any(f["reused"] for f in _summary(out)["files"])  # type: ignore[union-attr]
    # the same files as a base's raw footage: checked again (read otherwise), judged for the
    # lectures the render makes of them (D3 not theirs; the small pictures a warning)
    CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu", "--raw"])
    raw = {f["file"]: f for f in _summary(out)["files"]}  # type: ignore[union-attr]
    assert not any(f["reused"] for f in raw.values())
    checks = {c["id"]: c for c in json.loads((out / raw["碳达峰课程/第2讲.mp4"]["report"]
                                              ).read_text("utf-8"))["checks"]}
    assert checks["format.bitrate"]["status"] == "skip", checks["format.bitrate"]
    assert checks["format.resolution"]["status"] == "warn", checks["format.resolution"]


def test_the_summary_reads_without_a_chinese_font(stick: Path, tmp_path: Path,
                                                  prefect_server: None) -> None:
    """The summary page forwarded as it is: every Chinese character (labels, the course
    folder's and the lectures' names) drawn by the glyphs it carries."""
    out = tmp_path / "reports"
    CliRunner().invoke(cli, ["qc", str(stick / "碳达峰课程" / "第2讲.mp4"), "--out", str(out),
                             "--cpu"])
    drawn = fonts_drawn(out / f"{SUMMARY_NAME}.html", profile=tmp_path / "profile")
    chinese = [d for d in drawn if cjk(d.text)]
    assert any("碳达峰课程/第2讲.mp4" in d.text for d in chinese)
    family = find_face().family
    for d in chinese:
        assert sum(d.custom.values()) >= cjk(d.text), d
        assert set(d.custom) <= {family}, d


def test_reports_and_summary_into_s3_over_http(stick: Path, moto_url: str, aws_env: None,
                                               prefect_server: None) -> None:
    """``--out s3://…`` (moto over HTTP, boto3 unpatched): the reports and the summary land
    under the prefix; a rerun reads the earlier reports back from the bucket and reuses them."""
    admin = boto3.session.Session().client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket = f"qcb-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/qc?endpoint={moto_url}"
    lecture = stick / "碳达峰课程" / "第2讲.mp4"
    result = CliRunner().invoke(cli, ["qc", str(lecture), "--out", uri, "--cpu"])
    assert result.exit_code == 1, result.output            # 320×180: fails D4 and more
    keys = sorted(o["Key"] for o in admin.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["qc/第2讲.qc.html", "qc/第2讲.qc.json", f"qc/{SUMMARY_NAME}.html",
                    f"qc/{SUMMARY_NAME}.json"]
    summary = json.loads(admin.get_object(Bucket=bucket, Key=f"qc/{SUMMARY_NAME}.json")
                         ["Body"].read())
    assert [(f["file"], f["status"], f["reused"]) for f in summary["files"]] == [
        ("第2讲.mp4", "fail", False)]
    CliRunner().invoke(cli, ["qc", str(lecture), "--out", uri, "--cpu"])
    summary = json.loads(admin.get_object(Bucket=bucket, Key=f"qc/{SUMMARY_NAME}.json")
                         ["Body"].read())
    assert summary["files"][0]["reused"] is True


def test_options_for_one_file_are_refused_for_several(stick: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["qc", str(stick)])
    assert result.exit_code == 2 and "give --out DIR" in result.output, result.output
    result = runner.invoke(cli, ["qc", str(stick), "--out", str(tmp_path / "o"), "--json",
                                 str(tmp_path / "r.json")])
    assert result.exit_code == 2 and "is for one file" in result.output, result.output
    result = runner.invoke(cli, ["qc", str(stick / "碳达峰课程" / "第2讲.mp4"), "--force"])
    assert result.exit_code == 2 and "only with --out" in result.output, result.output


def _lectures(*minutes: float) -> list[LectureMeasure]:
    return [LectureMeasure(number=k, title=f"第{k}讲", key=f"c/第{k}讲.mp4",
                           duration_s=m * 60) for k, m in enumerate(minutes, 1)]


def test_a_lecture_in_parts_is_not_a_single_video() -> None:
    """A7: 第1讲（上） and 第1讲（下） are one lecture in two files; numbered lectures each in
    one file pass."""
    from tasks.stick_qc import check_single_videos

    split = check_single_videos(["c/第1讲（上）.mp4", "c/第01讲（下）.mp4", "c/第2讲.mp4"])
    assert (split.status, split.measured) == ("fail", 1)
    assert "第1讲 is in 2 files (第1讲（上）.mp4, 第01讲（下）.mp4)" in split.message
    assert check_single_videos(["c/第1讲.mp4", "c/第2讲.mp4", "c/其他.mp4"]).status == "pass"
    assert check_single_videos(["c/第三讲上.mp4", "c/第3讲下.mp4"]).status == "fail"


def test_lecture_numbers_and_titles_from_the_files_names() -> None:
    assert numbered(["c/第01讲_“双碳”目标的由来.mp4", "c/第2讲 能源结构.mp4", "c/第10讲.mp4"]) == [
        (1, "“双碳”目标的由来"), (2, "能源结构"), (10, "第10讲")]
    # a name without a number, or two with the same: their places in the order
    assert numbered(["c/开篇.mp4", "c/第2讲.mp4"]) == [(1, "开篇"), (2, "第2讲")]
    assert numbered(["c/第1讲上.mp4", "c/第1讲下.mp4"]) == [(1, "上"), (2, "下")]
    # numbers in Chinese numerals, as many bases write them
    assert numbered(["c/第一讲：绪论.mp4", "c/第十二讲.mp4"]) == [(1, "绪论"), (12, "第十二讲")]


def test_a_folders_length_fits_a_course_size_the_profile_allows() -> None:
    """Without the course file the kind is unknown: the total must fit one of the sizes
    (public 16 h; professional 8/16/24/32/56 h, each ±10 %) with a lecture count that size
    allows at about an hour a lecture."""
    def verdict(*minutes: float) -> tuple[str, float | str | None]:
        check = check_course_size(_lectures(*minutes), PROFILE)
        assert (check.id, check.clause) == ("course.total_hours", "A1/A2")
        return check.status, check.measured

    assert verdict(*[58.0] * 16) == ("pass", pytest.approx(15.467, abs=1e-3))   # 16 h
    assert verdict(*[61.0] * 8) == ("pass", pytest.approx(8.133, abs=1e-3))     # 8 h
    assert verdict(*[60.0] * 5)[0] == "fail"                  # 5 h: no size
    assert verdict(*[60.0] * 12)[0] == "fail"                 # 12 h: between 8 and 16
    check = check_course_size(_lectures(*[96.0] * 10), PROFILE)   # 16 h in 10 long lectures
    assert check.status == "fail" and "is 15–17 lectures" in check.message, check.message
    missing = [*_lectures(*[60.0] * 8), LectureMeasure(number=9, title="x", key="c/x.mp4")]
    check = check_course_size(missing, PROFILE)
    assert check.status == "fail" and "1 file(s) not measured" in check.message


def test_a_stick_judged_course_by_course(stick: Path, tmp_path: Path,
                                        prefect_server: None) -> None:
    """``--stick``: the course folder is judged as a course from what was measured, its report
    (the contract's Report, course.* checks) beside its lectures' reports, linked from the
    summary: the preview found by its name, the form and the root listing found, the bank
    read and counted, the mixed sizes named; a listing that forgets the course fails D1."""
    from bank_data import bank_rows, write_csv

    course = stick / "碳达峰课程"
    camera_file(course / "课程预览.mp4", (90, 120, 200), _speech(1.6, 4), size=(160, 90))
    (course / "附件2_申报表.docx").write_bytes(b"PK\x03\x04")
    write_csv(course / "题库.csv", bank_rows(single=80))
    (stick / "课程清单.txt").write_text("碳达峰课程\n第2讲 0:00:02\n第10讲 2.4 秒\n第11讲\n",
                                    "utf-8")
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu", "--stick"])
    assert result.exit_code == 2, result.output
    report = json.loads((out / "碳达峰课程" / "课程质检报告.json").read_text("utf-8"))
    checks = {c["id"]: c for c in report["checks"]}
    assert {i: c["status"] for i, c in checks.items()} == {
        "course.lecture_duration": "fail", "course.total_hours": "fail",
        "course.uniform_resolution": "fail", "course.preview": "fail",
        "course.question_bank": "fail", "course.application_form": "pass",
        "course.listing": "warn", "course.loudness": checks["course.loudness"]["status"],
        "course.title_card": "warn", "course.intro": "skip", "course.credits": "skip",
        "course.single_video": "pass"}
    assert "1 file(s) not read: 第11讲" in checks["course.title_card"]["message"]
    assert "--intro" in checks["course.intro"]["message"]
    assert "第2讲 《第2讲》 is 320x180 (16:9); the rest of the course is 160x90" in checks[
        "course.uniform_resolution"]["message"], checks["course.uniform_resolution"]["message"]
    assert checks["course.preview"]["measured"] == pytest.approx(1.6, abs=0.1)
    assert "fails the format checks" in checks["course.preview"]["message"]
    assert "单选 80 < 90" in checks["course.question_bank"]["message"], checks[
        "course.question_bank"]["message"]
    assert "附件2_申报表.docx" in checks["course.application_form"]["message"]
    assert "3 lecture(s)" in checks["course.total_hours"]["message"]   # the preview is not one
    assert "no duration for 第10讲 《第10讲》, 第11讲 《第11讲》" in checks["course.listing"][
        "message"], checks["course.listing"]["message"]
    assert [row["key"] for row in report["lectures"]] == [
        "碳达峰课程/第2讲.mp4", "碳达峰课程/第10讲.mp4", "碳达峰课程/第11讲.mp4"]
    assert report["lectures"][0]["qc_html"] == "第2讲.qc.html"
    assert (out / "碳达峰课程" / "第2讲.qc.html").is_file()
    assert "course 碳达峰课程: FAIL" in result.output
    (folder,) = _summary(out)["folders"]
    assert folder["status"] == "fail" and folder["page"] == "碳达峰课程/课程质检报告.html"
    html = (out / f"{SUMMARY_NAME}.html").read_text("utf-8")
    assert "<li>课程 course <code>碳达峰课程</code>: A1/A2 <code>course.lecture_duration" in html
    assert "%E7%A2%B3%E8%BE%BE%E5%B3%B0%E8%AF%BE%E7%A8%8B/" \
           "%E8%AF%BE%E7%A8%8B%E8%B4%A8%E6%A3%80%E6%8A%A5%E5%91%8A.html" in html

    from prefect.artifacts import Artifact  # what the operator sees in the Prefect UI

    table = Artifact.get("qc-batch-courses")
    assert table is not None and isinstance(table.data, str)
    (row,) = json.loads(table.data)
    assert (row["course"], row["status"]) == ("碳达峰课程", "fail")
    assert "course.total_hours" in row["failed"] and "course.listing" not in row["failed"]

    (stick / "课程清单.txt").write_text("另一门课程\n", "utf-8")
    CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu", "--stick"])
    report = json.loads((out / "碳达峰课程" / "课程质检报告.json").read_text("utf-8"))
    listing = next(c for c in report["checks"] if c["id"] == "course.listing")
    assert listing["status"] == "fail" and "does not name 碳达峰课程" in listing["message"]


def test_finished_tells_a_title_card_from_a_frozen_picture(stick: Path, tmp_path: Path
                                                          ) -> None:
    """``courseware qc FILE --finished``: the 2-s still that is the whole of this short file
    starts at its first picture and is no longer than A4's title card, so it is one."""
    lecture = stick / "碳达峰课程" / "第2讲.mp4"
    verdicts = {}
    for flags in ((), ("--finished",)):
        out = tmp_path / f"r{len(flags)}.json"
        CliRunner().invoke(cli, ["qc", str(lecture), "--cpu", "--json", str(out), *flags])
        report = json.loads(out.read_text("utf-8"))
        verdicts[flags] = next(c for c in report["checks"] if c["id"] == "video.freeze")
    assert verdicts[()]["status"] == "warn"
    assert verdicts[("--finished",)]["status"] == "pass"
    assert "the title card at the start" in verdicts[("--finished",)]["message"]


def test_the_words_on_a_sticks_cards(tmp_path: Path, prefect_server: None) -> None:
    """The cards' words, read (A4, A5): 第2讲's card says 第1讲 (its title changed, so its
    picture is its own: only its words tell): A4 fails naming it; 第3讲's card names no unit,
    第1讲's another course: listed too. The last lecture's credits give the production unit
    and the recording date (A5 passes, with what they read); cut again without the date, A5
    warns. With the base's application form beside them, the cards' lecturer is held against
    its curriculum: 第3讲's card names another of its lecturers (A4 fails on it too), the
    others give their lecturer another title and unit than the form (listed); the form's
    第4讲 is not in the folder (D11 warns)."""
    from video_signals import cut_film

    from courseware.cards import credits_lines, render_card, title_card_lines

    face = find_face()

    def card(number: int, title: str, *, unit: str = "陕西省环境科学研究院",
             says: int | None = None, course: str = "碳达峰碳中和") -> np.ndarray:
        return render_card(title_card_lines(
            course=course, number=says or number, title=title, lecturer="李敏",
            lecturer_title="高级工程师", unit=unit), width=640, height=360, font=face,
            what="a test card")

    def credits(date: str) -> np.ndarray:
        return render_card(credits_lines(
            course="碳达峰碳中和", production_unit="西安交通大学继续教育学院",
            recording_date=date, applying_unit="陕西省环境科学研究院")[:3 if date else 2],
            width=640, height=360, font=face, what="test credits")

    course = tmp_path / "stick" / "碳达峰碳中和"
    course.mkdir(parents=True)
    size = (640, 360)
    cut_film(course / "第1讲.mp4", [("picture", card(1, "绪论", course="另一门课程"), 3.0),
                                    ("moving", 1, 2.0)], size=size)
    cut_film(course / "第2讲.mp4", [("picture", card(2, "能源转型", says=1), 3.0),
                                    ("moving", 2, 2.0)], size=size)
    last = [("picture", card(3, "低碳技术", unit=""), 3.0), ("moving", 3, 2.0)]
    cut_film(course / "第3讲.mp4", [*last, ("picture", credits("2024年5月"), 3.0)], size=size)
    out = tmp_path / "reports"
    args = ["qc", str(tmp_path / "stick"), "--out", str(out), "--cpu", "--stick"]
    CliRunner().invoke(cli, args)

    def course_checks() -> dict[str, dict[str, object]]:
        report = json.loads((out / "碳达峰碳中和" / "课程质检报告.json").read_text("utf-8"))
        return {c["id"]: c for c in report["checks"]}

    checks = course_checks()
    a4, a5 = checks["course.title_card"], checks["course.credits"]
    said = str(a4["message"])
    assert a4["status"] == "fail", a4
    assert said.startswith("1 title card(s) giving another lecture's number or lecturer"), said
    assert ("第2讲 《第2讲》's title card reads 第1讲 (“碳达峰碳中和 / 第1讲 能源转型 / 主讲：李敏 "
            "高级工程师 / 陕西省环境科学研究院”)") in said, said
    assert "第3讲 《第3讲》's title card names no unit" in said, said
    assert "第1讲 《第1讲》's title card does not give the course's name (碳达峰碳中和)" in said
    assert said.count("title card") == 4, said
    assert a5["status"] == "pass", a5
    assert ("it reads “碳达峰碳中和 / 制作单位：西安交通大学继续教育学院 / 录制时间：2024年5月”: "
            "the production unit and the recording date (A5)") in str(a5["message"]), a5
    lecture = json.loads((out / "碳达峰碳中和" / "第1讲.qc.json").read_text("utf-8"))
    assert lecture["cards"]["title_card_text"] == [
        "另一门课程", "第1讲 绪论", "主讲：李敏 高级工程师", "陕西省环境科学研究院"]

    cut_film(course / "第3讲.mp4", [*last, ("picture", credits(""), 3.0)], size=size)
    CliRunner().invoke(cli, args)
    a5 = course_checks()["course.credits"]
    assert a5["status"] == "warn" and ("“碳达峰碳中和 / 制作单位：西安交通大学继续教育学院”: no "
                                       "recording date (录制时间) found on it") in str(
        a5["message"]), a5

    # the base's application form: 第3讲 by 张伟 (its card names 李敏), 李敏 a 教授 of 西安交通大学
    # (the cards: 高级工程师, 陕西省环境科学研究院), and a 第4讲 the folder does not hold
    _base_form(course / "申报表.docx", [
        ["1", "绪论", "李敏", "教授", "西安交通大学"],
        ["2", "能源转型", "李敏", "教授", "西安交通大学"],
        ["3", "低碳技术", "张伟", "教授", "西北大学"],
        ["4", "碳市场", "王芳", "研究员", "西北大学"]])
    form = "碳达峰碳中和/申报表.docx"
    CliRunner().invoke(cli, args)
    checks = course_checks()
    a4, d11 = checks["course.title_card"], checks["course.application_form"]
    said = str(a4["message"])
    assert a4["status"] == "fail" and said.startswith(
        "2 title card(s) giving another lecture's number or lecturer"), said
    assert f"第3讲 《第3讲》's title card names 李敏, but {form} gives 张伟 for it" in said, said
    for n in (1, 2):
        assert f"第{n}讲 《第{n}讲》's title card gives 李敏 as 高级工程师, {form} as 教授" in said
        assert (f"第{n}讲 《第{n}讲》's title card does not give 李敏's unit as {form} gives it "
                "(西安交通大学)") in said, said
    assert d11["status"] == "warn", d11
    assert "it lists 第4讲 《碳市场》, which is not in the folder" in str(d11["message"]), d11

    # the form corrected: the cards' lecturer is the form's; what is left is the cards' own
    _base_form(course / "申报表.docx", [[str(n), t, "李敏", "高级工程师", "陕西省环境科学研究院"]
                                       for n, t in ((1, "绪论"), (2, "能源转型"), (3, "低碳技术"))])
    CliRunner().invoke(cli, args)
    checks = course_checks()
    a4, d11 = checks["course.title_card"], checks["course.application_form"]
    assert a4["status"] == "fail" and form not in str(a4["message"]), a4
    assert str(a4["message"]).count("title card") == 4, a4
    assert d11["status"] == "pass" and str(d11["message"]).startswith(
        f"{form} lists 3 lecture(s), taught by 李敏"), d11


def test_a_sticks_intro_and_title_cards(tmp_path: Path, prefect_server: None) -> None:
    """``--stick --intro 统一片头.mp4``: lecture 1 opens with the province's intro and no other
    lecture does (A3), each lecture opens with a still of at most 5 s (A4; its words not
    read: a warning, naming the lecture whose opening still lasts 7 s); the preview's cards
    are not freezes; the last lecture ends moving, without credits (A5, a warning). Then
    lecture 2 opens with the intro too and lecture 1's card copied: A3 fails, naming it, and
    A4 names the copied card; the last lecture, cut again with a closing card, has its
    credits. The course keeps its videos in 视频/ and its preview in
    预览/, as bases' sticks do: one course all the same."""
    from video_signals import cut_film

    card = (160, 165, 182)
    intro = [("moving", 7, 1.0), ("still", (120, 130, 165), 2.4)]
    stick = tmp_path / "stick"
    course = stick / "课程"
    videos = course / "视频"
    (course / "预览").mkdir(parents=True)
    videos.mkdir()
    cut_film(tmp_path / "统一片头.mp4", intro)
    cut_film(videos / "第1讲.mp4", [*intro, ("card", (card, "1"), 4.0), ("moving", 1, 3.0)])
    cut_film(videos / "第2讲.mp4", [("card", (card, "2"), 3.0), ("moving", 2, 3.0)])
    cut_film(videos / "第3讲.mp4", [("card", (card, "3"), 7.0), ("moving", 3, 3.0)])
    cut_film(course / "预览" / "课程预览.mp4", [("still", card, 3.0), ("moving", 4, 3.0),
                                                ("still", card, 2.4), ("moving", 5, 3.0)])
    out = tmp_path / "reports"
    args = ["qc", str(stick), "--out", str(out), "--cpu", "--stick", "--intro",
            str(tmp_path / "统一片头.mp4")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output

    def course_checks() -> dict[str, dict[str, object]]:
        report = json.loads((out / "课程" / "课程质检报告.json").read_text("utf-8"))
        return {c["id"]: c for c in report["checks"]}

    def file_check(name: str, check: str) -> dict[str, object]:
        folder = "预览" if "预览" in name else "视频"
        report = json.loads((out / "课程" / folder / f"{name}.qc.json").read_text("utf-8"))
        return next(c for c in report["checks"] if c["id"] == check)

    checks = course_checks()
    assert checks["course.intro"]["status"] == "pass", checks["course.intro"]
    a4 = checks["course.title_card"]
    assert a4["status"] == "warn" and "第3讲 《第3讲》's opening still (at 0.00 s) lasts 7.0 s" in \
        str(a4["message"]), a4
    assert "第1讲" not in str(a4["message"]) and "第2讲" not in str(a4["message"])
    cards = {"第1讲": [(0.0, 7.4)], "第2讲": [(0.0, 3.0)], "课程预览": [(0.0, 3.0), (6.0, 8.4)]}
    for name, spans in cards.items():    # the cards' colours are not a cast (a texture may be)
        assert file_check(name, "video.freeze")["status"] == "pass", name
        events = file_check(name, "video.white_balance")["events"]
        assert isinstance(events, list)
        assert not [e for e in events for a, b in spans if e["start_s"] < b - 0.05], name
    assert file_check("第3讲", "video.freeze")["status"] == "warn"
    a5 = checks["course.credits"]
    assert a5["status"] == "warn" and "第3讲 《第3讲》, the last lecture, ends with moving" in \
        str(a5["message"]), a5
    (folder,) = _summary(out)["folders"]      # the summary says what to look at too
    assert (folder["folder"], folder["files"]) == ("课程", 4)
    assert checks["course.preview"]["measured"] == pytest.approx(11.4, abs=0.05)  # found
    assert [c["id"] for c in folder["warned"]] == ["course.title_card", "course.credits"]
    assert "<code>course.title_card</code>: 1 thing(s) to look at on the lectures" in (
        out / f"{SUMMARY_NAME}.html").read_text("utf-8")

    cut_film(videos / "第2讲.mp4", [*intro, ("card", (card, "1"), 3.0), ("moving", 2, 3.0)])
    cut_film(videos / "第3讲.mp4", [("card", (card, "3"), 7.0), ("moving", 3, 3.0),
                                    ("still", card, 4.0)])
    CliRunner().invoke(cli, args)
    checks = course_checks()
    a3 = checks["course.intro"]
    assert a3["status"] == "fail" and "第2讲 《第2讲》 also opens with the intro 统一片头.mp4" in \
        str(a3["message"]), a3
    assert (checks["course.credits"]["status"], checks["course.credits"]["measured"]) == (
        "pass", pytest.approx(4.0, abs=0.05)), checks["course.credits"]
    assert "第2讲 《第2讲》 opens with the same title card as 第1讲 《第1讲》" in str(
        checks["course.title_card"]["message"]), checks["course.title_card"]

    (tmp_path / "片头.mp4").write_text("not a film", "utf-8")
    bad = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "片头.mp4")])
    assert isinstance(bad.exception, PipelineError), bad.output   # `main` exits 2 with it
    assert "the intro (--intro)" in str(bad.exception) and "片头.mp4" in str(bad.exception)


def test_a_fault_of_the_tool_on_one_file_leaves_the_others_checked(
        stick: Path, tmp_path: Path, prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while checking one file (a bug, not the file's fault) is that file's
    row, marked as the tool's fault; the other files are checked and the summary written."""
    import tasks.qc

    real = tasks.qc.qc_file

    def flaky(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
        if path.name == "第10讲.mp4":
            raise RuntimeError("simulated fault")
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tasks.qc, "qc_file", flaky)
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["qc", str(stick), "--out", str(out), "--cpu"])
    assert result.exit_code == 2, result.output
    files = {f["file"]: f for f in _summary(out)["files"]}  # type: ignore[union-attr]
    fault = files["碳达峰课程/第10讲.mp4"]
    assert fault["status"] == "error" and "unexpected RuntimeError: simulated fault" in \
        fault["error"] and "a fault of this tool" in fault["error"], fault
    assert files["碳达峰课程/第2讲.mp4"]["status"] == "fail"        # checked all the same
    assert (out / files["碳达峰课程/第2讲.mp4"]["page"]).is_file()


def test_the_listing_gives_each_lecture_with_its_duration(tmp_path: Path) -> None:
    """D1: each lecture of the course's part of the listing (after another course's part,
    and after a summary line naming both) with its number, 第3讲 or 第三讲, and a duration
    as listings write it (0:58:00, 45:12, 61分钟, 58分12秒): the files' lengths agree to the
    second, or to the minute where only minutes are given. Another length, a lecture left
    out, fail; a lecture without a duration is a warning."""
    from tasks.stick_qc import check_listing, listed_duration

    assert listed_duration("时长 0:58:00") == (3480, 2.0)
    assert listed_duration("45:12") == (2712, 2.0)
    assert listed_duration("61分钟") == (3660, 60.0)
    assert listed_duration("58分12秒") == (3492, 2.0)
    assert listed_duration("58 min") == (3480, 60.0)
    assert listed_duration("共2学分") is None
    lectures = [LectureMeasure(number=k, title=t, key=f"c/{t}.mp4", duration_s=s)
                for k, t, s in ((1, "双碳目标", 3480.4), (2, "能源转型", 2712.0),
                                (3, "低碳技术", 3655.0))]
    listing = tmp_path / "课程清单.txt"

    def verdict(text: str) -> tuple[str, str]:
        listing.write_text(text, "utf-8")
        check = check_listing("stick/碳达峰课程", [listing], lectures, ["碳达峰课程", "另一门"])
        return check.status, check.message

    head = ("课程：碳达峰课程、另一门\n另一门\n第1讲 其他 0:30:00\n第2讲 其他 0:30:00\n"
            "第3讲 其他 1:00:00\n")
    good = head + ("碳达峰课程\n第一讲 双碳目标 0:58:00\n第二讲 能源转型 45:12\n"
                   "第3讲 低碳技术 61分钟\n")
    assert verdict(good)[0] == "pass", verdict(good)
    status, message = verdict(good.replace("45:12", "50:12"))
    assert status == "fail" and "第2讲 《能源转型》 is listed as 0:50:12, but the file lasts " \
        "0:45:12" in message, message
    status, message = verdict(good.replace("第3讲 低碳技术 61分钟\n", ""))
    assert status == "fail" and "第3讲 《低碳技术》 is not listed" in message, message
    status, message = verdict(good.replace(" 45:12", ""))
    assert status == "warn" and "no duration for 第2讲 《能源转型》" in message, message
    status, message = verdict("碳达峰课程：双碳目标、能源转型、低碳技术\n")
    assert status == "warn" and "no lecture by its number" in message, message


def test_the_root_listing_and_the_form(tmp_path: Path) -> None:
    """D1: a listing saved by Windows Notepad (GB18030) names the course as well as a UTF-8
    one; a course folder given alone has no root to look at. D11: a document is the form."""
    from tasks.qc_batch import Found
    from tasks.stick_qc import check_form, check_listing

    gbk = tmp_path / "课程清单.txt"
    gbk.write_bytes("碳达峰课程 第1讲 58:00\r\n".encode("gb18030"))
    assert check_listing("stick/碳达峰课程", [gbk]).status == "pass"
    assert check_listing("stick/另一门", [gbk]).status == "fail"
    assert check_listing("stick/碳达峰课程", []).status == "fail"
    assert check_listing("", None).status == "skip"
    rtf = tmp_path / "附件1.doc"                    # RTF saved under a .doc name
    rtf.write_bytes(b"{\\rtf1\\ansi\\ansicpg936 \\par}")
    said = check_form([Found(rtf, "c/附件1.doc")])
    assert said.status == "pass" and "附件1.doc is an RTF document under that name" in (
        said.message), said
    said = check_form([Found(tmp_path / "附件1.docx", "c/附件1.docx")])
    assert said.status == "pass" and "no curriculum table (讲次, 标题, 主讲) found in it:" in (
        said.message), said
    said = check_form([Found(tmp_path / "附件1.pdf", "c/附件1.pdf")])
    assert "found in it (a scanned PDF has no text to read)" in said.message, said
    assert check_form([Found(tmp_path / "题库.csv", "c/题库.csv")]).status == "fail"


def _base_form(path: Path, rows: list[list[str]], *, head: list[str] | None = None) -> Path:
    """An application form as a base types it: one table, its own columns."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("附件2  2024年继续教育网络专业课科目申请表")
    head = head or ["序号", "课程名称", "主讲人", "职称", "工作单位"]
    table = doc.add_table(rows=1, cols=len(head))
    for cell, text in zip(table.rows[0].cells, head, strict=True):
        cell.text = text
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    doc.save(str(path))
    return path


def test_the_forms_curriculum_is_read(tmp_path: Path) -> None:
    """D11's form read for what it says of the lectures: our own form (its curriculum nested
    in 课件介绍, each lecturer's title and unit in 师资介绍) gives back the course file's
    lectures and lecturers; a base's own table (序号 with 第一讲, 主讲人, 职称, 工作单位; two
    lecturers in one cell, their titles beside their names) too; a PDF, a damaged DOCX and a
    form without a lecture table give nothing to compare."""
    from bank_data import course_yaml

    from courseware.course import load_course
    from courseware.forms import write_application_form
    from tasks.stick_qc import FormLecturer, read_form

    course = load_course(course_yaml(tmp_path / "course.yaml", lectures=3))
    ours = write_application_form(course, tmp_path / "申报表_附件2.docx", durations={1: 3590.0})
    form = read_form(ours, "c/申报表_附件2.docx")
    assert form is not None and form.file == "c/申报表_附件2.docx"
    assert form.lectures == {lec.number: (lec.title, (course.lecturer(lec).name,))
                             for lec in course.lectures}
    assert form.lecturers == {t.name: FormLecturer(t.name, t.title, t.unit)
                              for t in course.model.lecturers}

    theirs = _base_form(tmp_path / "theirs.docx", [
        ["第一讲", "绪论", "李敏", "高级工程师", "陕西省环境科学研究院"],
        ["2", "能源转型", "张伟（教授）、王芳 教授", "教授", "西北大学"],
        ["", "（以下空白）", "", "", ""]])
    form = read_form(theirs, "theirs.docx")
    assert form is not None and form.lectures == {1: ("绪论", ("李敏",)),
                                                  2: ("能源转型", ("张伟", "王芳"))}
    assert form.lecturers["李敏"] == FormLecturer("李敏", "高级工程师", "陕西省环境科学研究院")
    assert form.lecturers["王芳"] == FormLecturer("王芳", "教授", "西北大学")

    assert read_form(tmp_path / "附件2.pdf", "附件2.pdf") is None
    damaged = tmp_path / "damaged.docx"
    damaged.write_bytes(ours.read_bytes()[:2000])
    assert read_form(damaged, "damaged.docx") is None
    other = _base_form(tmp_path / "other.docx", [["张三", "13800000000"]], head=["联系人", "电话"])
    assert read_form(other, "other.docx") is None


FORMS = Path(__file__).parent / "forms"


def test_a_word97_forms_curriculum_is_read(tmp_path: Path) -> None:
    """Word 97–2003 (.doc; WPS Writer's .wps is the same format): our form and a base's own
    table, saved as .doc by LibreOffice (``tests/forms``), read as python-docx reads the DOCX
    each was made from: the same tables cell for cell (the curriculum nested in 课件介绍, empty
    cells kept; python-docx repeats a merged cell over the columns it spans, the .doc has it
    once), the same curriculum and lecturers. A .wps in that format is read too; a
    file that is not one, a damaged one and a password-protected one are not, and D11 says
    why."""
    from bank_data import course_yaml

    from courseware.course import load_course
    from courseware.forms import write_application_form
    from courseware.word97 import read_document
    from tasks.qc_batch import Found
    from tasks.stick_qc import _docx_form, check_form, read_form

    course = load_course(course_yaml(tmp_path / "course.yaml", lectures=3))
    ours = write_application_form(course, tmp_path / "ours.docx", durations={1: 3590.0})
    theirs = _base_form(tmp_path / "theirs.docx", [
        ["第一讲", "绪论", "李敏", "高级工程师", "陕西省环境科学研究院"],
        ["2", "能源转型", "张伟（教授）、王芳 教授", "", "西北大学"],
        ["", "（以下空白）", "", "", ""]])
    for doc, docx in ((FORMS / "ours_form.doc", ours), (FORMS / "base_form.doc", theirs)):
        tables, _ = _docx_form(docx)
        read = read_document(doc)
        assert _merged(read.tables) == _merged(tables), (read.tables, tables)
        as_doc, as_docx = read_form(doc, "c/附件2.doc"), read_form(docx, "c/附件2.docx")
        assert as_doc is not None and as_docx is not None
        assert (as_doc.lectures, as_doc.lecturers) == (as_docx.lectures, as_docx.lecturers)
    form = read_form(FORMS / "ours_form.doc", "c/附件2.doc")
    assert form is not None and form.lectures == {
        lec.number: (lec.title, (course.lecturer(lec).name,)) for lec in course.lectures}
    assert len(read_document(FORMS / "ours_form.doc").tables) == 2    # the outer, the nested
    wps = tmp_path / "附件2.wps"
    wps.write_bytes((FORMS / "base_form.doc").read_bytes())
    listed = read_form(wps, "c/附件2.wps")
    assert listed is not None and listed.lectures == {1: ("绪论", ("李敏",)),
                                                      2: ("能源转型", ("张伟", "王芳"))}

    works = tmp_path / "附件1.wps"                  # not Word 97 (here: pictures' bytes)
    works.write_bytes(bytes(range(256)) * 40)
    damaged = tmp_path / "附件3.doc"
    damaged.write_bytes((FORMS / "base_form.doc").read_bytes()[:9000])
    locked = tmp_path / "附件4.doc"
    data = bytearray((FORMS / "base_form.doc").read_bytes())
    assert locked.write_bytes(data) and _set_fib_flag(locked, 0x0100)   # fEncrypted
    for path in (works, damaged, locked):
        assert read_form(path, f"c/{path.name}") is None, path
    said = check_form([Found(p, f"c/{p.name}") for p in (works, damaged, locked)])
    assert said.status == "pass", said
    assert "附件1.wps is not a Word 97–2003 document (Microsoft Works' .wps" in said.message
    assert "附件3.doc is damaged" in said.message and \
        "附件4.doc is protected by a password" in said.message, said.message
    assert "saved again as .docx, .doc, .odt or .pdf" in said.message


def _merged(tables: list[list[list[str]]]) -> list[list[list[str]]]:
    """Tables with a cell repeated over the next columns (a merged cell as python-docx gives
    it, and the tables nested in it, walked once per column) kept once."""
    return [[[cell for cell, _ in itertools.groupby(row)] for row in table]
            for table, _ in itertools.groupby(tables)]


def _set_fib_flag(path: Path, flag: int) -> bool:
    """Set ``flag`` in the FibBase flags of the .doc at ``path``, in place (olefile writes a
    stream back at its size)."""
    import struct

    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        word = bytearray(ole.openstream("WordDocument").read())
        flags = struct.unpack_from("<H", word, 0x0A)[0]
        struct.pack_into("<H", word, 0x0A, flags | flag)
        ole.write_stream("WordDocument", bytes(word))
    return True


def _odt_form(path: Path, rows: list[list[str]]) -> Path:
    """An application form saved by LibreOffice or WPS as ODT (ODF 1.2): a contact table
    with the curriculum nested in one of its cells, as our DOCX form nests it; a cell's
    lines are paragraphs, an empty cell repeated over the last columns."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(text: str, more: str = "") -> str:
        lines = "".join(f"<text:p>{escape(line)}</text:p>" for line in text.split("\n"))
        return f"<table:table-cell{more}>{lines}</table:table-cell>"

    def table(name: str, body: list[list[str]]) -> str:
        return (f'<table:table table:name="{name}">' + "".join(
            "<table:table-row>" + "".join(cell(c) for c in row) + "</table:table-row>"
            for row in body) + "</table:table>")

    curriculum = table("课程", [["讲次", "题目", "授课教师"], *rows])
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:text><text:h>附件1 公需课网络课件申报表</text:h>"
        "<text:p>赵丽，副教授，陕西师范大学，主讲第1讲</text:p>"
        '<table:table table:name="申报表"><table:table-row>'
        + cell("联系人") + cell("张三") + cell("", ' table:number-columns-repeated="2"')
        + "</table:table-row><table:table-row>" + cell("课件介绍")
        + f"<table:table-cell>{curriculum}</table:table-cell>"
        + cell("", ' table:number-columns-repeated="2"')
        + "</table:table-row></table:table></office:text></office:body>"
        "</office:document-content>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type='
            '"application/vnd.oasis.opendocument.text"/><manifest:file-entry '
            'manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>"))
    return path


def test_an_odt_forms_curriculum_is_read(tmp_path: Path) -> None:
    """ODT (LibreOffice, WPS): the curriculum nested in the form's table is read, a cell's
    names one to a line are two lecturers, the 师资介绍 line gives a lecturer's title and
    unit; the outer table (联系人, 课件介绍) is not taken for it."""
    from tasks.stick_qc import FormLecturer, read_form

    path = _odt_form(tmp_path / "附件1.odt", [["1", "数字素养与技能提升", "赵丽\n孙强"],
                                               ["2", "人工智能\n与社会治理", "孙强"]])
    form = read_form(path, "c/附件1.odt")
    assert form is not None and form.lectures == {1: ("数字素养与技能提升", ("赵丽", "孙强")),
                                                  2: ("人工智能与社会治理", ("孙强",))}
    assert form.lecturers == {"赵丽": FormLecturer("赵丽", "副教授", "陕西师范大学"),
                              "孙强": FormLecturer("孙强", None, None)}


def _pdf_form(tmp_path: Path, rows: list[list[str]]) -> Path:
    """A base's form printed to PDF (as Word or WPS saves one: text with its font embedded,
    ruled table cells), its curriculum running over a second page without its header
    repeated, titles wrapped in a narrow column."""
    from xml.sax.saxutils import escape

    from browser import CHROMIUM_FLAGS, chromium

    from courseware.fonts import WEB_FAMILY, web_font_face

    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in [["序号", "课程名称", "主讲人", "职称", "工作单位"], *rows])
    text = ("<h1>附件2 2024年继续教育网络专业课科目申请表</h1>"
            "<p>科目名称：碳达峰碳中和与绿色低碳发展</p>"
            f"<table>{body}</table>")
    page = tmp_path / "form.html"
    page.write_text(
        '<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><style>'
        f'{web_font_face(text)} body {{ font-family: "{WEB_FAMILY}"; font-size: 16pt }} '
        "table { border-collapse: collapse } td { border: 1px solid #000; padding: 14px; "
        f"width: 6em }} </style><body>{text}</body></html>", "utf-8")
    pdf = tmp_path / "附件2.pdf"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return pdf


def test_a_pdf_forms_curriculum_is_read(tmp_path: Path) -> None:
    """A PDF saved from a word processor: its ruled curriculum table is read, over two pages
    (the second without its header), a title wrapped in its cell joined again; a scan (a
    picture of the form, no text) gives nothing to compare, and D11 says why."""
    import pdfplumber
    from PIL import Image

    from tasks.qc_batch import Found
    from tasks.stick_qc import FormLecturer, check_form, read_form

    titles = ["“双碳”目标的由来与政策框架", "能源结构转型与低碳技术路径",
              "碳市场与碳交易机制", "工业领域节能降碳", "建筑与交通的绿色转型",
              "碳汇与生态系统固碳", "绿色金融与气候投融资", "碳排放核算与报告",
              "低碳城市规划实践", "碳达峰行动方案解读"]
    rows = [["第一讲" if n == 1 else str(n), t, "李敏" if n % 2 else "王建华、李敏",
             "教授" if n % 2 else "副教授", "西北大学" if n % 2 else "西安交通大学"]
            for n, t in enumerate(titles, 1)]
    pdf = _pdf_form(tmp_path, rows)
    with pdfplumber.open(str(pdf)) as opened:       # the test's premise: two pages, wrapped
        assert len(opened.pages) == 2
        assert "\n" in opened.pages[0].extract_tables()[0][1][1]
    form = read_form(pdf, "c/附件2.pdf")
    assert form is not None
    assert form.lectures == {n: (t, ("李敏",) if n % 2 else ("王建华", "李敏"))
                             for n, t in enumerate(titles, 1)}
    assert form.lecturers == {"李敏": FormLecturer("李敏", "教授", "西北大学"),
                              "王建华": FormLecturer("王建华", "副教授", "西安交通大学")}

    scan = tmp_path / "扫描件.pdf"
    Image.new("RGB", (595, 842), "white").save(scan)
    assert read_form(scan, "c/扫描件.pdf") is None
    said = check_form([Found(scan, "c/扫描件.pdf")])
    assert "(a scanned PDF has no text to read)" in said.message, said


def test_the_form_against_the_folder() -> None:
    """D11 with the form's curriculum read: the folder's lectures under the form's titles
    pass (a file named without its title, or with its punctuation, is the same); a lecture
    the form does not list, one it lists that is not there and a file titled otherwise are
    warnings naming them."""
    from tasks.qc_batch import Found
    from tasks.stick_qc import FormLecturer, FormListing, check_form

    form = FormListing("c/附件2.docx", {1: ("“双碳”目标的由来", ("李敏",)),
                                        2: ("能源转型", ("张伟",))},
                       {"李敏": FormLecturer("李敏", "教授", "西北大学"),
                        "张伟": FormLecturer("张伟", None, None)})
    docs = [Found(Path("附件2.docx"), "c/附件2.docx")]

    def lecture(number: int, title: str) -> LectureMeasure:
        return LectureMeasure(number=number, title=title, key=f"c/第{number}讲_{title}.mp4")

    good = check_form(docs, [lecture(1, "双碳目标的由来"), lecture(2, "第2讲")], form)
    assert good.status == "pass", good
    assert good.message == ("c/附件2.docx lists 2 lecture(s), taught by 张伟、李敏: the lectures "
                            "in the folder, under their titles (D11)")
    bad = check_form(docs, [lecture(1, "碳市场与碳交易"), lecture(3, "低碳技术")], form)
    assert bad.status == "warn", bad
    for said in ("第3讲 《低碳技术》 is not in its curriculum",
                 "it lists 第2讲 《能源转型》, which is not in the folder",
                 "it titles 第1讲 《“双碳”目标的由来》, its file 《碳市场与碳交易》"):
        assert said in bad.message, bad.message
    assert check_form(docs, [lecture(1, "x")], None).status == "pass"


def test_the_lecturer_on_a_card_against_the_form() -> None:
    """A4 with the form's curriculum: the lecture's own lecturer on its card, with the title
    and unit the form gives, is nothing to say; another of the form's lecturers instead is a
    contradiction (A4 fails on it); a card without the name, with another title or another
    unit is a warning for a person, each quoting the form."""
    from tasks.stick_qc import FormLecturer, FormListing, _card_words

    form = FormListing("c/附件2.docx", {1: ("绪论", ("李敏",)), 2: ("能源转型", ("张伟", "王芳"))},
                       {"李敏": FormLecturer("李敏", "高级工程师", "陕西省环境科学研究院"),
                        "张伟": FormLecturer("张伟", "教授", "西北大学"),
                        "王芳": FormLecturer("王芳", None, None)})
    one = LectureMeasure(number=1, title="绪论", key="c/第1讲.mp4")
    two = LectureMeasure(number=2, title="能源转型", key="c/第2讲.mp4")
    card = ["碳达峰碳中和", "第1讲 绪论", "主讲：李敏 高级工程师", "陕西省环境科学研究院"]
    assert _card_words(one, card, "碳达峰碳中和", form) == ([], [])
    other, lacking = _card_words(two, ["碳达峰碳中和", "第2讲 能源转型", "主讲：李敏 高级工程师",
                                       "陕西省环境科学研究院"], "碳达峰碳中和", form)
    assert lacking == [] and len(other) == 1, other
    assert other[0].startswith("第2讲 《能源转型》's title card names 李敏, but c/附件2.docx gives "
                               "张伟、王芳 for it: a card copied, its lecturer not changed?")
    other, lacking = _card_words(two, ["碳达峰碳中和", "第2讲 能源转型", "主讲：张伟 副教授",
                                       "西北工业大学"], "碳达峰碳中和", form)
    assert other == [] and [x.split(" (“")[0] for x in lacking] == [
        "第2讲 《能源转型》's title card gives 张伟 as 副教授, c/附件2.docx as 教授",
        "第2讲 《能源转型》's title card does not give 张伟's unit as c/附件2.docx gives it "
        "(西北大学)"], lacking
    other, lacking = _card_words(two, ["碳达峰碳中和", "第2讲 能源转型", "主讲：张伟 王芳 教授",
                                       "西北大学"], "碳达峰碳中和", form)
    assert (other, lacking) == ([], [])
    other, lacking = _card_words(one, ["碳达峰碳中和", "第1讲 绪论", "高级工程师",
                                       "陕西省环境科学研究院"], "碳达峰碳中和", form)
    assert other == [] and lacking == [
        "第1讲 《绪论》's title card does not give its lecturer's name as c/附件2.docx gives it "
        "(李敏) (“碳达峰碳中和 / 第1讲 绪论 / 高级工程师 / 陕西省环境科学研究院”)"], lacking


def test_animated_title_cards_on_a_stick() -> None:
    """A4 with animated cards (an opening that moves, read as a card): timed from its start
    to its end, judged like a still card; a card copied from another lecture fails by its
    words; one whose end was not found, or that runs past 5 s, is for a person to look at;
    an opening that moves and reads as no card is no title card."""
    from courseware.report import Check
    from tasks.qc_batch import FileOutcome
    from tasks.stick_qc import check_opening_stills, measure

    course = "碳达峰碳中和与绿色低碳发展"

    def card(n: int) -> list[str]:
        return [course, f"第{n}讲 能源转型", "主讲：李敏 高级工程师", "陕西省环境科学研究院"]

    def files(*cards: tuple[list[float | None] | None, list[str] | None]) -> Check:
        found = [FileOutcome(file=f"c/第{n}讲.mp4", status="pass", animated_card=span,
                             title_card_text=text) for n, (span, text) in enumerate(cards, 1)]
        lectures = [measure(f, n, "能源转型") for n, f in enumerate(found, 1)]
        return check_opening_stills(lectures, found, load_profile(), course=course)

    good = files(([0.0, 3.0], card(1)), ([0.0, 2.6], card(2)))
    assert (good.status, good.measured) == ("pass", 3.0), good
    assert "every lecture opens with a title card of 2.6–3.0 s (2 animated, timed to the " \
        "cut to the lecture or to where their words go)" in good.message
    bad = files(([0.0, 3.0], card(1)), ([0.0, None], card(1)), ([0.0, 7.5], card(3)),
                (None, None))
    assert bad.status == "fail", bad
    for said in ("第2讲 《能源转型》's title card reads 第1讲",
                 "第2讲 《能源转型》 opens with an animated title card whose end was not found",
                 "第3讲 《能源转型》's animated title card (from 0.00 s to its end) lasts 7.5 s",
                 "第4讲 《能源转型》 opens with moving pictures and no title card read on them"):
        assert said in bad.message, bad.message


def test_moving_credits_on_a_stick() -> None:
    """A5 with credits that move (read where they end): their words are judged as a still
    card's are; moving pictures that read as no credits are none."""
    from courseware.report import Check
    from tasks.qc_batch import FileOutcome
    from tasks.stick_qc import check_closing_still, measure

    def last(moving: list[float | None] | None, text: list[str] | None) -> Check:
        found = [FileOutcome(file="c/第1讲.mp4", status="pass"),
                 FileOutcome(file="c/第2讲.mp4", status="pass", moving_credits=moving,
                             credits_text=text)]
        lectures = [measure(f, n, "绪论") for n, f in enumerate(found, 1)]
        return check_closing_still(lectures, found)

    good = last([None, 3600.0], ["制作单位：西安交通大学继续教育学院", "录制时间：2024年5月"])
    assert good.status == "pass", good
    assert good.message.startswith("第2讲 《绪论》, the last lecture, ends with moving credits, "
                                   "read where they end (A5); it reads “制作单位"), good
    half = last([None, 3600.0], ["制作单位：西安交通大学继续教育学院"])
    assert half.status == "warn" and "no recording date (录制时间)" in half.message, half
    none = last(None, None)
    assert none.status == "warn" and "ends with moving pictures and no credits read" in \
        none.message, none
