"""Many courses: every ready submission in an inbox, each course as its own flow run.

With a ``course`` deployment on the server (prefect.yaml), each course is started with
``run_deployment`` and lands on whichever worker of the pool is free; without one, the
courses run here one after another as subflows. Submissions that are not ready (no READY
marker, a source missing or still being uploaded) are listed with the reason and skipped;
the next batch run picks them up. Finished lectures are skipped by the lecture flow's
done-markers, so a batch can be rerun after any interruption.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import State
from pydantic import BaseModel, ConfigDict

from courseware.course import load_course
from courseware.store import LocalStore, open_store
from encoder_profiles import DEFAULT_PROFILE, load_profile
from flows.course import CourseOutcome, course_flow
from flows.lecture import work_root
from tasks.cache import HashMode, read_marker
from tasks.inbox import Submission, scan_inbox_task, stage_name
from tasks.publish import lecture_key

#: the course deployment prefect.yaml defines (flow name / deployment name)
COURSE_DEPLOYMENT = "course/course"


class SubmissionOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    status: str  # ready | waiting | invalid (from the scan)
    reason: str = ""
    course: str | None = None
    flow_run: str | None = None  # the course flow run (name)
    state: str | None = None  # its final state: Completed, Failed, Crashed, TimedOut…
    lectures: int = 0
    published: int = 0  # lectures with a done-marker in the store after the run
    rendered: int | None = None  # None: the course run's result was not readable here
    failed: list[str] = []  # "第N讲: why"


class BatchOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    inbox: str
    store: str
    mode: Literal["deployment", "subflow"]
    submissions: list[SubmissionOutcome]

    @property
    def ran(self) -> list[SubmissionOutcome]:
        return [s for s in self.submissions if s.status == "ready"]

    @property
    def complete(self) -> bool:
        return all(s.published == s.lectures and s.state == "Completed" for s in self.ran)


def _run_name() -> str:
    return f"batch · {Path(str(flow_run.parameters['inbox'])).name}"


def _deployment_exists(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def _store_view(course_file: Path, store: str,
                since: dt.datetime | None) -> tuple[int, int, int | None]:
    """(lectures, lectures with a done-marker, markers written since ``since``): the store
    is the truth, whichever machine ran the course."""
    try:
        course = load_course(course_file)
    except Exception:
        return 0, 0, None
    target = open_store(store)
    markers = [read_marker(target, lecture_key(course, lec)) for lec in course.lectures]
    done = [m for m in markers if m is not None]
    fresh = None if since is None else sum(
        dt.datetime.fromisoformat(m.finished_at) >= since
        for m in done)
    return len(course.lectures), len(done), fresh


def _lecture_failures(run_id: UUID) -> list[str]:
    """Why the lecture runs of a course run failed, from the server (no result storage)."""
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])))
    return sorted(f"{c.name.split(' · ')[-1]}: {c.state.message if c.state else ''}"
                  for c in children if c.state is not None and c.state.is_failed())


def _outcome(base: SubmissionOutcome, state: State[Any] | None, course_file: Path,
             store: str, run: FlowRun | None) -> SubmissionOutcome:
    since = run.start_time if run is not None else None
    lectures, published, fresh = _store_view(course_file, store, since)
    update: dict[str, object] = {"lectures": lectures, "published": published,
                                 "rendered": fresh, "state": state.name if state else "unknown"}
    result: CourseOutcome | None = None
    if state is not None and state.is_completed():
        try:  # persisted by the course flow; readable when this machine shares its storage
            raw = state.result()
            # the worker loaded the flow from its entrypoint file: another class object
            result = CourseOutcome.model_validate(raw.model_dump())
        except Exception:
            result = None
    if result is not None:
        update["rendered"] = result.rendered
        update["failed"] = [f"第{o.number}讲: {o.message}" for o in result.failed]
    elif state is not None and state.is_completed() and run is not None:
        update["failed"] = _lecture_failures(run.id)
    elif state is not None:
        update["failed"] = [f"course run {state.name}: {state.message or ''}".strip()]
    return base.model_copy(update=update)


def _wait(ids: dict[str, UUID], timeout_s: float, poll_s: float) -> dict[str, FlowRun]:
    """Poll the server until every run is final or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    runs: dict[str, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while True:
            runs = {name: client.read_flow_run(i) for name, i in ids.items()}
            if all(r.state is not None and r.state.is_final() for r in runs.values()):
                return runs
            if time.monotonic() > deadline:
                return runs
            time.sleep(poll_s)


@flow(name="batch", flow_run_name=_run_name, log_prints=True)
def batch_flow(inbox: str, store: str, profile: str = DEFAULT_PROFILE,
               work_dir: str | None = None, course_deployment: str | None = "auto",
               timeout_s: float = 12 * 3600, poll_s: float = 5.0, force: bool = False,
               raw_qc: bool = True, hash_mode: HashMode = "full",
               qc_deployment: str | None = None) -> BatchOutcome:
    """Run every ready submission of ``inbox`` (a folder or ``s3://`` prefix) into ``store``.

    ``course_deployment``: ``"auto"`` uses ``course/course`` when the server has it, a name
    uses that deployment, None runs the courses here as subflows.
    """
    log = get_run_logger()
    load_profile(profile)
    work = work_root(work_dir)
    stage = work / "inbox" / stage_name(inbox)
    remote = not isinstance(open_store(inbox), LocalStore)
    submissions = scan_inbox_task(inbox, stage=stage)
    deployment = course_deployment
    if deployment == "auto":
        deployment = COURSE_DEPLOYMENT if _deployment_exists(COURSE_DEPLOYMENT) else None
    mode: Literal["deployment", "subflow"] = "deployment" if deployment else "subflow"
    for sub in submissions:
        if sub.status != "ready":
            log.warning("skipping %s (%s): %s", sub.name, sub.status, sub.reason)
    ready = [s for s in submissions if s.status == "ready" and s.course_file]
    log.info("%d submission(s), %d ready; running them as %ss", len(submissions), len(ready),
             mode)

    def params(sub: Submission) -> dict[str, object]:
        return {"course_file": sub.course_file, "store": store, "profile": profile,
                "work_dir": work_dir, "force": force, "raw_qc": raw_qc,
                "hash_mode": hash_mode, "qc_deployment": qc_deployment,
                "inbox": inbox if remote else None}

    def local_course(sub: Submission) -> Path:
        assert sub.course_file is not None
        return stage / sub.course_file if remote else Path(sub.course_file)

    outcomes: dict[str, SubmissionOutcome] = {
        s.name: SubmissionOutcome(name=s.name, status=s.status, reason=s.reason,
                                  course=s.course) for s in submissions}
    if deployment:
        from prefect.deployments import run_deployment

        ids: dict[str, UUID] = {}
        for sub in ready:
            run = run_deployment(  # idempotent: a retried batch run starts no second copy
                deployment, parameters=params(sub), timeout=0, as_subflow=True,
                flow_run_name=f"course · {sub.name}",
                idempotency_key=f"{flow_run.get_id()}:{sub.name}")
            assert isinstance(run, FlowRun)
            ids[sub.name] = run.id
            outcomes[sub.name] = outcomes[sub.name].model_copy(update={"flow_run": run.name})
            log.info("%s → flow run %s", sub.name, run.name)
        runs = _wait(ids, timeout_s, poll_s)
        for sub in ready:
            run = runs[sub.name]
            state = run.state
            if state is not None and not state.is_final():
                log.error("%s: course run %s still %s after %.0f s (worker lost?); rerun the "
                          "batch: finished lectures are skipped", sub.name, run.name,
                          state.name, timeout_s)
            outcomes[sub.name] = _outcome(outcomes[sub.name], state, local_course(sub), store,
                                          run)
    else:
        for sub in ready:
            p = params(sub)
            state = course_flow(**p, return_state=True)  # type: ignore[arg-type]
            outcomes[sub.name] = _outcome(outcomes[sub.name], state, local_course(sub), store,
                                          None)

    result = BatchOutcome(inbox=inbox, store=store, mode=mode,
                          submissions=[outcomes[s.name] for s in submissions])
    create_table_artifact(
        key="batch-summary",
        table=[{"submission": s.name, "course": s.course or "-", "status": s.status,
                "state": s.state or "-", "published": f"{s.published}/{s.lectures}",
                "rendered": "-" if s.rendered is None else str(s.rendered),
                "why": "; ".join(s.failed) or s.reason} for s in result.submissions],
        description=f"batch of {inbox}: {len(result.ran)} run, "
                    f"{len(result.submissions) - len(result.ran)} skipped")
    waiting = [s for s in result.submissions if s.status != "ready"]
    failed = [s for s in result.ran if s.failed or s.published < s.lectures]
    create_markdown_artifact(
        key="batch-report",
        markdown="\n".join(
            [f"# Batch {inbox} → {store}", "",
             f"{len(result.ran)} course(s) run ({mode}s), {len(waiting)} skipped.", ""]
            + (["## Failed", ""] + [f"- **{s.name}**: {'; '.join(s.failed) or 'incomplete'}"
                                    for s in failed] + [""] if failed else [])
            + (["## Not ready (skipped)", ""] + [f"- **{s.name}** ({s.status}): {s.reason}"
                                                 for s in waiting] if waiting else [])) + "\n",
        description=f"{len(failed)} course(s) with failures, {len(waiting)} not ready")
    return result
