"""The course report (course.* checks): every check against a planted truth.

A short course is generated at 320×180 (a profile copy with that delivery size, so clips
encode in a blink): an intro clip, two lectures assembled as the render assembles them
(intro → title card → content → credits, the cards drawn by courseware.cards), the real
preview, bank and package. Each defect test copies that course and plants one fault; the
report must fail that check and leave the others as they were. Durations at realistic
sizes (16 × 60 min …) are tested on the pure functions with numbers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import boto3
import numpy as np
import pytest
from bank_data import bank_rows, write_csv
from browser import cjk, fonts_drawn
from click.testing import CliRunner
from prefect import flow

from courseware.cards import credits_lines, render_card, title_card_lines
from courseware.cli import cli
from courseware.course import Course, load_course
from courseware.course_html import render_course_html
from courseware.fonts import find_face
from courseware.media import DeliveryWriter, cfr_frames, rgb_to_frame
from courseware.report import Check, Report
from courseware.store import LocalStore, open_store
from encoder_profiles import Profile, load_profile
from tasks.cache import DoneMarker, write_marker
from tasks.course_qc import (
    DURATION_CHECKS,
    INTRO_MAD_CODES,
    LectureMeasure,
    check_course,
    check_lecture_count,
    check_lecture_duration,
    check_total_hours,
    check_uniform_resolution,
    course_qc_task,
    lecture_count_range,
    lecture_loudness,
    publish_course_report,
    publish_course_report_task,
    report_keys,
)
from tasks.package import (
    COURSE_REPORT_HTML,
    COURSE_REPORT_JSON,
    PublishedLecture,
    preview_key,
    publish_package,
)
from tasks.preview import render_preview
from tasks.publish import course_prefix, lecture_key

BASE = load_profile()
STRUCTURE = BASE.structure
SIZE = (320, 180)
CONTENT_S = 2.0
INTRO_FRAMES = 48  # 1.92 s: a whole number of AAC frames, so sound and picture end together
FONT = find_face()


def _profile(width: int, height: int) -> Profile:
    """The delivery profile at another frame size (model_copy: D4's minimum goes down too)."""
    return BASE.model_copy(update={
        "encode": BASE.encode.model_copy(update={"width": width, "height": height}),
        "delivery": BASE.delivery.model_copy(update={"min_width": width,
                                                     "min_height": height})})


PROFILE = _profile(*SIZE)
FPS = PROFILE.delivery.fps
ENC = PROFILE.encode

COURSE_YAML = """\
course:
  name: 碳达峰碳中和与绿色低碳发展
  kind: professional
  hours: 8
  level: 中级
  speciality: 环境工程
  applying_unit: 陕西省环境科学研究院继续教育基地
  production_unit: 西安某某传媒有限公司
  recording_date: 2026-10-12
  contact: {name: 王晓燕, phone: "029-88886666"}
  intro: intro.mp4
  bank: 题库.csv
lecturers:
  - {id: zhang, name: 张明, title: 教授, unit: 西安交通大学能源与动力工程学院}
  - {id: li, name: 李红梅, title: 高级工程师, unit: 陕西省环境监测中心站}
lectures:
  - {number: 1, title: 双碳目标的由来与政策体系, lecturer: zhang, sources: {slides: l1.mp4}}
  - {number: 2, title: 能源结构转型与清洁能源, lecturer: li, sources: {slides: l2.mp4}}
"""


# ------------------------------------------------------------------------------ media

def _silence() -> np.ndarray:
    return np.zeros((2, PROFILE.delivery.audio_rate // FPS), np.float32)


def _tone(frame: int, peak_dbfs: float) -> np.ndarray:
    """One frame's sound of a steady 440 Hz tone, both channels."""
    n = PROFILE.delivery.audio_rate // FPS
    t = (frame * n + np.arange(n)) / PROFILE.delivery.audio_rate
    x = 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * 440.0 * t)
    return np.vstack([x, x]).astype(np.float32)


def _write_intro(path: Path) -> None:
    """An opening clip at 480×270 (scaled when put in): moving stripes, faded in."""
    w, h = 480, 270
    x = np.arange(w)[None, :, None]
    with DeliveryWriter(path, _profile(w, h)) as writer:
        for i in range(INTRO_FRAMES):
            k = min(1.0, (i + 1) / 10)
            stripes = ((x + 6 * i) % 48 < 24) * np.array([200, 120, 40]) + 30
            rgb = np.broadcast_to(stripes * k, (h, w, 3)).astype(np.uint8)
            writer.write(rgb_to_frame(rgb), _silence())


def _content(number: int, w: int, h: int) -> Iterator[av.VideoFrame]:
    """Lecture pictures: a light 'slide' with a moving block, different per lecture."""
    for i in range(round(CONTENT_S * FPS)):
        rgb = np.full((h, w, 3), (235, 235, 225), np.uint8)
        rgb[h // 6: h // 6 + 8, w // 10: w // 10 + 40 * number] = (30, 60, 160)
        x0 = (5 * i) % (w - 40)
        rgb[h // 2: h // 2 + 30, x0: x0 + 40] = (180, 60, 40)
        yield rgb_to_frame(rgb)


@dataclass(frozen=True)
class Plan:
    """How one lecture file is put together (the render's order)."""

    intro: bool = False
    card_s: float = ENC.title_card_s
    credits: bool = False
    size: tuple[int, int] = SIZE
    #: the content's sound: a 440 Hz tone at this peak level (None: silence)
    tone_dbfs: float | None = None


def _write_lecture(course: Course, number: int, path: Path, plan: Plan) -> float:
    """A lecture file as tasks.render assembles one; returns its duration."""
    w, h = plan.size
    lecture = course.lecture(number)
    who = course.lecturer(lecture)
    info = course.info
    card = rgb_to_frame(render_card(
        title_card_lines(course=info.name, number=number, title=lecture.title,
                         lecturer=who.name, lecturer_title=who.title, unit=who.unit),
        width=w, height=h, font=FONT, what="test card"))
    credits = rgb_to_frame(render_card(
        credits_lines(course=info.name, production_unit=info.production_unit,
                      recording_date=info.recording_date.strftime("%Y年%m月%d日"),
                      applying_unit=info.applying_unit),
        width=w, height=h, font=FONT, what="test credits"))
    with DeliveryWriter(path, _profile(w, h)) as writer:
        if plan.intro:
            assert info.intro is not None
            for frame in cfr_frames(course.resolve(info.intro), fps=FPS):
                if frame is not None:
                    writer.write(frame.reformat(width=w, height=h, format="yuv420p"),
                                 _silence())
        for _ in range(round(plan.card_s * FPS)):
            writer.write(card, _silence())
        for k, frame in enumerate(_content(number, w, h)):
            writer.write(frame, _silence() if plan.tone_dbfs is None else
                         _tone(k, plan.tone_dbfs))
        if plan.credits:
            for _ in range(round(ENC.credits_s * FPS)):
                writer.write(credits, _silence())
        return writer.frames / FPS


GOOD = {1: Plan(intro=True), 2: Plan(credits=True)}


@dataclass
class Published:
    """A published test course: the course folder (course.yaml, intro, bank), the store and
    the scratch folder side by side under ``root``, so a copy is self-contained."""

    root: Path

    @property
    def course(self) -> Course:
        return load_course(self.root / "course" / "course.yaml")

    @property
    def store(self) -> Path:
        return self.root / "delivery"

    @property
    def durations(self) -> dict[int, float]:
        data = json.loads((self.root / "durations.json").read_text("utf-8"))
        return {int(k): v for k, v in data.items()}

    def publish_lecture(self, number: int, plan: Plan) -> Path:
        course = self.course
        local = self.root / "work" / f"l{number}.mp4"
        duration = _write_lecture(course, number, local, plan)
        LocalStore(self.store).put_file(local, lecture_key(course, course.lecture(number)))
        path = self.root / "durations.json"
        data = json.loads(path.read_text("utf-8")) if path.exists() else {}
        path.write_text(json.dumps(data | {str(number): duration}), "utf-8")
        return local

    def relecture(self, number: int, plan: Plan) -> None:
        """Publish lecture ``number`` made by ``plan``, and the package again (the planted
        fault is then the only one: the manifest matches)."""
        self.publish_lecture(number, plan)
        self.package()

    def package(self, *, preview: Path | None = None, bank: Path | None = None,
                store: str | None = None) -> None:
        """The package (manifest last) into the local store, or into ``store``."""
        course = self.course
        published = [PublishedLecture(number=n, title=course.lecture(n).title,
                                      key=lecture_key(course, course.lecture(n)), duration_s=d)
                     for n, d in sorted(self.durations.items())]
        publish_package(course, published, store=store or str(self.store), preview=preview,
                        bank=bank)

    def report(self) -> Report:
        return check_course(self.course, store=str(self.store), profile=PROFILE)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = tmp_path_factory.mktemp("course-qc")
    folder = root / "course"
    folder.mkdir()
    (root / "work").mkdir()
    (folder / "course.yaml").write_text(COURSE_YAML, encoding="utf-8")
    _write_intro(folder / "intro.mp4")
    write_csv(folder / "题库.csv", bank_rows(lectures=2))
    published = Published(root)
    local = {number: published.publish_lecture(number, plan) for number, plan in GOOD.items()}
    # lecture 1's own QC reports, as the lecture flow publishes them beside the video
    course = published.course
    store = LocalStore(published.store)
    stem = lecture_key(course, course.lecture(1)).removesuffix(".mp4")
    store.put_bytes(b'{"status": "warn", "checks": []}', f"{stem}.qc.json")
    store.put_bytes(b"<!DOCTYPE html><title>QC</title>", f"{stem}.qc.html")
    preview = render_preview(course, local, profile=PROFILE, out_dir=root / "work" / "preview",
                             font=FONT)
    published.package(preview=preview.path, bank=folder / "题库.csv")
    return published


@pytest.fixture
def copy(good: Published, tmp_path: Path) -> Published:
    shutil.copytree(good.root, tmp_path / "c")
    return Published(tmp_path / "c")


def _status(report: Report) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def _check(report: Report, check_id: str) -> Check:
    return next(c for c in report.checks if c.id == check_id)


DURATIONS = set(DURATION_CHECKS)
STRUCTURE_IDS = {"course.uniform_resolution", "course.title_card", "course.intro",
                 "course.credits", "course.preview", "course.question_bank", "course.manifest"}


def _only(report: Report, failing: set[str]) -> None:
    """The planted fault fails its check(s); the rest are as for the good course (whose
    lectures are silent: no loudness to compare)."""
    want = {i: "fail" if i in failing | DURATIONS else "pass" for i in DURATIONS | STRUCTURE_IDS}
    assert _status(report) == want | {"course.loudness": "skip"}, report.table()


# ------------------------------------------------------------------------------ good course

class _Remote(LocalStore):
    """A store without local files (as S3): the report must download what it looks at."""

    def local_path(self, key: str) -> Path | None:
        return None


def test_good_course_passes_structure_and_fails_durations(good: Published) -> None:
    report = good.report()
    assert report.file == course_prefix(good.course)
    _only(report, set())
    d1, d2 = good.durations[1], good.durations[2]
    # planted: intro + 4 s card + 2 s content; 4 s card + 2 s content + 4 s credits
    assert d1 == pytest.approx(INTRO_FRAMES / FPS + ENC.title_card_s + CONTENT_S)
    assert d2 == pytest.approx(ENC.title_card_s + CONTENT_S + ENC.credits_s)
    count = _check(report, "course.lecture_count")
    assert count.measured == 2 and count.threshold == "8"
    duration = _check(report, "course.lecture_duration")
    # the lecture furthest from 60 min is the shorter one; each lecture named in an event
    assert duration.measured == pytest.approx(min(d1, d2) / 60, abs=0.01)
    assert duration.threshold == "54–66"
    assert [e.detail.split(":")[0] for e in duration.events] == [
        "第1讲 《双碳目标的由来与政策体系》", "第2讲 《能源结构转型与清洁能源》"]
    total = _check(report, "course.total_hours")
    assert total.measured == pytest.approx((d1 + d2) / 3600, abs=1e-3)
    assert report.duration_s == pytest.approx(d1 + d2, abs=0.1)
    # what was measured on the files
    card = _check(report, "course.title_card")
    assert card.measured == pytest.approx(ENC.title_card_s, abs=0.05)
    credits = _check(report, "course.credits")
    assert credits.measured == pytest.approx(ENC.credits_s, abs=0.05)
    intro = _check(report, "course.intro")
    assert isinstance(intro.measured, float) and intro.measured < INTRO_MAD_CODES
    rows = report.to_dict()["lectures"]
    assert isinstance(rows, list)
    assert [r["format"] for r in rows] == ["pass", "pass"]
    assert [r["qc"] for r in rows] == ["warn", None]  # from lecture 1's published .qc.json
    assert rows[0]["qc_html"] == "第01讲_双碳目标的由来与政策体系.qc.html"
    assert [r["intro"] for r in rows] == [True, False]
    # the same report from a store that has no local files (downloads, as on S3)
    remote = check_course(good.course, store=_Remote(good.store), profile=PROFILE)
    assert remote.to_dict() == report.to_dict()


def test_the_renders_warnings_reach_the_course_page(copy: Published) -> None:
    """What the render said about a lecture's sources (kept in its done-marker) is shown
    under the lecture on the course report, in the JSON and on the page."""
    course = copy.course
    key = lecture_key(course, course.lecture(2))
    said = ("2 《能源结构转型与清洁能源》 teacher: 640×360 is below 1280×720 (B2)",)
    write_marker(LocalStore(copy.store), key, DoneMarker(
        key="k", parts={}, number=2, title=course.lecture(2).title, status="pass",
        qc_status="pass", duration_s=1.0, outputs={}, qc_version="v", finished_at="now",
        warnings=said))
    report = copy.report()
    rows = report.to_dict()["lectures"]
    assert isinstance(rows, list)
    assert [r["warnings"] for r in rows] == [[], list(said)]
    assert "640×360 is below 1280×720 (B2)" in render_course_html(report)


def test_report_published_beside_the_manifest_and_not_in_it(copy: Published) -> None:
    course = copy.course
    report = copy.report()
    keys = publish_course_report(course, report, store=str(copy.store))
    prefix = course_prefix(course)
    assert keys == {"json": f"{prefix}/{COURSE_REPORT_JSON}",
                    "html": f"{prefix}/{COURSE_REPORT_HTML}"}
    data = json.loads((copy.store / keys["json"]).read_text("utf-8"))
    assert data["status"] == "fail" and data["file"] == prefix
    assert {c["id"] for c in data["checks"]} == DURATIONS | STRUCTURE_IDS | {"course.loudness"}
    page = (copy.store / keys["html"]).read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert 'href="%E7%AC%AC01%E8%AE%B2_' in page  # relative link to lecture 1's QC page
    assert "course.lecture_duration" in page and "D4/D5" in page
    # a package written again does not list the report; the report still holds
    copy.package()
    manifest = json.loads((copy.store / prefix / "manifest.json").read_text("utf-8"))
    assert not {o["key"] for o in manifest["objects"]} & set(keys.values())
    assert _status(copy.report())["course.manifest"] == "pass"


def test_course_page_draws_its_chinese_with_the_glyphs_it_carries(good: Published,
                                                                  tmp_path: Path) -> None:
    """The course page forwarded as it is reads on a machine without a CJK font: every
    Chinese character (the course's title, the lectures', the clauses') is drawn by the font
    it carries (tests/test_qc_report.py checks the lecture page the same way)."""
    page = tmp_path / "course.html"
    page.write_text(render_course_html(good.report()), "utf-8")
    drawn = fonts_drawn(page, profile=tmp_path / "profile")
    chinese = [d for d in drawn if cjk(d.text)]
    assert any(good.course.lecture(2).title in d.text for d in chinese)
    for d in chinese:
        assert sum(d.custom.values()) >= cjk(d.text), d
        assert set(d.custom) <= {FONT.family}, d


def test_course_page_keeps_its_tables_inside_their_cards(good: Published,
                                                         tmp_path: Path) -> None:
    """In Chromium at 1280 px, nothing of the page is drawn right of its cards (a wide
    clause table with long check ids and messages had run past them); the long ids wrap."""
    import numpy as np
    from browser import screenshot
    from PIL import Image

    page, png = tmp_path / "course.html", tmp_path / "course.png"
    page.write_text(render_course_html(good.report()), "utf-8")
    screenshot(page, png, width=1280, height=3000, profile=tmp_path / "profile")
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
    background = np.abs(pixels - np.array([245, 245, 245])).sum(axis=-1) <= 10
    content = np.nonzero(~background.all(axis=1))[0]
    assert content.max() > 800                              # the page is there
    band = int(np.argmax(background[:, -1]))                # the verdict band's full width
    assert 40 < band < 200
    # main: 1200 px centred (40–1240), its cards inside a 24-px padding: 64–1216
    right = background[band:, 1224:]
    assert right.all(), np.nonzero(~right)


def test_check_course_cli(good: Published, tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(cli, [
        "check-course", str(good.root / "course" / "course.yaml"), "--store", str(good.store),
        "--json", str(out_json), "--html", str(out_html)])
    # the default profile wants 1280×720: these 320×180 files also fail D4 there
    assert result.exit_code == 1, result.output
    assert "course.title_card" in result.output and "第1讲" in result.output
    assert json.loads(out_json.read_text("utf-8"))["status"] == "fail"
    assert out_html.read_text("utf-8").startswith("<!DOCTYPE html>")


@flow(name="course-report-on-s3")
def _course_report_flow(course_file: str, store: str) -> dict[str, Any]:
    """The course flow's last step on its own: the course report measured from ``store``,
    then published into it (the same two Prefect tasks flows/course.py runs)."""
    course = load_course(Path(course_file))
    report = course_qc_task(course, store=store, profile=PROFILE)
    keys = publish_course_report_task(course, report, store=store)
    return {"report": json.loads(json.dumps(report.to_dict(), ensure_ascii=False)),
            "keys": keys}


def test_course_report_on_s3_over_http(good: Published, moto_url: str, aws_env: None,
                                       prefect_server: None) -> None:
    """The good course published to an s3:// store (moto over HTTP, boto3 unpatched): the
    report downloads each published file to measure it, re-checks the manifest's SHA-256
    against the stored objects and uploads itself; it says what the local store says. Then a
    lecture object is deleted: the report names it missing."""
    admin = boto3.session.Session().client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket = f"cqc-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/delivery?endpoint={moto_url}"
    course, local = good.course, LocalStore(good.store)
    s3 = open_store(uri)
    for number in GOOD:  # each lecture with its own QC reports, as the lecture flow leaves them
        stem = lecture_key(course, course.lecture(number)).removesuffix(".mp4")
        for key in local.list(stem):
            s3.put_file(good.store / key, key)
    good.package(store=uri, preview=good.store / preview_key(course),
                 bank=good.root / "course" / "题库.csv")
    course_file = str(good.root / "course" / "course.yaml")

    def read(key: str) -> bytes:
        return bytes(admin.get_object(Bucket=bucket, Key=f"delivery/{key}")["Body"].read())

    run = _course_report_flow(course_file, uri)
    keys = report_keys(course)
    assert run["keys"] == keys
    data = json.loads(read(keys["json"]).decode("utf-8"))
    assert data == run["report"]
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses == {**dict.fromkeys(DURATIONS, "fail"),
                        **dict.fromkeys(STRUCTURE_IDS, "pass"),
                        "course.loudness": "skip"}, data["checks"]
    manifest = next(c for c in data["checks"] if c["id"] == "course.manifest")
    assert manifest["measured"] == "7/7 intact", manifest
    page = read(keys["html"]).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "course.manifest" in page
    for key in keys.values():  # uploaded by the store: whole, with its checksum
        head = admin.head_object(Bucket=bucket, Key=f"delivery/{key}")
        assert head["Metadata"]["sha256"] == hashlib.sha256(read(key)).hexdigest()
    # measured on the downloaded files: the same report as on the local store
    assert data == json.loads(json.dumps(good.report().to_dict(), ensure_ascii=False))
    assert [r["duration_s"] for r in data["lectures"]] == pytest.approx(
        [good.durations[1], good.durations[2]], abs=0.05)

    gone = lecture_key(course, course.lecture(2))
    admin.delete_object(Bucket=bucket, Key=f"delivery/{gone}")
    run = _course_report_flow(course_file, uri)
    data = json.loads(read(keys["json"]).decode("utf-8"))
    assert data == run["report"] and data["status"] == "fail"
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses == {**dict.fromkeys(DURATIONS, "fail"),
                        **dict.fromkeys(STRUCTURE_IDS, "pass"),
                        "course.uniform_resolution": "warn", "course.title_card": "fail",
                        "course.credits": "fail", "course.manifest": "fail",
                        "course.loudness": "skip"}, data["checks"]
    manifest = next(c for c in data["checks"] if c["id"] == "course.manifest")
    assert f"{gone} is listed but missing" in manifest["message"]
    assert manifest["measured"] == "6/7 intact"
    assert data["lectures"][1]["error"] == f"{gone} is not published"
    assert data["lectures"][1]["duration_s"] is None


# ------------------------------------------------------------------------------ defects

def test_lecture_one_without_the_intro(copy: Published) -> None:
    copy.relecture(1, Plan(intro=False))
    report = copy.report()
    _only(report, {"course.intro"})
    intro = _check(report, "course.intro")
    assert isinstance(intro.measured, float) and intro.measured > INTRO_MAD_CODES
    assert "第1讲" in intro.message and "does not open" in intro.message


def test_intro_on_another_lecture(copy: Published) -> None:
    copy.relecture(2, Plan(intro=True, credits=True))
    report = copy.report()
    _only(report, {"course.intro"})  # its title card is found after the intro
    assert "第2讲" in _check(report, "course.intro").message


def test_title_card_held_too_long(copy: Published) -> None:
    copy.relecture(2, Plan(card_s=6.0, credits=True))
    report = copy.report()
    _only(report, {"course.title_card"})
    card = _check(report, "course.title_card")
    assert card.measured == pytest.approx(6.0, abs=0.05)
    assert card.threshold == STRUCTURE.title_card_max_s
    (event,) = card.events
    assert "第2讲" in event.detail and "6.00 s" in event.detail


def test_title_card_missing(copy: Published) -> None:
    copy.relecture(2, Plan(card_s=0.0, credits=True))
    report = copy.report()
    _only(report, {"course.title_card"})
    assert "is not its title card" in _check(report, "course.title_card").message


def test_credits_missing_from_the_last_lecture(copy: Published) -> None:
    copy.relecture(2, Plan(credits=False))
    report = copy.report()
    _only(report, {"course.credits"})
    credits = _check(report, "course.credits")
    assert credits.measured == 0.0 and "第2讲" in credits.message


def test_credits_on_the_first_lecture(copy: Published) -> None:
    copy.relecture(1, Plan(intro=True, credits=True))
    report = copy.report()
    _only(report, {"course.credits"})
    (event,) = _check(report, "course.credits").events
    assert event.detail.startswith("第1讲") and "last lecture only" in event.detail


def test_a_lecture_at_another_resolution(copy: Published) -> None:
    copy.relecture(2, Plan(credits=True, size=(256, 144)))
    report = copy.report()
    _only(report, {"course.uniform_resolution"})  # cards are still found at 256×144
    check = _check(report, "course.uniform_resolution")
    (event,) = check.events
    assert "第2讲" in event.detail and "256x144" in event.detail and "320x180" in event.detail


def test_a_lecture_louder_than_the_rest(copy: Published) -> None:
    """S4 from one lecture to the next: 6 dB between the lectures' tones puts each about
    3 LU from the course's median, over the 2 LU allowed; 1 dB does not. Each lecture's
    loudness is measured from its file (lecture 1's QC report carries none) as FFmpeg's
    ebur128 reads it."""
    copy.publish_lecture(1, Plan(intro=True, tone_dbfs=-26.0))
    copy.relecture(2, Plan(credits=True, tone_dbfs=-20.0))
    course = copy.course
    paths = [copy.store / lecture_key(course, course.lecture(n)) for n in (1, 2)]
    ref = [_ebur128(path) for path in paths]
    for number, path, lufs in zip((1, 2), paths, ref, strict=True):
        assert lecture_loudness(path, lecture=str(number)) == pytest.approx(lufs, abs=0.1)
    report = copy.report()
    check = _check(report, "course.loudness")
    assert (check.status, check.clause) == ("warn", "S4"), check.message
    # the median of two lies half way: each is half their difference from it (≈ 3 LU)
    assert check.measured == pytest.approx((ref[1] - ref[0]) / 2, abs=0.1)
    assert "measured here" in check.message
    assert [e.detail[:3] for e in check.events] == ["第1讲", "第2讲"]
    # lecture 2 starts where lecture 1 (as probed) ends on the course timeline
    assert check.events[1].start_s == pytest.approx(copy.durations[1], abs=0.05)
    _only_but(report, {"course.loudness": "warn"})
    copy.relecture(2, Plan(credits=True, tone_dbfs=-25.0))
    near = _ebur128(paths[1])
    check = _check(copy.report(), "course.loudness")
    assert check.status == "pass", check.message
    assert check.measured == pytest.approx(abs(near - ref[0]) / 2, abs=0.1)


def _only_but(report: Report, statuses: dict[str, str]) -> None:
    want = {i: "fail" if i in DURATIONS else "pass" for i in DURATIONS | STRUCTURE_IDS}
    assert _status(report) == want | statuses, report.table()


def _ebur128(path: Path) -> float:
    """FFmpeg's integrated loudness of a file (the reference meter)."""
    import re
    import subprocess

    import imageio_ffmpeg

    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i",
                          str(path), "-map", "0:a", "-af", "ebur128", "-f", "null", "-"],
                         capture_output=True, text=True, check=True, timeout=120)
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", run.stderr)[-1])


def test_preview_longer_than_a6(copy: Published) -> None:
    seconds = STRUCTURE.preview_max_s + 1.0
    course = copy.course
    still = rgb_to_frame(np.full((SIZE[1], SIZE[0], 3), 90, np.uint8))
    local = copy.root / "work" / "long-preview.mp4"
    with DeliveryWriter(local, PROFILE) as writer:
        for _ in range(round(seconds * FPS)):
            writer.write(still, _silence())
    LocalStore(copy.store).put_file(local, preview_key(course))
    copy.package()
    report = copy.report()
    _only(report, {"course.preview"})
    assert _check(report, "course.preview").measured == pytest.approx(seconds, abs=0.1)


def test_bank_short_of_questions(copy: Published) -> None:
    short = write_csv(copy.root / "work" / "题库.csv", bank_rows(single=80, lectures=2))
    copy.package(bank=short)
    report = copy.report()
    _only(report, {"course.question_bank"})
    bank = _check(report, "course.question_bank")
    assert bank.measured == "80 single · 30 multiple · 30 true_false"
    assert "80 < 90" in bank.message


def test_manifest_object_changed_after_writing(copy: Published) -> None:
    prefix = course_prefix(copy.course)
    form = next((copy.store / prefix).glob("申报表_*.docx"))
    form.write_bytes(form.read_bytes() + b"\0")
    qc = next((copy.store / prefix).glob("*.qc.json"))
    qc.unlink()
    report = copy.report()
    _only(report, {"course.manifest"})
    message = _check(report, "course.manifest").message
    assert f"{prefix}/{form.name} is " in message and "the manifest says" in message
    assert f"{prefix}/{qc.name} is listed but missing" in message


# ------------------------------------------------------------------------------ numbers

def _lectures(minutes: list[float]) -> list[LectureMeasure]:
    return [LectureMeasure(number=i, title=f"第{i}讲标题", key=f"c/{i}.mp4",
                           duration_s=m * 60, width=1280, height=720, display_aspect=(16, 9))
            for i, m in enumerate(minutes, 1)]


def test_public_course_of_sixteen_hours_passes() -> None:
    lectures = _lectures([60.0] * 16)
    assert check_lecture_count(kind="public", hours=16, count=16,
                               structure=STRUCTURE).status == "pass"
    assert check_lecture_duration(lectures, kind="public", structure=STRUCTURE).status == "pass"
    total = check_total_hours(kind="public", hours=16, total_s=16 * 3600, structure=STRUCTURE)
    assert total.status == "pass" and total.measured == 16.0 and total.clause == "A1"
    assert check_uniform_resolution(lectures, None).status == "pass"


def test_public_course_of_fifteen_lectures_fails() -> None:
    check = check_lecture_count(kind="public", hours=16, count=15, structure=STRUCTURE)
    assert check.status == "fail" and check.measured == 15 and check.threshold == "16"
    assert "exactly 16" in check.message
    hours = check_lecture_count(kind="public", hours=12, count=16, structure=STRUCTURE)
    assert hours.status == "fail" and "course.hours" in hours.message


def test_a_forty_minute_lecture_fails() -> None:
    lectures = _lectures([60.0] * 7 + [40.0] + [62.0] * 8)
    check = check_lecture_duration(lectures, kind="public", structure=STRUCTURE)
    assert check.status == "fail" and check.measured == 40.0
    (event,) = check.events
    assert event.detail.startswith("第8讲 《第8讲标题》: 40.0 min")
    assert event.start_s == 7 * 3600 and event.end_s == 7 * 3600 + 2400  # course timeline


def test_professional_courses() -> None:
    ok = check_lecture_count(kind="professional", hours=8, count=8, structure=STRUCTURE)
    assert ok.status == "pass" and ok.clause == "A2"
    assert check_lecture_count(kind="professional", hours=8, count=7,
                               structure=STRUCTURE).status == "fail"
    odd = check_lecture_count(kind="professional", hours=10, count=10, structure=STRUCTURE)
    assert odd.status == "fail" and "8/16/24/32/56" in odd.message
    # 56 h at 60 min ± 10 %: 51–62 lectures
    assert lecture_count_range(56, STRUCTURE) == (51, 62)
    assert check_lecture_count(kind="professional", hours=56, count=52,
                               structure=STRUCTURE).status == "pass"
    total = check_total_hours(kind="professional", hours=8, total_s=8 * 50 * 60,
                              structure=STRUCTURE)
    assert total.status == "fail" and total.threshold == "7.2–8.8"
    assert total.measured == pytest.approx(8 * 50 / 60, abs=1e-3)
    assert check_lecture_duration(_lectures([58.0, 61.5] * 4), kind="professional",
                                  structure=STRUCTURE).status == "pass"
