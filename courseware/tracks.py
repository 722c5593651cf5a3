"""A file's audio tracks, and the one to use.

Professional camcorders record each input on a track of its own (MXF, MOV: two to eight
mono tracks), and a camera or recorder may carry the lavalier on the second while the first
is silent (nothing plugged in) or holds the camera's own microphone. The readers take one
track; :func:`listen` hears every track of a file for a few minutes, spread over the file
(a lavalier switched on after the class began is heard), and :func:`best_track`
picks the one that carries the speech best: the first, unless another is clearly cleaner
(S2, by ``MICROPHONES_APART_DB``) or the first carries no speech at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from courseware.errors import CorruptMediaError
from courseware.media import open_media, origin_s
from qc_metrics.audio import (
    CLIP_LEVEL,
    CLIP_MIN_SAMPLES,
    ClippingMeter,
    estimate_speech_noise,
)
from qc_metrics.loudness import Framer

#: seconds of each track heard to choose between them (S2 needs 10 s of sound) …
LISTEN_S = 300.0
#: … in this many stretches spread over a longer file, from its start to its end
LISTEN_WINDOWS = 5
#: two microphones differ when their S2 are this far apart (a stereo pair, or one microphone
#: on two inputs, hears one room on both); the cleaner is used
MICROPHONES_APART_DB = 6.0
#: a track carries speech when P.56 finds it at least this far over the track's noise
SPEECH_OVER_NOISE_DB = 10.0
_RATE = 48000
_FRAME = 2400                     # 50 ms at _RATE: S2's frames


@dataclass(frozen=True)
class Track:
    index: int            #: among the file's audio streams (0: the first)
    level_dbfs: float     #: RMS over what was heard (−inf: digital silence)
    speech_dbfs: float    #: active-speech level, ITU-T P.56 (nan: none found)
    snr_db: float         #: S2 over the track's own pauses (nan: not measurable)
    damaged: bool = False  #: its audio could not be decoded (never chosen)
    #: S2's floor never reached (a reverberant room): ``snr_db`` is a lower bound
    unsettled: bool = False
    #: S1: runs of CLIP_MIN_SAMPLES or more of one channel's own samples at full scale
    #: (CLIP_LEVEL) in what was heard: the microphone or its recorder overdriven …
    clipped_runs: int = 0
    #: … in this many seconds heard
    heard_s: float = 0.0
    #: … or flat tops at this level (|x|) below full scale (a mixer or preamp overdriven
    #: before the recorder); None: at full scale
    clip_level: float | None = None

    @property
    def speaks(self) -> bool:
        """Speech over the track's noise: P.56 finds it ``SPEECH_OVER_NOISE_DB`` over, or
        the pauses are a room's reverberation that never settles (speech, however far)."""
        return self.snr_db >= SPEECH_OVER_NOISE_DB or (
            self.unsettled and math.isfinite(self.speech_dbfs))

    def describe(self) -> str:
        """What a person is told of the track: "track 2: speech −20.1 dBFS, 48 dB over its
        noise"."""
        if self.damaged:
            heard = "damaged, cannot be decoded"
        elif self.level_dbfs == -math.inf:
            heard = "digital silence"
        elif not self.speaks:
            heard = f"no speech (sound at {self.level_dbfs:.0f} dBFS RMS)"
        else:
            over = ("digital silence in its pauses" if self.snr_db == math.inf else
                    f"at least {self.snr_db:.0f} dB over its reverberant room"
                    if self.unsettled else f"{self.snr_db:.0f} dB over its noise")
            heard = f"speech {self.speech_dbfs:.1f} dBFS, {over}"
        return f"track {self.index + 1}: {heard}"


def listen(path: Path, *, lecture: str | None = None, seconds: float = LISTEN_S,
           windows: int = LISTEN_WINDOWS) -> list[Track]:
    """Every audio track of ``path`` (mono, 48 kHz, 50 ms frames): level, speech level and
    S2. A file longer than ``seconds`` is heard for that long in all, in ``windows``
    stretches from its start to its end (one stretch where the file cannot seek)."""
    with open_media(path, lecture=lecture) as container:
        streams = list(container.streams.audio)
        if not streams:
            return []
        ids = [s.index for s in streams]      # the file's stream numbers
        power: dict[int, list[np.ndarray]] = {i: [] for i in ids}
        energy = {i: 0.0 for i in ids}
        count = {i: 0 for i in ids}
        clips = {i: ClippingMeter(sample_rate=_RATE, level=CLIP_LEVEL,
                                  min_samples=CLIP_MIN_SAMPLES, keep=0) for i in ids}
        recorded = dict.fromkeys(ids, 0)
        broken: set[int] = set()
        length = container.duration / 1_000_000 if container.duration else 0.0
        starts = ([0.0] if length <= seconds or windows < 2 else
                  [k * (length - seconds / windows) / (windows - 1) for k in range(windows)])
        try:
            for k, at in enumerate(starts):
                if k:
                    try:
                        container.seek(round((at + origin_s(container)) * 1_000_000))
                    except av.FFmpegError:
                        break
                _hear(container, streams, seconds / len(starts), power=power, energy=energy,
                      count=count, broken=broken, clips=clips, recorded=recorded)
                for i in ids:   # a sample apart: no run joins the next stretch's first
                    recorded[i] += 1
        except av.FFmpegError as exc:
            where = f"{path}" + (f" (lecture {lecture})" if lecture else "")
            raise CorruptMediaError(f"{where}: audio cannot be decoded ({exc}); re-export or "
                                    "re-upload the file") from exc
    tracks = []
    for k, i in enumerate(ids):
        rms = math.sqrt(energy[i] / count[i]) if count[i] else 0.0
        p = np.concatenate(power[i]) if power[i] else np.zeros(0)
        est = estimate_speech_noise(p)
        clip = clips[i].finish()
        tracks.append(Track(k, 20.0 * math.log10(rms) if rms > 0 else -math.inf,
                            est.speech_dbfs, math.nan if i in broken else est.snr_db,
                            damaged=i in broken, unsettled=est.floor == "unsettled",
                            clipped_runs=clip.runs or clip.ceiling_runs,
                            heard_s=count[i] / _RATE,
                            clip_level=None if clip.runs else clip.ceiling))
    return tracks


def _hear(container: av.container.InputContainer, streams: list[av.audio.AudioStream],
          seconds: float, *, power: dict[int, list[np.ndarray]], energy: dict[int, float],
          count: dict[int, int], broken: set[int],
          clips: dict[int, ClippingMeter], recorded: dict[int, int]) -> None:
    """``seconds`` of every track from where the container stands: each 50-ms frame's power,
    the energy and the samples heard added to the track's (by stream number), and its
    channels' own samples to its ``clips`` (``recorded``: how many it had); a track that
    cannot be decoded is ``broken``."""
    ids = [s.index for s in streams]
    resamplers = {i: av.AudioResampler(format="flt", layout="mono", rate=_RATE) for i in ids}
    as_recorded = {i: av.AudioResampler(format="fltp") for i in ids}  # its own samples
    framers = {i: Framer(_FRAME) for i in ids}
    heard = dict.fromkeys(ids, 0)
    want = round(seconds * _RATE)
    for packet in container.demux(*streams):
        i = packet.stream_index
        if i not in heard:            # demux ends with an empty packet of every stream
            continue
        if heard[i] >= want:
            if all(heard[k] >= want for k in ids if k not in broken):
                return
            continue
        if i in broken:
            continue
        try:
            frames = packet.decode()
        except av.FFmpegError:        # this track is damaged: it is never chosen
            broken.add(i)
            continue
        for frame in frames:
            assert isinstance(frame, av.AudioFrame)
            for own in as_recorded[i].resample(frame):
                clips[i].push(own.to_ndarray(), recorded[i])
                recorded[i] += own.samples
            for block in resamplers[i].resample(frame):
                f = framers[i].push(block.to_ndarray().reshape(1, -1))[0]
                f = f.astype(np.float64)                  # (m, 50 ms)
                power[i].append(f.var(axis=1))
                energy[i] += float((f * f).sum())
                heard[i] += f.size
                count[i] += f.size


def backup_track(tracks: list[Track], chosen: int) -> int | None:
    """Another track that carries the speech (the cleanest), to play where the chosen one
    drops out; None when there is none."""
    others = [t for t in tracks if t.index != chosen and t.speaks]
    return max(others, key=lambda t: t.snr_db).index if others else None


def best_track(tracks: list[Track]) -> int:
    """The track to use: the first, unless it carries no speech and another does, or another
    is ``MICROPHONES_APART_DB`` cleaner (S2); of those, the cleanest."""
    if not tracks:
        return 0
    speaking = [t for t in tracks if t.speaks]
    if not speaking:
        return 0
    best = max(speaking, key=lambda t: t.snr_db)
    first = tracks[0]
    if first.speaks and not best.snr_db - first.snr_db >= MICROPHONES_APART_DB:
        return 0
    return best.index
