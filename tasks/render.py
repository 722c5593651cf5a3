"""Render one lecture: [intro (lecture 1)] → title card → composite → [credits (last)].

All in one task: frames stream from the decoders through the compositor into the encoder
and never leave this process; the task returns the path of the finished file, written
under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.audio_chain import HumNotch, PeakLimiter, Programme
from courseware.cards import credits_lines, render_card, title_card_lines
from courseware.compose import Compositor
from courseware.course import Course
from courseware.fonts import FontFace, find_face
from courseware.media import AudioFeed, DeliveryWriter, cfr_frames, rgb_to_frame
from courseware.subtitles import parse_srt, shift_and_clip
from encoder_profiles import Profile, load_layout
from qc_metrics.audio import AudioQC, hum_to_remove
from tasks.probe import LectureInputs, SourceInfo


class AudioPlan(BaseModel):
    """What the analysis pass decided for the programme sound (two-pass mastering)."""

    model_config = ConfigDict(frozen=True)

    role: str | None  # which source's audio is the programme sound; None: silence
    integrated_lufs: float | None = None
    true_peak_dbfs: float | None = None
    gain_db: float = 0.0
    notch_hz: tuple[float, ...] = ()  # mains lines to remove (S3)


class RenderResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    duration_s: float
    frames: int
    audio: AudioPlan


def master_audio(inputs: LectureInputs) -> SourceInfo | None:
    """The microphone to use: a separate audio file, else the teacher camera, else slides.

    One source only: mixing two copies of the same speech would echo.
    """
    for role in ("audio", "teacher", "slides"):
        src = inputs.sources.get(role)
        if src is not None and (role == "audio" or src.has_audio):
            return src
    return None


def main_duration(inputs: LectureInputs) -> float:
    """Span during which every video source has pictures (sources aligned by offset)."""
    spans = [s.duration_s - s.offset_s for r, s in inputs.sources.items() if r != "audio"]
    return max(0.0, min(spans))


def plan_audio(inputs: LectureInputs, profile: Profile) -> AudioPlan:
    """First pass over the master microphone, lecture span only: loudness, true peak and mains
    hum (BS.1770-4 / S3 meters of qc_metrics.audio). Decides gain and hum notches."""
    src = master_audio(inputs)
    if src is None:
        return AudioPlan(role=None)
    rate, enc = profile.delivery.audio_rate, profile.encode
    feed = AudioFeed(src.path, rate=rate, start_s=src.offset_s, lecture=inputs.label)
    meter = AudioQC(sample_rate=rate, profile=profile, hum_prominence_db=enc.hum_prominence_db)
    remaining, t = round(main_duration(inputs) * rate), 0.0
    while remaining > 0:
        n = min(remaining, rate)
        meter.process(feed.read(n), t)
        remaining, t = remaining - n, t + n / rate
    meter.finish()
    loud, hum = meter.loudness.result(), meter.hum.finish()
    if not math.isfinite(loud.true_peak_dbfs):
        return AudioPlan(role=src.role)
    # S3: notch every mains line that stands out (and its neighbours' harmonics stay)
    notch = tuple(line.frequency_hz for line in hum_to_remove(
        hum, prominence_db=enc.hum_prominence_db, min_level_dbfs=meter.hum_min_level_dbfs))
    # one loudness for the whole course; S1: peaks at least min_peak (the limiter caps them)
    gain = (enc.loudness_target_lufs - loud.integrated_lufs
            if math.isfinite(loud.integrated_lufs) else 0.0)
    if loud.true_peak_dbfs + gain < enc.min_peak_dbfs:
        gain = enc.min_peak_dbfs - loud.true_peak_dbfs
    return AudioPlan(role=src.role, integrated_lufs=_finite(loud.integrated_lufs),
                     true_peak_dbfs=loud.true_peak_dbfs, gain_db=gain, notch_hz=notch)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _card_frames(rgb: np.ndarray, seconds: float, fps: int) -> Iterator[av.VideoFrame]:
    frame = rgb_to_frame(rgb)
    for _ in range(round(seconds * fps)):
        yield frame


def render_lecture(course: Course, inputs: LectureInputs, *, audio: AudioPlan,
                   profile: Profile, out_dir: Path, font: FontFace | None = None,
                   ) -> RenderResult:
    enc, fps = profile.encode, profile.delivery.fps
    lecture = course.lecture(inputs.number)
    lecturer = course.lecturer(lecture)
    font = font or find_face()
    last = inputs.number == max(lec.number for lec in course.lectures)
    card = render_card(
        title_card_lines(course=course.info.name, number=lecture.number, title=lecture.title,
                         lecturer=lecturer.name, lecturer_title=lecturer.title,
                         unit=lecturer.unit),
        width=enc.width, height=enc.height, font=font, what=f"the title card of {inputs.label}")
    credits = None
    if last:
        credits = render_card(
            credits_lines(course=course.info.name, production_unit=course.info.production_unit,
                          recording_date=course.info.recording_date.strftime("%Y年%m月%d日"),
                          applying_unit=course.info.applying_unit),
            width=enc.width, height=enc.height, font=font, what="the closing credits")
    layout = load_layout(lecture.layout or enc.layout)
    videos = {r: s for r, s in inputs.sources.items() if r != "audio"}
    comp = Compositor(layout, width=enc.width, height=enc.height,
                      sizes={r: (s.width or 0, s.height or 0, 1.0) for r, s in videos.items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"lecture{inputs.number:02d}.mp4"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.part")
    rate = profile.delivery.audio_rate
    programme = Programme(PeakLimiter(10 ** (enc.limiter_ceiling_dbfs / 20), sample_rate=rate))

    def silence(n: int) -> np.ndarray:
        return np.zeros((2, n), np.float32)

    frames = 0
    try:
        with DeliveryWriter(tmp, profile, subtitles=inputs.subtitles is not None) as writer:
            spf = writer.samples_per_frame
            if inputs.intro is not None:  # A3: the provincial opening on lecture 1
                programme.cut_to(AudioFeed(inputs.intro.path, rate=rate,
                                           lecture=inputs.label).read)
                for frame in cfr_frames(inputs.intro.path, fps=fps, lecture=inputs.label):
                    if frame is not None:
                        writer.write(comp.full_frame(frame), programme.read(spf))
            programme.cut_to(silence)
            for frame in _card_frames(card, enc.title_card_s, fps):  # A4: ≤ 5 s title card
                writer.write(frame, programme.read(spf))
            master = inputs.sources.get(audio.role) if audio.role else None
            feed = AudioFeed(master.path if master else None, rate=rate,
                             start_s=master.offset_s if master else 0.0,
                             gain=10 ** (audio.gain_db / 20), lecture=inputs.label)
            notch = HumNotch(audio.notch_hz, sample_rate=rate)
            if notch.active and master is not None:  # no ringing where the lecture begins
                notch.warm_up(AudioFeed(master.path, rate=rate, start_s=master.offset_s,
                                        lecture=inputs.label).read(rate))
            programme.cut_to(lambda n: notch(feed.read(n)))
            readers = {r: cfr_frames(s.path, fps=fps, start_s=s.offset_s, lecture=inputs.label)
                       for r, s in videos.items()}
            main_frames = math.floor(main_duration(inputs) * fps)
            if inputs.subtitles is not None:  # D8: cues are in lecture time, from t = 0
                start = writer.time_s
                writer.add_cues(shift_and_clip(parse_srt(inputs.subtitles, lecture=inputs.label),
                                               offset_s=start, start_s=start,
                                               end_s=start + main_frames / fps))
            for _ in range(main_frames):
                current = {r: next(it, None) for r, it in readers.items()}
                writer.write(comp.compose(current), programme.read(spf))
                frames += 1
            for it in readers.values():
                it.close()
            if credits is not None:  # A5: credits close the course
                programme.cut_to(silence)
                for frame in _card_frames(credits, enc.credits_s, fps):
                    writer.write(frame, programme.read(spf))
            total = writer.frames
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return RenderResult(path=final, duration_s=total / fps, frames=total, audio=audio)


analyse_task = task(name="analyse-audio", cache_policy=NO_CACHE)(plan_audio)
render_task = task(name="render", cache_policy=NO_CACHE)(render_lecture)
