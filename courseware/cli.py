"""The ``courseware`` command: thin; gathers parameters, calls the work, reports.

Errors the pipeline raises on purpose (PipelineError) end as one clear message on stderr
and exit status 2; ``verify``, ``qc`` and ``check-course`` exit 1 when the file or course
fails the profile. ``run`` and ``demo`` exit on the lectures; the course report's verdict is
printed (the demo's few-second lectures fail A2 by design).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from courseware.errors import PipelineError
from encoder_profiles import DEFAULT_PROFILE

if TYPE_CHECKING:
    from flows.course import CourseOutcome
    from qc_metrics.colour import CameraSpan

# Quiet, local defaults for an ephemeral Prefect (a real server is used when
# PREFECT_API_URL is set by the operator); no usage data sent from a client either (the
# SDK's own telemetry, and its notice on a user's terminal).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")

profile_option = click.option("--profile", default=DEFAULT_PROFILE, show_default=True,
                              help="delivery profile: a name in encoder_profiles/ or a path")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="courseware-pipeline")
def cli() -> None:
    """Turn raw lecture recordings into compliant courseware (Shaanxi 2024 specification)."""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lectures", default=2, show_default=True, help="number of lectures")
@click.option("--seconds", default=12.0, show_default=True, help="length of each lecture")
@click.option("--seed", default=0, show_default=True)
def sample(directory: Path, lectures: int, seconds: float, seed: int) -> None:
    """Generate a raw course (slides + teacher camera + course.yaml) to play with."""
    from courseware.sample import make_sample

    course_file = make_sample(directory, lectures=lectures, seconds=seconds, seed=seed)
    click.echo(f"sample course written: {course_file}")


@cli.command()
@click.argument("course_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "store", default="out", show_default=True,
              help="where to publish: a folder (file:// URI accepted)")
@click.option("--work", "work_dir", default=None, help="scratch folder for renders")
@profile_option
def run(course_file: Path, store: str, work_dir: str | None, profile: str) -> None:
    """Master a course: every lecture rendered, verified and published."""
    outcome = _run_course(course_file, store, profile, work_dir)
    _print_outcome(outcome)
    if outcome.failed:
        sys.exit(1)


@cli.command()
@click.argument("course_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lecture", "numbers", type=int, multiple=True, metavar="N",
              help="this lecture only (repeatable; default: every lecture)")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the plans (JSON) here")
@profile_option
def plan(course_file: Path, numbers: tuple[int, ...], json_out: Path | None,
         profile: str) -> None:
    """What each lecture will be, before rendering: its sources in step, where it begins
    and ends, the layout over time, and what the render will say (a camera that starts or
    stops apart from the others, what is left out, and the course-file setting to change
    it); for the whole course, the lecture count, lengths and hours (A1/A2) as the course
    report will judge them. Reads only the sources' sound."""
    import json
    from dataclasses import asdict

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from qc_metrics.frames import timecode
    from tasks.plan import course_length_checks, plan_lecture

    course = load_course(course_file)
    known = [lec.number for lec in course.lectures]
    if missing := [n for n in numbers if n not in known]:
        raise click.BadParameter(f"no lecture {missing[0]} in {course_file} (it has "
                                 f"{', '.join(map(str, known))})", param_hint="--lecture")
    prof = load_profile(profile)
    plans = [plan_lecture(course, lec, prof) for lec in course.lectures
             if not numbers or lec.number in numbers]
    for p in plans:
        begins = "" if p.start_s == 0 else f", from {p.start_s:+.1f} s on the sources' timeline"
        click.echo(f"第{p.number}讲 《{p.title}》: {timecode(p.duration_s)}{begins} "
                   f"(the film {timecode(p.film_s)}, its cards and intro included)")
        for s in p.sources:
            size = f"{s.width}×{s.height}" if s.width else "sound only"
            rate = f" {s.fps:g} fps" if s.fps else ""
            files = s.files[0] + (f" + {len(s.files) - 1} part(s)" if len(s.files) > 1 else "")
            sound = (" (programme sound)" if s.programme else " (sound matched)"
                     if s.matched else "" if not s.sound else " (sound not matched)")
            click.echo(f"  {s.role:<8} {files}  {size}{rate}  offset {s.offset_s:+.3f} s"
                       f"{sound}  {timecode(s.begins_s)}–{timecode(s.ends_s)}")
        click.echo("  layout   " + ", ".join(f"{timecode(at)} {name}" for at, name in p.layouts))
        if p.sound_snr_db is not None:
            over = ("digital silence in its pauses" if p.sound_snr_db >= 999.0 else
                    f"speech about {p.sound_snr_db:.0f} dB over the room's noise")
            lowered = (f"; the render lowers the noise by {p.noise_reduction_db:.0f} dB"
                       if p.noise_reduction_db > 0 else "")
            click.echo(f"  sound    {over} (S2 wants {prof.audio.snr_min_db:g} dB){lowered}")
        for note in p.notes:
            click.echo(f"  note: {note}")
    checks = course_length_checks(course, plans, prof)
    if checks:
        click.echo("course (A1/A2, as the course report will judge the published lectures):")
        for c in checks:
            click.echo(f"  {c.status.upper():<4} {c.id} ({c.clause}): {c.message}")
    if json_out is not None:
        json_out.write_text(json.dumps({"lectures": [p.model_dump() for p in plans],
                                        "course_checks": [asdict(c) for c in checks]},
                                       ensure_ascii=False, indent=2), "utf-8")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the QC report (contract JSON) here")
@profile_option
def verify(file: Path, json_out: Path | None, profile: str) -> None:
    """Check a media file against the profile's format clauses (D2–D10)."""
    from encoder_profiles import load_profile
    from tasks.verify import verify_file

    report = verify_file(file, profile=load_profile(profile))
    click.echo(report.table())
    if json_out is not None:
        report.write_json(json_out)
    if report.status == "fail":
        sys.exit(1)


@cli.command()
@click.argument("course_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "to", required=True,
              help="where to hand in: s3://bucket/prefix[?endpoint=URL] or a folder")
def submit(course_file: Path, to: str) -> None:
    """Hand a course in: check every file it names, upload them, then write READY."""
    from courseware.submit import submit_course

    result = submit_course(course_file, to)
    click.echo(f"{result.course} → {result.folder}")
    click.echo(f"  {len(result.uploaded)} file(s) uploaded, {len(result.skipped)} already there")
    click.echo(f"  READY: {result.ready}")


class Seconds(click.ParamType):
    """A time in a file: seconds (``754.5``) or a timecode (``12:34.5``, ``01:02:03``)."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            parts = []
        if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(
                p >= 60 for p in parts[1:]):
            self.fail(f"{text!r} is not a time: give seconds (754.5) or a timecode "
                      "(12:34.5, 01:02:03)", param, ctx)
        total = 0.0
        for p in parts:
            total = total * 60 + p
        return total


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "store", metavar="DIR|S3", help="several files or folders (a delivery "
              "stick): write each "
              "file's report (JSON, HTML) here, under its own name, and the summary "
              "质检汇总.html / .json (a folder or s3://bucket/prefix)")
@click.option("--force", is_flag=True, help="with --out: check again files whose earlier "
              "report there is still valid (same file, profile and QC code)")
@click.option("--stick", is_flag=True, help="with --out: the folders are a delivery stick; "
              "also judge each folder of lectures as a course (A1/A2, A6, D1, D4/D5, D11, "
              "Q1/Q3, S4), a course report each")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the QC report (contract JSON) here")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write a self-contained HTML report (charts, thumbnails) here")
@click.option("--cpu", is_flag=True, help="run the metrics on the CPU even if a GPU is usable")
@click.option("--layout", help="the file shows its cameras in this layout throughout (a name "
              "from encoder_profiles/layouts.yaml): judge each camera on its own, compare the "
              "cameras' colours (V3)")
@click.option("--finished", is_flag=True, help="finished lectures (not raw footage): a still "
              "picture at the very start up to the title card's length is the title card (A4), "
              "at the very end the credits (A5), not a frozen picture (--stick implies it)")
@click.option("--intro", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the province's intro clip (统一片头, A3); implies --finished: where a "
              "file opens with it, its pictures are the province's and the title card follows "
              "it; with --stick, each course's lecture 1 must open with it, no other lecture")
@click.option("--raw", is_flag=True, help="raw footage (a camera's or recorder's original, "
              "to be rendered): the format clauses the render meets whatever the source "
              "(codec, bit rate, frame rate, scan, sound format) and the sound's peak level "
              "(S1) are not the source's (skipped, their measurement kept); a picture smaller "
              "than the lecture's or of another shape, and what the render corrects (noise, a "
              "cast, hum), are warnings")
@click.option("--authored", multiple=True, metavar="SOURCE",
              help="with --layout: this source is a digital capture (slides straight from a "
                   "computer), not a camera: its colours and slide changes are the author's "
                   "(repeatable)")
@click.option("--start", type=Seconds(), help="check the pictures and sound from here on "
              "(seconds or a timecode from the file's start, as a player shows it)")
@click.option("--end", type=Seconds(), help="… up to here (the format checks are always of "
              "the whole file)")
@profile_option
def qc(files: tuple[Path, ...], store: str | None, force: bool, stick: bool,
       finished: bool, intro: Path | None, raw: bool, json_out: Path | None,
       html_out: Path | None, cpu: bool, layout: str | None, authored: tuple[str, ...],
       start: float | None, end: float | None, profile: str) -> None:
    """Full QC of a media file: format (D2–D10), video (V1–V4) and audio (S1–S4) clauses.

    Several files or folders (a delivery stick, a base's footage) with --out: every
    recording and lecture in them, a report each and a summary."""
    from courseware.html_report import card_rows, render_html
    from encoder_profiles import load_profile
    from tasks.progress import TerminalProgress
    from tasks.qc import qc_file

    if raw and (finished or stick or intro is not None):
        raise click.BadParameter("a raw source is no finished lecture: not with --finished, "
                                 "--stick or --intro", param_hint="--raw")
    if store is not None or len(files) > 1 or files[0].is_dir():
        _qc_batch(files, store, force=force, stick=stick, finished=finished, intro=intro,
                  raw=raw, cpu=cpu, profile=profile, single={
            "--json": json_out, "--html": html_out, "--layout": layout,
            "--authored": authored, "--start": start, "--end": end})
        return
    if force or stick:
        raise click.BadParameter("only with --out (reports of several files)",
                                 param_hint="--force" if force else "--stick")
    file = files[0]
    if authored and not layout:
        raise click.BadParameter("needs --layout (which region shows it)",
                                 param_hint="--authored")
    cameras = _layout_cameras(file, layout, authored) if layout else None
    span = None
    if start is not None or end is not None:
        span = (start or 0.0, end if end is not None else math.inf)
        if span[1] <= span[0]:
            raise click.BadParameter(f"must come after --start ({span[0]:g} s)",
                                     param_hint="--end")
    prof = load_profile(profile)
    pictures = None
    if intro is not None:
        from tasks.course_qc import load_intro

        pictures = load_intro(intro, fps=prof.delivery.fps)
    shown = TerminalProgress(f"checking {file.name}")
    try:
        result = qc_file(file, profile=prof, thumbnails=html_out is not None,
                         gpu=False if cpu else None, cameras=cameras, span=span,
                         finished=finished or intro is not None, intro=pictures,
                         progress=shown, raw=raw)
    finally:
        shown.clear()
    report = result.report
    click.echo(report.table())
    if where := report.where():
        click.echo(where)
    for label, said in card_rows(report.extra.get("cards")):
        click.echo(f"{label}: {said}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    rate = result.frames / result.elapsed_s if result.elapsed_s > 0 else 0.0
    click.echo(f"backend {report.backend}: {result.frames} frames decoded and checked in "
               f"{result.elapsed_s:.1f} s ({rate:.0f} fps)")
    if json_out is not None:
        report.write_json(json_out)
    if html_out is not None:
        html_out.write_text(render_html(result), "utf-8")
    if report.status == "fail":
        sys.exit(1)


def _qc_batch(paths: tuple[Path, ...], store: str | None, *, force: bool, stick: bool,
              finished: bool, intro: Path | None, raw: bool, cpu: bool, profile: str,
              single: dict[str, object]) -> None:
    """``courseware qc`` of several files or folders: the qc-batch flow, a line per file as
    it is done, the summary's place; exit 2 if a file could not be checked, 1 if one
    failed."""
    from flows.qc import qc_batch_flow
    from tasks.qc_batch import SUMMARY_NAME, line

    given = [name for name, value in single.items() if value]
    if given:
        raise click.BadParameter("is for one file; with several, each file's report goes "
                                 "under --out", param_hint=" / ".join(given))
    if store is None:
        raise click.BadParameter("several files or a folder: give --out DIR (or "
                                 "s3://bucket/prefix) for their reports and the summary",
                                 param_hint="--out")
    result = qc_batch_flow([str(p) for p in paths], store, profile,
                           gpu=False if cpu else None, force=force, stick=stick,
                           finished=finished or stick or intro is not None,
                           intro=str(intro) if intro is not None else None, raw=raw)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    click.echo(f"{len(result.files)} file(s): {counts}"
               + (f"; {len(result.skipped)} other file(s) passed over" if result.skipped
                  else ""))
    for f in result.files:
        if f.status in ("fail", "error"):
            click.echo(line(f))
    for folder in result.folders:
        if folder.status is not None:
            failed = ", ".join(f"{c.clause} {c.id}" for c in folder.failed)
            click.echo(f"course {folder.folder or '.'}: {folder.status.upper()}"
                       + (f"  failed: {failed}" if failed else "") + f"  ({folder.page})")
        elif len(folder.resolutions) > 1:
            click.echo(f"D4: {folder.folder or '.'} mixes sizes {', '.join(folder.resolutions)}"
                       " (one course, one size)")
    click.echo(f"summary: {SUMMARY_NAME}.html / .json in {store}")
    if result.status == "error":
        sys.exit(2)
    if result.status == "fail":
        sys.exit(1)


def _layout_cameras(file: Path, layout: str, authored: tuple[str, ...] = ()
                    ) -> list[CameraSpan]:
    """One span over the whole file: each camera's region of ``layout`` at the file's size;
    ``authored``: sources of the layout that are digital captures."""
    import math

    from courseware.compose import region_px
    from courseware.media import open_media
    from encoder_profiles import load_layout
    from qc_metrics.colour import CameraSpan

    chosen = load_layout(layout)
    with open_media(file) as container:
        if not container.streams.video:
            raise click.BadParameter(f"{file} has no video stream", param_hint="--layout")
        stream = container.streams.video[0]
        width, height = stream.width, stream.height
    unknown = sorted(set(authored) - set(chosen.sources))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not a source of layout {layout} "
                                 f"({', '.join(chosen.sources)})", param_hint="--authored")
    return [CameraSpan(0.0, math.inf, region_px(chosen, width, height), authored=authored)]


@cli.command()
@click.argument("directory", default="demo-course",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--lectures", default=2, show_default=True)
@click.option("--seconds", default=12.0, show_default=True)
@profile_option
def demo(directory: Path, lectures: int, seconds: float, profile: str) -> None:
    """A generated course end to end: sample → course flow → verify every lecture."""
    from courseware.sample import make_sample
    from encoder_profiles import load_profile
    from tasks.course_qc import DURATION_CHECKS
    from tasks.verify import verify_file

    course_file = make_sample(directory / "raw", lectures=lectures, seconds=seconds)
    click.echo(f"1/3 sample course: {course_file}")
    store = directory / "delivery"
    click.echo(f"2/3 course flow (Prefect) → {store}")
    outcome = _run_course(course_file, str(store), profile, str(directory / "work"))
    _print_outcome(outcome)
    if outcome.course_report_failed and set(outcome.course_report_failed) <= set(
            DURATION_CHECKS):
        click.echo(f"  (expected: the sample lectures last {seconds:g} s, not about an hour, so "
                   "the A1/A2 length checks fail; the demo's exit status follows the lectures)")
    click.echo("3/3 verify of every published lecture:")
    worst = 0
    for lec in outcome.lectures:
        if lec.key is None:
            worst = 1
            continue
        report = verify_file(store / lec.key, profile=load_profile(profile))
        click.echo(report.table() + "\n")
        worst = max(worst, int(report.status == "fail"))
    click.echo(f"outputs: {store.resolve()}")
    sys.exit(worst)


@cli.group()
def bank() -> None:
    """The course question bank (Q1–Q3): check a bank, write a template."""


@bank.command("check")
@click.argument("bank_file", metavar="BANK", type=click.Path(dir_okay=False, path_type=Path))
@profile_option
def bank_check(bank_file: Path, profile: str) -> None:
    """Check a bank (CSV/XLSX) for structure, counts and duplicates; exit 1 on any issue."""
    from courseware.bank import issues_table, load_bank, validate_bank
    from encoder_profiles import load_profile

    rules = load_profile(profile)
    loaded = load_bank(bank_file)
    issues = validate_bank(loaded, rules)
    counts = ", ".join(f"{kind} {len(loaded.of_kind(kind))}" for kind in rules.bank.minimums)
    click.echo(f"{bank_file}: {len(loaded.questions)} questions ({counts})")
    if issues:
        click.echo(issues_table(issues))
        click.echo(f"{len(issues)} issue(s)")
        sys.exit(1)
    click.echo("OK: the bank meets Q1–Q3")


@bank.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def bank_template(out: Path) -> None:
    """Write a bank template (.csv or .xlsx): header and one example per question type."""
    from courseware.bank import write_template

    click.echo(f"template written: {write_template(out)}")


@cli.command()
@click.argument("bank_file", metavar="BANK", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, required=True, help="same bank and seed give the same paper")
@click.option("--out", "paper", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the paper (.csv or .xlsx); the answer key goes beside it as <stem>-key")
@profile_option
def exam(bank_file: Path, seed: int, paper: Path, profile: str) -> None:
    """Draw an exam paper from a bank (Q2: 30 single, 10 multiple, 10 true/false)."""
    from courseware.bank import assemble_exam, load_bank, write_exam
    from encoder_profiles import load_profile

    drawn = assemble_exam(load_bank(bank_file), load_profile(profile), seed=seed)
    files = write_exam(drawn, paper)
    counts = ", ".join(f"{kind} {n}" for kind, n in drawn.counts.items())
    click.echo(f"paper ({counts}, seed {seed}): {files.paper}\nanswer key: {files.key}")


@cli.command()
@click.argument("course_file", metavar="COURSE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the form, .docx")
def form(course_file: Path, out: Path) -> None:
    """Write the course application form (附件1 public / 附件2 professional) as DOCX."""
    from courseware.course import load_course
    from courseware.forms import form_kind, write_application_form

    course = load_course(course_file)
    written = write_application_form(course, out)
    click.echo(f"{form_kind(course).attachment} {form_kind(course).title}: {written}")


def _run_course(course_file: Path, store: str, profile: str,
                work_dir: str | None) -> CourseOutcome:
    from courseware.course import load_course
    from encoder_profiles import load_profile
    from flows.course import course_flow

    load_course(course_file)  # fail fast, before Prefect starts, on a bad course file
    load_profile(profile)
    return course_flow(str(course_file.resolve()), store, profile, work_dir)


def _print_outcome(outcome: CourseOutcome) -> None:
    click.echo(f"\n{outcome.course} → {outcome.store}")
    for lec in outcome.lectures:
        where = lec.key if lec.key else lec.message
        click.echo(f"  第{lec.number}讲 {lec.title}: {lec.status.upper()}  {where}")
        for warning in lec.warnings:
            click.echo(f"    warning: {warning}")
    if outcome.course_report_status is None:
        click.echo(f"  course report: none ({outcome.course_report_message})")
        return
    failed = (f"; failed: {', '.join(outcome.course_report_failed)}"
              if outcome.course_report_failed else "")
    click.echo(f"  course report: {outcome.course_report_status.upper()}{failed}  "
               f"{outcome.course_report_html_key}")


@cli.command("check-course")
@click.argument("course_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--store", "store", required=True,
              help="where the course is published: a folder or s3://bucket/prefix")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the course report (contract JSON) here")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the course report as a self-contained HTML page here")
@profile_option
def check_course(course_file: Path, store: str, json_out: Path | None, html_out: Path | None,
                 profile: str) -> None:
    """The course report (course.* checks: A1–A6, D1, D4/D5, Q1/Q3) of a published course."""
    from courseware.course import load_course
    from courseware.course_html import render_course_html
    from encoder_profiles import load_profile
    from tasks.course_qc import check_course as course_report
    from tasks.course_qc import lectures_text

    report = course_report(load_course(course_file), store=store,
                           profile=load_profile(profile))
    click.echo(report.table())
    click.echo(lectures_text(report))
    if json_out is not None:
        report.write_json(json_out)
    if html_out is not None:
        html_out.write_text(render_course_html(report), "utf-8")
    if report.status == "fail":
        sys.exit(1)


@cli.command()
@click.argument("inbox")
@click.option("--out", "store", required=True, help="where to publish: a folder or s3://bucket/prefix")
@click.option("--work", "work_dir", default=None, help="scratch folder for renders")
@click.option("--force", is_flag=True, help="render again even what is already published")
@profile_option
def batch(inbox: str, store: str, work_dir: str | None, force: bool, profile: str) -> None:
    """Run every ready submission of INBOX (a folder or s3:// prefix); skip the rest."""
    from flows.batch import batch_flow

    result = batch_flow(inbox, store, profile, work_dir, force=force)
    for sub in result.submissions:
        line = f"  {sub.name}: {sub.status}"
        if sub.status == "ready":
            line += f", {sub.state}, {sub.published}/{sub.lectures} published"
        click.echo(line + (f"  ({'; '.join(sub.failed) or sub.reason})"
                           if sub.failed or sub.reason else ""))
    if not result.complete:
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4200, show_default=True)
@click.option("--workers", default=1, show_default=True, help="process workers on the cpu pool")
@click.option("--renders", default=max(1, (os.cpu_count() or 2) // 2), show_default=True,
              help="renders at a time on this machine (the global limit 'render')")
@click.option("--gpu", is_flag=True, help="also a gpu pool, a worker for it and the qc-gpu "
              "deployment")
def serve(host: str, port: int, workers: int, renders: int, gpu: bool) -> None:
    """A Prefect server, work pools, deployments and workers on this machine (Ctrl-C stops)."""
    from flows import serve as stack

    api_url = f"http://{host}:{port}/api"
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    env = stack.stack_env(api_url)
    logs = home / "courseware-serve"
    procs = [stack.start_server(host, port, env, logs / "server.log")]
    try:
        click.echo(f"starting the Prefect server on {api_url} (log {logs / 'server.log'})")
        stack.wait_healthy(api_url, timeout_s=180, proc=procs[0])
        # one slot more than renders: a batch run holds one while it waits for its courses
        stack.setup(env, cpu_limit=renders + 1, render_limit=renders, gpu=gpu)
        for i in range(workers):
            procs.append(stack.start_worker("cpu", f"cpu-{i + 1}", env, logs / f"cpu-{i + 1}.log"))
        if gpu:
            procs.append(stack.start_worker("gpu", "gpu-1", env, logs / "gpu-1.log", limit=1))
        click.echo(f"UI http://{host}:{port}  ·  {workers} cpu worker(s)"
                   + (" + 1 gpu worker" if gpu else "") + f", {renders} render(s) at a time")
        click.echo(f"export PREFECT_API_URL={api_url}, then e.g. "
                   "`prefect deployment run batch/batch -p inbox=… -p store=…`; Ctrl-C stops")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        click.echo("a process of the stack exited; see the logs in " + str(logs), err=True)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop(procs)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PipelineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
