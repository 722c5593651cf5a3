"""A delivery stick's course folders judged as courses, without their course files.

A base hands the province a stick (D1): a folder per course with its lectures, its preview,
its question bank and its application form, and at the root a text file listing the
courses. ``courseware qc STICK/ --out DIR`` checks every file (tasks/qc_batch.py); this
module then reads each folder that holds recordings as a course and writes its course
report (``<folder>/课程质检报告.json`` and ``.html``, the contract's ``Report`` with
``course.*`` checks, on the same page as ``check-course`` makes), from what was measured:

=============================  ========  =================================================
check id                       clause    measured
=============================  ========  =================================================
``course.lecture_duration``    A1/A2     each lecture lasts about an hour (profile)
``course.total_hours``         A1/A2     the lectures add up to a course size (8/16/24/…)
``course.uniform_resolution``  D4/D5     one size and aspect for the lectures and preview
``course.preview``             A6        one preview (``预览`` in its name), ≤ 180 s
``course.question_bank``       Q1/Q3     a bank (``题库`` .csv/.xlsx) valid and big enough
``course.application_form``    D11       the application form (附件1/2) is there; a DOCX
                                         one's curriculum lists the folder's lectures
``course.listing``             D1        the root's text listing names the course and
                                         each lecture (第N讲) with the file's duration
``course.loudness``            S4        no lecture far from the others' loudness
``course.title_card``          A4        each lecture opens (after the intro) with a still
                                         of at most A4's 5 s, its own; its words (OCR)
                                         give its number, a title, a unit, the course,
                                         and the lecturer the form gives for it
``course.intro``               A3        with the province's intro given (``--intro``):
                                         lecture 1 opens with it, no other lecture does
``course.credits``             A5        the last lecture ends with a still (the credits'
                                         place) reading 制作单位 and 录制时间
``course.single_video``        A7        no lecture in parts (two files of one 第N讲)
=============================  ========  =================================================

What needs the course file (the kind and declared hours) is ``check-course``'s, not this:
the kind is not known here, so the lengths are judged against every course size the profile
allows. A title card or the credits are known by a still picture in their place, their words
read by OCR (``tasks.card_text``): a card giving another lecture's number fails, and what
else is wrong with one is a warning for a person to look at; an animated card or credits
that scroll are read where they settle (``tasks.qc``) and judged by their words alike. Who
teaches which lecture is what the application form says, where it is a DOCX, ODT or PDF
whose curriculum table can be read (:func:`read_form`): a card naming another of its
lecturers fails, one without its lecturer's name, title or unit as the form gives them is
a warning; without such a form, a lecturer's name cannot be told from other words.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from courseware.html_report import clock
from courseware.report import Check, Report, Status
from courseware.store import Store
from encoder_profiles import Profile
from qc_metrics.temporal import REFRESH_CODES
from tasks.card_text import (
    LECTURE,
    TITLES,
    CardFields,
    card_fields,
    lecture_number,
    lecture_numbers,
)
from tasks.course_qc import (
    MAX_LISTED,
    BankMeasure,
    LectureMeasure,
    PreviewMeasure,
    bank_measure,
    check_intro,
    check_lecture_duration,
    check_loudness,
    check_preview,
    check_question_bank,
    check_uniform_resolution,
    lecture_count_range,
    lecture_rows,
)
from tasks.package import COURSE_REPORT_HTML, COURSE_REPORT_JSON
from tasks.qc import card_codes, is_preview
from tasks.qc_batch import (
    BANK_SUFFIXES,
    FORM_SUFFIXES,
    FileOutcome,
    Found,
    given,
)


def _pair(text: str | None) -> tuple[int, int] | None:
    """Two numbers as the format checks write them: "1280x720", "16:9"."""
    match = re.fullmatch(r"(\d+)[x:](\d+)", text or "")
    return (int(match[1]), int(match[2])) if match else None


#: a lecture file's name: 第3讲_标题, 第03讲 标题, 第三讲：标题 …
_NUMBERED = re.compile(LECTURE.pattern + r"[\s_\-—:：、.]*(.*)")


def numbered(names: Sequence[str]) -> list[tuple[int, str]]:
    """Each lecture file's number and title: from its name (第3讲_标题) when every name
    gives a different number, else its place in the order; the title is the rest of the
    name (the whole name when that is empty)."""
    stems = [PurePosixPath(n).stem for n in names]
    found = [_NUMBERED.match(s) for s in stems]
    numbers = [(lecture_number(m[1]) or 0) if m else 0 for m in found]
    by_name = all(numbers) and len(set(numbers)) == len(numbers)
    return [(numbers[k] if by_name else k + 1, (m[2] if m and m[2] else stem))
            for k, (m, stem) in enumerate(zip(found, stems, strict=True))]


def check_single_videos(names: Sequence[str]) -> Check:
    """A7: each lecture a single video: two files whose names give the same lecture number
    (第1讲（上）, 第1讲（下）: a lecture delivered in parts) fail."""
    by_number: dict[int, list[str]] = {}
    for name in names:
        if (m := _NUMBERED.match(PurePosixPath(name).stem)) and (n := lecture_number(m[1])):
            by_number.setdefault(n, []).append(PurePosixPath(name).name)
    split = {n: files for n, files in sorted(by_number.items()) if len(files) > 1}
    if split:
        said = "; ".join(f"第{n}讲 is in {len(files)} files ({', '.join(files)})"
                         for n, files in split.items())
        return Check("course.single_video", "A7", "fail", len(split), 0, "lectures",
                     f"{said}: A7 wants each lecture as one video: join the parts into one MP4")
    return Check("course.single_video", "A7", "pass", 0, 0, "lectures",
                 f"{len(names)} lecture file(s), no lecture in parts (A7)")


def measure(f: FileOutcome, number: int, title: str) -> LectureMeasure:
    """A checked file as the course checks take a lecture."""
    size = _pair(f.resolution)
    card = f.opening_still
    animated = card is None and f.animated_card is not None
    if animated and f.animated_card is not None:
        start, end = f.animated_card
        card = [start or 0.0, end] if end is not None else None
    return LectureMeasure(
        number=number, title=title, key=f.file, duration_s=f.duration_s,
        width=size[0] if size else None, height=size[1] if size else None,
        display_aspect=_pair(f.aspect), format_status=f.format_status,
        qc_status=None if f.status == "error" else f.status, qc_json=f.report, qc_html=f.page,
        error=f.error, loudness_lufs=f.loudness_lufs,
        loudness_from="report" if f.loudness_lufs is not None else None,
        intro_mad=f.intro_mad, intro_frames=f.intro_frames,
        card_start_s=card[0] if card else None,
        card_s=round(card[1] - card[0], 3) if card else None, card_animated=animated,
        credits_s=round(f.closing_still[1] - f.closing_still[0], 3) if f.closing_still
        else None if f.status == "error" else 0.0)


def check_closing_still(lectures: Sequence[LectureMeasure],
                        files: Sequence[FileOutcome] = ()) -> Check:
    """A5 without the course file: the last lecture ends with a still picture, where the
    closing credits belong, and it reads the production unit (制作单位) and the recording
    date (录制时间) where its words could be read (``files``: the lectures' QC, with what
    was read on that still). Credits that scroll or move (read where they end as credits,
    ``FileOutcome.moving_credits``) are judged by their words the same way; words a person
    reads better than OCR: what is wrong is a warning for a person to look at."""
    last = max(lectures, key=lambda m: m.number, default=None)
    if last is None or last.credits_s is None:
        return Check("course.credits", "A5", "skip", None, None, "s",
                     "the last lecture could not be read" if last else "no lectures")
    outcome = next((f for m, f in zip(lectures, files, strict=False) if m is last), None)
    moving = outcome is not None and outcome.closing_still is None \
        and outcome.moving_credits is not None
    if last.credits_s <= 0 and not moving:
        return Check("course.credits", "A5", "warn", 0.0, None, "s",
                     f"{last.label}, the last lecture, ends with moving pictures and no "
                     "credits read on them: no closing credits (A5: 制作单位, 录制时间): look")
    text = outcome.credits_text if outcome is not None else None
    held = (f"{last.label}, the last lecture, ends with moving credits, read where they end "
            "(A5)" if moving else
            f"{last.label}, the last lecture, ends with a still of {last.credits_s:.1f} s, "
            "the closing credits by their place (A5)")
    if text is None:
        return Check("course.credits", "A5", "pass", last.credits_s, None, "s",
                     f"{held}; their words are not read")
    fields = card_fields(text)
    missing = [what for what, there in (("no production unit (制作单位)", fields.producer),
                                        ("no recording date (录制时间)", fields.date))
               if not there]
    read = f"it reads “{' / '.join(text)}”" if text else "no words read on it"
    if missing:
        return Check("course.credits", "A5", "warn", last.credits_s, None, "s",
                     f"{held}, but {read}: {' and '.join(missing)} found on it (A5): "
                     "look")
    return Check("course.credits", "A5", "pass", last.credits_s, None, "s",
                 f"{held}; {read}: the production unit and the recording date (A5)")


def check_opening_stills(lectures: Sequence[LectureMeasure], files: Sequence[FileOutcome],
                         profile: Profile, course: str | None = None,
                         form: FormListing | None = None) -> Check:
    """A4 without the course file: each lecture opens (after the intro on lecture 1) with a
    still picture of at most A4's title-card length, its own (not another lecture's card
    copied). Where its words could be read (``tasks.card_text``), the card gives the
    lecture's number (another lecture's number fails: a card copied and not changed), a
    professional title and a unit, and the course's name (``course``, the folder's name).
    With the application form read (``form``), it names the lecturer the form gives for the
    lecture (another of the form's lecturers instead fails), with the title and unit the
    form gives them; without it, a lecturer's name cannot be told from other words. An
    animated card (an opening that moves but reads as a card) is judged the same, from its
    start to its end (the cut to the lecture, or where its words go); where no end is found
    its length is for a person to look at, and an opening that moves and reads as no card
    has no title card."""
    limit = profile.structure.title_card_max_s
    unread = [m.label for m, f in zip(lectures, files, strict=True) if f.status == "error"]
    problems, wrong, spans = [], [], []
    read = 0
    for m, f in zip(lectures, files, strict=True):
        if m.label in unread:
            continue
        animated = f.opening_still is None and f.animated_card is not None
        if animated and m.card_s is None:
            problems.append(f"{m.label} opens with an animated title card whose end was not "
                            f"found (its words still read {limit:g} s in and a little): "
                            f"look that it lasts at most {limit:g} s (A4)")
        elif m.card_s is None:
            problems.append(f"{m.label} opens with moving pictures and no title card read on "
                            f"them: no still title card (A4); look")
        elif m.card_s > limit + 1.0 / profile.delivery.fps:
            problems.append(
                f"{m.label}'s animated title card (from {m.card_start_s:.2f} s to its end) "
                f"lasts {m.card_s:.1f} s, longer than A4's {limit:g} s" if animated else
                f"{m.label}'s opening still (at {m.card_start_s:.2f} s) lasts "
                f"{m.card_s:.1f} s, longer than a title card may (A4: ≤ {limit:g} "
                "s): a card held too long, or the lecture opens on a still picture")
        else:
            spans.append(m.card_s)
        if (m.card_s is not None or animated) and f.title_card_text is not None:
            read += 1
            other, lacking = _card_words(m, f.title_card_text, course, form)
            wrong += other
            problems += lacking
    problems += _copied_cards(lectures, files)
    gap = f"; {len(unread)} file(s) not read: {', '.join(unread)}" if unread else ""
    measured = round(max(spans), 3) if spans else None
    words = ("its words read on every card" if read and read == len(lectures) - len(unread)
             else f"its words read on {read} card(s)" if read else "its words are not read")
    if wrong:
        return Check("course.title_card", "A4", "fail", measured, limit, "s",
                     f"{len(wrong)} title card(s) giving another lecture's number or "
                     "lecturer (A4: a card gives its own): " + "; ".join(wrong[:MAX_LISTED])
                     + (f"; also to look at: {'; '.join(problems[:MAX_LISTED])}"
                        if problems else "") + gap)
    if problems:
        return Check("course.title_card", "A4", "warn", measured, limit, "s",
                     f"{len(problems)} thing(s) to look at on the lectures' title cards (A4: "
                     f"a still of at most {limit:g} s, its own, giving the course, the "
                     "lecture's number, the lecturer, a professional title and a unit): "
                     + "; ".join(problems[:MAX_LISTED]) + gap)
    if not spans:
        return Check("course.title_card", "A4", "skip", None, limit, "s",
                     "no lecture could be read" + gap)
    moving = sum(m.card_animated for m in lectures)
    return Check("course.title_card", "A4", "warn" if unread else "pass", measured, limit, "s",
                 f"every lecture opens with a {'still ' if not moving else ''}title card of "
                 f"{min(spans):.1f}–{max(spans):.1f} s"
                 + (f" ({moving} animated, timed to the cut to the lecture or to where "
                    "their words go)" if moving else "")
                 + f" (A4: ≤ {limit:g} s); {words}"
                 + (f" ({_read_on_cards(course, form)})" if read else "") + gap)


def _read_on_cards(course: str | None, form: FormListing | None) -> str:
    """What A4 found on every card read, in words."""
    found = ["the lecture's number",
             *([f"its lecturer with their title and unit as {form.file} gives them"] if form
               else ["a professional title", "a unit"]),
             *(["the course's name"] if len(_course_name(course)) >= 4 else [])]
    return (f"{', '.join(found[:-1])} and {found[-1]} on each"
            + ("" if form else "; a lecturer's name is not told from other words without an "
               "application form whose curriculum could be read"))


#: the course's name is on a card when a line matches this share of it (OCR may drop a
#: character; a folder's name may carry a number or a year)
COURSE_NAME_MATCH = 0.75


def _course_name(folder: str | None) -> str:
    """A course folder's name as a card writes the course's: without numbers, spaces and
    brackets (``01_碳达峰课程（2024）`` → ``碳达峰课程``)."""
    return re.sub(r"[\s\d_\-—.()（）【】\[\]]+", "", folder or "")


def _card_words(m: LectureMeasure, lines: Sequence[str], course: str | None,
                form: FormListing | None = None) -> tuple[list[str], list[str]]:
    """A lecture's title card, its words read, for A4: what on it contradicts its lecture
    (another lecture's number; another lecturer than the form gives), and what it lacks, one
    item each."""
    text = " ".join(lines)
    shown = f"“{' / '.join(lines)}”" if lines else "no words"
    numbers = lecture_numbers(text)
    other = []
    out = []
    if numbers and m.number not in numbers:
        other.append(f"{m.label}'s title card reads 第{numbers[0]}讲 ({shown}): a card copied, "
                     "its number not changed")
    elif not numbers:
        out.append(f"{m.label}'s title card gives no lecture number (第{m.number}讲) that "
                   f"could be read ({shown})")
    fields = card_fields(lines)
    if fields.title is None:
        out.append(f"{m.label}'s title card names no professional title (教授, 高级工程师, "
                   f"主任医师 …) that could be read ({shown})")
    if fields.unit is None:
        out.append(f"{m.label}'s title card names no unit (…大学, …研究院, …医院, …公司) that "
                   f"could be read ({shown})")
    name = _course_name(course)
    compact = [re.sub(r"\s+", "", line) for line in lines]
    if len(name) >= 4 and not _on_card(name, compact):
        out.append(f"{m.label}'s title card does not give the course's name ({name}) ({shown})")
    if form is not None and m.number in form.lectures:
        wrong, lacking = _lecturer_words(m, compact, fields, form)
        other += [f"{wrong} ({shown})"] if wrong else []
        out += [f"{x} ({shown})" for x in lacking]
    return other, out


def _on_card(words: str, compact: Sequence[str]) -> bool:
    """``words`` (a course's name, a unit) are on a card's lines (without their spaces): one
    line holds ``COURSE_NAME_MATCH`` of them in a row (OCR may drop a character)."""
    return bool(compact) and max(
        difflib.SequenceMatcher(None, words, line).find_longest_match(
            0, len(words), 0, len(line)).size
        for line in compact) >= COURSE_NAME_MATCH * len(words)


def _lecturer_words(m: LectureMeasure, compact: Sequence[str], fields: CardFields,
                    form: FormListing) -> tuple[str | None, list[str]]:
    """A4's lecturer on a title card against the application form: another of the form's
    lecturers named instead of the lecture's (None: not so), and what of the lecture's
    lecturer the card lacks: the name, or the title and unit the form gives them where the
    card gives another (a card without any title or unit is told so by :func:`_card_words`)."""
    text = "".join(compact)
    names = form.lectures[m.number][1]
    on = [n for n in names if n in text]
    listed = "、".join(names)
    if not on:
        strangers = [n for n in form.lecturers if n not in names and n in text]
        if strangers:
            return (f"{m.label}'s title card names {strangers[0]}, but {form.file} gives "
                    f"{listed} for it: a card copied, its lecturer not changed?"), []
        return None, [f"{m.label}'s title card does not give its lecturer's name as {form.file} "
                      f"gives it ({listed})"]
    out = []
    for n in on:
        them = form.lecturers.get(n)
        if them is None:
            continue
        if them.title and fields.titles and them.title not in fields.titles:
            out.append(f"{m.label}'s title card gives {n} as {'、'.join(fields.titles)}, "
                       f"{form.file} as {them.title}")
        if them.unit and fields.unit and not _on_card(re.sub(r"\s+", "", them.unit), compact):
            out.append(f"{m.label}'s title card does not give {n}'s unit as {form.file} gives "
                       f"it ({them.unit})")
    return None, out


def _copied_cards(lectures: Sequence[LectureMeasure], files: Sequence[FileOutcome]
                  ) -> list[str]:
    """Lectures whose title card is an earlier lecture's picture: a card copied and its
    lecture number (and title) not changed. Cards are the same picture when no block mean
    of theirs differs by more than coding noise (``REFRESH_CODES``, and the rounding)."""
    seen: list[tuple[str, np.ndarray]] = []
    out = []
    for m, f in zip(lectures, files, strict=True):
        if f.title_card_picture is None:
            continue
        codes = card_codes(f.title_card_picture).astype(np.int16)
        same = next((label for label, other in seen if other.shape == codes.shape
                     and int(np.abs(other - codes).max()) <= REFRESH_CODES + 1), None)
        if same is not None:
            out.append(f"{m.label} opens with the same title card as {same}: a card copied, "
                       "its lecture number and title not changed?")
        seen.append((m.label, codes))
    return out


def check_stick_intro(lectures: Sequence[LectureMeasure], intro: str | None) -> Check:
    """A3: with the province's intro given, lecture 1 opens with it and no other lecture does
    (``check-course``'s rule, on what the lectures' QC measured)."""
    if intro is None:
        return Check("course.intro", "A3", "skip", None, None, "",
                     "not checked: give the province's intro clip (`--intro 统一片头.mp4`) to "
                     "check that lecture 1 opens with it (A3)")
    return check_intro(lectures, intro=intro)


def check_course_size(lectures: Sequence[LectureMeasure], profile: Profile) -> Check:
    """A1/A2 without the course file: the lectures' total fits one of the course sizes the
    profile allows (public: ``public_hours``; professional: ``professional_hours``), each
    ± the lecture tolerance, with a lecture count that size allows."""
    s = profile.structure
    total_h = sum(m.duration_s or 0.0 for m in lectures) / 3600
    sizes = sorted({s.public_hours, *s.professional_hours})
    fits = [h for h in sizes
            if h * (1 - s.lecture_tolerance) <= total_h <= h * (1 + s.lecture_tolerance)]
    allowed = "/".join(str(h) for h in sizes)
    missing = [m for m in lectures if m.duration_s is None]
    gap = f" ({len(missing)} file(s) not measured)" if missing else ""
    if not fits:
        return Check("course.total_hours", "A1/A2", "fail", round(total_h, 3),
                     f"{allowed} h ± {s.lecture_tolerance:.0%}", "h",
                     f"{len(lectures)} lecture(s), {total_h:.2f} h in all{gap}: no course size "
                     f"fits ({allowed} h, each ± {s.lecture_tolerance:.0%}; A1/A2)")
    hours = fits[0]
    lo, hi = lecture_count_range(hours, s)
    public = hours == s.public_hours and len(lectures) == s.public_lectures
    status: Status = "pass" if lo <= len(lectures) <= hi or public else "fail"
    count = f"{lo}" if lo == hi else f"{lo}–{hi}"
    message = (f"{len(lectures)} lecture(s), {total_h:.2f} h in all{gap}: a {hours}-hour course"
               + (f" (public courses: {s.public_lectures} lectures)" if hours == s.public_hours
                  else "")
               + ("" if status == "pass" else
                  f", but {hours} h at about {s.lecture_minutes:g} min a lecture is {count} "
                  "lectures: split or merge them"))
    return Check("course.total_hours", "A1/A2", "fail" if missing else status,
                 round(total_h, 3), f"{allowed} h ± {s.lecture_tolerance:.0%}", "h", message)


@dataclass(frozen=True)
class FormLecturer:
    """A lecturer as an application form's 师资介绍 gives them (None: not found there)."""

    name: str
    title: str | None
    unit: str | None


@dataclass(frozen=True)
class FormListing:
    """What a course's application form (D11) says of its lectures: each lecture's title
    and lecturers by its number (the curriculum table of 课件介绍), and each lecturer's
    professional title and unit (the line of 师资介绍 that names them)."""

    file: str
    lectures: dict[int, tuple[str, tuple[str, ...]]]     #: number → (title, lecturers)
    lecturers: dict[str, FormLecturer]


#: a curriculum table's header cells: the lecture's number, its title, who teaches it
_NUMBER_HEAD = re.compile(r"讲次|序号|讲数|编号")
_TITLE_HEAD = re.compile(r"标题|题目|课题|讲题|课程名称|名称")
_LECTURER_HEAD = re.compile(r"主讲|讲师|授课|教师")
_RANK_HEAD = re.compile(r"职称|职务")
_UNIT_HEAD = re.compile(r"单位")
#: between two names in one cell: 张三、李四 / 张三，李四 / 张三 李四
_NAMES = re.compile(r"[、,，/;；\s]+")


#: a table: its rows, each a list of its cells' text
Table = list[list[str]]


def read_form(path: Path, name: str) -> FormListing | None:
    """The lectures and lecturers an application form lists, where it is a DOCX, a Word
    97–2003 DOC (or WPS's .wps, the same format), an ODT (LibreOffice, WPS) or a PDF with a
    text layer (one saved from Word or WPS, not a scan) holding a table whose header names
    the lecture's number (讲次, 序号), its title (标题, 题目) and its lecturer (主讲, 授课教师),
    at any depth (our form nests it in 课件介绍), or continued over the PDF's next pages;
    None for another format, a file that is not what its name says, or a form without such
    a table. A lecturer's title and unit are read from the paragraph that names them first
    (``张三，教授，西北大学，…``) or from the table's own columns (职称, 单位)."""
    reader = _FORM_READERS.get(PurePosixPath(name).suffix.lower())
    if reader is None:
        return None
    try:
        tables, paragraphs = reader(path)
    except Exception:   # a damaged or mislabelled file: D11 stays with a person
        return None
    return _listing(name, tables, paragraphs)


def _docx_form(path: Path) -> tuple[list[Table], list[str]]:
    """A DOCX's tables (nested ones too) and paragraphs (in the tables' cells too)."""
    from docx import Document

    doc = Document(str(path))
    tables: list[Table] = []
    paragraphs = [p.text for p in doc.paragraphs]

    def walk(found: Sequence[Any]) -> None:
        for table in found:
            tables.append([[c.text for c in row.cells] for row in table.rows])
            for row in table.rows:
                for cell in row.cells:
                    paragraphs.extend(p.text for p in cell.paragraphs)
                    walk(cell.tables)

    walk(doc.tables)
    return tables, paragraphs


_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


def _odt_form(path: Path) -> tuple[list[Table], list[str]]:
    """An ODT's tables (nested ones too; a repeated or spanned cell counts as its columns)
    and paragraphs, from its ``content.xml``."""
    import zipfile
    from xml.etree import ElementTree

    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read("content.xml"))
    paragraphs = ["".join(p.itertext()) for p in root.iter()
                  if p.tag in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h")]
    tables: list[Table] = []
    for table in root.iter(f"{_ODF_TABLE}table"):
        rows: Table = []
        for row in _odf_rows(table):
            cells: list[str] = []
            for cell in row:
                if cell.tag not in (f"{_ODF_TABLE}table-cell", f"{_ODF_TABLE}covered-table-cell"):
                    continue
                text = "\n".join("".join(p.itertext()) for p in cell
                                 if p.tag in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"))
                repeat = int(cell.get(f"{_ODF_TABLE}number-columns-repeated", "1"))
                cells += [text] * min(repeat, 64)
            rows.append(cells)
        tables.append(rows)
    return tables, paragraphs


def _odf_rows(element: Any) -> Iterator[Any]:
    """An ODF table's own rows, in their groups (header rows, row groups), not those of a
    table nested in one of its cells."""
    for child in element:
        if child.tag == f"{_ODF_TABLE}table-row":
            yield child
        elif child.tag in (f"{_ODF_TABLE}table-header-rows", f"{_ODF_TABLE}table-rows",
                           f"{_ODF_TABLE}table-row-group"):
            yield from _odf_rows(child)


def _pdf_form(path: Path) -> tuple[list[Table], list[str]]:
    """A PDF's ruled tables and lines of text, page after page (pdfplumber). A table that
    goes on over the next page comes as two; :func:`_listing` reads the second under the
    first's header. A scan has no text: nothing is found."""
    import logging

    import pdfplumber

    logging.getLogger("pdfminer").setLevel(logging.ERROR)   # fonts without a bounding box
    tables: list[Table] = []
    paragraphs: list[str] = []
    with pdfplumber.open(str(path)) as pdf:
        for page in pdf.pages[:MAX_FORM_PAGES]:
            tables += [[[c or "" for c in row] for row in table]
                       for table in page.extract_tables()]
            paragraphs += (page.extract_text() or "").splitlines()
    return tables, paragraphs


#: a form longer than this is read no further (a form is a few pages)
MAX_FORM_PAGES = 40
def _word97_form(path: Path) -> tuple[list[Table], list[str]]:
    """A Word 97–2003 document's (``.doc``; WPS's ``.wps``, the same format) tables (nested
    ones too) and paragraphs (:mod:`courseware.word97`)."""
    from courseware.word97 import read_document

    doc = read_document(path)
    return doc.tables, doc.paragraphs


_FORM_READERS = {".docx": _docx_form, ".odt": _odt_form, ".pdf": _pdf_form,
                 ".doc": _word97_form, ".wps": _word97_form}
#: a line broken inside a cell between two Chinese characters (a PDF's wrapped title)
_CJK_BREAK = re.compile("(?<=[\u3000-\u9fff\uff00-\uffef])[ \t]*\n[ \t]*"
                        "(?=[\u3000-\u9fff\uff00-\uffef])")


def _names(cell: str) -> tuple[str, ...]:
    """The lecturers a cell names: 、-separated or one to a line, titles in brackets or
    beside them left out (``张伟（教授）、王芳 教授``). A name broken over two lines (a
    PDF's narrow cell: ``王建华、李`` / ``敏``) is one name again: no Chinese name is a
    single character."""
    said = re.sub(r"[（(][^）)]*[）)]", " ", cell)
    lines: list[str] = []
    for line in said.split("\n"):
        first = next((n for n in _NAMES.split(line) if n), "")
        last = next((n for n in reversed(_NAMES.split(lines[-1])) if n), "") if lines else ""
        if lines and (len(first) == 1 or len(last) == 1) and not _NAMES.match(line) \
                and not _NAMES.search(lines[-1][-1:]):
            lines[-1] += line
        else:
            lines.append(line)
    return tuple(n for line in lines for n in _NAMES.split(line) if n and n not in TITLES)


def _one_line(cell: str) -> str:
    """A cell's text on one line: a Chinese line broken in two joined, other breaks and
    runs of spaces one space."""
    return re.sub(r"\s+", " ", _CJK_BREAK.sub("", cell)).strip()


def _listing(name: str, tables: Sequence[Table],
             paragraphs: Sequence[str]) -> FormListing | None:
    """The curriculum the tables hold (:func:`read_form`)."""
    lectures: dict[int, tuple[str, tuple[str, ...]]] = {}
    columns: dict[str, tuple[str | None, str | None]] = {}     # name → (title, unit) cells
    header: tuple[int | None, ...] | None = None     # the last curriculum table's columns
    width = 0
    for table in tables:
        rows = [[c.strip() for c in row] for row in table]
        body: Table = []
        for k, head in enumerate([[_one_line(c) for c in row] for row in rows]):
            found = tuple(_column(head, pattern) for pattern in (
                _NUMBER_HEAD, _TITLE_HEAD, _LECTURER_HEAD, _RANK_HEAD, _UNIT_HEAD))
            if None not in found[:3]:
                header, width, body = found, len(head), rows[k + 1:]
                break
        else:   # no header: the rest of the last curriculum table, on the next page
            if header is None or not rows or len(rows[0]) != width:
                continue
            body = rows
        number_at, title_at, lecturer_at, rank_at, unit_at = header
        assert number_at is not None and title_at is not None and lecturer_at is not None
        for row in body:
            if len(row) <= max(i for i in header if i is not None):
                continue
            cell = _one_line(row[number_at])
            number = (int(cell) if cell.isdigit()
                      else next(iter(lecture_numbers(cell)), None))
            names = _names(row[lecturer_at])
            if number is None or not names:
                continue
            lectures.setdefault(number, (_one_line(row[title_at]), names))
            for n in names:
                columns.setdefault(n, (_one_line(row[rank_at]) if rank_at is not None else None,
                                       _one_line(row[unit_at]) if unit_at is not None else None))
    if not lectures:
        return None
    lecturers = {}
    for n, (title, unit) in columns.items():
        line = next((p for p in paragraphs if re.sub(r"\s+", "", p).startswith(n)), None)
        fields = card_fields([line]) if line else None
        lecturers[n] = FormLecturer(n, title or (fields.title if fields else None),
                                    unit or (fields.unit if fields else None))
    return FormListing(file=name, lectures=lectures, lecturers=lecturers)


def _column(head: Sequence[str], pattern: re.Pattern[str]) -> int | None:
    """The first of a table's header cells (short: a label, not a paragraph) that
    ``pattern`` finds."""
    return next((i for i, c in enumerate(head) if len(c) <= 8 and pattern.search(c)), None)


def _unreadable(forms: Sequence[Found]) -> list[str]:
    """Why each Word or WPS binary form of ``forms`` could not be read, where it could not
    (not that format, protected by a password, damaged)."""
    from courseware.word97 import NotWord97, read_document

    said = []
    for f in forms:
        if PurePosixPath(f.name).suffix.lower() in (".doc", ".wps"):
            try:
                read_document(f.path)
            except NotWord97 as e:
                said.append(f"{PurePosixPath(f.name).name} is {e}")
    return said


def check_form(others: Sequence[Found], lectures: Sequence[LectureMeasure] = (),
               form: FormListing | None = None) -> Check:
    """D11: the application form (附件1 for public, 附件2 for professional courses) comes with
    the videos: a document in the course folder. Where its curriculum could be read
    (``form``, :func:`read_form`), it lists the lectures the folder holds: a lecture the form
    does not list, a listed one that is not there, or a file whose name gives another title
    than the form's is a warning (one of the two is wrong)."""
    forms = [f.name for f in others if PurePosixPath(f.name).suffix.lower() in FORM_SUFFIXES]
    if not forms:
        return Check("course.application_form", "D11", "fail", None, "a document", "",
                     "no application form in the course folder (附件1/附件2 as .docx or .pdf, "
                     "D11): add it (`courseware form COURSE.yaml` fills it from the course "
                     "file)")
    if form is None:
        kinds = {PurePosixPath(f).suffix.lower() for f in forms}
        why = ("no curriculum table (讲次, 标题, 主讲) found in it"
               + (" (a scanned PDF has no text to read)" if ".pdf" in kinds else ""))
        unread = _unreadable([f for f in others if f.name in forms])
        if unread:
            why = ("; ".join(unread) + ": saved again as .docx, .doc, .odt or .pdf, its "
                   "lectures and lecturers are checked against the folder and the title cards")
        return Check("course.application_form", "D11", "pass", len(forms), "a document",
                     "files", f"{', '.join(forms)} (D11; {why}: its content is read by a "
                     "person)")
    problems = [f"{m.label} is not in its curriculum" for m in lectures
                if m.number not in form.lectures]
    held = {m.number for m in lectures}
    problems += [f"it lists 第{n}讲 《{title}》, which is not in the folder"
                 for n, (title, _) in sorted(form.lectures.items()) if n not in held]
    problems += [f"it titles 第{m.number}讲 《{form.lectures[m.number][0]}》, its file "
                 f"《{m.title}》" for m in lectures if m.number in form.lectures
                 and not _same_title(m.title, form.lectures[m.number][0])]
    taught = sorted({n for _, names in form.lectures.values() for n in names})
    said = (f"{form.file} lists {len(form.lectures)} lecture(s), taught by "
            f"{'、'.join(taught)}")
    if problems:
        return Check("course.application_form", "D11", "warn", len(forms), "a document",
                     "files", f"{said}, but {'; '.join(problems[:MAX_LISTED])}"
                     + (f"; and {len(problems) - MAX_LISTED} more"
                        if len(problems) > MAX_LISTED else "")
                     + " (D11: the form describes the course delivered): correct the form or "
                     "the files")
    return Check("course.application_form", "D11", "pass", len(forms), "a document", "files",
                 f"{said}: the lectures in the folder, under their titles (D11)")


def _same_title(file_title: str, listed: str) -> bool:
    """A file's name and the form give the same title: the same words without spaces and
    punctuation, one a shortening of the other, or mostly the same (a file named without
    its title, 第3讲.mp4, gives none to compare)."""
    a, b = (re.sub(r"[\W_]+", "", s) for s in (file_title, listed))
    if not a or not b or LECTURE.fullmatch(file_title.strip()):
        return True
    return a in b or b in a or difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


#: durations as listings write them: 0:58:12, 58:12, 58分12秒, 58分钟, 58 min
_HMS = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2}):(\d{2})(?![\d:])")
_MS = re.compile(r"(?<![\d:])(\d{1,3}):(\d{2})(?![\d:])")
_MIN_SEC = re.compile(r"(\d{1,3})\s*分(?:钟)?\s*(?:(\d{1,2})\s*秒)?")
_MIN = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:min|mins|minutes)\b", re.IGNORECASE)
#: a duration listed to the second may differ from the file's by rounding and by how another
#: tool measures a file (its longest stream, its container)
LISTED_SLACK_S = 2.0


def listed_duration(line: str) -> tuple[float, float] | None:
    """The duration a listing's line gives, and how precisely (seconds), or None."""
    if m := _HMS.search(line):
        return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]), LISTED_SLACK_S
    if m := _MS.search(line):
        return int(m[1]) * 60 + int(m[2]), LISTED_SLACK_S
    if m := _MIN_SEC.search(line):
        if m[2] is not None:
            return int(m[1]) * 60 + int(m[2]), LISTED_SLACK_S
        return int(m[1]) * 60, 60.0
    if m := _MIN.search(line):
        return float(m[1]) * 60, 60.0
    return None


def _section(lines: Sequence[str], name: str, courses: Sequence[str]) -> list[str]:
    """The course's part of a listing: from a line naming it up to one naming another
    course; of several such parts (a summary line first, then the course's own), the one
    listing the most lectures."""
    parts = []
    for i, line in enumerate(lines):
        if name in line:
            rest = itertools.takewhile(
                lambda x: not any(c and c != name and c in x for c in courses), lines[i + 1:])
            parts.append([line, *rest])
    return max(parts, key=lambda p: sum(bool(lecture_numbers(x)) for x in p), default=[])


def _read_listing(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError:
        return path.read_bytes().decode("gb18030", errors="replace")   # Windows Notepad


def check_listing(folder: str, listings: Sequence[Path] | None,
                  lectures: Sequence[LectureMeasure] = (),
                  courses: Sequence[str] = ()) -> Check:
    """D1: the stick's root holds a text file naming every course with its lecture numbers
    and durations. ``listings``: the text files at the root (None: the root was not given,
    only the course folder); ``lectures``: the folder's lectures as measured, each looked for
    (第N讲) in the course's part of the listing (from its name to another course's,
    ``courses``), with the duration given on its line; a lecture not listed, or listed
    with another length, fails; a line without a duration is a warning."""
    if listings is None:
        return Check("course.listing", "D1", "skip", None, "named at the root", "",
                     "the course folder was given on its own: give the whole stick to check "
                     "its root listing")
    if not listings:
        return Check("course.listing", "D1", "fail", None, "named at the root", "",
                     "no text file at the stick's root lists the courses (D1: course names, "
                     "lecture numbers and durations): add one (课程清单.txt)")
    name = PurePosixPath(folder).parts[-1] if folder else ""
    found = next(((p, t) for p in listings if name and name in (t := _read_listing(p))), None)
    if found is None:
        return Check("course.listing", "D1", "fail", None, "named at the root", "",
                     f"{', '.join(p.name for p in listings)} at the stick's root does not name "
                     f"{name or 'this course'} (D1): list every course folder with its "
                     "lectures and durations")
    path, text = found
    section = _section(text.splitlines(), name, courses)
    problems: list[str] = []
    unlisted: list[str] = []
    numbered_lines = {n: line for line in section for n in lecture_numbers(line)}
    for m in lectures if numbered_lines else ():
        line = numbered_lines.get(m.number)
        if line is None:
            problems.append(f"{m.label} is not listed")
            continue
        listed = listed_duration(LECTURE.sub(" ", line))
        if listed is None:
            unlisted.append(m.label)
        elif m.duration_s is not None and abs(listed[0] - m.duration_s) > listed[1]:
            problems.append(f"{m.label} is listed as {clock(listed[0])}, but the file lasts "
                            f"{clock(m.duration_s)}")
    said = f"{path.name} names the course {name}"
    if problems:
        return Check("course.listing", "D1", "fail", path.name, "named at the root", "",
                     f"{said}, but: {'; '.join(problems[:MAX_LISTED])}"
                     + (f"; and {len(problems) - MAX_LISTED} more"
                        if len(problems) > MAX_LISTED else "")
                     + " (D1: each lecture with its number and duration): correct the listing")
    if lectures and not numbered_lines:
        return Check("course.listing", "D1", "warn", path.name, "named at the root", "",
                     f"{said}, but no lecture by its number (第N讲) under it: D1 asks each "
                     "lecture with its number and duration")
    if unlisted:
        return Check("course.listing", "D1", "warn", path.name, "named at the root", "",
                     f"{said} and its lectures, but gives no duration for "
                     f"{', '.join(unlisted[:MAX_LISTED])}"
                     + (f" and {len(unlisted) - MAX_LISTED} more"
                        if len(unlisted) > MAX_LISTED else "")
                     + " (D1 asks for each lecture's duration)")
    return Check("course.listing", "D1", "pass", path.name, "named at the root", "",
                 f"{said}" + (f", each of its {len(lectures)} lectures with the file's "
                              "duration (D1)" if lectures else " (D1)"))


def folder_report(folder: str, files: Sequence[FileOutcome], others: Sequence[Found], *,
                  listings: Sequence[Path] | None, profile: Profile,
                  intro: str | None = None, courses: Sequence[str] = ()) -> Report:
    """The course report of one folder of a stick: ``files`` its checked media (lectures and
    preview), ``others`` its other files (bank, form), ``listings`` the root's text files,
    ``intro`` the name of the province's intro the files were compared with, ``courses``
    the names of the stick's course folders (where its part of the listing ends)."""
    previews = [f for f in files if is_preview(f.file)]
    taught = [f for f in files if not is_preview(f.file)]
    lectures = [measure(f, number, title) for f, (number, title)
                in zip(taught, numbered([f.file for f in taught]), strict=True)]
    preview = None
    if previews:
        p = previews[0]
        size = _pair(p.resolution)
        preview = PreviewMeasure(key=p.file, duration_s=p.duration_s,
                                 width=size[0] if size else None,
                                 height=size[1] if size else None,
                                 display_aspect=_pair(p.aspect),
                                 format_status=p.format_status,
                                 format_failed=tuple(c.id for c in p.failed
                                                     if c.id.startswith("format.")),
                                 error=p.error)
    banks = [f for f in others if "题库" in PurePosixPath(f.name).stem
             and PurePosixPath(f.name).suffix.lower() in BANK_SUFFIXES]
    bank = bank_measure(banks[0].path, banks[0].name, profile) if banks else BankMeasure(None)
    name = PurePosixPath(folder).parts[-1] if folder else "."
    form = next((read for f in others if (read := read_form(f.path, f.name)) is not None),
                None)
    checks = [
        check_lecture_duration(lectures, kind=None, structure=profile.structure),
        check_course_size(lectures, profile),
        check_uniform_resolution(lectures, preview),
        check_preview([p.file for p in previews], preview,
                      expected_key=f"a file with 预览 in its name in {name}", profile=profile),
        check_question_bank(bank, profile=profile),
        check_form(others, lectures, form),
        check_listing(folder, listings, lectures, courses),
        check_loudness(lectures),
        check_opening_stills(lectures, taught, profile, course=name, form=form),
        check_stick_intro(lectures, intro),
        check_closing_still(lectures, taught),
        check_single_videos([f.file for f in taught]),
    ]
    total = sum(m.duration_s or 0.0 for m in lectures)
    return Report(file=folder or ".", profile=profile.name, duration_s=total,
                  checks=tuple(checks), extra={"course": name,
                                               "kind": "未知 unknown (no course file)",
                                               "lectures": lecture_rows(lectures),
                                               "preview": {"key": previews[0].file}
                                               if previews else None})


def report_keys(folder: str) -> tuple[str, str]:
    """Where a folder's course report goes in the output store (JSON, HTML)."""
    base = PurePosixPath(folder) if folder else PurePosixPath()
    return str(base / COURSE_REPORT_JSON), str(base / COURSE_REPORT_HTML)


def course_reports(results: Sequence[FileOutcome], found: Sequence[Found],
                   others: Sequence[Found], where: dict[str, str], *, store: Store,
                   profile: Profile, intro: str | None = None
                   ) -> dict[str, tuple[Report, tuple[str, str]]]:
    """Each course folder holding checked files (``where``: file name → course folder,
    :func:`tasks.qc_batch.course_folders`) judged as a course: its report written to
    ``store`` (JSON, then the page) beside its lectures' reports; per folder, the report and
    its keys."""
    from courseware.course_html import render_course_html

    item = {f.name: f for f in found}
    out: dict[str, tuple[Report, tuple[str, str]]] = {}
    names = dict.fromkeys(where[f.file] for f in results)
    courses = [PurePosixPath(n).name for n in names if n]
    for name in names:
        files = [f for f in results if where[f.file] == name]
        first = item[files[0].file]
        listings = None
        if first.root is not None and name != given(first):   # a stick's course folder
            listings = sorted(p for p in first.root.glob("*.txt")
                              if p.is_file() and not p.name.startswith("."))
        report = folder_report(name, files, [o for o in others if where[o.name] == name],
                               listings=listings, profile=profile, intro=intro,
                               courses=courses)
        keys = report_keys(name)
        store.put_bytes(report.to_json().encode("utf-8"), keys[0])
        store.put_bytes(render_course_html(report).encode("utf-8"), keys[1])
        out[name] = (report, keys)
    return out
