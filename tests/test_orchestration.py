"""Reruns skip finished work, retries and failures stay per lecture, batches skip what is
not ready: measured through the real flows on a temporary Prefect server."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterName,
)

from courseware.errors import CorruptMediaError, StoreError
from courseware.sample import make_sample
from courseware.submit import READY_NAME
from flows.batch import batch_flow
from flows.course import CourseOutcome, course_flow
from tasks.cache import storage_fault
from tasks.inbox import named_files

SECONDS = 2.0


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("raw") / "course", lectures=2, seconds=SECONDS)


def _renders(parent: UUID) -> int:
    """Render task runs under a course flow run, counted on the server."""
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])))
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_="render"),
            flow_run_id=TaskRunFilterFlowRunId(any_=[c.id for c in children])))
    return sum(1 for r in runs if r.name.startswith("render-") and r.state_name == "Completed")


def _run(course_file: Path, store: Path, work: Path, **kw: object) -> tuple[CourseOutcome, int]:
    state = course_flow(str(course_file), str(store), work_dir=str(work), return_state=True,
                        **kw)  # type: ignore[arg-type]
    outcome = state.result()
    assert isinstance(outcome, CourseOutcome)
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return outcome, _renders(run_id)


def _snapshot(store: Path) -> dict[str, tuple[int, int, str]]:
    return {p.relative_to(store).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns,
                                              hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(store.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class FirstRun:
    """A course rendered and published once: what a rerun starts from."""

    outcome: CourseOutcome
    renders: int
    store: Path
    work: Path


@pytest.fixture(scope="module")
def first_run(raw: Path, tmp_path_factory: pytest.TempPathFactory,
              prefect_server: None) -> FirstRun:
    root = tmp_path_factory.mktemp("first-run")
    store, work = root / "delivery", root / "work"
    outcome, renders = _run(raw, store, work)
    return FirstRun(outcome, renders, store, work)


def _copy(first: FirstRun, tmp: Path) -> tuple[Path, Path]:
    """The first run's delivery and work folders, copied: each test changes its own."""
    store, work = tmp / "delivery", tmp / "work"
    shutil.copytree(first.store, store)
    shutil.copytree(first.work, work)
    return store, work


def test_rerun_renders_nothing_and_changes_nothing(raw: Path, first_run: FirstRun,
                                                   tmp_path: Path) -> None:
    first = first_run.outcome
    assert first_run.renders == 2 and first.rendered == 2, first
    assert [lec.status for lec in first.lectures] == ["pass", "pass"], first
    store, work = _copy(first_run, tmp_path)
    # raw-source QC judges the sources for the lectures made of them: neither the camera's
    # 50 Mbit/s original nor the slides' 0.4 Mbit/s is a D3 fault (the render re-encodes them)
    raws = sorted(first_run.work.rglob("raw0*.qc.json"))
    assert len(raws) == 4, raws
    for path in raws:
        checks = {c["id"]: c for c in json.loads(path.read_text("utf-8"))["checks"]}
        assert checks["format.bitrate"]["status"] == "skip", (path, checks["format.bitrate"])
    # the teacher camera's planted noise and warm cast (sample-truth.json) fail for a lecture;
    # the render corrects them (the lectures pass V2 and V3), so for the raw source they are
    # warnings saying what the render does
    teacher = {c["id"]: c for c in json.loads(
        next(p for p in raws if p.name == "raw01-teacher.qc.json").read_text("utf-8"))["checks"]}
    for key in ("video.snr", "video.white_balance"):
        assert teacher[key]["status"] == "warn", teacher[key]
        assert "A raw source: the render" in teacher[key]["message"], teacher[key]
    for lec in first.lectures:  # raw-source QC reported, full QC published beside the video
        assert set(lec.raw_qc) == {"slides", "teacher"}
        assert lec.qc_status in ("pass", "warn", "fail")
        assert lec.key is not None
        stem = store / lec.key.removesuffix(".mp4")
        report = json.loads(Path(f"{stem}.qc.json").read_text("utf-8"))
        assert {"video.snr", "audio.peak", "format.bitrate"} <= {c["id"] for c in report["checks"]}
        assert report["file"] == lec.key  # the file beside it, not the deleted working copy
        assert Path(f"{stem}.qc.html").read_text("utf-8").lstrip().lower().startswith("<!doctype")
        marker = json.loads(Path(f"{stem}.done.json").read_text("utf-8"))
        video = store / lec.key
        assert marker["outputs"]["video"]["size"] == video.stat().st_size
        assert marker["outputs"]["video"]["sha256"] == hashlib.sha256(
            video.read_bytes()).hexdigest()
    before = _snapshot(store)

    second, renders = _run(raw, store, work)
    assert renders == 0 and second.rendered == 0, second
    assert [lec.key for lec in second.lectures] == [lec.key for lec in first.lectures]
    assert _snapshot(store) == before  # same files, same inodes, not even rewritten


def test_changed_title_rerenders_only_that_lecture(raw: Path, first_run: FirstRun,
                                                   tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(raw.parent, course)
    store, work = _copy(first_run, tmp_path)
    text = (course / raw.name).read_text("utf-8")
    old = first_run.outcome.lectures[1].title
    (course / raw.name).write_text(text.replace(f'"{old}"', '"新的标题"', 1), "utf-8")
    second, renders = _run(course / raw.name, store, work, raw_qc=False)
    assert renders == 1
    assert [lec.rendered for lec in second.lectures] == [False, True]
    assert second.lectures[1].title == "新的标题" and second.lectures[1].key is not None
    assert (store / second.lectures[1].key).is_file()
    # a changed source renders again too, and the log says why (the key's parts)
    teacher = course / "lecture01" / "teacher.mp4"
    teacher.write_bytes(teacher.read_bytes() + b"\0")  # same pictures, other bytes
    third, renders = _run(course / raw.name, store, work, raw_qc=False)
    assert [lec.rendered for lec in third.lectures] == [True, False] and renders == 1


def test_a_start_before_the_last_camera_begins_the_lecture_there(raw: Path,
                                                                  first_run: FirstRun,
                                                                  tmp_path: Path) -> None:
    """Lecture 1's teacher camera started 0.7 s before its slides capture (the sample's
    planted offset); ``start: -0.4`` in the course file begins the lecture 0.4 s earlier,
    through the sync the flow runs: that lecture alone is rendered again, 0.4 s longer, and
    the render says where the slides capture joins."""
    import yaml

    course = tmp_path / "course"
    shutil.copytree(raw.parent, course)
    store, work = _copy(first_run, tmp_path)
    data = yaml.safe_load((course / raw.name).read_text("utf-8"))
    data["lectures"][0]["start"] = -0.4
    (course / raw.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    second, renders = _run(course / raw.name, store, work, raw_qc=False)
    assert renders == 1 and [lec.rendered for lec in second.lectures] == [True, False]
    before, after = first_run.outcome.lectures[0], second.lectures[0]
    assert after.status == "pass" and after.duration_s - before.duration_s == pytest.approx(
        0.4, abs=0.05)
    assert any("slides: its pictures begin at 00:00:00.4" in w for w in after.warnings), (
        after.warnings)
    # the operator reads it in the Prefect UI: the course's summary artifact lists it
    from prefect.artifacts import Artifact

    summary = Artifact.get("course-summary")
    assert summary is not None and isinstance(summary.data, str)
    assert "## What the render found in the sources" in summary.data
    assert all(f"- {w}" in summary.data for w in after.warnings), summary.data


def _submission(raw: Path, inbox: Path, name: str, course_name: str) -> Path:
    folder = inbox / name
    shutil.copytree(raw.parent, folder)
    course_file = folder / raw.name
    text = course_file.read_text("utf-8")
    old = text.split("name: ", 1)[1].split("   #", 1)[0]
    course_file.write_text(text.replace(old, json.dumps(course_name, ensure_ascii=False), 1),
                           "utf-8")
    return folder


def _ready(folder: Path) -> None:
    """What `courseware submit` writes last (it refuses corrupt media, so written here)."""
    from courseware.course import load_course

    course = load_course(folder / "course.yaml")
    files = [{"key": rel, "size": (folder / rel).stat().st_size,
              "sha256": hashlib.sha256((folder / rel).read_bytes()).hexdigest()}
             for rel in ["course.yaml", *named_files(course)]]
    (folder / READY_NAME).write_text(json.dumps(
        {"course": course.info.name, "course_file": "course.yaml", "files": files}), "utf-8")


def test_batch_bad_lecture_fails_alone_not_ready_skipped(raw: Path, tmp_path: Path,
                                                         prefect_server: None) -> None:
    inbox, store = tmp_path / "inbox", tmp_path / "delivery"
    bad = _submission(raw, inbox, "a-bad-lecture", "课程甲")
    teacher = bad / "lecture02" / "teacher.mp4"
    teacher.write_bytes(b"\x00garbage, not a video" * 100)
    _ready(bad)
    _submission(raw, inbox, "b-no-ready", "课程乙")  # still uploading: no READY
    partial = _submission(raw, inbox, "c-partial", "课程丙")
    _ready(partial)
    slides = partial / "lecture01" / "slides.mp4"
    slides.write_bytes(slides.read_bytes()[:1000])  # READY lists more bytes than are there

    result = batch_flow(str(inbox), str(store), work_dir=str(tmp_path / "work"),
                        raw_qc=False)
    by = {s.name: s for s in result.submissions}
    assert result.mode == "subflow"
    assert by["b-no-ready"].status == "waiting" and "READY" in by["b-no-ready"].reason
    assert by["c-partial"].status == "waiting" and "slides.mp4" in by["c-partial"].reason
    a = by["a-bad-lecture"]
    assert a.status == "ready" and a.state == "Completed"
    assert (a.lectures, a.published, a.rendered) == (2, 1, 1)
    assert len(a.failed) == 1 and a.failed[0].startswith("第2讲")
    assert str(teacher) in a.failed[0] and "re-export or re-upload" in a.failed[0]
    published = sorted(p.name for p in store.rglob("*.mp4"))
    assert len(published) == 1 and "第01讲" in published[0]
    assert not (store / "课程乙").exists() and not (store / "课程丙").exists()


def test_retry_only_storage_faults() -> None:
    """Bad input fails at once; store and OS faults go to the retry policy."""
    from prefect.states import Failed

    def decide(exc: BaseException) -> bool:
        return storage_fault(None, None, Failed(data=exc))  # type: ignore[arg-type]

    assert decide(StoreError("s3 timeout"))
    assert decide(ConnectionResetError("reset"))
    assert not decide(CorruptMediaError("teacher.mp4 cannot be decoded"))
    from courseware.errors import CourseFileError, FontError, MissingSourceError

    assert not decide(MissingSourceError("slides.mp4 not found"))  # a FileNotFoundError too
    assert not decide(CourseFileError("line 3"))
    assert not decide(FontError("no glyph"))
    assert not decide(ValueError("a bug"))


def test_s3_inbox_accepts_files_uploaded_by_another_tool(raw: Path, tmp_path: Path,
                                                         aws_env: None) -> None:
    """A base may upload with its own S3 client (no ``sha256`` metadata on the objects) and
    write READY itself: the inbox hashes the objects' bytes and finds the submission ready;
    a file that differs from READY keeps it waiting."""
    import boto3
    from botocore.config import Config
    from s3_server import MotoServer

    from tasks.inbox import scan_inbox

    folder = _submission(raw, tmp_path / "upload", "base-a", "课程丁")
    _ready(folder)
    with MotoServer() as server:
        client = boto3.session.Session().client(
            "s3", endpoint_url=server.url, config=Config(s3={"addressing_style": "path"}))
        client.create_bucket(Bucket="inbox")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            client.upload_file(str(path), "inbox",
                               f"season1/base-a/{path.relative_to(folder).as_posix()}")
        inbox = f"s3://inbox/season1?endpoint={server.url}"
        (ready,) = scan_inbox(inbox, stage=tmp_path / "stage")
        assert (ready.name, ready.status) == ("base-a", "ready"), ready.reason
        assert (tmp_path / "stage" / ".object-hashes.json").is_file()   # the next scan's
        client.put_object(Bucket="inbox", Key="season1/base-a/lecture01/teacher.mp4",
                          Body=b"cut off")
        (changed,) = scan_inbox(inbox, stage=tmp_path / "stage")
        assert changed.status == "waiting"
        assert changed.reason == "lecture01/teacher.mp4: the object differs from READY"


def test_s3_inbox_ready_waiting_staged_and_run(raw: Path, tmp_path: Path, aws_env: None,
                                               prefect_server: None) -> None:
    """An s3:// inbox: `courseware submit` makes a submission ready; one without READY waits;
    the course run stages the ready one (checked against READY) and publishes it."""
    import boto3
    from botocore.config import Config
    from s3_server import MotoServer

    from courseware.store import open_store
    from courseware.submit import submit_course
    from tasks.cache import file_digest, sha256_file

    with MotoServer() as server:
        boto3.session.Session().client(
            "s3", endpoint_url=server.url, config=Config(s3={"addressing_style": "path"}),
        ).create_bucket(Bucket="inbox")
        inbox = f"s3://inbox/season1?endpoint={server.url}"
        one = tmp_path / "one"
        shutil.copytree(raw.parent, one)
        text = (one / "course.yaml").read_text("utf-8")
        # one lecture only: keep the test short
        (one / "course.yaml").write_text(text.partition("  - number: 2")[0], "utf-8")
        submitted = submit_course(one / "course.yaml", inbox)
        waiting = open_store(inbox)
        waiting.put_file(one / "course.yaml", "zz-uploading/course.yaml")  # no READY yet

        store, work = tmp_path / "delivery", tmp_path / "work"
        result = batch_flow(inbox, str(store), work_dir=str(work), raw_qc=False)
        by = {s.name: s for s in result.submissions}
        assert by["zz-uploading"].status == "waiting" and "READY" in by["zz-uploading"].reason
        ours = by[submitted.folder.rsplit("/", 1)[-1]]
        assert ours.status == "ready" and ours.state == "Completed", ours
        assert (ours.lectures, ours.published, ours.rendered) == (1, 1, 1)
        staged = next(work.rglob("lecture01/teacher.mp4"))
        assert sha256_file(staged) == sha256_file(one / "lecture01" / "teacher.mp4")
        # the digest checked while staging is reused: the key matches a local run's
        assert file_digest(staged, mode="quick") == file_digest(
            one / "lecture01" / "teacher.mp4", mode="full")
        again = batch_flow(inbox, str(store), work_dir=str(work), raw_qc=False)
        assert {s.name: s.rendered for s in again.submissions if s.status == "ready"} == {
            ours.name: 0}
