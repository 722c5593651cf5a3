"""Find each source's start offset from its audio, so the cameras play in step (V1, S3).

The master microphone is the reference; every other source with audio is correlated
against it: their first two minutes, and where those do not match (sources switched on
minutes apart), each one's start within the other's first half hour. Offsets given in the
course file win over the measurement. A separate sound recorder is also measured against
the teacher camera at the end of the lecture: its clock drift (SourceInfo.clock) is
resampled away where it is read (courseware.media.AudioFeed).
"""

from __future__ import annotations

import itertools
import logging

import av
import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from scipy.signal import resample_poly

from courseware.errors import CorruptMediaError
from courseware.media import open_media, timed_audio
from qc_metrics.sync import OffsetEstimate, estimate_offset
from tasks.probe import LectureInputs, SourceInfo
from tasks.render import master_audio

SYNC_RATE = 8000  # Hz: plenty for ±1 frame (40 ms) and light to correlate
MIN_CONFIDENCE = 8.0
#: a peak this clear is the match; one between MIN_CONFIDENCE and this must be found again
#: in two of the quarters of the sound the sources hold in common there (two windows that
#: share no sound can peak at 8–13 by chance; speech that matches peaks in the hundreds;
#: a quarter may hold only the room's silence before the class) …
CERTAIN_CONFIDENCE = 100.0
#: … at the same offset within a frame, each quarter at least this long
CONFIRM_S = 0.04
CONFIRM_MIN_S = 5.0
CONFIRM_PIECES, CONFIRM_AGREE = 4, 2
#: sources switched on up to this far apart are found (a camera started minutes late, a
#: recorder minutes early): each one's first window is looked for in the other's first
#: LATE_SEARCH_S, when the first windows do not match …
LATE_SEARCH_S = 1800.0
#: … at this rate first (the speech's low band tells where), then at SYNC_RATE there
COARSE_RATE = 1000


def _mono(src: SourceInfo, *, seconds: float, lecture: str, start_s: float = 0.0
          ) -> np.ndarray:
    """``seconds`` of the source's sound (its chosen track) from ``start_s``, mono at
    SYNC_RATE."""
    path = src.path
    out: list[np.ndarray] = []
    want = int(seconds * SYNC_RATE)
    with open_media(path, lecture=lecture) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SYNC_RATE)
        got = 0
        try:   # on the file's own timeline, as the render reads it (media.AudioFeed)
            for chunk in timed_audio(container, container.streams.audio[src.audio_stream],
                                     resampler, SYNC_RATE, start_s=start_s):
                block = chunk.reshape(-1)
                out.append(block)
                got += block.shape[0]
                if got >= want:
                    break
        except av.FFmpegError as exc:
            raise CorruptMediaError(f"{path} (lecture {lecture}): audio cannot be decoded "
                                    f"({exc}); re-export or re-upload the file") from exc
    return np.concatenate(out)[:want] if out else np.zeros(0, np.float32)


def sync_sources(inputs: LectureInputs, *, window_s: float = 120.0,
                 max_lag_s: float = 30.0) -> LectureInputs:
    """``inputs`` with measured offsets (source time at lecture t = 0), all ≥ 0, and in
    ``notes`` what a person should know (a source that matched nothing, a recorder's drift
    that could not be measured).

    Only the first ``window_s`` seconds are read: enough speech to match on (up to
    ``LATE_SEARCH_S`` where sources were switched on further apart).
    """
    try:
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] = get_run_logger()
    except MissingContextError:  # called outside a flow (benchmarks, scripts)
        log = logging.getLogger(__name__)
    ref = master_audio(inputs)
    if ref is None:
        return inputs
    reference = _mono(ref, seconds=window_s, lecture=inputs.label)
    offsets = {ref.role: 0.0}
    notes: list[str] = []
    for role, src in inputs.sources.items():
        if role == ref.role or not src.has_audio:
            continue
        other = _mono(src, seconds=window_s, lecture=inputs.label)
        if other.size < SYNC_RATE or reference.size < SYNC_RATE:
            continue
        near = estimate_offset(reference, other, rate=SYNC_RATE, max_lag_s=max_lag_s)
        est = (near if _confirmed(reference, other, near)
               else _far_offset(ref, src, reference=reference, other=other,
                                window_s=window_s, lecture=inputs.label))
        if est is None:
            notes.append(f"{inputs.label} {role}: its sound does not match the {ref.role}'s "
                         f"(looked for up to {LATE_SEARCH_S / 60:.0f} min apart; the best "
                         f"near match {near.confidence:.1f}): it is played from its start "
                         "as the others are, maybe out of step; if it is, set "
                         f"sources.offsets.{role} in the course file")
            log.warning(notes[-1])
            continue
        # the same sound is at t_ref = t_src + lag: source time = reference time − lag
        offsets[role] = -est.lag_s
        log.info("lecture %s: %s is %+.3f s against %s (confidence %.0f)",
                 inputs.label, role, -est.lag_s, ref.role, est.confidence)
    if len(offsets) == 1:
        return inputs.model_copy(update={"notes": inputs.notes + tuple(notes)})
    drift = _recorder_drift(inputs, ref, offsets, window_s=window_s, log=log, notes=notes)
    # source time at reference time 0; shift so that every source has started at t = 0
    shift = max(0.0, *(-off for off in offsets.values()))
    sources = {role: src.model_copy(update={"offset_s": offsets[role] + shift,
                                            "matched": role != ref.role})
               if role in offsets else src for role, src in inputs.sources.items()}
    if drift is not None:
        # the lecture runs on the cameras' clock: the recorder is read at its own rate, from
        # where its clock stood when the teacher camera's stood at its offset
        rate, anchor = drift
        sources[ref.role] = sources[ref.role].model_copy(update={
            "offset_s": (shift + rate * anchor) / (1.0 + rate), "clock": 1.0 / (1.0 + rate)})
    return inputs.model_copy(update={"sources": sources, "notes": inputs.notes + tuple(notes)})


def _confirmed(a: np.ndarray, b: np.ndarray, est: OffsetEstimate) -> bool:
    """``est`` (of ``estimate_offset(a, b)``) is the match: its peak is clear
    (``CERTAIN_CONFIDENCE``), or over ``MIN_CONFIDENCE`` and found again, within
    ``CONFIRM_S``, in ``CONFIRM_AGREE`` of the ``CONFIRM_PIECES`` pieces of the sound the two
    hold in common at that offset (a peak by chance is not where two pieces put it; a
    stretch in common too short for two pieces confirms nothing)."""
    if est.confidence >= CERTAIN_CONFIDENCE:
        return True
    if est.confidence < MIN_CONFIDENCE:
        return False
    lag = round(est.lag_s * SYNC_RATE)              # a[k] holds the sound of b[k - lag]
    start, stop = max(0, lag), min(a.size, lag + b.size)
    pieces = min(CONFIRM_PIECES, int((stop - start) // (CONFIRM_MIN_S * SYNC_RATE)))
    if pieces < CONFIRM_AGREE:
        return False
    edges = np.linspace(start, stop, pieces + 1).astype(int)
    agree = 0
    for lo, hi in itertools.pairwise(edges):
        check = estimate_offset(a[lo:hi], b[lo - lag: hi - lag], rate=SYNC_RATE,
                                max_lag_s=1.0)
        agree += check.confidence >= MIN_CONFIDENCE and abs(check.lag_s) <= CONFIRM_S
    return agree >= CONFIRM_AGREE


def _far_offset(ref: SourceInfo, src: SourceInfo, *, reference: np.ndarray,
                other: np.ndarray, window_s: float, lecture: str) -> OffsetEstimate | None:
    """The lag between two sources switched on further apart than their first windows
    reach (as ``estimate_offset``'s: the same sound at t_ref = t_src + lag): the source's
    first window looked for in the reference's first ``LATE_SEARCH_S``, and the reference's
    in the source's, at ``COARSE_RATE``, then measured at ``SYNC_RATE`` where it was found.
    The better match of the two that is confirmed (``_confirmed``); None where neither is
    found."""
    best: OffsetEstimate | None = None
    for longer_src, short, sign in ((ref, other, 1.0), (src, reference, -1.0)):
        longer = _mono(longer_src, seconds=LATE_SEARCH_S, lecture=lecture)
        if longer.size <= short.size + SYNC_RATE:      # no longer than the first window
            continue
        down = SYNC_RATE // COARSE_RATE
        coarse = estimate_offset(resample_poly(longer, 1, down), resample_poly(short, 1, down),
                                 rate=COARSE_RATE, max_lag_s=LATE_SEARCH_S)
        if coarse.confidence < MIN_CONFIDENCE or coarse.lag_s < 0:
            continue
        at = max(0.0, coarse.lag_s - 2.0)             # the short window lies from here on
        piece = longer[round(at * SYNC_RATE): round((at + window_s + 4.0) * SYNC_RATE)]
        fine = estimate_offset(piece, short, rate=SYNC_RATE, max_lag_s=6.0)
        found = OffsetEstimate(lag_s=sign * (at + fine.lag_s), confidence=fine.confidence)
        if (best is None or found.confidence > best.confidence) and _confirmed(
                piece, short, fine):
            best = found
    return best


#: a separate recorder drifting by less than this over the lecture is left as it is
DRIFT_MIN_S = 0.005
#: more than this (0.1 %) is not a clock: a wrong match, or a recording played at a speed
DRIFT_MAX = 1e-3


def _recorder_drift(inputs: LectureInputs, ref: SourceInfo, offsets: dict[str, float], *,
                    window_s: float,
                    log: logging.Logger | logging.LoggerAdapter[logging.Logger],
                    notes: list[str]) -> tuple[float, float] | None:
    """How a separate sound recorder's clock runs against the teacher camera's: ``rate``,
    the camera's seconds gained per second of the recorder, and ``anchor``, the recorder
    time at which the start offset holds (camera time = recorder time + offset + rate ·
    (recorder time − anchor)); None: no recorder, or no drift worth correcting. Two clocks
    drift apart by tens of parts per million: 0.1-0.4 s over an hour, far outside S3.
    Measured as the offset to the camera's own sound again over the last ``window_s`` of
    the lecture; it needs three windows of lecture."""
    cam = inputs.sources.get("teacher")
    if ref.role != "audio" or cam is None or "teacher" not in offsets:
        return None
    start = offsets["teacher"]                 # camera time = recorder time + start
    span = min(ref.duration_s, cam.duration_s - start) - window_s
    if span < 2 * window_s:
        return None
    # the start offset holds in the middle of what the first windows share (recorder time);
    # sources switched on minutes apart share none: it was measured on the later one's
    lo, hi = max(0.0, -start), min(window_s, window_s - start)
    anchor = (lo + hi) / 2.0 if hi > lo else lo + window_s / 2.0
    late = estimate_offset(_mono(ref, seconds=window_s, lecture=inputs.label,
                                 start_s=span),
                           _mono(cam, seconds=window_s, lecture=inputs.label,
                                 start_s=span + start),
                           rate=SYNC_RATE, max_lag_s=1.0)
    if late.confidence < MIN_CONFIDENCE:
        notes.append(f"{inputs.label} audio: the end of its sound does not match the teacher "
                     f"camera's (confidence {late.confidence:.1f}): the recorder's clock drift "
                     "is not measured (over an hour it may put the sound 0.1–0.4 s out of "
                     "step by the end)")
        log.warning(notes[-1])
        return None
    drift = -late.lag_s                        # camera ahead of the recorder by this more
    rate = drift / (span + window_s / 2.0 - anchor)   # between the two windows' middles
    if abs(drift) < DRIFT_MIN_S:
        return None
    if abs(rate) > DRIFT_MAX:
        notes.append(f"{inputs.label} audio: it and the teacher camera drift apart by "
                     f"{rate * 1e6:.0f} ppm: not a clock's drift; check the recording speed. "
                     "Not corrected")
        log.warning(notes[-1])
        return None
    log.info("lecture %s: the audio recorder's clock runs %+.0f ppm against the teacher "
             "camera (%+.3f s over %.0f s): resampled to keep it in step", inputs.label,
             -rate * 1e6, drift, span)
    return rate, anchor


sync_task = task(name="sync", cache_policy=NO_CACHE)(sync_sources)
