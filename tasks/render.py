"""Render one lecture: [intro (lecture 1)] → title card → composite → [credits (last)].

All in one task: frames stream from the decoders through the compositor into the encoder
and never leave this process; the task returns the path of the finished file, written
under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.audio_chain import (
    DECLIP_MAX_S,
    Declipper,
    HumNotch,
    NoiseReducer,
    Patch,
    PeakLimiter,
    Programme,
    pause_spectrum,
)
from courseware.cards import credits_lines, render_card, title_card_lines
from courseware.compose import Compositor, Scene, black_runs
from courseware.course import Course, Lecture
from courseware.errors import ProfileError
from courseware.fonts import FontFace, find_face
from courseware.media import (
    AudioFeed,
    BackgroundWriter,
    DeliveryWriter,
    audio_format,
    cfr_frames,
    lossless_audio,
    open_media,
    rgb_to_frame,
)
from courseware.report import Check
from courseware.subtitles import parse_srt, shift_and_clip
from courseware.tracks import MICROPHONES_APART_DB, Track, listen
from courseware.video_chain import SourceChain, SourcePlan, VideoPlan
from encoder_profiles import Layout, Profile, load_layout, load_layouts
from qc_metrics.audio import (
    ANTI_PHASE,
    AudioQC,
    SpectrumClasses,
    SpeechNoiseMeter,
    estimate_speech_noise,
    hum_to_remove,
    live_channel,
    merge_events,
)
from qc_metrics.colour import CameraSpan
from qc_metrics.frames import spoken_length, timecode
from qc_metrics.loudness import FilterBank, LoudnessMeter
from qc_metrics.temporal import STREAM_ENDS_S
from tasks.probe import (
    LectureInputs,
    SourceInfo,
    earliest_start,
    picture_ends,
    picture_starts,
    starts_at,
)

log = logging.getLogger(__name__)


#: a channel level standing for digital silence (−inf dBFS) in a plan
SILENT_DBFS = -200.0


class Cleaner(BaseModel):
    """A source whose microphone heard the lecture (its sound matched the programme's in the
    sync) with the speech further over the room's noise than the programme microphone's,
    while that one needs noise reduction: S2 of each, as ``courseware.tracks.listen`` hears
    them."""

    model_config = ConfigDict(frozen=True)

    role: str
    snr_db: float                     #: 999: digital silence in its pauses
    programme_snr_db: float | None    #: None: no speech found over its noise


class AudioPlan(BaseModel):
    """What the analysis pass decided for the programme sound (two-pass mastering)."""

    model_config = ConfigDict(frozen=True)

    role: str | None  # which source's audio is the programme sound; None: silence
    integrated_lufs: float | None = None
    true_peak_dbfs: float | None = None
    gain_db: float = 0.0
    notch_hz: tuple[float, ...] = ()  # mains lines to remove (S3)
    #: the source's channel that carries the sound, on both sides, when the other is silent
    #: (a microphone on one input only); None: the source's stereo as it is
    channel: int | None = None
    #: the source's channels in opposite polarity (a microphone wired inverted on one input):
    #: the second is inverted back, so the mono downmix does not cancel (D9)
    invert: bool = False
    #: correlation of the source's two channels (None: mono, or a channel silent)
    correlation: float | None = None
    #: DC offset of each of the source's channels, subtracted (S1: headroom, clicks at cuts);
    #: empty when every channel's is under DC_REMOVE
    dc_offset: tuple[float, ...] = ()
    #: S2 of each channel where they are two microphones (the cleaner one is ``channel``;
    #: 999: digital silence in the pauses); empty otherwise
    channel_snr_db: tuple[float, ...] = ()
    #: RMS of each of the source's channels (SILENT_DBFS: digital silence; finite, as every
    #: field here, so the plan serialises as JSON)
    channel_levels_dbfs: tuple[float, ...] = ()
    #: the source's S2: active speech over the noise floor of its pauses (None: not measured)
    snr_db: float | None = None
    #: how far the noise reducer lowers the noise (0: not used) …
    noise_reduction_db: float = 0.0
    #: … given the noise's power per bin of its frames (courseware.audio_chain.pause_spectrum,
    #: at the source's level, before the plan's gain)
    noise_spectrum: tuple[float, ...] = ()
    #: the source's pauses never settle (S2's floor "unsettled": a reverberant room, still
    #: dying away when the next words begin): its noise floor is not reached, nothing is
    #: noise-reduced (the reducer would take the reverberation for noise)
    reverberant: bool = False
    #: gain of lecture 1's provincial intro (A3), to the lecture's loudness
    intro_gain_db: float = 0.0
    #: background music already in the source, dB under its speech (None: none heard; S4)
    music_under_db: float | None = None
    #: S4: the source's dropouts (lecture time, s), played from this source's own sound …
    patch_role: str | None = None
    #: … this channel of it on both sides (the source's other microphone), else as it is …
    patch_channel: int | None = None
    #: … from this audio track of it (the source's other microphone on a track of its own;
    #: None: the track the source is read from) …
    patch_stream: int | None = None
    patch_spans: tuple[tuple[float, float], ...] = ()
    #: … at this gain over the programme's (its speech brought to the source's level)
    patch_gain_db: float = 0.0
    #: where in the lecture (s) the source's sound ends, when it ends before the lecture
    #: (the last of ``patch_spans`` when another microphone plays the rest); None: it lasts
    sound_ends_s: float | None = None
    #: where in the lecture (s) the source's sound begins, when after the lecture does (a
    #: lecture begun before its microphone: the first of ``patch_spans`` when another
    #: microphone plays the head); None: from the start
    sound_begins_s: float | None = None
    #: where in the lecture (s) the source has no sound between two parts of its recording
    #: (time passed between them; patched like the head and the tail)
    sound_gaps_s: tuple[tuple[float, float], ...] = ()
    #: another source that heard the lecture through a cleaner microphone (cleaner_source)
    cleaner: Cleaner | None = None
    #: S1: runs of the source's samples at full scale in the lecture (the microphone or its
    #: recorder overdriven), which the render restores (courseware.audio_chain.Declipper)
    #: where the source keeps its samples as recorded (``codec`` lossless) …
    clipped_runs: int = 0
    #: … where they are in the lecture (s; QC's events: runs close together joined)
    clipped_s: tuple[tuple[float, float], ...] = ()
    #: … at this level (|x|) below full scale (a mixer or preamp overdriven before the
    #: recorder, the level lowered after); None: at full scale
    clip_level: float | None = None
    #: the source's audio codec and sample rate: its clipped runs are whole (flat at the
    #: level) only where it keeps its samples and plays at its own rate
    codec: str = ""
    codec_rate: int = 0


class RenderResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    duration_s: float
    frames: int
    audio: AudioPlan
    video: VideoPlan | None = None
    warnings: tuple[str, ...] = ()  # e.g. B2: a source below 1280×720
    cameras: tuple[CameraSpan, ...] = ()  # film time → where each camera is (V3 camera match)
    #: what the render measured of its sources that the film's QC cannot measure on the film
    #: (``audio.source_clipping``: the level lowered, a clipped run no longer reaches full
    #: scale), for the lecture's QC report
    checks: tuple[Check, ...] = ()


def master_audio(inputs: LectureInputs) -> SourceInfo | None:
    """The microphone to use: a separate audio file, else the teacher camera, else slides.

    One source only: mixing two copies of the same speech would echo.
    """
    for role in ("audio", "teacher", "slides"):
        src = inputs.sources.get(role)
        if src is not None and (role == "audio" or src.has_audio):
            return src
    return None


#: cameras whose pictures end within this of each other stopped with the lecture (an
#: operator stops one, then walks to the other): the lecture ends with the first. Further
#: apart, one stopped early (a full card, a flat battery, a recording split into files) and
#: the lecture goes on without it while another camera and the sound do (the course file's
#: ``end`` trims a source left running after the class).
CAMERAS_APART_S = 60.0


def runs_to(src: SourceInfo) -> float:
    """Where a source's file ends, in lecture time."""
    return (src.duration_s - src.offset_s) / src.clock


def sound_end(inputs: LectureInputs) -> float | None:
    """Where the last microphone that heard the lecture ends, in lecture time: the
    programme source, or a camera whose own sound the sync matched to it (it plays on
    where the programme's ends); None: no sound."""
    master = master_audio(inputs)
    if master is None:
        return None
    return max(runs_to(s) for s in inputs.sources.values()
               if s is master or (s.has_audio and s.matched))


def sources_end(inputs: LectureInputs) -> float:
    """Where the sources end the lecture: while every camera has pictures; past a camera
    that stopped early (more than ``CAMERAS_APART_S`` before another), as long as another
    camera's pictures and the sound go on."""
    ends = picture_ends(inputs)
    first, last = min(ends.values()), max(ends.values())
    sound = sound_end(inputs)
    end = first if sound is None else min(last, max(first, sound))
    return max(0.0, end if end - first > CAMERAS_APART_S else first)


def film_duration(inputs: LectureInputs, profile: Profile, *, last: bool) -> float:
    """What the learner sits through (A1/A2): lecture 1's intro, the title card, the
    lecture, the last lecture's credits (s, on whole frames)."""
    enc, fps = profile.encode, profile.delivery.fps
    extra = (enc.title_card_s + (enc.credits_s if last else 0.0)
             + (inputs.intro.duration_s if inputs.intro is not None else 0.0))
    return (math.floor(main_duration(inputs) * fps) + round(extra * fps)) / fps


def main_duration(inputs: LectureInputs) -> float:
    """The lecture's length: where the sources end it (``sources_end``), or earlier where
    the course file says it ends."""
    end = sources_end(inputs)
    return end if inputs.end_s is None else min(end, inputs.end_s)


def camera_stops(inputs: LectureInputs) -> dict[str, float]:
    """Cameras whose pictures end before the lecture does, and where (lecture time): each
    leaves the layout there."""
    end = main_duration(inputs)
    return {r: max(0.0, e) for r, e in picture_ends(inputs).items() if end - e > STREAM_ENDS_S}


def camera_absences(inputs: LectureInputs) -> dict[str, tuple[tuple[float, float], ...]]:
    """Where each camera has no pictures while the lecture runs (lecture time): before it
    starts (a lecture begun before it), between two parts of its recording that time passed
    between, after it stops early. Each span is left out of the layout."""
    end, stops = main_duration(inputs), camera_stops(inputs)
    out: dict[str, tuple[tuple[float, float], ...]] = {}
    for role, src in inputs.sources.items():
        if role == "audio":
            continue
        spans = [(0.0, min(starts_at(src), end)), *gaps_in_lecture(src, end)] + (
            [(stops[role], end)] if role in stops else [])
        if kept := tuple((a, b) for a, b in spans if b - a > STREAM_ENDS_S):
            out[role] = kept
    return out


def layout_without(stopped: Sequence[str], sources: Sequence[str]) -> Layout:
    """The layout that shows the cameras left when ``stopped`` have stopped: the one whose
    regions are exactly theirs (``<camera>_only`` for one)."""
    left = [r for r in sources if r not in stopped]
    layouts = load_layouts()
    named = layouts.get(f"{left[0]}_only") if len(left) == 1 else None
    found = named or next((lay for lay in layouts.values()
                           if sorted(lay.sources) == sorted(left)), None)
    if found is None:
        raise ProfileError(f"no layout shows only {', '.join(left)}: add one to layouts.yaml")
    return found


def two_microphones(snr_db: Sequence[float]) -> int | None:
    """The channel of the cleaner microphone when a stereo source's two channels are two
    microphones (a wireless lavalier on one input, the camera's own on the other: their S2
    ``MICROPHONES_APART_DB`` or more apart, where a stereo pair hears one room on both);
    None otherwise."""
    if len(snr_db) != 2 or any(math.isnan(x) for x in snr_db):
        return None
    best = 0 if snr_db[0] >= snr_db[1] else 1
    return best if snr_db[best] - snr_db[1 - best] >= MICROPHONES_APART_DB else None


def _measure(inputs: LectureInputs, src: SourceInfo, profile: Profile, *,
             channel: int | None = None,
             ) -> tuple[AudioQC, SpectrumClasses, dict[str, Check], float | None]:
    """One pass over the source's sound in the lecture (``channel`` on both sides): every
    audio check, the spectrum of its pauses, and where in the lecture its sound ends when it
    ends before the lecture does (None: it lasts). What comes after that end is not sound of
    the source and is not measured, nor what comes before the source begins (a lecture
    begun before it)."""
    rate = profile.delivery.audio_rate
    head_s = starts_at(src)
    feed = AudioFeed(src.path, rate=rate, start_s=src.offset_s + src.clock * head_s,
                     lecture=inputs.label, clock=src.clock, channel=channel,
                     stream=src.audio_stream)
    meter = AudioQC(sample_rate=rate, profile=profile,
                    hum_prominence_db=profile.encode.hum_prominence_db)
    pauses = pause_spectrum(rate)
    k = round(head_s * rate)
    remaining = round(main_duration(inputs) * rate) - k
    while remaining > 0:
        n = min(remaining, rate)
        block = feed.read_sound(n)
        if block.shape[1]:
            meter.process(block, k / rate)
            pauses.consume(block)
        if block.shape[1] < n:
            break
        remaining, k = remaining - n, k + n
    ended = None if feed.ended_s is None else feed.ended_s + head_s
    return meter, pauses, {c.id: c for c in meter.finish()}, ended


def gaps_in_lecture(src: SourceInfo, end: float) -> tuple[tuple[float, float], ...]:
    """Where, in a lecture of length ``end``, a source has nothing between two parts of its
    recording (lecture time): neither pictures nor sound."""
    spans = [(max(0.0, (a - src.offset_s) / src.clock), min(end, (b - src.offset_s) / src.clock))
             for a, b in src.gaps]
    return tuple((a, b) for a, b in spans if b - a > STREAM_ENDS_S)


def plan_audio(inputs: LectureInputs, profile: Profile) -> AudioPlan:
    """First pass over the master microphone, lecture span only: loudness, true peak and mains
    hum (BS.1770-4 / S3 meters of qc_metrics.audio). Decides gain and hum notches. Where the
    source's two channels are two microphones, a second pass measures the cleaner one as it
    will play, on both sides."""
    src = master_audio(inputs)
    if src is None:
        return AudioPlan(role=None)
    rate, enc = profile.delivery.audio_rate, profile.encode
    meter, pauses, checks, ends = _measure(inputs, src, profile)
    if not math.isfinite(meter.loudness.result().true_peak_dbfs):
        return AudioPlan(role=src.role)
    levels = meter.channel_levels_dbfs()
    channel = live_channel(levels)
    correlation = meter.channel_correlation()
    means = meter.channel_means()
    dc = tuple(means) if max(map(abs, means), default=0.0) >= DC_REMOVE else ()
    mics: tuple[float, ...] = ()
    first = meter.speech                       # each channel's frames, as recorded
    if channel is None:
        each = tuple(estimate_speech_noise(p).snr_db for p in first.channel_power)
        better = two_microphones(each)
        if better is not None:
            channel, mics = better, each
            meter, pauses, checks, ends = _measure(inputs, src, profile, channel=better)
    loud, hum = meter.loudness.result(), meter.hum.finish()
    integrated = loud.integrated_lufs
    if channel is not None and not mics:
        # the live channel on both sides: BS.1770 sums the channels' powers, so +3.01 dB
        # (the peak, the hum and the other measures are the live channel's already)
        integrated += 10.0 * math.log10(2.0)
    # S3: notch every mains line that stands out (and its neighbours' harmonics stay)
    notch = tuple(line.frequency_hz for line in hum_to_remove(
        hum, prominence_db=enc.hum_prominence_db, min_level_dbfs=meter.hum_min_level_dbfs))
    # one loudness for the whole course; S1: peaks at least min_peak (the limiter caps them)
    gain = (enc.loudness_target_lufs - integrated if math.isfinite(integrated) else 0.0)
    if loud.true_peak_dbfs + gain < enc.min_peak_dbfs:
        gain = enc.min_peak_dbfs - loud.true_peak_dbfs
    speech = meter.speech.finish()
    bed = meter.music_bed
    music = (speech.speech_dbfs - bed.level_dbfs
             if bed is not None and math.isfinite(bed.level_dbfs) else None)
    # a music bed in the pauses is no noise to reduce (the reducer would take it away), nor
    # is a room's reverberation where the pauses never settle
    unsettled = speech.floor == "unsettled"
    reduction, spectrum = ((0.0, ()) if music is not None or unsettled else
                           _noise_reduction(speech.snr_db, pauses,
                                            channel=None if mics else channel, profile=profile))
    # the intro at the lecture's loudness as rendered (the target, or louder where S1's peak
    # floor raised the lecture)
    intro = _intro_gain(inputs, profile, lufs=(integrated + gain if math.isfinite(integrated)
                                               else enc.loudness_target_lufs))
    other = 1 - channel if mics and channel is not None else None
    # the source's sound ends before the lecture does (a recorder stopped, an export whose
    # sound track is short): that stretch is a dropout to the end, played from another
    # microphone where there is one
    lecture_s = main_duration(inputs)
    ends = ends if ends is not None and lecture_s - ends > STREAM_ENDS_S else None
    tail = ((ends, lecture_s),) if ends is not None else ()
    late = starts_at(src)
    begins = late if late > STREAM_ENDS_S else None
    head = ((0.0, late),) if begins is not None else ()
    gaps = gaps_in_lecture(src, lecture_s)
    patch = _dropout_patch(inputs, src, checks["audio.dropouts"], speech_dbfs=speech.speech_dbfs,
                           rate=rate, other=other, other_dbfs=None if other is None else
                           estimate_speech_noise(first.channel_power[other]).speech_dbfs,
                           silent=head + gaps + tail)
    codec, codec_rate = audio_format(src.path, src.audio_stream, lecture=inputs.label)
    return AudioPlan(role=src.role, integrated_lufs=_finite(integrated),
                     true_peak_dbfs=loud.true_peak_dbfs, gain_db=gain, notch_hz=notch,
                     channel=channel, correlation=correlation, dc_offset=dc,
                     invert=(channel is None and correlation is not None
                             and correlation <= ANTI_PHASE),
                     channel_levels_dbfs=tuple(max(x, SILENT_DBFS) for x in levels),
                     channel_snr_db=tuple(x if math.isfinite(x) else 999.0 for x in mics),
                     snr_db=_finite(speech.snr_db), noise_reduction_db=reduction,
                     noise_spectrum=spectrum, intro_gain_db=intro, music_under_db=music,
                     reverberant=unsettled, sound_ends_s=ends, sound_begins_s=begins,
                     sound_gaps_s=gaps, cleaner=cleaner_source(
                         inputs, profile, heard=(-math.inf if math.isnan(speech.snr_db)
                                                 else speech.snr_db, not unsettled)),
                     clipped_runs=round(float(checks["audio.clipping"].measured or 0.0)),
                     clip_level=_ceiling(meter),
                     clipped_s=tuple((e.start_s, e.end_s)
                                     for e in checks["audio.clipping"].events),
                     codec=codec, codec_rate=codec_rate, **patch)


def _ceiling(meter: AudioQC) -> float | None:
    """The level the source was clipped at below full scale (QC's flat tops), or None."""
    clip = meter.clipping.finish()
    return clip.ceiling if not clip.runs else None


def cleaner_source(inputs: LectureInputs, profile: Profile, *,
                   heard: tuple[float, bool] | None = None) -> Cleaner | None:
    """Where the programme microphone (``master_audio``) hears the speech less than S2's
    minimum and the noise reducer's margin over the room's noise, or in a room whose pauses
    never settle (a camera's microphone far from the lecturer): another source whose own
    sound the sync matched to it and that is ``MICROPHONES_APART_DB`` or more cleaner (a
    lavalier into the slides capture's computer). Each heard by ``tracks.listen`` (five
    stretches over the file, its chosen track; ``heard``: the programme's S2 and whether its
    pauses settle, measured already: the analysis pass measures the whole lecture). None:
    none, or no need."""
    src = master_audio(inputs)
    others = [o for o in inputs.sources.values()
              if src is not None and o is not src and o.has_audio and o.matched]
    if src is None or not others:
        return None
    mine, settled = heard or heard_snr(src, inputs.label)
    if settled and mine >= profile.audio.snr_min_db + profile.encode.audio_denoise_margin_db:
        return None
    best: Cleaner | None = None
    for other in others:
        snr, _ = heard_snr(other, inputs.label)
        if (snr > -math.inf and snr >= mine + MICROPHONES_APART_DB
                and (best is None or snr > best.snr_db)):
            best = Cleaner(role=other.role, snr_db=min(snr, 999.0),
                           programme_snr_db=mine if math.isfinite(mine) else None)
    return best


def heard_track(src: SourceInfo, lecture: str) -> Track | None:
    """The source's chosen track as ``tracks.listen`` hears it (a few minutes over its file)."""
    tracks = listen(src.path, lecture=lecture)
    return tracks[src.audio_stream] if src.audio_stream < len(tracks) else None


def heard_snr(src: SourceInfo, lecture: str, track: Track | None = None) -> tuple[float, bool]:
    """S2 of the source's chosen track as ``tracks.listen`` hears it (−inf: no speech; a
    lower bound where its pauses never settle), and whether they settle. ``track``: that
    track, already heard."""
    track = track or heard_track(src, lecture)
    if track is None or not track.speaks or math.isnan(track.snr_db):
        return -math.inf, True
    return track.snr_db, not track.unsettled


def cleaner_microphone(inputs: LectureInputs, c: Cleaner | None, profile: Profile
                       ) -> list[str]:
    """A source with a cleaner microphone than the one the lecture plays (``master_audio``),
    and how to play it instead."""
    master = master_audio(inputs)
    if c is None or master is None:
        return []
    kind = "recorder" if master.role == "audio" else "camera"
    mine = (f"{c.programme_snr_db:.0f} dB" if c.programme_snr_db is not None
            else "no speech found over its noise")
    theirs = ("with digital silence in the pauses" if c.snr_db >= 999.0 else
              f"{c.snr_db:.0f} dB over the room's noise")
    parts = "s" if len(inputs.sources[c.role].parts) > 1 else ""
    return [f"{inputs.label} {c.role}: its microphone hears the speech {theirs}, cleaner than "
            f"the {master.role} {kind}'s that the lecture plays ({mine}; S2 wants "
            f"{profile.audio.snr_min_db:g} dB). To play it instead, give sources.audio the "
            f"same file{parts} as sources.{c.role}: the sync places it and keeps it in step "
            "with the teacher camera"]


def _dropout_patch(inputs: LectureInputs, src: SourceInfo, dropouts: Check, *,
                   speech_dbfs: float, rate: int, other: int | None,
                   other_dbfs: float | None,
                   silent: tuple[tuple[float, float], ...] = ()) -> dict[str, Any]:
    """S4: the programme microphone's dropouts, and another microphone that heard the same
    speech, to play there: ``other``, the source's other channel when the source carries two
    microphones (its speech level ``other_dbfs``, measured already), else the source's other
    track that carries the speech (a camcorder's inputs on tracks of their own), else a
    camera whose own sound was matched in the sync (measured here); with the gain that
    brings its speech to the microphone's level (P.56 active levels). AudioPlan's patch
    fields; none when there is no such microphone. ``silent``: where the source has no sound
    while the lecture runs (before it begins, between two parts, after it ends), played from
    that microphone too."""
    spans = tuple(sorted([*((e.start_s, e.end_s) for e in dropouts.events), *silent]))
    track = src.backup_stream if other is None else None
    backup = (src.model_copy(update={"audio_stream": track}) if track is not None else
              src if other is not None else next(
                  (s for r in ("teacher", "slides") if r != src.role
                   and (s := inputs.sources.get(r)) is not None and s.has_audio
                   and s.matched), None))
    if not spans or backup is None or not math.isfinite(speech_dbfs):
        return {}
    level = other_dbfs if other_dbfs is not None else _speech_dbfs(inputs, backup, rate=rate)
    if not math.isfinite(level):
        return {}
    return {"patch_role": backup.role, "patch_channel": other, "patch_stream": track,
            "patch_spans": spans, "patch_gain_db": speech_dbfs - level}


def _speech_dbfs(inputs: LectureInputs, src: SourceInfo, *, rate: int) -> float:
    """The active-speech level (P.56) of a source's sound in the lecture."""
    feed = AudioFeed(src.path, rate=rate, start_s=src.offset_s, lecture=inputs.label,
                     clock=src.clock, stream=src.audio_stream)
    bank, meter = FilterBank(sample_rate=rate), SpeechNoiseMeter(sample_rate=rate)
    remaining = round(main_duration(inputs) * rate)
    while remaining > 0:
        n = min(remaining, rate)
        for hop in bank.push(feed.read(n)):
            meter.consume(hop)
        remaining -= n
    return meter.finish().speech_dbfs


def _intro_gain(inputs: LectureInputs, profile: Profile, *, lufs: float) -> float:
    """The intro's gain to ``lufs``, the lecture's loudness (S4: the level does not jump
    where the lecture begins); its peaks go through the programme's limiter like the
    lecture's."""
    intro = inputs.intro
    if intro is None or not intro.has_audio:
        return 0.0
    rate = profile.delivery.audio_rate
    feed = AudioFeed(intro.path, rate=rate, lecture=inputs.label, stream=intro.audio_stream)
    meter = LoudnessMeter(sample_rate=rate)
    for _ in range(math.ceil(intro.duration_s)):
        meter.process(feed.read(rate))
    integrated = meter.finish().integrated_lufs
    return lufs - integrated if math.isfinite(integrated) else 0.0


def _noise_reduction(snr: float, pauses: SpectrumClasses, *, channel: int | None,
                     profile: Profile) -> tuple[float, tuple[float, ...]]:
    """S2: how far to lower the microphone's noise, and its spectrum. Just enough to land
    ``audio_denoise_margin_db`` above S2's minimum, at most ``audio_denoise_max_db``;
    nothing when the SNR is good enough, not measurable (no speech, digital silence in the
    pauses) or ``audio_denoise`` is off."""
    amount = reduction_for(snr, profile)
    if amount <= 0:
        return 0.0, ()
    noise = pauses.quietest(0.1, 1)          # (channels, bins): the pauses, as S2 takes them
    if noise.ndim != 2:                      # nothing with sound was measured
        return 0.0, ()
    # the noise as the reducer meets it: the live channel on both sides, else as recorded
    per_bin = noise[channel] if channel is not None else noise.mean(axis=0)
    return amount, tuple(float(x) for x in per_bin)


def reduction_for(snr: float, profile: Profile) -> float:
    """How far the noise reducer lowers the noise of a microphone of S2 ``snr`` (dB): just
    enough to land ``audio_denoise_margin_db`` over S2's minimum, at most
    ``audio_denoise_max_db``; 0 when it needs none, its S2 is not measurable, or
    ``audio_denoise`` is off."""
    enc = profile.encode
    want = profile.audio.snr_min_db + enc.audio_denoise_margin_db - snr
    if enc.audio_denoise == "off" or not math.isfinite(want) or want <= 0:
        return 0.0
    return min(want, enc.audio_denoise_max_db)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _card_frames(rgb: np.ndarray, seconds: float, fps: int) -> Iterator[av.VideoFrame]:
    frame = rgb_to_frame(rgb)
    for _ in range(round(seconds * fps)):
        yield frame


def source_sar(path: Path, *, lecture: str | None = None) -> float:
    """Sample aspect ratio of a file's video (container's, else the first frame's stream)."""
    with open_media(path, lecture=lecture) as container:
        stream = container.streams.video[0]
        sar = stream.sample_aspect_ratio
        if not sar:
            next(container.decode(stream), None)
            sar = stream.codec_context.sample_aspect_ratio
        return float(sar) if sar else 1.0


def below_hd(inputs: LectureInputs, profile: Profile) -> list[str]:
    """B2: sources recorded below HD (1280×720); upscaling cannot add detail."""
    dl = profile.delivery
    return [f"{inputs.label} {role}: {s.width}×{s.height} is below {dl.min_width}×"
            f"{dl.min_height} (B2); upscaling adds no detail"
            for role, s in inputs.sources.items()
            if role != "audio" and s.width is not None and s.height is not None
            and (s.width < dl.min_width or s.height < dl.min_height)]


def hdr_sources(inputs: LectureInputs) -> list[str]:
    """Sources in high dynamic range (a phone's default HDR video): the platform plays SDR
    BT.709 and the render reads every source as such, so their colours and brightness come
    out wrong. Said plainly, with the fix; the lecture is still made."""
    return [f"{inputs.label} {role}: {s.path.name} is HDR video ({s.hdr} transfer); the "
            "platform plays standard-range BT.709 and this source is rendered as if it were, "
            "so its colours and brightness will look wrong: record with HDR off (phones: "
            "camera settings, HDR video) or export the file as SDR, then run again"
            for role, s in inputs.sources.items() if s.hdr]


def combed(inputs: LectureInputs, video: VideoPlan | None) -> list[str]:
    """Sources whose picture is interlaced though their frames say progressive (D7): the
    render deinterlaces them; the capture or export chain should have."""
    plans = video.sources if video is not None else {}
    return [f"{inputs.label} {role}: {inputs.sources[role].path.name} shows an interlaced "
            f"picture (combing, {'top' if p.field_order == 'tff' else 'bottom'} field first) "
            "in frames flagged progressive; it is deinterlaced here (D7). Next time, "
            "deinterlace when capturing or exporting, or record progressive (25p)"
            for role, p in plans.items() if p.combed and role in inputs.sources]


def _deinterlace(plan: SourcePlan | None) -> bool | str | None:
    """What cfr_frames deinterlaces: as the analysis found (a field order when the flags are
    wrong), else its own look at the flags."""
    if plan is None:
        return None
    return plan.field_order if plan.combed else plan.interlaced


def _programme_feed(master: SourceInfo | None, audio: AudioPlan, *, rate: int, lecture: str,
                    gain: float = 1.0, declip: int = 0) -> AudioFeed:
    """The master microphone as the plan puts it right (DC offset, channel, polarity, its
    clipped runs of up to ``declip`` samples restored, at full scale or at the level it was
    clipped at below it), on the cameras' clock."""
    return AudioFeed(master.path if master else None, rate=rate,
                     start_s=master.offset_s if master else 0.0, gain=gain, lecture=lecture,
                     channel=audio.channel, invert=audio.invert, offset=audio.dc_offset,
                     clock=master.clock if master else 1.0,
                     stream=master.audio_stream if master else 0, declip=declip,
                     declip_level=audio.clip_level)


#: a source's DC offset at or above this share of full scale (−60 dBFS) is removed
DC_REMOVE = 0.001


def anti_phase(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme microphone's two channels in opposite polarity, put right."""
    if not audio.invert or audio.role is None or audio.correlation is None:
        return []
    return [f"{inputs.label} {audio.role}: the two sound channels are in opposite polarity "
            f"(correlation {audio.correlation:.2f}: on a single speaker the voice would "
            "cancel); the second is inverted back. Next time, check the microphone cable or "
            "the camera's input settings"]


def too_noisy(inputs: LectureInputs, audio: AudioPlan, profile: Profile) -> list[str]:
    """The programme microphone so far under S2 that the noise reducer, at its most, leaves
    the lecture under it (QC of the lecture will fail S2)."""
    if audio.snr_db is None or audio.role is None or audio.noise_reduction_db <= 0:
        return []
    return short_of_s2(inputs.label, audio.role, audio.snr_db, audio.noise_reduction_db,
                       profile)


def short_of_s2(label: str, role: str, snr: float, reduction: float, profile: Profile, *,
                about: bool = False) -> list[str]:
    """The note for a microphone of S2 ``snr`` that stays under S2's minimum after the
    reducer lowers its noise by ``reduction`` (dB); ``about``: an estimate (the plan's,
    from part of the sound)."""
    minimum = profile.audio.snr_min_db
    if snr + reduction >= minimum:
        return []
    return [f"{label} {role}: the speech is only {'about ' if about else ''}{snr:.0f} dB over "
            f"the room's noise (S2 wants {minimum:g} dB); lowered by {reduction:g} dB, the "
            "most that leaves speech natural, it stays under S2. Next time, put the "
            "microphone close to the lecturer (a lavalier or headset) and quieten the room "
            "(fans, projector, air conditioning)"]


def several_tracks(inputs: LectureInputs) -> list[str]:
    """Sources with several audio tracks (a camcorder's inputs each on a track): which one is
    used, and what each holds; the others are left out."""
    return [f"{inputs.label} {role}: {s.path.name} has {len(s.tracks)} audio tracks ("
            + "; ".join(s.tracks) + f"): track {s.audio_stream + 1} is used"
            + ("" if s.audio_stream == 0 else
               ", not the first, which carries no speech or is the noisier microphone")
            + "; the others are left out"
            for role, s in inputs.sources.items() if len(s.tracks) > 1]


def reverberant(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme microphone's pauses never settle (a reverberant room): not
    noise-reduced, and QC's S2 of the lecture is a lower bound."""
    if not audio.reverberant or audio.role is None:
        return []
    return [f"{inputs.label} {audio.role}: the pauses never settle: the room's reverberation "
            "is still dying away when the next words begin, so its noise floor cannot be "
            "measured (S2 is a lower bound) and the sound is not noise-reduced (the reducer "
            "would take the reverberation for noise). Next time, put the microphone close "
            "to the lecturer (a lavalier or headset)"]


def music_bed(inputs: LectureInputs, audio: AudioPlan, profile: Profile) -> list[str]:
    """The programme microphone's sound already carries background music: it is not
    noise-reduced, and it is named when it is louder than S4 allows."""
    if audio.music_under_db is None or audio.role is None:
        return []
    least = profile.audio.music_under_speech_db
    loud = (f"; it is louder than S4 allows (at least {least:g} dB under the speech): "
            "lower it in the source" if audio.music_under_db < least else "")
    return [f"{inputs.label} {audio.role}: the sound already carries background music "
            f"({audio.music_under_db:.0f} dB under the speech); it is not noise-reduced "
            f"(the reducer would take the music for noise){loud}"]


def patched(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme microphone's dropouts, played from another microphone's sound."""
    drops = [s for s in audio.patch_spans if s[0] != audio.sound_ends_s
             and s[1] != audio.sound_begins_s and s not in audio.sound_gaps_s]
    if audio.patch_role is None or not drops or audio.role is None:
        return []
    return [f"{inputs.label} {audio.role}: the sound drops out {len(drops)} "
            f"time(s) in the speech (first at {timecode(drops[0][0])} of the lecture); those "
            f"stretches are played from {_patch_source(audio)} "
            f"({audio.patch_gain_db:+.1f} dB to match). "
            "Next time, check the wireless microphone's batteries, range and channel"]


def _patch_source(audio: AudioPlan) -> str:
    """The microphone the plan's patches are played from, as a person is told of it."""
    if audio.patch_channel is not None:
        return f"channel {audio.patch_channel + 1} of the same recording (its other microphone)"
    if audio.patch_stream is not None:
        return f"track {audio.patch_stream + 1} of the same recording (its other microphone)"
    return f"the {audio.patch_role} camera's own sound"


def camera_stopped(inputs: LectureInputs) -> list[str]:
    """Cameras that stop well before the lecture does: it goes on without them."""
    stops = camera_stops(inputs)
    if not stops:
        return []
    end = main_duration(inputs)
    rest = layout_without(list(stops), [r for r in inputs.sources if r != "audio"])
    return [f"{inputs.label} {role}: its pictures end at {timecode(at)} of the lecture, "
            f"{spoken_length(end - at)} before the lecture does (a full memory card, a flat "
            "battery, a camera that splits its recording into several files?): from there "
            f"the layout is {rest.name} ({', '.join(rest.sources)} only). If the camera "
            "recorded the rest into other files, name them all, in order, as the list "
            f"sources.{role}: [{inputs.sources[role].path.name}, …]"
            for role, at in stops.items()]


def camera_late(inputs: LectureInputs) -> list[str]:
    """Cameras that begin after the lecture does (the course file's start before them)."""
    cameras = [r for r in inputs.sources if r != "audio"]
    late = {r: at for r, at in picture_starts(inputs).items() if at > STREAM_ENDS_S}
    out = []
    for role, at in late.items():
        waiting = [r for r, a in late.items() if a >= at]
        if len(waiting) == len(cameras):
            continue
        rest = layout_without(waiting, cameras)
        out.append(f"{inputs.label} {role}: its pictures begin at {timecode(at)} of the "
                   "lecture (the lecture begins before it, where the course file's start "
                   f"says): until then the layout is {rest.name} "
                   f"({', '.join(rest.sources)} only)")
    return out


def head_left_out(inputs: LectureInputs) -> list[str]:
    """Cameras whose pictures begin well before the lecture does (where the last source
    starts, as a lecture without a start begins): that part is left out; how to keep it."""
    if inputs.start_s != 0:
        return []
    last = min(inputs.sources.values(), key=lambda s: s.offset_s)
    master = master_audio(inputs)
    heard = max((s.offset_s / s.clock for s in inputs.sources.values()
                 if s is master or (s.has_audio and s.matched)), default=0.0)
    late = "the recorder" if last.role == "audio" else f"the {last.role} camera"
    out = []
    for role, src in inputs.sources.items():
        ahead = src.offset_s / src.clock
        if role == "audio" or ahead <= CAMERAS_APART_S:
            continue
        said = (f"{inputs.label} {role}: its pictures begin {spoken_length(ahead)} before the "
                f"lecture does, where {late} starts: that part is left out (setting up "
                "before the class?). If the lecture had begun, give lecture "
                f"{inputs.number} start: {earliest_start(ahead)} in the course file: it then "
                "begins with this camera, and the layout leaves out the cameras not "
                "started yet")
        if heard < ahead - CAMERAS_APART_S:
            said += (f"; no microphone heard the first {spoken_length(ahead - heard)} of it "
                     "(that part would be silent)")
        out.append(said)
    return out


def left_out(inputs: LectureInputs) -> list[str]:
    """Sources that run on well past the lecture's end: that part is not in the lecture
    (unless the course file ends the lecture there); an end in the course file past the
    sources'."""
    end = main_duration(inputs)
    if inputs.end_s is not None:
        if inputs.end_s - end <= STREAM_ENDS_S:
            return []
        return [f"{inputs.label}: the course file ends the lecture at "
                f"{timecode(inputs.end_s + inputs.start_s)}, past where its sources do "
                f"({timecode(end + inputs.start_s)}); it ends there. The end is on the "
                "sources' timeline (where the lecture begins without a start), not the "
                "time in a source file"]
    silent = end < max(picture_ends(inputs).values()) - STREAM_ENDS_S   # the sound ended
    out = []
    for role, s in inputs.sources.items():
        if runs_to(s) - end <= CAMERAS_APART_S:
            continue
        said = (f"{inputs.label} {role}: runs on {spoken_length(runs_to(s) - end)} past the "
                f"lecture's end at {timecode(end)}, where ")
        if silent:
            said += ("the sound ends (no microphone that heard the lecture runs longer); "
                     "that part is left out. If it belongs to the lecture, give the lecture "
                     "a sound source that covers it (a recorder's file as its audio source)")
        elif role == "audio":
            said += "the cameras' pictures end; that part is left out"
        else:
            said += ("the cameras' pictures end (its sound goes on after its pictures); that "
                     "part is left out. If it belongs to the lecture, re-export the file with "
                     "its whole picture")
        out.append(said)
    return out


def sound_ends(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme source's sound ends before the lecture does."""
    if audio.sound_ends_s is None or audio.role is None:
        return []
    end = main_duration(inputs)
    said = (f"{inputs.label} {audio.role}: its sound ends at {timecode(audio.sound_ends_s)} "
            f"of the lecture, {end - audio.sound_ends_s:.1f} s before the pictures do")
    if audio.patch_role is not None and audio.patch_spans[-1][0] == audio.sound_ends_s:
        return [f"{said}; the rest is played from {_patch_source(audio)} "
                f"({audio.patch_gain_db:+.1f} dB to match). Check that the recorder ran to the "
                "end, or that the source was exported with its whole sound"]
    return [f"{said}: the rest of the lecture is silent (no other microphone heard the "
            "speech). Re-export the source with its whole sound, or give the lecture the "
            "recorder's file as its audio source"]


def sound_late(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme source's sound begins after the lecture does (a start before it)."""
    if audio.sound_begins_s is None or audio.role is None:
        return []
    said = (f"{inputs.label} {audio.role}: its sound begins at "
            f"{timecode(audio.sound_begins_s)} of the lecture (the lecture begins before it)")
    if audio.patch_role is not None and audio.patch_spans[0][1] == audio.sound_begins_s:
        return [f"{said}; until then the sound is played from {_patch_source(audio)} "
                f"({audio.patch_gain_db:+.1f} dB to match)"]
    return [f"{said}: until then the lecture is silent (no other microphone heard it). "
            "Give the lecture a source whose sound covers its start, or a later start"]


def sound_missing(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme source's sound is missing between two parts of its recording."""
    if not audio.sound_gaps_s or audio.role is None:
        return []
    spans = ", ".join(f"{timecode(a)}–{timecode(b)}" for a, b in audio.sound_gaps_s)
    said = (f"{inputs.label} {audio.role}: its sound is missing at {spans} of the lecture "
            "(time passed between two parts of its recording)")
    if audio.patch_role is not None and audio.sound_gaps_s[0] in audio.patch_spans:
        return [f"{said}; there the sound is played from {_patch_source(audio)} "
                f"({audio.patch_gain_db:+.1f} dB to match)"]
    return [f"{said}: there the lecture is silent (no other microphone heard it). If a file "
            f"is missing, add it to sources.{audio.role}"]


def two_mics(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme source's two channels are two microphones: the cleaner is used."""
    if not audio.channel_snr_db or audio.channel is None or audio.role is None:
        return []
    snrs = ", ".join(f"channel {i + 1} {'—' if x >= 999 else f'{x:.0f} dB'}"
                     for i, x in enumerate(audio.channel_snr_db))
    return [f"{inputs.label} {audio.role}: the two sound channels are two microphones (S2 "
            f"{snrs}): channel {audio.channel + 1}, the cleaner, is used on both sides"]


def one_sided(inputs: LectureInputs, audio: AudioPlan) -> list[str]:
    """The programme microphone recorded on one channel only, put on both sides."""
    if audio.channel is None or audio.role is None or audio.channel_snr_db:
        return []
    levels = ", ".join("silent" if x <= SILENT_DBFS else f"{x:.0f} dBFS"
                       for x in audio.channel_levels_dbfs)
    return [f"{inputs.label} {audio.role}: the sound is on channel {audio.channel + 1} only "
            f"(channel levels {levels} RMS); it is used on both sides. Next time, put "
            "the microphone on both inputs or set the camera to mono"]


def source_notes(inputs: LectureInputs, profile: Profile) -> list[str]:
    """What a person should know of a lecture's sources before any of them is analysed:
    the sync's findings, parts joined, below HD, HDR, several tracks, where the lecture
    begins and ends against its cameras."""
    return (list(inputs.notes) + [n for s in inputs.sources.values() for n in s.part_notes]
            + below_hd(inputs, profile) + hdr_sources(inputs) + several_tracks(inputs)
            + head_left_out(inputs) + camera_late(inputs) + camera_stopped(inputs)
            + left_out(inputs))


def lecture_compositor(lecture: Lecture, inputs: LectureInputs, *, profile: Profile,
                       video: VideoPlan | None) -> Compositor:
    """The lecture's compositor: its layout (and switches), each source fitted by its sample
    aspect ratio (D5), the plan's per-source chains (V2, V3) and the legal-range clamp (V4)."""
    enc, lim = profile.encode, profile.video
    videos = {r: s for r, s in inputs.sources.items() if r != "audio"}
    plans = video.sources if video is not None else {}
    sars = {r: plans[r].sar if r in plans
            else s.shown_sar(source_sar(s.path, lecture=inputs.label))
            for r, s in videos.items()}
    chains = {r: SourceChain(plans[r], profile=profile) for r in videos if r in plans}
    base = load_layout(lecture.layout or enc.layout)

    def showing(shown: frozenset[str]) -> Layout | None:
        try:
            return layout_without([r for r in videos if r not in shown], list(videos))
        except ProfileError:
            return None

    return Compositor(
        base, width=enc.width, height=enc.height,
        sizes={r: (s.width or 0, s.height or 0, sars[r]) for r, s in videos.items()},
        switches=layout_timeline(lecture, inputs, base),
        chains={r: c for r, c in chains.items() if c.active},
        legal=(lim.luma_range, lim.chroma_range), stand_in=showing)


def layout_timeline(lecture: Lecture, inputs: LectureInputs, base: Layout
                    ) -> list[tuple[float, Layout]]:
    """The lecture's layout switches (``base`` the layout it begins in), and where a camera
    has no pictures (``camera_absences``: it has not started yet, stopped early, or stopped
    between two parts of its recording) the layout that shows the cameras left."""
    asked = [(sw.at - inputs.start_s, load_layout(sw.layout))
             for sw in lecture.layout_switches]
    absent = camera_absences(inputs)
    if not absent:
        return asked
    cameras = [r for r in inputs.sources if r != "audio"]
    times = sorted({0.0, *(at for at, _ in asked if at > 0),
                    *(t for spans in absent.values() for span in spans for t in span)})
    out: list[tuple[float, Layout]] = []
    shown = base
    for t in (t for t in times if t < main_duration(inputs)):
        gone = [r for r in cameras if any(a <= t < b for a, b in absent.get(r, ()))]
        lay = (layout_without(gone, cameras) if gone and len(gone) < len(cameras) else
               next((lay for at, lay in reversed(asked) if at <= t), base))
        if lay.name != shown.name:
            out.append((t, lay))
            shown = lay
    return out


def render_lecture(course: Course, inputs: LectureInputs, *, audio: AudioPlan,
                   profile: Profile, out_dir: Path, font: FontFace | None = None,
                   video: VideoPlan | None = None,
                   progress: Callable[[float], None] | None = None) -> RenderResult:
    """Render one lecture. ``video``: the analysis pass's plan (tasks.analyse_video); None
    renders without colour correction or denoise (conform and the V4 clamp still apply).
    ``progress`` is told the fraction done (0…1) about once a second of film."""
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
    videos = {r: s for r, s in inputs.sources.items() if r != "audio"}
    plans = video.sources if video is not None else {}
    warnings = (source_notes(inputs, profile) + combed(inputs, video)
                + one_sided(inputs, audio) + anti_phase(inputs, audio)
                + too_noisy(inputs, audio, profile) + reverberant(inputs, audio)
                + music_bed(inputs, audio, profile)
                + two_mics(inputs, audio) + patched(inputs, audio)
                + cleaner_microphone(inputs, audio.cleaner, profile)
                + sound_late(inputs, audio) + sound_missing(inputs, audio)
                + sound_ends(inputs, audio))
    for w in warnings:
        log.warning(w)
    comp = lecture_compositor(lecture, inputs, profile=profile, video=video)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"lecture{inputs.number:02d}.mp4"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.part")
    rate = profile.delivery.audio_rate
    programme = Programme(PeakLimiter(10 ** (enc.limiter_ceiling_dbfs / 20), sample_rate=rate))

    def silence(n: int) -> np.ndarray:
        return np.zeros((2, n), np.float32)

    main_frames = math.floor(main_duration(inputs) * fps)
    expected = round(film_duration(inputs, profile, last=last) * fps)

    def tick(done: int) -> None:
        if progress is not None and done % fps == 0:
            progress(min(1.0, done / max(expected, 1)))

    try:
        with (DeliveryWriter(tmp, profile, subtitles=inputs.subtitles is not None) as base,
              BackgroundWriter(base) as writer):
            spf = writer.samples_per_frame
            if inputs.intro is not None:  # A3: the provincial opening on lecture 1
                programme.cut_to(AudioFeed(inputs.intro.path, rate=rate, lecture=inputs.label,
                                           gain=10 ** (audio.intro_gain_db / 20),
                                           stream=inputs.intro.audio_stream).read)
                intro_sar = source_sar(inputs.intro.path, lecture=inputs.label)
                for frame in cfr_frames(inputs.intro.path, fps=fps, lecture=inputs.label):
                    if frame is not None:
                        writer.write(comp.full_frame(frame, intro_sar), programme.read(spf))
                        tick(writer.frames)
            programme.cut_to(silence)
            for frame in _card_frames(card, enc.title_card_s, fps):  # A4: ≤ 5 s title card
                writer.write(frame, programme.read(spf))
            master = inputs.sources.get(audio.role) if audio.role else None
            restore = audio.clipped_runs > 0 and runs_whole(audio.codec, audio.codec_rate, rate)
            feed = _programme_feed(master, audio, rate=rate, lecture=inputs.label,
                                   gain=10 ** (audio.gain_db / 20),
                                   declip=round(DECLIP_MAX_S * rate) if restore else 0)
            notch = HumNotch(audio.notch_hz, sample_rate=rate)
            if notch.active and master is not None:  # no ringing where the lecture begins
                notch.warm_up(_programme_feed(master, audio, rate=rate,
                                              lecture=inputs.label).read(rate))
            read = feed.read
            if audio.patch_role is not None and audio.patch_spans:   # S4: the dropouts
                backup = inputs.sources[audio.patch_role]
                read = Patch(read, AudioFeed(
                    backup.path, rate=rate, start_s=backup.offset_s, lecture=inputs.label,
                    gain=10 ** ((audio.gain_db + audio.patch_gain_db) / 20),
                    clock=backup.clock, channel=audio.patch_channel,
                    stream=(backup.audio_stream if audio.patch_stream is None
                            else audio.patch_stream)).read, audio.patch_spans,
                    sample_rate=rate).read

            def notched(n: int) -> np.ndarray:
                return notch(read(n))

            sound = notched
            if audio.noise_reduction_db > 0 and audio.noise_spectrum:  # S2, after the gain
                sound = NoiseReducer(
                    notched, np.asarray(audio.noise_spectrum) * 10 ** (audio.gain_db / 10),
                    floor_db=-audio.noise_reduction_db).read
            programme.cut_to(sound)
            # D6/D7: constant 25p; interlacing as the analysis found it, else detected here
            # V1: a camera black for hide_black_s (lost signal, lens cap) leaves the layout
            readers = {r: black_runs(cfr_frames(s.path, fps=fps, start_s=s.offset_s,
                                                lecture=inputs.label,
                                                deinterlace=_deinterlace(plans.get(r))),
                                     min_frames=round(enc.hide_black_s * fps),
                                     luma_range=profile.video.luma_range)
                       for r, s in videos.items()}
            if inputs.subtitles is not None:  # D8: cues are in lecture time, from t = 0
                start = writer.time_s
                writer.add_cues(shift_and_clip(parse_srt(inputs.subtitles, lecture=inputs.label),
                                               offset_s=start, start_s=start,
                                               end_s=start + main_frames / fps))
            film_start = writer.time_s
            blacked: dict[str, list[list[int]]] = {}   # runs [i, j) of a shown camera black
            shown: dict[str, set[str]] = {}            # … and what it showed: black, bars
            for i in range(main_frames):
                got: dict[str, tuple[av.VideoFrame | None, str | None]] = {
                    r: next(it, (None, None)) for r, it in readers.items()}
                dark = {r for r, (_, kind) in got.items() if kind}
                for r in dark & comp.scene_at(i / fps).sources if dark else ():
                    shown.setdefault(r, set()).add(str(got[r][1]))
                    runs = blacked.setdefault(r, [])
                    if runs and runs[-1][1] == i:
                        runs[-1][1] = i + 1
                    else:
                        runs.append([i, i + 1])
                writer.write(comp.compose({r: f for r, (f, _) in got.items()}, i / fps,
                                          hidden=dark), programme.read(spf))
                tick(writer.frames)
            for it in readers.values():
                it.close()
            cameras = camera_spans(comp.timeline, start_s=film_start, end_s=main_frames / fps,
                                   authored=tuple(r for r, p in plans.items() if p.authored))
            clipping = declipped(inputs, audio, feed.declipper, film_start=film_start,
                                 rate=rate)
            for note in blackouts(inputs, comp, blacked, fps=fps, kinds=shown) + clipping.notes:
                log.warning(note)
                warnings.append(note)
            if credits is not None:  # A5: credits close the course
                programme.cut_to(silence)
                for frame in _card_frames(credits, enc.credits_s, fps):
                    writer.write(frame, programme.read(spf))
            total = writer.frames
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return RenderResult(path=final, duration_s=total / fps, frames=total, audio=audio,
                        video=video, warnings=tuple(warnings), cameras=cameras,
                        checks=(clipping.check,) if clipping.check is not None else ())


def clipping_heard(label: str, src: SourceInfo, track: Track, rate: int) -> list[str]:
    """The plan's foresight of the render's clipping note: the programme microphone's runs
    at full scale in what ``tracks.listen`` heard of it, and whether the render can restore
    them (a lossless source at the film's rate)."""
    if not track.clipped_runs:
        return []
    codec, codec_rate = audio_format(src.path, src.audio_stream, lecture=label)
    can = runs_whole(codec, codec_rate, rate)
    then = (f"the render restores the runs of up to {DECLIP_MAX_S * 1000:g} ms and says "
            "where any longer are left" if can else
            f"its sound is {codec} at {codec_rate / 1000:g} kHz: the render cannot restore "
            "them, and the lecture's QC will ask for a listen where they are")
    fix = ("lower its input gain (its loudest words should peak around −12 dBFS)"
           if track.clip_level is None else
           f"lower the gain of the mixer or preamp before the recorder (the sound was cut "
           f"flat at {20 * math.log10(track.clip_level):.1f} dBFS before the recorder lowered "
           "it)")
    return [f"{label} {src.role}: the microphone the lecture plays clipped "
            f"{track.clipped_runs} time(s) in the {spoken_length(track.heard_s)} of it heard "
            f"(overdriven): {then}. Next time, {fix}"]


def runs_whole(codec: str, codec_rate: int, rate: int) -> bool:
    """A source's clipped runs reach the render whole (flat at the level they clipped at):
    a codec that keeps every sample, played at its own rate (a lossy codec's decoder, or
    resampling, smears them into ripples that only touch the level here and there)."""
    return lossless_audio(codec) and codec_rate == rate


class Declipped(BaseModel):
    """What became of the programme microphone's clipping: the render's note and the
    lecture's ``audio.source_clipping`` check."""

    model_config = ConfigDict(frozen=True)

    notes: list[str] = []
    check: Check | None = None


def declipped(inputs: LectureInputs, audio: AudioPlan, declip: Declipper | None, *,
              film_start: float, rate: int) -> Declipped:
    """S1 "no obvious distortion" of the sound the lecture plays, judged on its source: the
    render lowers the level of an overdriven microphone, so its clipped runs no longer reach
    full scale in the film and QC's ``audio.clipping`` cannot find them there. Runs the
    render restored pass; longer ones, left distorted, fail (film time, as QC's); those of a
    lossy-coded source, whose decoder smeared them (not restored), are to be listened to
    (warn)."""
    if audio.role is None:
        return Declipped()
    name = f"{audio.role}: {inputs.sources[audio.role].path.name}"
    fix = (f"Next time, lower the input gain of the {audio.role}'s microphone (its loudest "
           "words should peak around −12 dBFS)" if audio.clip_level is None else
           f"Next time, lower the gain of the mixer or preamp before the {audio.role}'s "
           f"recorder: the sound was cut flat at {20 * math.log10(audio.clip_level):.1f} "
           "dBFS before the recorder lowered it")
    if not audio.clipped_runs:
        return Declipped(check=Check("audio.source_clipping", "S1", "pass", 0.0, 0.0, "runs",
                                     f"the microphone the lecture plays ({name}) did not clip"))
    if declip is None or not (declip.restored or declip.left):
        why = ("the runs were not found again at the level the render plays it"
               if declip is not None else
               f"its sound is {audio.codec}-coded, which smears a clipped passage into ripples,"
               " so it is not restored" if not lossless_audio(audio.codec) else
               f"its sound, recorded at {audio.codec_rate / 1000:g} kHz, is resampled to "
               f"{rate / 1000:g} kHz, which smears a clipped passage into ripples, so it is "
               "not restored")
        where = ("at full scale" if audio.clip_level is None else
                 f"flat at {20 * math.log10(audio.clip_level):.1f} dBFS")
        spans = [(film_start + a, film_start + b, where) for a, b in audio.clipped_s]
        first = timecode(audio.clipped_s[0][0]) if audio.clipped_s else "?"
        return Declipped(
            notes=[f"{inputs.label} {audio.role}: the microphone the lecture plays clipped "
                   f"({audio.clipped_runs} run(s) {where}, the first at {first} of the "
                   f"lecture); {why}: listen to those passages. {fix}"],
            check=Check("audio.source_clipping", "S1", "warn", float(audio.clipped_runs), 0.0,
                        "runs", f"the microphone the lecture plays ({name}, {audio.codec}) "
                        f"shows {audio.clipped_runs} clipping run(s), the first at "
                        f"{timecode(spans[0][0]) if spans else '?'}; {why}: listen to these "
                        "passages", merge_events(spans, gap_s=0.25, limit=50)))
    restored, left = _places(declip.restored), _places(declip.left)
    per_s = rate * inputs.sources[audio.role].clock      # the source's samples per second
    longest = DECLIP_MAX_S * 1000
    head = (f"{inputs.label} {audio.role}: the microphone the lecture plays clipped "
            f"{len(restored) + len(left)} time(s) (overdriven: the first at "
            f"{timecode(min(restored + left)[0] / per_s)} of the lecture)")
    if not left:
        message = (f"the microphone the lecture plays ({name}) clipped {len(restored)} "
                   f"time(s), each run of {longest:g} ms or less, all restored from the "
                   "sound around them")
        return Declipped(notes=[f"{head}; each run was {longest:g} ms or shorter and is "
                                f"restored from the sound around it. {fix}"],
                         check=Check("audio.source_clipping", "S1", "pass", 0.0, 0.0, "runs",
                                     message))
    spans = [(film_start + a / per_s, film_start + b / per_s,
              f"clipped for {(b - a) / rate * 1000:.1f} ms, "
              + ("too long to restore" if b - a > declip.max_samples else
                 "amid clipping too dense to restore")) for a, b in left]
    events = merge_events(spans, gap_s=0.25, limit=50)
    message = (f"the microphone the lecture plays ({name}) clipped {len(restored) + len(left)} "
               f"time(s): {len(restored)} run(s) restored, {len(left)} left distorted (longer "
               f"than {longest:g} ms, or amid clipping too dense to restore), the first at "
               f"{timecode(spans[0][0])}; re-record these passages with the gain lower, or "
               "restore them in an audio editor")
    note = (f"{head}; {len(restored)} run(s) restored, {len(left)} left distorted (longer "
            f"than {longest:g} ms or amid clipping too dense to restore; the first at "
            f"{timecode(left[0][0] / per_s)} of the lecture: QC's audio.source_clipping lists "
            f"them). {fix}")
    return Declipped(notes=[note], check=Check("audio.source_clipping", "S1", "fail",
                                               float(len(left)), 0.0, "runs", message,
                                               events))


def _places(runs: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """(start, end) samples of the clipped runs, the channels' runs at the same place once."""
    out: list[tuple[int, int]] = []
    for a, b in sorted((a, b) for _, a, b in runs):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


#: a note lists this many stretches of a camera's black pictures, then counts the rest
MAX_LISTED_SPANS = 5


#: what a camera showed instead of pictures, as a note says it: its words, the likely causes
#: and the QC check that judges it in the film
_NO_PICTURE = {
    "black": ("its pictures are black", "a capture that lost its signal, a lens cap, a dark "
              "slide?", "the black is in the film (QC's video.black judges it)"),
    "colour bars": ("it shows colour bars", "a camera or recorder left on bars, a capture "
                    "device with no input?", "the bars are in the film (QC's "
                    "video.colour_bars fails them)"),
}


def blackouts(inputs: LectureInputs, comp: Compositor, blacked: dict[str, list[list[int]]],
              *, fps: int, kinds: dict[str, set[str]] | None = None) -> list[str]:
    """Where a camera the layout shows had no pictures (``blacked``: runs [i, j) of its
    frames; ``kinds``: what it showed instead, "black" unless said) and what the film showed
    instead (the compositor's timeline): one note per camera for the stretches another
    camera stood in, one for those none could (a cable that keeps losing the signal is one
    note, not one per dropout)."""
    out = []
    for role, runs in blacked.items():
        showed = sorted((kinds or {}).get(role) or {"black"})
        words, causes, kept_in = zip(*(_NO_PICTURE[k] for k in showed), strict=True)
        replaced: list[tuple[float, float]] = []
        kept: list[tuple[float, float]] = []
        shown_instead: set[str] = set()
        for i, j in runs:
            a, b = i / fps, j / fps
            shown = next(sc for at, sc in reversed(comp.timeline) if at <= a + 1e-9)
            if role in shown.sources:
                kept.append((a, b))
            else:
                replaced.append((a, b))
                shown_instead.add(f"{shown.layout} ({', '.join(sorted(shown.sources))} only)")
        head = f"{inputs.label} {role}: {' or '.join(words)}"
        if replaced:
            out.append(f"{head} {_stretches(replaced)} ({' '.join(causes)}): there the layout "
                       f"is {' / '.join(sorted(shown_instead))}. If that part of the {role} "
                       "matters, check the recording")
        if kept:
            out.append(f"{head} {_stretches(kept)}, and no other camera has pictures then: "
                       + "; ".join(kept_in))
    return out


def _stretches(spans: Sequence[tuple[float, float]]) -> str:
    """"from A to B of the lecture, 3 s" or "4 times, 12 s in all: A–B, …, and 1 more"."""
    if len(spans) == 1:
        (a, b), = spans
        return f"from {timecode(a)} to {timecode(b)} of the lecture, {spoken_length(b - a)}"
    listed = ", ".join(f"{timecode(a)}–{timecode(b)}" for a, b in spans[:MAX_LISTED_SPANS])
    more = (f", and {len(spans) - MAX_LISTED_SPANS} more" if len(spans) > MAX_LISTED_SPANS
            else "")
    total = sum(b - a for a, b in spans)
    return f"{len(spans)} times, {spoken_length(total)} in all: {listed}{more}"


def camera_spans(timeline: Sequence[tuple[float, Scene]], *, start_s: float, end_s: float,
                 authored: tuple[str, ...] = ()) -> tuple[CameraSpan, ...]:
    """Where each camera is in the film while the lecture runs: one span per scene the
    compositor showed (``timeline``; lecture time ``0…end_s`` starts at film time
    ``start_s``, after the intro and card). ``authored``: sources whose colours are the
    author's (a digital slides capture)."""
    starts = [min(at, end_s) for at, _ in timeline] + [end_s]
    spans = []
    for (_, sc), a, b in zip(timeline, starts, starts[1:], strict=False):
        if b > a:
            regions = {sl.source: (sl.x, sl.y, sl.w, sl.h) for sl in sc.slots}
            spans.append(CameraSpan(start_s + a, start_s + b, regions,
                                    authored=tuple(r for r in authored if r in regions)))
    return tuple(spans)


analyse_task = task(name="analyse-audio", cache_policy=NO_CACHE)(plan_audio)
render_task = task(name="render", cache_policy=NO_CACHE)(render_lecture)
