"""Audio mastering (S1, S3, consistent loudness): planted inputs, measured outputs."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import audio_signals as sig
import av
import numpy as np
import pytest
from course_files import one_lecture

from courseware.audio_chain import HumNotch, NoiseReducer, Patch, PeakLimiter, pause_spectrum
from courseware.course import load_course
from encoder_profiles import load_profile
from qc_metrics.audio import AudioQC, live_channel
from qc_metrics.loudness import measure_loudness
from tasks.probe import probe_lecture
from tasks.render import music_bed, plan_audio, render_lecture, reverberant, too_noisy

RATE = 48000
SECONDS = 8.0
PROFILE = load_profile()


def _clip(path: Path, audio: np.ndarray | None, *, size: tuple[int, int] = (320, 180),
          value: int = 128, seconds: float = SECONDS) -> None:
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = None
        if audio is not None:
            a = out.add_stream("aac", rate=RATE, layout="stereo")
            a.bit_rate = 256000
        frame = np.full((size[1], size[0], 3), value, np.uint8)
        for i in range(int(seconds * 25)):
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


def _course(root: Path, audio: np.ndarray, seconds: float = SECONDS,
            intro: np.ndarray | None = None) -> Path:
    root.mkdir(parents=True)
    _clip(root / "slides.mp4", None, size=(640, 360), value=220, seconds=seconds)
    _clip(root / "teacher.mp4", audio, seconds=seconds)
    if intro is not None:
        _clip(root / "intro.mp4", intro, value=60)
    return one_lecture(root, {"slides": "slides.mp4", "teacher": "teacher.mp4"},
                       intro="intro.mp4" if intro is not None else None, name="音频测试课程")


def _speech(peak_dbfs: float, seed: int = 1, seconds: float = SECONDS) -> np.ndarray:
    x = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE, seed=seed).samples[:1]
    return x * sig.amp(peak_dbfs) / np.abs(x).max()


def _metered(path: Path, spans: tuple = ()) -> AudioQC:
    """The audio QC fed with a rendered lecture's sound (``finish`` not yet called);
    ``spans``: the render's camera spans, to judge S2 on the lecture itself."""
    qc = AudioQC(sample_rate=RATE, profile=PROFILE,
                 spans=[(c.start_s, c.end_s) for c in spans])
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


def test_the_intro_plays_at_the_lectures_loudness(tmp_path: Path) -> None:
    """A provincial intro mastered 11 dB louder than the course's target: lecture 1 opens
    at the lecture's loudness, not with a jump (S4: no volume swinging loud and soft). The
    lecture here is over the target: its low-crest synthetic speech is raised to S1's peak
    floor, and the intro follows it."""
    intro = sig.speech_like(level_dbfs=-9.0, seconds=SECONDS, sample_rate=RATE,
                            seed=9).samples[:1]
    course = load_course(_course(tmp_path / "intro", _speech(-10.0), intro=intro))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    sound = sig.decoded_sound(out.path)
    start = out.cameras[0].start_s                         # intro, title card, lecture
    opening = measure_loudness(sound[:, : round(SECONDS * RATE)], sample_rate=RATE)
    lecture = measure_loudness(sound[:, round(start * RATE):], sample_rate=RATE)
    assert plan.intro_gain_db < -2.0                        # measured on the intro file
    assert opening.integrated_lufs == pytest.approx(lecture.integrated_lufs, abs=1.0)
    assert opening.true_peak_dbfs <= PROFILE.audio.peak_dbfs[1]


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


def test_two_microphones_on_two_inputs_the_cleaner_is_used_and_patched(tmp_path: Path
                                                                       ) -> None:
    """A camcorder with a wireless lavalier on input 1 (the speech 45 dB over its hiss) and
    its own microphone on input 2 (the same speech 3 ms later and 6 dB quieter, 20 dB over
    the room); the lavalier drops out for 300 ms mid-sentence. The plan uses the lavalier on
    both sides, measured as it will play; its dropout is played from input 2 at the
    lavalier's level; the lecture has no dropout, passes S2 and sits at the course
    loudness."""
    seconds = 12.0
    speech = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE, seed=7)
    clean = speech.samples[0]
    lav = clean + sig.pink_noise(rms_dbfs=-65.0, seconds=seconds, sample_rate=RATE, seed=8)[0]
    late = round(0.003 * RATE)
    own = (0.5 * np.r_[np.zeros(late), clean[:-late]]
           + sig.pink_noise(rms_dbfs=-46.0, seconds=seconds, sample_rate=RATE, seed=9)[0])
    a = next(i for i in range(6 * RATE, 10 * RATE, RATE // 100)
             if speech.active[i - RATE // 10: i + round(0.4 * RATE)].all())
    b = a + round(0.3 * RATE)
    lav[a:b] = 0.0
    course = load_course(_course(tmp_path / "two", np.vstack([lav, own]), seconds=seconds))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.channel == 0 and not plan.invert
    assert plan.channel_snr_db[0] - plan.channel_snr_db[1] > 15.0, plan.channel_snr_db
    assert (plan.patch_role, plan.patch_channel) == ("teacher", 1)
    (span,) = plan.patch_spans
    assert span == pytest.approx((a / RATE, b / RATE), abs=0.03)     # AAC: ± a frame
    assert plan.patch_gain_db == pytest.approx(6.0, abs=1.0)
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    assert any("two microphones" in w and "channel 1, the cleaner" in w for w in out.warnings)
    assert any("channel 2 of the same recording" in w for w in out.warnings), out.warnings
    assert not any("on channel 1 only" in w for w in out.warnings), out.warnings
    qc = _metered(out.path, out.cameras)
    left, right = qc.channel_levels_dbfs()
    assert abs(left - right) < 0.1, (left, right)                   # one microphone on both
    checks = {c.id: c for c in qc.finish()}
    assert checks["audio.dropouts"].status == "pass", checks["audio.dropouts"].message
    assert checks["audio.snr"].status == "pass", checks["audio.snr"].message
    assert checks["audio.loudness"].measured == pytest.approx(
        plan.integrated_lufs + plan.gain_db, abs=1.0)
    # the patched stretch carries the speech at the level around it (0.1 s of each side)
    start = out.cameras[0].start_s
    sound = sig.decoded_sound(out.path)[0]

    def level(i: int, j: int) -> float:
        x = sound[round(start * RATE) + i: round(start * RATE) + j]
        return float(10 * np.log10(np.mean(x * x) + 1e-30) - 10 * np.log10(
            np.mean(clean[i:j] ** 2)))

    tenth = RATE // 10
    assert level(a, b) == pytest.approx(level(a - tenth, a) / 2 + level(b, b + tenth) / 2,
                                        abs=2.0)


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


@pytest.mark.parametrize("block", [1920, 48000])
def test_a_feed_read_from_before_its_source_begins(tmp_path: Path, block: int) -> None:
    """A source that begins 0.5 s into the lecture (``start_s`` −0.5): exactly 0.5 s of
    silence, then the source sample for sample, read in a frame's samples at a time (as the
    render does) or a second at a time."""
    from audio_signals import write_wav

    from courseware.media import AudioFeed

    rng = np.random.default_rng(7)
    stored = write_wav(tmp_path / "x.wav", rng.uniform(-0.5, 0.5, (2, 48000)), 48000)
    feed = AudioFeed(tmp_path / "x.wav", rate=48000, start_s=-0.5)
    got = np.concatenate([feed.read(block) for _ in range(-(-72000 // block))], axis=1)
    assert not got[:, :24000].any()
    np.testing.assert_allclose(got[:, 24000:72000], stored[:, :48000], atol=1e-6)
    assert feed.ended_s is None or feed.ended_s == pytest.approx(1.5)


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


# --------------------------------------------------------------------------- S2 noise


def _reduced(x: np.ndarray, noise: np.ndarray, floor_db: float) -> np.ndarray:
    """``x`` through the noise reducer, read in video-frame-sized pieces as the render does."""
    reducer = NoiseReducer(sig.reader(x), noise, floor_db=floor_db)
    return np.concatenate([reducer.read(1920) for _ in range(x.shape[1] // 1920)], axis=1)


@pytest.mark.parametrize("block", [480, 1000, 48000])
def test_a_patch_crossfades_into_the_backup_and_back(block: int) -> None:
    """Outside a span and its fades: the main sound, sample for sample; inside: the backup;
    in the 10 ms on each side a raised-cosine crossfade; read in any block size."""
    n = 2 * RATE
    main = np.vstack([np.arange(n), np.arange(n)]).astype(np.float32)
    backup = -np.ones((2, n), np.float32)

    def reader(x: np.ndarray):
        at = [0]

        def read(k: int) -> np.ndarray:
            at[0] += k
            return x[:, at[0] - k: at[0]]
        return read

    patch = Patch(reader(main), reader(backup), [(0.5, 0.8), (1.5, 1.5005)], sample_rate=RATE)
    out = np.concatenate([patch.read(min(block, n - k)) for k in range(0, n, block)], axis=1)
    fade = RATE // 100
    a, b = RATE // 2, round(0.8 * RATE)
    keep = np.ones(n, bool)
    keep[a - fade: b + fade] = False
    keep[round(1.5 * RATE) - fade: round(1.5005 * RATE) + fade] = False
    assert np.array_equal(out[:, keep], main[:, keep])
    assert np.array_equal(out[:, a:b], backup[:, a:b])
    w = (main[0, a - fade: a] - out[0, a - fade: a]) / (main[0, a - fade: a] + 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    np.testing.assert_allclose(w, ramp, atol=1e-4)
    # a span shorter than its fades still reaches the backup in its middle
    assert out[0, round(1.50025 * RATE)] == pytest.approx(-1.0, abs=0.01)


def test_noise_reducer_lowers_the_pauses_and_leaves_the_speech() -> None:
    """Speech with pink room tone 36 dB under it, the truth known apart: the reducer's output
    is sample-aligned with its input, the room tone in the pauses drops by about the floor,
    the speech keeps its level, and the S2 estimate rises by the floor."""
    from qc_metrics.audio import measure_speech_noise

    speech = sig.speech_like(level_dbfs=-22.0, seconds=20.0, sample_rate=RATE, seed=1)
    clean = speech.samples.repeat(2, axis=0)
    room = sig.pink_noise(rms_dbfs=-58.0, seconds=20.0, sample_rate=RATE, channels=2, seed=4)
    x = (clean + room).astype(np.float32)
    pauses = pause_spectrum(RATE)
    for i in range(0, x.shape[1], RATE):
        pauses.consume(x[:, i: i + RATE])
    noise = pauses.quietest(0.1, 1).mean(axis=0)

    # nothing to remove: the input comes out as it went in, on the same samples
    same = _reduced(x, np.full_like(noise, 1e-30), -20.0)
    np.testing.assert_allclose(same, x[:, : same.shape[1]], atol=1e-6)

    y = _reduced(x, noise, -20.0)
    n = y.shape[1]
    quiet = ~speech.active[:n]
    lowered = 10 * math.log10(np.mean(room[:, :n][:, quiet] ** 2) / np.mean(y[:, quiet] ** 2))
    assert 14.0 <= lowered <= 21.0, lowered
    before, after = (measure_speech_noise(v, sample_rate=RATE) for v in (x[:, :n], y))
    assert after.speech_dbfs == pytest.approx(before.speech_dbfs, abs=0.2)
    assert after.snr_db - before.snr_db == pytest.approx(20.0, abs=1.5)
    # under the speech the noise stays: the error against the clean speech does not grow
    on = speech.active[:n]
    err_in = np.mean((x[:, :n] - clean[:, :n])[:, on] ** 2)
    err_out = np.mean((y - clean[:, :n])[:, on] ** 2)
    assert err_out <= err_in


def _noisy_course(tmp: Path, name: str, profile) -> tuple[dict, object]:
    seconds = 12.0                       # S2 needs 10 s of sound
    speech = _speech(-10.0, seed=7, seconds=seconds)
    room = sig.pink_noise(rms_dbfs=-53.0, seconds=seconds, sample_rate=RATE, seed=8)
    course = load_course(_course(tmp / name, speech + room, seconds=seconds))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, profile)
    out = render_lecture(course, inputs, audio=plan, profile=profile, out_dir=tmp / name / "out")
    checks = {c.id: c for c in _metered(out.path, out.cameras).finish()}
    return checks, plan


def test_a_noisy_microphone_is_brought_inside_s2(tmp_path: Path) -> None:
    """A camera microphone 36 dB over its room tone (S2 wants 48): the plan measures it and
    lowers the noise just enough to land 6 dB over S2; the lecture passes S2, judged on the
    lecture itself (the title card's digital silence is no noise floor). With the reducer
    off the same lecture fails."""
    checks, plan = _noisy_course(tmp_path, "on", PROFILE)
    enc = PROFILE.encode
    assert plan.snr_db == pytest.approx(36.0, abs=2.0)
    assert plan.noise_reduction_db == pytest.approx(
        PROFILE.audio.snr_min_db + enc.audio_denoise_margin_db - plan.snr_db)
    snr = checks["audio.snr"]
    assert snr.status == "pass", snr.message
    assert snr.measured == pytest.approx(plan.snr_db + plan.noise_reduction_db, abs=3.0)
    assert checks["audio.dropouts"].status == "pass", checks["audio.dropouts"].message

    off = PROFILE.model_copy(update={"encode": enc.model_copy(update={"audio_denoise": "off"})})
    checks, plan = _noisy_course(tmp_path, "off", off)
    assert plan.noise_reduction_db == 0.0 and plan.noise_spectrum == ()
    snr = checks["audio.snr"]
    assert snr.status == "fail" and snr.measured == pytest.approx(plan.snr_db, abs=1.5)


def test_a_microphone_too_noisy_for_s2_is_named(tmp_path: Path) -> None:
    """22 dB over the room: lowered by the most the reducer does (20 dB), it stays under S2,
    and the render says so, with the fix; at 36 dB it does not."""
    speech = _speech(-10.0, seed=7, seconds=12.0)
    room = sig.pink_noise(rms_dbfs=-39.0, seconds=12.0, sample_rate=RATE, seed=8)
    course = load_course(_course(tmp_path / "noisy", speech + room, seconds=12.0))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.snr_db == pytest.approx(22.0, abs=2.0)
    assert plan.noise_reduction_db == PROFILE.encode.audio_denoise_max_db
    (warning,) = too_noisy(inputs, plan, PROFILE)
    assert "teacher" in warning and "stays under S2" in warning and "lavalier" in warning
    assert too_noisy(inputs, plan.model_copy(update={"snr_db": 36.0}), PROFILE) == []


def test_a_microphone_carrying_music_is_not_noise_reduced(tmp_path: Path) -> None:
    """A source whose sound already has a music bed, 12 dB under the speech, over a room 36 dB
    under it: the reducer would take the music for noise, so the plan leaves it, and the
    render names the music as louder than S4 allows. The same room without the music is
    reduced (the first test above)."""
    seconds = 24.0                       # S4's music needs a 20 s window of pauses
    speech = _speech(-10.0, seed=7, seconds=seconds)
    active = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE, seed=7).active
    level = sig.rms_db(speech[:, active])
    x = (speech + sig.pink_noise(rms_dbfs=level - 36.0, seconds=seconds, sample_rate=RATE,
                                 seed=8)
         + sig.music_like(rms_dbfs=level - 12.0, seconds=seconds, sample_rate=RATE, seed=4))
    course = load_course(_course(tmp_path / "music", x, seconds=seconds))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.music_under_db == pytest.approx(12.0, abs=1.5)
    assert plan.noise_reduction_db == 0.0 and plan.noise_spectrum == ()
    (warning,) = music_bed(inputs, plan, PROFILE)
    assert "teacher" in warning and "background music" in warning and "S4" in warning
    assert "louder than S4 allows" in warning
    (quieter,) = music_bed(inputs, plan.model_copy(update={"music_under_db": 20.0}), PROFILE)
    assert "20 dB under the speech" in quieter and "louder" not in quieter
    assert music_bed(inputs, plan.model_copy(update={"music_under_db": None}), PROFILE) == []


def test_a_reverberant_room_is_not_noise_reduced(tmp_path: Path) -> None:
    """Quick speech (pauses of 0.15–0.4 s) in a classroom (RT60 0.8 s), 55 dB over its room:
    the pauses never settle, so the room's floor cannot be measured; the reducer would take
    the reverberation for noise (S2 read from the quietest tenth is 8 dB, and it would
    lower the "noise" by its most, 20 dB), so the plan leaves the sound alone and the
    render says why. The lecture's S2 is a lower bound: a warning, not a fail."""
    seconds = 16.0
    speech = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE, seed=6,
                             pauses=(0.15, 0.4)).samples[:1]
    x = (sig.reverberant(speech, rt60_s=0.8, sample_rate=RATE)
         + sig.pink_noise(rms_dbfs=-75.0, seconds=seconds, sample_rate=RATE, seed=8))
    course = load_course(_course(tmp_path / "echo", x, seconds=seconds))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.reverberant and plan.snr_db is not None and plan.snr_db < 30.0
    assert plan.noise_reduction_db == 0.0 and plan.noise_spectrum == ()
    (warning,) = reverberant(inputs, plan)
    assert "teacher" in warning and "never settle" in warning and "lavalier" in warning
    assert too_noisy(inputs, plan, PROFILE) == []
    assert reverberant(inputs, plan.model_copy(update={"reverberant": False})) == []
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    assert warning in out.warnings
    snr = {c.id: c for c in _metered(out.path, out.cameras).finish()}["audio.snr"]
    assert snr.status == "warn" and "never settle" in snr.message, snr.message


def test_a_reverberant_noisy_room_is_reduced_by_its_floor(tmp_path: Path) -> None:
    """A classroom (RT60 0.8 s) 42 dB over its room: most pauses are filled by the
    reverberation, but some settle, and the plan measures the room there (41.6 dB; the
    quietest tenth said 35.8) and lowers the noise just enough for S2."""
    seconds = 16.0
    speech = sig.speech_like(level_dbfs=-20.0, seconds=seconds, sample_rate=RATE,
                             seed=7).samples[:1]
    x = (sig.reverberant(speech, rt60_s=0.8, sample_rate=RATE)
         + sig.pink_noise(rms_dbfs=-62.0, seconds=seconds, sample_rate=RATE, seed=8))
    course = load_course(_course(tmp_path / "echo", x, seconds=seconds))
    inputs = probe_lecture(course, course.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert not plan.reverberant and plan.snr_db == pytest.approx(42.0, abs=2.0)
    enc = PROFILE.encode
    assert plan.noise_reduction_db == pytest.approx(
        PROFILE.audio.snr_min_db + enc.audio_denoise_margin_db - plan.snr_db)
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    snr = {c.id: c for c in _metered(out.path, out.cameras).finish()}["audio.snr"]
    assert snr.status == "pass", snr.message
    assert snr.measured == pytest.approx(plan.snr_db + plan.noise_reduction_db, abs=3.0)
    assert "steady pause" in snr.message


def test_a_quiet_microphone_is_not_processed(tmp_path: Path) -> None:
    """A microphone 60 dB over its room (S2 met with room to spare): measured, left alone."""
    speech = _speech(-10.0, seed=7, seconds=12.0)
    room = sig.pink_noise(rms_dbfs=-77.0, seconds=12.0, sample_rate=RATE, seed=8)
    course = load_course(_course(tmp_path / "quiet", speech + room, seconds=12.0))
    plan = plan_audio(probe_lecture(course, course.lectures[0]), PROFILE)
    assert plan.snr_db == pytest.approx(60.0, abs=2.0)
    assert plan.noise_reduction_db == 0.0 and plan.noise_spectrum == ()
