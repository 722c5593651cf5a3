"""Generated audio with known answers for the S1–S4 metrics (no media is committed).

Everything is float64 (channels, n) at full scale ±1.0, built from a seed. Levels are given
in dBFS: a sine's peak (``tone``), or RMS (noise, speech; 0 dBFS = full-scale DC power).
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


def amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(x: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(np.square(x))))


def _fades(n: int, sample_rate: int, fade_s: float) -> np.ndarray:
    """Raised-cosine fade in and out, so no onset step rings above the level (true peak)."""
    env = np.ones(n)
    k = min(int(fade_s * sample_rate), n // 2)
    if k:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        env[:k], env[n - k:] = ramp, ramp[::-1]
    return env


def tone(freq: float, *, peak_dbfs: float, seconds: float, sample_rate: int,
         channels: int = 1, fade_s: float = 0.05, phase: float = 0.0) -> np.ndarray:
    """A sine whose peak is ``peak_dbfs`` (also its true peak), faded in and out."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    x = amp(peak_dbfs) * np.sin(2 * np.pi * freq * t + phase) * _fades(n, sample_rate, fade_s)
    return np.repeat(x[None], channels, axis=0)


def white_noise(*, rms_dbfs: float, seconds: float, sample_rate: int, channels: int = 1,
                seed: int = 0) -> np.ndarray:
    """Gaussian noise scaled to exactly ``rms_dbfs`` per channel."""
    x = np.random.default_rng(seed).standard_normal((channels, round(seconds * sample_rate)))
    x -= x.mean(axis=1, keepdims=True)
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True)) * amp(rms_dbfs)


def pink_noise(*, rms_dbfs: float, seconds: float, sample_rate: int, channels: int = 1,
               seed: int = 0) -> np.ndarray:
    """1/f noise (−3 dB/octave from 20 Hz), shaped in the frequency domain."""
    n = round(seconds * sample_rate)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal((channels, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    spec *= 1 / np.sqrt(np.maximum(f, 20.0))
    spec[:, 0] = 0
    x = np.fft.irfft(spec, n, axis=1)
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True)) * amp(rms_dbfs)


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray   #: (channels, n)
    active: np.ndarray    #: (n,) bool, True while an utterance is on (the truth for S2)
    sample_rate: int


def speech_like(*, level_dbfs: float, seconds: float, sample_rate: int, channels: int = 1,
                seed: int = 0, pauses: tuple[float, float] = (0.3, 1.0)) -> Speech:
    """Voiced-speech-like sound: utterances of 0.8–2.5 s separated by pauses, a gliding pitch
    (90–200 Hz) with 24 harmonics falling 6 dB/octave, syllabic modulation at ~4 Hz that stays
    within 8 dB of the peak, 20 ms ramps. ``level_dbfs`` is the active-speech RMS: over the
    utterances only (ITU-T P.56 active level)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    active = np.zeros(n, dtype=bool)
    env = np.zeros(n)
    pos = rng.uniform(*pauses)
    ramp = int(0.02 * sample_rate)
    while pos < seconds - 0.5:
        dur = min(rng.uniform(0.8, 2.5), seconds - pos)
        a, b = round(pos * sample_rate), round((pos + dur) * sample_rate)
        seg = np.arange(b - a) / sample_rate
        syll = 0.6 + 0.4 * np.abs(np.sin(np.pi * rng.uniform(3.5, 4.5) * seg
                                         + rng.uniform(0, np.pi)))
        syll *= _fades(b - a, sample_rate, ramp / sample_rate)
        env[a:b], active[a:b] = syll, True
        pos += dur + rng.uniform(*pauses)
    # pitch: a smooth random contour between 90 and 200 Hz
    knots = rng.uniform(90.0, 200.0, size=int(seconds * 3) + 2)
    pitch = np.interp(t, np.linspace(0, seconds, knots.size), knots)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voiced = np.zeros(n)
    for k in range(1, 25):
        voiced += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    x = voiced * env
    x *= amp(level_dbfs) / np.sqrt(np.mean(x[active] ** 2))
    return Speech(np.repeat(x[None], channels, axis=0), active, sample_rate)


def music_like(*, rms_dbfs: float, seconds: float, sample_rate: int, seed: int = 0,
               chord_s: float = 2.0, a4_hz: float = 440.0,
               vibrato_cents: float = 0.0) -> np.ndarray:
    """Piano-like music in C major, mono (1, n), RMS ``rms_dbfs`` over the whole: a triad
    every ``chord_s`` (C, F, G or A minor, held and decaying) under a melody of notes of
    0.2–0.7 s, each note 8 harmonics falling as 1/k^1.2 with a 5 ms attack and an
    exponential decay. Tuned to ``a4_hz``; ``vibrato_cents``: each note's pitch swings this
    far either way at 5.5 Hz (strings, a singer)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    x = np.zeros(n)

    def note(midi: int, start: float, dur: float, level: float, decay_s: float) -> None:
        f0 = a4_hz * 2.0 ** ((midi - 69) / 12)
        a, b = round(start * sample_rate), min(n, round((start + dur) * sample_rate))
        s = np.arange(b - a) / sample_rate
        env = np.exp(-s / decay_s) * np.minimum(1.0, s / 0.005)
        env *= _fades(b - a, sample_rate, 0.03)
        bend = 2.0 ** (vibrato_cents / 1200.0 * np.sin(2 * np.pi * 5.5 * s))
        phase = 2 * np.pi * np.cumsum(f0 * bend) / sample_rate
        partials = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k ** 1.2
                       for k in range(1, 9) if k * f0 < sample_rate / 2.2)
        x[a:b] += level * env * partials

    pos = 0.0
    while pos < seconds:
        root = int(rng.choice([0, 5, 7, 9]))
        for step in (0, 3 if root == 9 else 4, 7):
            note(48 + root + step, pos, chord_s, 0.5, 1.5)
        pos += chord_s
    scale, pos = (0, 2, 4, 5, 7, 9, 11), 0.0
    while pos < seconds:
        dur, degree = rng.uniform(0.2, 0.7), int(rng.integers(0, 14))
        note(60 + 12 * (degree // 7) + scale[degree % 7], pos, dur + 0.3, 1.0, 0.6)
        pos += dur
    x -= x.mean()
    return (x / np.sqrt(np.mean(x * x)) * amp(rms_dbfs))[None]


def reverberant(x: np.ndarray, *, rt60_s: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """``x`` in a room: convolved with exponentially decaying noise (60 dB in ``rt60_s``)
    after a direct sound, at the same RMS."""
    m = round(1.5 * rt60_s * sample_rate)
    ir = np.random.default_rng(seed).standard_normal(m)
    ir *= np.exp(-math.log(1000.0) * np.arange(m) / (rt60_s * sample_rate))
    ir[0] = 8.0
    size = x.shape[1] + m
    y = np.fft.irfft(np.fft.rfft(x, size, axis=1) * np.fft.rfft(ir, size), size,
                     axis=1)[:, : x.shape[1]]
    return y * np.sqrt(np.mean(x * x) / np.mean(y * y))


def mains_hum(*, mains_hz: float, level_dbfs: float, seconds: float, sample_rate: int,
              harmonics: tuple[float, ...] = (0.0, -6.0, -3.0, -12.0, -9.0)) -> np.ndarray:
    """Hum: the mains fundamental with peak ``level_dbfs`` and harmonics at the relative
    levels given (dB; index 0 is the fundamental), as a mono (1, n) array."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    x = sum(amp(level_dbfs + rel) * np.sin(2 * np.pi * (k + 1) * mains_hz * t + k)
            for k, rel in enumerate(harmonics))
    return np.asarray(x)[None]


def clip_run(x: np.ndarray, *, at_s: float, samples: int, sample_rate: int,
             channel: int = 0) -> np.ndarray:
    """A copy of ``x`` with ``samples`` consecutive samples of one channel at full scale."""
    y = x.copy()
    i = round(at_s * sample_rate)
    y[channel, i: i + samples] = 1.0
    return y


def adeclip(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """FFmpeg's declipper (``adeclip``: autoregressive, detects the clipped samples itself)
    over a mono signal, through PyAV's filter graph: the reference for ours."""
    import av

    graph = av.filter.Graph()
    src = graph.add_abuffer(format="fltp", sample_rate=sample_rate, layout="mono", channels=1)
    declip, sink = graph.add("adeclip", ""), graph.add("abuffersink")
    src.link_to(declip)
    declip.link_to(sink)
    graph.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.pull().to_ndarray()[0])
            except (av.BlockingIOError, av.EOFError):
                return

    for k in range(0, x.size, 1024):
        frame = av.AudioFrame.from_ndarray(x[None, k: k + 1024].astype(np.float32),
                                           format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, k
        frame.time_base = Fraction(1, sample_rate)
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return np.concatenate(out)[: x.size]


def write_wav(path: Path, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """16-bit PCM WAV of ``x``; returns the samples as they are stored (what a decoder reads),
    so a meter fed these and FFmpeg reading the file measure the same signal."""
    q = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(q.T.tobytes())
    return q.astype(np.float64) / 32768.0


def decoded_sound(path: Path) -> np.ndarray:
    """A media file's whole first audio stream, decoded: (channels, n)."""
    import av

    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)


def reader(x: np.ndarray, dtype: type = np.float64) -> Callable[[int], np.ndarray]:
    """``x`` (channels, n) as the render's readers give sound: ``read(n)`` the next n samples,
    silence past its end."""
    pos = 0

    def read(n: int) -> np.ndarray:
        nonlocal pos
        out = x[:, pos: pos + n]
        pos += n
        return np.pad(out, ((0, 0), (0, n - out.shape[1]))).astype(dtype, copy=False)

    return read


def blocks(x: np.ndarray, size: int):
    """(block, index of its first sample) pieces of ``x`` as a stream would deliver them."""
    for i in range(0, x.shape[1], size):
        yield x[:, i: i + size], i
