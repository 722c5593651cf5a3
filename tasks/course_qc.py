"""The course report: the ``course.*`` checks of the QC report contract (shared/DESIGN.md),
one report per course that the media team can forward.

Everything is measured from what was published, not trusted from the course file: each
lecture file is probed (duration, size, aspect, the ``format.*`` verdict) and its first and
last pictures are decoded and compared with the configured intro and with the title card and
credits drawn afresh from the course file; the preview and the question bank are read back;
the manifest's sizes and SHA-256 are compared with the stored objects. Each lecture's
integrated loudness is read from its published QC report, or measured from the file where
there is none.

Order of publication (flows/course.py): lectures → preview, form, bank → ``manifest.json``
(written last by tasks/package.py; it lists the course's objects) → root listing → **this
report**, as ``课程质检报告.json`` and ``课程质检报告.html`` in the course folder. The report
checks the manifest (D1), so it is written after it and is not one of the objects the
manifest lists (tasks.package leaves these two names out, so a rerun's manifest does not go
stale when the report is rewritten); the course flow records its keys in ``CourseOutcome``.
The report holds no clock time: a rerun that changes nothing rewrites nothing.

Event times of course checks are on the course timeline: the lectures played one after
another in lecture order (lecture n starts at the sum of the durations before it); each
event's text names the lecture (and, for a card, the time inside its own file).
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypedDict

import av
import cv2
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from courseware.bank import KIND_NAMES, load_bank, validate_bank
from courseware.cards import credits_lines, render_card, title_card_lines
from courseware.compose import fit
from courseware.course import Course, Lecture
from courseware.errors import BankError, CorruptMediaError, FontError, MissingSourceError
from courseware.fonts import FontFace, find_face
from courseware.html_report import clock
from courseware.media import AudioFeed, cfr_frames, open_media, rgb_to_frame
from courseware.probe import probe_media
from courseware.report import Check, Event, Report, Status, overall
from courseware.store import Store, open_store
from encoder_profiles import Profile, Structure
from qc_metrics.format import check_format
from qc_metrics.loudness import LoudnessMeter
from tasks.cache import STORAGE_RETRIES, read_marker
from tasks.package import COURSE_REPORT_HTML, COURSE_REPORT_JSON, MANIFEST, ROOT_TEXT, preview_key
from tasks.publish import course_prefix, lecture_key
from tasks.render import source_sar

#: pictures are compared as luma, area-averaged to this width (height by the frame's aspect),
#: block by block: the block that differs most decides (one changed word shows, coding
#: noise spread over the picture does not). Figures measured on lectures rendered at the
#: delivery bit rate (x264 frame threads), 320-px pictures:
ANALYSIS_WIDTH = 320
#: a still: every frame within this worst-block (16 px) mean |ΔY'| (8-bit codes) of the
#: first. Frames of a held card ≤ 2.4; a cut to the lecture ≈ 180
STILL_BLOCK_PX, STILL_CODES = 16, 10.0
#: the same picture as a card drawn from the course file: worst-block (8 px) mean |ΔY'| up
#: to this, taken at the still's best frame (≤ 0.3; its first, coded from scratch, ≤ 3.4);
#: one changed digit on a card ≈ 9, another lecture's card ≈ 45
CARD_BLOCK_PX, SAME_PICTURE_CODES = 8, 5.0
#: an opening is the intro when the mean |ΔY'| over the intro's frames is at most this
#: (rendered intro ≈ 0.1; a title card against a similar dark-blue intro card ≈ 16)
INTRO_MAD_CODES = 5.0
#: the listed duration (manifest, root listing) and the file's may differ by this much
LISTED_DURATION_SLACK_S = 1.0
#: course-report objects beside the manifest (see the module doc)
REPORT_NAMES = (COURSE_REPORT_JSON, COURSE_REPORT_HTML)
#: the A1/A2 checks of lecture length: what a course of short test lectures fails
DURATION_CHECKS = ("course.lecture_count", "course.lecture_duration", "course.total_hours")
PREVIEW_PREFIX = "课程预览_"
#: S4 from one lecture to the next: a lecture whose integrated loudness lies further than
#: this from the course's median is named (a learner going on to it hears the level jump;
#: EBU R128 holds programmes to ±1 LU of one target, within ±2 LU few listeners notice)
COURSE_LOUDNESS_LU = 2.0
MAX_LISTED = 5  # problems named in one message; the rest are counted

Kind = Literal["public", "professional"]


# ------------------------------------------------------------------------------ measures

@dataclass(frozen=True)
class LectureMeasure:
    """What was measured on one published lecture file (None: not measured, see ``error``)."""

    number: int
    title: str
    key: str
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    display_aspect: tuple[int, int] | None = None
    format_status: str | None = None  # the format (D2–D10) verdict measured now
    format_failed: tuple[str, ...] = ()
    qc_status: str | None = None  # the full QC verdict in the published <lecture>.qc.json
    qc_json: str | None = None  # keys of the lecture's published reports
    qc_html: str | None = None
    intro_mad: float | None = None  # opening vs the intro: mean |ΔY'| over the intro's frames
    intro_frames: int = 0
    card_start_s: float | None = None  # where the still first picture starts (after an intro)
    card_s: float | None = None  # how long it stays the same picture
    card_capped: bool = False  # still when the look ended: at least card_s
    card_animated: bool = False  # the card moves (from its start to a cut: card_s)
    card_diff: float | None = None  # that picture vs the card drawn from the course file
    credits_s: float | None = None  # closing span that is the credits card (0: none)
    credits_capped: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()  # the render's, from the lecture's done-marker
    loudness_lufs: float | None = None  # integrated (BS.1770-4); None: silent or not measured
    loudness_from: str | None = None  # "report" (its published QC report) or "file"

    @property
    def label(self) -> str:
        return f"第{self.number}讲 《{self.title}》"

    @property
    def size(self) -> str | None:
        if self.width is None or self.height is None:
            return None
        aspect = (f" ({self.display_aspect[0]}:{self.display_aspect[1]})"
                  if self.display_aspect else "")
        return f"{self.width}x{self.height}{aspect}"


@dataclass(frozen=True)
class PreviewMeasure:
    key: str
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    display_aspect: tuple[int, int] | None = None
    format_status: str | None = None
    format_failed: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class BankMeasure:
    key: str | None  # the published bank; None: none in the course folder
    counts: dict[str, int] = field(default_factory=dict)
    issues: tuple[str, ...] = ()
    error: str | None = None


class LectureRow(TypedDict):
    """One row of the report's per-lecture table (``lectures`` in the JSON)."""

    number: int
    title: str
    key: str
    duration_s: float | None
    resolution: str | None
    format: str | None
    qc: str | None
    qc_json: str | None  # relative to the course report: the file name in the same folder
    qc_html: str | None
    intro: bool | None
    title_card_s: float | None
    credits_s: float | None
    error: str | None
    warnings: list[str]  # what the render said about the sources (from the done-marker)


# ------------------------------------------------------------------------------ pictures

def analysis_size(width: int, height: int) -> tuple[int, int]:
    w = min(ANALYSIS_WIDTH, width)
    return w, max(1, round(w * height / width))


def luma(frame: av.VideoFrame, size: tuple[int, int],
         region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The frame's luma (Y', 8-bit codes), optionally cropped to ``region`` (x, y, w, h),
    area-averaged to ``size``; float32."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    y = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    y = y[: frame.height, : frame.width]
    if region is not None:
        x0, y0, w, h = region
        y = y[y0: y0 + h, x0: x0 + w]
    return cv2.resize(y, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def picture_difference(a: np.ndarray, b: np.ndarray, *, block: int) -> float:
    """Worst-block mean |ΔY'| of two analysis pictures, in ``block``-px squares."""
    d = np.abs(a - b)
    h, w = d.shape
    bh, bw = max(1, h // block), max(1, w // block)
    hh, ww = min(h, bh * block), min(w, bw * block)
    blocks = d[:hh, :ww].reshape(bh, hh // bh, bw, ww // bw).mean(axis=(1, 3))
    return float(blocks.max())


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def _frames(container: av.container.InputContainer, *, start_s: float = 0.0,
            ) -> Iterator[tuple[float, av.VideoFrame]]:
    """(time, frame) of the first video stream from ``start_s`` (seeking to a key frame
    before it, then decoding forward)."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = float(stream.average_rate or 25)
    if start_s > 0:
        container.seek(int(start_s / float(stream.time_base or 1e-6)), stream=stream,
                       backward=True)
    for i, frame in enumerate(container.decode(stream)):
        t = frame.time if frame.time is not None else i / rate
        if t >= start_s - 1e-6:
            yield t, frame


#: the intro in a lecture picture: its region (x, y, w, h), analysis size, analysis pictures
_Placed = tuple[tuple[int, int, int, int], tuple[int, int], list[np.ndarray]]


class IntroPictures:
    """A3: the province's intro clip, decoded once as the render puts it in (constant ``fps``),
    as analysis pictures; a frame held by the constant-rate reader is looked at once. Raises
    CorruptMediaError when it cannot be read or has no pictures."""

    def __init__(self, path: Path, *, fps: int) -> None:
        self.path, self.fps = path, fps
        sar = source_sar(path)
        size: tuple[int, int] | None = None
        first: av.VideoFrame | None = None
        frames: list[np.ndarray] = []
        try:
            for frame in cfr_frames(path, fps=fps):
                if frame is None:
                    continue
                if first is None:
                    first = frame
                    size = analysis_size(round(frame.width * sar), frame.height)
                assert size is not None
                frames.append(luma(frame, size))
        except av.FFmpegError as exc:
            raise CorruptMediaError(f"{path}: the intro cannot be decoded ({exc})") from exc
        if first is None or size is None:
            raise CorruptMediaError(f"{path}: the intro has no video frames")
        self._size, self._frames = size, frames
        self._shape, self._sar = (first.width, first.height), sar

    @property
    def duration_s(self) -> float:
        return len(self._frames) / self.fps

    @property
    def frames(self) -> int:
        return len(self._frames)

    def placed(self, width: int, height: int) -> _Placed:
        """Where the intro sits in a ``width``×``height`` picture (fitted as the render fits
        it), the analysis size and the intro's analysis pictures."""
        slot = fit((0, 0, width, height), *self._shape, self._sar, source="intro")
        return (slot.x, slot.y, slot.w, slot.h), self._size, self._frames


def load_intro(path: Path, *, fps: int) -> IntroPictures:
    """The province's intro a person gave (``--intro``), or an error naming it and what to
    give instead."""
    fix = "give the province's intro clip (统一片头) as downloaded from its portal"
    if not path.is_file():
        raise MissingSourceError(f"the intro {path} is not there: {fix}")
    try:
        return IntroPictures(path, fps=fps)
    except CorruptMediaError as exc:
        raise CorruptMediaError(f"the intro (--intro): {exc}; {fix}") from exc


def intro_difference(path: Path, intro: IntroPictures, *, label: str | None = None,
                     shift: int = 0) -> tuple[float, int]:
    """How far the opening of ``path`` is from ``intro``: the mean |ΔY'| (8-bit codes) over
    the intro's frames, each against the file's frame at the same place, or up to ``shift``
    frames later or earlier (another tool's render may lead with a black frame or two, or
    trim one), the best of those places; frames the file lacks count as fully different.
    At most ``INTRO_MAD_CODES``: the file opens with the intro, ``shift`` frames in (the
    second value)."""
    with open_media(path, lecture=label) as container:
        stream = container.streams.video[0]
        region, size, ref = intro.placed(stream.codec_context.width,
                                         stream.codec_context.height)
        head = [luma(frame, size, region) for _, frame in
                itertools.islice(_frames(container), len(ref) + shift)]
    return min(((_intro_mad(head, ref, s), s) for s in range(-shift, shift + 1)),
               key=lambda m: (m[0], abs(m[1])))


def _intro_mad(head: Sequence[np.ndarray], ref: Sequence[np.ndarray], shift: int) -> float:
    """Mean |ΔY'| of the intro's pictures ``ref`` against a file's first pictures ``head``,
    the intro ``shift`` frames in; frames the file lacks (a lecture shorter than the intro,
    an intro trimmed at its start) count as fully different."""
    pairs = [(head[i + shift], ref[i]) for i in range(max(0, -shift), len(ref))
             if i + shift < len(head)]
    total = sum(mean_difference(a, b) for a, b in pairs)
    return (total + 255.0 * (len(ref) - len(pairs))) / max(len(ref), 1)


class _Pictures:
    """The reference pictures of a course: cards drawn once per frame size, the intro decoded
    once (call :meth:`load_intro` first; it raises when the intro cannot be read)."""

    def __init__(self, course: Course, *, font: FontFace | None, intro: Path | None,
                 fps: int) -> None:
        self.course, self.font, self.intro, self.fps = course, font, intro, fps
        self._cards: dict[tuple[int, int, int], np.ndarray] = {}
        self._credits: dict[tuple[int, int], np.ndarray] = {}
        self._intro: IntroPictures | None = None

    def load_intro(self) -> None:
        """A3: the intro's pictures (:class:`IntroPictures`)."""
        if self.intro is not None:
            self._intro = IntroPictures(self.intro, fps=self.fps)

    def card(self, lecture: Lecture, width: int, height: int) -> np.ndarray | None:
        """A4: the title card as the render draws it from the course file."""
        if self.font is None:
            return None
        key = (lecture.number, width, height)
        if key not in self._cards:
            who = self.course.lecturer(lecture)
            rgb = render_card(
                title_card_lines(course=self.course.info.name, number=lecture.number,
                                 title=lecture.title, lecturer=who.name,
                                 lecturer_title=who.title, unit=who.unit),
                width=width, height=height, font=self.font,
                what=f"the title card of 第{lecture.number}讲")
            self._cards[key] = luma(rgb_to_frame(rgb), analysis_size(width, height))
        return self._cards[key]

    def credits(self, width: int, height: int) -> np.ndarray | None:
        """A5: the closing credits as the render draws them from the course file."""
        if self.font is None:
            return None
        if (width, height) not in self._credits:
            info = self.course.info
            rgb = render_card(
                credits_lines(course=info.name, production_unit=info.production_unit,
                              recording_date=info.recording_date.strftime("%Y年%m月%d日"),
                              applying_unit=info.applying_unit),
                width=width, height=height, font=self.font, what="the closing credits")
            self._credits[(width, height)] = luma(rgb_to_frame(rgb),
                                                  analysis_size(width, height))
        return self._credits[(width, height)]

    def intro_frames(self, width: int, height: int) -> _Placed | None:
        """The intro placed in a ``width``×``height`` picture; None without an intro."""
        return self._intro.placed(width, height) if self._intro is not None else None


def measure_pictures(path: Path, lecture: Lecture, *, duration_s: float, width: int,
                     height: int, pictures: _Pictures, profile: Profile) -> dict[str, Any]:
    """The opening (intro, title card) and the ending (credits) of one lecture file."""
    s, enc = profile.structure, profile.encode
    size = analysis_size(width, height)
    out: dict[str, Any] = {}
    intro = pictures.intro_frames(width, height)
    n_intro = len(intro[2]) if intro is not None else 0
    look = math.ceil(2 * s.title_card_max_s * pictures.fps)  # long enough to see "too long"
    head: list[tuple[float, np.ndarray]] = []
    opening: list[np.ndarray] = []       # the first frames where the intro is placed
    with open_media(path, lecture=lecture.label) as container:
        for i, (t, frame) in enumerate(_frames(container)):
            if i >= n_intro + look:
                break
            head.append((t, luma(frame, size)))
            if intro is not None and i < n_intro:
                region, intro_size, _ = intro
                opening.append(luma(frame, intro_size, region))
    if intro is not None:
        out["intro_mad"] = _intro_mad(opening, intro[2], 0)
        out["intro_frames"] = n_intro
    opens_with_intro = intro is not None and out["intro_mad"] <= INTRO_MAD_CODES
    start = n_intro if opens_with_intro else 0
    if start < len(head):  # A4: the still that opens the lecture, and whether it is the card
        end = _still_end(head, start)
        t0 = head[start][0]
        t_end = head[end][0] if end < len(head) else head[end - 1][0] + 1 / pictures.fps
        out["card_start_s"] = t0
        out["card_s"] = round(t_end - t0, 3)
        out["card_capped"] = end == len(head) and len(head) == n_intro + look
        expected = pictures.card(lecture, width, height)
        if expected is not None:
            out["card_diff"] = _best_match(head[start:end], expected)
    credits = pictures.credits(width, height)
    if credits is not None:  # A5: the still that ends the lecture, and whether it is the credits
        begin = max(0.0, duration_s - 2 * enc.credits_s)
        with open_media(path, lecture=lecture.label) as container:
            tail = [(t, luma(frame, size)) for t, frame in _frames(container, start_s=begin)]
        tail.reverse()
        if tail:
            end = _still_end(tail, 0)
            if _best_match(tail[:end], credits) <= SAME_PICTURE_CODES:
                out["credits_s"] = round(tail[0][0] + 1 / pictures.fps - tail[end - 1][0], 3)
                out["credits_capped"] = end == len(tail)
            else:
                out["credits_s"] = 0.0
    return out


def _still_end(frames: Sequence[tuple[float, np.ndarray]], start: int) -> int:
    """Index after the run of frames from ``start`` that stay the picture at ``start``."""
    ref, end = frames[start][1], start + 1
    while end < len(frames) and picture_difference(
            frames[end][1], ref, block=STILL_BLOCK_PX) <= STILL_CODES:
        end += 1
    return end


def _best_match(frames: Sequence[tuple[float, np.ndarray]], expected: np.ndarray) -> float:
    """How far a still is from ``expected`` at its best frame (coding settles after the
    first frames of a still), looking at about ten frames spread over it."""
    step = max(1, len(frames) // 10)
    return min(picture_difference(f, expected, block=CARD_BLOCK_PX) for _, f in frames[::step])


def measure_lecture(path: Path, lecture: Lecture, *, key: str, pictures: _Pictures,
                    profile: Profile) -> LectureMeasure:
    """Probe and look at one lecture file; a file that cannot be read gives ``error``."""
    base = LectureMeasure(number=lecture.number, title=lecture.title, key=key)
    try:
        probe = probe_media(path, window_s=profile.delivery.bitrate_window_s,
                            lecture=lecture.label)
        checks = check_format(probe, profile)
        video = probe.video
        values: dict[str, Any] = {
            "duration_s": probe.duration_s, "format_status": overall(checks),
            "format_failed": tuple(c.id for c in checks if c.status == "fail")}
        if video is None:
            return _replace(base, values, error=f"{key}: has no video stream")
        values |= {"width": video.width, "height": video.height,
                   "display_aspect": video.display_aspect}
        values |= measure_pictures(path, lecture, duration_s=probe.duration_s,
                                   width=video.width, height=video.height, pictures=pictures,
                                   profile=profile)
    except (CorruptMediaError, av.FFmpegError) as exc:
        return _replace(base, {}, error=f"{key}: cannot be read ({_clean(exc, path, key)})")
    return _replace(base, values)


def _replace(base: LectureMeasure, values: dict[str, Any], *,
             error: str | None = None) -> LectureMeasure:
    changes: dict[str, Any] = {**values, **({"error": error} if error is not None else {})}
    return replace(base, **changes)


def _clean(exc: BaseException, path: Path, key: str) -> str:
    """The message without a temporary download path (reports name store keys)."""
    return str(exc).replace(str(path), key)


# ------------------------------------------------------------------------------ checks

def _offsets(lectures: Sequence[LectureMeasure]) -> dict[int, float]:
    """Where each lecture starts on the course timeline."""
    out, t = {}, 0.0
    for m in sorted(lectures, key=lambda x: x.number):
        out[m.number] = t
        t += m.duration_s or 0.0
    return out


def _listed(items: Sequence[str]) -> str:
    shown = "; ".join(items[:MAX_LISTED])
    return shown + (f"; and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def structure_clause(kind: Kind) -> str:
    return "A1" if kind == "public" else "A2"


def lecture_count_range(hours: float, structure: Structure) -> tuple[int, int]:
    """A2: how many lectures of lecture_minutes ± tolerance make up ``hours``."""
    minutes, lm, tol = hours * 60, structure.lecture_minutes, structure.lecture_tolerance
    return (math.ceil(minutes / (lm * (1 + tol)) - 1e-9),
            math.floor(minutes / (lm * (1 - tol)) + 1e-9))


def check_lecture_count(*, kind: Kind, hours: int, count: int, structure: Structure) -> Check:
    """A1: a public course has exactly ``public_lectures`` lectures (``public_hours`` hours);
    A2: a professional course has one of ``professional_hours`` and about one lecture per
    ``lecture_minutes`` of them."""
    s, problems = structure, []
    if kind == "public":
        lo = hi = s.public_lectures
        if count != s.public_lectures:
            problems.append(f"{count} lectures; a public course (公需课) has exactly "
                            f"{s.public_lectures} (A1): add or merge lectures")
        if hours != s.public_hours:
            problems.append(f"the course file says {hours} hours; a public course has "
                            f"{s.public_hours} (A1): correct course.hours")
    else:
        allowed = "/".join(str(h) for h in s.professional_hours)
        if hours not in s.professional_hours:
            problems.append(f"the course file says {hours} hours; a professional course "
                            f"(专业课) has {allowed} (A2): correct course.hours or the course")
        lo, hi = lecture_count_range(hours, s)
        if not lo <= count <= hi:
            want = f"{lo}" if lo == hi else f"{lo}–{hi}"
            problems.append(
                f"{count} lectures for {hours} hours; at about {s.lecture_minutes:g} min "
                f"(±{s.lecture_tolerance:.0%}) a lecture, that is {want} lectures (A2): "
                "split or merge lectures")
    threshold = f"{lo}" if lo == hi else f"{lo}–{hi}"
    status: Status = "fail" if problems else "pass"
    message = ("; ".join(problems) if problems else
               f"{count} lectures for a {hours}-hour {kind} course, as "
               f"{structure_clause(kind)} asks")
    return Check("course.lecture_count", structure_clause(kind), status, count, threshold,
                 "lectures", message)


def check_lecture_duration(lectures: Sequence[LectureMeasure], *, kind: Kind | None,
                           structure: Structure) -> Check:
    """A1/A2: every lecture lasts lecture_minutes ± lecture_tolerance (the probed file,
    intro, title card and credits included: that is what the learner sits through).
    ``kind`` None: a course whose kind is not known (a stick without its course file)."""
    s = structure
    lo = s.lecture_minutes * (1 - s.lecture_tolerance)
    hi = s.lecture_minutes * (1 + s.lecture_tolerance)
    offsets = _offsets(lectures)
    events, worst = [], None
    for m in sorted(lectures, key=lambda x: x.number):
        start = offsets[m.number]
        if m.duration_s is None:
            events.append(Event(start, start, f"{m.label}: not measured ({m.error or 'no file'}); "
                                "publish the lecture"))
            continue
        minutes = m.duration_s / 60
        if worst is None or abs(minutes - s.lecture_minutes) > abs(worst - s.lecture_minutes):
            worst = minutes
        if not lo <= minutes <= hi:
            what = "re-cut or record more" if minutes < lo else "split it"
            events.append(Event(start, start + m.duration_s, (
                f"{m.label}: {minutes:.1f} min ({clock(m.duration_s)}), outside "
                f"{lo:g}–{hi:g} min: {what}")))
    threshold = f"{lo:g}–{hi:g}"
    clause = structure_clause(kind) if kind is not None else "A1/A2"
    measured = None if worst is None else round(worst, 2)
    if not events:
        durations = [m.duration_s / 60 for m in lectures if m.duration_s is not None]
        message = (f"all {len(durations)} lectures last {lo:g}–{hi:g} min "
                   f"({min(durations):.1f}–{max(durations):.1f} min), as {clause} asks"
                   if durations else "no lectures")
        return Check("course.lecture_duration", clause, "pass" if durations else "fail",
                     measured, threshold, "min", message)
    message = (f"{len(events)} of {len(lectures)} lectures are not about "
               f"{s.lecture_minutes:g} min (±{s.lecture_tolerance:.0%}, {clause}): "
               + _listed([e.detail for e in events]))
    return Check("course.lecture_duration", clause, "fail", measured, threshold, "min",
                 message, tuple(events))


def check_total_hours(*, kind: Kind, hours: int, total_s: float, structure: Structure,
                      missing: int = 0) -> Check:
    """A1/A2: the lectures add up to the course's hours (± lecture_tolerance); a public
    course to public_hours whatever the course file says."""
    s = structure
    want = s.public_hours if kind == "public" else hours
    lo, hi = want * (1 - s.lecture_tolerance), want * (1 + s.lecture_tolerance)
    measured = total_s / 3600
    clause = structure_clause(kind)
    ok = lo <= measured <= hi and missing == 0
    gap = (f" ({missing} lecture(s) not measured)" if missing else "")
    if ok:
        message = f"{measured:.2f} h in all, within {lo:g}–{hi:g} h of {want} h ({clause})"
    else:
        message = (f"{measured:.2f} h in all ({clock(total_s)}){gap}; a course of {want} hours "
                   f"needs {lo:g}–{hi:g} h ({clause}): "
                   + ("record more" if measured < lo else "shorten or re-plan the course"))
    return Check("course.total_hours", clause, "pass" if ok else "fail", round(measured, 3),
                 f"{lo:g}–{hi:g}", "h", message)


def length_checks(course: Course, lectures: Sequence[LectureMeasure], profile: Profile
                  ) -> tuple[Check, Check, Check]:
    """A1/A2 from the lectures' lengths: how many lectures, each one's length, the hours."""
    info, s = course.info, profile.structure
    return (
        check_lecture_count(kind=info.kind, hours=info.hours, count=len(course.lectures),
                            structure=s),
        check_lecture_duration(lectures, kind=info.kind, structure=s),
        check_total_hours(kind=info.kind, hours=info.hours,
                          total_s=sum(m.duration_s or 0.0 for m in lectures), structure=s,
                          missing=sum(m.duration_s is None for m in lectures)))


def check_uniform_resolution(lectures: Sequence[LectureMeasure],
                             preview: PreviewMeasure | None) -> Check:
    """D4/D5: every lecture and the preview share one resolution and one display aspect."""
    offsets = _offsets(lectures)
    items = [(m.label, m.size, offsets[m.number]) for m in lectures]
    if preview is not None and preview.width is not None and preview.height is not None:
        aspect = (f" ({preview.display_aspect[0]}:{preview.display_aspect[1]})"
                  if preview.display_aspect else "")
        items.append((f"the preview {preview.key.rsplit('/', 1)[-1]}",
                      f"{preview.width}x{preview.height}{aspect}", 0.0))
    sizes = Counter(size for _, size, _ in items if size is not None)
    unmeasured = [label for label, size, _ in items if size is None]
    if not sizes:
        return Check("course.uniform_resolution", "D4/D5", "fail", None, "one size per course",
                     "", "no published lecture could be measured")
    first = next(size for _, size, _ in items if size is not None)
    common = max(sizes, key=lambda k: (sizes[k], k == first))
    odd = [(label, size, t) for label, size, t in items if size is not None and size != common]
    events = tuple(Event(t, t, f"{label} is {size}; the rest of the course is {common}: "
                               f"render it again at {common.split(' ')[0]}")
                   for label, size, t in odd)
    note = f"; not measured: {', '.join(unmeasured)}" if unmeasured else ""
    if odd:
        measured = f"{len(sizes)} sizes: " + ", ".join(f"{k} ×{n}" for k, n in sizes.items())
        message = ("a course has one resolution and one aspect ratio (D4, D5): "
                   + _listed([e.detail for e in events]) + note)
        return Check("course.uniform_resolution", "D4/D5", "fail", measured,
                     "one size per course", "", message, events)
    status: Status = "warn" if unmeasured else "pass"
    return Check("course.uniform_resolution", "D4/D5", status, common, "one size per course",
                 "", f"all {len(items) - len(unmeasured)} files are {common} (D4, D5){note}")


def check_loudness(lectures: Sequence[LectureMeasure]) -> Check:
    """S4 ("no volume swinging loud and soft") from one lecture to the next: every lecture's
    integrated loudness within ``COURSE_LOUDNESS_LU`` of the course's median."""
    offsets = _offsets(lectures)
    have = [(m, m.loudness_lufs) for m in lectures if m.loudness_lufs is not None]
    silent = [m.label for m in lectures if m.loudness_lufs is None and m.error is None]
    note = f"; no sound to measure in {', '.join(silent)}" if silent else ""
    if len(have) < 2:
        return Check("course.loudness", "S4", "skip", None, COURSE_LOUDNESS_LU, "LU",
                     f"fewer than two lectures with sound to compare{note}")
    median = float(np.median([v for _, v in have]))
    worst = max(abs(v - median) for _, v in have)
    reports = sum(m.loudness_from == "report" for m, _ in have)
    source = (f"{reports} from the lectures' QC reports, {len(have) - reports} measured here"
              if 0 < reports < len(have) else "from the lectures' QC reports" if reports
              else "measured here")
    odd = [(m, v) for m, v in have if abs(v - median) > COURSE_LOUDNESS_LU]
    if not odd:
        return Check("course.loudness", "S4", "pass", round(worst, 2), COURSE_LOUDNESS_LU,
                     "LU", f"all {len(have)} lectures within ±{COURSE_LOUDNESS_LU:g} LU of the "
                     f"course's {median:.1f} LUFS (integrated, BS.1770-4; {source}){note}")
    events = tuple(Event(offsets[m.number], offsets[m.number],
                         f"{m.label} at {v:.1f} LUFS, {v - median:+.1f} LU from the course's "
                         f"{median:.1f} LUFS") for m, v in odd)
    return Check("course.loudness", "S4", "warn", round(worst, 2), COURSE_LOUDNESS_LU, "LU",
                 f"a learner going on from one lecture to the next hears the level jump (S4: "
                 f"no volume swinging loud and soft): {_listed([e.detail for e in events])}; "
                 "bring the lectures to one loudness (the pipeline renders every lecture of a "
                 f"course at one target) ({source}){note}", events)


def card_fields(course: Course, lecture: Lecture) -> dict[str, str]:
    """A4: the five fields a title card shows, from the course file."""
    who = course.lecturer(lecture)
    return {"课程名称 course name": course.info.name, "讲次 lecture number": str(lecture.number),
            "姓名 lecturer's name": who.name, "专业技术职务 professional title": who.title,
            "单位 unit": who.unit}


def check_title_card(course: Course, lectures: Sequence[LectureMeasure], *,
                     structure: Structure) -> Check:
    """A4: every lecture opens (after the intro on lecture 1) with a still card of at most
    title_card_max_s that shows the five fields of the course file."""
    limit = structure.title_card_max_s
    offsets = _offsets(lectures)
    events: list[Event] = []
    unverified = []
    for m in sorted(lectures, key=lambda x: x.number):
        t0 = offsets[m.number]
        empty = [name for name, value in card_fields(course, course.lecture(m.number)).items()
                 if not value.strip()]
        if empty:
            events.append(Event(t0, t0, f"{m.label}: the course file gives no "
                                f"{', '.join(empty)} for the card (A4): fill them in"))
        if m.card_s is None or m.card_start_s is None:
            events.append(Event(t0, t0, f"{m.label}: opening not measured "
                                f"({m.error or 'no file'})"))
            continue
        at = f"at {m.card_start_s:.2f} s"
        span = (t0 + m.card_start_s, t0 + m.card_start_s + m.card_s)
        if m.card_diff is None:
            unverified.append(m.label)
        elif m.card_diff > SAME_PICTURE_CODES:
            events.append(Event(*span, (
                f"{m.label}: the picture {at} is not its title card (differs by "
                f"{m.card_diff:.0f} codes from the card drawn from the course file): the card "
                "is missing or shows other text; render the lecture again")))
            continue
        if m.card_s > limit + 1e-6:
            held = f"at least {m.card_s:.1f}" if m.card_capped else f"{m.card_s:.2f}"
            events.append(Event(*span, f"{m.label}: the title card {at} stays {held} s, longer "
                                       f"than {limit:g} s (A4): shorten it"))
    spans = [m.card_s for m in lectures if m.card_s is not None]
    measured = round(max(spans), 3) if spans else None
    if events:
        return Check("course.title_card", "A4", "fail", measured, limit, "s",
                     f"{len(events)} problem(s) with title cards (A4): "
                     + _listed([e.detail for e in events]), tuple(events))
    if unverified:
        return Check("course.title_card", "A4", "warn", measured, limit, "s",
                     f"cards last at most {measured} s, but their text was not compared (no "
                     "font to draw the expected card)")
    return Check("course.title_card", "A4", "pass", measured, limit, "s",
                 f"every lecture opens with its title card (course, lecture number, lecturer, "
                 f"title, unit), {min(spans):.2f}–{max(spans):.2f} s (A4: ≤ {limit:g} s)")


def check_intro(lectures: Sequence[LectureMeasure], *, intro: str | None,
                problem: str | None = None) -> Check:
    """A3: lecture 1 opens with the configured intro; no other lecture does."""
    if intro is None:
        return Check("course.intro", "A3", "skip", None, None, "",
                     "not checked: the course file names no intro clip (course.intro); A3 "
                     "asks lecture 1 to open with the provincial opening clip: add it to the "
                     "course file and render lecture 1 again")
    if problem is not None:
        return Check("course.intro", "A3", "warn", None, INTRO_MAD_CODES, "codes",
                     f"not checked: {problem}")
    offsets = _offsets(lectures)
    ordered = sorted(lectures, key=lambda x: x.number)
    first = ordered[0] if ordered else None
    events = []
    measured = None
    for m in ordered:
        t0 = offsets[m.number]
        if m.intro_mad is None:
            if m is first:
                events.append(Event(t0, t0, f"{m.label}: opening not measured "
                                            f"({m.error or 'no file'})"))
            continue
        opens = m.intro_mad <= INTRO_MAD_CODES
        span = (t0, t0 + (m.card_start_s or 0.0))
        if m is first:
            measured = round(m.intro_mad, 2)
            if not opens:
                events.append(Event(t0, t0, (
                    f"{m.label} does not open with the intro {intro} (its first "
                    f"{m.intro_frames} frames differ by {m.intro_mad:.1f} codes on average): "
                    "render lecture 1 again with course.intro")))
        elif opens:
            events.append(Event(*span, (
                f"{m.label} also opens with the intro {intro}; A3 puts it before lecture 1 "
                "only: render this lecture again")))
    if events:
        return Check("course.intro", "A3", "fail", measured, INTRO_MAD_CODES, "codes",
                     _listed([e.detail for e in events]), tuple(events))
    return Check("course.intro", "A3", "pass", measured, INTRO_MAD_CODES, "codes",
                 f"lecture 1 opens with the intro {intro} and no other lecture does (A3)")


def check_credits(lectures: Sequence[LectureMeasure], *, drawn: bool) -> Check:
    """A5: the last lecture ends with the closing credits (production unit, recording date);
    no other lecture does."""
    if not drawn:
        return Check("course.credits", "A5", "skip", None, None, "s",
                     "not checked: no font to draw the expected credits card")
    offsets = _offsets(lectures)
    ordered = sorted(lectures, key=lambda x: x.number)
    events, measured = [], None
    for m in ordered:
        t0 = offsets[m.number]
        last = m is ordered[-1]
        if m.credits_s is None:
            if last:
                events.append(Event(t0, t0, f"{m.label}: ending not measured "
                                            f"({m.error or 'no file'})"))
            continue
        end = t0 + (m.duration_s or 0.0)
        if last:
            measured = m.credits_s
            if m.credits_s <= 0:
                events.append(Event(end, end, (
                    f"{m.label}, the last lecture, does not end with the closing credits "
                    "(制作单位, 录制时间) drawn from the course file: render it again")))
        elif m.credits_s > 0:
            events.append(Event(end - m.credits_s, end, (
                f"{m.label} ends with the closing credits ({m.credits_s:.1f} s), but A5 puts "
                "them at the end of the last lecture only: render it again")))
    if events:
        return Check("course.credits", "A5", "fail", measured, None, "s",
                     _listed([e.detail for e in events]), tuple(events))
    held = "at least " if ordered and ordered[-1].credits_capped else ""
    return Check("course.credits", "A5", "pass", measured, None, "s",
                 f"the last lecture ends with the closing credits ({held}{measured} s) and no "
                 "other lecture does (A5)")


def check_preview(previews: Sequence[str], measure: PreviewMeasure | None, *,
                  expected_key: str, profile: Profile) -> Check:
    """A6: one preview per course, at most preview_max_s, passing the format checks."""
    limit = profile.structure.preview_max_s
    if not previews or measure is None:
        return Check("course.preview", "A6", "fail", None, limit, "s",
                     f"no preview in the course folder (expected {expected_key}) (A6): run "
                     "the course again to make it")
    problems = []
    if len(previews) > 1:
        problems.append(f"{len(previews)} previews ({', '.join(previews)}); a course has one "
                        "(A6): delete the others")
    if measure.error is not None or measure.duration_s is None:
        problems.append(f"{measure.key} cannot be read ({measure.error}): make it again")
        return Check("course.preview", "A6", "fail", None, limit, "s", "; ".join(problems))
    if measure.duration_s > limit + 1e-6:
        problems.append(f"{measure.key} lasts {measure.duration_s:.1f} s, longer than "
                        f"{limit:g} s (A6): shorten it")
    if measure.format_status == "fail":
        problems.append(f"{measure.key} fails the format checks "
                        f"({', '.join(measure.format_failed)}): make it again "
                        "(`courseware verify` names each problem)")
    if problems:
        return Check("course.preview", "A6", "fail", round(measure.duration_s, 3), limit, "s",
                     "; ".join(problems))
    status: Status = "warn" if measure.format_status == "warn" else "pass"
    return Check("course.preview", "A6", status, round(measure.duration_s, 3), limit, "s",
                 f"one preview, {measure.duration_s:.1f} s (A6: ≤ {limit:g} s), format "
                 f"{measure.format_status}")


def check_question_bank(bank: BankMeasure, *, profile: Profile) -> Check:
    """Q1/Q3: a bank is delivered with the course, in the template, with at least the
    profile's number of questions of each kind (paper × 3), none malformed or duplicated."""
    need = profile.bank.minimums
    threshold = " · ".join(f"≥ {n} {kind}" for kind, n in need.items())
    if bank.key is None:
        return Check("course.question_bank", "Q1/Q3", "fail", None, threshold, "",
                     "no question bank (题库.csv / 题库.xlsx) in the course folder (Q1, D11): "
                     "add course.bank to the course file and run the course again")
    if bank.error is not None:
        return Check("course.question_bank", "Q1/Q3", "fail", None, threshold, "",
                     f"{bank.key} cannot be read: {bank.error}")
    measured = " · ".join(f"{bank.counts.get(kind, 0)} {kind}" for kind in need)
    if bank.issues:
        short = [f"{KIND_NAMES[k]} {bank.counts.get(k, 0)} < {n}" for k, n in need.items()
                 if bank.counts.get(k, 0) < n]
        head = f"short of questions ({', '.join(short)}); " if short else ""
        return Check("course.question_bank", "Q1/Q3", "fail", measured, threshold,
                     "",
                     f"{bank.key}: {head}{len(bank.issues)} issue(s): {_listed(list(bank.issues))}"
                     "; `courseware bank check` lists them all")
    return Check("course.question_bank", "Q1/Q3", "pass", measured, threshold, "",
                 f"{bank.key} meets Q1–Q3 ({measured})")


def check_manifest(course: Course, target: Store, *,
                   lectures: Sequence[LectureMeasure]) -> Check:
    """D1: the course manifest lists every object with its size and SHA-256 as stored, lists
    every lecture, and the root listing names the course and its lectures."""
    prefix = course_prefix(course)
    key = f"{prefix}/{MANIFEST}"
    if not target.exists(key):
        return Check("course.manifest", "D1", "fail", None, "all objects intact", "",
                     f"no {key}: the package was not written; run the course again")
    try:
        manifest = json.loads(target.get_bytes(key).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Check("course.manifest", "D1", "fail", None, "all objects intact", "",
                     f"{key} is not readable JSON ({exc}): run the course again")
    problems: list[str] = []
    objects = manifest.get("objects", [])
    intact = 0
    for obj in objects:
        name = obj.get("key", "?")
        size = target.size(name) if isinstance(name, str) else None
        if size is None:
            problems.append(f"{name} is listed but missing")
        elif size != obj.get("size"):
            problems.append(f"{name} is {size} bytes, the manifest says {obj.get('size')}")
        elif target.checksum(name) != obj.get("sha256"):
            problems.append(f"{name} changed after the manifest was written (SHA-256 differs)")
        else:
            intact += 1
    listed = {obj.get("key") for obj in objects}
    skip = {key, *(f"{prefix}/{n}" for n in REPORT_NAMES)}
    unlisted = [k for k in target.list(prefix + "/") if k not in listed and k not in skip]
    problems += [f"{k} is in the course folder but not in the manifest" for k in unlisted]
    by_number = {lec.get("number"): lec for lec in manifest.get("lectures", [])}
    durations = {m.number: m.duration_s for m in lectures}
    for lecture in course.lectures:
        want = lecture_key(course, lecture)
        entry = by_number.get(lecture.number)
        if entry is None or entry.get("key") != want:
            problems.append(f"第{lecture.number}讲 ({want}) is not listed in the manifest")
            continue
        if want not in listed:
            problems.append(f"{want} is not among the manifest's objects")
        measured = durations.get(lecture.number)
        listed_s = entry.get("duration_s")
        if (measured is not None and isinstance(listed_s, int | float)
                and abs(measured - listed_s) > LISTED_DURATION_SLACK_S):
            problems.append(f"第{lecture.number}讲 is listed as {clock(listed_s)} but the file "
                            f"lasts {clock(measured)}")
    if target.exists(ROOT_TEXT):
        text = target.get_bytes(ROOT_TEXT).decode("utf-8", errors="replace")
        block = text.split(f"课程名称：{course.info.name}（", 1)
        if len(block) < 2:
            problems.append(f"the root listing {ROOT_TEXT} does not name the course")
        else:
            section = block[1].split("课程名称：", 1)[0]
            absent = [n.number for n in course.lectures if f"第{n.number}讲" not in section]
            if absent:
                problems.append(f"the root listing {ROOT_TEXT} lacks lecture(s) "
                                f"{', '.join(map(str, absent))} of the course")
    else:
        problems.append(f"no root listing {ROOT_TEXT} (D1)")
    measured_text = f"{intact}/{len(objects)} intact"
    if problems:
        status: Status = "fail"
        message = (f"{len(problems)} problem(s) in the package (D1): {_listed(problems)}; run "
                   "the course again to rewrite the package")
    else:
        status = "pass"
        message = (f"{key}: {len(objects)} objects with the listed size and SHA-256, every "
                   f"lecture listed; {ROOT_TEXT} names the course and its lectures (D1)")
    return Check("course.manifest", "D1", status, measured_text, "all objects intact", "",
                 message)


# ------------------------------------------------------------------------------ the report

@contextmanager
def _fetched(target: Store, key: str, folder: Path) -> Iterator[Path]:
    """A local file of the object: the store's own, or a download removed afterwards."""
    own = target.local_path(key)
    if own is not None:
        yield own
        return
    path = target.get_file(key, folder / f"object{Path(key).suffix}")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _measure_preview(target: Store, key: str, folder: Path, profile: Profile) -> PreviewMeasure:
    with _fetched(target, key, folder) as path:
        try:
            probe = probe_media(path, window_s=profile.delivery.bitrate_window_s)
            checks = check_format(probe, profile)
        except CorruptMediaError as exc:
            return PreviewMeasure(key=key, error=_clean(exc, path, key))
    v = probe.video
    return PreviewMeasure(
        key=key, duration_s=probe.duration_s, width=v.width if v else None,
        height=v.height if v else None, display_aspect=v.display_aspect if v else None,
        format_status=overall(checks),
        format_failed=tuple(c.id for c in checks if c.status == "fail"))


def _measure_bank(target: Store, keys: Sequence[str], prefix: str, folder: Path,
                  profile: Profile) -> BankMeasure:
    found = [k for k in keys if k.rsplit("/", 1)[-1] in (f"题库{s}" for s in (".csv", ".xlsx"))
             and k.count("/") == prefix.count("/") + 1]
    if not found:
        return BankMeasure(key=None)
    key = found[0]
    with _fetched(target, key, folder) as path:
        return bank_measure(path, key, profile)


def bank_measure(path: Path, key: str, profile: Profile) -> BankMeasure:
    """The question bank at ``path`` (called ``key`` in messages), counted and validated."""
    try:
        bank = load_bank(path)
        issues = validate_bank(bank, profile)
    except BankError as exc:
        return BankMeasure(key=key, error=_clean(exc, path, key))
    return BankMeasure(key=key, counts={k: len(bank.of_kind(k)) for k in profile.bank.minimums},
                       issues=tuple(str(i) for i in issues))


def _published_qc(target: Store, key: str) -> tuple[str | None, float | None]:
    """A lecture's published QC report: its verdict and its integrated loudness
    (``audio.loudness``); None where the report or the value is missing."""
    if not target.exists(key):
        return None, None
    try:
        data = json.loads(target.get_bytes(key).decode("utf-8"))
        status = data.get("status")
        loud = next((c.get("measured") for c in data.get("checks", ())
                     if isinstance(c, dict) and c.get("id") == "audio.loudness"), None)
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "unreadable", None
    lufs = float(loud) if isinstance(loud, int | float) and math.isfinite(loud) else None
    return (str(status) if status is not None else None), lufs


def lecture_loudness(path: Path, *, lecture: str) -> float | None:
    """Integrated loudness (ITU-R BS.1770-4, LUFS) of a lecture file's sound, streamed;
    None without sound, or silent."""
    with open_media(path, lecture=lecture) as container:
        if not container.streams.audio:
            return None
        rate = int(container.streams.audio[0].sample_rate or 48000)
    feed, meter = AudioFeed(path, rate=rate, lecture=lecture), LoudnessMeter(sample_rate=rate)
    while (block := feed.read_sound(rate)).shape[1]:
        meter.process(block)
    lufs = meter.finish().integrated_lufs
    return lufs if math.isfinite(lufs) else None


def lecture_rows(lectures: Sequence[LectureMeasure]) -> list[LectureRow]:
    def name(key: str | None) -> str | None:
        return key.rsplit("/", 1)[-1] if key else None

    return [LectureRow(
        number=m.number, title=m.title, key=m.key,
        duration_s=None if m.duration_s is None else round(m.duration_s, 3),
        resolution=m.size, format=m.format_status, qc=m.qc_status,
        qc_json=name(m.qc_json), qc_html=name(m.qc_html),
        intro=None if m.intro_mad is None else m.intro_mad <= INTRO_MAD_CODES,
        title_card_s=m.card_s, credits_s=m.credits_s, error=m.error,
        warnings=list(m.warnings)) for m in lectures]


def check_course(course: Course, *, store: str | Store, profile: Profile,
                 font: FontFace | None = None) -> Report:
    """The course report of a course published to ``store`` (its ``file`` is the course
    folder, its checks the eleven ``course.*`` ids). Lecture files are looked at one at a time
    (downloaded to a temporary folder when the store is not local)."""
    target = open_store(store) if isinstance(store, str) else store
    prefix = course_prefix(course)
    keys = target.list(prefix + "/")
    present = set(keys)
    if font is None:
        try:
            font = find_face()
        except FontError:
            font = None  # title card text and credits are then not compared (said so)
    intro_path = course.resolve(course.info.intro) if course.info.intro is not None else None
    intro_problem = None
    if intro_path is not None and not intro_path.is_file():
        intro_problem = f"the intro {intro_path} named in the course file is not there"
    pictures = _Pictures(course, font=font, intro=None if intro_problem else intro_path,
                         fps=profile.delivery.fps)
    try:
        pictures.load_intro()
    except CorruptMediaError as exc:
        intro_problem = f"the intro {intro_path} cannot be read ({exc})"
        pictures = _Pictures(course, font=font, intro=None, fps=profile.delivery.fps)
    measures: list[LectureMeasure] = []
    previews = sorted(k for k in keys if k.rsplit("/", 1)[-1].startswith(PREVIEW_PREFIX)
                      and k.endswith(".mp4"))
    with tempfile.TemporaryDirectory(prefix="course-qc-") as tmp:
        folder = Path(tmp)
        for lecture in course.lectures:
            key = lecture_key(course, lecture)
            stem = key.removesuffix(".mp4")
            qc_json, qc_html = f"{stem}.qc.json", f"{stem}.qc.html"
            marker = read_marker(target, key)
            status, lufs = _published_qc(target, qc_json)
            extra = {"qc_status": status, "loudness_lufs": lufs,
                     "loudness_from": "report" if lufs is not None else None,
                     "warnings": marker.warnings if marker is not None else (),
                     "qc_json": qc_json if qc_json in present else None,
                     "qc_html": qc_html if qc_html in present else None}
            if key not in present:
                measures.append(_replace(LectureMeasure(lecture.number, lecture.title, key),
                                         extra, error=f"{key} is not published"))
                continue
            with _fetched(target, key, folder) as path:
                m = _replace(measure_lecture(path, lecture, key=key, pictures=pictures,
                                             profile=profile), extra)
                if m.loudness_lufs is None and m.error is None:
                    m = replace(m, loudness_lufs=lecture_loudness(path, lecture=lecture.label),
                                loudness_from="file")
                measures.append(m)
        expected_preview = preview_key(course)
        chosen = expected_preview if expected_preview in present else (
            previews[0] if previews else None)
        preview = (_measure_preview(target, chosen, folder, profile)
                   if chosen is not None else None)
        bank = _measure_bank(target, keys, prefix, folder, profile)
    info, s = course.info, profile.structure
    total = sum(m.duration_s or 0.0 for m in measures)
    checks = (
        *length_checks(course, measures, profile),
        check_uniform_resolution(measures, preview),
        check_loudness(measures),
        check_title_card(course, measures, structure=s),
        check_intro(measures, intro=str(info.intro) if info.intro is not None else None,
                    problem=intro_problem),
        check_credits(measures, drawn=font is not None),
        check_preview(previews, preview, expected_key=expected_preview, profile=profile),
        check_question_bank(bank, profile=profile),
        check_manifest(course, target, lectures=measures),
    )
    return Report(file=prefix, profile=profile.name, duration_s=total, checks=checks, extra={
        "course": info.name, "kind": info.kind, "hours": info.hours,
        "lectures": lecture_rows(measures),
        "preview": None if preview is None else {
            "key": preview.key, "duration_s": preview.duration_s,
            "format": preview.format_status},
        "manifest": f"{prefix}/{MANIFEST}",
    })


def report_keys(course: Course) -> dict[str, str]:
    prefix = course_prefix(course)
    return {"json": f"{prefix}/{COURSE_REPORT_JSON}", "html": f"{prefix}/{COURSE_REPORT_HTML}"}


def publish_course_report(course: Course, report: Report, *, store: str | Store,
                          ) -> dict[str, str]:
    """Write the report into the course folder (JSON, then the self-contained HTML page);
    returns their keys. Identical content already there is left as it is."""
    from courseware.course_html import render_course_html

    target = open_store(store) if isinstance(store, str) else store
    keys = report_keys(course)
    target.put_bytes(report.to_json().encode("utf-8"), keys["json"])
    target.put_bytes(render_course_html(report).encode("utf-8"), keys["html"])
    return keys


def report_table(report: Report) -> list[dict[str, str]]:
    """The checks as rows for a Prefect table artifact."""
    return [{"check": c.id, "clause": c.clause, "status": c.status,
             "measured": "" if c.measured is None else f"{c.measured} {c.unit}".strip(),
             "threshold": "" if c.threshold is None else f"{c.threshold} {c.unit}".strip(),
             "message": c.message} for c in report.checks]


def lectures_text(report: Report) -> str:
    """The per-lecture table of a course report, for a terminal."""
    rows = report.extra.get("lectures", [])
    lines = []
    for row in rows if isinstance(rows, list) else []:
        d = row.get("duration_s")
        lines.append(f"  第{row['number']}讲 {row['title']}: "
                     f"{clock(d) if d is not None else '-':>8}  {row.get('resolution') or '-'}"
                     f"  format {str(row.get('format') or '-').upper()}"
                     f"  QC {str(row.get('qc') or '-').upper()}  {row['key']}"
                     + (f"  ({row['error']})" if row.get("error") else ""))
    return "\n".join(lines)


course_qc_task = task(name="course-qc", cache_policy=NO_CACHE)(check_course)
publish_course_report_task = task(name="publish-course-report", cache_policy=NO_CACHE,
                                  **STORAGE_RETRIES)(publish_course_report)

