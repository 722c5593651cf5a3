"""A course: every lecture as its own flow run; a bad lecture fails alone."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict

from courseware.course import load_course
from encoder_profiles import DEFAULT_PROFILE, load_profile
from flows.lecture import LectureOutcome, lecture_flow


class CourseOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    course: str
    store: str
    lectures: list[LectureOutcome]

    @property
    def failed(self) -> list[LectureOutcome]:
        return [lec for lec in self.lectures if lec.status in ("fail", "error")]


def _run_name() -> str:
    return f"course · {Path(flow_run.parameters['course_file']).parent.name}"


@flow(name="course", flow_run_name=_run_name, log_prints=True)
def course_flow(course_file: str, store: str, profile: str = DEFAULT_PROFILE,
                work_dir: str | None = None) -> CourseOutcome:
    log = get_run_logger()
    course = load_course(Path(course_file))  # a bad course file stops here, with its message
    load_profile(profile)
    outcomes = []
    for lecture in course.lectures:
        state = lecture_flow(str(course.path), lecture.number, store, profile, work_dir,
                             return_state=True)
        if state.is_completed():
            outcomes.append(state.result())
        else:
            error = state.result(raise_on_failure=False)
            message = str(error) if isinstance(error, BaseException) else str(state.message)
            log.error("第%d讲 failed: %s", lecture.number, message)
            outcomes.append(LectureOutcome(number=lecture.number, title=lecture.title,
                                           status="error", message=message))
    outcome = CourseOutcome(course=course.info.name, store=store, lectures=outcomes)
    rows = "\n".join(
        f"| {o.number} | {o.title} | {o.status} | {o.duration_s:.1f} | {o.key or o.message} |"
        for o in outcomes)
    create_markdown_artifact(
        key="course-summary",
        markdown=(f"# {course.info.name}\n\n| 讲次 | 标题 | QC | 时长 (s) | 结果 |\n"
                  f"|---|---|---|---|---|\n{rows}\n"),
        description=f"{course.info.name}: {len(outcome.failed)} of {len(outcomes)} failed")
    return outcome
