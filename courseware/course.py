"""The course description (``course.yaml``): what a training base hands in with its footage.

Validated on load; an error names the file, the line, the field and what is expected.
Paths in the file are relative to the file's folder. Chinese text everywhere is normal.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from courseware.errors import CourseFileError
from encoder_profiles import load_layouts

SourceRole = Literal["slides", "teacher", "audio"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Contact(_Model):
    name: str = Field(min_length=1, description="联系人")
    phone: str = Field(min_length=5, description="联系方式")
    email: str | None = None


class Lecturer(_Model):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, description="姓名")
    title: str = Field(min_length=1, description="专业技术职务")
    unit: str = Field(min_length=1, description="单位")
    role: str = Field(default="主讲", description="课程中的角色")


#: a source: one file, or the files one recording was split into, in order (a camera
#: starts a new file at 4 GB on a FAT32 card, AVCHD at 2 GB); they play as one
Recording = Path | list[Path]


class Sources(_Model):
    slides: Recording | None = None
    teacher: Recording | None = None
    audio: Recording | None = None
    #: manual start offsets in seconds (source time at lecture t=0), per role
    offsets: dict[SourceRole, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _at_least_one(self) -> Sources:
        if self.slides is None and self.teacher is None:
            raise ValueError("a lecture needs at least a slides or a teacher source (B1)")
        return self

    @field_validator("slides", "teacher", "audio")
    @classmethod
    def _parts(cls, value: Recording | None) -> Recording | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list of files: name the recording's files in order")
            if len(set(value)) < len(value):
                raise ValueError("a file is named twice among the recording's parts")
        return value

    def items(self) -> list[tuple[SourceRole, tuple[Path, ...]]]:
        """Each source by role: its file, or the files its recording was split into."""
        pairs: list[tuple[SourceRole, Recording | None]] = [
            ("slides", self.slides), ("teacher", self.teacher), ("audio", self.audio)]
        return [(role, tuple(paths) if isinstance(paths, list) else (paths,))
                for role, paths in pairs if paths is not None]


def _known_layout(name: str) -> str:
    known = load_layouts()
    if name not in known:
        raise ValueError(f"unknown layout {name!r}: use one of {sorted(known)}")
    return name


class LayoutSwitch(_Model):
    """From ``at`` (seconds on the sources' timeline, as the lecture's ``start``) on, use
    ``layout``."""

    at: float = Field(description="seconds on the sources' timeline (as the lecture's start)")
    layout: str

    @field_validator("layout")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_layout(value)


class Lecture(_Model):
    number: int = Field(ge=1, description="讲次")
    title: str = Field(min_length=1)
    lecturer: str = Field(min_length=1, description="id of an entry in lecturers")
    sources: Sources
    subtitles: Path | None = None
    layout: str | None = None
    #: optional layout changes during the lecture, in increasing time
    layout_switches: list[LayoutSwitch] = Field(default_factory=list)
    #: where the lecture begins, in seconds on the sources' timeline (0: where every source
    #: has started, as a render without it begins): what comes before it (setting up) is
    #: left out. Negative: before the last source started (a camera switched on late joins
    #: the layout where it begins). ``end`` and the layout switches are on that timeline too
    start: float = Field(default=0.0, description="seconds on the sources' timeline")
    #: where the lecture ends (None: where its sources do): what the sources run on after it
    #: is left out (a camera left running after the class)
    end: float | None = Field(default=None, gt=0, description="seconds on the sources' timeline")
    summary: str | None = None

    @field_validator("layout")
    @classmethod
    def _layout_known(cls, value: str | None) -> str | None:
        return None if value is None else _known_layout(value)

    @field_validator("layout_switches")
    @classmethod
    def _increasing(cls, value: list[LayoutSwitch]) -> list[LayoutSwitch]:
        times = [s.at for s in value]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"layout switch times must increase, got {times}")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> Lecture:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end:g} s) must come after start ({self.start:g} s)")
        return self

    @property
    def label(self) -> str:
        return f"第{self.number}讲 {self.title}"


class CourseInfo(_Model):
    name: str = Field(min_length=1, max_length=100, description="科目名称")
    kind: Literal["public", "professional"]
    hours: int = Field(gt=0)
    level: Literal["初级", "中级", "高级"] | None = None
    speciality: str | None = Field(default=None, description="申报专业")
    applying_unit: str = Field(min_length=1, description="申报单位")
    production_unit: str = Field(min_length=1, description="制作单位")
    recording_date: dt.date
    contact: Contact
    intro: Path | None = Field(default=None, description="provincial opening clip (A3)")
    bank: Path | None = Field(default=None, description="question bank, CSV or XLSX (Q1, D11)")
    summary: str | None = None

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if re.search(r"[\x00-\x1f\x7f]", value):
            raise ValueError("control characters are not allowed in the course name")
        return value

    @model_validator(mode="after")
    def _professional_fields(self) -> CourseInfo:
        if self.kind == "professional" and (self.level is None or not self.speciality):
            raise ValueError("professional courses need level (初级/中级/高级) and speciality")
        return self


class CourseModel(_Model):
    course: CourseInfo
    lecturers: list[Lecturer] = Field(min_length=1)
    lectures: list[Lecture] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CourseModel:
        ids = [lect.id for lect in self.lecturers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"lecturer ids must be unique, got {ids}")
        numbers = [lec.number for lec in self.lectures]
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            raise ValueError(
                f"lecture numbers must be 1…{len(numbers)} without gaps, got {numbers}")
        for i, lec in enumerate(self.lectures):
            if lec.lecturer not in ids:
                raise ValueError(
                    f"lectures[{i}].lecturer {lec.lecturer!r} is not one of the lecturers {ids}")
        return self


@dataclass(frozen=True)
class Course:
    """A validated course: the model plus the folder its relative paths start from."""

    model: CourseModel
    path: Path

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def info(self) -> CourseInfo:
        return self.model.course

    @property
    def lectures(self) -> list[Lecture]:
        return sorted(self.model.lectures, key=lambda lec: lec.number)

    def lecturer(self, lecture: Lecture) -> Lecturer:
        return next(x for x in self.model.lecturers if x.id == lecture.lecturer)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    def named_files(self) -> list[tuple[str, Path, Lecture | None]]:
        """Every file the course file names, resolved: (role, path, lecture or None), in
        course order; roles: slides, teacher, audio, subtitles, intro, bank."""
        out: list[tuple[str, Path, Lecture | None]] = []
        for lec in self.lectures:
            out += [(role, self.resolve(path), lec) for role, paths in lec.sources.items()
                    for path in paths]
            if lec.subtitles is not None:
                out.append(("subtitles", self.resolve(lec.subtitles), lec))
        if self.info.intro is not None:
            out.append(("intro", self.resolve(self.info.intro), self.lecture(1)))
        if self.info.bank is not None:
            out.append(("bank", self.resolve(self.info.bank), None))
        return out

    def lecture(self, number: int) -> Lecture:
        for lec in self.model.lectures:
            if lec.number == number:
                return lec
        raise CourseFileError(f"{self.path}: there is no lecture {number}")


def load_course(path: Path) -> Course:
    """Read and validate a course file; raise CourseFileError naming line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CourseFileError(f"{path}: course file not found") from exc
    except UnicodeDecodeError as exc:
        raise CourseFileError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise CourseFileError(f"{path}: {where}: not valid YAML: {exc.problem}") from exc
    if not isinstance(data, dict):
        raise CourseFileError(f"{path}: expected a mapping with course, lecturers and lectures")
    try:
        model = CourseModel.model_validate(data)
    except ValidationError as exc:
        raise CourseFileError(_explain(path, exc, node)) from exc
    return Course(model=model, path=path.resolve())


def _explain(path: Path, exc: ValidationError, node: yaml.Node | None) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the course file:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = _dotted(loc)
        line = _line_of(node, loc)
        where = f"line {line}: " if line else ""
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (found {got!r})"
        lines.append(f"  {where}{field or '(top level)'}: {_plain(err)}{shown}")
    return "\n".join(lines)


def _plain(err: Any) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field (check the spelling against the template)"
    return str(msg).removeprefix("Value error, ")


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on the path ``loc``."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        best = node.start_mark.line + 1
    return best
