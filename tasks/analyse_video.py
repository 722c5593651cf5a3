"""Video analysis pass, before the render: what each video source needs (two-pass mastering).

Per video source, about one frame per second of the lecture span (at most
``encode.analyse_max_frames``, spread evenly) is measured: the keyframe at or before each
target time, decoded alone after a seek, when the source has keyframes often enough (a few
percent of the render's decoding work); otherwise (long-GOP screen captures) every target
frame, decoding forward (seeking over long gaps, non-reference frames skipped). Measured:

* conform facts: interlacing from the decoded frames' flags (D7, detected, never assumed), and
  from the picture: short runs of consecutive frames from up to ``COMB_WINDOWS`` keyframes,
  judged as QC's ``video.interlacing`` judges them: 50i footage captured or transcoded without
  deinterlacing shows combing in frames flagged progressive (deinterlaced all the same), and
  25p stored as 50i (PsF, as camcorders record 25p) shows none in frames flagged interlaced
  (left with its full vertical detail),
  sample aspect ratio (D5: fitted without distortion), size below 1280×720 (B2 warning);
* V3 white balance: the cast of near-neutral pixels (:func:`qc_metrics.colour.colour_cast`)
  and the R'G'B' gains that make them neutral; not for a slides stream captured digitally
  (its flat areas carry no sensor noise at all): its colours are the author's, and a cream or
  pale-blue template is not a cast;
* V3 camera match: white balance makes every camera's near-neutrals neutral; what remains
  between the teacher camera and the slides is exposure, matched by a luma gain on the teacher
  (bounded by ``encode.camera_match_max_gain``) so that the ΔE2000 of their neutral means drops
  (under ``profile.video.camera_delta_e_max`` for matched content);
* V2 noise: luma σ at source size (:func:`qc_metrics.noise.estimate_noise`); below
  ``profile.video.snr_min_db`` the render denoises the source (``encode.denoise: auto``).

The result is a small :class:`~courseware.video_chain.VideoPlan`; the render applies it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from courseware.compose import scale_frame
from courseware.media import INTERLACE_PROBE_FRAMES, open_media
from courseware.video_chain import (
    SourcePlan,
    VideoPlan,
    gain_transform,
    luma_of,
    neutral_mean,
    transform_samples,
)
from encoder_profiles import Profile
from qc_metrics.colour import Cast, colour_cast, delta_e2000, rgb_to_lab
from qc_metrics.frames import YUVFrame, as_batch, sample_planes
from qc_metrics.interlace import InterlaceDetector
from qc_metrics.noise import estimate_noise, snr_db
from tasks.probe import LectureInputs, SourceInfo, picture_ends, picture_starts
from tasks.render import main_duration

__all__ = ["SourcePlan", "VideoPlan", "analyse_video", "analyse_video_task"]

log = logging.getLogger(__name__)

#: decode forward over gaps shorter than this; seek (to the keyframe before) over longer ones
SEEK_GAP_S = 5.0
#: co-sited point samples every 2·STEP luma pixels (qc_metrics.frames.sample_planes)
STEP = 4
#: white balance is measurable when this share of the samples is near-neutral
MIN_NEUTRAL_SHARE = 0.02
#: sources whose cast is under this fraction of video.cast_max are left alone (screen captures
#: with tinted designs are not "corrected"); above it the cast is removed completely
WB_MIN_CAST_FRACTION = 0.5
#: channel gains are bounded: a larger correction means a measurement gone wrong
GAIN_LIMITS = (0.5, 2.0)

#: distinct keyframes that make a sample (casts and noise are medians over the samples)
MIN_KEYFRAMES = 5
#: a keyframe further than this before its target time does not stand for it
KEYFRAME_NEAR_S = 10.0

#: runs of consecutive frames looked at for combing (D7), each from a keyframe
COMB_WINDOWS = 16
COMB_FRAMES = 9

_FIELD_ORDER = {1: "progressive", 2: "tff", 3: "bff", 4: "tff", 5: "bff"}  # AVFieldOrder


class _Measures:
    """What the plan needs of each sampled frame: its colour cast, its luma noise and its
    co-sited point samples (a few kB). The frame itself is not kept, so memory stays small
    whatever the sources' size and the number of samples."""

    def __init__(self, profile: Profile) -> None:
        self.limits = profile.video
        self.times: list[float] = []
        self.casts: list[Cast] = []
        self.sigmas: list[float] = []
        self.cosited: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, frame: av.VideoFrame, t: float) -> None:
        lim = self.limits
        f = _frame_planes(frame)
        self.times.append(t)
        self.casts.append(colour_cast(f, luma_range=lim.luma_range,
                                      chroma_range=lim.chroma_range, step=STEP))
        self.sigmas.append(estimate_noise(f.y, luma_range=lim.luma_range, row_step=2).sigma)
        points = sample_planes(as_batch(f), STEP)
        self.cosited.append((points.y.ravel(), points.u.ravel(), points.v.ravel()))

    def __len__(self) -> int:
        return len(self.times)

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The co-sited point samples of every frame, as (Y, U, V) vectors."""
        return tuple(np.concatenate([c[i] for c in self.cosited])  # type: ignore[return-value]
                     for i in range(3))


@dataclass
class _Sampled:
    measures: _Measures
    interlaced: bool
    field_order: str | None
    sar: float


def sample_times(offset_s: float, span_s: float, *, every_s: float, max_frames: int
                 ) -> list[float]:
    """Source times to measure: one per ``every_s`` of the span (centred), at most
    ``max_frames`` spread evenly."""
    n = max(1, min(max_frames, math.floor(span_s / every_s)))
    step = span_s / n
    return [offset_s + (k + 0.5) * step for k in range(n)]


def _frame_planes(frame: av.VideoFrame) -> YUVFrame:
    """The frame as the render sees it before correction: BT.709 limited yuv420p, even size
    (views of a scaled copy)."""
    w, h = frame.width - frame.width % 2, frame.height - frame.height % 2
    scaled = scale_frame(frame, w, h)
    planes = []
    for plane in scaled.planes:
        arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        planes.append(arr[: plane.height, : plane.width])
    return YUVFrame(planes[0], planes[1], planes[2])


def _sample(src: SourceInfo, times: list[float], *, lecture: str, profile: Profile
            ) -> _Sampled:
    """Frames of ``src`` near ``times``: keyframes when the source has enough of them
    (each decoded alone after a seek, a few percent of the decoding work of the render),
    else every target frame, decoding forward from the keyframe before it."""
    return (_sample_keyframes(src, times, lecture=lecture, profile=profile)
            or _sample_forward(src, times, lecture=lecture, profile=profile))


def _sample_keyframes(src: SourceInfo, times: list[float], *, lecture: str,
                      profile: Profile) -> _Sampled | None:
    """The keyframe at or before each time, each decoded on its own (seek, one packet,
    drain). A picture anywhere near the target time represents the camera as well as the
    target frame itself: casts and noise are properties of the camera, not of the moment.
    None when fewer than ``MIN_KEYFRAMES`` distinct keyframes (or all of ``times``, when
    they are fewer) lie within ``KEYFRAME_NEAR_S`` of their targets: long-GOP sources, such
    as screen captures with one keyframe a minute, are sampled by decoding forward."""
    with open_media(src.path, lecture=lecture) as container:
        stream = container.streams.video[0]
        if not stream.time_base:
            return None
        cc = stream.codec_context
        cc.thread_type = "SLICE"        # frame threads would hold the picture back
        cc.skip_frame = "NONKEY"
        out = _Measures(profile)
        flags: list[bool] = []
        seen: set[int] = set()
        try:
            for t in times:
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
                frame = _keyframe(container, stream)
                if frame is None or frame.pts is None or frame.time is None:
                    continue
                flags.append(bool(frame.interlaced_frame))
                if frame.pts in seen or t - float(frame.time) > KEYFRAME_NEAR_S:
                    continue
                seen.add(frame.pts)
                out.add(frame, float(frame.time))
        except av.FFmpegError:
            return None                 # the forward pass reports damage with its position
        if len(out) < min(MIN_KEYFRAMES, len(times)):
            return None
        return _Sampled(out, *_stream_facts(stream, flags))


def _keyframe(container: av.container.InputContainer, stream: av.video.stream.VideoStream
              ) -> av.VideoFrame | None:
    """The first keyframe demuxed from here, decoded alone (the decoder is drained: the
    next seek resets it)."""
    for packet in container.demux(stream):
        if packet.size == 0 or not packet.is_keyframe:
            continue
        frames = stream.codec_context.decode(packet) or stream.codec_context.decode(None)
        return frames[0] if frames else None
    return None


def _stream_facts(stream: av.video.stream.VideoStream, flags: list[bool]
                  ) -> tuple[bool, str | None, float]:
    """(interlaced, field order, sample aspect ratio) from the decoded frames' flags."""
    cc = stream.codec_context
    sar_q = stream.sample_aspect_ratio or cc.sample_aspect_ratio
    sar = float(sar_q) if sar_q else 1.0
    order = _FIELD_ORDER.get(int(cc.field_order or 0))
    interlaced = any(flags)
    return interlaced, order if interlaced else "progressive", sar


def _sample_forward(src: SourceInfo, times: list[float], *, lecture: str, profile: Profile
                    ) -> _Sampled:
    with open_media(src.path, lecture=lecture) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"  # measuring needs no B-frames
        flags: list[bool] = []
        out = _Measures(profile)
        k = 0

        def decode_from(t: float) -> Iterator[av.VideoFrame]:
            if t > SEEK_GAP_S and stream.time_base:
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
            return container.decode(stream)

        frames = decode_from(times[0])
        last = -math.inf
        while k < len(times):
            frame = next(frames, None)
            if frame is None:
                break
            if len(flags) < INTERLACE_PROBE_FRAMES:
                flags.append(bool(frame.interlaced_frame))
            if frame.time is None:
                continue
            t = float(frame.time)
            last = t
            if t + 0.02 < times[k]:
                continue
            out.add(frame, t)
            while k < len(times) and times[k] <= t + 0.02:
                k += 1
            if k < len(times) and times[k] - last > SEEK_GAP_S:
                frames = decode_from(times[k])
        facts = _stream_facts(stream, flags)
    return _Sampled(out, *facts)


def _fields(src: SourceInfo, times: list[float], *, lecture: str, profile: Profile
            ) -> InterlaceDetector | None:
    """What the picture of ``src`` shows, field by field: ``COMB_FRAMES`` consecutive frames
    after the keyframe before each of up to ``COMB_WINDOWS`` of ``times``, judged as QC's
    ``video.interlacing`` judges them; None when the source cannot be read."""
    picks = times[:: max(1, math.ceil(len(times) / COMB_WINDOWS))]
    detector = InterlaceDetector(fps=float(profile.delivery.fps), profile=profile, every=1)
    seen: set[int] = set()
    with open_media(src.path, lecture=lecture) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for t in picks:
                if stream.time_base:
                    container.seek(int(t / stream.time_base), stream=stream, backward=True)
                detector.cut()
                for k, frame in enumerate(container.decode(stream)):
                    if frame.pts is None or (k == 0 and frame.pts in seen):
                        break                    # the same keyframe as an earlier window
                    seen.add(frame.pts)
                    detector.process(_frame_planes(frame), float(frame.time or 0.0))
                    if k + 1 >= COMB_FRAMES:
                        break
        except av.FFmpegError:
            return None                          # the render reports damage with its position
    return detector


def _neutral(samples: tuple[np.ndarray, np.ndarray, np.ndarray], gains: np.ndarray,
             profile: Profile) -> tuple[np.ndarray, float]:
    """Mean R'G'B' of the near-neutrals after ``gains``, and their share of the samples."""
    lim = profile.video
    m = gain_transform(gains, luma_range=lim.luma_range, chroma_range=lim.chroma_range)
    y, u, v = transform_samples(*samples, m, luma_range=lim.luma_range,
                                chroma_range=lim.chroma_range)
    rgb, count, total = neutral_mean(y, u, v, luma_range=lim.luma_range,
                                     chroma_range=lim.chroma_range)
    return rgb, count / max(total, 1)


def _white_balance(samples: tuple[np.ndarray, np.ndarray, np.ndarray], profile: Profile
                   ) -> np.ndarray | None:
    """R'G'B' gains that make the near-neutrals neutral at unchanged luma (two refinements);
    None when too few neutral pixels."""
    gains = np.ones(3)
    for _ in range(3):
        rgb, share = _neutral(samples, gains, profile)
        if share < MIN_NEUTRAL_SHARE or not np.all(rgb > 0.02):
            return None if np.all(gains == 1.0) else gains
        gains = np.clip(gains * luma_of(rgb) / rgb, *GAIN_LIMITS)
    return gains


def _lab(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb_to_lab(np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)))


def analyse_video(inputs: LectureInputs, profile: Profile) -> VideoPlan:
    """Measure every video source of a lecture over its lecture span; decide the corrections."""
    enc, lim, dl = profile.encode, profile.video, profile.delivery
    span, ends, begins = main_duration(inputs), picture_ends(inputs), picture_starts(inputs)
    warnings: list[str] = []
    found: dict[str, dict[str, object]] = {}
    samples: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    gains: dict[str, np.ndarray] = {}
    for role, src in inputs.sources.items():
        if role == "audio":
            continue
        # a camera that starts late or stops early is measured where it has pictures
        times = sample_times(src.offset_s + src.clock * begins[role],
                             max(min(span, ends[role]) - begins[role], 1.0 / dl.fps),
                             every_s=enc.analyse_every_s,
                             max_frames=enc.analyse_max_frames)
        got = _sample(src, times, lecture=inputs.label, profile=profile)
        fields = _fields(src, times, lecture=inputs.label, profile=profile)
        picture = fields.picture() if fields is not None else "unknown"
        # D7: the flags, unless the picture plainly says otherwise
        combed = (fields.field_order() if fields is not None and not got.interlaced
                  else None)
        psf = got.interlaced and picture == "progressive"
        measured = got.measures
        width, height = src.width or 0, src.height or 0
        facts: dict[str, object] = {
            "role": role, "width": width, "height": height, "sar": src.shown_sar(got.sar),
            "interlaced": (got.interlaced and not psf) or combed is not None,
            "field_order": combed or ("progressive" if psf else got.field_order),
            "combed": combed is not None, "psf": psf,
            "below_hd": width < dl.min_width or height < dl.min_height,  # B2 (render warns)
            "samples": len(measured)}
        if len(measured):
            casts = measured.casts
            a = [c.a for c in casts if c.a == c.a]
            b = [c.b for c in casts if c.b == c.b]
            if a:
                ma, mb = float(np.median(a)), float(np.median(b))
                facts.update(cast_a=ma, cast_b=mb, cast=math.hypot(ma, mb))
            finite = [s for s in measured.sigmas if s == s]
            if finite:
                sigma = float(np.median(finite))
                snr = snr_db(sigma, luma_range=lim.luma_range)
                facts.update(noise_sigma=sigma, snr_db=snr if math.isfinite(snr) else None,
                             denoise=enc.denoise == "auto" and snr < lim.snr_min_db)
            samples[role] = measured.samples()
            # a slides capture straight from the computer: flat areas without any noise
            facts["authored"] = authored = role == "slides" and facts.get("noise_sigma") == 0.0
            cast = facts.get("cast")
            g = None
            if (not authored and isinstance(cast, float)
                    and cast > WB_MIN_CAST_FRACTION * lim.cast_max):
                g = _white_balance(samples[role], profile)
                if g is None:
                    warnings.append(f"{inputs.label} {role}: colour cast {cast:.1f} but too few "
                                    "near-neutral pixels to correct it by (V3)")
            gains[role] = np.ones(3) if g is None else g
        found[role] = facts

    reference = "slides" if "slides" in samples else None
    de_before = de_after = None
    match: dict[str, np.ndarray] = {}
    if reference is not None:  # V3: other cameras matched to the slides' neutrals
        ref_rgb, ref_share = _neutral(samples[reference], gains[reference], profile)
        for role in samples:
            if role == reference:
                continue
            rgb, share = _neutral(samples[role], gains[role], profile)
            if min(share, ref_share) < MIN_NEUTRAL_SHARE:
                continue
            de_before = float(delta_e2000(_lab(rgb), _lab(ref_rgb)))
            if de_before <= lim.camera_delta_e_max / 2:
                continue
            # both cameras are white-balanced to neutral already: what remains is exposure
            k = luma_of(ref_rgb) / luma_of(rgb)
            if not 1 / enc.camera_match_max_gain <= k <= enc.camera_match_max_gain:
                warnings.append(f"{inputs.label} {role}: neutral luma differs from the slides by "
                                f"×{k:.2f} (other content, not exposure): not matched")
                continue
            rgb2, _ = _neutral(samples[role], gains[role] * k, profile)
            after = float(delta_e2000(_lab(rgb2), _lab(ref_rgb)))
            if after < de_before:  # kept only where it brings the cameras closer
                match[role], de_after = np.full(3, k), after

    plans: dict[str, SourcePlan] = {}
    for role, facts in found.items():
        wb = gains.get(role, np.ones(3))
        mg = match.get(role, np.ones(3))
        if role in samples:
            rgb, share = _neutral(samples[role], wb * mg, profile)
            if share >= MIN_NEUTRAL_SHARE:
                lab = _lab(rgb)
                facts["cast_after"] = float(math.hypot(lab[1], lab[2]))
        plans[role] = SourcePlan(
            **facts,  # type: ignore[arg-type]
            wb_gains=tuple(float(x) for x in wb),  # type: ignore[arg-type]
            match_gains=tuple(float(x) for x in mg))  # type: ignore[arg-type]
    for w in warnings:
        log.warning(w)
    return VideoPlan(sources=plans, reference=reference, camera_delta_e_before=de_before,
                     camera_delta_e_after=de_after if de_after is not None else de_before,
                     warnings=tuple(warnings))


analyse_video_task = task(name="analyse-video", cache_policy=NO_CACHE)(analyse_video)
