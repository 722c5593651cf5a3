"""One lecture: probe → sync → analyse → render → verify → publish."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict

from courseware.course import load_course
from courseware.errors import PipelineError
from encoder_profiles import DEFAULT_PROFILE, load_profile
from tasks.probe import probe_task
from tasks.publish import publish_task
from tasks.render import analyse_task, render_task
from tasks.sync import sync_task
from tasks.verify import verify_task


class LectureOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    status: str  # pass | warn | fail | error
    duration_s: float = 0.0
    key: str | None = None
    video_url: str | None = None
    report_url: str | None = None
    message: str = ""


def _run_name() -> str:
    params = flow_run.parameters
    return f"{Path(params['course_file']).parent.name} · 第{params['number']}讲"


@flow(name="lecture", flow_run_name=_run_name, log_prints=True)
def lecture_flow(course_file: str, number: int, store: str, profile: str = DEFAULT_PROFILE,
                 work_dir: str | None = None) -> LectureOutcome:
    log = get_run_logger()
    course = load_course(Path(course_file))
    lecture = course.lecture(number)
    prof = load_profile(profile)
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "courseware-work"
    work = work / hashlib.sha1(str(course.path).encode()).hexdigest()[:12]
    inputs = probe_task(course, lecture)
    if lecture.sources.offsets:
        log.info("using the offsets from the course file: %s", lecture.sources.offsets)
    else:
        inputs = sync_task(inputs)
    audio = analyse_task(inputs, prof)
    log.info("programme audio: %s, peak %s dBFS, gain %+.1f dB", audio.role,
             f"{audio.true_peak_dbfs:.1f}" if audio.true_peak_dbfs is not None else "-", audio.gain_db)
    rendered = render_task(course, inputs, audio=audio, profile=prof, out_dir=work)
    report = verify_task(rendered.path, profile=prof, lecture=inputs.label)
    create_table_artifact(
        key=f"qc-lecture-{number}",
        table=[{"check": c.id, "clause": c.clause, "status": c.status,
                "measured": str(c.measured), "message": c.message} for c in report.checks],
        description=f"QC of 第{number}讲 {lecture.title}: {report.status}")
    if report.status == "fail":
        failed = "; ".join(f"{c.id}: {c.message}" for c in report.failed())
        raise PipelineError(
            f"lecture {inputs.label}: the rendered file {rendered.path} does not meet the "
            f"profile ({failed}); it was kept for inspection and not published")
    urls = publish_task(course, lecture, video=rendered.path, report=report, store=store)
    rendered.path.unlink(missing_ok=True)
    return LectureOutcome(number=number, title=lecture.title, status=report.status,
                          duration_s=rendered.duration_s, key=urls["key"],
                          video_url=urls["video"], report_url=urls["report"])
