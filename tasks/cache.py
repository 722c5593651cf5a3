"""Skip finished work: a cache key per lecture, and a done-marker beside the published lecture.

The key is the SHA-256 of everything that decides the rendered bytes (DESIGN.md, "re-running
a course does no work that is already done and valid"):

- ``sources``: the content of every source file of the lecture (and of the intro for
  lecture 1). ``hash_mode="full"`` streams each file through SHA-256 (about 1 s per GB;
  small next to a render of the same footage, which takes minutes per GB).
  ``hash_mode="quick"`` uses size + mtime + SHA-256 of the first and last MiB: O(1), but a
  change in the middle of a file that keeps its size and mtime goes unnoticed (a re-encode
  never does that; a tool that rewrites in place and restores mtime could). A file fetched
  from an S3 inbox was already hashed against its READY entry while it was downloaded
  (``tasks.inbox``); a ``<file>.sha256`` sidecar newer than the file carries that digest, so
  it is not read twice (the S3 ETag itself is not used: it is an MD5 only for single-part
  uploads, and a multipart ETag changes with the part size).
- ``lecture``: the lecture's entry in course.yaml (title, lecturer, sources, offsets, layout…)
  and its lecturer's entry (name, title, unit: the title card, A4).
- ``course``: the course fields this lecture renders: the name (title card), and for the
  last lecture the credits (production unit, recording date, applying unit, A5).
- ``profile`` and ``layout``: the validated profile and layout content (not the file bytes, so
  a comment edit re-renders nothing).
- ``font``: which font face draws the cards.
- ``code``: the package version and the SHA-256 of the source of every module that shapes
  the render: ``RENDER_ROOTS`` and every first-party module they import, transitively (found
  by parsing the imports, so a new helper module of the render is covered without a list to
  maintain), plus the YAML beside ``encoder_profiles``. QC modules the render does not import
  are not in it: a new QC metric must not re-render a season of lectures; the marker records
  ``qc_version`` instead.

``<lecture>.done.json`` is written LAST, after the video and its reports; its presence with
a matching key, and a published video with the recorded size and SHA-256 that still passes
the format check, means the lecture is done. Each part of the key is recorded too, so a
rerun says *why* it renders again ("sources.teacher changed").
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from pydantic import BaseModel, ConfigDict, ValidationError

from courseware.course import Course, Lecture
from courseware.errors import PipelineError, StoreError
from courseware.fonts import find_face
from courseware.store import LocalStore, Store
from encoder_profiles import Profile, load_layout

HashMode = Literal["full", "quick"]

#: where the render code starts; these and every first-party module they import are keyed
RENDER_ROOTS = ("tasks.render", "tasks.probe", "tasks.sync", "encoder_profiles")
FIRST_PARTY = ("courseware", "tasks", "qc_metrics", "encoder_profiles", "flows")
#: modules whose source decides the QC report (recorded, not keyed: see the module doc)
QC_MODULES = ("tasks.qc", "tasks.verify", "tasks.card_text", "courseware.html_report",
              "courseware.report", "qc_metrics")
MARKER_VERSION = 1
_BLOCK = 1 << 20
_QUICK_SPAN = 1 << 20


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path, *, mode: HashMode) -> str:
    """What a source's content is, for the key: ``sha256:<hex>`` or ``quick:<…>``.

    A missing file gives ``missing``: probe reports it with its message first.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "missing"
    known = path.with_name(path.name + ".sha256")  # written by tasks.inbox when fetched
    if known.is_file() and known.stat().st_mtime_ns >= stat.st_mtime_ns:
        size, _, hexdigest = known.read_text("utf-8").strip().partition(" ")
        if size == str(stat.st_size) and len(hexdigest) == 64:
            return f"sha256:{hexdigest}"
    if mode == "full":
        return f"sha256:{sha256_file(path)}"
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(_QUICK_SPAN))
        if stat.st_size > 2 * _QUICK_SPAN:
            fh.seek(-_QUICK_SPAN, os.SEEK_END)
            digest.update(fh.read(_QUICK_SPAN))
    return f"quick:{stat.st_size}:{stat.st_mtime_ns}:{digest.hexdigest()}"


def _modules_digest(names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):  # a package: every module and data file in it
            folder = Path(next(iter(module.__path__)))
            files = sorted(p for p in folder.iterdir()
                           if p.suffix in (".py", ".yaml") and p.is_file())
        else:
            files = [Path(module.__file__ or "")]
        for path in files:
            digest.update(f"{name}:{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def code_version() -> str:
    """Package version + hash of the render code: changes when the rendered bytes may."""
    return f"{_package_version()}+{_modules_digest(render_modules())[:16]}"


def _module_path(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def render_modules() -> tuple[str, ...]:
    """``RENDER_ROOTS`` and the first-party modules they import, transitively, sorted."""
    seen: set[str] = set()
    todo = list(RENDER_ROOTS)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen.add(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                found = [base] + [f"{base}.{a.name}" for a in node.names]
            todo += [f for f in found if f.split(".")[0] in FIRST_PARTY
                     and importlib.util.find_spec(f.split(".")[0]) is not None
                     and _safe_find(f)]
    return tuple(sorted(seen))


def _safe_find(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # "pkg.function": not a module
        return False


@cache
def qc_version() -> str:
    """The QC code's version: the package's, its modules' digest and the OCR's that reads
    the cards (none: their words are not read)."""
    try:
        ocr = importlib.metadata.version("rapidocr")
    except importlib.metadata.PackageNotFoundError:
        ocr = "none"
    return f"{_package_version()}+{_modules_digest(QC_MODULES)[:16]}+ocr-{ocr}"


def _package_version() -> str:
    try:
        return importlib.metadata.version("courseware-pipeline")
    except importlib.metadata.PackageNotFoundError:  # a source checkout, not installed
        return "0+unknown"


class CacheKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    parts: dict[str, str]  # name → digest of that part; the key hashes all of them


def lecture_cache_key(course: Course, lecture: Lecture, *, profile: Profile,
                      mode: HashMode = "full") -> CacheKey:
    parts: dict[str, str] = {}
    for role, paths in lecture.sources.items():
        parts[f"sources.{role}"] = ",".join(file_digest(course.resolve(p), mode=mode)
                                            for p in paths)
    if lecture.number == 1 and course.info.intro is not None:
        parts["sources.intro"] = file_digest(course.resolve(course.info.intro), mode=mode)
    lecturer = course.lecturer(lecture)
    parts["lecture"] = _sha256_hex(json.dumps(
        [lecture.model_dump(mode="json"), lecturer.model_dump(mode="json")],
        ensure_ascii=False, sort_keys=True).encode())
    info = course.info
    fields: dict[str, object] = {"name": info.name}  # A4: the title card names the course
    if lecture.number == max(lec.number for lec in course.lectures):  # A5: credits
        fields |= {"credits": True, "production_unit": info.production_unit,
                   "recording_date": info.recording_date.isoformat(),
                   "applying_unit": info.applying_unit}
    parts["course"] = _sha256_hex(json.dumps(fields, ensure_ascii=False,
                                             sort_keys=True).encode())
    parts["profile"] = _sha256_hex(profile.model_dump_json().encode())
    names = {lecture.layout or profile.encode.layout,
             *(switch.layout for switch in lecture.layout_switches)}
    parts["layout"] = _sha256_hex(json.dumps(
        {name: load_layout(name).model_dump(mode="json") for name in sorted(names)},
        sort_keys=True).encode())
    face = find_face()
    parts["font"] = f"{face.path.name}#{face.index}:{face.path.stat().st_size}"
    parts["code"] = code_version()
    key = _sha256_hex(json.dumps(parts, sort_keys=True).encode())
    return CacheKey(key=key, parts=parts)


# ----------------------------------------------------------------------------- done-marker

class PublishedObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    size: int | None = None
    sha256: str | None = None


class DoneMarker(BaseModel):
    """``<lecture>.done.json``: what a finished lecture published, and from what."""

    model_config = ConfigDict(frozen=True)

    version: int = MARKER_VERSION
    key: str
    parts: dict[str, str]
    number: int
    title: str
    status: str  # the verify (format) verdict that let it publish
    qc_status: str  # the full QC verdict (reported, not a gate)
    duration_s: float
    outputs: dict[str, PublishedObject]  # video, qc_json, qc_html
    qc_version: str
    finished_at: str
    #: what the render said about the sources (B2 size, HDR, interlacing, sound channels):
    #: things the base should fix next time, shown again when the lecture is skipped and on
    #: the course report
    warnings: tuple[str, ...] = ()


def done_key(video_key: str) -> str:
    return video_key.removesuffix(".mp4") + ".done.json"


def read_marker(store: Store, video_key: str) -> DoneMarker | None:
    """The done-marker of a lecture, None when absent or malformed (then: render again).
    A store that cannot be reached raises StoreError (retried), rather than re-rendering."""
    key = done_key(video_key)
    if not store.exists(key):
        return None
    try:
        return DoneMarker.model_validate_json(store.get_bytes(key))
    except (ValidationError, ValueError):
        return None


def changed_parts(old: DoneMarker, new: CacheKey) -> list[str]:
    names = sorted(set(old.parts) | set(new.parts))
    return [n for n in names if old.parts.get(n) != new.parts.get(n)]


def check_done(store: Store, marker: DoneMarker | None, key: CacheKey, *,
               profile: Profile) -> str | None:
    """Why the lecture must be rendered again, or None when its published outputs are valid.

    Checks: the key matches; every recorded output exists with its recorded SHA-256 (the
    store's checksum: a local file is hashed, an S3 object's HEAD carries it); for a local
    store the video still passes the format check (a demux-only probe, well under a second).
    """
    if marker is None:
        return "not published yet"
    if marker.version != MARKER_VERSION:
        return f"done-marker version {marker.version} is not {MARKER_VERSION}"
    if marker.key != key.key:
        return f"changed since the last render: {', '.join(changed_parts(marker, key))}"
    for name, obj in marker.outputs.items():
        try:
            got = store.checksum(obj.key)
        except StoreError as exc:
            return f"cannot check the published {name} {obj.key}: {exc}"
        if got is None:
            return f"the published {name} {obj.key} is missing"
        if obj.sha256 is not None and got != obj.sha256:
            return f"the published {name} {obj.key} is not the one recorded (sha256 differs)"
    video = marker.outputs.get("video")
    if video is None:
        return "the done-marker records no video"
    if isinstance(store, LocalStore):
        from tasks.verify import verify_file

        path = store.root / video.key
        if video.size is not None and path.stat().st_size != video.size:
            return f"the published video {video.key} has another size than recorded"
        try:
            report = verify_file(path, profile=profile)
        except Exception as exc:  # any unreadable file means: render again
            return f"the published video {video.key} cannot be read: {exc}"
        if report.status == "fail":
            return f"the published video {video.key} no longer passes the format check"
    return None


def write_marker(store: Store, video_key: str, marker: DoneMarker) -> str:
    data = marker.model_dump_json(indent=2).encode("utf-8") + b"\n"
    return store.put_bytes(data, done_key(video_key))


def storage_fault(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn``: retry only what may pass on a second try, store and OS
    (network, disk) errors. Bad input (every other PipelineError, MissingSourceError
    included, although it is a FileNotFoundError) fails at once."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(
        raise_on_failure=False)
    if isinstance(exc, StoreError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, PipelineError)


#: task options for storage work: retried with backoff, on storage faults only
STORAGE_RETRIES: dict[str, Any] = {
    "retries": 3, "retry_delay_seconds": [2, 10, 30], "retry_jitter_factor": 0.2,
    "retry_condition_fn": storage_fault}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


read_marker_task = task(name="read-done-marker", cache_policy=NO_CACHE,
                        **STORAGE_RETRIES)(read_marker)
cache_key_task = task(name="cache-key", cache_policy=NO_CACHE)(lecture_cache_key)
check_done_task = task(name="check-done", cache_policy=NO_CACHE)(check_done)
write_marker_task = task(name="write-done-marker", cache_policy=NO_CACHE)(write_marker)
