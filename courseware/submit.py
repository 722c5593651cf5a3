"""Hand a course in: check its sources, upload them beside the course file, then mark READY.

Layout in the store: ``<safe course name>/<path relative to the course file>`` for the course
file and every file it names (sources, intro, subtitles), then ``<safe course name>/READY``
(JSON: every file with its size and SHA-256), written last, so a reader that sees READY
sees the whole submission. A rerun uploads only what is missing or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from courseware.course import Course, load_course
from courseware.errors import CourseFileError, MissingSourceError, PipelineError
from courseware.store import open_store, safe_name
from tasks.probe import join_parts, probe_source

READY_NAME = "READY"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SubmittedFile:
    key: str  # relative to the submission folder
    size: int
    sha256: str
    uploaded: bool  # False: an identical object was already there


@dataclass(frozen=True)
class SubmitResult:
    course: str
    folder: str  # URL of the submission folder in the store
    ready: str  # URL of the READY marker
    files: tuple[SubmittedFile, ...]

    @property
    def uploaded(self) -> list[str]:
        return [f.key for f in self.files if f.uploaded]

    @property
    def skipped(self) -> list[str]:
        return [f.key for f in self.files if not f.uploaded]


def submit_course(course_file: Path, to: str) -> SubmitResult:
    """Pre-check every file the course names (nothing is uploaded if one fails), upload
    what the store lacks, then write READY."""
    course = load_course(course_file)
    files = _checked_files(course)
    store = open_store(to)
    folder = safe_name(course.info.name)
    hashes = {rel: _sha256(path) for rel, path in files.items()}
    todo = [rel for rel in files if store.checksum(f"{folder}/{rel}") != hashes[rel]]
    ready_key = f"{folder}/{READY_NAME}"
    if todo and store.exists(ready_key):
        store.delete(ready_key)  # no READY may describe files that are being replaced
    for rel in todo:
        store.put_file(files[rel], f"{folder}/{rel}")
    submitted = tuple(
        SubmittedFile(key=rel, size=path.stat().st_size, sha256=hashes[rel],
                      uploaded=rel in todo)
        for rel, path in files.items())
    manifest = {
        "course": course.info.name,
        "course_file": course.path.name,
        "files": [{"key": f.key, "size": f.size, "sha256": f.sha256} for f in submitted],
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    ready = store.put_bytes(text.encode("utf-8"), ready_key)
    return SubmitResult(course=course.info.name, folder=store.url(folder), ready=ready,
                        files=submitted)


def _checked_files(course: Course) -> dict[str, Path]:
    """Relative key → local path of the course file and every file it names, each probed;
    all problems are reported together, before anything is uploaded."""
    wanted: list[tuple[str, Path, str | None]] = [("course file", course.path, None)]
    wanted += [(role, path, f"{lec.number} 《{lec.title}》" if lec else None)
               for role, path, lec in course.named_files()]

    files: dict[str, Path] = {}
    problems: list[PipelineError] = []
    for role, path, where_in in wanted:
        where = f"{path} (lecture {where_in}, {role})" if where_in else f"{path} ({role})"
        try:
            rel = Path(os.path.normpath(path)).relative_to(course.root).as_posix()
        except ValueError:
            problems.append(CourseFileError(
                f"{where}: outside the course folder {course.root}; move it into that folder "
                f"and name it relative to {course.path.name}"))
            continue
        if _CONTROL.search(rel) or rel == READY_NAME:
            problems.append(CourseFileError(f"{where}: this file name cannot be handed in; "
                                            "rename the file"))
            continue
        try:
            if role in ("slides", "teacher", "audio", "intro"):
                probe_source(role, path, lecture=where_in or "-", needs_video=role != "audio")
            else:
                _readable(path, where)
        except PipelineError as exc:
            problems.append(exc)
            continue
        files.setdefault(rel, path)
    for lec in course.lectures:  # a recording's files, each fine: are they one recording?
        for role, paths in lec.sources.items():
            parts = [course.resolve(p) for p in paths]
            if len(parts) > 1 and all(p in files.values() for p in parts):
                try:
                    join_parts(role, parts, lecture=f"{lec.number} 《{lec.title}》")
                except PipelineError as exc:
                    problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        lines = [f"{course.path}: {len(problems)} files cannot be handed in; nothing was uploaded:"]
        raise type(problems[0])("\n".join(lines + [f"  {p}" for p in problems])) from problems[0]
    return files


def _readable(path: Path, where: str) -> None:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except FileNotFoundError as exc:
        raise MissingSourceError(f"{where}: file not found; check the path in the course file "
                                 "or add the file") from exc
    except OSError as exc:
        raise MissingSourceError(f"{where}: cannot be read ({exc.strerror or exc})") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
