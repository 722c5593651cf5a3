"""S1 "no obvious distortion": an overdriven microphone's clipped runs restored where they
can be, said where they cannot, and judged on the source (the film's lowered level hides
them from QC's own ``audio.clipping``)."""

from __future__ import annotations

from pathlib import Path

import audio_signals as sig
import numpy as np
import pytest
from course_files import one_lecture
from video_signals import camera_file

from courseware.audio_chain import DECLIP_CONTEXT, DECLIP_MAX_S, Declipper
from courseware.course import Course, load_course
from encoder_profiles import load_profile
from qc_metrics.audio import CLIP_LEVEL
from tasks.probe import LectureInputs, probe_lecture
from tasks.qc import qc_file
from tasks.render import AudioPlan, plan_audio, render_lecture

RATE = 48000
PROFILE = load_profile()
LONGEST = round(DECLIP_MAX_S * RATE)


def _voice(seconds: float, seed: int = 3, rate: int = RATE) -> np.ndarray:
    return sig.speech_like(level_dbfs=-14.0, seconds=seconds, sample_rate=rate,
                           seed=seed).samples[0]


def _overdriven(x: np.ndarray, drive_db: float) -> tuple[np.ndarray, np.ndarray]:
    """The voice as it was (its peaks ``drive_db`` over full scale) and as recorded."""
    truth = x * sig.amp(drive_db) / np.abs(x).max()
    return truth, np.clip(truth, -1.0, 1.0)


def _declipped(x: np.ndarray, *, block: int) -> tuple[np.ndarray, Declipper]:
    """``x`` (mono) on both channels through a Declipper read in ``block``s."""
    d = Declipper(sig.reader(np.stack([x, x])), level=CLIP_LEVEL, max_samples=LONGEST)
    out = np.concatenate([d.read(block) for _ in range(-(-x.size // block))], axis=1)
    return out[:, : x.size], d


def _snr_db(x: np.ndarray, truth: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(truth ** 2) / np.sum((x - truth) ** 2)))


@pytest.mark.parametrize("drive_db", [1.0, 2.0])
def test_clipped_runs_are_restored_closer_than_ffmpegs_adeclip(drive_db: float) -> None:
    truth, clipped = _overdriven(_voice(12.0), drive_db)
    out, d = _declipped(clipped, block=4800)
    assert d.restored and not d.left
    ffmpeg = sig.adeclip(clipped, RATE)
    before, ours, theirs = (_snr_db(y, truth) for y in (clipped, out[0], ffmpeg))
    assert ours >= before + 25.0, (before, ours)
    assert ours >= theirs + 5.0, (ours, theirs)
    assert np.array_equal(out[0], out[1])
    kept = np.abs(clipped) < CLIP_LEVEL                     # nothing else is touched
    assert np.array_equal(out[0][kept], clipped[kept].astype(np.float32))


def test_the_same_samples_whatever_the_blocks() -> None:
    _, clipped = _overdriven(_voice(6.0, seed=5), 2.0)
    a, _ = _declipped(clipped, block=1000)
    b, _ = _declipped(clipped, block=4801)
    assert np.array_equal(a, b)


def test_a_run_too_long_to_restore_is_left_and_counted() -> None:
    x = _voice(4.0) * 0.5
    at = round(2.0 * RATE)
    x[at: at + 3 * LONGEST] = 1.0                     # 3 ms at full scale
    out, d = _declipped(x, block=4800)
    assert d.restored == [] and [(a, b) for _, a, b in d.left] == [(at, at + 3 * LONGEST)]
    assert np.array_equal(out[0], x.astype(np.float32))


def test_sound_clipped_too_densely_to_model_is_left() -> None:
    """A 1 kHz tone 3 dB over full scale: a 12-sample run every 24 samples, no whole window
    of the model's length between them: nothing to interpolate from, so nothing is made
    up; the runs are counted as left (but the last few, before the silence after the tone,
    which is sound to model on)."""
    t = np.arange(RATE) / RATE
    x = np.clip(sig.amp(3.0) * np.sin(2 * np.pi * 1000.0 * t), -1.0, 1.0)
    out, d = _declipped(x, block=4800)
    assert len(d.left) > 1950
    assert all(a > x.size - DECLIP_CONTEXT for _, a, _ in d.restored), d.restored[:3]
    body = slice(0, x.size - DECLIP_CONTEXT)
    assert np.array_equal(out[0][body], x[body].astype(np.float32))


def test_a_mono_microphone_is_read_at_its_own_level_on_both_sides(tmp_path: Path) -> None:
    """A mono recording read as the render's stereo: its samples as stored on both channels
    (FFmpeg's upmix takes them 3 dB down: a clipped run would no longer reach full scale,
    and the plan would not find it)."""
    from courseware.media import AudioFeed

    _, clipped = _overdriven(_voice(3.0), 2.0)
    stored = sig.write_wav(tmp_path / "mono.wav", clipped[None], RATE)[0]
    feed = AudioFeed(tmp_path / "mono.wav", rate=RATE)
    heard = feed.read(stored.size)
    assert np.array_equal(heard[0], heard[1])
    assert np.allclose(heard[0], stored, atol=1e-6)


def test_a_recorder_on_its_own_clock_is_restored_before_it_is_resampled(tmp_path: Path
                                                                         ) -> None:
    """A recorder drifting 40 ppm against the cameras is resampled by the drift (Respeed),
    which would smear its flat runs into ripples: the feed restores them on the recorder's
    own samples first. Against the unclipped voice through the same feed: as close as
    without a clock (restoring after the resampling gained 3 dB)."""
    from courseware.media import AudioFeed

    truth, clipped = _overdriven(_voice(8.0), 2.0)
    sig.write_wav(tmp_path / "clipped.wav", clipped[None], RATE)
    sig.write_wav(tmp_path / "half.wav", truth[None] / 2, RATE)   # the voice, unclipped

    def heard(name: str, **kw: object) -> tuple[np.ndarray, AudioFeed]:
        feed = AudioFeed(tmp_path / name, rate=RATE, clock=1.00004, **kw)  # type: ignore[arg-type]
        return np.concatenate([feed.read(1920) for _ in range(7 * RATE // 1920)],
                              axis=1)[0].astype(np.float64), feed

    reference, _ = heard("half.wav", gain=2.0)
    as_clipped, _ = heard("clipped.wav")
    restored, feed = heard("clipped.wav", declip=LONGEST)
    assert feed.declipper is not None and feed.declipper.restored
    assert _snr_db(restored, reference) >= _snr_db(as_clipped, reference) + 25.0


# ------------------------------------------------------------------------------ a lecture

def _course(root: Path, sound: np.ndarray, name: str = "teacher.mov",
            rate: int = RATE) -> Course:
    """A lecture of one camera whose microphone recorded ``sound``: PCM in a MOV, or AAC in
    an MP4."""
    root.mkdir()
    camera_file(root / name, (128, 128, 128), sound,
                codec="aac" if name.endswith(".mp4") else "pcm_s16le", rate=rate)
    return load_course(one_lecture(root, {"teacher": name}, layout="teacher_only"))


def _lecture(root: Path, sound: np.ndarray, name: str = "teacher.mov",
             rate: int = RATE) -> tuple[Course, LectureInputs, AudioPlan]:
    course = _course(root, sound, name, rate)
    inputs = probe_lecture(course, course.lectures[0])
    return course, inputs, plan_audio(inputs, PROFILE)


def test_an_overdriven_microphone_is_restored_and_judged_on_its_source(tmp_path: Path) -> None:
    """Clipped loud syllables restored: the lecture passes ``audio.source_clipping``. With
    one run too long to restore, it fails there, at the run's film time, while the film's
    own ``audio.clipping`` finds nothing: the render lowered the level."""
    seconds = 8.0
    _, clipped = _overdriven(_voice(seconds), 1.0)
    long_at = 5.0
    held = clipped.copy()
    held[round(long_at * RATE): round(long_at * RATE) + 4 * LONGEST] = 1.0
    for name, sound, fails in (("restored", clipped, False), ("held", held, True)):
        course, inputs, plan = _lecture(tmp_path / name, sound)
        assert plan.clipped_runs > 10, plan.clipped_runs
        out = render_lecture(course, inputs, audio=plan, profile=PROFILE,
                             out_dir=tmp_path / name / "out")
        check, = out.checks
        assert check.id == "audio.source_clipping" and check.clause == "S1"
        said = [w for w in out.warnings if "clipped" in w]
        assert len(said) == 1 and "lower the input gain" in said[0], out.warnings
        report = qc_file(out.path, profile=PROFILE, thumbnails=False,
                         source_checks=out.checks).report
        checks = {c.id: c for c in report.checks}
        assert checks["audio.clipping"].status == "pass"         # the film shows no clipping
        assert checks["audio.source_clipping"] == check
        if not fails:
            assert check.status == "pass" and "all restored" in check.message, check
            continue
        assert check.status == "fail" and check.measured == 1.0, check
        event, = check.events
        film_s = PROFILE.encode.title_card_s + long_at
        assert event.start_s == pytest.approx(film_s, abs=0.002)
        assert "too long to restore" in event.detail
        assert report.status == "fail"


def test_a_voice_cut_flat_before_its_recorder_is_restored_at_that_level(tmp_path: Path
                                                                        ) -> None:
    """A mixer or preamp overdriven before a recorder whose level was lowered after: the
    voice cut flat 6 dB under full scale, stored in 16 bits. QC on the source finds the flat
    tops at −6 dBFS, the plan takes that level, and the render restores the runs there as it
    would at full scale (the lecture passes ``audio.source_clipping``, the note says where
    the gain was too high); the restoration itself comes as close to the truth as at full
    scale."""
    under = sig.amp(-6.0)
    truth, clipped = _overdriven(_voice(8.0), 1.5)
    d = Declipper(sig.reader(np.stack([clipped, clipped]) * under), level=under,
                  max_samples=LONGEST)
    out = np.concatenate([d.read(4800) for _ in range(-(-clipped.size // 4800))], axis=1)
    before, ours = (_snr_db(y, truth * under) for y in (clipped * under, out[0, :truth.size]))
    assert d.restored and not d.left and ours >= before + 25.0, (before, ours)

    course, inputs, plan = _lecture(tmp_path / "pre", clipped * under)
    assert plan.clip_level == pytest.approx(under, abs=1e-4) and plan.clipped_runs > 10, plan
    from tasks.plan import plan_lecture

    foreseen, = [n for n in plan_lecture(course, course.lectures[0], PROFILE).notes
                 if "clipped" in n]
    assert "the render restores the runs" in foreseen and "mixer or preamp" in foreseen
    out_file = render_lecture(course, inputs, audio=plan, profile=PROFILE,
                              out_dir=tmp_path / "out")
    check, = out_file.checks
    assert check.status == "pass" and "all restored" in check.message, check
    said, = [w for w in out_file.warnings if "clipped" in w]
    assert "mixer or preamp" in said and "-6.0 dBFS" in said, said


def test_a_microphone_that_never_clipped_passes(tmp_path: Path) -> None:
    course, inputs, plan = _lecture(tmp_path / "clean", _voice(6.0) * 0.4)
    assert plan.clipped_runs == 0
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "o")
    check, = out.checks
    assert check.status == "pass" and "did not clip" in check.message
    assert not [w for w in out.warnings if "clipped" in w]


@pytest.mark.parametrize(("name", "rate", "why"), [("teacher.mp4", RATE, "aac-coded"),
                                                   ("teacher.mov", 44100, "44.1 kHz")])
def test_clipping_smeared_on_its_way_is_not_restored_but_said(tmp_path: Path, name: str,
                                                              rate: int, why: str) -> None:
    """AAC, or resampling a 44.1-kHz recording to 48 kHz, smears a clipped passage into
    ripples around full scale: what reaches it are fragments, not the runs; nothing is
    restored, and the lecture's report asks for a listen (warn) where they are."""
    _, clipped = _overdriven(_voice(6.0, rate=rate), 3.0)
    course, inputs, plan = _lecture(tmp_path / "s", clipped, name, rate)
    assert plan.clipped_runs > 0 and plan.clipped_s, plan
    out = render_lecture(course, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "o")
    check, = out.checks
    assert check.status == "warn" and check.measured == plan.clipped_runs, check
    assert "listen to these passages" in check.message
    film_s = PROFILE.encode.title_card_s + plan.clipped_s[0][0]
    assert check.events[0].start_s == pytest.approx(film_s, abs=1e-6)
    said, = [w for w in out.warnings if "clipped" in w]
    assert why in said and "not restored" in said


@pytest.mark.parametrize(("name", "rate", "then"), [
    ("teacher.mov", RATE, "the render restores the runs"),
    ("teacher.mp4", RATE, "the render cannot restore them")])
def test_the_plan_foresees_the_clipping(tmp_path: Path, name: str, rate: int,
                                        then: str) -> None:
    """`courseware plan` says what the render will: the microphone clipped in what was heard
    of it, and whether the render can restore it."""
    from tasks.plan import plan_lecture

    _, clipped = _overdriven(_voice(6.0, rate=rate), 2.0)
    course = _course(tmp_path / "p", clipped, name, rate)
    plan = plan_lecture(course, course.lectures[0], PROFILE)
    assert plan.clipped_runs > 0
    said, = [n for n in plan.notes if "clipped" in n]
    assert then in said and "lower its input gain" in said
