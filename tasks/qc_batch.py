"""QC of many files at once: a delivery stick as the province receives it, a folder of finished
lectures made with another tool, a base's raw footage.

Every media file under the folders given (and every file given by name) is checked as
``courseware qc`` checks one, one after another (each check already keeps the machine's
cores busy; memory stays that of one file). Each file's report, JSON per the contract and
HTML, is written to the output store under the file's own relative name
(``课程/第01讲.mp4`` → ``课程/第01讲.qc.json``, ``.qc.html``), and a summary of them all last:
``质检汇总.json`` and ``质检汇总.html`` (a row per file with its verdict, what failed, and a
link to its page; per folder, the lectures' total length and their sizes, which D4 wants
the same across a course).

A file that cannot be read (damaged, not media, a recording never closed) is a row with the
reason and what to do; the others are checked all the same. Nothing is written beside the
sources. A rerun reuses a file's report when the file (size, time, first and last MiB), the
profile and the QC code are what they were when it was made, so an interrupted batch of a
season's lectures goes on where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.errors import MissingSourceError, PipelineError, StoreError
from courseware.html_report import clock, render_html
from courseware.report import Check, Report, overall, report_from_dict
from courseware.store import Store
from encoder_profiles import Profile
from tasks.course_qc import IntroPictures

log = logging.getLogger(__name__)

#: what a folder's walk takes for a recording or a lecture (any FFmpeg-readable file given by
#: name is checked whatever its name)
MEDIA_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".flv", ".f4v", ".ts",
    ".mts", ".m2ts", ".m2t", ".mpg", ".mpeg", ".vob", ".mxf", ".3gp", ".dv",
    ".wav", ".m4a", ".aac", ".mp3", ".flac", ".ogg", ".opus", ".wma",
})
#: the summary's name in the output store (``.json`` and ``.html``)
SUMMARY_NAME = "质检汇总"
#: the checks a summary row lists, per verdict, before counting the rest
MAX_LISTED = 6

Status = Literal["pass", "warn", "fail", "error"]
_ORDER: tuple[Status, ...] = ("pass", "warn", "fail", "error")


@dataclass(frozen=True)
class Found:
    """A file under the paths given: where it is, the name it goes by (relative, POSIX), and
    the folder given that it was found in (None: the file was given by name)."""

    path: Path
    name: str
    root: Path | None = None


def _natural(name: str) -> list[tuple[int, int | str]]:
    """Sort key: 第2讲 before 第10讲, lecture_9 before lecture_10."""
    return [(0, int(part)) if part.isdigit() else (1, part.casefold())
            for part in re.split(r"(\d+)", name) if part]


def _hidden(rel: PurePosixPath) -> bool:
    """A dot-file or anything inside a dot-folder: macOS's ``._`` copies and ``.DS_Store`` on
    a stick, a ``.part`` upload, a ``.Trashes`` folder."""
    return any(part.startswith(".") for part in rel.parts)


#: what an application form (附件1 / 附件2, D11) is delivered as
FORM_SUFFIXES = frozenset({".doc", ".docx", ".pdf", ".wps", ".odt"})
#: what a question bank (Q1) is delivered as, with 题库 in its name
BANK_SUFFIXES = frozenset({".csv", ".xlsx"})
#: what a course folder holds besides its videos: found at the top of a folder given, they
#: make it one course folder, not a stick of them
COURSE_DOCUMENTS = FORM_SUFFIXES | BANK_SUFFIXES


def find_media(paths: Sequence[Path]) -> tuple[list[Found], list[Found]]:
    """The media files to check under ``paths`` (folders, walked; files, taken as given), in
    natural order, each with a unique relative name; and the other files the walk passed
    over (documents, banks, hidden copies), for the summary and the course checks. A path
    that does not
    exist, or folders with no media in them, raise :class:`MissingSourceError` naming them."""
    found: list[Found] = []
    other: list[Found] = []
    seen: set[Path] = set()
    labels: set[str] = set()
    for given in paths:
        if not given.exists():
            raise MissingSourceError(f"{given}: no such file or folder; give the recordings' or "
                                     "the lectures' folder (a delivery stick), or files")
        label = _unique(given.name or str(given), labels)   # two folders both named "stick"
        labels.add(label)
        if given.is_file():
            items = [(given, label, False)]
        else:
            root = PurePosixPath(label) if len(paths) > 1 else PurePosixPath()
            walked = sorted(((p, p.relative_to(given).as_posix()) for p in given.rglob("*")
                             if p.is_file()), key=lambda item: _natural(item[1]))
            items = [(p, str(root / rel), _hidden(PurePosixPath(rel))
                      or PurePosixPath(rel).suffix.lower() not in MEDIA_SUFFIXES)
                     for p, rel in walked]
        root_dir = None if given.is_file() else given
        for path, name, passed_over in items:
            if passed_over:
                other.append(Found(path, name, root_dir))
            elif path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(Found(path, name, root_dir))
    if not found:
        names = [f.name for f in other]
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise MissingSourceError(
            f"{', '.join(str(p) for p in paths)}: no recordings or lectures found"
            + (f" (only {listed})" if other else " (empty)")
            + f"; media files end in {', '.join(sorted(MEDIA_SUFFIXES)[:8])} …")
    return found, other


def course_folders(found: Sequence[Found], other: Sequence[Found] = ()) -> dict[str, str]:
    """Each file's course folder on a stick (its relative name, "" for the root given),
    by name: the folder given when it is one course folder given on its own (lectures at
    its top; or a course's documents at its top and its videos in one folder under it: a
    stick's root holds its listing and a folder per course), else the folder under it that
    the file is in, at whatever depth (a course folder that keeps its videos in 视频/ and
    its bank in 题库/). A file given by name: its own folder."""
    def top(f: Found) -> str:           # the folder under the one given, "" at its top
        parts = PurePosixPath(f.name[len(given(f)):].lstrip("/")).parts
        return parts[0] if len(parts) > 1 else ""

    homes: dict[Path, set[str]] = {}    # per folder given: where under it the media are
    for f in found:
        if f.root is not None:
            homes.setdefault(f.root, set()).add(top(f))
    documents = {f.root for f in other if f.root is not None and not top(f)
                 and PurePosixPath(f.name).suffix.lower() in COURSE_DOCUMENTS}
    flat = {root for root, where in homes.items()
            if "" in where or (root in documents and len(where) == 1)}
    out = {}
    for f in [*found, *other]:
        if f.root is None:
            folder = str(PurePosixPath(f.name).parent)
        elif f.root in flat or not top(f):
            folder = given(f)
        else:
            folder = str(PurePosixPath(given(f)) / top(f))
        out[f.name] = "" if folder == "." else folder
    return out


def given(f: Found) -> str:
    """The relative name of the folder ``f`` was found in as given ("" when it was the only
    path given; its label among several)."""
    assert f.root is not None
    rel = f.path.relative_to(f.root).as_posix()
    return f.name[: len(f.name) - len(rel)].rstrip("/")


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)`` … (before its suffix) when another already goes
    by it."""
    path = PurePosixPath(name)
    k = 1
    while name in taken:
        k += 1
        name = f"{path.stem} ({k}){path.suffix}"
    return name


def report_keys(names: Sequence[str]) -> dict[str, str]:
    """Each file's report key without its ``.json``/``.html``: ``a/第01讲.qc`` beside where
    the file is in the output store; ``a/第01讲.mp4.qc`` when another file of the same folder
    has the same stem (``第01讲.mov``)."""
    stems: dict[str, int] = {}
    for name in names:
        p = PurePosixPath(name)
        stems[str(p.with_suffix(""))] = stems.get(str(p.with_suffix("")), 0) + 1
    keys = {}
    for name in names:
        p = PurePosixPath(name)
        stem = str(p.with_suffix(""))
        keys[name] = f"{name}.qc" if stems[stem] > 1 or not p.suffix else f"{stem}.qc"
    return keys


def fingerprint(path: Path, profile: Profile, *, finished: bool,
                intro: Path | None = None, raw: bool = False) -> dict[str, str]:
    """What a report was made of: the file (quick digest: size, time, first and last MiB),
    the profile's content, the QC code, how the file was read (``finished``, ``raw``) and
    the intro it was compared with (its quick digest). A rerun with the same reuses the
    report."""
    from tasks.cache import file_digest, qc_version

    return {"file": file_digest(path, mode="quick"),
            "profile": hashlib.sha256(profile.model_dump_json().encode()).hexdigest()[:16],
            "qc": qc_version(), "finished": str(finished), "raw": str(raw),
            "intro": file_digest(intro, mode="quick") if intro is not None else ""}


class Listed(BaseModel):
    """A failed or warned check, as the summary shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    clause: str
    status: str
    message: str


class FileOutcome(BaseModel):
    """One file's line of the summary."""

    model_config = ConfigDict(frozen=True)

    file: str                       #: its relative name
    status: Status
    duration_s: float | None = None
    resolution: str | None = None   #: "1280x720", from format.resolution
    aspect: str | None = None       #: "16:9", from format.aspect
    format_status: str | None = None   #: the format checks' (D2–D10) verdict
    loudness_lufs: float | None = None  #: audio.loudness: integrated, BS.1770-4
    report: str | None = None       #: the JSON report's key in the output store
    page: str | None = None         #: the HTML report's
    checks: list[Listed] = []       #: the failed ones, then the warned ones
    error: str | None = None        #: why it could not be checked
    reused: bool = False            #: the report of an earlier run, still valid
    notes: list[str] = []           #: what the check says about its own limits
    #: a finished file's opening against the province's intro (A3): mean |ΔY'| over the
    #: intro's frames (None: not compared)
    intro_mad: float | None = None
    intro_frames: int = 0
    #: a finished file's still where its title card belongs (A4): [start, end] in seconds
    #: (None: not read as finished, or its opening moves)
    opening_still: list[float] | None = None
    #: … and the still where its closing credits belong (A5)
    closing_still: list[float] | None = None
    #: an opening that moves but reads as a title card: [start, end] (end None: no cut to
    #: the lecture found), ``tasks.qc._cards``
    animated_card: list[float | None] | None = None
    #: an ending that moves but reads as credits: [start, end] (start None: no cut found)
    moving_credits: list[float | None] | None = None
    #: its title card's luma as block means (``tasks.qc.card_picture``): one lecture's card
    #: told from another's
    title_card_picture: str | None = None
    #: the words read on the stills where the title card and the credits belong (lines;
    #: None: not read, ``tasks.card_text``)
    title_card_text: list[str] | None = None
    credits_text: list[str] | None = None

    @property
    def failed(self) -> list[Listed]:
        return [c for c in self.checks if c.status == "fail"]


class FolderSummary(BaseModel):
    """A folder's files together: a course folder on a stick, with its course report."""

    model_config = ConfigDict(frozen=True)

    folder: str
    files: int
    duration_s: float
    resolutions: list[str]
    counts: dict[str, int]
    status: Status | None = None    #: the course report's verdict
    report: str | None = None       #: its keys (JSON, HTML) in the output store
    page: str | None = None
    failed: list[Listed] = []       #: its failed checks
    warned: list[Listed] = []       #: … and those for a person to look at


class BatchQc(BaseModel):
    """The summary (``质检汇总.json``)."""

    model_config = ConfigDict(frozen=True)

    profile: str
    sources: list[str]
    out: str
    files: list[FileOutcome]
    folders: list[FolderSummary]
    skipped: list[str]              #: files the walk passed over (not media, hidden)

    @property
    def status(self) -> Status:
        """The worst of the files' and the course folders' verdicts."""
        verdicts = [f.status for f in self.files] + [f.status for f in self.folders if f.status]
        return max(verdicts, key=_ORDER.index, default="pass")

    def counts(self) -> dict[str, int]:
        return {s: sum(f.status == s for f in self.files) for s in _ORDER}


def outcome(name: str, report: Report, *, keys: tuple[str, str], reused: bool = False,
            notes: Sequence[str] = ()) -> FileOutcome:
    """A file's summary line from its report."""
    measured = {c.id: c.measured for c in report.checks}
    loudness = measured.get("audio.loudness")
    intro = report.extra.get("intro")
    cards = report.extra.get("cards")
    opening = cards.get("opening_still") if isinstance(cards, dict) else None
    closing = cards.get("closing_still") if isinstance(cards, dict) else None
    picture = cards.get("title_card_picture") if isinstance(cards, dict) else None
    animated = cards.get("animated_card") if isinstance(cards, dict) else None
    moving = cards.get("moving_credits") if isinstance(cards, dict) else None

    def lines(key: str) -> list[str] | None:
        found = cards.get(key) if isinstance(cards, dict) else None
        return [str(x) for x in found] if isinstance(found, list) else None

    return FileOutcome(
        file=name, status=report.status, duration_s=round(report.duration_s, 3),
        resolution=_text(measured.get("format.resolution")),
        aspect=_text(measured.get("format.aspect")),
        format_status=overall([c for c in report.checks if c.id.startswith("format.")]),
        loudness_lufs=float(loudness) if isinstance(loudness, int | float)
        and math.isfinite(loudness) else None,
        report=keys[0], page=keys[1], checks=listed(report.checks), reused=reused,
        notes=list(notes),
        intro_mad=intro.get("mad") if isinstance(intro, dict) else None,
        intro_frames=intro.get("frames", 0) if isinstance(intro, dict) else 0,
        opening_still=list(opening) if isinstance(opening, list) else None,
        closing_still=list(closing) if isinstance(closing, list) else None,
        title_card_picture=picture if isinstance(picture, str) else None,
        animated_card=list(animated) if isinstance(animated, list) else None,
        moving_credits=list(moving) if isinstance(moving, list) else None,
        title_card_text=lines("title_card_text"), credits_text=lines("credits_text"))


def listed(checks: Sequence[Check]) -> list[Listed]:
    """The failed checks, then the warned ones, as a summary lists them."""
    return [Listed(id=c.id, clause=c.clause, status=c.status, message=c.message)
            for status in ("fail", "warn") for c in checks if c.status == status]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def failure(name: str, exc: BaseException) -> FileOutcome:
    """A file that could not be checked: the pipeline's own message (it names the file and
    what to do), or for anything else the error, marked as the tool's."""
    if isinstance(exc, PipelineError):
        why = str(exc)
    else:
        why = (f"{name}: the check stopped on an unexpected {type(exc).__name__}: {exc} "
               "(a fault of this tool, not of the file as far as it knows: report it with "
               "the file)")
    return FileOutcome(file=name, status="error", error=why)


def folders(files: Sequence[FileOutcome],
            courses: dict[str, tuple[Report, tuple[str, str]]] | None = None,
            where: dict[str, str] | None = None) -> list[FolderSummary]:
    """Per folder (a course on a stick: ``where``, file name → course folder, see
    :func:`course_folders`; else each file's own folder), in the files' order: how many,
    how long in all, which sizes (D4: one per course) and the verdicts; with ``courses``
    (its course report and their keys, tasks/stick_qc.py), the course's verdict, failed and
    warned checks."""
    groups: dict[str, list[FileOutcome]] = {}
    for f in files:
        folder = (where or {}).get(f.file, str(PurePosixPath(f.file).parent))
        groups.setdefault("" if folder == "." else folder, []).append(f)
    out = []
    for name, group in groups.items():
        sizes = sorted({f.resolution for f in group if f.resolution})
        course = (courses or {}).get(name)
        out.append(FolderSummary(
            folder=name, files=len(group),
            duration_s=round(sum(f.duration_s or 0.0 for f in group), 3), resolutions=sizes,
            counts={s: n for s in _ORDER if (n := sum(f.status == s for f in group))},
            status=course[0].status if course else None,
            report=course[1][0] if course else None, page=course[1][1] if course else None,
            failed=[c for c in listed(course[0].checks) if c.status == "fail"]
            if course else [],
            warned=[c for c in listed(course[0].checks) if c.status == "warn"]
            if course else []))
    return out


def reusable(store: Store, keys: tuple[str, str], checked: dict[str, str]) -> Report | None:
    """The report an earlier run wrote for this file, when it was made of the same file,
    profile and code and its page is there too; else None."""
    json_key, html_key = keys
    try:
        if not (store.exists(json_key) and store.exists(html_key)):
            return None
        data = json.loads(store.get_bytes(json_key))
    except (PipelineError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("checked") != checked:
        return None
    try:
        return report_from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


def check_one(item: Found, *, keys: tuple[str, str], store: Store, profile: Profile,
              gpu: bool | None = None, force: bool = False, finished: bool = False,
              intro: IntroPictures | None = None, raw: bool = False) -> FileOutcome:
    """QC ``item`` and write its page, then its JSON report (``keys``) into ``store``; or reuse
    the report an earlier run left there for the same file, profile and code (unless
    ``force``). ``finished``: the file is a finished lecture (a stick's), ``intro``: the
    province's intro it may open with, ``raw``: the file is a raw source (see
    ``tasks.qc.qc_file``). A file the pipeline cannot
    read is an ``error`` line with its message, not an exception; a store that cannot be
    written raises (every file would fail the same way)."""
    from tasks.qc import qc_file

    try:
        checked = fingerprint(item.path, profile, finished=finished,
                              intro=intro.path if intro is not None and finished else None,
                              raw=raw)
        old = None if force else reusable(store, keys, checked)
        if old is not None:
            return outcome(item.name, old, keys=keys, reused=True)
        result = qc_file(item.path, profile=profile, gpu=gpu, name=item.name,
                         finished=finished, intro=intro, raw=raw)
        report = dataclasses.replace(result.report,
                                     extra={**result.report.extra, "checked": checked})
        store.put_bytes(render_html(dataclasses.replace(result, report=report)).encode("utf-8"),
                        keys[1])
        store.put_bytes(report.to_json().encode("utf-8"), keys[0])   # last: it vouches
        return outcome(item.name, report, keys=keys, notes=result.notes)
    except StoreError:
        raise
    except PipelineError as exc:
        return failure(item.name, exc)


check_one_task = task(name="qc-file", cache_policy=NO_CACHE)(check_one)


def line(f: FileOutcome) -> str:
    """One line a person reads in a terminal as each file is done."""
    head = f"{f.status.upper():5}  {f.file}"
    if f.error:
        return f"{head}\n       {f.error}"
    length = f"  {clock(f.duration_s)}" if f.duration_s is not None else ""
    parts = [f"{c.clause} {c.id}" for c in f.failed][:MAX_LISTED]
    more = len(f.failed) - len(parts)
    said = ("  failed: " + ", ".join(parts) + (f" and {more} more" if more > 0 else "")
            if parts else "")
    warned = sum(c.status == "warn" for c in f.checks)
    return (f"{head}{length}{said}" + (f"  ({warned} warning(s))" if warned else "")
            + ("  [earlier report, unchanged]" if f.reused else ""))



