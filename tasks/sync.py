"""Find each source's start offset from its audio, so the cameras play in step (V1, S3).

The master microphone is the reference; every other source with audio is correlated
against it. Offsets given in the course file win over the measurement.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from courseware.errors import CorruptMediaError
from courseware.media import open_media, timed_audio
from qc_metrics.sync import estimate_offset
from tasks.probe import LectureInputs
from tasks.render import master_audio

SYNC_RATE = 8000  # Hz: plenty for ±1 frame (40 ms) and light to correlate
MIN_CONFIDENCE = 8.0


def _mono(path: Path, *, seconds: float, lecture: str) -> np.ndarray:
    out: list[np.ndarray] = []
    want = int(seconds * SYNC_RATE)
    with open_media(path, lecture=lecture) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SYNC_RATE)
        got = 0
        try:   # on the file's own timeline, as the render reads it (media.AudioFeed)
            for chunk in timed_audio(container, container.streams.audio[0], resampler,
                                     SYNC_RATE):
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
    """``inputs`` with measured offsets (source time at lecture t = 0), all ≥ 0.

    Only the first ``window_s`` seconds are read: enough speech to match on.
    """
    try:
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] = get_run_logger()
    except MissingContextError:  # called outside a flow (benchmarks, scripts)
        log = logging.getLogger(__name__)
    ref = master_audio(inputs)
    if ref is None:
        return inputs
    reference = _mono(ref.path, seconds=window_s, lecture=inputs.label)
    offsets = {ref.role: 0.0}
    for role, src in inputs.sources.items():
        if role == ref.role or not src.has_audio:
            continue
        other = _mono(src.path, seconds=window_s, lecture=inputs.label)
        if other.size < SYNC_RATE or reference.size < SYNC_RATE:
            continue
        est = estimate_offset(reference, other, rate=SYNC_RATE, max_lag_s=max_lag_s)
        if est.confidence < MIN_CONFIDENCE:
            log.warning("lecture %s: %s audio does not match %s (confidence %.1f); "
                        "keeping offset 0: set sources.offsets in the course file",
                        inputs.label, role, ref.role, est.confidence)
            continue
        # the same sound is at t_ref = t_src + lag: source time = reference time − lag
        offsets[role] = -est.lag_s
        log.info("lecture %s: %s is %+.3f s against %s (confidence %.0f)",
                 inputs.label, role, -est.lag_s, ref.role, est.confidence)
    if len(offsets) == 1:
        return inputs
    # source time at reference time 0; shift so that every source has started at t = 0
    shift = max(0.0, *(-off for off in offsets.values()))
    sources = {role: src.model_copy(update={"offset_s": offsets[role] + shift})
               if role in offsets else src for role, src in inputs.sources.items()}
    return inputs.model_copy(update={"sources": sources})


sync_task = task(name="sync", cache_policy=NO_CACHE)(sync_sources)
