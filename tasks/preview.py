"""The course preview (A6): at most ``structure.preview_max_s``, made of the published lectures.

A course card (name, kind, hours, lecturers), then per lecture a short card and an excerpt
from inside its content (after the intro and title card, before the credits). With many
lectures, an even selection of them, so every excerpt is long enough to say something.
Excerpts are read with seeking: an hour-long lecture is not decoded up to the excerpt.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.audio_chain import PeakLimiter, Programme
from courseware.cards import ACCENT, TEXT, Line, render_card
from courseware.course import Course
from courseware.errors import CorruptMediaError
from courseware.fonts import FontFace, find_face
from courseware.media import DeliveryWriter, open_media, rgb_to_frame
from encoder_profiles import Profile
from tasks.probe import media_duration

FADE_S = 0.03  # at every cut: no clicks


class Excerpt(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    start_s: float  # in the lecture file
    length_s: float


class PreviewResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    duration_s: float
    excerpts: list[Excerpt]


@dataclass(frozen=True)
class _Span:
    number: int
    path: Path
    content_start_s: float
    content_end_s: float


def _duration(path: Path) -> float:
    with open_media(path) as c:
        return media_duration(c)


def plan_excerpts(spans: list[_Span], profile: Profile) -> list[Excerpt]:
    """Which lectures, from where, how long: the total stays inside A6 with a second spare."""
    enc = profile.encode
    budget = profile.structure.preview_max_s - 1.0 - enc.title_card_s
    per = enc.preview_card_s + enc.preview_min_excerpt_s
    count = max(1, min(len(spans), math.floor(budget / per)))
    # an even selection, first and last lecture included
    picks = sorted({round(i * (len(spans) - 1) / max(count - 1, 1)) for i in range(count)})
    chosen = [spans[i] for i in picks]
    length = min(enc.preview_excerpt_s, budget / len(chosen) - enc.preview_card_s)
    out = []
    for span in chosen:
        content = span.content_end_s - span.content_start_s
        take = max(0.0, min(length, content))
        # from two fifths into the content: past the opening words, before the summing up
        start = span.content_start_s + 0.4 * (content - take)
        out.append(Excerpt(number=span.number, start_s=start, length_s=take))
    return out


def _seek_frames(path: Path, start_s: float, count: int) -> Iterator[av.VideoFrame]:
    with open_media(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        c.seek(int(start_s / float(stream.time_base or 1e-6)), stream=stream, backward=True)
        sent = 0
        for frame in c.decode(stream):
            if frame.time is None or frame.time < start_s - 1e-6:
                continue
            yield frame
            sent += 1
            if sent == count:
                return
    if sent < count:
        raise CorruptMediaError(f"{path}: ended before {start_s:.2f} s + {count} frames")


def _seek_audio(path: Path, start_s: float, samples: int, rate: int) -> np.ndarray:
    out = np.zeros((2, samples), np.float32)
    with open_media(path) as c:
        if not c.streams.audio:
            return out
        stream = c.streams.audio[0]
        c.seek(int(start_s / float(stream.time_base or 1e-6)), stream=stream, backward=True)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        pos = None
        for frame in c.decode(stream):
            t = frame.time
            for block in resampler.resample(frame):
                data = block.to_ndarray()
                if pos is None:
                    pos = round(((t or 0.0) - start_s) * rate)
                a, b = max(pos, 0), min(pos + data.shape[1], samples)
                if b > a:
                    out[:, a:b] = data[:, a - pos: b - pos]
                pos += data.shape[1]
            if pos is not None and pos >= samples:
                break
    fade = min(round(FADE_S * rate), samples // 2)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out[:, :fade] *= ramp
    out[:, samples - fade:] *= ramp[::-1]
    return out


def render_preview(course: Course, lectures: dict[int, Path], *, profile: Profile,
                   out_dir: Path, font: FontFace | None = None) -> PreviewResult:
    """The preview from the published lecture files (lecture number → local path)."""
    enc, fps, rate = profile.encode, profile.delivery.fps, profile.delivery.audio_rate
    font = font or find_face()
    last = max(lec.number for lec in course.lectures)
    intro_s = 0.0
    if course.info.intro is not None and 1 in lectures:
        intro_s = _duration(course.resolve(course.info.intro))
    spans = []
    for number in sorted(lectures):
        total = _duration(lectures[number])
        start = (intro_s if number == 1 else 0.0) + enc.title_card_s
        end = total - (enc.credits_s if number == last else 0.0)
        spans.append(_Span(number, lectures[number], start, max(start, end)))
    excerpts = plan_excerpts(spans, profile)
    names = "、".join(f"{x.name}（{x.title}）" for x in course.model.lecturers)
    kind = "公需课" if course.info.kind == "public" else f"专业课 · {course.info.level or ''}"
    course_card = render_card(
        [Line(course.info.name, 0.066, TEXT, 700), Line("课程预览", 0.048, ACCENT, 500),
         Line(f"{kind} · {course.info.hours} 学时 · 共 {len(course.lectures)} 讲", 0.036),
         Line(f"主讲：{names}", 0.032)],
        width=enc.width, height=enc.height, font=font, what="the preview card")
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / "preview.mp4"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.part")
    programme = Programme(PeakLimiter(10 ** (enc.limiter_ceiling_dbfs / 20), sample_rate=rate))

    def silence(n: int) -> np.ndarray:
        return np.zeros((2, n), np.float32)

    try:
        with DeliveryWriter(tmp, profile) as writer:
            spf = writer.samples_per_frame
            programme.cut_to(silence)
            card = rgb_to_frame(course_card)
            for _ in range(round(enc.title_card_s * fps)):
                writer.write(card, programme.read(spf))
            for ex in excerpts:
                lecture = course.lecture(ex.number)
                lecturer = course.lecturer(lecture)
                card = rgb_to_frame(render_card(
                    [Line(f"第{lecture.number}讲", 0.05, ACCENT, 500),
                     Line(lecture.title, 0.056, TEXT, 700),
                     Line(f"{lecturer.name}  {lecturer.title}", 0.036)],
                    width=enc.width, height=enc.height, font=font,
                    what=f"the preview card of lecture {lecture.number}"))
                programme.cut_to(silence)
                for _ in range(round(enc.preview_card_s * fps)):
                    writer.write(card, programme.read(spf))
                frames = round(ex.length_s * fps)
                audio = _seek_audio(lectures[ex.number], ex.start_s,
                                    frames * spf + programme.limiter.latency, rate)
                cursor = 0

                def excerpt_audio(n: int, _audio: np.ndarray = audio) -> np.ndarray:
                    nonlocal cursor
                    block = _audio[:, cursor: cursor + n]
                    cursor += n
                    return block if block.shape[1] == n else np.pad(
                        block, ((0, 0), (0, n - block.shape[1])))

                programme.cut_to(excerpt_audio)
                for frame in _seek_frames(lectures[ex.number], ex.start_s, frames):
                    writer.write(frame, programme.read(spf))
            total = writer.frames
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return PreviewResult(path=final, duration_s=total / fps, excerpts=excerpts)


preview_task = task(name="preview", cache_policy=NO_CACHE)(render_preview)
