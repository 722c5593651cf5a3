"""Full QC as flows of its own.

``qc``: one media file, so it can be routed to the ``gpu`` work pool. The lecture flow runs
QC in-process by default; given ``qc_deployment`` (``qc/qc-gpu`` in prefect.yaml) it asks
this flow to run there instead. Paths, not frames, cross the wire: the file must be readable
by the GPU worker (a shared volume in infra/), and the report comes back as files
(``json_out``, ``html_out``) beside it.

``qc-batch``: every recording and lecture under some folders (a delivery stick), a report
each and a summary, each course folder judged as a course with ``stick`` (tasks/qc_batch.py,
tasks/stick_qc.py); ``courseware qc STICK/ --out DIR`` and the ``qc-batch`` deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from courseware.errors import StoreError
from courseware.report import check_from_dict
from encoder_profiles import DEFAULT_PROFILE, load_profile
from tasks.qc_batch import BatchQc, FileOutcome


def _run_name() -> str:
    params = flow_run.parameters
    return f"qc · {params.get('lecture') or Path(params['path']).name}"


@flow(name="qc", flow_run_name=_run_name, log_prints=True)
def qc_flow(path: str, json_out: str, html_out: str | None = None,
            profile: str = DEFAULT_PROFILE, lecture: str | None = None,
            gpu: bool | None = None, cameras: list[dict[str, Any]] | None = None,
            name: str | None = None, render_notes: list[str] | None = None,
            span: list[float] | None = None,
            source_checks: list[dict[str, Any]] | None = None, raw: bool = False,
            slides_scale: float | None = None) -> str:
    """QC ``path``; write the contract JSON to ``json_out`` (and HTML to ``html_out``).
    ``cameras``: the render's camera spans (start_s, end_s, regions) for V3 camera match.
    ``name``: what the report calls the file (default: ``path``). ``render_notes``: the
    render's warnings, kept in the report. ``span``: [from, to], seconds from the file's
    start: the part of it the video and audio checks judge (default: all of it).
    ``source_checks``: checks the render made of its sources (contract JSON), added to the
    report. ``raw``: the file is a raw source, judged for the lecture the render makes of it
    (``tasks.qc.as_source``); ``slides_scale``: it is the slides capture, which the
    lecture's layout shows at this scale. Returns the overall status."""
    from courseware.html_report import render_html
    from qc_metrics.colour import CameraSpan
    from tasks.qc import qc_task

    result = qc_task(Path(path), profile=load_profile(profile), lecture=lecture,
                     thumbnails=html_out is not None, gpu=gpu,
                     cameras=[CameraSpan(float(c["start_s"]), float(c["end_s"]),
                                         {k: tuple(v) for k, v in c["regions"].items()},
                                         authored=tuple(c.get("authored", ())))
                              for c in cameras or ()], name=name,
                     render_notes=render_notes or (),
                     span=(float(span[0]), float(span[1])) if span else None,
                     source_checks=[check_from_dict(c) for c in source_checks or ()],
                     raw=raw, slides_scale=slides_scale)
    result.report.write_json(Path(json_out))
    if html_out is not None:
        Path(html_out).write_text(render_html(result), "utf-8")
    return result.report.status


def _batch_run_name() -> str:
    paths = flow_run.parameters.get("paths") or []
    first = Path(str(paths[0])).name if paths else "?"
    return f"qc-batch · {first}" + (f" + {len(paths) - 1}" if len(paths) > 1 else "")


@flow(name="qc-batch", flow_run_name=_batch_run_name, log_prints=True)
def qc_batch_flow(paths: list[str], out: str, profile: str = DEFAULT_PROFILE,
                  gpu: bool | None = None, force: bool = False, stick: bool = False,
                  finished: bool | None = None, intro: str | None = None,
                  raw: bool = False) -> BatchQc:
    """Full QC of every media file under ``paths`` (folders walked, files as given; see
    :mod:`tasks.qc_batch`): each file's report (JSON and HTML) into the store ``out`` (a
    folder or s3://…) under its relative name, then the summary ``质检汇总.json``/``.html``.
    A file that cannot be read is a row with the reason; the others go on. ``force``: check
    again files whose earlier report is still valid. ``stick``: the paths are a delivery
    stick; each folder of recordings is also judged as a course (tasks/stick_qc.py), its
    course report beside its lectures' reports. ``finished``: the files are finished
    lectures (their title card and credits are not frozen pictures; default: ``stick``).
    ``intro``: the province's intro clip (A3): each finished file's opening is compared with
    it, and with ``stick`` each course's lecture 1 must open with it, no other lecture.
    ``raw``: the files are raw sources (a base's footage), judged for the lectures the
    render makes of them (``tasks.qc.as_source``)."""
    from courseware.batch_html import render_batch_html
    from courseware.store import open_store
    from tasks.qc_batch import (
        SUMMARY_NAME,
        check_one_task,
        course_folders,
        failure,
        find_media,
        folders,
        line,
        report_keys,
    )

    log = get_run_logger()
    store = open_store(out)
    prof = load_profile(profile)
    reading = stick if finished is None else finished
    pictures = None
    if intro is not None:
        from tasks.course_qc import load_intro

        pictures = load_intro(Path(intro), fps=prof.delivery.fps)
    found, other = find_media([Path(p) for p in paths])
    where = course_folders(found, other) if stick else None
    keys = report_keys([f.name for f in found])
    log.info("%d media file(s) to check%s", len(found),
             f", {len(other)} other file(s) passed over" if other else "")
    results: list[FileOutcome] = []
    for item in found:
        try:
            done = check_one_task.with_options(task_run_name=f"qc · {item.name}")(
                item, keys=(keys[item.name] + ".json", keys[item.name] + ".html"),
                store=store, profile=prof, gpu=gpu, force=force, finished=reading,
                intro=pictures, raw=raw)
        except StoreError:
            raise           # the output is unwritable: every file would fail the same way
        except Exception as exc:   # a fault of this tool (logged by the task): the rest go on
            done = failure(item.name, exc)
        results.append(done)
        print(line(done))
    courses = None
    if stick:
        from tasks.stick_qc import course_reports

        assert where is not None
        courses = course_reports(results, found, other, where, store=store, profile=prof,
                                 intro=Path(intro).name if intro is not None else None)
    summary = BatchQc(profile=prof.name, sources=[str(p) for p in paths], out=out,
                      files=results, folders=folders(results, courses, where),
                      skipped=[o.name for o in other])
    store.put_bytes(render_batch_html(summary).encode("utf-8"), SUMMARY_NAME + ".html")
    store.put_bytes((summary.model_dump_json(indent=2) + "\n").encode("utf-8"),
                    SUMMARY_NAME + ".json")
    create_table_artifact(
        key="qc-batch",
        table=[{"file": f.file, "status": f.status,
                "duration": "" if f.duration_s is None else f"{f.duration_s:.1f} s",
                "failed": ", ".join(f"{c.clause} {c.id}" for c in f.failed),
                "why": f.error or "; ".join(c.message for c in f.failed[:2])}
               for f in results],
        description=f"QC of {len(results)} file(s): "
                    + ", ".join(f"{n} {s}" for s, n in summary.counts().items() if n))
    if courses:
        create_table_artifact(
            key="qc-batch-courses",
            table=[{"course": f.folder or ".", "status": f.status or "-",
                    "files": str(f.files), "total": f"{f.duration_s / 3600:.2f} h",
                    "failed": "; ".join(f"{c.clause} {c.id}: {c.message}" for c in f.failed)}
                   for f in summary.folders],
            description=f"{len(courses)} course folder(s) judged as courses")
    return summary
