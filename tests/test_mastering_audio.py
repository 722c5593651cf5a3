"""Audio mastering (S1, S3, consistent loudness): planted inputs, measured outputs."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import audio_signals as sig
import av
import numpy as np
import pytest
import yaml

from courseware.audio_chain import HumNotch, PeakLimiter
from courseware.course import load_course
from encoder_profiles import load_profile
from qc_metrics.audio import AudioQC, live_channel
from tasks.probe import probe_lecture
from tasks.render import plan_audio, render_lecture

RATE = 48000
SECONDS = 8.0
PROFILE = load_profile()


def _clip(path: Path, audio: np.ndarray | None, *, size: tuple[int, int] = (320, 180),
          value: int = 128) -> None:
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = None
        if audio is not None:
            a = out.add_stream("aac", rate=RATE, layout="stereo")
            a.bit_rate = 256000
        frame = np.full((size[1], size[0], 3), value, np.uint8)
        for i in range(int(SECONDS * 25)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 25)
            for p in v.encode(vf):
                out.mux(p)
        if a is not None and audio is not None:
            stereo = np.ascontiguousarray(np.broadcast_to(audio, (2, audio.shape[-1])),
                                          dtype=np.float32)
            for k in range(0, stereo.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, k:k + 1024]),
                                                format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = RATE, k, Fraction(1, RATE)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)


def _course(root: Path, audio: np.ndarray) -> Path:
    root.mkdir(parents=True)
    _clip(root / "slides.mp4", None, size=(640, 360), value=220)
    _clip(root / "teacher.mp4", audio)
    data = {
        "course": {"name": "音频测试课程", "kind": "public", "hours": 16,
                   "applying_unit": "测试单位", "production_unit": "测试制作",
                   "recording_date": "2026-11-01",
                   "contact": {"name": "王老师", "phone": "029-12345678"}},
        "lecturers": [{"id": "a", "name": "张三", "title": "教授", "unit": "某大学"}],
        "lectures": [{"number": 1, "title": "第一讲", "lecturer": "a",
                      "sources": {"slides": "slides.mp4", "teacher": "teacher.mp4"}}],
    }
    path = root / "course.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def _speech(peak_dbfs: float, seed: int = 1) -> np.ndarray:
    x = sig.speech_like(level_dbfs=-20.0, seconds=SECONDS, sample_rate=RATE, seed=seed).samples[:1]
    return x * sig.amp(peak_dbfs) / np.abs(x).max()


def _metered(path: Path) -> AudioQC:
    """The audio QC fed with a rendered lecture's sound (``finish`` not yet called)."""
    qc = AudioQC(sample_rate=RATE, profile=PROFILE)
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            qc.process(frame.to_ndarray(), float(frame.time or 0.0))
    return qc


def _master(tmp: Path, name: str, audio: np.ndarray) -> tuple[dict[str, object], object]:
    course = load_course(_course(tmp / name, audio))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp / name / "out")
    qc = _metered(out.path)
    checks = {c.id: c for c in qc.finish()}
    return checks, plan


@pytest.fixture(scope="module")
def mastered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, object]]:
    tmp = tmp_path_factory.mktemp("mastering")
    hum = sig.mains_hum(mains_hz=50.0, level_dbfs=-36.0, seconds=SECONDS, sample_rate=RATE)
    return {
        "loud": _master(tmp, "loud", _speech(-0.5)),
        "quiet": _master(tmp, "quiet", _speech(-14.0, seed=2)),
        "hum": _master(tmp, "hum", _speech(-10.0, seed=3) + hum),
    }


@pytest.mark.parametrize("case", ["loud", "quiet", "hum"])
def test_peaks_land_inside_s1_without_clipping(mastered: dict, case: str) -> None:
    checks, _ = mastered[case]
    lo, hi = PROFILE.audio.peak_dbfs
    peak = checks["audio.peak"]
    assert peak.status == "pass" and lo <= peak.measured <= hi, peak
    assert checks["audio.clipping"].status == "pass", checks["audio.clipping"]


def test_hum_is_found_and_removed(mastered: dict) -> None:
    checks, plan = mastered["hum"]
    assert 50.0 in plan.notch_hz and 100.0 in plan.notch_hz  # measured on the source
    assert checks["audio.hum"].status == "pass", checks["audio.hum"]
    _, clean = mastered["loud"]
    assert clean.notch_hz == ()  # nothing to remove: no notch


def test_loudness_is_consistent_across_lectures(mastered: dict) -> None:
    """Two lectures 13.5 dB apart come out at one loudness: the profile's target, unless S1's
    peak floor needs more (this synthetic speech has a low crest factor, ~7 dB)."""
    enc = PROFILE.encode
    values = []
    for case in ("loud", "quiet"):
        checks, plan = mastered[case]
        wanted = max(enc.loudness_target_lufs - plan.integrated_lufs,
                     enc.min_peak_dbfs - plan.true_peak_dbfs)
        assert plan.gain_db == pytest.approx(wanted)
        out = checks["audio.loudness"].measured
        assert out == pytest.approx(plan.integrated_lufs + plan.gain_db, abs=1.0)
        values.append(out)
    assert max(values) - min(values) < 1.0, values


def test_a_microphone_on_one_channel_is_heard_on_both(tmp_path: Path) -> None:
    """A camera with the lecturer's microphone on input 1 and nothing on input 2: the render
    puts channel 1 on both sides, at the course loudness (BS.1770 sums the channels' powers:
    the plan counts the doubled channel, +3 dB, so the gain is not 3 dB too high)."""
    speech = _speech(-10.0, seed=4)
    course = load_course(_course(tmp_path / "one", np.vstack([speech, np.zeros_like(speech)])))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.channel == 0
    assert type(plan).model_validate_json(plan.model_dump_json()) == plan  # finite: JSON-safe
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    assert any("the sound is on channel 1 only" in w for w in out.warnings), out.warnings
    qc = _metered(out.path)
    left, right = qc.channel_levels_dbfs()
    assert abs(left - right) < 0.1, (left, right)
    loudness = next(c for c in qc.finish() if c.id == "audio.loudness").measured
    assert loudness == pytest.approx(plan.integrated_lufs + plan.gain_db, abs=1.0)


def test_a_microphone_wired_inverted_on_one_input_is_put_right(tmp_path: Path) -> None:
    """The lecturer's microphone on both inputs, one of them in opposite polarity: the plan
    sees the channels cancel, the render inverts the second back, the lecture's mono downmix
    keeps the voice, at the course loudness (inverting changes no channel's power)."""
    speech = _speech(-10.0, seed=5)
    course = load_course(_course(tmp_path / "inv", np.vstack([speech, -speech])))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.invert and plan.channel is None
    assert plan.correlation is not None and plan.correlation < -0.9
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    assert any("opposite polarity" in w for w in out.warnings), out.warnings
    qc = _metered(out.path)
    checks = {c.id: c for c in qc.finish()}
    assert checks["audio.phase"].status == "pass" and checks["audio.phase"].measured > 0.9
    assert checks["audio.loudness"].measured == pytest.approx(
        plan.integrated_lufs + plan.gain_db, abs=1.0)


def test_in_phase_sound_is_left_as_it_is(mastered: dict) -> None:
    checks, plan = mastered["loud"]
    assert not plan.invert and plan.correlation == pytest.approx(1.0, abs=0.01)
    assert checks["audio.phase"].status == "pass"
    assert plan.dc_offset == () and checks["audio.dc_offset"].status == "pass"


def test_a_dc_offset_is_removed(tmp_path: Path) -> None:
    """A recorder that adds 2 % of full scale to its left input: measured by the plan,
    subtracted in the render, so the lecture's channels centre on zero (no click where the
    sound starts after the title card)."""
    speech = _speech(-10.0, seed=6)
    course = load_course(_course(tmp_path / "dc", np.vstack([speech + 0.02, speech])))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert len(plan.dc_offset) == 2
    assert plan.dc_offset[0] == pytest.approx(0.02, abs=0.002)
    assert abs(plan.dc_offset[1]) < 0.002
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    qc = _metered(out.path)
    checks = {c.id: c for c in qc.finish()}
    assert checks["audio.dc_offset"].status == "pass"
    assert max(abs(m) for m in qc.channel_means()) < 10 ** (-55 / 20), qc.channel_means()


@pytest.mark.parametrize(("levels", "live"), [
    ((-20.0, -math.inf), 0), ((-math.inf, -20.0), 1), ((-20.0, -45.0), 0),
    ((-20.0, -30.0), None), ((-20.0,), None), ((-math.inf, -math.inf), None)])
def test_live_channel(levels: tuple[float, ...], live: int | None) -> None:
    assert live_channel(levels) == live


def test_limiter_never_exceeds_its_ceiling_and_notch_is_narrow() -> None:
    rng = np.random.default_rng(0)
    lim = PeakLimiter(0.5, sample_rate=RATE)
    x = (rng.standard_normal((2, RATE)) * 0.4).astype(np.float32)
    y = np.concatenate([lim(x[:, k:k + 999]) for k in range(0, RATE, 999)], axis=1)
    assert np.abs(y).max() <= 0.5 + 1e-6
    t = np.arange(3 * RATE) / RATE  # a Q = 30 notch at 50 Hz settles in ~0.2 s per e-fold
    notch = HumNotch([50.0], sample_rate=RATE, channels=1)
    tone50 = notch(np.sin(2 * np.pi * 50 * t)[None])[0, 2 * RATE:]
    tone200 = HumNotch([50.0], sample_rate=RATE, channels=1)(
        np.sin(2 * np.pi * 200 * t)[None])[0, 2 * RATE:]
    assert np.abs(tone50).max() < 0.01 and np.abs(tone200).max() > 0.99
