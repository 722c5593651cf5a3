"""The inbox of submissions: which are complete (READY and every source in place), staging.

A submission is a folder (local inbox) or key prefix (``s3://`` inbox) holding a course file
and its sources, and ``READY`` written last by ``courseware submit`` (JSON: every file with
its size and SHA-256). It is ready when READY exists and every file the course file names is
present with the size READY lists (and, for local files, the same SHA-256; for S3 the
SHA-256 the object was published with). Anything else waits, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.course import Course, load_course
from courseware.errors import PipelineError, StoreError
from courseware.store import LocalStore, S3Store, Store, open_store
from courseware.submit import READY_NAME
from tasks.cache import STORAGE_RETRIES, sha256_file

COURSE_FILE = "course.yaml"


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # the folder / prefix inside the inbox
    status: Literal["ready", "waiting", "invalid"]
    reason: str = ""
    course_file: str | None = None  # local path (local inbox) or key in the inbox (S3)
    course: str | None = None  # the course name, when the course file could be read


def named_files(course: Course) -> list[str]:
    """Every file the course file names, relative to its folder (POSIX)."""
    out: list[str] = []
    for _, path, _ in course.named_files():
        rel = Path(os.path.normpath(path)).relative_to(course.root).as_posix()
        if rel not in out:
            out.append(rel)
    return out


def _ready_files(data: Any) -> dict[str, dict[str, Any]]:
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError("READY has no list of files")
    return {str(f["key"]): f for f in files}


def _check_local(folder: Path) -> Submission:
    name = folder.name
    ready = folder / READY_NAME
    if not ready.is_file():
        return Submission(name=name, status="waiting",
                          reason="no READY marker yet (upload in progress?)")
    try:
        data = json.loads(ready.read_text("utf-8"))
        listed = _ready_files(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Submission(name=name, status="waiting", reason=f"READY unreadable: {exc}")
    course_file = folder / str(data.get("course_file") or COURSE_FILE)
    try:
        course = load_course(course_file)
        wanted = [course_file.name, *named_files(course)]
    except (PipelineError, ValueError) as exc:
        return Submission(name=name, status="invalid", reason=str(exc),
                          course_file=str(course_file))
    for rel in wanted:
        path = folder / rel
        entry = listed.get(rel)
        if entry is None:
            return _waiting(name, course_file, course, f"{rel}: not listed in READY")
        if not path.is_file():
            return _waiting(name, course_file, course, f"{rel}: not there yet")
        if path.stat().st_size != entry.get("size"):
            return _waiting(name, course_file, course,
                            f"{rel}: {path.stat().st_size} bytes, READY lists {entry.get('size')}")
        if sha256_file(path) != entry.get("sha256"):
            return _waiting(name, course_file, course, f"{rel}: SHA-256 differs from READY")
    return Submission(name=name, status="ready", course_file=str(course_file),
                      course=course.info.name)


def _waiting(name: str, course_file: Path | str, course: Course, reason: str) -> Submission:
    return Submission(name=name, status="waiting", reason=reason, course_file=str(course_file),
                      course=course.info.name)


def _check_remote(store: Store, name: str, keys: set[str], stage: Path) -> Submission:
    if f"{name}/{READY_NAME}" not in keys:
        return Submission(name=name, status="waiting",
                          reason="no READY marker yet (upload in progress?)")
    try:
        data = json.loads(store.get_bytes(f"{name}/{READY_NAME}"))
        listed = _ready_files(data)
    except (StoreError, ValueError, KeyError, TypeError) as exc:
        return Submission(name=name, status="waiting", reason=f"READY unreadable: {exc}")
    rel_course = str(data.get("course_file") or COURSE_FILE)
    key = f"{name}/{rel_course}"
    local = stage / name / rel_course
    try:
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(store.get_bytes(key))
        course = load_course(local)
        wanted = [rel_course, *named_files(course)]
    except (PipelineError, ValueError) as exc:
        return Submission(name=name, status="invalid", reason=str(exc), course_file=key)
    for rel in wanted:
        entry = listed.get(rel)
        if entry is None:
            return _waiting(name, key, course, f"{rel}: not listed in READY")
        if f"{name}/{rel}" not in keys:
            return _waiting(name, key, course, f"{rel}: not there yet")
        if store.checksum(f"{name}/{rel}") != entry.get("sha256"):
            return _waiting(name, key, course, f"{rel}: the object differs from READY")
    return Submission(name=name, status="ready", course_file=key, course=course.info.name)


def scan_inbox(inbox: str, *, stage: Path) -> list[Submission]:
    """Every submission in the inbox with its status, sorted by name."""
    store = open_store(inbox)
    if isinstance(store, LocalStore):
        if not store.root.is_dir():
            raise StoreError(f"inbox {inbox}: no such folder")
        return [_check_local(p) for p in sorted(store.root.iterdir())
                if p.is_dir() and not p.name.startswith(".")]
    if isinstance(store, S3Store):  # uploads by other tools are hashed once, not per scan
        store.hash_cache = stage / ".object-hashes.json"
    keys = set(store.list())
    names = sorted({k.split("/", 1)[0] for k in keys if "/" in k})
    return [_check_remote(store, name, keys, stage) for name in names]


def _download(store: Store, key: str, dest: Path) -> None:
    store.get_file(key, dest)  # streamed, checked, renamed into place when complete


def stage_submission(inbox: str, course_key: str, *, stage: Path) -> Path:
    """Copy a submission from an S3 inbox to ``stage``, checking every file against READY;
    files already staged with the listed SHA-256 are kept. Returns the local course file."""
    store = open_store(inbox)
    name = course_key.split("/", 1)[0]
    listed = _ready_files(json.loads(store.get_bytes(f"{name}/{READY_NAME}")))
    root = stage / name
    course_file = root / course_key.split("/", 1)[1]
    course_file.parent.mkdir(parents=True, exist_ok=True)
    course_file.write_bytes(store.get_bytes(course_key))
    for rel in named_files(load_course(course_file)):
        entry = listed.get(rel)
        if entry is None:
            raise StoreError(f"{inbox}/{name}/{rel}: not listed in READY; hand the course in "
                             "again with `courseware submit`")
        dest, sidecar = root / rel, root / f"{rel}.sha256"
        if dest.is_file() and sidecar.is_file() and sidecar.read_text("utf-8").split() == [
                str(entry["size"]), str(entry["sha256"])]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        _download(store, f"{name}/{rel}", dest)
        digest = sha256_file(dest)
        if digest != entry["sha256"] or dest.stat().st_size != entry["size"]:
            dest.unlink(missing_ok=True)
            raise StoreError(f"{inbox}/{name}/{rel}: downloaded bytes do not match READY "
                             "(sha256 differs); run again, or hand the course in again")
        sidecar.write_text(f"{entry['size']} {digest}\n", "utf-8")  # tasks.cache reads it
    return course_file


def stage_name(inbox: str) -> str:
    return hashlib.sha1(inbox.encode("utf-8")).hexdigest()[:12]


scan_inbox_task = task(name="scan-inbox", cache_policy=NO_CACHE)(scan_inbox)
stage_task = task(name="stage-submission", cache_policy=NO_CACHE,
                  **STORAGE_RETRIES)(stage_submission)
