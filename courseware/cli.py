"""The ``courseware`` command: thin; gathers parameters, calls the work, reports.

Errors the pipeline raises on purpose (PipelineError) end as one clear message on stderr
and exit status 2; ``verify`` exits 1 when a file fails the profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from courseware.errors import PipelineError
from encoder_profiles import DEFAULT_PROFILE

if TYPE_CHECKING:
    from flows.course import CourseOutcome

# Quiet, local defaults for an ephemeral Prefect (a real server is used when
# PREFECT_API_URL is set by the operator).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
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
@click.argument("directory", default="demo-course",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--lectures", default=2, show_default=True)
@click.option("--seconds", default=12.0, show_default=True)
@profile_option
def demo(directory: Path, lectures: int, seconds: float, profile: str) -> None:
    """A generated course end to end: sample → course flow → verify every lecture."""
    from courseware.sample import make_sample
    from encoder_profiles import load_profile
    from tasks.verify import verify_file

    course_file = make_sample(directory / "raw", lectures=lectures, seconds=seconds)
    click.echo(f"1/3 sample course: {course_file}")
    store = directory / "delivery"
    click.echo(f"2/3 course flow (Prefect) → {store}")
    outcome = _run_course(course_file, str(store), profile, str(directory / "work"))
    _print_outcome(outcome)
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
