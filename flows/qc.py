"""Full QC of one media file as its own flow, so it can be routed to the ``gpu`` work pool.

The lecture flow runs QC in-process by default; given ``qc_deployment`` (``qc/qc-gpu`` in
prefect.yaml) it asks this flow to run there instead. Paths, not frames, cross the wire:
the file must be readable by the GPU worker (a shared volume in infra/), and the report
comes back as files (``json_out``, ``html_out``) beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from courseware.report import Check, Event, Report
from encoder_profiles import DEFAULT_PROFILE, load_profile


def check_from_dict(raw: dict[str, Any]) -> Check:
    """A Check back from its contract JSON."""
    item = dict(raw)
    events = tuple(Event(**e) for e in item.pop("events", []))
    return Check(**item, events=events)


def report_from_dict(data: dict[str, Any]) -> Report:
    """A Report back from its contract JSON (shared/DESIGN.md)."""
    checks = [check_from_dict(raw) for raw in data.get("checks", [])]
    known = {"file", "profile", "status", "duration_s", "backend", "checks"}
    return Report(file=str(data["file"]), profile=str(data["profile"]),
                  duration_s=float(data.get("duration_s") or 0.0),
                  checks=tuple(checks), backend=str(data.get("backend", "numpy")),
                  extra={k: v for k, v in data.items() if k not in known})


def _run_name() -> str:
    params = flow_run.parameters
    return f"qc · {params.get('lecture') or Path(params['path']).name}"


@flow(name="qc", flow_run_name=_run_name, log_prints=True)
def qc_flow(path: str, json_out: str, html_out: str | None = None,
            profile: str = DEFAULT_PROFILE, lecture: str | None = None,
            gpu: bool | None = None, cameras: list[dict[str, Any]] | None = None,
            name: str | None = None, render_notes: list[str] | None = None,
            span: list[float] | None = None,
            source_checks: list[dict[str, Any]] | None = None) -> str:
    """QC ``path``; write the contract JSON to ``json_out`` (and HTML to ``html_out``).
    ``cameras``: the render's camera spans (start_s, end_s, regions) for V3 camera match.
    ``name``: what the report calls the file (default: ``path``). ``render_notes``: the
    render's warnings, kept in the report. ``span``: [from, to], seconds from the file's
    start: the part of it the video and audio checks judge (default: all of it).
    ``source_checks``: checks the render made of its sources (contract JSON), added to the
    report. Returns the overall status."""
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
                     source_checks=[check_from_dict(c) for c in source_checks or ()])
    result.report.write_json(Path(json_out))
    if html_out is not None:
        Path(html_out).write_text(render_html(result), "utf-8")
    return result.report.status
