"""Audio QC (clauses S1–S4) over one stream of sample blocks, streaming.

Blocks are float samples shaped (channels, n) (1-D: mono) at a known rate, full scale ±1.0,
on NumPy or CuPy; ``process(block, t)`` takes them in order, ``t`` the time of the first
sample of the first block. All filtering runs hop by hop on the block's backend (see
:class:`qc_metrics.loudness.FilterBank`); only small per-block summaries reach the host
(one float per 100 ms for loudness, one per 50 ms for SNR, a few averaged spectra for hum).

=======================  ======  ========================================  =================
check id                 clause  method                                    measured
=======================  ======  ========================================  =================
``audio.peak``           S1      BS.1770-4 Annex 2 true peak (4×)          true peak dBFS
``audio.clipping``       S1      runs of samples at full scale, or flat    clipping runs
                                 tops at one level below it
``audio.snr``            S2      active-speech level / pause noise floor   dB
``audio.hum``            S3      mains lines in the averaged spectrum      prominence dB
``audio.volume_swings``  S4      speech short-term loudness vs its minute  largest swing LU
``audio.loudness``       (S4)    BS.1770-4 integrated (informational)      LUFS
``audio.phase``          D9      channel correlation (FFmpeg aphasemeter)  correlation
``audio.dc_offset``      S1      mean of each channel (FFmpeg astats)      worst dBFS
``audio.dropouts``       S4      sound under the noise floor amid speech   dropouts
                                 (FFmpeg silencedetect's per-sample rule)
``audio.silence``        S4      ≥ 10 s at or under −60 dBFS               longest s
                                 (FFmpeg silencedetect's rule)
``audio.music_bed``      S4      tonal, moving sound in the speech pauses  speech − music dB
``audio.tones``          S4      one spectral peak holding the sound       seconds of tone
                                 (a test tone, acoustic feedback)
=======================  ======  ========================================  =================

Regulation numbers (peak window, SNR minimum, mains frequency) come from the profile;
the detection settings below (what counts as clipping, as standing out, as a swing) are
keyword arguments of :class:`AudioQC` with documented defaults.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from courseware.report import Check, Event
from qc_metrics.detector import Detector
from qc_metrics.frames import runs as flag_runs
from qc_metrics.frames import timecode
from qc_metrics.loudness import (
    LOUDNESS_OFFSET,
    LRA_RELATIVE_GATE_LU,
    MOMENTARY_STEPS,
    STEP_S,
    FilterBank,
    Framer,
    Hop,
    Loudness,
    LoudnessMeter,
    amplitude_db,
    as_block,
    energies_to_lufs,
    measure_loudness,
    power_db,
)
from qc_metrics.xp import array_namespace, backend_name, to_host

if TYPE_CHECKING:  # only ``profile.audio`` is read; metrics need not import pydantic
    from encoder_profiles import Profile

__all__ = [
    "ANTI_PHASE", "CLIP_LEVEL", "CLIP_MIN_SAMPLES", "DC_OFFSET_DBFS", "DEAD_CHANNEL_DB",
    "SILENCE_DBFS", "SILENCE_FAIL_S", "SILENCE_WARN_S", "AudioQC", "Clipping", "ClippingMeter",
    "Dropout", "DropoutMeter", "Dropouts",
    "Hum", "HumLine", "HumMeter", "Loudness", "MusicBed", "MusicMeter", "MusicSpan",
    "RunTracker", "SpeechNoise", "SpeechNoiseMeter", "Swing",
    "estimate_speech_noise", "hum_lines", "live_channel", "measure_clipping", "measure_hum",
    "measure_loudness", "measure_speech_noise", "merge_events", "mono_loss_db", "volume_swings",
]

#: frames quieter than this carry no recording noise (digital silence), −120 dBFS
_SILENCE_POWER = 1e-12
#: S1 clipping: a run of this many consecutive samples of one channel at |x| ≥ CLIP_LEVEL
#: (0.999 ≈ −0.009 dBFS; 3 samples as Audacity's Find Clipping)
CLIP_LEVEL = 0.999
CLIP_MIN_SAMPLES = 3
#: S1 clipping below full scale (a mixer or preamp overdriven before a recorder that kept the
#: level down): flat tops entered steeply. A run of ``CLIP_MIN_SAMPLES`` identical samples or
#: more at |x| ≥ ``FLAT_FLOOR`` whose first sample lies at least ``FLAT_STEP`` from the one
#: before it (a natural peak of a low tone creeps to its top by a code or two a sample); at
#: one level (± ``FLAT_LEVEL_TOLERANCE``), ``FLAT_MIN_RUNS`` of them or more are a ceiling
FLAT_FLOOR = 0.1                 # −20 dBFS
FLAT_STEP = 0.002                # ≈ 66 codes of 16 bits
FLAT_LEVEL_TOLERANCE = 1e-4      # ≈ 3 codes of 16 bits: +32767 and −32768 are one ceiling
FLAT_MIN_RUNS = 10

# ------------------------------------------------------------------------------ runs / events


@dataclass(frozen=True)
class Run:
    start: int    #: first sample (global index)
    end: int      #: one past the last sample
    peak: float   #: largest value inside the run


class RunTracker:
    """Runs of true flags in a 1-D stream that arrives in pieces; runs closer than ``gap``
    samples are merged. Only run edges leave the backend, never the whole mask."""

    def __init__(self, *, gap: int = 0) -> None:
        self.gap = int(gap)
        self._open: Run | None = None

    def push(self, mask: Any, values: Any, offset: int) -> list[Run]:
        """Runs finished by this piece; ``offset`` is the global index of ``mask[0]``."""
        xp = array_namespace(mask)
        done: list[Run] = []
        if mask.shape[0] and bool(xp.any(mask)):
            m = mask.astype(xp.int8)
            d = xp.diff(xp.concatenate([xp.zeros(1, dtype=xp.int8), m,
                                        xp.zeros(1, dtype=xp.int8)]))
            starts = to_host(xp.nonzero(d == 1)[0])
            ends = to_host(xp.nonzero(d == -1)[0])
            breaks = np.nonzero(starts[1:] - ends[:-1] > self.gap)[0]
            for s, e in zip(np.r_[starts[:1], starts[breaks + 1]], np.r_[ends[breaks], ends[-1:]],
                            strict=True):
                run = Run(offset + int(s), offset + int(e), float(xp.max(values[int(s):int(e)])))
                if self._open is not None and run.start - self._open.end <= self.gap:
                    run = Run(self._open.start, run.end, max(self._open.peak, run.peak))
                elif self._open is not None:
                    done.append(self._open)
                self._open = run
        end = offset + mask.shape[0]
        if self._open is not None and end - self._open.end > self.gap:
            done.append(self._open)
            self._open = None
        return done

    def finish(self) -> list[Run]:
        done = [self._open] if self._open is not None else []
        self._open = None
        return done


def merge_events(spans: Sequence[tuple[float, float, str]], *, gap_s: float,
                  limit: int) -> tuple[Event, ...]:
    """Events from (start_s, end_s, detail) spans in time order, joining those closer than
    ``gap_s`` (the first detail is kept, with a count), at most ``limit`` of them."""
    merged: list[list[Any]] = []
    for start, end, detail in sorted(spans):
        if merged and start - merged[-1][1] <= gap_s:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][3] += 1
        else:
            merged.append([start, end, detail, 1])
    return tuple(Event(start_s=s, end_s=e, detail=d if n == 1 else f"{d} (+{n - 1} more)")
                 for s, e, d, n in merged[:limit])


# ------------------------------------------------------------------------------ S1 clipping


@dataclass(frozen=True)
class Clipping:
    runs: int               #: runs of ≥ min_samples consecutive samples at/near full scale
    clipped_samples: int    #: samples inside those runs, all channels
    spans: tuple[tuple[float, float, int], ...]  #: (start_s, end_s, channel) of the first runs
    #: clipping below full scale: the ceiling (|x|), how many flat tops reached it steeply and
    #: (start_s, channel) of the first of them; None when none stands out
    ceiling: float | None = None
    ceiling_runs: int = 0
    ceiling_at: tuple[tuple[float, int], ...] = ()


class ClippingMeter:
    """S1 "no obvious distortion": runs of consecutive samples at or above ``level`` (|x|) in
    one channel, at least ``min_samples`` long (Audacity's "Find Clipping" rule)."""

    def __init__(self, *, sample_rate: float, level: float, min_samples: int,
                 keep: int = 1000) -> None:
        self.sample_rate = float(sample_rate)
        self.level = float(level)
        self.min_samples = int(min_samples)
        self.keep = keep
        self._trackers: list[RunTracker] = []
        self.runs = 0
        self.samples = 0
        self.spans: list[tuple[float, float, int]] = []
        self._tail: Any = None          # the last samples of the stream, for flat tops
        self._flat: dict[float, list[Any]] = {}   # |level| → [count, first (start, channel)s]

    def consume(self, hop: Hop) -> None:
        self.push(hop.raw, hop.start)

    def push(self, raw: Any, start: int) -> None:
        """Samples (channels, n) as recorded; ``start``: the stream's index of the first."""
        xp = array_namespace(raw)
        if not self._trackers:
            self._trackers = [RunTracker(gap=0) for _ in range(raw.shape[0])]
        a = xp.abs(raw)
        mask = a >= self.level
        for c, tracker in enumerate(self._trackers):
            self._count(c, tracker.push(mask[c], a[c], start))
        self._flat_tops(raw, start)

    def _flat_tops(self, raw: Any, start: int) -> None:
        """Runs of identical samples entered steeply (see ``FLAT_STEP``), by level. A run
        starting at j needs samples j − 1 … j + 2: each start is judged once, in the piece
        that holds its sample j + 2."""
        xp = array_namespace(raw)
        n = self.min_samples
        full = raw if self._tail is None else xp.concatenate([self._tail, raw], axis=1)
        kept = 0 if self._tail is None else self._tail.shape[1]
        self._tail = full[:, -n:]
        if full.shape[1] < n + 1:
            return
        head = full[:, 1:full.shape[1] - n + 1]          # candidate starts j ≥ 1
        flat = xp.abs(head) >= FLAT_FLOOR
        for k in range(1, n):
            flat &= full[:, 1 + k:full.shape[1] - n + 1 + k] == head
        flat &= xp.abs(head - full[:, :full.shape[1] - n]) >= FLAT_STEP
        first = max(0, kept - n)          # starts whose sample j + n − 1 is new
        if first:
            flat[:, :first] = False
        if not bool(xp.any(flat)):
            return
        channels, where = (to_host(i) for i in xp.nonzero(flat))
        levels, which, counts = np.unique(to_host(xp.abs(head[flat])), return_inverse=True,
                                          return_counts=True)
        for u, (level, count) in enumerate(zip(levels, counts, strict=True)):
            entry = self._flat.setdefault(float(level), [0, []])
            entry[0] += int(count)
            room = self.keep - len(entry[1])
            if room > 0:
                entry[1] += [((start - kept + 1 + int(where[i])) / self.sample_rate,
                              int(channels[i])) for i in np.nonzero(which == u)[0][:room]]

    def _ceiling(self) -> tuple[float, int, tuple[tuple[float, int], ...]] | None:
        """The level most flat tops reached (levels within ``FLAT_LEVEL_TOLERANCE`` together),
        when they are ``FLAT_MIN_RUNS`` or more."""
        groups: list[list[Any]] = []
        for level in sorted(self._flat):
            count, at = self._flat[level]
            if groups and level - groups[-1][0] <= FLAT_LEVEL_TOLERANCE:
                groups[-1][1] += count
                groups[-1][2] += at
            else:
                groups.append([level, count, list(at)])
        best = max(groups, key=lambda g: g[1], default=None)
        if best is None or best[1] < FLAT_MIN_RUNS:
            return None
        return best[0], best[1], tuple(sorted(best[2])[: self.keep])

    def finish(self) -> Clipping:
        for c, tracker in enumerate(self._trackers):
            self._count(c, tracker.finish())
        ceiling = self._ceiling()
        if ceiling is None or ceiling[0] >= self.level:      # full scale: the runs say it
            return Clipping(runs=self.runs, clipped_samples=self.samples,
                            spans=tuple(self.spans))
        return Clipping(runs=self.runs, clipped_samples=self.samples, spans=tuple(self.spans),
                        ceiling=ceiling[0], ceiling_runs=ceiling[1], ceiling_at=ceiling[2])

    def _count(self, channel: int, runs: list[Run]) -> None:
        for r in runs:
            if r.end - r.start >= self.min_samples:
                self.runs += 1
                self.samples += r.end - r.start
                if len(self.spans) < self.keep:
                    self.spans.append((r.start / self.sample_rate, r.end / self.sample_rate,
                                       channel))


def measure_clipping(samples: Any, *, sample_rate: float, level: float = CLIP_LEVEL,
                     min_samples: int = CLIP_MIN_SAMPLES) -> Clipping:
    """Clipping runs of a whole signal (channels, n); times from its first sample."""
    bank = FilterBank(sample_rate=sample_rate)
    meter = ClippingMeter(sample_rate=sample_rate, level=level, min_samples=min_samples)
    for hop in [*bank.push(samples), *bank.flush()]:
        meter.consume(hop)
    return meter.finish()


# ------------------------------------------------------------------------------ S2 SNR


@dataclass(frozen=True)
class SpeechNoise:
    """S2: active-speech level over the noise floor in the pauses (powers as dBFS, RMS)."""

    speech_dbfs: float   #: active-speech level, noise power removed (ITU-T P.56 style)
    noise_dbfs: float    #: the room's noise floor in the pauses (see ``floor``)
    snr_db: float        #: speech − noise; inf: the pauses are digital silence; nan: no speech
    active_share: float  #: share of frames counted as active speech
    frames: int          #: 50 ms frames above digital silence
    #: how the floor was found: "quiet", the quietest tenth of the frames; "steady", the
    #: level at which the pauses settle, well under the quietest tenth (the short pauses
    #: are filled by the room's reverberation, still dying away); "unsettled", the pauses
    #: never settle and fall on past the quietest tenth: the floor is not reached there and
    #: ``snr_db`` is a lower bound
    floor: str = "quiet"
    steady_s: float = 0.0   #: seconds of steady pause (the room heard on its own)


#: ITU-T P.56 (method B): speech is active within 15.9 dB of the active level
P56_MARGIN_DB = 15.9
#: S2 needs 10 s of sound (50 ms frames): 20 frames or more in the quietest tenth, the
#: pauses; in less, the tenth is the quiet ends of syllables, not the room
SNR_MIN_FRAMES = 200
#: a pause frame is steady when it and the STEADY_LOOK frames before it (200 ms) are all
#: pauses and it lies within STEADY_FALL_DB of the first of them: not rising into the next
#: words, and falling slower than 15 dB/s, where a room's reverberation falls 60 dB in its
#: RT60 (a classroom's 0.5–1 s: 60–120 dB/s; 15 dB/s is a 4 s hall)
STEADY_LOOK = 4
STEADY_FALL_DB = 3.0
#: the floor is taken where the pauses settle when there is half a second of steady pause
#: and it lies this far under the quietest tenth
STEADY_MIN_FRAMES = 10
STEADY_UNDER_DB = 3.0
#: without half a second of steady pause, the quietest hundredth of the frames this far under
#: the quietest tenth: the longer pauses go on falling (a steady room floor holds the two
#: within a few dB): the floor is not reached
UNSETTLED_SPREAD_DB = 10.0


def estimate_speech_noise(frame_power: Any, *, noise_percentile: float = 10.0,
                          margin_db: float = P56_MARGIN_DB) -> SpeechNoise:
    """S2 from the powers (mean square, DC removed) of consecutive 50 ms frames.

    Noise floor: the ``noise_percentile`` of the frame powers: frames in the pauses between
    words and sentences, which in lecture speech are well over a tenth of the time. In a
    reverberant room the short pauses are filled by the reverberation, still dying away
    when the next words begin, and the quietest tenth is that decay, not the room: the
    floor is then the median of the steady pause frames (``STEADY_*``: half a second or more
    of pause that has stopped falling), where it lies under the quietest tenth. Where the
    pauses never settle (not half a second of them steady, and the longest go on falling),
    the floor is not reached and the SNR is a lower bound (``floor`` "unsettled").
    Speech: the mean power of the active frames minus the noise power, where a frame is
    active above (speech level − ``margin_db``), iterated to a fixed point as in ITU-T P.56,
    and never below 3 dB over the noise floor.
    """
    q = np.asarray(frame_power, dtype=np.float64)
    silent = q <= _SILENCE_POWER
    p = q[~silent]
    nan = math.nan
    if p.size < SNR_MIN_FRAMES:
        return SpeechNoise(nan, nan, nan, 0.0, int(p.size))
    # frames of digital silence (an inserted card, a noise gate) have no recording noise to
    # measure and are left out, unless they are the pauses themselves: then the floor is 0
    noise = 0.0 if 100.0 * silent.mean() >= noise_percentile else float(
        np.percentile(p, noise_percentile))
    speech, active = _active_speech(p, noise, margin_db)
    floor, steady_s = "quiet", 0.0
    if noise > 0 and speech > 0:
        steady = _steady_pauses(q, speech * 10.0 ** (-margin_db / 10.0))
        steady_s = float(steady.sum()) * SpeechNoiseMeter.FRAME_S
        settled = float(np.median(q[steady])) if steady.sum() >= STEADY_MIN_FRAMES else nan
        if settled < noise * 10.0 ** (-STEADY_UNDER_DB / 10.0):
            noise, floor = settled, "steady"
            speech, active = _active_speech(p, noise, margin_db)
        elif math.isnan(settled) and power_db(noise) - power_db(
                float(np.percentile(p, 1.0))) > UNSETTLED_SPREAD_DB:
            floor = "unsettled"
    if active.size == 0 or speech <= 0:
        return SpeechNoise(nan, power_db(noise), nan, 0.0, int(p.size))
    return SpeechNoise(speech_dbfs=power_db(speech), noise_dbfs=power_db(noise),
                       snr_db=10.0 * math.log10(speech / noise) if noise > 0 else math.inf,
                       active_share=active.size / p.size, frames=int(p.size), floor=floor,
                       steady_s=steady_s)


def _active_speech(p: np.ndarray, noise: float, margin_db: float) -> tuple[float, np.ndarray]:
    """ITU-T P.56's active-speech power (noise power removed) and the active frames."""
    floor = 2.0 * noise                                   # 3 dB over the noise floor
    threshold, speech, active = floor, 0.0, p[p >= floor]
    for _ in range(50):                                   # P.56: converges in a few steps
        active = p[p >= threshold]
        if active.size == 0:
            break
        speech = float(active.mean()) - noise             # uncorrelated: powers subtract
        new = max(floor, speech * 10.0 ** (-margin_db / 10.0))
        if math.isclose(new, threshold, rel_tol=1e-9):
            break
        threshold = new
    return speech, active


def _steady_pauses(q: np.ndarray, threshold: float) -> np.ndarray:
    """The frames of ``q`` (powers, in order) in a pause that has stopped falling: under
    ``threshold`` (P.56's activity threshold) and above digital silence, as are the
    ``STEADY_LOOK`` frames before, and within ``STEADY_FALL_DB`` of the first of them (not
    falling, nor rising into the next words)."""
    pause = (q < threshold) & (q > _SILENCE_POWER)
    steady = pause.copy()
    for k in range(1, STEADY_LOOK + 1):
        steady[k:] &= pause[:-k]
    steady[:STEADY_LOOK] = False
    with np.errstate(divide="ignore", invalid="ignore"):   # digital silence: never steady
        db = 10.0 * np.log10(q)
        steady[STEADY_LOOK:] &= np.abs(db[:-STEADY_LOOK] - db[STEADY_LOOK:]) < STEADY_FALL_DB
    return steady


class SpeechNoiseMeter:
    """Keeps the power of each 50 ms frame (mean over channels of the frame's variance, so a
    DC offset is not counted as noise), and each channel's (``channel_power``)."""

    FRAME_S = 0.05

    def __init__(self, *, sample_rate: float) -> None:
        self._frames = Framer(round(self.FRAME_S * sample_rate))
        self.power = array("d")
        self.channel_power: list[array[float]] = []

    def consume(self, hop: Hop) -> None:
        xp = array_namespace(hop.raw)
        f = self._frames.push(hop.raw)                     # (C, m, L)
        if f.shape[1]:
            var = to_host(xp.var(f, axis=-1))              # (C, m)
            self.power.extend(var.mean(axis=0).tolist())
            if not self.channel_power:
                self.channel_power = [array("d") for _ in range(var.shape[0])]
            for keep, row in zip(self.channel_power, var, strict=True):
                keep.extend(row.tolist())

    def finish(self, *, noise_percentile: float = 10.0) -> SpeechNoise:
        return estimate_speech_noise(self.power, noise_percentile=noise_percentile)

    def inside(self, spans: Sequence[tuple[float, float]], t0: float,
               channel: int | None = None) -> np.ndarray:
        """The powers of the frames whose middles lie inside ``spans``, the first frame
        starting at ``t0`` (all of them when there are no spans); of ``channel`` alone when
        given, else the mean over the channels."""
        kept = self.power if channel is None else self.channel_power[channel]
        power = np.frombuffer(kept, dtype=np.float64) if kept else np.zeros(0)
        if not spans:
            return power
        return power[within(t0 + (np.arange(power.size) + 0.5) * self.FRAME_S, spans)]


def within(times: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """Which of ``times`` lie inside one of the (start, end) ``spans``."""
    keep = np.zeros(times.size, dtype=bool)
    for a, b in spans:
        keep |= (times >= a) & (times < b)
    return keep


def measure_speech_noise(samples: Any, *, sample_rate: float) -> SpeechNoise:
    """S2 of a whole signal (channels, n)."""
    bank = FilterBank(sample_rate=sample_rate)
    meter = SpeechNoiseMeter(sample_rate=sample_rate)
    for hop in [*bank.push(samples), *bank.flush()]:
        meter.consume(hop)
    return meter.finish()


# ------------------------------------------------------------------------------ S4 dropouts

#: sound and picture that break within this of each other make one edit: a silence that
#: begins and ends with a still picture (a card) is cut, not lost (about two frames at 25 fps;
#: a cut's fade and AAC's frames move the sound's edges by tens of ms)
EDIT_ALIGN_S = 0.1


@dataclass(frozen=True)
class Dropout:
    start_s: float       #: from the first sample, to the meter's frame (2.5 ms)
    end_s: float
    level_dbfs: float    #: the loudest sample peak inside (−inf: digital silence)
    channel: int | None = None   #: the one channel that dropped out (None: all of them)


@dataclass(frozen=True)
class Dropouts:
    floor_dbfs: float               #: the room's noise floor (nan: nothing to judge by)
    found: tuple[Dropout, ...]
    gated: bool                     #: most of the pauses are digital silence


class DropoutMeter:
    """S4 "clear, full sound": the sound vanishing in the middle of speech (a wireless
    microphone losing its receiver, a recorder or audio interface dropping samples, a hard
    edit).

    A room always has a noise floor; speech never falls below it. A dropout is a stretch of
    ``min_s`` to ``max_s`` in which every sample, on every channel, stays ``depth_db`` under
    the room's noise floor (each sample under the threshold: FFmpeg ``silencedetect``'s
    rule), with active speech (ITU-T P.56's threshold) within ``side_s`` on both sides: the
    sound breaks off and comes back (``side_s`` 70 ms: a codec and a noise reducer smear each
    edge of a dropout over tens of ms, AAC's overlapping 21 ms frames and the reducer's;
    at 20 ms a dropout in a rendered, noise-reduced lecture went unseen). A pause taken to
    silence by a noise gate is not one (the level before it is the room's, not speech, for
    longer than that), nor is a card's or an edit's silence longer than ``max_s``. The
    room's floor is the quietest tenth of the 50 ms frames that carry any sound; where most
    of the pauses are digital silence (a gate, edited pauses) there is no room to fall
    under, and nothing is judged.

    Where one channel breaks off while the other goes on (two microphones on a camera's
    two inputs, the wireless one losing its receiver), that channel's dropout is found by
    the same rule against its own room and speech.

    Streaming: each 2.5 ms frame's peak on each channel is kept as one byte (0.5 dB
    steps; 400 bytes a second a channel) until the noise floor is known at the end.
    """

    FRAME_S = 0.0025
    _ZERO = 255      # byte of a frame of digital silence
    _STEP_DB = 0.5

    def __init__(self, *, sample_rate: float, depth_db: float = 20.0, min_s: float = 0.01,
                 max_s: float = 2.0, side_s: float = 0.07) -> None:
        self.sample_rate = float(sample_rate)
        self.depth_db = float(depth_db)
        self.min_s, self.max_s, self.side_s = float(min_s), float(max_s), float(side_s)
        self._frames = Framer(round(self.FRAME_S * sample_rate))
        self.frame_s = self._frames.length / self.sample_rate
        self.codes: list[bytearray] = []      #: per channel

    def consume(self, hop: Hop) -> None:
        xp = array_namespace(hop.raw)
        f = self._frames.push(hop.raw)                     # (C, m, L)
        if f.shape[1]:
            peaks = to_host(xp.max(xp.abs(f), axis=2))     # (C, m)
            if not self.codes:
                self.codes = [bytearray() for _ in range(peaks.shape[0])]
            for keep, row in zip(self.codes, peaks, strict=True):
                keep.extend(self.encode(row))

    @classmethod
    def encode(cls, peaks: np.ndarray) -> bytes:
        """Peak → byte: ⌊−dBFS / 0.5⌋ (0: full scale), 254 for −127 dBFS and under, 255 for
        digital silence."""
        with np.errstate(divide="ignore"):
            db = 20.0 * np.log10(np.asarray(peaks, dtype=np.float64))
        code = np.clip(np.floor(-db / cls._STEP_DB), 0, cls._ZERO - 1)
        return np.where(peaks > 0, code, cls._ZERO).astype(np.uint8).tobytes()

    def finish(self, frame_power: Sequence[float] | np.ndarray, speech_dbfs: float,
               channels: Sequence[np.ndarray] = ()) -> Dropouts:
        """The dropouts, given the powers of the 50 ms frames (:class:`SpeechNoiseMeter`)
        and the active-speech level (S2): where every channel drops out, and, given
        ``channels`` (each channel's frame powers), where one does on its own (two
        microphones on a camera's two inputs, a wireless one losing its receiver), each
        judged by its own room and speech."""
        codes = [np.frombuffer(bytes(c), dtype=np.uint8).astype(np.int16) for c in self.codes]
        if not codes:
            return Dropouts(math.nan, (), gated=False)
        # a frame is under when every channel is: its loudest channel's peak (the lowest code)
        result = self._find(np.min(codes, axis=0), np.asarray(frame_power, np.float64),
                            speech_dbfs)
        if len(codes) < 2 or len(channels) != len(codes) or not math.isfinite(result.floor_dbfs):
            return result
        found = list(result.found)
        for k, (own, power) in enumerate(zip(codes, channels, strict=True)):
            power = np.asarray(power, np.float64)
            alone = self._find(own, power, estimate_speech_noise(power).speech_dbfs)
            found += [Dropout(d.start_s, d.end_s, d.level_dbfs, k) for d in alone.found
                      if not any(d.start_s < f.end_s and f.start_s < d.end_s for f in found)]
        return Dropouts(result.floor_dbfs, tuple(sorted(found, key=lambda d: d.start_s)),
                        gated=False)

    def silences(self, *, level_dbfs: float, min_s: float) -> list[tuple[float, float]]:
        """(start_s, end_s) of the stretches of at least ``min_s`` in which every sample of
        every channel stays at or under ``level_dbfs`` (FFmpeg ``silencedetect``'s rule, to
        the meter's 2.5 ms frames)."""
        if not self.codes:
            return []
        loudest = np.min([np.frombuffer(bytes(c), dtype=np.uint8) for c in self.codes], axis=0)
        quiet = loudest >= math.floor(-level_dbfs / self._STEP_DB)
        d = np.diff(np.r_[0, quiet.astype(np.int8), 0])
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        shortest = min_s / self.frame_s
        return [(s * self.frame_s, e * self.frame_s)
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
                if e - s >= shortest - 1e-9]

    def _find(self, codes: np.ndarray, p: np.ndarray, speech_dbfs: float) -> Dropouts:
        """The dropouts in one sequence of frame codes, given its frames' powers and its
        speech level."""
        silent = p <= _SILENCE_POWER
        if not math.isfinite(speech_dbfs) or silent.all():
            return Dropouts(math.nan, (), gated=False)
        active = p >= 10.0 ** ((speech_dbfs - P56_MARGIN_DB) / 10.0)
        if silent.sum() >= 0.5 * (~active).sum():
            return Dropouts(math.nan, (), gated=True)
        # the room: the quietest tenth of the frames that carry any sound
        floor = power_db(float(np.percentile(p[~silent], 10.0)))
        # under: the frame's peak is below the threshold even at the top of its 0.5 dB step
        under = codes > -(floor - self.depth_db) / self._STEP_DB
        # speaking: the frame's peak reaches P.56's activity threshold even at the bottom
        speaking = codes + 1 <= -(speech_dbfs - P56_MARGIN_DB) / self._STEP_DB
        d = np.diff(np.r_[0, under.astype(np.int8), 0])
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        side = max(1, round(self.side_s / self.frame_s))
        shortest = max(1, math.ceil(self.min_s / self.frame_s - 1e-9))
        longest = self.max_s / self.frame_s
        found = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if not shortest <= e - s <= longest or s < side or e + side > codes.size:
                continue
            if speaking[s - side: s].any() and speaking[e: e + side].any():
                loudest = int(codes[s:e].min())
                level = (-math.inf if loudest == self._ZERO else -loudest * self._STEP_DB)
                found.append(Dropout(s * self.frame_s, e * self.frame_s, level))
        return Dropouts(floor, tuple(found), gated=False)


# ------------------------------------------------------------------------------ S4 music bed


@dataclass(frozen=True)
class MusicSpan:
    start_s: float       #: from the first sample (a window of the meter)
    end_s: float
    level_dbfs: float    #: the music's level in the pauses there (mean power)


@dataclass(frozen=True)
class MusicBed:
    level_dbfs: float                 #: the music's level in the pauses (nan: none found)
    spans: tuple[MusicSpan, ...]      #: where it was heard, windows merged
    pauses_s: float                   #: seconds of pauses listened to


# ------------------------------------------------------------------------------ S4 tones

@dataclass(frozen=True)
class Tone:
    start_s: float      #: from the first sample
    end_s: float
    hz: float           #: its frequency (the frames' median)
    level_dbfs: float   #: RMS level of the frames (median)


class ToneMeter:
    """S4 "clear sound, no noise": a steady pure tone where the lecture should be heard: the
    test tone of bars and tone at a master's head (1 kHz, 400 Hz), or acoustic feedback,
    the howl of a microphone picked up by the room's loudspeakers.

    Frames of ``FRAME`` samples (85 ms at 48 kHz), Hann-windowed, the channels' mean: a
    frame is tonal when one spectral peak (± 3 bins) holds ``share`` of its energy (speech
    and music spread theirs over harmonics and partials: a voiced vowel's strongest
    harmonic holds at most two thirds; a howl 10 dB over the speech holds 90 %), it is at
    least ``min_dbfs`` loud and its peak lies above ``min_hz`` (mains hum is
    ``audio.hum``'s), within 2 bins of a neighbouring frame's. Runs of tonal frames lasting
    ``min_s`` are tones. Per frame three numbers reach the host."""

    FRAME = 4096

    def __init__(self, *, sample_rate: float, share: float = 0.9, min_dbfs: float = -40.0,
                 min_hz: float = 150.0, min_s: float = 0.5) -> None:
        self.sample_rate = float(sample_rate)
        self.share, self.min_dbfs, self.min_hz, self.min_s = share, min_dbfs, min_hz, min_s
        self.length = self.FRAME if sample_rate >= 32000 else self.FRAME // 2
        self._frames = Framer(self.length)
        self._window: Any = None
        self._peaks: list[float] = []   # per frame: peak bin (−1: not tonal)
        self._levels: list[float] = []

    @property
    def frame_s(self) -> float:
        return self.length / self.sample_rate

    def consume(self, hop: Hop) -> None:
        xp = array_namespace(hop.raw)
        f = self._frames.push(hop.raw)                      # (C, m, L)
        if not f.shape[1]:
            return
        mono = f.mean(axis=0)                               # (m, L)
        if self._window is None:
            self._window = xp.asarray(np.hanning(self.length), dtype=mono.dtype)
        power = xp.abs(xp.fft.rfft(mono * self._window, axis=1)) ** 2
        peak = xp.argmax(power[:, 1:-1], axis=1) + 1
        bins = xp.arange(power.shape[1])[None, :]
        near = xp.abs(bins - peak[:, None]) <= 3
        share = (power * near).sum(axis=1) / xp.maximum(power.sum(axis=1), 1e-30)
        rms = xp.sqrt((mono * mono).mean(axis=1))
        # the peak between bins: a parabola through the log power of it and its neighbours
        a, b, c = (xp.log(xp.take_along_axis(power, (peak + k)[:, None], axis=1)[:, 0] + 1e-30)
                   for k in (-1, 0, 1))
        curve = a - 2 * b + c
        where = peak + xp.where(curve < 0, 0.5 * (a - c) / xp.where(curve < 0, curve, -1.0), 0.0)
        for p, sh, r in zip(to_host(where), to_host(share), to_host(rms), strict=True):
            level = 20.0 * math.log10(float(r)) if r > 0 else -math.inf
            hz = float(p) * self.sample_rate / self.length
            tonal = sh >= self.share and level >= self.min_dbfs and hz >= self.min_hz
            self._peaks.append(float(p) if tonal else -1.0)
            self._levels.append(level)

    def finish(self) -> list[Tone]:
        """The tones: runs of tonal frames of one frequency lasting ``min_s`` or more."""
        peaks = np.asarray(self._peaks)
        # a tonal frame whose neighbour is tonal at the same frequency (± 2 bins)
        held = (peaks[1:] >= 0) & (peaks[:-1] >= 0) & (np.abs(np.diff(peaks)) <= 2)
        steady = np.zeros(peaks.size, dtype=bool)
        steady[1:] |= held
        steady[:-1] |= held
        out = []
        for i, j in flag_runs(steady):
            if (j - i) * self.frame_s >= self.min_s:
                hz = float(np.median(self._peaks[i:j])) * self.sample_rate / self.length
                out.append(Tone(i * self.frame_s, j * self.frame_s, hz,
                                float(np.median(self._levels[i:j]))))
        return out


class MusicMeter:
    """S4 "narration … and background music in proportion": music under the speech.

    Music is heard where the speech pauses: the pauses' own sound is then tonal (its energy
    in spectral peaks, not spread as a room's noise is) and the tones move from note to
    note. Per frame of ~85 ms (Hann, half overlap, channels mixed): the level, the share of
    the 150 Hz–5 kHz energy within two bins of a peak standing ``peak_db`` over the mean log
    level of its ±190 Hz, the peaks' energy per pitch class (a chroma vector), and their
    tuning: each peak's frequency (interpolated) against the equal-tempered semitones of
    A 440 Hz as a phase, 2π a semitone, summed as energy-weighted unit vectors.

    At the end, given the speech level (S2): a pause frame is one whose neighbours and itself
    are ``pause_db`` under the speech and whose level is not falling faster than
    ``decay_db_s`` (a room's reverberation carrying the last syllable is decaying; a music
    bed holds its level). Per ``window_s`` of programme, the floor of its pauses (frames
    within 3 dB of their 20th percentile) decides: music when at least ``min_frames`` of
    them and half the floor are tonal and their chroma vectors do not all point the same
    way (mean resultant length under ``steady``: a fan's whine, a projector's tone or mains
    hum keep one chord for the whole window) and are in tune with one another (tuning
    vectors' resultant at least ``in_tune`` of their weight: instruments keep to one tuning,
    whatever its A, where voices talking in the background glide through every pitch). The
    music's level: the mean power of the tonal pause frames of the windows with music.
    Under ``min_pause_s`` of pause frames in all, nothing is judged (speech without pauses,
    or music as loud as the speech).

    Streaming: per frame 16 numbers are kept (68 bytes, 1.6 kB a second).
    """

    FRAME_S = 0.085
    BATCH = 32          #: frames analysed at once
    BAND_HZ = (150.0, 5000.0)
    SPREAD_HZ = 190.0

    def __init__(self, *, sample_rate: float, peak_db: float = 10.0, tonal: float = 0.3,
                 pause_db: float = 8.0, decay_db_s: float = -20.0, window_s: float = 20.0,
                 min_frames: int = 12, steady: float = 0.8, in_tune: float = 0.3,
                 min_pause_s: float = 1.0) -> None:
        self.sample_rate = float(sample_rate)
        self.nfft = 1 << math.ceil(math.log2(self.FRAME_S * sample_rate))
        self.hop_s = self.nfft / 2 / self.sample_rate
        self.peak_db, self.tonal = float(peak_db), float(tonal)
        self.pause_db, self.decay_db_s = float(pause_db), float(decay_db_s)
        self.window_s, self.min_frames = float(window_s), int(min_frames)
        self.steady, self.in_tune = float(steady), float(in_tune)
        self.min_pause_s = float(min_pause_s)
        bin_hz = self._bin_hz = self.sample_rate / self.nfft
        self._spread = max(2, round(self.SPREAD_HZ / bin_hz))
        self._lo = max(self._spread, math.ceil(self.BAND_HZ[0] / bin_hz))
        self._hi = min(math.floor(min(self.BAND_HZ[1], 0.45 * sample_rate) / bin_hz),
                       self.nfft // 2 - self._spread)
        freqs = np.arange(self._lo, self._hi) * bin_hz
        pitch = np.round(12.0 * np.log2(freqs / 440.0)).astype(int) % 12
        self._classes = (pitch[:, None] == np.arange(12)[None]).astype(np.float64)
        self._frames = Framer(self.nfft, self.nfft // 2)
        self._window: Any = None
        self._onehot: Any = None
        self._pending: list[Any] = []
        self._waiting = 0
        self.power = array("d")
        self.share = array("f")
        self.chroma = array("f")

    def consume(self, hop: Hop) -> None:
        f = self._frames.push(hop.raw)                     # (C, m, nfft)
        if f.shape[1]:
            self._pending.append(f)
            self._waiting += f.shape[1]
        if self._waiting >= self.BATCH:
            self._analyse()

    def _analyse(self) -> None:
        """The frames waiting, at once (a hop holds a few: the array calls would cost more
        than their work)."""
        if not self._pending:
            return
        xp = array_namespace(self._pending[0])
        f = (self._pending[0] if len(self._pending) == 1 else
             xp.concatenate(self._pending, axis=1))
        self._pending, self._waiting = [], 0
        if self._window is None:
            self._window = xp.asarray(np.hanning(self.nfft), dtype=f.dtype)
            self._onehot = xp.asarray(self._classes, dtype=f.dtype)
        x = xp.mean(f, axis=0)
        x = x - xp.mean(x, axis=-1, keepdims=True)
        w, lo, hi = self._spread, self._lo, self._hi
        spec = xp.fft.rfft(x * self._window, axis=-1)[:, lo - w: hi + w]
        s = spec.real ** 2 + spec.imag ** 2 + 1e-30                       # (m, bins + 2w)
        log = xp.log(s)
        c = xp.cumsum(log, axis=-1)
        c = xp.concatenate([xp.zeros_like(c[:, :1]), c], axis=-1)
        around = (c[:, 2 * w + 1:] - c[:, : -2 * w - 1]) / (2 * w + 1)    # (m, bins)
        core, s = log[:, w:-w], s[:, w:-w]
        peak = xp.zeros(core.shape, dtype=bool)
        peak[:, 1:-1] = ((core[:, 1:-1] > core[:, :-2]) & (core[:, 1:-1] >= core[:, 2:])
                         & (core[:, 1:-1] > around[:, 1:-1]
                            + self.peak_db * math.log(10.0) / 10.0))
        near = peak.copy()
        for k in (1, 2):
            near[:, k:] |= peak[:, :-k]
            near[:, :-k] |= peak[:, k:]
        total = xp.sum(s, axis=-1)
        share = xp.sum(s * near, axis=-1) / total
        chroma = (s * peak) @ self._onehot                               # (m, 12)
        # each peak's frequency (parabola through the log levels of its bin and neighbours)
        # against the equal-tempered semitones of A 440 Hz, as a phase: 2π per semitone
        row, col = xp.nonzero(peak)
        a, b, c = core[row, col - 1], core[row, col], core[row, col + 1]
        bend = a - 2.0 * b + c                            # < 0 at a peak, or 0 (flat top)
        delta = xp.where(bend < 0, 0.5 * (a - c) / xp.where(bend < 0, bend, -1.0), 0.0)
        turn = 24.0 * math.pi * xp.log2((lo + col + delta) * self._bin_hz / 440.0)
        m = x.shape[0]
        tuning = xp.stack([xp.bincount(row, weights=s[row, col] * xp.cos(turn), minlength=m),
                           xp.bincount(row, weights=s[row, col] * xp.sin(turn), minlength=m)],
                          axis=-1).astype(chroma.dtype)                   # (m, 2)
        self.power.extend(to_host(xp.mean(x * x, axis=-1)).tolist())
        self.share.extend(to_host(share).tolist())
        self.chroma.extend(to_host(xp.concatenate([chroma, tuning], axis=-1)).ravel().tolist())

    def finish(self, speech_dbfs: float, *, keep: np.ndarray | None = None) -> MusicBed:
        """The music under the speech, given the active-speech level (S2). ``keep``: the
        frames to judge (the lecture itself; all when None); see :meth:`middles`."""
        self._analyse()
        p = np.frombuffer(self.power, dtype=np.float64) if self.power else np.zeros(0)
        n = p.size
        if not math.isfinite(speech_dbfs) or n < 3:
            return MusicBed(math.nan, (), 0.0)
        share = np.frombuffer(self.share, dtype=np.float32)
        chroma = np.frombuffer(self.chroma, dtype=np.float32).reshape(n, 14)
        sound = p > _SILENCE_POWER
        if keep is not None:
            sound &= keep
        db = 10.0 * np.log10(np.maximum(p, _SILENCE_POWER))     # silence: outside ``sound``
        quiet = sound & (db <= speech_dbfs - self.pause_db)
        pause = quiet.copy()
        pause[1:] &= quiet[:-1]
        pause[:-1] &= quiet[1:]
        pause[[0, -1]] = False
        slope = np.zeros(n)
        slope[1:-1] = np.where(pause[1:-1], (db[2:] - db[:-2]) / (2.0 * self.hop_s), 0.0)
        held = pause & (slope > self.decay_db_s)
        tonal = held & (share >= self.tonal)
        per = max(1, round(self.window_s / self.hop_s))
        sung = [w0 for w0 in range(0, n, per) if self._sung(w0, w0 + per, db, held, share,
                                                            chroma)]
        music = np.zeros(n, dtype=bool)
        spans: list[MusicSpan] = []
        for w0 in sung:
            music[w0: w0 + per] = tonal[w0: w0 + per]
        for run in np.split(np.asarray(sung, dtype=int),
                            np.flatnonzero(np.diff(sung) != per) + 1) if sung else ():
            a, b = int(run[0]), min(int(run[-1]) + per, n)
            spans.append(MusicSpan(a * self.hop_s, (b + 1) * self.hop_s,
                                   power_db(float(p[a:b][music[a:b]].mean()))))
        level = power_db(float(p[music].mean())) if music.any() else math.nan
        return MusicBed(level, tuple(spans), float(held.sum()) * self.hop_s)

    def _sung(self, a: int, b: int, db: np.ndarray, held: np.ndarray, share: np.ndarray,
              chroma: np.ndarray) -> bool:
        """Does the floor of the pauses in frames a…b hold music?"""
        h = np.flatnonzero(held[a:b]) + a
        if h.size < self.min_frames:
            return False
        floor = h[db[h] <= np.percentile(db[h], 20.0) + 3.0]
        tones = floor[share[floor] >= self.tonal]
        if tones.size < max(self.min_frames, 0.5 * floor.size):
            return False
        c = chroma[tones, :12].astype(np.float64)
        unit = c / np.maximum(np.linalg.norm(c, axis=1), 1e-300)[:, None]
        t = chroma[tones, 12:].astype(np.float64).sum(axis=0)
        in_tune = float(np.hypot(*t) / max(float(c.sum()), 1e-300))
        return bool(np.linalg.norm(unit.mean(axis=0)) < self.steady and in_tune >= self.in_tune)

    def middles(self) -> np.ndarray:
        """Each frame's middle, seconds from the first sample."""
        self._analyse()
        return (np.arange(len(self.power)) + 1.0) * self.hop_s


# ------------------------------------------------------------------------------ S3 hum


@dataclass(frozen=True)
class HumLine:
    frequency_hz: float   #: nominal k × mains
    prominence_db: float  #: peak bin over the median of its ±12 Hz neighbourhood
    level_dbfs: float     #: amplitude of the line as a sine, dBFS


@dataclass(frozen=True)
class Hum:
    mains_hz: float
    prominence_db: float          #: the largest over the lines (nan: too short to tell)
    lines: tuple[HumLine, ...]    #: fundamental first
    frames: int


#: quiet frames (pauses), where hum is heard and not masked by speech: the quietest 5 %
_QUIET_SHARE = 0.05
_QUIET_MIN_FRAMES = 4
#: frame-level classes for that selection, 3 dB wide from −120 dBFS up
_CLASS_DB = 3.0
_CLASSES = 41


def hum_lines(spectrum: np.ndarray, *, bin_hz: float, mains_hz: float, harmonics: int,
              scale: float) -> tuple[HumLine, ...]:
    """S3: how far each mains line (k × mains, k = 1…harmonics) stands out of an averaged
    power spectrum (Hann window): its largest bin within max(2 Hz, 1 bin, 0.5 %) of k × mains
    (mains drift) over the median bin of its neighbourhood: beyond the line's main lobe
    (max(4 Hz, 2.5 bins)) and within max(8 Hz, 3.5 bins) more, in dB. ``scale`` turns summed
    bin power into mean square (for the line level)."""
    f = np.arange(spectrum.size) * bin_hz
    inner = max(4.0, 2.5 * bin_hz)
    outer = inner + max(8.0, 3.5 * bin_hz)
    lines = []
    for k in range(1, harmonics + 1):
        fk = k * mains_hz
        dist = np.abs(f - fk)
        line = dist <= max(2.0, 1.01 * bin_hz, 0.005 * fk)
        around = (dist <= outer) & (dist > inner)
        if not line.any() or around.sum() < 3 or fk + outer > f[-1]:
            break
        peak, floor = float(spectrum[line].max()), float(np.median(spectrum[around]))
        prominence = (10.0 * math.log10(peak / floor) if floor > 0 and peak > 0
                      else 0.0 if peak <= 0 else math.inf)
        energy = float(spectrum[dist <= inner].sum()) * scale
        lines.append(HumLine(frequency_hz=fk, prominence_db=prominence,
                             level_dbfs=power_db(2.0 * energy)))
    return tuple(lines)


class SpectrumClasses:
    """Averaged power spectra (Hann unless ``window`` is given, 50 % overlap, channels summed
    unless ``per_channel``) of ``frame_s``-long frames up to ``top_hz``, one sum per
    frame-level class (3 dB wide): memory does not grow with the length. Each frame's mean
    is taken out first unless ``keep_mean`` (a noise reducer needs its lowest bins too)."""

    def __init__(self, *, sample_rate: float, frame_s: float, top_hz: float,
                 window: np.ndarray | None = None, per_channel: bool = False,
                 keep_mean: bool = False) -> None:
        self.nfft = 1 << math.ceil(math.log2(frame_s * sample_rate))
        self.bin_hz = float(sample_rate) / self.nfft
        self.bins = min(self.nfft // 2 + 1, math.ceil(top_hz / self.bin_hz) + 1)
        self.per_channel, self.keep_mean = per_channel, keep_mean
        self._frames = Framer(self.nfft, self.nfft // 2)
        w = np.hanning(self.nfft) if window is None else np.asarray(window, dtype=np.float64)
        self._w = w
        self._window: Any = None
        self.spectra: np.ndarray = np.zeros((_CLASSES, self.bins))   # per channel: on use
        self.counts = np.zeros(_CLASSES, dtype=np.int64)
        # one-sided periodogram → mean square: Parseval with the window's power (Σ w²)
        self.scale = 2.0 / (self.nfft * float((w * w).sum()))

    def consume(self, raw: Any) -> None:
        xp = array_namespace(raw)
        f = self._frames.push(raw)                         # (C, m, nfft)
        if not f.shape[1]:
            return
        if self._window is None:
            self._window = xp.asarray(self._w)
        if not self.keep_mean:
            f = f - xp.mean(f, axis=-1, keepdims=True)
        level = to_host(xp.mean(xp.mean(f * f, axis=-1), axis=0))       # (m,)
        spec = xp.fft.rfft(f * self._window, axis=-1)[..., : self.bins]
        power = spec.real ** 2 + spec.imag ** 2                           # (C, m, bins)
        if self.per_channel:
            power = to_host(xp.moveaxis(power, 0, 1))                     # (m, C, bins)
            if self.spectra.ndim == 2:
                self.spectra = np.zeros((_CLASSES, power.shape[1], self.bins))
        else:
            power = to_host(xp.sum(power, axis=0))                        # (m, bins)
        for i, p in enumerate(level):
            if p > _SILENCE_POWER:
                c = min(_CLASSES - 1, int((10.0 * math.log10(p) + 120.0) // _CLASS_DB))
                self.spectra[c] += power[i]
                self.counts[c] += 1

    def total(self) -> np.ndarray:
        return self.spectra.sum(axis=0) / max(int(self.counts.sum()), 1)

    def quietest(self, share: float, minimum: int) -> np.ndarray:
        """Mean spectrum of the quietest classes holding ``share`` of the frames (≥ minimum)."""
        need = max(share * self.counts.sum(), minimum)
        upto = int(np.searchsorted(np.cumsum(self.counts), need)) + 1
        return self.spectra[:upto].sum(axis=0) / max(int(self.counts[:upto].sum()), 1)


def hum_to_remove(hum: Hum, *, prominence_db: float, min_level_dbfs: float) -> list[HumLine]:
    """Mains lines that are hum (S3): standing out of the spectrum and loud enough to hear."""
    return [h for h in hum.lines
            if h.prominence_db >= prominence_db and h.level_dbfs >= min_level_dbfs]


class HumMeter:
    """S3 spectra: the whole programme in ~0.7 s frames (1.5 Hz bins, to tell a mains line
    from the harmonics of a voice), and the pauses in ~0.17 s frames (short enough to fit
    between words, where hum is heard unmasked). A line counts as much as it stands out in
    either."""

    def __init__(self, *, sample_rate: float, mains_hz: float, harmonics: int) -> None:
        self.mains_hz = float(mains_hz)
        self.harmonics = int(harmonics)
        self.top_hz = harmonics * mains_hz + 60.0
        #: the band the spectra need: ask the FilterBank for it (``low_hz``), pass ``low_rate``
        self.long = SpectrumClasses(sample_rate=sample_rate, frame_s=0.5, top_hz=self.top_hz)
        self.short = SpectrumClasses(sample_rate=sample_rate, frame_s=0.125, top_hz=self.top_hz)

    def consume(self, hop: Hop) -> None:
        """Takes ``hop.low`` (a FilterBank made with ``low_hz=meter.top_hz``)."""
        self.long.consume(hop.low)
        self.short.consume(hop.low)

    def finish(self) -> Hum:
        n = int(self.long.counts.sum())
        if n < 4:
            return Hum(self.mains_hz, math.nan, (), n)
        whole = hum_lines(self.long.total(), bin_hz=self.long.bin_hz, scale=self.long.scale,
                          mains_hz=self.mains_hz, harmonics=self.harmonics)
        pauses = hum_lines(self.short.quietest(_QUIET_SHARE, _QUIET_MIN_FRAMES),
                           bin_hz=self.short.bin_hz, scale=self.short.scale,
                           mains_hz=self.mains_hz, harmonics=self.harmonics)
        lines = tuple(max(a, b, key=lambda h: h.prominence_db)
                      for a, b in zip(whole, pauses, strict=False))
        top = max((h.prominence_db for h in lines), default=math.nan)
        return Hum(self.mains_hz, top, lines, n)


def measure_hum(samples: Any, *, sample_rate: float, mains_hz: float,
                harmonics: int = 8) -> Hum:
    """S3 hum of a whole signal (channels, n)."""
    top_hz = harmonics * mains_hz + 60.0
    bank = FilterBank(sample_rate=sample_rate, low_hz=top_hz)
    meter = HumMeter(sample_rate=bank.low_rate, mains_hz=mains_hz, harmonics=harmonics)
    for hop in [*bank.push(samples), *bank.flush()]:
        meter.consume(hop)
    return meter.finish()


# ------------------------------------------------------------------------------ S4 swings


@dataclass(frozen=True)
class Swing:
    start_s: float        #: from the programme start
    end_s: float
    deviation_lu: float   #: largest deviation inside (negative: softer)


#: S4 analysis windows: speech level over 3 s (EBU Tech 3341 short-term), compared with the
#: median speech level of the surrounding ±30 s
_SPEECH_WINDOW_STEPS = 30
_CONTEXT_STEPS = 300
_REFERENCE_EVERY = 10      # the median reference is taken every second, held in between
_MIN_ACTIVE = 0.5          # a 3 s window is speech when half its 400 ms blocks are active


def volume_swings(step_energy: Sequence[float], *, swing_lu: float, min_s: float = 1.0,
                  merge_s: float = 2.0) -> tuple[float, tuple[Swing, ...]]:
    """S4 from the K-weighted energies of consecutive 100 ms steps (see LoudnessMeter).

    Speech blocks are the 400 ms gating blocks above the relative gate of EBU Tech 3342
    (−20 LU under the ±30 s surroundings); the speech level over 3 s is their mean energy
    (pauses left out, so a pause is not a swing); a swing is where it departs from the median
    speech level of the ±30 s around it by ``swing_lu`` or more for at least ``min_s``.
    Returns the largest |deviation| (nan without speech) and the swings.
    """
    e = np.asarray(step_energy, dtype=np.float64)
    n = e.size - MOMENTARY_STEPS + 1
    if n < _SPEECH_WINDOW_STEPS:
        return math.nan, ()
    c = np.concatenate([[0.0], np.cumsum(e)])
    block = np.maximum(c[MOMENTARY_STEPS:] - c[:-MOMENTARY_STEPS], 0.0) / MOMENTARY_STEPS
    lufs = energies_to_lufs(block)
    idx = np.arange(n)

    def window_sum(values: np.ndarray, half: int) -> np.ndarray:
        cs = np.concatenate([[0.0], np.cumsum(values)])
        lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, n)
        return cs[hi] - cs[lo]

    above = lufs > -70.0                                   # BS.1770-4 absolute gate
    context = window_sum(np.where(above, block, 0.0), _CONTEXT_STEPS)
    count = window_sum(above.astype(np.float64), _CONTEXT_STEPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        gate = LOUDNESS_OFFSET + 10.0 * np.log10(context / count) + LRA_RELATIVE_GATE_LU
    active = above & (lufs > gate)
    half = _SPEECH_WINDOW_STEPS // 2
    act_e = window_sum(np.where(active, block, 0.0), half)
    act_n = window_sum(active.astype(np.float64), half)
    span = np.minimum(idx + half + 1, n) - np.maximum(idx - half, 0)
    speech = act_n >= _MIN_ACTIVE * span
    level = np.full(n, np.nan)
    level[speech] = energies_to_lufs(act_e[speech] / act_n[speech])
    if not speech.any():
        return math.nan, ()
    reference = np.full(n, np.nan)
    for j in range(0, n, _REFERENCE_EVERY):
        around = level[max(j - _CONTEXT_STEPS, 0): j + _CONTEXT_STEPS + 1]
        around = around[~np.isnan(around)]
        if around.size:
            reference[j: j + _REFERENCE_EVERY] = np.median(around)
    deviation = level - reference
    valid = ~np.isnan(deviation)
    if not valid.any():
        return math.nan, ()
    largest = float(np.abs(deviation[valid]).max())
    flagged = valid & (np.abs(np.where(valid, deviation, 0.0)) >= swing_lu)
    # block j covers steps j…j+3: its centre is at (j + 2) steps
    centre = (idx + MOMENTARY_STEPS / 2) * STEP_S
    runs: list[Swing] = []
    for sign in (-1.0, 1.0):
        d = np.diff(np.r_[0, (flagged & (np.sign(deviation) == sign)).astype(np.int8), 0])
        for s, t in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True):
            worst = deviation[s:t].min() if sign < 0 else deviation[s:t].max()
            runs.append(Swing(float(centre[s]), float(centre[t - 1]), float(worst)))
    swings: list[Swing] = []
    for run in sorted(runs, key=lambda r: r.start_s):
        last = swings[-1] if swings else None
        if (last is not None and last.deviation_lu * run.deviation_lu > 0
                and run.start_s - last.end_s <= merge_s):
            worst = max(last.deviation_lu, run.deviation_lu, key=abs)
            swings[-1] = Swing(last.start_s, max(last.end_s, run.end_s), worst)
        else:
            swings.append(run)
    kept = tuple(s for s in swings if s.end_s - s.start_s + STEP_S >= min_s)
    return largest, kept


# ------------------------------------------------------------------------------ the detector


#: a channel this far below the other carries no programme (a microphone on one input only)
DEAD_CHANNEL_DB = 20.0
#: a channel whose mean sits this high (dBFS of full scale) carries a DC offset: it eats
#: headroom and clicks wherever the sound is cut or faded (1 % of full scale)
DC_OFFSET_DBFS = -40.0

#: S4 "full sound": the programme this quiet (every sample, every channel; FFmpeg
#: silencedetect's default noise level) for SILENCE_WARN_S or longer is silent: a person
#: judges (a silent demonstration, or the sound lost); for SILENCE_FAIL_S, a lecture has
#: lost its sound (a recorder that stopped, an export with a short sound track)
SILENCE_DBFS = -60.0
SILENCE_WARN_S = 10.0
SILENCE_FAIL_S = 60.0

#: channels correlated at or below this are in opposite polarity (a microphone wired or
#: patched inverted on one input): on a mono speaker the voice cancels
ANTI_PHASE = -0.3


def mono_loss_db(energy_l: float, energy_r: float, cross: float) -> float:
    """How much quieter the mono downmix (L+R)/2 is than the two channels' mean power, dB
    (0 for identical channels, 3 for independent ones of equal level, +inf when they
    cancel)."""
    mono = (energy_l + energy_r + 2.0 * cross) / 4.0
    mean = (energy_l + energy_r) / 2.0
    return 10.0 * math.log10(mean / mono) if mono > 0 else math.inf


def live_channel(levels_dbfs: Sequence[float], *, margin_db: float = DEAD_CHANNEL_DB,
                 ) -> int | None:
    """The channel that carries the sound when a stereo signal's other channel is silent or
    ``margin_db`` below it (a camera's microphone on input 1 only: the listener would hear
    the lecturer in one ear); None when both carry it, or for mono."""
    if len(levels_dbfs) != 2 or all(x == -math.inf for x in levels_dbfs):
        return None
    loud = 0 if levels_dbfs[0] >= levels_dbfs[1] else 1
    return loud if levels_dbfs[loud] - levels_dbfs[1 - loud] >= margin_db else None


class AudioQC(Detector):
    """All audio checks of S1–S4 (and the informational loudness) over one block stream.

    Detection settings (ours, not the regulation's):
    ``clip_level`` / ``clip_min_samples``: a clipping run is this many consecutive samples of
    one channel at |x| ≥ level (0.999 ≈ −0.009 dBFS; 3 samples as Audacity's Find Clipping).
    ``hum_prominence_db``: a mains line (k × profile.audio.mains_hz, k ≤ ``hum_harmonics``)
    standing this far out of its ±12 Hz neighbourhood is hum, when it is also louder than
    ``hum_min_level_dbfs`` (quieter lines are inaudible: no hum in the sense of S3).
    ``swing_lu``: the speech level over 3 s departing this far from the median of its
    surrounding minute is a swing (S4).
    ``max_events``: events kept per check.
    ``spans``: (start_s, end_s) of the lecture itself in a rendered file, in the blocks'
    time: S2 and dropouts are judged there only (the intro's and the cards' own sound is
    produced, not recorded; a card's digital silence is no noise floor). Empty: the whole
    stream.
    """

    kind = "audio"

    def __init__(self, *, sample_rate: float, profile: Profile,
                 channel_weights: Sequence[float] | None = None,
                 clip_level: float = CLIP_LEVEL, clip_min_samples: int = CLIP_MIN_SAMPLES,
                 hum_prominence_db: float = 10.0, hum_harmonics: int = 8,
                 hum_min_level_dbfs: float = -70.0,
                 swing_lu: float = 6.0, max_events: int = 50,
                 spans: Sequence[tuple[float, float]] = ()) -> None:
        self.sample_rate = float(sample_rate)
        self.profile = profile
        self.hum_prominence_db = float(hum_prominence_db)
        self.hum_min_level_dbfs = float(hum_min_level_dbfs)
        self.swing_lu = float(swing_lu)
        self.max_events = int(max_events)
        hum_top = hum_harmonics * profile.audio.mains_hz + 60.0
        self.bank = FilterBank(sample_rate=sample_rate, low_hz=hum_top)
        self.loudness = LoudnessMeter(sample_rate=sample_rate, bank=self.bank,
                                      channel_weights=channel_weights)
        self.clipping = ClippingMeter(sample_rate=sample_rate, level=clip_level,
                                      min_samples=clip_min_samples)
        self.speech = SpeechNoiseMeter(sample_rate=sample_rate)
        self.hum = HumMeter(sample_rate=self.bank.low_rate, mains_hz=profile.audio.mains_hz,
                            harmonics=hum_harmonics)
        self.dropouts = DropoutMeter(sample_rate=sample_rate)
        self.music = MusicMeter(sample_rate=sample_rate)
        self.tones = ToneMeter(sample_rate=sample_rate)
        self.music_bed: MusicBed | None = None   #: after finish()
        self.spans = tuple(spans)
        #: the picture's still stretches (start, end; the file's time), set before
        #: ``finish`` by whoever decodes the pictures: a silence cut in and out with one is
        #: an edit (a card between excerpts), not a dropout
        self.stills: Sequence[tuple[float, float]] = ()
        # S1: true peak above the window's top, runs merged within 0.5 s
        self._over_level = 10.0 ** (profile.audio.peak_dbfs[1] / 20.0)
        self._overs = RunTracker(gap=round(0.5 * self.sample_rate))
        self._over_runs: list[Run] = []
        self._over_count = 0
        self.t0: float | None = None
        self.backend: str | None = None      #: "numpy" or "cupy", from the first block
        self._energy: Any = None             # per channel: sum of squares (on the backend)
        self._cross: Any = None              # stereo: sum of left × right (on the backend)
        self._sum: Any = None                # per channel: sum of samples (on the backend)
        self._samples = 0

    def process(self, data: Any, t: float) -> None:
        if self.t0 is None:
            self.t0 = float(t)
            self.backend = backend_name(array_namespace(data))
        block = as_block(data)
        energy = (block * block).sum(axis=1)
        self._energy = energy if self._energy is None else self._energy + energy
        total = block.sum(axis=1, dtype="float64")
        self._sum = total if self._sum is None else self._sum + total
        if block.shape[0] == 2:
            cross = (block[0] * block[1]).sum()
            self._cross = cross if self._cross is None else self._cross + cross
        self._samples += int(block.shape[1])
        for hop in self.bank.push(block):
            self._consume(hop)

    def channel_levels_dbfs(self) -> list[float]:
        """RMS level of each channel over everything processed, dBFS (−inf: digital
        silence)."""
        if self._energy is None or not self._samples:
            return []
        return [10.0 * math.log10(e / self._samples) if e > 0 else -math.inf
                for e in (float(x) for x in to_host(self._energy))]

    def channel_means(self) -> list[float]:
        """Mean of each channel over everything processed (its DC offset, full scale 1)."""
        if self._sum is None or not self._samples:
            return []
        return [float(x) / self._samples for x in to_host(self._sum)]

    def channel_correlation(self) -> float | None:
        """Correlation of the two channels over everything processed, Σ L·R / √(Σ L² · Σ R²):
        +1 the same signal, 0 unrelated, −1 the same signal in opposite polarity (FFmpeg
        aphasemeter's phase, weighted by power); None for mono or a silent channel."""
        if self._cross is None or self._energy is None:
            return None
        el, er = (float(x) for x in to_host(self._energy))
        if el <= 0 or er <= 0:
            return None
        return float(to_host(self._cross)) / math.sqrt(el * er)

    def _consume(self, hop: Hop) -> None:
        self.loudness.consume(hop)
        self.clipping.consume(hop)
        self.speech.consume(hop)
        self.hum.consume(hop)
        self.dropouts.consume(hop)
        self.music.consume(hop)
        self.tones.consume(hop)
        # the true-peak envelope lags the input by bank.tp_delay samples
        self._keep_overs(self._overs.push(hop.tp > self._over_level, hop.tp,
                                          hop.start - self.bank.tp_delay))

    def _keep_overs(self, runs: list[Run]) -> None:
        self._over_count += len(runs)
        self._over_runs.extend(runs[: max(self.max_events - len(self._over_runs), 0)])

    def finish(self) -> list[Check]:
        for hop in self.bank.flush():
            self._consume(hop)
        self._keep_overs(self._overs.finish())
        loud = self.loudness.result()
        # S2 on the lecture itself: the intro's and the cards' sound is produced, not recorded
        power = self.speech.inside(self.spans, self._time(0.0))
        speech = estimate_speech_noise(power)
        keep = (within(self._time(0.0) + self.music.middles(), self.spans) if self.spans
                else None)
        self.music_bed = self.music.finish(speech.speech_dbfs, keep=keep)
        return [self._peak_check(loud), self._clipping_check(),
                self._snr_check(speech, self.music_bed), self._hum_check(),
                self._swings_check(loud), self._loudness_check(loud), self._phase_check(),
                self._dc_check(), self._dropouts_check(speech, power),
                self._silence_check(), self._music_check(speech, self.music_bed),
                self._tones_check()]

    # ------------------------------------------------------------------ checks

    def _time(self, seconds: float) -> float:
        return (self.t0 or 0.0) + max(seconds, 0.0)

    def _dc_check(self) -> Check:
        means = self.channel_means()
        if not means:
            return Check("audio.dc_offset", "S1", "skip", None, DC_OFFSET_DBFS, "dBFS",
                         "no samples")
        worst = max(range(len(means)), key=lambda i: abs(means[i]))
        level = amplitude_db(abs(means[worst]))
        shown = ", ".join(f"channel {i + 1} {m * 100:+.2f} %" for i, m in enumerate(means))
        measured = round(level, 2) if math.isfinite(level) else None
        if level > DC_OFFSET_DBFS:
            return Check("audio.dc_offset", "S1", "warn", measured, DC_OFFSET_DBFS, "dBFS",
                         f"DC offset {level:.1f} dBFS ({shown} of full scale): it takes "
                         "headroom from the peaks and clicks wherever the sound is cut or "
                         "faded; remove it (a high-pass or DC filter; the pipeline does so "
                         "itself for a raw source), or check the recorder's input")
        return Check("audio.dc_offset", "S1", "pass", measured, DC_OFFSET_DBFS, "dBFS",
                     f"no DC offset to speak of ({shown} of full scale)")

    def _phase_check(self) -> Check:
        r = self.channel_correlation()
        if r is None:
            why = ("one channel" if self._cross is None else
                   "a channel is silent (see format.audio_channels)")
            return Check("audio.phase", "D9", "skip", None, ANTI_PHASE, "correlation",
                         f"no channel pair to compare: {why}")
        el, er = (float(x) for x in to_host(self._energy))
        loss = mono_loss_db(el, er, float(to_host(self._cross)))
        mono = ("cancels completely" if loss == math.inf else
                f"is {loss:.1f} dB quieter than the channels")
        if r <= ANTI_PHASE:
            return Check("audio.phase", "D9", "fail", round(r, 3), ANTI_PHASE, "correlation",
                         f"the two channels are in opposite polarity (correlation {r:.2f}): "
                         f"the mono downmix {mono}, so on a phone's or laptop's single "
                         "speaker the voice all but vanishes, and on headphones it sounds "
                         "hollow; the specification wants a stereo mix-down (D9): invert "
                         "one channel's polarity (the pipeline does so itself for a raw "
                         "source), or check the microphone cable")
        how = ("in phase" if r >= 0.5 else
               "largely unrelated (two microphones, or a spaced stereo pair), not opposed")
        return Check("audio.phase", "D9", "pass", round(r, 3), ANTI_PHASE, "correlation",
                     f"channels {how} (correlation {r:.2f}); the mono downmix {mono}")

    def _peak_check(self, loud: Loudness) -> Check:
        lo, hi = self.profile.audio.peak_dbfs   # S1: programme (true) peak within −8…−2 dBFS
        tp = loud.true_peak_dbfs
        window = f"{lo:g}…{hi:g}"
        fs = self.sample_rate
        events = tuple(Event(start_s=self._time(r.start / fs), end_s=self._time(r.end / fs),
                             detail=f"true peak {amplitude_db(r.peak):.1f} dBFS, over {hi:g} dBFS")
                       for r in self._over_runs)
        if tp == -math.inf:
            return Check("audio.peak", "S1", "fail", None, window, "dBFS",
                         "no signal: the programme is silent", ())
        if tp > hi:
            msg = (f"true peak {tp:.1f} dBFS is above {hi:g} dBFS in {self._over_count} "
                   f"place(s); lower the level (sample peak {loud.sample_peak_dbfs:.1f} dBFS)")
            return Check("audio.peak", "S1", "fail", tp, window, "dBFS", msg, events)
        if tp < lo:
            msg = f"true peak {tp:.1f} dBFS is below {lo:g} dBFS: the level is too weak; raise it"
            return Check("audio.peak", "S1", "fail", tp, window, "dBFS", msg, ())
        return Check("audio.peak", "S1", "pass", tp, window, "dBFS",
                     f"true peak {tp:.1f} dBFS within {window} dBFS", ())

    def _clipping_check(self) -> Check:
        clip = self.clipping.finish()
        if clip.runs == 0 and clip.ceiling is not None:
            level = 20 * math.log10(clip.ceiling)
            spans = [(self._time(t), self._time(t), f"channel {c + 1} flat at {level:.1f} dBFS")
                     for t, c in clip.ceiling_at]
            events = merge_events(spans, gap_s=0.25, limit=self.max_events)
            return Check("audio.clipping", "S1", "fail", float(clip.ceiling_runs), 0.0, "runs",
                         f"clipped below full scale: {clip.ceiling_runs} flat tops at "
                         f"{level:.1f} dBFS, the loudest level of the recording (a mixer or "
                         "preamp overdriven before the recorder, the level lowered after), "
                         f"first at {timecode(events[0].start_s)}; record again with less "
                         "gain before the recorder", events)
        if clip.runs == 0:
            return Check("audio.clipping", "S1", "pass", 0.0, 0.0, "runs", "no clipping found")
        spans = [(self._time(s), self._time(e), f"channel {c + 1} at full scale "
                  f"for {round((e - s) * self.sample_rate)} samples") for s, e, c in clip.spans]
        events = merge_events(spans, gap_s=0.25, limit=self.max_events)
        first = timecode(events[0].start_s)
        msg = (f"{clip.runs} clipping run(s), {clip.clipped_samples} samples at full scale, "
               f"first at {first}; re-record or restore (declip) these passages")
        return Check("audio.clipping", "S1", "fail", float(clip.runs), 0.0, "runs", msg, events)

    def _snr_check(self, s: SpeechNoise, music: MusicBed) -> Check:
        minimum = self.profile.audio.snr_min_db   # S2: SNR ≥ 48 dB
        if math.isnan(s.snr_db):
            return Check("audio.snr", "S2", "skip", None, minimum, "dB",
                         "no speech over a noise floor could be measured "
                         "(silent, digital silence in the pauses, or too short)")
        detail = (f"speech {s.speech_dbfs:.1f} dBFS over noise floor {s.noise_dbfs:.1f} dBFS "
                  f"({100 * s.active_share:.0f} % of the time active)")
        if s.snr_db == math.inf:
            return Check("audio.snr", "S2", "pass", None, minimum, "dB",
                         f"speech {s.speech_dbfs:.1f} dBFS; the pauses are digital silence "
                         "(no noise floor)")
        if s.snr_db < minimum and math.isfinite(music.level_dbfs):
            return Check("audio.snr", "S2", "warn", s.snr_db, minimum, "dB",
                         f"the pauses hold background music (audio.music_bed): the floor "
                         f"measured, {s.noise_dbfs:.1f} dBFS, is mostly the music's, and the "
                         f"room's noise under it cannot be measured; the SNR is at least "
                         f"{s.snr_db:.1f} dB ({detail}). Judge S2 on the recording before "
                         "the music was added")
        if s.snr_db < minimum and s.floor == "unsettled":
            return Check("audio.snr", "S2", "warn", s.snr_db, minimum, "dB",
                         f"the pauses never settle: the sound in them is still dying away "
                         f"(the room's reverberation) when the next words begin, and the "
                         f"longer ones fall on past the floor measured, {s.noise_dbfs:.1f} "
                         f"dBFS; the room's noise floor is not reached, so the SNR is at "
                         f"least {s.snr_db:.1f} dB ({detail}). Reverberation this long also "
                         "blurs the words: record with a microphone close to the speaker "
                         "(a lavalier or headset) or in a less echoing room; denoising "
                         "does not help")
        how = (f"; the short pauses are filled by the room's reverberation, so the floor is "
               f"where the pauses settle ({s.steady_s:.1f} s of steady pause)"
               if s.floor == "steady" else "")
        if s.snr_db < minimum:
            return Check("audio.snr", "S2", "fail", s.snr_db, minimum, "dB",
                         f"SNR {s.snr_db:.1f} dB is below {minimum:g} dB: {detail}{how}; "
                         "reduce background noise or denoise")
        return Check("audio.snr", "S2", "pass", s.snr_db, minimum, "dB",
                     f"SNR {s.snr_db:.1f} dB: {detail}{how}")

    def _dropouts_check(self, speech: SpeechNoise, power: np.ndarray) -> Check:
        """``power``: the 50 ms frames S2 was judged on."""
        meter = self.dropouts
        t0 = self._time(0.0)
        result = meter.finish(power, speech.speech_dbfs, [
            self.speech.inside(self.spans, t0, k) for k in range(len(self.speech.channel_power))])
        if not math.isfinite(result.floor_dbfs):
            why = ("most of the pauses are digital silence (a noise gate or edited pauses): "
                   "a dropout cannot be told from a pause" if result.gated else
                   "no speech over a noise floor (silent or too short)")
            return Check("audio.dropouts", "S4", "skip", None, 0.0, "dropouts", why)
        found = [d for d in result.found
                 if not self.spans or any(a <= self._time(d.start_s) < b
                                          for a, b in self.spans)]
        edits = [d for d in found if d.channel is None and any(
            abs(self._time(d.start_s) - a) <= EDIT_ALIGN_S
            and abs(self._time(d.end_s) - b) <= EDIT_ALIGN_S for a, b in self.stills)]
        found = [d for d in found if d not in edits]
        rule = (f"the sound {meter.depth_db:g} dB or more under the room's noise floor "
                f"({result.floor_dbfs:.1f} dBFS) for {1000 * meter.min_s:g} ms to "
                f"{meter.max_s:g} s, with speech on both sides")
        if edits:
            rule += (f"; {len(edits)} such silence(s) cut in and out with a still picture "
                     f"(first at {timecode(self._time(edits[0].start_s))}): an edit, a card "
                     "between two excerpts, not a dropout")
        if not found:
            return Check("audio.dropouts", "S4", "pass", 0.0, 0.0, "dropouts",
                         f"no dropouts: the sound never broke off in the speech ({rule})")
        spans = [(self._time(d.start_s), self._time(d.end_s),
                  ("sound" if d.channel is None else f"channel {d.channel + 1}'s sound")
                  + f" gone for {1000 * (d.end_s - d.start_s):.0f} ms ("
                  + ("digital silence" if d.level_dbfs == -math.inf else
                     f"peaks {d.level_dbfs:.1f} dBFS" + (
                         f", {result.floor_dbfs - d.level_dbfs:.0f} dB under the room"
                         if d.channel is None else "")) + ")")
                 for d in found]
        events = merge_events(spans, gap_s=0.25, limit=self.max_events)
        return Check("audio.dropouts", "S4", "fail", float(len(found)), 0.0, "dropouts",
                     f"{len(found)} dropout(s), first at {timecode(events[0].start_s)}: the "
                     f"sound breaks off in the middle of speech ({rule}); a wireless "
                     "microphone losing its receiver, or a recorder or interface dropping "
                     "samples: re-record these passages or patch them from another "
                     "microphone", events)

    def _tones_check(self) -> Check:
        """S4: steady pure tones inside the lecture (``spans``; the whole stream without)."""
        meter = self.tones
        found = [(self._time(t.start_s), self._time(t.end_s), t) for t in meter.finish()]
        if self.spans:
            found = [(a, b, t) for a, b, t in found
                     if any(x <= a < y for x, y in self.spans)]
        rule = (f"one frequency holding {meter.share:.0%} of the sound, {meter.min_dbfs:g} "
                f"dBFS or louder, above {meter.min_hz:g} Hz, for {meter.min_s:g} s or more")
        if not found:
            return Check("audio.tones", "S4", "pass", 0.0, meter.min_s, "s",
                         f"no steady pure tones ({rule})")
        events = tuple(Event(a, b, f"{timecode(a)}–{timecode(b)}: a steady {t.hz:.0f} Hz tone "
                                   f"at {t.level_dbfs:.1f} dBFS for {b - a:.1f} s")
                       for a, b, t in found[: self.max_events])
        total = sum(b - a for a, b, _ in found)
        return Check("audio.tones", "S4", "fail", round(total, 3), meter.min_s, "s",
                     f"{len(found)} steady pure tone(s), {total:.1f} s in all, first "
                     f"{found[0][2].hz:.0f} Hz at {timecode(found[0][0])} ({rule}): a test tone "
                     "(bars and tone at a master's head) or acoustic feedback (a microphone "
                     "heard by the room's loudspeakers howling): cut the tone out, or turn the "
                     "loudspeakers down or away from the microphone", events)

    def _silence_check(self) -> Check:
        """S4: stretches of silence inside the lecture (``spans``; the whole stream without)."""
        t0 = self._time(0.0)
        found: list[tuple[float, float]] = []
        for a, b in self.dropouts.silences(level_dbfs=SILENCE_DBFS, min_s=SILENCE_WARN_S):
            a, b = t0 + a, t0 + b
            pieces = ([(max(a, x), min(b, y)) for x, y in self.spans if max(a, x) < min(b, y)]
                      if self.spans else [(a, b)])
            found += [(x, y) for x, y in pieces if y - x >= SILENCE_WARN_S - 1e-9]
        longest = max((b - a for a, b in found), default=0.0)
        rule = (f"every sample at or under {SILENCE_DBFS:g} dBFS for {SILENCE_WARN_S:g} s or "
                "more, FFmpeg silencedetect's rule")
        if not found:
            return Check("audio.silence", "S4", "pass", 0.0, SILENCE_WARN_S, "s",
                         f"no silent stretches: nowhere {rule}")
        events = tuple(Event(a, b, f"silent for {b - a:.1f} s") for a, b in found)
        total = sum(b - a for a, b in found)
        lost = longest >= SILENCE_FAIL_S
        message = (f"{len(found)} silent stretch(es), {total:.0f} s in all, the longest "
                   f"{longest:.1f} s from {timecode(events[0].start_s)} ({rule}): "
                   + ("the lecture has lost its sound there (a recorder that stopped, or an "
                      "export whose sound track is shorter than the picture): re-export or "
                      "re-record it" if lost else
                      "a person should listen: a silent demonstration is fine, lost sound "
                      "is not (a recorder that stopped, a muted microphone)"))
        return Check("audio.silence", "S4", "fail" if lost else "warn", round(longest, 2),
                     SILENCE_WARN_S, "s", message, events)

    def _music_check(self, speech: SpeechNoise, music: MusicBed) -> Check:
        least = self.profile.audio.music_under_speech_db   # S4: music in proportion
        if not math.isfinite(speech.speech_dbfs):
            return Check("audio.music_bed", "S4", "skip", None, least, "dB",
                         "no speech to weigh background music against")
        listened = f"{music.pauses_s:.0f} s of pauses between words listened to"
        if music.pauses_s < self.music.min_pause_s:
            return Check("audio.music_bed", "S4", "skip", None, least, "dB",
                         f"too few pauses to listen for background music in ({listened}; "
                         f"{self.music.min_pause_s:g} s needed)")
        if not music.spans:
            return Check("audio.music_bed", "S4", "pass", None, least, "dB",
                         f"no background music under the speech ({listened})")
        under = speech.speech_dbfs - music.level_dbfs
        events = tuple(Event(self._time(m.start_s), self._time(m.end_s),
                             f"music {speech.speech_dbfs - m.level_dbfs:.1f} dB under the "
                             "speech") for m in music.spans[: self.max_events])
        where = (f"from {timecode(events[0].start_s)} to {timecode(events[-1].end_s)}"
                 if len(events) == 1 else f"in {len(music.spans)} stretches, first at "
                 f"{timecode(events[0].start_s)}")
        detail = (f"background music {where}, {under:.1f} dB under the speech (music "
                  f"{music.level_dbfs:.1f} dBFS in the pauses, speech "
                  f"{speech.speech_dbfs:.1f} dBFS)")
        if under < least:
            return Check("audio.music_bed", "S4", "fail", round(under, 2), least, "dB",
                         f"{detail}: the narration must stand at least {least:g} dB over the "
                         "music; lower the music bed", events)
        return Check("audio.music_bed", "S4", "pass", round(under, 2), least, "dB", detail,
                     events)

    def _hum_check(self) -> Check:
        hum = self.hum.finish()
        limit = self.hum_prominence_db            # S3: no mains hum standing out
        if math.isnan(hum.prominence_db):
            return Check("audio.hum", "S3", "skip", None, limit, "dB",
                         "too short to average a spectrum")
        lines = hum_to_remove(hum, prominence_db=limit, min_level_dbfs=self.hum_min_level_dbfs)
        if not lines:
            audible = [h.prominence_db for h in hum.lines
                       if h.level_dbfs >= self.hum_min_level_dbfs]
            top = max(audible, default=0.0)
            return Check("audio.hum", "S3", "pass", top, limit, "dB",
                         f"no {hum.mains_hz:g} Hz hum: audible mains lines stand at most "
                         f"{top:.1f} dB out of the spectrum (lines under "
                         f"{self.hum_min_level_dbfs:g} dBFS are not heard)")
        listed = ", ".join(f"{h.frequency_hz:g} Hz (+{h.prominence_db:.0f} dB, "
                           f"{h.level_dbfs:.0f} dBFS)" for h in lines)
        end = self._time(self.bank.samples_in / self.sample_rate)
        event = Event(start_s=self._time(0.0), end_s=end, detail=f"mains hum at {listed}")
        return Check("audio.hum", "S3", "fail", hum.prominence_db, limit, "dB",
                     f"{hum.mains_hz:g} Hz mains hum: {listed}; check grounding, "
                     "or notch-filter the mains harmonics", (event,))

    def _swings_check(self, loud: Loudness) -> Check:
        largest, swings = volume_swings(self.loudness.step_energy, swing_lu=self.swing_lu)
        lra = f"loudness range {loud.loudness_range_lu:.1f} LU"
        if math.isnan(largest):
            return Check("audio.volume_swings", "S4", "skip", None, self.swing_lu, "LU",
                         f"no speech long enough to judge ({lra})")
        events = tuple(Event(start_s=self._time(s.start_s),
                             end_s=self._time(s.end_s),
                             detail=f"speech {abs(s.deviation_lu):.1f} LU "
                                    f"{'softer' if s.deviation_lu < 0 else 'louder'} "
                                    "than the surrounding minute")
                       for s in swings[: self.max_events])
        if not swings:
            return Check("audio.volume_swings", "S4", "pass", largest, self.swing_lu, "LU",
                         f"speech level steady: at most {largest:.1f} LU from its "
                         f"surroundings ({lra})")
        return Check("audio.volume_swings", "S4", "fail", largest, self.swing_lu, "LU",
                     f"{len(swings)} volume swing(s) of up to {largest:.1f} LU, first at "
                     f"{timecode(events[0].start_s)} ({lra}); even out the level "
                     "(compression / level riding)", events)

    def _loudness_check(self, loud: Loudness) -> Check:
        # informational (EBU R128 / BS.1770-4 integrated loudness): pass or warn, never fail
        if loud.integrated_lufs == -math.inf:
            return Check("audio.loudness", "S4", "warn", None, None, "LUFS",
                         "no programme loudness: silent or shorter than 400 ms")
        return Check("audio.loudness", "S4", "pass", loud.integrated_lufs, None, "LUFS",
                     f"integrated {loud.integrated_lufs:.1f} LUFS, loudness range "
                     f"{loud.loudness_range_lu:.1f} LU, max short-term "
                     f"{loud.max_short_term_lufs:.1f} LUFS, true peak "
                     f"{loud.true_peak_dbfs:.1f} dBFS")
