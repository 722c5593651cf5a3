"""What a lecture will be, before it is rendered (``courseware plan``): its sources in
step, where it begins and ends, the layout over time, and what the render will say of its
sources. Only the sources' sound is read (for the sync); nothing is rendered or written."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from courseware.compose import fit, region_px
from courseware.course import Course, Lecture
from courseware.report import Check
from encoder_profiles import Profile, load_layout
from qc_metrics.colour import CameraSpan
from qc_metrics.layout import SLIDES, slides_layout
from tasks.course_qc import LectureMeasure, length_checks
from tasks.probe import LectureInputs, begin_at, picture_ends, probe_lecture, starts_at
from tasks.render import (
    cleaner_microphone,
    cleaner_source,
    clipping_heard,
    film_duration,
    heard_snr,
    heard_track,
    layout_timeline,
    main_duration,
    master_audio,
    reduction_for,
    runs_to,
    short_of_s2,
    source_notes,
)
from tasks.sync import sync_sources


class PlannedSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    files: list[str]             #: as named in the course file (several: one recording)
    width: int | None
    height: int | None
    fps: float | None
    sound: bool
    #: source time at the lecture's start (s): how far into the file the lecture begins
    #: (negative: the source begins that long after the lecture does)
    offset_s: float
    #: seconds of the source per second of lecture (a recorder's clock against the cameras')
    clock: float
    #: its sound matched the programme microphone's in the sync …
    matched: bool
    #: … which is this source's (the sync's reference, what the lecture plays)
    programme: bool
    #: where its pictures (a recorder: its sound) begin and end, in lecture time (s)
    begins_s: float
    ends_s: float


class LecturePlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    #: where the lecture begins on the sources' timeline (the course file's start) …
    start_s: float
    #: … and how long it runs (s), between the title card and the credits
    duration_s: float
    #: what the learner sits through (s): lecture 1's intro, the card, the lecture, the
    #: last lecture's credits (A1/A2 judge this)
    film_s: float
    sources: list[PlannedSource]
    #: (lecture time, layout name): the layout from there on, the first at 0
    layouts: list[tuple[float, str]]
    #: what the render will say of the sources
    notes: list[str]
    #: S2 of the programme microphone, heard in five stretches over its file (None: no speech
    #: found, or no sound): the render measures the whole lecture
    sound_snr_db: float | None = None
    #: … and how far the render will lower its noise for S2 (dB)
    noise_reduction_db: float = 0.0
    #: S1: its runs at full scale in what was heard (the render's clipping note foreseen)
    clipped_runs: int = 0


def plan_lecture(course: Course, lecture: Lecture, profile: Profile) -> LecturePlan:
    """Probe the lecture's sources, sync them (unless the course file gives the offsets),
    apply its start and end: the lecture as the render will make it."""
    inputs = probe_lecture(course, lecture)
    if not lecture.sources.offsets:
        inputs = sync_sources(inputs)
    inputs = begin_at(inputs, lecture.start)
    base = load_layout(lecture.layout or profile.encode.layout)
    timeline = [(0.0, base.name)]
    for at, layout in layout_timeline(lecture, inputs, base):
        if at <= 0.0:
            timeline = [(0.0, layout.name)]
        elif layout.name != timeline[-1][1]:
            timeline.append((at, layout.name))
    ends = picture_ends(inputs)
    named: dict[str, tuple[Path, ...]] = dict(lecture.sources.items())
    master = master_audio(inputs)
    sources = []
    for role, src in inputs.sources.items():
        sources.append(PlannedSource(
            role=role, files=[str(f) for f in named[role]], width=src.width, height=src.height,
            fps=src.fps, sound=src.has_audio, offset_s=src.offset_s, clock=src.clock,
            matched=src.matched, programme=master is not None and master.role == role,
            begins_s=starts_at(src), ends_s=ends.get(role, runs_to(src))))
    last = lecture.number == max(lec.number for lec in course.lectures)
    notes = source_notes(inputs, profile) + layout_notes([n for _, n in timeline], inputs,
                                                         profile)
    snr, reduction = None, 0.0
    clipped = 0
    if master is not None:                         # a microphone (master_audio: with sound)
        track = heard_track(master, inputs.label)
        heard = heard_snr(master, inputs.label, track)
        if track is not None:
            clipped = track.clipped_runs
            notes += clipping_heard(inputs.label, master, track, profile.delivery.audio_rate)
        if heard[0] > -math.inf:                   # speech heard (inf: silent pauses)
            snr, reduction = heard[0], reduction_for(heard[0], profile)
            notes += short_of_s2(inputs.label, master.role, snr, reduction, profile,
                                 about=True)
        notes += cleaner_microphone(inputs, cleaner_source(inputs, profile, heard=heard),
                                    profile)
    return LecturePlan(number=lecture.number, title=lecture.title, start_s=inputs.start_s,
                       duration_s=main_duration(inputs),
                       film_s=film_duration(inputs, profile, last=last), sources=sources,
                       layouts=timeline, notes=notes,
                       sound_snr_db=None if snr is None else min(snr, 999.0),
                       noise_reduction_db=reduction, clipped_runs=clipped)


def layout_notes(names: list[str], inputs: LectureInputs, profile: Profile) -> list[str]:
    """B3 foreseen: what the lecture's QC will say (``video.slides_layout``) of a layout
    the lecture shows, with the slides and the teacher fitted as the render fits them (by
    their sizes; square pixels assumed): a layout that leaves the slides under the share
    B3 is read to want, or paints over them."""
    width, height = profile.encode.width, profile.encode.height
    notes = []
    for name in dict.fromkeys(names):
        layout = load_layout(name)
        regions = region_px(layout, width, height)
        slots = {s: fit(regions[s], src.width, src.height) for s in layout.sources
                 if (src := inputs.sources.get(s)) is not None and src.width and src.height}
        check = slides_layout(
            [CameraSpan(0.0, 1.0, {s: (sl.x, sl.y, sl.w, sl.h) for s, sl in slots.items()})],
            size=(width, height), profile=profile)
        if check.status in ("warn", "fail"):
            notes.append(f"{inputs.label}: layout {name}: {check.message}")
    return notes


def slides_scale(lecture: Lecture, inputs: LectureInputs, profile: Profile) -> float | None:
    """The smallest scale at which the lecture's layouts show its slides capture (the
    slides' height in the film over the capture's, fitted as the render fits them; square
    pixels assumed); None where the lecture has no slides capture or no layout shows it."""
    src = inputs.sources.get(SLIDES)
    if src is None or not src.width or not src.height:
        return None
    base = load_layout(lecture.layout or profile.encode.layout)
    shown = [base, *(layout for _, layout in layout_timeline(lecture, inputs, base))]
    width, height = profile.encode.width, profile.encode.height
    return min((fit(region_px(layout, width, height)[SLIDES], src.width, src.height).h
                / src.height for layout in shown if SLIDES in layout.sources), default=None)


def course_length_checks(course: Course, plans: list[LecturePlan], profile: Profile
                         ) -> tuple[Check, ...]:
    """A1/A2 on the planned lectures' films, as the course report will judge the published
    ones (every lecture planned; else none)."""
    if sorted(p.number for p in plans) != sorted(lec.number for lec in course.lectures):
        return ()
    return length_checks(course, [LectureMeasure(number=p.number, title=p.title, key="",
                                                 duration_s=p.film_s) for p in plans], profile)
