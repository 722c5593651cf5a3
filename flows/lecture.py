"""One lecture: probe → [done? skip] → raw QC → sync → analyse → render → verify → QC → publish.

- Skips finished work: the cache key (tasks/cache.py) is compared with the done-marker
  beside the published lecture; a match with valid outputs returns ``rendered=False``.
- Raw-source QC is an early warning for the base: reported (table + markdown artifacts),
  never a reason to fail the lecture.
- ``verify`` (format, D2–D10) is the gate that blocks publishing; the full QC verdict of the
  rendered file is reported and published beside it (``.qc.json``, ``.qc.html``).
- Bad input (PipelineError: course file, missing or corrupt source, font) fails at once; only
  storage faults (StoreError / OSError) are retried, with backoff.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict

from courseware.course import Course, Lecture, load_course
from courseware.errors import PipelineError
from courseware.report import Check, Report, report_from_dict
from courseware.store import open_store
from encoder_profiles import DEFAULT_PROFILE, Profile, load_profile
from qc_metrics.colour import CameraSpan
from qc_metrics.frames import timecode
from qc_metrics.layout import SLIDES
from tasks.analyse_video import analyse_video_task
from tasks.cache import (
    STORAGE_RETRIES,
    CacheKey,
    DoneMarker,
    HashMode,
    PublishedObject,
    cache_key_task,
    check_done_task,
    done_key,
    now_iso,
    qc_version,
    read_marker_task,
    sha256_file,
    write_marker_task,
)
from tasks.plan import slides_scale
from tasks.probe import LectureInputs, begin_at, probe_task
from tasks.progress import artifact_progress
from tasks.publish import lecture_key, publish_task
from tasks.render import analyse_task, main_duration, render_task
from tasks.sync import sync_task
from tasks.verify import verify_task


def work_root(work_dir: str | None) -> Path:
    """Scratch folder: the parameter, else $COURSEWARE_WORK (a volume the workers share in
    infra/), else the system temp folder."""
    chosen = work_dir or os.environ.get("COURSEWARE_WORK")
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / "courseware-work"


#: the global concurrency limit renders take a slot of (sized to cores by `courseware serve`)
RENDER_LIMIT = "render"


class LectureOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    status: str  # the format (verify) verdict: pass | warn | fail; error when it failed
    duration_s: float = 0.0
    key: str | None = None
    video_url: str | None = None
    report_url: str | None = None
    html_url: str | None = None
    message: str = ""
    rendered: bool = False  # False: skipped, the published lecture was valid
    qc_status: str | None = None  # the full QC verdict of the rendered file (reported)
    raw_qc: dict[str, str] = {}  # role → QC verdict of each raw source
    #: what the render found in the sources and made do with (B2 below HD, HDR, a one-channel
    #: microphone), for the base to fix next time
    warnings: list[str] = []


_RETRY = STORAGE_RETRIES
publish_with_retries = publish_task.with_options(**_RETRY)  # type: ignore[arg-type]


def _put_file(local: Path, key: str, store: str) -> str:
    return open_store(store).put_file(local, key)


put_file_task = task(name="publish-file", cache_policy=NO_CACHE, **_RETRY)(_put_file)  # type: ignore[call-overload]
marker_with_retries = write_marker_task.with_options(**_RETRY)  # type: ignore[arg-type]


def _run_name() -> str:
    params = flow_run.parameters
    return f"{Path(params['course_file']).parent.name} · 第{params['number']}讲"


def _slug(course: Course) -> str:
    """Artifact keys allow [a-z0-9-] only: a short hash of the course stands for its name."""
    return hashlib.sha1(course.info.name.encode("utf-8")).hexdigest()[:8]


def _rows(report: Report) -> list[dict[str, str]]:
    return [{"check": c.id, "clause": c.clause, "status": c.status,
             "measured": "" if c.measured is None else f"{c.measured} {c.unit}".strip(),
             "message": c.message} for c in report.checks]


def _qc(path: Path, *, profile: str, prof: Profile, lecture: str, json_out: Path,
        html_out: Path | None, deployment: str | None,
        cameras: Sequence[CameraSpan] = (), name: str | None = None,
        render_notes: Sequence[str] = (), span: tuple[float, float] | None = None,
        source_checks: Sequence[Check] = (), raw: bool = False,
        slides_scale: float | None = None) -> Report:
    """Full QC of ``path``: in this process, or on the ``gpu`` pool through a deployment.
    ``cameras``: where the render put each camera (V3 camera match); ``name``: what the
    report calls the file (the published key, not the working copy that is deleted);
    ``render_notes``: the render's warnings, kept in the report; ``span``: the part of the
    file (seconds from its start) the video and audio checks judge (None: all of it);
    ``source_checks``: what the render measured of its sources (S1: a clipped microphone);
    ``raw``: ``path`` is a raw source (``tasks.qc.as_source``); ``slides_scale``: it is the
    slides capture, shown at this scale (its text judged at that size, B3)."""
    if deployment:
        from prefect.deployments import run_deployment

        run = run_deployment(deployment, parameters={
            "path": str(path), "json_out": str(json_out),
            "html_out": str(html_out) if html_out else None, "profile": profile,
            "lecture": lecture, "cameras": [asdict(c) for c in cameras], "name": name,
            "render_notes": list(render_notes),
            "span": list(span) if span is not None else None,
            "source_checks": [asdict(c) for c in source_checks], "raw": raw,
            "slides_scale": slides_scale},
            as_subflow=True)
        assert isinstance(run, FlowRun)
        if run.state is None or not run.state.is_completed():
            raise PipelineError(f"QC of {path} (lecture {lecture}) on {deployment} ended "
                                f"{run.state.name if run.state else 'without a state'}")
        return report_from_dict(json.loads(json_out.read_text("utf-8")))
    from courseware.html_report import render_html
    from tasks.qc import qc_task

    result = qc_task(path, profile=prof, lecture=lecture, thumbnails=html_out is not None,
                     cameras=cameras, name=name, render_notes=render_notes, span=span,
                     source_checks=source_checks, raw=raw, slides_scale=slides_scale)
    result.report.write_json(json_out)
    if html_out is not None:
        html_out.write_text(render_html(result), "utf-8")
    return result.report


#: a raw file whose part in the lecture is all of it but this much is checked whole
WHOLE_FILE_S = 2.0


class RawFile(NamedTuple):
    """A raw file as the base has it, and the part of it the lecture uses."""

    name: str       #: in the reports: the source's role, ``teacher-2`` for a second part
    path: Path
    #: (from, to), seconds from the file's start; None: all of it (within WHOLE_FILE_S)
    span: tuple[float, float] | None
    #: no part of the file is in the lecture (a part after its end, a head before its start)
    unused: bool = False
    role: str = ""  #: the source it is part of (``teacher``)


def raw_files(inputs: LectureInputs) -> list[RawFile]:
    """Every raw file of the lecture (each part of a recording split into several), and
    the part of it that goes into the lecture, by the sources' offsets (after the sync and
    the course file's start) and the lecture's length."""
    length = main_duration(inputs)
    out = []
    for role, src in inputs.sources.items():
        files = src.parts or (src.path,)
        starts = src.part_starts or (0.0,)
        used = (max(0.0, src.offset_s), src.offset_s + src.clock * length)
        for k, (path, a, b) in enumerate(zip(files, starts, [*starts[1:], src.duration_s],
                                             strict=True), 1):
            lo, hi = max(used[0], a) - a, min(used[1], b) - a
            name = role if len(files) < 2 else f"{role}-{k}"
            whole = lo <= WHOLE_FILE_S and hi >= b - a - WHOLE_FILE_S
            out.append(RawFile(name, path, None if whole or hi <= lo else (lo, hi),
                               unused=hi <= lo, role=role))
    return out


def _raw_qc(course: Course, inputs: LectureInputs, *, profile: str, prof: Profile, work: Path,
            deployment: str | None) -> dict[str, str]:
    """QC of each raw source, of the part that goes into the lecture (the setting up before
    it and what ran on after it are not judged): early warnings for the base; never fails
    the lecture."""
    log = get_run_logger()
    verdicts: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    lines: list[str] = []
    scale = slides_scale(course.lecture(inputs.number), inputs, prof)
    for role, path, span, unused, source in raw_files(inputs):
        if unused:
            lines.append(f"- **{role}** `{path.name}`: no part of it is in the lecture (it "
                         "lies before the lecture's start or after its end): not checked")
            continue
        part = ("" if span is None else f" ({timecode(span[0])}–{timecode(span[1])}, the "
                "part in the lecture)")
        try:
            report = _qc(path, profile=profile, prof=prof, lecture=inputs.label,
                         json_out=work / f"raw{inputs.number:02d}-{role}.qc.json",
                         html_out=None, deployment=deployment, span=span, raw=True,
                         slides_scale=scale if source == SLIDES else None)
        except Exception as exc:  # reported, never a reason to stop the lecture
            log.warning("raw-source QC of %s (%s) could not run: %s", path, role, exc)
            verdicts[role] = "error"
            lines.append(f"- **{role}** `{path.name}`{part}: QC could not run ({exc})")
            continue
        verdicts[role] = report.status
        rows += [{"source": role, **row} for row in _rows(report)]
        bad = [c for c in report.checks if c.status in ("fail", "warn")]
        lines.append(f"- **{role}** `{path.name}`{part}: {report.status.upper()}")
        for c in bad:
            first = f" (first at {c.events[0].start_s:.1f} s)" if c.events else ""
            lines.append(f"  - {c.status}: `{c.id}` ({c.clause}) {c.message}{first}")
    slug = f"raw-qc-{_slug(course)}-l{inputs.number}"
    if rows:
        create_table_artifact(key=slug, table=rows,
                              description=f"raw-source QC of 第{inputs.number}讲")
    create_markdown_artifact(
        key=f"{slug}-summary",
        markdown=(f"# Raw sources of 第{inputs.number}讲 《{course.lecture(inputs.number).title}》"
                  "\n\nEarly warnings for the training base; the lecture is still "
                  "rendered.\n\n" + "\n".join(lines) + "\n"),
        description=f"raw-source QC of 第{inputs.number}讲: "
                    + ", ".join(f"{r} {v}" for r, v in verdicts.items()))
    return verdicts


def _skipped(lecture: Lecture, marker: DoneMarker, store: str) -> LectureOutcome:
    target = open_store(store)
    out = marker.outputs
    return LectureOutcome(
        number=lecture.number, title=lecture.title, status=marker.status,
        duration_s=marker.duration_s, key=out["video"].key,
        video_url=target.url(out["video"].key),
        report_url=target.url(out["qc_json"].key) if "qc_json" in out else None,
        html_url=target.url(out["qc_html"].key) if "qc_html" in out else None,
        rendered=False, qc_status=marker.qc_status, message="already published; skipped",
        warnings=list(marker.warnings))


@flow(name="lecture", flow_run_name=_run_name, log_prints=True)
def lecture_flow(course_file: str, number: int, store: str, profile: str = DEFAULT_PROFILE,
                 work_dir: str | None = None, force: bool = False, raw_qc: bool = True,
                 hash_mode: HashMode = "full",
                 qc_deployment: str | None = None) -> LectureOutcome:
    log = get_run_logger()
    course = load_course(Path(course_file))
    lecture = course.lecture(number)
    prof = load_profile(profile)
    work = work_root(work_dir)
    work = work / hashlib.sha1(str(course.path).encode()).hexdigest()[:12]
    work.mkdir(parents=True, exist_ok=True)
    inputs = probe_task(course, lecture)  # a missing or broken source fails here, at once

    key: CacheKey = cache_key_task(course, lecture, profile=prof, mode=hash_mode)
    video_key = lecture_key(course, lecture)
    target = open_store(store)
    marker = read_marker_task(target, video_key)
    why = "forced" if force else check_done_task(target, marker, key, profile=prof)
    if why is None and marker is not None:
        log.info("第%d讲 is published and valid (key %s…): nothing to do", number, key.key[:12])
        return _skipped(lecture, marker, store)
    log.info("第%d讲 will be rendered: %s", number, why)

    if lecture.sources.offsets:
        log.info("using the offsets from the course file: %s", lecture.sources.offsets)
    else:
        inputs = sync_task(inputs)
    inputs = begin_at(inputs, lecture.start)   # the course file's start, on that timeline
    verdicts = (_raw_qc(course, inputs, profile=profile, prof=prof, work=work,
                        deployment=qc_deployment) if raw_qc else {})
    # the two analysis passes read different streams and mostly run in C: side by side
    audio_pass = analyse_task.submit(inputs, prof)  # S1/S3/S4: loudness, true peak, hum
    video_pass = analyse_video_task.submit(inputs, prof)  # V2/V3, interlacing
    audio, video = audio_pass.result(), video_pass.result()
    for warning in video.warnings:
        log.warning(warning)
    peak = audio.true_peak_dbfs
    log.info("programme audio: %s, true peak %s dBFS, gain %+.1f dB, SNR %s dB, noise "
             "lowered %.1f dB", audio.role, f"{peak:.1f}" if peak is not None else "-",
             audio.gain_db, f"{audio.snr_db:.1f}" if audio.snr_db is not None else "-",
             audio.noise_reduction_db)
    progress = artifact_progress(f"render of 第{number}讲",
                                 key=f"render-{_slug(course)}-l{number}")
    assert progress is not None                 # in this flow's run
    with concurrency(RENDER_LIMIT, occupy=1, strict=False):
        rendered = render_task(course, inputs, audio=audio, profile=prof, out_dir=work,
                               video=video, progress=progress)
    progress(1.0)

    report = verify_task(rendered.path, profile=prof, lecture=inputs.label)  # the gate
    create_table_artifact(
        key=f"qc-{_slug(course)}-l{number}", table=_rows(report),
        description=f"format check of 第{number}讲 {lecture.title}: {report.status}")
    if report.status == "fail":
        failed = "; ".join(f"{c.id}: {c.message}" for c in report.failed())
        raise PipelineError(
            f"lecture {inputs.label}: the rendered file {rendered.path} does not meet the "
            f"profile ({failed}); it was kept for inspection and not published")

    stem = video_key.removesuffix(".mp4")
    json_local = work / f"lecture{number:02d}.qc.json"
    html_local = work / f"lecture{number:02d}.qc.html"
    qc_status: str
    try:
        full = _qc(rendered.path, profile=profile, prof=prof, lecture=inputs.label,
                   json_out=json_local, html_out=html_local, deployment=qc_deployment,
                   cameras=rendered.cameras, name=video_key, render_notes=rendered.warnings,
                   source_checks=rendered.checks)
        qc_status = full.status
        create_table_artifact(
            key=f"qc-full-{_slug(course)}-l{number}", table=_rows(full),
            description=f"full QC of 第{number}讲 {lecture.title}: {full.status} "
                        f"(backend {full.backend})")
    except Exception as exc:  # QC verdicts are reported, not a gate: publish the format report
        log.warning("QC of the rendered 第%d讲 could not run (%s); publishing the format "
                    "report only", number, exc)
        full, qc_status = report, "error"
        html_local.unlink(missing_ok=True)

    if marker is not None:  # a done-marker only ever describes the files beside it
        target.delete(done_key(video_key))
    outputs: dict[str, PublishedObject] = {}
    html_url = None
    if html_local.is_file():
        html_url = put_file_task(html_local, f"{stem}.qc.html", store)
        outputs["qc_html"] = PublishedObject(key=f"{stem}.qc.html", size=html_local.stat().st_size,
                                             sha256=sha256_file(html_local))
    video_size, video_sha = rendered.path.stat().st_size, sha256_file(rendered.path)
    urls = publish_with_retries(course, lecture, video=rendered.path, report=full, store=store)
    outputs["qc_json"] = PublishedObject(key=f"{stem}.qc.json",
                                         sha256=target.checksum(f"{stem}.qc.json"))
    outputs["video"] = PublishedObject(key=urls["key"], size=video_size, sha256=video_sha)
    marker_with_retries(target, video_key, DoneMarker(
        key=key.key, parts=key.parts, number=number, title=lecture.title, status=report.status,
        qc_status=qc_status, duration_s=rendered.duration_s, outputs=outputs,
        qc_version=qc_version(), finished_at=now_iso(),
        warnings=rendered.warnings))  # written LAST
    rendered.path.unlink(missing_ok=True)
    return LectureOutcome(number=number, title=lecture.title, status=report.status,
                          duration_s=rendered.duration_s, key=urls["key"],
                          video_url=urls["video"], report_url=urls["report"], html_url=html_url,
                          rendered=True, qc_status=qc_status, raw_qc=verdicts,
                          warnings=list(rendered.warnings))
