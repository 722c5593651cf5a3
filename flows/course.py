"""A course: every lecture as its own flow run; a bad lecture fails alone.

Then the delivery: preview, package (its manifest written last), and after it the course
report (tasks/course_qc.py: the ``course.*`` checks, measured from what was published),
published into the course folder as ``课程质检报告.json`` / ``.html``. The report checks the
manifest, so it comes after it and is not listed in it; its keys and verdict are on
``CourseOutcome``. A course report that fails (the demo's few-second lectures fail A2) is
reported, never a reason to fail the flow: the lectures and the package stand.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict

from courseware.bank import load_bank, validate_bank
from courseware.course import Course, load_course
from courseware.errors import StoreError
from courseware.report import Report
from courseware.store import open_store
from encoder_profiles import DEFAULT_PROFILE, load_layouts, load_profile
from flows.lecture import LectureOutcome, lecture_flow, work_root
from tasks.cache import HashMode
from tasks.course_qc import course_qc_task, publish_course_report_task, report_table
from tasks.inbox import stage_name, stage_task
from tasks.package import MANIFEST, PackageResult, PublishedLecture, package_task, preview_key
from tasks.preview import preview_task
from tasks.publish import course_prefix


class CourseOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    course: str
    store: str
    lectures: list[LectureOutcome]
    package: PackageResult | None = None
    preview_rendered: bool = False
    package_message: str = ""
    #: the course report (course.* checks): pass | warn | fail; None when it was not made
    course_report_status: str | None = None
    course_report_key: str | None = None  # its JSON in the store; the HTML page beside it
    course_report_html_key: str | None = None
    course_report_failed: list[str] = []  # ids of the course checks that failed
    course_report_message: str = ""  # why there is no course report

    @property
    def failed(self) -> list[LectureOutcome]:
        return [lec for lec in self.lectures if lec.status in ("fail", "error")]

    @property
    def rendered(self) -> int:
        """How many lectures were rendered by this run (0 on a rerun with nothing new)."""
        return sum(lec.rendered for lec in self.lectures)


def _course_report(course: Course, *, store: str, profile: str,
                   ) -> tuple[Report | None, dict[str, str], str]:
    """The course report, computed and published after the package; (report, keys, why not).
    Reported, not a gate: any error leaves the lectures and the package as they are."""
    try:
        report = course_qc_task(course, store=store, profile=load_profile(profile))
        keys = publish_course_report_task(course, report, store=store)
    except Exception as exc:  # a report that cannot be made is said so, the course stands
        message = f"course report not written: {exc}"
        get_run_logger().error(message)
        return None, {}, message
    return report, keys, ""


def _run_name() -> str:
    return f"course · {Path(flow_run.parameters['course_file']).parent.name}"


def _deliver(course: Course, outcomes: list[LectureOutcome], *, store: str, profile: str,
             work: Path) -> tuple[PackageResult, bool]:
    """A6 preview (rendered again only when a published lecture changed), then the D1/D11
    package; its manifest is written last."""
    target = open_store(store)
    prof = load_profile(profile)
    published = [PublishedLecture(number=o.number, title=o.title, key=o.key or "",
                                  duration_s=o.duration_s) for o in outcomes]
    fingerprint = hashlib.sha256(json.dumps(
        {"lectures": [(p.key, target.checksum(p.key)) for p in published],
         "profile": prof.model_dump(mode="json"),
         "layouts": {k: v.model_dump(mode="json") for k, v in load_layouts().items()}},
        sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    manifest_key = f"{course_prefix(course)}/{MANIFEST}"
    previous = None
    if target.exists(manifest_key):
        previous = json.loads(target.get_bytes(manifest_key).decode("utf-8"))
    preview_dir = work / "preview" / hashlib.sha1(str(course.path).encode()).hexdigest()[:12]
    preview_dir.mkdir(parents=True, exist_ok=True)
    preview_path = None
    rendered = False
    if not (previous and previous.get("preview_fingerprint") == fingerprint
            and target.exists(preview_key(course))):
        local = {}
        for p in published:
            path = target.local_path(p.key)
            local[p.number] = path or target.get_file(p.key, preview_dir / f"{p.number}.mp4")
        preview_path = preview_task(course, local, profile=prof, out_dir=preview_dir).path
        rendered = True
    bank = course.resolve(course.info.bank) if course.info.bank is not None else None
    extra: dict[str, object] = {"preview_fingerprint": fingerprint}
    if bank is not None:  # Q1–Q3: delivered with its check; problems are named, not hidden
        issues = validate_bank(load_bank(bank), prof)
        extra["bank_issues"] = [f"{i.cell or i.row}: {i.message}" for i in issues]
        if issues:
            get_run_logger().warning("question bank %s has %d problem(s); see `courseware "
                                     "bank check`", bank, len(issues))
    package = package_task(course, published, store=store, preview=preview_path, bank=bank,
                           extra=extra)
    return package, rendered


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
    package, preview_rendered, package_message = None, False, ""
    if any(o.key is None for o in outcomes):
        package_message = ("package not written: every lecture must be published first "
                           "(D1); rerun the course once the failed lectures are fixed")
        log.warning(package_message)
    else:
        try:
            package, preview_rendered = _deliver(course, outcomes, store=store,
                                                 profile=profile, work=work_root(work_dir))
        except StoreError as exc:
            package_message = f"package not written: {exc}"
            log.error(package_message)
    report: Report | None = None
    report_keys: dict[str, str] = {}
    if package is not None:
        report, report_keys, report_message = _course_report(course, store=store,
                                                             profile=profile)
    else:  # the report checks the package (D1): none without it
        report_message = f"course report not written: {package_message}"
    outcome = CourseOutcome(
        course=course.info.name, store=store, lectures=outcomes, package=package,
        preview_rendered=preview_rendered, package_message=package_message,
        course_report_status=report.status if report is not None else None,
        course_report_key=report_keys.get("json"), course_report_html_key=report_keys.get("html"),
        course_report_failed=[c.id for c in report.failed()] if report is not None else [],
        course_report_message=report_message)
    slug = hashlib.sha1(course.info.name.encode("utf-8")).hexdigest()[:8]
    if report is not None:
        create_table_artifact(
            key=f"course-qc-{slug}", table=report_table(report),
            description=f"course report of {course.info.name}: {report.status}"
                        + (f" ({', '.join(outcome.course_report_failed)})"
                           if outcome.course_report_failed else "")
                        + f" → {outcome.course_report_html_key}")
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
    if report is not None:
        bad = [c for c in report.checks if c.status in ("fail", "warn")]
        verdict = (f"## Course report: {report.status.upper()}\n\n"
                   f"`{outcome.course_report_html_key}`\n\n"
                   + "".join(f"- {c.status}: `{c.id}` ({c.clause}) {c.message}\n"
                             for c in bad))
    else:
        verdict = f"## Course report\n\n{report_message}\n"
    said = "".join(f"- {w}\n" for o in outcomes for w in o.warnings)
    create_markdown_artifact(
        key="course-summary",
        markdown=(f"# {course.info.name}\n\n| 讲次 | 标题 | 格式 | QC | 渲染 | 时长 (s) | 发布 |\n"
                  f"|---|---|---|---|---|---|---|\n{rows}\n\n"
                  + (f"## Failed\n\n{failures}\n" if failures else "All lectures published.\n")
                  + "\n" + verdict
                  + (f"\n## What the render found in the sources and did about it\n\n{said}"
                     if said else "")),
        description=f"{course.info.name}: {len(outcome.failed)} of {len(outcomes)} failed")
    return outcome
