"""Probe a lecture's sources before any work: present, readable, with the streams needed.

A base learns of a missing or broken file in seconds, with the file and lecture named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import av
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.course import Course, Lecture, SourceRole
from courseware.errors import CorruptMediaError, CourseFileError, MissingSourceError
from courseware.media import PARTS_SUFFIX, open_media, origin_s
from courseware.probe import HDR_TRANSFERS, transfer_name
from courseware.subtitles import parse_srt
from courseware.tracks import backup_track, best_track, listen
from qc_metrics.frames import spoken_length


class SourceInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    path: Path
    duration_s: float
    width: int | None = None    # as displayed (a quarter-turned phone video: swapped)
    height: int | None = None
    #: the display rotation the file asks for, degrees counterclockwise (VideoFrame.rotation);
    #: the readers apply it (courseware.media.cfr_frames)
    rotation: int = 0
    #: "HLG" or "PQ" for a high-dynamic-range source (a phone's default HDR video), else None
    hdr: str | None = None
    fps: float | None = None
    #: where the pictures end, seconds from the file's start, when the file says so and
    #: they end before its sound does (None: they last, or the file does not say)
    picture_end_s: float | None = None
    has_audio: bool = False
    offset_s: float = 0.0  # source time at lecture t = 0
    #: seconds of this source per second of lecture: a separate recorder's clock against the
    #: cameras' (tasks.sync); its sound is resampled by it
    clock: float = 1.0
    #: its sound matched the programme microphone's (tasks.sync): the same speech, in step
    matched: bool = False
    #: the audio track every reader takes (courseware.tracks.best_track: the first, unless
    #: another carries the speech and it does not, or another is clearly cleaner) …
    audio_stream: int = 0
    #: … of these, as a person is told of them (only when the file has several tracks) …
    tracks: tuple[str, ...] = ()
    #: … and another that carries the speech, to play where the chosen one drops out (S4)
    backup_stream: int | None = None
    #: the files a recording was split into, in order, when it was (``path`` is then the
    #: concat list that plays them as one: join_parts); empty: one file
    parts: tuple[Path, ...] = ()
    #: … and what a person should know of how they were joined (join_parts)
    part_notes: tuple[str, ...] = ()
    #: … and where, in the joined file's time (s), the recording has nothing between two
    #: parts (the camera stopped, or a file is missing: by the files' creation times) …
    gaps: tuple[tuple[float, float], ...] = ()
    #: … and where each part begins in it
    part_starts: tuple[float, ...] = ()

    def shown_sar(self, sar: float) -> float:
        """The pixels' aspect as displayed: a quarter turn turns it too."""
        return 1.0 / sar if self.rotation % 180 else sar


class LectureInputs(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    label: str
    sources: dict[str, SourceInfo]
    intro: SourceInfo | None = None
    subtitles: Path | None = None
    cue_count: int = 0
    #: the course file's end of the lecture (lecture time, s); None: where the sources end
    end_s: float | None = None
    #: where the lecture begins on the sources' timeline (s): the offsets include it
    #: (begin_at); the course file's layout switches are on that timeline
    start_s: float = 0.0
    #: what the sync found that a person should know (tasks.sync), said by the render
    notes: tuple[str, ...] = ()


def probe_source(role: str, path: Path, *, lecture: str, needs_video: bool,
                 offset_s: float = 0.0) -> SourceInfo:
    if not path.is_file():
        raise MissingSourceError(
            f"{path} (lecture {lecture}, {role}): file not found; check the path in the "
            "course file or upload the file")
    with open_media(path, lecture=f"{lecture}, {role}") as container:
        video = container.streams.video[0] if container.streams.video else None
        if needs_video and video is None:
            raise CorruptMediaError(
                f"{path} (lecture {lecture}, {role}): has no video stream; "
                "the slides and teacher sources must be video files")
        if not needs_video and not container.streams.audio:
            raise CorruptMediaError(f"{path} (lecture {lecture}, {role}): has no audio stream")
        duration = media_duration(container)
        if video is not None:
            try:
                first = next(container.decode(video), None)
            except av.FFmpegError as exc:
                first = None
                cause = str(exc)
            else:
                cause = "no frame decoded"
            if first is None:
                raise CorruptMediaError(
                    f"{path} (lecture {lecture}, {role}): video cannot be decoded ({cause}); "
                    "re-export or re-upload the file")
        if duration <= 0:
            raise CorruptMediaError(f"{path} (lecture {lecture}, {role}): duration unknown or 0; "
                                    "re-export or re-upload the file")
        rotation = round(first.rotation) if video is not None and first is not None else 0
        width = video.codec_context.width if video else None
        height = video.codec_context.height if video else None
        if rotation % 180:
            width, height = height, width
        hdr = (HDR_TRANSFERS.get(transfer_name(first.color_trc) or "")
               if video is not None and first is not None else None)
        info = SourceInfo(
            role=role, path=path, duration_s=duration, offset_s=offset_s,
            width=width, height=height, rotation=rotation, hdr=hdr,
            fps=float(video.average_rate) if video and video.average_rate else None,
            picture_end_s=_shorter_pictures(container, video, duration),
            has_audio=bool(container.streams.audio),
        )
        several = len(container.streams.audio) > 1
    if not several:
        return info
    heard = listen(path, lecture=lecture)      # a camcorder's inputs, each on a track
    chosen = best_track(heard)
    return info.model_copy(update={"audio_stream": chosen,
                                   "tracks": tuple(t.describe() for t in heard),
                                   "backup_stream": backup_track(heard, chosen)})


def stream_end(container: av.container.InputContainer, stream: av.stream.Stream
               ) -> float | None:
    """Where a stream ends by the file's index, seconds from the file's start (None when
    the file does not say: Matroska and MPEG-TS often do not)."""
    if not stream.duration or not stream.time_base:
        return None
    origin = container.start_time / av.time_base if container.start_time else 0.0
    start = float((stream.start_time or 0) * stream.time_base)
    return start + float(stream.duration * stream.time_base) - origin


#: how much of a file's end is read, packet by packet, to find where its pictures and its
#: sound end when the file's index does not say (Matroska, MPEG-TS, a recording in parts)
TAIL_S = 15.0


def _shorter_pictures(container: av.container.InputContainer,
                      video: av.video.stream.VideoStream | None, duration: float,
                      ) -> float | None:
    """The video stream's end when the file goes on after it (its sound is longer): by the
    file's index, else by the last packets of each stream."""
    if video is None:
        return None
    end = stream_end(container, video)
    if end is None and container.streams.audio:
        pictures, sound = _packet_ends(container, video, since_s=duration - TAIL_S)
        if pictures is None and sound is not None:    # they end before the stretch read
            pictures, sound = _packet_ends(container, video, since_s=0.0)
        if pictures is not None and sound is not None and pictures < sound - 1e-3:
            end = pictures
    return end if end is not None and end < duration - 1e-3 else None


def _packet_ends(container: av.container.InputContainer,
                 video: av.video.stream.VideoStream, *, since_s: float,
                 ) -> tuple[float | None, float | None]:
    """Where the pictures and the sound end (seconds from the file's start) by the packets
    from ``since_s`` on (demuxed, not decoded); None: no packet of that kind there."""
    origin = origin_s(container)
    pictures: float | None = None
    sound: float | None = None
    try:
        container.seek(int((origin + max(since_s, 0.0)) * av.time_base), backward=True)
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            t = float((packet.pts + (packet.duration or 0)) * packet.time_base) - origin
            if packet.stream is video:
                pictures = t if pictures is None else max(pictures, t)
            elif packet.stream.type == "audio":
                sound = t if sound is None else max(sound, t)
    except av.FFmpegError:          # a damaged end: what was read is what there is
        pass
    return pictures, sound


def media_duration(container: av.container.InputContainer) -> float:
    """Seconds: the container's duration, else the longest stream's."""
    if container.duration:
        return container.duration / av.time_base
    spans = [float(s.duration * s.time_base) for s in container.streams
             if s.duration and s.time_base]
    return max(spans, default=0.0)


def parts_folder() -> Path:
    """Where the concat lists of split recordings are written (the parts themselves are
    never copied or touched)."""
    return Path(tempfile.gettempdir()) / "courseware-parts"


#: a picture's (codec, width, height), each sound track's (codec, rate, channels)
_Streams = tuple[tuple[tuple[str, int, int], ...], tuple[tuple[str, int, int], ...]]


def _streams(container: av.container.InputContainer) -> _Streams:
    """What the parts of one recording share: the picture's codec and size, and each sound
    track's codec, rate and channels."""
    return (tuple((s.codec_context.name, s.codec_context.width, s.codec_context.height)
                  for s in container.streams.video[:1]),
            tuple((s.codec_context.name, s.codec_context.sample_rate, s.codec_context.channels)
                  for s in container.streams.audio))


def _describe(streams: _Streams) -> str:
    video, audio = streams
    said = [f"{c} {w}×{h}" for c, w, h in video] + [f"{c} {r} Hz {n} ch" for c, r, n in audio]
    return ", ".join(said) or "no stream"


#: a part whose clock starts within this of where the one before started plus its length
#: goes on from it (AVCHD); further, each part has its own clock (MP4 parts start at 0)
CLOCK_GOES_ON_S = 1.0


#: parts whose creation times are further apart than the first one's length and this have a
#: gap between them (creation times are to the second)
PART_GAP_S = 2.0


class Joined(NamedTuple):
    """A recording's parts as one file (a concat list), and what a person should know."""

    path: Path
    notes: tuple[str, ...] = ()
    #: (from, to) in the joined file's time: nothing recorded between two parts
    gaps: tuple[tuple[float, float], ...] = ()
    #: where each part begins in the joined file's time
    starts: tuple[float, ...] = ()


def _created(container: av.container.InputContainer) -> dt.datetime | None:
    """When the camera started the file (its ``creation_time``), where it says."""
    text = container.metadata.get("creation_time")
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def join_parts(role: str, parts: Sequence[Path], *, lecture: str) -> Joined:
    """A recording split into several files (a camera starts a new one at 4 GB on a FAT32
    card, AVCHD at 2 GB), as one: FFmpeg's concat list of the parts, each played after the
    one before by its length. Every part must be there, readable, and the same recording's
    (its picture's codec and size, its sound tracks' codecs, rates and channels as the
    first part's); the error names the part and what differs. Where the files' creation
    times say time passed between two parts (a file left out, the camera stopped), the
    later part is placed by them, so it stays in step with the other sources; that, and
    parts named out of their order, are in ``notes``."""
    lengths: list[float] = []
    starts: list[float] = []
    created: list[dt.datetime | None] = []
    first: _Streams | None = None
    for k, part in enumerate(parts, 1):
        where = f"{part} (lecture {lecture}, {role}, part {k} of {len(parts)})"
        if not part.is_file():
            raise MissingSourceError(f"{where}: file not found; check the path in the course "
                                     "file or upload the file")
        with open_media(part, lecture=lecture) as container:
            streams = _streams(container)
            lengths.append(media_duration(container))
            starts.append(origin_s(container))
            created.append(_created(container))
        if lengths[-1] <= 0:
            raise CorruptMediaError(f"{where}: duration unknown or 0; re-export or re-upload "
                                    "the file")
        if first is None:
            first = streams
        elif streams != first:
            raise CorruptMediaError(
                f"{where}: {_describe(streams)}, but part 1 ({parts[0].name}) is "
                f"{_describe(first)}: the parts of one recording come from one camera at one "
                f"setting; check the files and their order in sources.{role}")
    # a camcorder's parts (AVCHD) go on with the clock where the one before stopped: each
    # is placed by it, so no time is lost or doubled between them
    notes: list[str] = []
    gaps: list[tuple[float, float]] = []
    for k, (a, b) in enumerate(itertools.pairwise(starts)):
        if b > a and abs(b - a - lengths[k]) < CLOCK_GOES_ON_S:
            lengths[k] = b - a
            continue
        began, then = created[k], created[k + 1]
        if began is None or then is None or (began.tzinfo is None) != (then.tzinfo is None):
            continue
        one, other = f"part {k + 1} ({parts[k].name})", f"part {k + 2} ({parts[k + 1].name})"
        apart = (then - began).total_seconds()
        if apart < 0:
            notes.append(f"{lecture} {role}: {other} was started before {one}, by the files' "
                         f"creation times: check their order in sources.{role}")
        elif apart - lengths[k] > PART_GAP_S:
            gap = apart - lengths[k]
            notes.append(f"{lecture} {role}: {spoken_length(gap)} passed between the end of "
                         f"{one} and the start of {other}, by the files' creation times (a "
                         "file left out, or the camera stopped?): the later part is placed "
                         "by them, in step with the other sources; in between, the layout "
                         "leaves the camera out where another camera runs (else its last "
                         "picture is held), and its sound comes from another microphone "
                         "that heard the lecture (else silence). If a file is missing, "
                         f"add it to sources.{role}")
            placed = sum(lengths[:k])
            gaps.append((placed + lengths[k], placed + apart))
            lengths[k] = apart
    files = [p.resolve() for p in parts]
    key = hashlib.sha256(repr([(str(p), p.stat().st_size, p.stat().st_mtime_ns)
                               for p in files]).encode()).hexdigest()[:16]
    out = parts_folder() / key / f"{parts[0].stem}-{parts[-1].stem}{PARTS_SUFFIX}"
    out.parent.mkdir(parents=True, exist_ok=True)
    quoted = ["'" + str(p).replace("'", "'\\''") + "'" for p in files]
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    tmp.write_text("ffconcat version 1.0\n" + "".join(
        f"file {q}\nduration {d:.6f}\n" for q, d in zip(quoted, lengths, strict=True)),
        encoding="utf-8")
    os.replace(tmp, out)
    return Joined(out, tuple(notes), tuple(gaps),
                  tuple(itertools.accumulate(lengths[:-1], initial=0.0)))


def _probe_recording(course: Course, lecture: Lecture, role: SourceRole,
                     paths: Sequence[Path], *,
                     label: str) -> SourceInfo:
    files = [course.resolve(p) for p in paths]
    joined = Joined(files[0]) if len(files) == 1 else join_parts(role, files, lecture=label)
    info = probe_source(role, joined.path, lecture=label, needs_video=role != "audio",
                        offset_s=lecture.sources.offsets.get(role, 0.0))
    return info if len(files) == 1 else info.model_copy(update={
        "parts": tuple(files), "part_notes": joined.notes, "gaps": joined.gaps,
        "part_starts": joined.starts})


def probe_lecture(course: Course, lecture: Lecture) -> LectureInputs:
    """Every source of the lecture probed; raises on the first missing or broken one."""
    label = f"{lecture.number} 《{lecture.title}》"
    sources: dict[str, SourceInfo] = {
        role: _probe_recording(course, lecture, role, paths, label=label)
        for role, paths in lecture.sources.items()
    }
    intro = None
    if lecture.number == 1 and course.info.intro is not None:
        intro = probe_source("intro", course.resolve(course.info.intro), lecture=label,
                             needs_video=True)
    subtitles, cues = None, 0
    if lecture.subtitles is not None:  # D8: checked now, so a bad SRT is found before render
        subtitles = course.resolve(lecture.subtitles)
        cues = len(parse_srt(subtitles, lecture=label))
    return LectureInputs(number=lecture.number, label=label, sources=sources, intro=intro,
                         subtitles=subtitles, cue_count=cues, end_s=lecture.end)


def picture_ends(inputs: LectureInputs) -> dict[str, float]:
    """Where each camera's pictures end, in lecture time (sources aligned by offset)."""
    return {r: (s.picture_end_s if s.picture_end_s is not None else s.duration_s) - s.offset_s
            for r, s in inputs.sources.items() if r != "audio"}


#: a start this much before the first camera's pictures is taken as at them (a start
#: written to the tenth of a second)
START_SLACK_S = 0.05


def starts_at(src: SourceInfo) -> float:
    """Where a source begins, in lecture time: 0, or later for a source that starts after
    the lecture does (a lecture begun before it: a negative ``start``)."""
    return max(0.0, -src.offset_s / src.clock)


def picture_starts(inputs: LectureInputs) -> dict[str, float]:
    """Where each camera's pictures begin, in lecture time (``starts_at``)."""
    return {r: starts_at(s) for r, s in inputs.sources.items() if r != "audio"}


def begin_at(inputs: LectureInputs, start_s: float) -> LectureInputs:
    """The lecture from ``start_s`` on the sources' timeline (the course file's ``start``;
    after the sync, which sets the offsets): every source read from there, the end from
    there. A negative start begins the lecture before the last source started (a camera
    switched on late): the sources that ran then are read from earlier, the late ones join
    where they begin."""
    if start_s == 0:
        return inputs
    pictures = max(picture_ends(inputs).values())
    if start_s >= pictures:
        raise CourseFileError(f"lecture {inputs.label}: start {start_s:g} s is at or past "
                              f"where its pictures end ({pictures:.1f} s on the sources' "
                              "timeline); give a start inside the lecture")
    first = max((s.offset_s, r) for r, s in inputs.sources.items() if r != "audio")
    if start_s < -first[0] - START_SLACK_S:
        raise CourseFileError(
            f"lecture {inputs.label}: start {start_s:g} s is before any camera's pictures "
            f"begin (the first, {first[1]}, begins at {-first[0]:.2f} s on the sources' "
            f"timeline); give a start of {earliest_start(first[0])} or later")
    return inputs.model_copy(update={
        "start_s": inputs.start_s + start_s,
        "end_s": None if inputs.end_s is None else inputs.end_s - start_s,
        "sources": {r: s.model_copy(update={"offset_s": s.offset_s + s.clock * start_s})
                    for r, s in inputs.sources.items()}})


def earliest_start(before_s: float) -> str:
    """A course file's ``start`` that begins a lecture with a source that ran ``before_s``
    before it: to 0.1 s, not before the source."""
    return f"{-math.floor(before_s * 10) / 10:g}"


probe_task = task(name="probe", cache_policy=NO_CACHE)(probe_lecture)
