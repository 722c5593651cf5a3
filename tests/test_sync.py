"""GCC-PHAT offsets: planted lags recovered within a fraction of a video frame."""

from __future__ import annotations

from typing import Any

import audio_signals as sig
import numpy as np
import pytest

from qc_metrics.sync import estimate_offset

RATE = 8000


def _speechish(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 4 * t) > 0) * (rng.random(t.size // 2000 + 1) > 0.3
                                                  ).repeat(2000)[: t.size]
    return (voiced * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("lag_s", [0.7, 3.2, -1.35, 0.0])
def test_planted_lag_is_recovered(lag_s: float) -> None:
    src = _speechish(30.0, seed=1)
    shift = round(lag_s * RATE)
    a = src[max(0, shift): max(0, shift) + 20 * RATE]  # reference starts `lag` later
    b = src[max(0, -shift): max(0, -shift) + 20 * RATE]
    # a different microphone: other gain, a low-pass, its own noise
    rng = np.random.default_rng(2)
    b = np.convolve(0.4 * b, np.ones(5) / 5, mode="same") + 0.005 * rng.standard_normal(b.size)
    est = estimate_offset(a, b, rate=RATE, max_lag_s=10)
    # a(t) = src(t + shift) and b(t) = src(t): the same sound is at t_a = t_b − lag
    assert est.lag_s == pytest.approx(-lag_s, abs=0.04 / 10)
    assert est.confidence > 20


@pytest.mark.parametrize("late_s", [70.0, 5.0])
def test_a_short_window_is_found_far_into_a_long_one(late_s: float) -> None:
    """20 s of sound found 70 s into 100 s (further than half the correlation's length,
    where its circular layout once read it as a negative lag) and 5 s in; and the long one
    found in the short one's place the other way round (a negative lag)."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal(100 * RATE)
    k = round(late_s * RATE)
    b = np.convolve(0.5 * a[k: k + 20 * RATE], np.ones(3) / 3, mode="same")
    est = estimate_offset(a, b, rate=RATE, max_lag_s=100.0)
    assert est.lag_s == pytest.approx(late_s, abs=1 / RATE) and est.confidence > 100
    assert estimate_offset(b, a, rate=RATE, max_lag_s=100.0).lag_s == pytest.approx(
        -late_s, abs=1 / RATE)


@pytest.mark.gpu
def test_cupy_offset_parity(device_xp: Any) -> None:
    """The same lag and peak on CuPy as on NumPy, a short window far into a long one."""
    cupy = device_xp
    rng = np.random.default_rng(10)
    a = rng.standard_normal(100 * RATE)
    b = np.convolve(0.5 * a[70 * RATE: 90 * RATE], np.ones(3) / 3, mode="same")
    cpu = estimate_offset(a, b, rate=RATE, max_lag_s=100.0)
    gpu = estimate_offset(cupy.asarray(a), cupy.asarray(b), rate=RATE, max_lag_s=100.0)
    assert gpu.lag_s == pytest.approx(cpu.lag_s, abs=1e-6)
    assert gpu.confidence == pytest.approx(cpu.confidence, rel=1e-6)


def test_unrelated_audio_has_low_confidence() -> None:
    a, b = _speechish(10, seed=3), _speechish(10, seed=4)
    rng = np.random.default_rng(5)
    est = estimate_offset(rng.standard_normal(a.size), b, rate=RATE, max_lag_s=5)
    assert est.confidence < 8


def test_a_weak_peak_must_be_found_again() -> None:
    """A peak between MIN_CONFIDENCE and CERTAIN_CONFIDENCE is kept only where two pieces
    of the sound the two share find it again: two microphones whose first minute is only
    their own hiss (the room before the class) and whose second is the same speech agree;
    a peak put at a wrong offset, or two unrelated recordings, do not."""
    from dataclasses import replace

    from tasks.sync import _confirmed

    rng = np.random.default_rng(30)
    speech = _speechish(61.3, seed=31)
    a = np.r_[0.01 * rng.standard_normal(60 * RATE), speech[round(1.3 * RATE):]]
    b = np.r_[0.01 * rng.standard_normal(60 * RATE), speech[: 60 * RATE]]
    b = np.convolve(0.4 * b, np.ones(5) / 5, mode="same")
    found = estimate_offset(a, b, rate=RATE, max_lag_s=30)
    assert found.lag_s == pytest.approx(-1.3, abs=0.001)
    weak = replace(found, confidence=50.0)          # as a quieter room might give
    assert _confirmed(a, b, weak)
    assert not _confirmed(a, b, replace(weak, lag_s=weak.lag_s + 7.0))
    from audio_signals import speech_like

    other = speech_like(level_dbfs=-20.0, seconds=120.0, sample_rate=RATE, seed=32).samples[0]
    assert not _confirmed(other, b, replace(weak, lag_s=0.0))


# ----------------------------------------------------------------------------- clock drift

FS = 48000
LECTURE_S = 30.0
EVENTS = (1.3, 4.1, 7.7, 11.2, 14.8, 18.5, 21.9, 25.6, 28.9)   # camera time, s
FAST = 800e-6                     # the recorder's clock runs 800 ppm fast: 24 ms over 30 s


def _scene() -> np.ndarray:
    """The room's sound in real time (= the camera's clock): speech, clicks at EVENTS."""
    from audio_signals import speech_like, white_noise

    x = speech_like(level_dbfs=-26.0, seconds=LECTURE_S, sample_rate=FS, seed=5).samples[0]
    x = x + white_noise(rms_dbfs=-45.0, seconds=LECTURE_S, sample_rate=FS, seed=6)[0]
    rng = np.random.default_rng(7)
    for t in EVENTS:
        k = round(t * FS)
        x[k:k + 480] += 0.5 * rng.standard_normal(480)
    return x


def _camera(path, sound: np.ndarray) -> None:
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = out.add_stream("aac", rate=FS, layout="stereo")
        grey = np.full((90, 160, 3), 100, np.uint8)
        for i in range(int(LECTURE_S * 25)):
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        stereo = np.ascontiguousarray(np.vstack([sound, sound]), dtype=np.float32)
        for k in range(0, stereo.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, k:k + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = FS, k, Fraction(1, FS)
            out.mux(a.encode(frame))
        out.mux(v.encode(None))
        out.mux(a.encode(None))


def test_a_separate_recorders_clock_drift_is_taken_out(tmp_path) -> None:
    """A separate sound recorder started 1 s before the camera, its clock 800 ppm fast: the
    sync measures the drift against the camera's own sound at the end of the lecture, and
    the lecture's clicks land on the camera's events from the first to the last (within
    5 ms; with the start offset alone the last is 23 ms off)."""
    from audio_signals import write_wav
    from course_files import one_lecture
    from scipy.signal import resample

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture
    from tasks.sync import sync_sources

    scene = _scene()
    _camera(tmp_path / "teacher.mp4", 0.5 * scene)
    fast = resample(scene, round(scene.size * (1 + FAST)))       # more samples per second
    write_wav(tmp_path / "mic.wav", np.r_[np.zeros(FS), fast][None], FS)
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4", "audio": "mic.wav"},
                                     layout="teacher_only", name="漂移测试"))
    profile = load_profile()
    inputs = sync_sources(probe_lecture(course, course.lectures[0]), window_s=6.0)
    mic = inputs.sources["audio"]
    assert mic.offset_s == pytest.approx(1.0, abs=0.002)
    assert mic.clock == pytest.approx(1 + FAST, abs=60e-6)
    out = render_lecture(course, inputs, audio=plan_audio(inputs, profile), profile=profile,
                         out_dir=tmp_path / "out")
    from audio_signals import decoded_sound

    start = out.cameras[0].start_s
    lecture = np.abs(decoded_sound(out.path)[0, round(start * FS):])
    loud = np.flatnonzero(lecture > 0.5 * lecture.max())
    onsets = loud[np.r_[True, np.diff(loud) > FS // 2]] / FS
    assert onsets == pytest.approx(EVENTS, abs=0.005)


@pytest.mark.parametrize("ratio", [1.0, 1.0001, 0.9995])
def test_respeed_is_a_clean_resampler(ratio: float) -> None:
    """y[k] = x(ratio · k) against the sines evaluated there: −70 dB or better, the same
    samples at ratio 1, read in video-frame-sized pieces."""
    from courseware.media import Respeed

    k = np.arange(3 * FS)
    x = np.stack([np.sin(2 * np.pi * 1000 * k / FS), np.sin(2 * np.pi * 5000 * k / FS + 1)])
    respeed = Respeed(sig.reader(x, np.float32), ratio)
    y = np.concatenate([respeed.read(1920) for _ in range(2 * FS // 1920)], axis=1)
    t = ratio * np.arange(y.shape[1]) / FS
    truth = np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t + 1)])
    err = y[:, 64:] - truth[:, 64:]             # after the kernel's half at the start
    assert 10 * np.log10(np.mean(err ** 2) / 0.5) < -70.0


def test_a_recorder_that_stops_early_is_followed_by_the_cameras_own_sound(tmp_path) -> None:
    """The separate recorder stops 10 s before the lecture ends (its file is shorter than
    the camera's); the teacher camera's own microphone heard the same speech, 6 dB quieter.
    The plan measures the recorder's sound only where there is some, finds where it ends and
    plays the rest from the camera at the recorder's level, and says so; where no other
    microphone heard the speech, it says the rest is silent."""
    from audio_signals import decoded_sound, white_noise, write_wav
    from course_files import one_lecture

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from tasks.probe import probe_lecture
    from tasks.render import plan_audio, render_lecture, sound_ends
    from tasks.sync import sync_sources

    scene = _scene()
    _camera(tmp_path / "teacher.mp4",
            0.5 * scene + white_noise(rms_dbfs=-52.0, seconds=LECTURE_S, sample_rate=FS,
                                      seed=9)[0])
    stop = 20.0                     # lecture time: the recorder runs 1 s ahead of the camera
    write_wav(tmp_path / "mic.wav", np.r_[np.zeros(FS), scene[:round(stop * FS)]][None]
              .repeat(2, axis=0), FS)
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4", "audio": "mic.wav"},
                                     layout="teacher_only", name="断录测试"))
    profile = load_profile()
    inputs = sync_sources(probe_lecture(course, course.lectures[0]))
    plan = plan_audio(inputs, profile)
    assert plan.role == "audio" and plan.sound_ends_s == pytest.approx(stop, abs=0.01)
    assert plan.patch_role == "teacher" and plan.patch_spans[-1] == pytest.approx(
        (stop, LECTURE_S), abs=0.05)
    assert plan.patch_gain_db == pytest.approx(6.0, abs=0.5)
    # measured on the recorder's sound alone: its S2 is the room's (the speech 19 dB over
    # white noise at -45 dBFS), not "digital silence in the pauses"
    assert plan.snr_db is not None and plan.snr_db < 30.0, plan.snr_db
    (warning,) = sound_ends(inputs, plan)
    assert "00:00:20" in warning and "teacher camera" in warning

    out = render_lecture(course, inputs, audio=plan, profile=profile, out_dir=tmp_path / "out")
    sound = decoded_sound(out.path)[0, round(out.cameras[0].start_s * FS):]

    def level(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x * x) + 1e-30))

    before = level(sound[round(12 * FS): round(19 * FS)]) - level(scene[12 * FS: 19 * FS])
    after = level(sound[round(21 * FS): round(28 * FS)]) - level(scene[21 * FS: 28 * FS])
    assert after == pytest.approx(before, abs=1.5)     # the speech goes on, at its level

    alone = sync_sources(probe_lecture(load_course(one_lecture(
        tmp_path, {"audio": "mic.wav", "teacher": "teacher.mp4"}, layout="teacher_only",
        name="断录测试")), course.lectures[0]))
    silent = plan_audio(alone.model_copy(update={"sources": {
        r: s.model_copy(update={"matched": False}) for r, s in alone.sources.items()}}), profile)
    assert silent.patch_role is None and silent.sound_ends_s == pytest.approx(stop, abs=0.01)
    (warning,) = sound_ends(alone, silent)
    assert "silent" in warning


def test_a_recorders_dropouts_are_played_from_the_cameras_own_sound(tmp_path) -> None:
    """A wireless microphone's recorder loses the speech for 300 ms (a receiver dropping
    out); the teacher camera's own microphone heard the same speech, 6 dB quieter, over its
    own hiss. The plan finds the dropout and the camera, the render plays that stretch from
    the camera at the recorder's level: the lecture has no dropout left, and the stretch
    carries the speech at the level around it. Without the patch the lecture fails S4."""
    from audio_signals import decoded_sound, speech_like, white_noise, write_wav
    from course_files import one_lecture

    from courseware.course import load_course
    from encoder_profiles import load_profile
    from qc_metrics.audio import AudioQC
    from tasks.probe import probe_lecture
    from tasks.render import patched, plan_audio, render_lecture
    from tasks.sync import sync_sources

    scene = _scene()
    active = speech_like(level_dbfs=-26.0, seconds=LECTURE_S, sample_rate=FS, seed=5).active
    gone = (round(9.0 * FS), round(9.3 * FS))
    assert active[gone[0] - FS // 10: gone[1] + FS // 10].all()       # mid-sentence
    _camera(tmp_path / "teacher.mp4",
            0.5 * scene + white_noise(rms_dbfs=-52.0, seconds=LECTURE_S, sample_rate=FS,
                                      seed=9)[0])
    mic = scene.copy()
    mic[gone[0]: gone[1]] = 0.0
    write_wav(tmp_path / "mic.wav", np.r_[np.zeros(FS), mic][None].repeat(2, axis=0), FS)
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4", "audio": "mic.wav"},
                                     layout="teacher_only", name="掉线测试"))
    profile = load_profile()
    inputs = sync_sources(probe_lecture(course, course.lectures[0]))
    plan = plan_audio(inputs, profile)
    assert plan.patch_role == "teacher"
    (span,) = plan.patch_spans
    assert span == pytest.approx((9.0, 9.3), abs=0.005)
    assert plan.patch_gain_db == pytest.approx(6.0, abs=0.5)
    (warning,) = patched(inputs, plan)
    assert "teacher camera" in warning and "00:00:09" in warning

    def lecture(audio, name):
        out = render_lecture(course, inputs, audio=audio, profile=profile,
                             out_dir=tmp_path / name)
        sound = decoded_sound(out.path)[:, round(out.cameras[0].start_s * FS):]
        qc = AudioQC(sample_rate=FS, profile=profile)
        qc.process(sound, 0.0)
        checks = {c.id: c for c in qc.finish()}
        return sound[0], checks["audio.dropouts"]

    sound, dropouts = lecture(plan, "patched")
    assert dropouts.status == "pass", dropouts.message

    def rms_db(a: float, b: float) -> float:
        x = sound[round(a * FS): round(b * FS)]
        return float(10 * np.log10(np.mean(x * x) + 1e-30))

    around = rms_db(8.0, 9.0) - 10 * np.log10(np.mean(scene[8 * FS: 9 * FS] ** 2))
    inside = rms_db(9.0, 9.3) - 10 * np.log10(np.mean(scene[gone[0]: gone[1]] ** 2))
    assert inside == pytest.approx(around, abs=1.5)        # the speech, at its own level
    sound, dropouts = lecture(plan.model_copy(update={"patch_role": None}), "unpatched")
    assert dropouts.status == "fail", dropouts.message
    assert dropouts.events[0].start_s == pytest.approx(9.0, abs=0.06)
    assert rms_db(9.05, 9.25) < -100.0                     # the recorder's silence


# ------------------------------------------------------------------ sources started far apart

def _far_apart(tmp_path, late_role: str, late_s: float, *, related: bool = True):
    """A room's speech heard by the slides capture's microphone and, more
    quietly and through another filter, by the teacher camera's; ``late_role`` switched
    on ``late_s`` after the other. WAV files at the sync's rate (only the sound is read)."""
    from audio_signals import speech_like, write_wav

    from tasks.probe import LectureInputs, SourceInfo

    def talk(seed: int) -> np.ndarray:
        return speech_like(level_dbfs=-20.0, seconds=late_s + 240.0, sample_rate=RATE,
                           seed=seed).samples[0]

    world = talk(11)
    rng = np.random.default_rng(12)
    heard = {
        "slides": world + 0.005 * rng.standard_normal(world.size),
        "teacher": np.convolve(0.4 * world, np.ones(5) / 5, mode="same")
        + 0.003 * rng.standard_normal(world.size),
    }
    if not related:
        heard["slides"] = talk(13) + 0.005 * rng.standard_normal(world.size)
    sources = {}
    for role, x in heard.items():
        x = x[round(late_s * RATE):] if role == late_role else x
        path = tmp_path / f"{role}.wav"
        write_wav(path, np.clip(x, -1, 1)[None].astype(np.float32), RATE)
        sources[role] = SourceInfo(role=role, path=path, duration_s=x.size / RATE,
                                   has_audio=True)
    return LectureInputs(number=1, label="1 《远》", sources=sources)


@pytest.mark.parametrize("late_role", ["teacher", "slides"])
def test_sources_switched_on_minutes_apart_are_synced(tmp_path, late_role: str) -> None:
    """The teacher camera (the programme microphone) switched on 7 min after the slides
    capture, or the slides capture 7 min after the camera: beyond the first windows' reach
    (±30 s), each one's first window is found in the other's first half hour; the earlier
    source's offset is the 7 min, to the sample rate's precision (a frame is 40 ms)."""
    from tasks.sync import sync_sources

    inputs = sync_sources(_far_apart(tmp_path, late_role, 420.0), window_s=60.0)
    early = "slides" if late_role == "teacher" else "teacher"
    assert inputs.sources[early].offset_s == pytest.approx(420.0, abs=0.005)
    assert inputs.sources[late_role].offset_s == 0.0
    assert inputs.sources["slides"].matched


def test_unrelated_sound_far_apart_is_not_matched(tmp_path) -> None:
    """A slides capture whose sound is another room's: no match near or far, the offset
    stays 0, and the lecture's notes say so and where to set it."""
    from tasks.sync import sync_sources

    inputs = sync_sources(_far_apart(tmp_path, "teacher", 420.0, related=False),
                          window_s=60.0)
    assert inputs.sources["slides"].offset_s == 0.0 and not inputs.sources["slides"].matched
    (note,) = inputs.notes               # said by the render and the plan (source_notes)
    assert "slides: its sound does not match the teacher's" in note
    assert "up to 30 min apart" in note and "sources.offsets.slides" in note


def test_a_recorder_started_minutes_early_and_running_fast(tmp_path) -> None:
    """A recorder switched on 7 min before the teacher camera, its clock 800 ppm fast: the
    far search finds the start, the end of the lecture the drift; the recorder is read from
    where its clock stood when the camera started (7 min × its rate), within 5 ms."""
    from audio_signals import speech_like, write_wav
    from scipy.signal import resample

    from tasks.probe import LectureInputs, SourceInfo
    from tasks.sync import sync_sources

    world = speech_like(level_dbfs=-20.0, seconds=720.0, sample_rate=RATE, seed=21).samples[0]
    world = world + np.random.default_rng(22).normal(0.0, 0.003, world.size)
    fast = resample(world, round(world.size * (1 + FAST)))        # more samples per second
    camera = np.convolve(0.4 * world[420 * RATE:], np.ones(5) / 5, mode="same")
    write_wav(tmp_path / "mic.wav", np.clip(fast, -1, 1)[None], RATE)
    write_wav(tmp_path / "teacher.wav", np.clip(camera, -1, 1)[None], RATE)
    inputs = LectureInputs(number=1, label="1 《漂》", sources={
        "teacher": SourceInfo(role="teacher", path=tmp_path / "teacher.wav",
                              duration_s=camera.size / RATE, has_audio=True),
        "audio": SourceInfo(role="audio", path=tmp_path / "mic.wav",
                            duration_s=fast.size / RATE, has_audio=True)})
    synced = sync_sources(inputs, window_s=60.0)
    mic = synced.sources["audio"]
    assert mic.clock == pytest.approx(1 + FAST, abs=30e-6)
    assert mic.offset_s == pytest.approx(420.0 * (1 + FAST), abs=0.005)
    assert synced.sources["teacher"].offset_s == 0.0
