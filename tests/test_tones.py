"""``audio.tones`` (S4): a steady pure tone where the lecture should be heard: the test tone
of bars and tone (FFmpeg's ``sine`` source, coded as a master would be), or a loudspeaker
howling into the microphone (acoustic feedback). Speech, hum, music and a quiet tone are
not one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from audio_signals import amp, mains_hum, speech_like, white_noise, write_wav
from foreign_media import FFMPEG

from encoder_profiles import load_profile
from qc_metrics.audio import AudioQC
from tasks.qc import qc_file

FS = 48000
PROFILE = load_profile()


def _speech(seconds: float, seed: int = 1) -> np.ndarray:
    voice = speech_like(level_dbfs=-22.0, seconds=seconds, sample_rate=FS, seed=seed).samples
    return voice + white_noise(rms_dbfs=-65.0, seconds=seconds, sample_rate=FS, seed=seed + 1)


def _tones(x: np.ndarray, *, spans: tuple[tuple[float, float], ...] = ()):
    qc = AudioQC(sample_rate=FS, profile=PROFILE, spans=spans)
    for k in range(0, x.shape[1], 4800):
        qc.process(np.ascontiguousarray(x[:, k:k + 4800], dtype=np.float32), k / FS)
    return next(c for c in qc.finish() if c.id == "audio.tones")


def test_bars_and_tone_at_a_masters_head(tmp_path: Path) -> None:
    """3 s of FFmpeg's 1 kHz sine (peak 1/8) raised to −18 dBFS RMS (EBU R68's alignment
    level), then the lecture, AAC at 128 kbps: the tone is found from its start to its end
    (± one 85 ms frame), at 1000 Hz and −18 dBFS."""
    speech = tmp_path / "speech.wav"
    write_wav(speech, _speech(6.0), FS)
    path = tmp_path / "master.m4a"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=3",
                    "-i", str(speech), "-filter_complex",
                    "[0]volume=3.01dB[t];[t][1]concat=n=2:v=0:a=1", "-c:a", "aac",
                    "-b:a", "128k", str(path)], check=True, capture_output=True)
    check = next(c for c in qc_file(path, profile=PROFILE, gpu=False).report.checks
                 if c.id == "audio.tones")
    assert (check.status, check.clause) == ("fail", "S4"), check
    (event,) = check.events
    assert event.start_s == pytest.approx(0.0, abs=0.09)
    assert event.end_s == pytest.approx(3.0, abs=0.09)
    hz, level = re.search(r"a steady (\d+) Hz tone at (-?[\d.]+) dBFS", event.detail).groups()
    assert int(hz) == pytest.approx(1000, abs=2) and float(level) == pytest.approx(-18, abs=0.3)
    assert "test tone" in check.message and "feedback" in check.message


def test_a_loudspeaker_howling_into_the_microphone() -> None:
    """Feedback: a 2.5 kHz howl over the speech (−22 dBFS), swelling from −30 dBFS within
    0.3 s and ringing at −10 dBFS for 1.2 s more, as a loop past its stability does."""
    x = _speech(8.0)
    t = np.arange(round(1.5 * FS)) / FS
    i = round(4.0 * FS)
    rms_db = np.minimum(-30.0 + 20.0 * t / 0.3, -10.0)
    x[:, i:i + t.size] += 10 ** (rms_db / 20) * np.sqrt(2) * np.sin(2 * np.pi * 2500 * t)
    check = _tones(x)
    assert check.status == "fail"
    (event,) = check.events
    # the howl holds 90 % of the sound once it stands 10 dB or so over the speech
    assert 4.1 <= event.start_s <= 4.4 and event.end_s == pytest.approx(5.5, abs=0.09)
    assert "2500 Hz" in event.detail


def test_speech_hum_music_and_a_quiet_tone_are_not_tones() -> None:
    assert _tones(_speech(8.0)).status == "pass"
    hum = _speech(8.0) + mains_hum(mains_hz=50.0, level_dbfs=-20.0, seconds=8.0,
                                   sample_rate=FS, harmonics=(0.0,))
    assert _tones(hum).status == "pass"                       # audio.hum's, not a tone
    t = np.arange(round(0.3 * FS)) / FS                       # a tune: a note each 0.3 s
    notes = [sum(amp(-20) * np.sin(2 * np.pi * f * t) for f in chord)
             for chord in ((262, 330, 392), (294, 370, 440), (330, 415, 494))] * 9
    assert _tones(np.concatenate(notes)[None]).status == "pass"
    quiet = _speech(8.0)
    quiet[:, : 2 * FS] = amp(-52.0) * np.sin(2 * np.pi * 1000 * np.arange(2 * FS) / FS)
    assert _tones(quiet).status == "pass"                     # under −40 dBFS: not heard


def test_only_the_lecture_is_judged_in_a_rendered_film() -> None:
    """With the layout's spans (the lecture after the intro), a tone in the intro is the
    intro's; the same tone inside the lecture fails."""
    x = _speech(10.0)
    x[:, : 2 * FS] = amp(-18.0) * np.sin(2 * np.pi * 1000 * np.arange(2 * FS) / FS)
    assert _tones(x, spans=((3.0, 10.0),)).status == "pass"
    assert _tones(x, spans=((0.0, 10.0),)).status == "fail"
