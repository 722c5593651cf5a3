"""``courseware qc FILE``: the full QC report of one media file (format, video, audio).

One decode pass over the file (PyAV, threaded decoding): video frames as planar YUV 4:2:0
(``qc_metrics.frames`` convention; other pixel formats are converted to ``yuv420p``) go in
batches into :class:`~qc_metrics.video.VideoQC`, audio as float32 (channels, n) blocks at
the stream's own rate into :class:`~qc_metrics.audio.AudioQC`. Both stream: memory is flat in
the length of the file (one batch of frames, half a second of audio, a few floats per second
for the timelines). The format clauses (D2–D10) come from the demux-only probe
(:func:`tasks.verify.verify_file`).

After the pass, when the events are known, a second cheap pass seeks to the first frame of
each event (at most ``MAX_THUMBNAILS``) and keeps a small JPEG of it for the HTML report.

The arrays live on the GPU (CuPy) when one is usable, unless the caller asks for the CPU;
the report's ``backend`` says which ran, and a fallback is logged and noted (Style rule 10).
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import io
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from courseware.compose import JPEG_RANGE
from courseware.errors import CorruptMediaError
from courseware.media import SoundClock, open_media, origin_s, seek_before
from courseware.report import Check, Event, Report
from courseware.tracks import best_track, listen
from courseware.worker import OrderedWorker
from encoder_profiles import Profile
from qc_metrics.audio import DEAD_CHANNEL_DB, AudioQC, live_channel
from qc_metrics.avsync import AvSync
from qc_metrics.colour import MAX_CUTS, CameraSpan
from qc_metrics.frames import split_yuv420p, timecode
from qc_metrics.layout import SLIDES, TextPage, capture_text, slides_layout
from qc_metrics.loudness import ABSOLUTE_GATE_LUFS, SHORT_TERM_STEPS, STEP_S
from qc_metrics.motion import StabilityDetector
from qc_metrics.noise import NoiseDetector, snr_db
from qc_metrics.temporal import CARD_MIN_S, Uncovered, uncovered
from qc_metrics.video import VideoQC
from qc_metrics.xp import backend_name, gpu_namespace
from tasks.card_text import MIN_READ_LINES
from tasks.progress import Progress, Ticker, artifact_progress
from tasks.slides_text import film_text, slides_text
from tasks.verify import verify_file

if TYPE_CHECKING:
    from tasks.course_qc import IntroPictures

log = logging.getLogger(__name__)

#: frames handed to the video detectors per call (one host→GPU copy per batch) …
BATCH = 16
#: … fewer where frames are larger than 1080p, so a batch holds at most this many pixels
#: (4K: 4 frames; memory then does not grow with the picture size)
BATCH_PIXELS = BATCH * 1920 * 1088
#: batches (video) or blocks (audio) waiting for the detector thread: bounds memory
QUEUE_BATCHES = 3
#: audio handed to the audio detectors per call, in seconds
AUDIO_BLOCK_S = 0.5
#: thumbnails kept for the HTML report (first frame of each event, worst checks first)
MAX_THUMBNAILS = 24
THUMB_WIDTH = 240
#: events starting closer than this share one thumbnail (about two frames)
THUMB_MERGE_S = 0.1
#: the next thumbnail this close after the last decoded picture is decoded to, not sought
THUMB_DECODE_ON_S = 4.0

#: a finished lecture's still at most this far from its first (last) picture is its title
#: card (closing credits): a fade in from black or out to it may come first (after)
CARD_EDGE_S = 1.0
#: the province's intro is looked for this many frames either way of the file's start:
#: another tool may lead with a black frame or two, or trim one
INTRO_SHIFT_FRAMES = 12
#: a frozen span no longer than a title card that starts this soon in a finished file, the
#: province's intro not given, may be the card after the intro (an intro lasts seconds)
INTRO_HINT_S = 30.0
#: a finished lecture that opens with moving pictures may open with an animated title card:
#: the first cut after ``CARD_MIN_S`` and at most this much after A4's length ends it (one
#: later is the lecture's own; such a card has no end found)
ANIMATED_CARD_SLACK_S = 3.0
#: … ended by a cut with no other this soon after it (moving text makes cuts of its own,
#: frame after frame)
CUT_ALONE_S = 0.5
#: an animated card is read this long before its end, when its animation has settled, and
#: this long after it, to see that it is gone
ANIMATED_READ_BEFORE_S = 0.3
AFTER_CUT_S = 0.25
#: an animated card no cut ends (it dissolves into the lecture) ends where its words go:
#: found to this precision, its words being those read on it to this likeness at least
WORDS_STEP_S = 0.25
SAME_WORDS = 0.5
#: a finished lecture that ends with moving pictures may end with moving credits (they
#: scroll, or are animated): read at these times before the end (the last lines, the lines
#: before them)
MOVING_CREDITS_READ_S = (0.5, 3.0)
#: a file whose name says it is a course's preview (A6): excerpts with cards between them
PREVIEW_WORDS = ("预览", "preview", "片花", "宣传片")


def is_preview(name: str) -> bool:
    stem = PurePosixPath(name).stem.casefold()
    return any(word in stem for word in PREVIEW_WORDS)


#: checks that cannot run without the stream, with their clause (shared/DESIGN.md ids)
_VIDEO_IDS = (("video.snr", "V2"), ("video.white_balance", "V3"), ("video.levels", "V4"),
              ("video.stability", "V1"), ("video.timestamps", "V1"),
              ("video.colour_jumps", "V1"), ("video.freeze", "V1"), ("video.black", "V1"),
              ("video.colour_bars", "V1"),
              ("video.camera_match", "V3"), ("video.interlacing", "D7"),
              ("video.slides_layout", "B3"))
_AUDIO_IDS = (("audio.peak", "S1"), ("audio.clipping", "S1"), ("audio.snr", "S2"),
              ("audio.hum", "S3"), ("audio.volume_swings", "S4"), ("audio.loudness", "S4"),
              ("audio.av_sync", "S3"), ("audio.phase", "D9"),
              ("audio.dc_offset", "S1"), ("audio.dropouts", "S4"), ("audio.silence", "S4"),
              ("audio.timestamps", "S3"), ("audio.music_bed", "S4"), ("audio.tones", "S4"))


_SEVERITY = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}


@dataclass(frozen=True)
class Limit:
    """A threshold line on a timeline chart."""

    value: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """Points of a chart: ``values[i]`` measured at ``times[i]`` (seconds, presentation
    time), one every ``step_s``; None where nothing was measurable."""

    key: str            #: "loudness", "snr", "motion"
    label: str          #: English title
    label_zh: str       #: Chinese title
    unit: str
    step_s: float
    times: tuple[float, ...]
    values: tuple[float | None, ...]
    limits: tuple[Limit, ...]
    check_ids: tuple[str, ...]   #: whose events the chart marks
    source: str         #: how the values were measured (a person reads it)
    floor: float | None = None   #: the axis ends here: lower values are drawn on it


@dataclass(frozen=True)
class Thumbnail:
    at_s: float         #: the event start it illustrates
    frame_s: float      #: presentation time of the frame shown
    width: int
    height: int
    jpeg: bytes


@dataclass(frozen=True)
class QcResult:
    """The report (JSON contract) plus what the HTML page shows; small (no frames)."""

    report: Report
    timelines: tuple[Timeline, ...]
    thumbnails: tuple[Thumbnail, ...]
    notes: tuple[str, ...]      #: fallbacks and limits a reader must know about
    frames: int                 #: video frames decoded and checked
    elapsed_s: float            #: wall time of the decode + QC pass


def qc_file(path: Path, *, profile: Profile, lecture: str | None = None,
            thumbnails: bool = True, gpu: bool | None = None,
            cameras: Sequence[CameraSpan] | None = None, name: str | None = None,
            render_notes: Sequence[str] = (),
            span: tuple[float, float] | None = None,
            source_checks: Sequence[Check] = (), finished: bool = False,
            intro: IntroPictures | None = None, progress: Progress | None = None,
            raw: bool = False, slides_scale: float | None = None) -> QcResult:
    """Every QC check of ``path`` (format D2–D10, video V1–V4, audio S1–S4) in one decode pass.

    ``gpu``: None uses CuPy when a CUDA device is usable, True asks for it (falling back to
    NumPy, noted, when there is none), False runs on NumPy. ``cameras``: which part of the
    picture shows which camera when (the render's layout); without it ``video.camera_match``
    is skipped. ``name``: what the report calls the file, when ``path`` is a working copy
    (the published key of a rendered lecture). ``render_notes``: what the render said about
    the lecture's sources and what it did (a camera that stopped, dropouts played from
    another microphone), kept in the report (``render_notes``) for the people it goes to.
    ``span``: (from, to) in seconds from the file's start: the video and audio checks judge
    that part of the file only (a raw source's part that goes into the lecture); the format
    checks are of the whole file. ``source_checks``: what the render measured of its sources
    that cannot be measured on the film (``audio.source_clipping``: a clipped microphone whose
    level the render lowered), added to the report. ``finished``: the file is a finished
    lecture checked without its layout (a delivery stick's): a still picture of at most A4's
    title-card length at its very start is the title card, at its very end the credits card
    (A5), not a frozen picture, and its colours not a cast (:func:`_cards`); in a preview
    (``预览`` in its name, A6) every such still is a card. ``intro``: the province's intro
    clip (A3), with ``finished``: where the file opens with it, its pictures are the
    province's and the title card follows it (the report's ``intro`` says how far the
    opening is from it). ``progress``: told the fraction of the decode pass done, about once
    a second of the file; by default, inside a Prefect run, a progress artifact of that run
    (the operator's view of a long file). ``raw``: the file is a raw source (a camera's or a
    recorder's original), judged for the lecture the render makes of it (:func:`as_source`);
    ``slides_scale``, with ``raw``: the file is the lecture's slides capture, which its layout
    shows at this scale: its text is measured and judged at that size (B3, early).
    Raises MissingSourceError / CorruptMediaError when the file is absent, unreadable or
    damaged.
    """
    fmt = verify_file(path, profile=profile, lecture=lecture)
    notes: list[str] = []
    xp: ModuleType = np
    if gpu is not False:
        cupy = gpu_namespace()
        if cupy is not None:
            xp = cupy
        elif gpu:
            note = "GPU requested but CuPy or a CUDA device is unavailable: ran on NumPy (CPU)"
            log.warning("%s: %s", path, note)
            notes.append(note)
    with open_media(path, lecture=lecture) as container:
        several = len(container.streams.audio) > 1
    track = 0
    if several:                     # a camcorder's inputs, each on a track of its own
        heard = listen(path, lecture=lecture)
        track = best_track(heard)
        notes.append(f"{len(heard)} audio tracks (" + "; ".join(t.describe() for t in heard)
                     + f"): the audio checks are of track {track + 1}, the one the pipeline "
                     "would use; the others are not checked")
    started = time.perf_counter()
    if span is not None:
        if math.isinf(span[1]) and fmt.duration_s:      # to the end
            span = (span[0], max(span[0], fmt.duration_s))
        notes.append(f"the video and audio checks are of {timecode(span[0])}–"
                     f"{timecode(span[1])} of the file only; the format checks of all of it")
    if progress is None:
        progress = artifact_progress(f"QC of {name or path.name}")
    length = span or ((0.0, fmt.duration_s) if fmt.duration_s else None)
    ticker = Ticker(progress, *length) if progress is not None and length else None
    video, audio = _decode_pass(path, profile=profile, lecture=lecture, xp=xp,
                                cameras=cameras, audio_stream=track, span=span, ticker=ticker,
                                raw=raw)
    if ticker is not None:
        ticker.done()
    elapsed = time.perf_counter() - started

    checks: list[Check] = list(fmt.checks)
    timelines: list[Timeline] = []
    extra: dict[str, object] = {"render_notes": list(render_notes)} if render_notes else {}
    if video is not None:
        video_checks = video.qc.finish()
        if finished and not cameras:
            intro_s = None
            if intro is not None:
                extra["intro"], ends = _opening(path, intro, lecture=lecture)
                intro_s = video.span[0] + ends if ends is not None else None
            video_checks, extra["cards"] = _cards(
                video_checks, stills=video.qc.stills(), pictures=video.span,
                limit_s=profile.structure.title_card_max_s, fps=video.fps, intro_s=intro_s,
                preview=is_preview(name or path.name), picture=video.qc.still_picture,
                intro_given=intro is not None, cuts=video.qc.cuts())
            notes += _read_cards(path, extra["cards"], lecture=lecture,
                                 limit_s=profile.structure.title_card_max_s)
        checks += video_checks
        b3, read = _slides_check(path, video, profile=profile, lecture=lecture,
                                 cameras=cameras or (), cards=extra.get("cards"), raw=raw,
                                 slides_scale=slides_scale, span=span)
        checks.append(b3)
        if read:
            scale = slides_scale if raw else None
            extra["slides_text"] = {
                "scale": scale,
                "pages": [{"at_s": p.at_s, "lines_px": list(p.heights), "body_px": p.body,
                           "film_body_px": p.at_scale(scale or 1.0).body} for p in read]}
        timelines += video.timelines(profile)
    else:
        checks += [Check(i, c, "skip", None, None, "", "no video stream") for i, c in _VIDEO_IDS]
    if audio is not None:
        if video is not None:       # S4: a silence cut with a card is an edit
            audio.qc.stills = video.qc.stills()
        audio_checks = audio.qc.finish()
        checks = [_one_sided(c, audio.qc.channel_levels_dbfs())
                  if c.id == "format.audio_channels" else c for c in checks]
        checks += audio_checks
        timelines.insert(0, audio.loudness_timeline(audio_checks))
        if audio.sync is not None:
            checks.append(audio.sync.finish())
        else:
            checks.append(Check("audio.av_sync", "S3", "skip", None, None, "",
                                "no video stream"))
        checks.append(audio.timestamps_check())
        if video is not None:
            checks = _stream_ends(checks, pictures=video.span, sound=audio.span, fps=video.fps)
    else:
        checks += [Check(i, c, "skip", None, None, "", "no audio stream") for i, c in _AUDIO_IDS]
    checks += source_checks
    if raw:
        checks = [as_source(c, profile) for c in checks]
        extra["raw_source"] = True
        notes.append("judged as a raw source, for the lecture the render makes of it: the "
                     "format it makes anew (D2–D10) and the sound's peak level (S1) are not "
                     "the source's to meet (skipped, their measurements kept); what the render "
                     "corrects (noise, a cast, hum) is a warning")
    ran = [p.qc.backend for p in (video, audio) if p is not None and p.qc.backend]
    backend = ran[0] if ran else backend_name(xp)
    if span is not None:
        extra["span_s"] = [round(span[0], 3), round(span[1], 3)]
    report = Report(file=name or str(path), profile=profile.name, duration_s=fmt.duration_s,
                    checks=tuple(checks), backend=backend, extra=extra)
    thumbs: tuple[Thumbnail, ...] = ()
    if thumbnails and video is not None:
        thumbs = _thumbnails(path, _event_starts(report.checks), lecture=lecture)
    return QcResult(report=report, timelines=tuple(timelines), thumbnails=thumbs,
                    notes=tuple(notes), frames=video.frames if video is not None else 0,
                    elapsed_s=elapsed)


#: format checks whose clause the render meets whatever the source (it re-encodes to the
#: profile, deinterlaces, converts the frame rate, puts a one-channel sound on both channels)
REMADE_BY_RENDER = frozenset({
    "format.container", "format.video_codec", "format.pixel_format", "format.bitrate",
    "format.fps", "format.scan", "format.audio_codec", "format.audio_rate",
    "format.audio_bitrate", "format.audio_channels", "format.faststart"})
_WANTS = re.compile(r"[;,:]?\s*(?:the specification wants|a delivered lecture needs)")


def as_source(check: Check, profile: Profile) -> Check:
    """A check of a raw source, for the base that recorded it. The format (D2–D10) the render
    makes anew (:data:`REMADE_BY_RENDER`: a camera's 50 Mbit/s original is no fault, and
    re-encoding it to 1 Mbit/s before handing it in would only lose picture) is not the
    source's to meet (skip, its measurement kept), but for HDR video, which the render does
    not tone-map; a picture under the lecture's size or of another shape is a warning, as it
    depends on its place in the layout (a teacher's inset needs fewer pixels than the whole
    picture). The sound's level (S1 peaks) is the render's too: it brings the lecture to the
    loudness target under a limiter. What the render corrects, within limits, is a warning
    with what it does (the lecture's QC says whether it was enough): picture noise under V2's
    minimum (a temporal denoise, ``encode.denoise``), a cast (white-balance gains), sound
    noise the reduction can bring to S2 (at most ``encode.audio_denoise_max_db``), mains hum
    (notched). Clipping, freezes, jumps, black and the rest are the source's own and stay as
    measured."""
    fix = _corrected(check, profile) if check.status == "fail" else None
    if fix is None:
        return _remade(check)
    return replace(check, status="warn", message=f"{check.message}. {fix}")


def _corrected(check: Check, profile: Profile) -> str | None:
    """What the render does about a failed check of a raw source (None: nothing)."""
    enc, measured = profile.encode, check.measured
    if check.id == "video.snr" and enc.denoise == "auto":
        return ("A raw source: the render denoises a source under V2's minimum (a temporal "
                "average of its still parts); the lecture's QC says whether it was enough, and "
                "more light or less camera gain avoids it")
    if check.id == "video.white_balance":
        return ("A raw source: the render takes a steady cast out (white-balance gains from "
                "its near-neutral pixels); setting the camera's white balance avoids it")
    if (check.id == "audio.snr" and enc.audio_denoise == "auto" and isinstance(measured, float)
            and measured + enc.audio_denoise_max_db >= profile.audio.snr_min_db):
        return (f"A raw source: the render's noise reduction lowers a steady noise floor by up "
                f"to {enc.audio_denoise_max_db:g} dB, which can bring it to S2's minimum "
                "(`courseware plan` foresees the result); a quieter room or a closer "
                "microphone is better")
    if (check.id == "audio.hum" and isinstance(check.threshold, float)
            and enc.hum_prominence_db <= check.threshold):
        return ("A raw source: the render notches the mains lines that stand out (S3); "
                "grounding the equipment avoids it")
    return None


def _remade(check: Check) -> Check:
    """:func:`as_source` of a check the render makes anew (format, S1 level)."""
    if check.status not in ("fail", "warn"):
        return check
    if check.id == "audio.peak" and isinstance(check.measured, float):
        return replace(check, status="skip", message=(
            f"true peak {check.measured:.1f} dBFS: a raw source; the render sets the lecture's "
            f"level (a gain to the loudness target, a limiter holding the peaks within S1's "
            f"{check.threshold} dBFS), so this is not the source's to meet: hand in the sound "
            "as recorded"))
    found = _WANTS.split(check.message, maxsplit=1)[0]
    hdr = check.id == "format.pixel_format" and "high dynamic range" in check.message
    if check.id in REMADE_BY_RENDER and "no audio stream" in check.message:
        return replace(check, status="skip", message=(
            f"{found}: a raw source; the lecture's sound may come from another of its sources "
            "(the teacher's camera, a recorder): `courseware plan` shows which"))
    if check.id in REMADE_BY_RENDER and not hdr:    # HDR is not tone-mapped (tasks.render)
        return replace(check, status="skip", message=(
            f"{found}: a raw source; the render makes the lecture's format ({check.clause}) "
            "whatever the source's, so this is not the source's to meet: hand in the original, "
            "not a re-encoded copy"))
    if check.id == "format.resolution":
        return replace(check, status="warn", message=(
            f"{found}: a raw source smaller than the lecture's picture ({check.threshold}); "
            "enough for a smaller slot of the layout (the teacher's inset), soft where it fills "
            "the picture: record in HD where it can"))
    if check.id == "format.aspect":
        return replace(check, status="warn", message=(
            f"{found}: a raw source of another shape than the lecture's; the render fits it "
            "into its slot of the layout (with bars where it does not fill it): look at the "
            "plan's layout (`courseware plan`)"))
    return check


def _one_sided(check: Check, levels_dbfs: list[float]) -> Check:
    """D9 (stereo) on what is heard: two channels of which one is silent, or far below the
    other, play the lecture in one ear."""
    live = live_channel(levels_dbfs)
    if live is None:
        return check
    shown = ", ".join(f"channel {i + 1} {x:.1f} dBFS" for i, x in enumerate(levels_dbfs))
    return replace(check, status="fail", message=(
        f"2 channels, but only channel {live + 1} carries sound ({shown} RMS; "
        f"{DEAD_CHANNEL_DB:g} dB apart or more): the lecture is heard in one ear; the "
        "specification wants stereo sound (D9): put the microphone on both channels (the "
        "pipeline does so itself for a raw source)"))


def card_picture(blocks: np.ndarray) -> str:
    """A still's luma block means as a short text: "HxW:" and the rounded codes in base64."""
    codes = np.clip(np.rint(blocks), 0, 255).astype(np.uint8)
    return f"{codes.shape[0]}x{codes.shape[1]}:" + base64.b64encode(codes.tobytes()).decode()


def card_codes(text: str) -> np.ndarray:
    """The block means :func:`card_picture` wrote."""
    shape, _, data = text.partition(":")
    h, w = (int(x) for x in shape.split("x"))
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(h, w)


def _opening(path: Path, intro: IntroPictures, *, lecture: str | None
             ) -> tuple[dict[str, object], float | None]:
    """A3: how far the file's opening is from the province's intro and whether it is it (the
    report's ``intro``), and where in the file the intro ends (None: it does not open with
    it)."""
    from tasks.course_qc import INTRO_MAD_CODES, intro_difference

    mad, shift = intro_difference(path, intro, label=lecture, shift=INTRO_SHIFT_FRAMES)
    opens = mad <= INTRO_MAD_CODES
    return ({"file": intro.path.name, "mad": round(mad, 2), "frames": intro.frames,
             "seconds": round(intro.duration_s, 3), "opens": opens,
             "from_s": round(shift / intro.fps, 3)},
            shift / intro.fps + intro.duration_s if opens else None)


def _cards(checks: list[Check], *, stills: Sequence[tuple[float, float]],
           pictures: tuple[float, float], limit_s: float, fps: float,
           intro_s: float | None = None, preview: bool = False,
           picture: Callable[[float, float], np.ndarray | None] | None = None,
           intro_given: bool = True, cuts: Sequence[float] = ()
           ) -> tuple[list[Check], dict[str, object]]:
    """A finished lecture's designed pictures (A3–A6), and the checks without them.

    The title card: the still of ``CARD_MIN_S`` to ``limit_s`` (A4's title-card length, and
    a frame) that begins within ``CARD_EDGE_S`` of the first picture, or of ``intro_s``,
    where the province's intro (A3) ends; the closing credits: one that ends within it of
    the last picture (A5); in a preview (``preview``), every such still (the cards between
    its excerpts; a preview has no credits). They, and the intro, leave ``video.freeze``,
    said in its message; any other frozen span stays. Their colours are the designer's, not
    a camera's: the ``video.white_balance`` events on them (from the first picture, from up
    to ``CARD_EDGE_S`` before the credits to the last picture: a fade) leave it too, as the
    layout-aware QC of a rendered lecture leaves the cards out.

    Also returns what was found, for the course checks of a stick: ``opening_still`` (the
    still where the title card should be, however long: [start, end], None when the opening
    moves), ``closing_still`` (the same where the credits belong), ``title_card``,
    ``credits`` and ``intro`` ([start, end] or None); ``title_card_picture``: the card's
    luma as block means (``picture``, :func:`card_picture`), to tell one lecture's card from
    another's.

    Without the intro (``intro_given`` false), a frozen span that could be the title card
    after it (at most a card long, within ``INTRO_HINT_S`` of the start) is kept, and its
    message says to give the intro.

    An opening that moves may be an animated title card (``animated_card``: [start, end],
    the end the first of ``cuts`` within ``ANIMATED_CARD_SLACK_S`` of A4's length with no
    other within ``CUT_ALONE_S`` after it, else None), an ending that moves moving credits
    (``moving_credits``: [None, end]: where they begin is not looked for, A5 sets no
    length); :func:`_read_cards` keeps them only where their words read as a card's, as
    credits."""
    first, end = pictures
    frame = 1.0 / fps

    def done(out: list[Check]) -> tuple[list[Check], dict[str, object]]:
        if not intro_given:
            out = _ask_for_intro(out, first=first, limit_s=limit_s + frame)
        return out, found

    designed: list[tuple[float, float]] = []
    said: list[str] = []
    found: dict[str, object] = {"intro": None, "opening_still": None, "title_card": None,
                                "title_card_picture": None, "animated_card": None,
                                "closing_still": None, "credits": None,
                                "moving_credits": None}

    def span(a: float, b: float) -> list[float]:
        return [round(a, 3), round(b, 3)]

    opening = first
    if intro_s is not None:
        opening = intro_s
        designed.append((first, intro_s))
        said.append(f"the province's intro ({timecode(first)}–{timecode(intro_s)}, A3)")
        found["intro"] = span(first, intro_s)
    held = [(a, b) for a, b in stills if b - a >= CARD_MIN_S]
    short = [(a, b) for a, b in held if b - a <= limit_s + frame]
    head = next((s for s in held if -frame / 2 <= s[0] - opening <= CARD_EDGE_S), None)
    if head is not None:
        found["opening_still"] = span(*head)
        if head in short:
            found["title_card"] = span(*head)
            blocks = picture(*head) if picture is not None else None
            found["title_card_picture"] = card_picture(blocks) if blocks is not None else None
            designed.append((opening, head[1]))
            said.append(f"the title card at the start ({timecode(head[0])}–"
                        f"{timecode(head[1])}, A4)")
    elif not preview:           # the first cut in reach with no other right after it
        known = cuts if len(cuts) < MAX_CUTS else cuts[:-1]   # the last kept: what follows?
        cut = next((c for k, c in enumerate(known) if opening + CARD_MIN_S <= c
                    <= opening + limit_s + ANIMATED_CARD_SLACK_S
                    and all(d - c > CUT_ALONE_S for d in cuts[k + 1:k + 2])), None)
        found["animated_card"] = [round(opening, 3), None if cut is None else round(cut, 3)]
    if held and held[-1] != head and end - held[-1][1] <= CARD_EDGE_S:
        found["closing_still"] = span(*held[-1])
    elif not preview:
        found["moving_credits"] = [None, round(end, 3)]
    tail = None if preview else next((s for s in reversed(short) if end - s[1] <= CARD_EDGE_S),
                                     None)
    if tail is not None and tail != head:
        found["credits"] = span(*tail)
        designed.append((tail[0] - CARD_EDGE_S, end))
        said.append(f"the closing card at the end ({timecode(tail[0])}–{timecode(tail[1])}, "
                    "credits, A5)")
    if preview:
        cards = [s for s in short if s not in (head, tail)]
        designed += cards
        if cards:
            said.append(f"the preview's {len(cards)} still card(s) between its excerpts "
                        f"(A6, ≤ {limit_s:g} s each)")
    if not designed:
        return done(checks)
    merged: list[tuple[float, float]] = []
    for a, b in sorted(designed):       # the intro and its card, one after the other
        if merged and a <= merged[-1][1] + frame:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))

    def on_card(e: Event) -> bool:
        return any(a - 1e-6 <= e.start_s and e.end_s <= b + CARD_EDGE_S for a, b in merged)

    note = " and ".join(said)
    out = []
    for c in checks:
        kept = tuple(e for e in c.events if not on_card(e))
        if c.id not in ("video.freeze", "video.white_balance") or len(kept) == len(c.events):
            out.append(c)
        elif c.id == "video.freeze":
            total = sum(e.end_s - e.start_s for e in kept)
            threshold = c.threshold if isinstance(c.threshold, int | float) else 0.0
            out.append(dataclasses.replace(
                c, status=c.status if kept else "pass", measured=round(total, 3), events=kept,
                message=(f"{len(kept)} frozen span(s), {total:.1f} s in all (≥ {threshold:g} "
                         f"s each); {note}: still by design, not counted" if kept else
                         f"no frozen spans in the lecture; {note}: still by design, not "
                         "counted")))
        else:     # a warning from the cards alone; a cast over the whole lecture stays
            status = "pass" if c.status == "warn" and not kept else c.status
            out.append(dataclasses.replace(
                c, status=status, events=kept,
                message=f"{c.message}; {note}: designed graphics, their colours not judged"))
    return done(out)


def _read_cards(path: Path, cards: Any, *, lecture: str | None,
                limit_s: float = math.inf) -> list[str]:
    """The words of the stills where the title card and the credits belong (A4, A5), read
    into ``cards`` (``title_card_text``, ``credits_text``: lines top to bottom; None where
    not read); a note when nothing can be read here.

    An opening that moves (``animated_card``, :func:`_cards`) is read where its animation
    has most likely settled (just before its cut, else just before A4's ``limit_s``) and in
    its middle, the reading with more words kept: where it reads as a title card (a lecture
    number, a professional title or a unit), it is one, animated; else ``animated_card``
    goes back to None (the lecture opens on its own pictures). Just after its cut it must
    read as a card no more, else the cut was the card's own; then, and where no cut ends
    it (a dissolve), its end is where its words go (:func:`_words_end`; None where they
    still read past A4's length and ``ANIMATED_CARD_SLACK_S``).
    An ending that moves (``moving_credits``) is read at ``MOVING_CREDITS_READ_S`` before
    the end, the lines of both pictures together: where they give a production unit or a
    recording date, they are the credits, moving."""
    from tasks.card_text import card_fields, ocr_engine, read_card

    animated, moving = cards.get("animated_card"), cards.get("moving_credits")
    places = {"title_card_text": cards.get("opening_still"),
              "credits_text": cards.get("closing_still")}
    cards.update(dict.fromkeys(places))
    if not any(places.values()) and not animated and not moving:
        return []
    if ocr_engine() is None:    # not told from the lecture without their words
        cards["animated_card"] = cards["moving_credits"] = None
        if not any(places.values()):
            return []
        return ["the cards' words were not read: no OCR here (pip install rapidocr "
                "onnxruntime); A4/A5 are judged by the stills' places and lengths only"]
    for key, span in places.items():
        if isinstance(span, list):
            lines = read_card(path, (span[0], span[1]), lecture=lecture)
            cards[key] = list(lines) if lines is not None else None
    if isinstance(animated, list):
        start, end = animated
        last = (end if end is not None else start + limit_s) - ANIMATED_READ_BEFORE_S
        readings = [(t, read_card(path, (t, t), lecture=lecture) or ())
                    for t in (last, (start + last) / 2) if t > start]
        seen, lines = max(readings, key=lambda r: len("".join(r[1])), default=(start, ()))
        if _card_like(lines):
            cards["title_card_text"] = list(lines)
            after = read_card(path, (end + AFTER_CUT_S,) * 2, lecture=lecture) \
                if end is not None else None
            if end is None or (after is not None and _card_like(after)):  # no cut ends it
                cards["animated_card"] = [start, _words_end(
                    path, lines, seen=seen, until=start + limit_s + ANIMATED_CARD_SLACK_S,
                    lecture=lecture)]
        else:
            cards["animated_card"] = None
    if isinstance(moving, list):
        end = moving[1]
        merged: list[str] = []
        for t in (end - back for back in MOVING_CREDITS_READ_S):
            merged = [*(read_card(path, (t, t), lecture=lecture) or ()),
                      *merged]          # the earlier picture's lines come first
        merged = list(dict.fromkeys(merged))
        fields = card_fields(merged)
        if fields.producer or fields.date:
            cards["credits_text"] = merged
        else:
            cards["moving_credits"] = None
    return []


def _slides_check(path: Path, video: _VideoPass, *, profile: Profile, lecture: str | None,
                  cameras: Sequence[CameraSpan], cards: Any, raw: bool,
                  slides_scale: float | None, span: tuple[float, float] | None
                  ) -> tuple[Check, list[TextPage] | None]:
    """``video.slides_layout`` (B3), the slides' text measured where it can be: in the
    slides' region of a film whose layout is known; over the whole picture of a film
    checked on its own, between its cards (``cards``); in a raw slides capture, at the
    scale its lecture's layout shows it (``slides_scale``, :func:`capture_text`). With the
    pages read (their text in the file's pixels; None: none read)."""
    readable = (video.size or (0, 0))[1] >= MIN_READ_LINES
    if raw and slides_scale is not None:
        read = (film_text(path, between=span or video.span, lecture=lecture,
                          pages=video.qc.pages()) if readable else None)
        return capture_text(read, scale=slides_scale, profile=profile), read
    if raw and not cameras:
        return Check("video.slides_layout", "B3", "skip", None,
                     profile.video.slides_share_min, "share",
                     "a raw source that is not a lecture's slides capture, or whose lecture is "
                     "not known: B3 is judged on the lecture's film (and, early, on its slides "
                     "capture at the size its layout shows it)"), None
    text = None
    if any(SLIDES in c.regions for c in cameras):
        text = slides_text(path, cameras, end_s=video.span[1], lecture=lecture,
                           pages=video.qc.pages())
    elif not cameras and readable:
        text = film_text(path, between=_between_cards(video.span, cards), lecture=lecture,
                         pages=video.qc.pages())
    return slides_layout(cameras, size=video.size, profile=profile, end_s=video.span[1],
                         text=text), text


def _words_end(path: Path, lines: Sequence[str], *, seen: float, until: float,
               lecture: str | None) -> float | None:
    """Where an animated card that no cut ends (it dissolves into the lecture, or a cut
    was its own) ends: the first time, to ``WORDS_STEP_S``, whose picture no longer reads
    as its words (``lines``, read at ``seen``); None where they still read at ``until``."""
    from tasks.card_text import read_card

    def compact(read: Sequence[str]) -> str:
        return "".join("".join(line.split()) for line in read)

    words = compact(lines)

    def still(t: float) -> bool:
        now = compact(read_card(path, (t, t), lecture=lecture) or ())
        return difflib.SequenceMatcher(None, words, now).ratio() >= SAME_WORDS

    if still(until):
        return None
    low, high = seen, until
    while high - low > WORDS_STEP_S:
        middle = (low + high) / 2
        low, high = (middle, high) if still(middle) else (low, middle)
    return round(high, 3)


def _between_cards(pictures: tuple[float, float], cards: Any) -> tuple[float, float]:
    """The lecture between its opening (the intro, the title card, still or animated) and
    its closing card, where they were found (``cards``, :func:`_cards`); else all of
    ``pictures``."""
    start, end = pictures
    if isinstance(cards, dict):
        for key in ("intro", "opening_still", "animated_card"):
            if isinstance(place := cards.get(key), list) and place[1] is not None:
                start = max(start, place[1])
        if isinstance(place := cards.get("closing_still"), list):
            end = min(end, place[0])
    return (start, end) if end > start else pictures


def _card_like(lines: Sequence[str]) -> bool:
    """Words that read as a title card's: a lecture's number, a professional title or a
    unit."""
    from tasks.card_text import card_fields, lecture_numbers

    fields = card_fields(list(lines))
    return bool(lecture_numbers("".join(lines)) or fields.title or fields.unit)


def _ask_for_intro(checks: list[Check], *, first: float, limit_s: float) -> list[Check]:
    """``video.freeze`` of a finished file checked without the province's intro: a frozen
    span of at most a title card's length soon after the start may be the card after the
    intro (A3: lecture 1 opens with it); the message says how to have it read so."""
    out = []
    for c in checks:
        card = next((e for e in c.events if e.end_s - e.start_s <= limit_s
                     and e.start_s - first <= INTRO_HINT_S), None)
        if c.id == "video.freeze" and card is not None:
            c = dataclasses.replace(c, message=(
                f"{c.message}; if the file opens with the province's intro (A3), the still at "
                f"{timecode(card.start_s)}–{timecode(card.end_s)} may be its title card: give "
                "the intro clip (--intro 统一片头.mp4; the flow's intro) to have it read so"))
        out.append(c)
    return out


def _stream_ends(checks: list[Check], *, pictures: tuple[float, float],
                 sound: tuple[float, float], fps: float) -> list[Check]:
    """The file's two streams from end to end (S3: sound with the pictures; V1: no loss of
    sync): sound that starts after the pictures or ends before them breaks
    ``audio.timestamps``; pictures that start after the sound or end before it break
    ``video.timestamps`` (counted in frames)."""
    silent, held = uncovered(sound, pictures), uncovered(pictures, sound)
    out = []
    for c in checks:
        if c.id == "audio.timestamps" and silent:
            c = _uncovered(c, silent, len(silent), "sound", "picture",
                           "played as silence", "the sound track as long as the picture")
        elif c.id == "video.timestamps" and held:
            frames = sum(round(u.seconds * fps) for u in held)
            c = _uncovered(c, held, frames, "picture", "sound",
                           "a player shows a still picture or black", "the picture as long as "
                           "the sound")
        out.append(c)
    return out


def _uncovered(check: Check, missing: list[Uncovered], count: float, ours: str, other: str,
               meanwhile: str, fix: str) -> Check:
    parts = [f"the {ours} {'start' if u.at == 'start' else 'end'}s {u.seconds:.2f} s "
             f"{'after' if u.at == 'start' else 'before'} the {other} "
             f"({timecode(u.start_s)}–{timecode(u.end_s)}: {meanwhile})" for u in missing]
    events = tuple(Event(u.start_s, u.end_s, f"{u.seconds:.2f} s of {other} without {ours}")
                   for u in missing)
    said = "; ".join(parts) + (f"; re-export the file with {fix} (in the editor, the tracks "
                               "of one length)")
    message = said if check.status == "pass" else f"{check.message}; {said}"
    measured = (check.measured if isinstance(check.measured, float) else 0.0) + count
    return replace(check, status="fail", measured=measured, message=message,
                   events=tuple(sorted(check.events + events, key=lambda e: e.start_s)))


# A path says nothing about the file's content: never serve a cached verdict.
qc_task = task(name="qc", cache_policy=NO_CACHE)(qc_file)


# ------------------------------------------------------------------------------ decode pass

def _where(path: Path, lecture: str | None) -> str:
    return f"{path}" + (f" (lecture {lecture})" if lecture else "")


def _decode_pass(path: Path, *, profile: Profile, lecture: str | None, xp: ModuleType,
                 cameras: Sequence[CameraSpan] | None = None, audio_stream: int = 0,
                 span: tuple[float, float] | None = None, ticker: Ticker | None = None,
                 raw: bool = False) -> tuple[_VideoPass | None, _AudioPass | None]:
    """Demux once, decode both streams (``audio_stream``: which of the audio tracks), feed
    the detectors.

    The detectors run on a worker thread, in the order the frames and audio blocks were
    decoded, while this thread demuxes, decodes and copies the next batch: NumPy, CuPy and
    FFmpeg's decoder release the GIL, so on a CPU the checks overlap decoding.

    Times are from the file's start (``origin_s``), as a player shows them: a camera's
    MPEG-TS file whose clock starts at 1.4 s, or at the time of day, reports its first
    picture at 0. ``span``: (from, to) on that time: only the frames and sound inside it are
    checked (a seek to the keyframe before ``from``; decoding stops after ``to``).
    ``ticker``: told the time of each frame decoded. ``raw``: the file is a raw source
    (:class:`VideoQC`'s ``source``)."""
    with open_media(path, lecture=lecture) as container, \
            OrderedWorker("qc-detectors", depth=QUEUE_BATCHES) as worker:
        vs = container.streams.video[0] if container.streams.video else None
        aus = container.streams.audio[audio_stream] if container.streams.audio else None
        origin = origin_s(container)
        video = (_VideoPass(vs, profile=profile, xp=xp, worker=worker, cameras=cameras,
                            raw=raw) if vs is not None else None)
        audio = (_AudioPass(aus, profile=profile, xp=xp, worker=worker, cameras=cameras)
                 if aus is not None else None)
        if video is not None and audio is not None:  # S3: one meter sees both
            sync = AvSync(sample_rate=audio.rate, av_sync_ms=profile.audio.av_sync_ms)
            video.sync = audio.sync = sync
        streams = [s for s in (vs, aus) if s is not None]
        if vs is not None:
            vs.thread_type = "AUTO"           # frame + slice threads (audio decodes fast)
        last = 0.0
        begin, end = span if span is not None else (-math.inf, math.inf)
        done = {s.index: False for s in streams}
        try:
            if begin > 0:
                seek_before(container, vs, begin, origin=origin)
            # demux ends with an empty packet per stream, which flushes its decoder
            for packet in container.demux(streams):
                for frame in packet.decode():
                    if not isinstance(frame, (av.VideoFrame, av.AudioFrame)):
                        continue
                    t = None if frame.time is None else frame.time - origin
                    if t is not None and (t >= end or _ends_before(frame, t, begin)):
                        done[packet.stream.index] = t >= end
                        continue
                    if isinstance(frame, av.VideoFrame) and video is not None:
                        video.add(frame, t)
                        last = video.last_t
                    elif isinstance(frame, av.AudioFrame) and audio is not None:
                        audio.add(frame, t)
                    if ticker is not None:
                        ticker(t)
                if all(done.values()):
                    break
        except av.FFmpegError as exc:
            raise CorruptMediaError(
                f"{_where(path, lecture)}: decoding failed near {timecode(last)} ({exc}); "
                "the file is damaged: re-export or re-upload it") from exc
        if video is not None:
            video.flush()
            if video.frames == 0:
                raise CorruptMediaError(f"{_where(path, lecture)}: no decodable video frames; "
                                        "re-export or re-upload the file")
        if audio is not None:
            audio.flush()
    return video, audio


def _ends_before(frame: av.VideoFrame | av.AudioFrame, t: float, begin: float) -> bool:
    """The frame (at ``t``) is over before ``begin``: a picture shown before it, sound that
    ends at it or before."""
    if isinstance(frame, av.AudioFrame):
        return t + frame.samples / frame.sample_rate <= begin
    return t < begin - 1e-6


class _VideoPass:
    """Frames → batches of planar yuv420p on the chosen backend → VideoQC."""

    def __init__(self, stream: av.video.stream.VideoStream, *, profile: Profile,
                 xp: ModuleType, worker: OrderedWorker,
                 cameras: Sequence[CameraSpan] | None = None, raw: bool = False) -> None:
        rate = stream.average_rate or stream.guessed_rate
        self.worker = worker
        self.fps = float(rate) if rate else float(profile.delivery.fps)
        self.full_range = _full_range(stream)
        self.qc = VideoQC(fps=self.fps, profile=profile, batch=BATCH, cameras=cameras,
                          full_range=self.full_range, source=raw)
        self.sync: AvSync | None = None
        self.xp = xp
        self.size: tuple[int, int] | None = None    # (width, height) of the first frame
        self.batch = BATCH                           # frames per batch, by that size
        self.frames = 0
        self.first_t: float | None = None
        self.last_t = 0.0
        self._buf: np.ndarray | None = None
        self._ts: list[float] = []

    def add(self, frame: av.VideoFrame, t: float | None) -> None:
        """``t``: the frame's time from the file's start (None: the file gives none)."""
        if t is None:
            t = self.last_t + 1.0 / self.fps
        if self.size is None:
            # 4:2:0 needs even sizes; an odd source loses its last row/column
            self.size = (frame.width - frame.width % 2, frame.height - frame.height % 2)
            self.batch = max(1, min(BATCH, BATCH_PIXELS // max(1, self.size[0] * self.size[1])))
        if frame.format.name not in _AS_IS or (frame.width, frame.height) != self.size:
            # other pixel formats (4:2:2, 10-bit, RGB) and mid-stream size changes; a full-range
            # file stays in its codes (VideoQC measures it as the limited-range picture)
            rng = "JPEG" if self.full_range else "MPEG"
            frame = frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p",
                                   src_color_range=rng, dst_color_range=rng)
        width, height = self.size
        if self._buf is None:
            # a fresh buffer per batch: detectors may keep views of the frames they got.
            # Layout of split_yuv420p: (H·3/2, W) = Y (H×W), then U and V (H/2×W/2 each)
            self._buf = np.empty((self.batch, height * 3 // 2, width), np.uint8)
        _copy_planes(frame, self._buf[len(self._ts)].reshape(-1), width, height)
        self._ts.append(float(t))
        self.frames += 1
        if self.first_t is None:
            self.first_t = float(t)
        self.last_t = float(t)
        if len(self._ts) == self.batch:
            self.flush()

    def flush(self) -> None:
        if self._buf is None or not self._ts:
            return
        self.worker.submit(self._process, self._buf[: len(self._ts)], self._ts)
        self._buf, self._ts = None, []

    def _process(self, batch: np.ndarray, ts: list[float]) -> None:
        """On the worker thread."""
        if self.xp is not np:
            batch = self.xp.asarray(batch)        # one host→device copy per batch
        planes = split_yuv420p(batch)
        self.qc.process_batch(planes, ts)
        if self.sync is not None:
            self.sync.add_video(planes.y, ts)

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) of the pictures: the first frame's time to the last one's end."""
        return (self.first_t or 0.0, self.last_t + 1.0 / self.fps)

    def timelines(self, profile: Profile) -> list[Timeline]:
        """Per-second SNR and motion from what the detectors measured on the way."""
        noise = next(d for d in self.qc.detectors if isinstance(d, NoiseDetector))
        motion = next(d for d in self.qc.detectors if isinstance(d, StabilityDetector))
        luma = profile.video.luma_range
        # the detectors' per-frame series (not yet public in qc_metrics: read here)
        sigmas = _per_second(noise._times, noise._sigmas, _median)
        snr = {k: snr_db(s, luma_range=luma) for k, s in sigmas.items()}
        rows = motion.camera_motion()       # cuts and moves of a person left out
        moves = _per_second([t for t, _ in rows], [m for _, m in rows], max)
        jump_px = max(2.0, motion.jump_frac * (self.size[0] if self.size else 0))
        return [
            _timeline("snr", "Image SNR (V2), median per second", "图像信噪比（每秒中值）", "dB",
                      snr, (Limit(profile.video.snr_min_db, "V2 min"),), ("video.snr",),
                      "luma noise σ in flat areas (Immerkær 1996), SNR = 20·log10"
                      f"({luma[1] - luma[0]}/σ)"
                      + ("; the noisiest camera's picture, each measured in its region"
                         if noise.spans else "")
                      + "; gaps: no flat area or no measurable noise", origin=0.5),
            _timeline("motion", "Global motion (V1), largest per second",
                      "画面整体运动（每秒最大）", "px", moves, (Limit(jump_px, "jump limit"),),
                      ("video.stability",),
                      "frame-to-frame displacement by phase correlation, without cuts and "
                      "without moves of part of the picture only (a person, not the camera); "
                      "a jump is a sudden departure from the running motion", origin=0.5),
        ]


class _AudioPass:
    """Decoded audio → float32 (channels, n) blocks at the stream's rate → AudioQC."""

    def __init__(self, stream: av.audio.stream.AudioStream, *, profile: Profile,
                 xp: ModuleType, worker: OrderedWorker,
                 cameras: Sequence[CameraSpan] | None = None, raw: bool = False) -> None:
        self.worker = worker
        self.rate = int(stream.sample_rate or profile.delivery.audio_rate)
        # the lecture itself (not the intro and the cards) when the layout is known
        self.qc = AudioQC(sample_rate=self.rate, profile=profile,
                          spans=[(c.start_s, c.end_s) for c in cameras or ()])
        self.sync: AvSync | None = None
        self.xp = xp
        # float planar at the native rate and layout (a pass-through for AAC's fltp)
        self._resampler = av.AudioResampler(format="fltp", rate=self.rate)
        self._pending: list[np.ndarray] = []
        self._n = 0
        self._block = round(AUDIO_BLOCK_S * self.rate)
        self._clock: SoundClock | None = None   # from the first frame: its time is the origin
        self.samples = 0

    @property
    def _start(self) -> float:
        """Presentation time of the first sample."""
        return self._clock.origin if self._clock is not None else 0.0

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) of the sound: the first sample's time to the last one's end."""
        return (self._start, self._start + self.samples / self.rate)

    def add(self, frame: av.AudioFrame | None, at: float | None = None) -> None:
        """``at``: the frame's time from the file's start (None: the file gives none)."""
        if frame is not None:
            if self._clock is None:
                self._clock = SoundClock(origin=float(at or 0.0), rate=self.rate)
            self._clock.place(at)   # a gap: silence, as a player plays it
        for out in self._resampler.resample(frame):
            if out is None or self._clock is None:   # a pass-through resampler echoes the flush
                continue
            x = self._clock.take(out.to_ndarray())
            self._pending.append(x.astype(np.float32, copy=False))
            self._n += x.shape[1]
        if self._n >= self._block:
            self._emit()

    def flush(self) -> None:
        self.add(None)
        self._emit()

    def _emit(self) -> None:
        if not self._n:
            return
        block = (np.concatenate(self._pending, axis=1) if len(self._pending) > 1
                 else self._pending[0])
        self._pending, self._n = [], 0
        t = self._start + self.samples / self.rate
        self.samples += block.shape[1]
        self.worker.submit(self._process, block, t)

    def _process(self, block: np.ndarray, t: float) -> None:
        """On the worker thread."""
        self.qc.process(block if self.xp is np else self.xp.asarray(block), t)
        if self.sync is not None:
            self.sync.add_audio(block, t)

    def timestamps_check(self) -> Check:
        """S3 "sound and picture in sync": the sound's timestamps continuous. A gap (a
        recorder or an encoder dropping packets) or an overlap moves everything after it
        against the pictures when the samples are simply played one after the other."""
        breaks = self._clock.breaks if self._clock is not None else []
        if not breaks:
            return Check("audio.timestamps", "S3", "pass", 0.0, 0.0, "breaks",
                         "the sound's timestamps run on without a gap or an overlap")
        events = tuple(Event(start_s=t, end_s=t + max(d, 0.0),
                             detail=(f"{1000 * d:.0f} ms of sound missing" if d > 0 else
                                     f"{-1000 * d:.0f} ms of sound overlapping"))
                       for t, d in breaks[:50])
        missing = sum(d for _, d in breaks if d > 0)
        return Check("audio.timestamps", "S3", "fail", float(len(breaks)), 0.0, "breaks",
                     f"{len(breaks)} break(s) in the sound's timestamps, first at "
                     f"{timecode(breaks[0][0])} ({missing:.2f} s missing in all): the "
                     "recorder or the encoder dropped sound; a player keeps the sound with "
                     "the pictures by playing silence there, as the pipeline does; re-export "
                     "the file from the camera, or check the recorder", events)

    def loudness_timeline(self, checks: list[Check]) -> Timeline:
        """Short-term loudness (EBU Tech 3341, 3 s) once per second, from AudioQC's meter;
        ``checks``: the audio checks, for the reference lines."""
        short = self.qc.loudness.short_term()          # every 100 ms, at each window's end
        per_s = round(1.0 / STEP_S)
        # the value of the 3-s window ending at each whole second after the first window
        values = {k: float(short[k * per_s - SHORT_TERM_STEPS])
                  for k in range(math.ceil(SHORT_TERM_STEPS / per_s),
                                 (len(short) + SHORT_TERM_STEPS - 1) // per_s + 1)}
        limits: tuple[Limit, ...] = ()
        integrated = next((c.measured for c in checks if c.id == "audio.loudness"), None)
        if isinstance(integrated, float) and math.isfinite(integrated):
            swing = self.qc.swing_lu       # S4: swings are judged on speech against ±this
            limits = (Limit(integrated, "integrated"), Limit(integrated + swing, f"+{swing:g} LU"),
                      Limit(integrated - swing, f"−{swing:g} LU"))
        return _timeline("loudness", "Short-term loudness (EBU R128, 3 s), per second",
                         "短期响度（3 秒窗，每秒）", "LUFS", values, limits,
                         ("audio.peak", "audio.clipping", "audio.volume_swings",
                          "audio.dropouts", "audio.silence", "audio.music_bed"),
                         "ITU-R BS.1770-4 K-weighted loudness of the 3 s ending at each second"
                         f" (under {ABSOLUTE_GATE_LUFS:g} LUFS, BS.1770's absolute gate: "
                         "silence, drawn on the chart's floor)",
                         origin=self._start, floor=ABSOLUTE_GATE_LUFS)


# ------------------------------------------------------------------------------ helpers

#: pixel formats whose planes are copied as they are (yuvj420p: yuv420p in full range)
_AS_IS = ("yuv420p", "yuvj420p")


def _full_range(stream: av.video.stream.VideoStream) -> bool:
    """The stream says its Y'CbCr pictures are coded in full range (0–255). RGB is full range
    by nature and becomes limited-range Y'CbCr like any other source; not this case."""
    ctx = stream.codec_context
    fmt = ctx.format
    if fmt is not None and (fmt.is_rgb or fmt.name.startswith("yuvj")):
        return not fmt.is_rgb
    return ctx.color_range == JPEG_RANGE


def _copy_planes(frame: av.VideoFrame, out: np.ndarray, width: int, height: int) -> None:
    """The yuv420p planes of ``frame`` into the flat buffer ``out``, Y then U then V,
    without line padding (one copy; ``to_ndarray`` would copy twice)."""
    offset = 0
    for plane, (w, h) in zip(frame.planes, ((width, height), (width // 2, height // 2),
                                            (width // 2, height // 2)), strict=True):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out[offset: offset + w * h].reshape(h, w)[...] = rows[:h, :w]
        offset += w * h


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _per_second(times: list[float], values: list[float], reduce: Any) -> dict[int, float]:
    """``reduce`` of the finite values falling in each whole second."""
    bins: dict[int, list[float]] = {}
    for t, v in zip(times, values, strict=True):
        if v == v:
            bins.setdefault(math.floor(t), []).append(v)
    return {k: float(reduce(vs)) for k, vs in sorted(bins.items())}


def _timeline(key: str, label: str, label_zh: str, unit: str, values: dict[int, float],
              limits: tuple[Limit, ...], check_ids: tuple[str, ...], source: str,
              origin: float = 0.0, floor: float | None = None) -> Timeline:
    """A 1-s timeline from {second: value}, each plotted at ``origin`` + second (0.5: the
    middle of the second it sums up); seconds without a finite value are gaps."""
    if not values:
        return Timeline(key, label, label_zh, unit, 1.0, (), (), limits, check_ids, source,
                        floor)
    first, last = min(values), max(values)
    keys = range(first, last + 1)
    return Timeline(key, label, label_zh, unit, 1.0,
                    times=tuple(origin + k for k in keys),
                    values=tuple(v if (v := values.get(k)) is not None and math.isfinite(v)
                                 else None for k in keys),
                    limits=limits, check_ids=check_ids, source=source, floor=floor)


def _event_starts(checks: tuple[Check, ...]) -> list[float]:
    """Start times of the events worth a picture, at most MAX_THUMBNAILS: worst checks
    first, taking each check's first event, then each one's second, and so on; events
    starting within THUMB_MERGE_S of a picked one share its picture."""
    ordered = sorted((c for c in checks if c.events), key=lambda c: _SEVERITY[c.status])
    picked: list[float] = []
    for k in range(max((len(c.events) for c in ordered), default=0)):
        for check in ordered:
            if k >= len(check.events):
                continue
            start = check.events[k].start_s
            if all(abs(start - t) > THUMB_MERGE_S for t in picked):
                picked.append(start)
                if len(picked) == MAX_THUMBNAILS:
                    return sorted(picked)
    return sorted(picked)


def _thumbnails(path: Path, starts: list[float], *, lecture: str | None,
                ) -> tuple[Thumbnail, ...]:
    """The first frame at or after each time, as a small JPEG (a seek per time)."""
    if not starts:
        return ()
    out: list[Thumbnail] = []
    with open_media(path, lecture=lecture) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        if tb is None:
            return ()
        rate = stream.average_rate or stream.guessed_rate
        half = 0.5 / float(rate) if rate else 0.02
        origin = origin_s(container)            # times are from the file's start

        def time(frame: av.VideoFrame) -> float | None:
            return None if frame.time is None else frame.time - origin

        frames: Iterator[av.VideoFrame] | None = None
        current: av.VideoFrame | None = None
        for at in starts:
            try:
                # decode on from the last picture when the next time is a little ahead;
                # seek (to the keyframe before) otherwise
                now = None if current is None else time(current)
                if frames is None or now is None or at < now or at - now > THUMB_DECODE_ON_S:
                    container.seek(max(0, int((at + origin) / tb)), stream=stream,
                                   backward=True)
                    frames, current, now = container.decode(stream), None, None
                frame = current if now is not None and now >= at - half else None
                if frame is None:
                    for candidate in frames:
                        frame = current = candidate
                        then = time(candidate)
                        if then is not None and then >= at - half:
                            break
            except av.FFmpegError as exc:
                log.warning("%s: no thumbnail at %s (%s)", _where(path, lecture),
                            timecode(at), exc)
                frames = None
                continue
            if frame is None:
                continue
            turn = round(frame.rotation / 90) % 4       # as players show it (a phone's video)
            shown = (frame.height, frame.width) if turn % 2 else (frame.width, frame.height)
            height = max(2, round(THUMB_WIDTH * shown[1] / shown[0] / 2) * 2)
            if turn:
                image = frame.to_image(width=height if turn % 2 else THUMB_WIDTH,
                                       height=THUMB_WIDTH if turn % 2 else height)
                image = image.rotate(90 * turn, expand=True)
            else:
                image = frame.to_image(width=THUMB_WIDTH, height=height)
            jpeg = io.BytesIO()
            image.save(jpeg, format="JPEG", quality=80)
            out.append(Thumbnail(at_s=at, frame_s=float(time(frame) or at), width=THUMB_WIDTH,
                                 height=height, jpeg=jpeg.getvalue()))
    return tuple(out)
