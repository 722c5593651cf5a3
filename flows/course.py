"""A course: every lecture as its own flow run; a bad lecture fails alone."""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict

from courseware.course import load_course
from encoder_profiles import DEFAULT_PROFILE, load_profile
from flows.lecture import LectureOutcome, lecture_flow, work_root
from tasks.cache import HashMode
from tasks.inbox import stage_name, stage_task


class CourseOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    course: str
    store: str
    lectures: list[LectureOutcome]

    @property
    def failed(self) -> list[LectureOutcome]:
        return [lec for lec in self.lectures if lec.status in ("fail", "error")]

    @property
    def rendered(self) -> int:
        """How many lectures were rendered by this run (0 on a rerun with nothing new)."""
        return sum(lec.rendered for lec in self.lectures)


def _run_name() -> str:
    return f"course · {Path(flow_run.parameters['course_file']).parent.name}"




@flow(name="course", flow_run_name=_run_name, log_prints=True, persist_result=True)
def course_flow(course_file: str, store: str, profile: str = DEFAULT_PROFILE,
                work_dir: str | None = None, force: bool = False, raw_qc: bool = True,
                hash_mode: HashMode = "full", qc_deployment: str | None = None,
                inbox: str | None = None) -> CourseOutcome:
    """Render, check and publish every lecture of ``course_file``.

    ``inbox``: an ``s3://`` inbox; ``course_file`` is then the key of the course file in it
    (``<submission>/course.yaml``), and the submission is staged (checked against READY)
    into the work folder first, on whichever worker runs this.
    """
    log = get_run_logger()
    if inbox is not None:
        work = work_root(work_dir)
        course_file = str(stage_task(inbox, course_file,
                                     stage=work / "inbox" / stage_name(inbox)))
    course = load_course(Path(course_file))  # a bad course file stops here, with its message
    load_profile(profile)
    outcomes = []
    for lecture in course.lectures:
        state = lecture_flow(str(course.path), lecture.number, store, profile, work_dir,
                             force=force, raw_qc=raw_qc, hash_mode=hash_mode,
                             qc_deployment=qc_deployment, return_state=True)
        if state.is_completed():
            outcomes.append(state.result())
        else:
            error = state.result(raise_on_failure=False)
            message = str(error) if isinstance(error, BaseException) else str(state.message)
            log.error("第%d讲 failed: %s", lecture.number, message)
            outcomes.append(LectureOutcome(number=lecture.number, title=lecture.title,
                                           status="error", message=message))
    outcome = CourseOutcome(course=course.info.name, store=store, lectures=outcomes)
    slug = hashlib.sha1(course.info.name.encode("utf-8")).hexdigest()[:8]
    create_table_artifact(
        key=f"course-{slug}",
        table=[{"lecture": o.number, "title": o.title, "format": o.status,
                "qc": o.qc_status or "-", "rendered": "yes" if o.rendered else "no (done)"
                if o.key else "no", "duration_s": f"{o.duration_s:.1f}",
                "result": o.key or o.message} for o in outcomes],
        description=f"{course.info.name}: {outcome.rendered} rendered, "
                    f"{len(outcome.failed)} of {len(outcomes)} failed")
    failures = "\n".join(f"- 第{o.number}讲 《{o.title}》: {o.message}" for o in outcome.failed)
    rows = "\n".join(
        f"| {o.number} | {o.title} | {o.status} | {o.qc_status or '-'} | "
        f"{'yes' if o.rendered else 'no'} | {o.duration_s:.1f} | {o.key or '-'} |"
        for o in outcomes)
    create_markdown_artifact(
        key="course-summary",
        markdown=(f"# {course.info.name}\n\n| 讲次 | 标题 | 格式 | QC | 渲染 | 时长 (s) | 发布 |\n"
                  f"|---|---|---|---|---|---|---|\n{rows}\n\n"
                  + (f"## Failed\n\n{failures}\n" if failures else "All lectures published.\n")),
        description=f"{course.info.name}: {len(outcome.failed)} of {len(outcomes)} failed")
    return outcome
