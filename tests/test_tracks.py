"""A source with several audio tracks (a camcorder's inputs, each on a track of its own):
the track that carries the speech is found, and every reader takes it (plan, sync, render,
QC); a delivered file with several tracks fails D9."""

from __future__ import annotations

import subprocess
from pathlib import Path

import audio_signals as a
import numpy as np
import pytest
from course_files import one_lecture
from foreign_media import FFMPEG

from courseware.course import load_course
from courseware.tracks import best_track, listen
from encoder_profiles import load_profile

FS = 48000
SECONDS = 12.0
PROFILE = load_profile()


def _speech(seed: int = 1) -> np.ndarray:
    return a.speech_like(level_dbfs=-20.0, seconds=SECONDS, sample_rate=FS, seed=seed).samples[:1]


def _room(dbfs: float, seed: int = 3) -> np.ndarray:
    return a.pink_noise(rms_dbfs=dbfs, seconds=SECONDS, sample_rate=FS, seed=seed)


def _camera(path: Path, tracks: list[np.ndarray | None], seconds: float = SECONDS) -> Path:
    """An MP4 with a test picture and one mono AAC track per entry (None: a silent input)."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    for k, x in enumerate(tracks):
        if x is None:
            args += ["-f", "lavfi", "-t", str(seconds), "-i", f"anullsrc=r={FS}:cl=mono"]
        else:
            wav = path.with_name(f"{path.stem}.{k}.wav")
            a.write_wav(wav, x, FS)
            args += ["-i", str(wav)]
    maps = ["-map", "0:v"] + [m for k in range(len(tracks)) for m in ("-map", f"{k + 1}:a")]
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args, *maps,
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path)],
                   check=True, capture_output=True, timeout=120)
    return path


@pytest.mark.parametrize(("case", "chosen"), [
    ("first silent", 1),            # nothing plugged into input 1, the lavalier on 2
    ("camera mic, then lavalier", 1),   # the lavalier 14 dB cleaner
    ("two close microphones", 0),   # 2 dB apart: the first stays
    ("second silent", 0),
    ("no speech on either", 0),
    ("first silent, second far in an echoing hall", 1),   # S2 a lower bound, under 10 dB
])
def test_the_track_that_carries_the_speech_is_chosen(tmp_path: Path, case: str,
                                                     chosen: int) -> None:
    speech = _speech()
    tracks = {
        "first silent": [None, speech + _room(-70.0)],
        "camera mic, then lavalier": [0.5 * speech + _room(-56.0), speech + _room(-64.0, 4)],
        "two close microphones": [speech + _room(-68.0), speech + _room(-70.0, 4)],
        "second silent": [speech + _room(-70.0), None],
        "no speech on either": [_room(-60.0), _room(-62.0, 4)],
        "first silent, second far in an echoing hall": [None, a.reverberant(
            a.speech_like(level_dbfs=-20.0, seconds=SECONDS, sample_rate=FS, seed=6,
                          pauses=(0.15, 0.4)).samples[:1], rt60_s=0.8, sample_rate=FS)
            + _room(-70.0)],
    }[case]
    heard = listen(_camera(tmp_path / "camera.mp4", tracks))
    assert [t.index for t in heard] == [0, 1]
    assert best_track(heard) == chosen, [t.describe() for t in heard]
    for t, x in zip(heard, tracks, strict=True):
        if x is None:
            assert t.level_dbfs == -np.inf and "digital silence" in t.describe()
        else:
            assert t.level_dbfs == pytest.approx(a.rms_db(x), abs=0.5)
    if case.endswith("echoing hall"):
        assert heard[1].unsettled and heard[1].snr_db < 10.0       # yet it speaks
        assert "at least" in heard[1].describe()
    if case == "camera mic, then lavalier":
        assert heard[0].snr_db == pytest.approx(30.0, abs=1.5)
        assert heard[1].snr_db == pytest.approx(44.0, abs=1.5)


def test_a_lavalier_switched_on_after_the_class_began_is_heard(tmp_path: Path) -> None:
    """Track 1 the camera's microphone (30 dB over the room), track 2 a lavalier whose
    transmitter was switched on 30 s into a 60-s recording (its receiver's hiss until then,
    the speech 50 dB over it after). Heard for 30 s in all, spread over the file, track 2 is
    chosen; heard for the first 30 s only, it was not (it seemed to carry no speech)."""
    speech = a.speech_like(level_dbfs=-20.0, seconds=60.0, sample_rate=FS, seed=2).samples[:1]
    room = a.pink_noise(rms_dbfs=-56.0, seconds=60.0, sample_rate=FS, seed=3)
    hiss = a.pink_noise(rms_dbfs=-70.0, seconds=60.0, sample_rate=FS, seed=4)
    on = np.arange(speech.shape[1]) >= 30 * FS
    path = _camera(tmp_path / "camera.mp4", [0.5 * speech + room, speech * on + hiss],
                   seconds=60.0)
    heard = listen(path, seconds=30.0)
    assert best_track(heard) == 1, [t.describe() for t in heard]
    assert heard[1].snr_db == pytest.approx(50.0, abs=2.0)
    first = listen(path, seconds=30.0, windows=1)
    assert best_track(first) == 0 and not first[1].speaks, [t.describe() for t in first]


def test_a_camera_whose_first_track_is_silent(tmp_path: Path) -> None:
    """A camcorder whose lavalier is on its second input, nothing on the first: the probe
    chooses track 2 and says so; a recorder syncs to it (on track 1 it would not match); the
    lecture carries the speech (S1, S2 pass; before, it was silent and failed S1);
    ``courseware qc`` of the source checks track 2 and says which."""
    from tasks.probe import probe_lecture
    from tasks.qc import qc_file
    from tasks.render import plan_audio, render_lecture, several_tracks
    from tasks.sync import sync_sources

    speech = _speech() + _room(-70.0)
    _camera(tmp_path / "teacher.mp4", [None, 0.5 * speech])
    a.write_wav(tmp_path / "mic.wav", np.c_[np.zeros((1, FS)), speech], FS)
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4", "audio": "mic.wav"},
                                     layout="teacher_only", name="多音轨测试"))
    inputs = sync_sources(probe_lecture(course, course.lectures[0]), window_s=6.0)
    teacher, mic = inputs.sources["teacher"], inputs.sources["audio"]
    assert teacher.audio_stream == 1 and mic.audio_stream == 0 and mic.tracks == ()
    assert mic.offset_s == pytest.approx(1.0, abs=0.002) and teacher.matched
    (warning,) = several_tracks(inputs)
    assert "teacher.mp4 has 2 audio tracks" in warning and "track 2 is used" in warning
    assert "track 1: digital silence" in warning

    # without the recorder, the camera's own sound is the programme's
    (tmp_path / "alone").mkdir()
    alone = load_course(one_lecture(tmp_path / "alone", {"teacher": "../teacher.mp4"},
                                    layout="teacher_only", name="多音轨测试"))
    inputs = probe_lecture(alone, alone.lectures[0])
    plan = plan_audio(inputs, PROFILE)
    assert plan.snr_db == pytest.approx(50.0, abs=1.5)
    out = render_lecture(alone, inputs, audio=plan, profile=PROFILE, out_dir=tmp_path / "out")
    assert warning.split(":", 1)[1] in " ".join(out.warnings)
    checks = {c.id: c for c in qc_file(out.path, profile=PROFILE, thumbnails=False,
                                       cameras=out.cameras).report.checks}
    for check in ("audio.peak", "audio.snr", "audio.loudness", "format.audio_channels"):
        assert checks[check].status == "pass", checks[check].message

    result = qc_file(tmp_path / "teacher.mp4", profile=PROFILE, thumbnails=False)
    checks = {c.id: c for c in result.report.checks}
    assert checks["audio.snr"].measured == pytest.approx(50.0, abs=1.5)
    (note,) = [n for n in result.notes if "audio tracks" in n]
    assert "track 2" in note and "digital silence" in note
    channels = checks["format.audio_channels"]
    assert channels.status == "fail" and "2 audio tracks" in channels.message


def test_a_damaged_track_is_named_and_never_chosen(tmp_path: Path) -> None:
    """The first track's packets garbled (a damaged card): it cannot be decoded, which is
    said; the speech on the second is heard and chosen, nothing stops."""
    import av

    good = _camera(tmp_path / "camera.mp4", [0.5 * (_speech() + _room(-70.0)),
                                             _speech() + _room(-70.0)])
    damaged = tmp_path / "damaged.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(good)) as inp, av.open(str(damaged), "w", format="matroska") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        first = inp.streams.audio[0].index
        for packet in inp.demux(list(inp.streams)):
            if packet.dts is None:
                continue
            if packet.stream_index == first:
                garbled = av.Packet(rng.integers(0, 256, packet.size, np.uint8).tobytes())
                garbled.pts, garbled.dts = packet.pts, packet.dts
                garbled.duration, garbled.time_base = packet.duration, packet.time_base
                packet = garbled
                packet.stream = streams[first]
            else:
                packet.stream = streams[packet.stream_index]
            out.mux(packet)
    heard = listen(damaged)
    assert heard[0].damaged and "damaged, cannot be decoded" in heard[0].describe()
    assert not heard[1].damaged and heard[1].speaks
    assert best_track(heard) == 1
    assert best_track(listen(good)) == 0       # intact, the first (3 dB quieter) stays


def test_a_dropout_is_played_from_the_other_track(tmp_path: Path) -> None:
    """A camcorder with the wireless lavalier on track 1 (45 dB over its hiss) and its own
    microphone on track 2 (the same speech 3 ms later and 6 dB quieter, 20 dB over the
    room); the lavalier drops out for 300 ms mid-sentence. Track 1 is used, its dropout is
    played from track 2 at the lavalier's level, and the lecture has no dropout; without
    the patch it fails S4 there."""
    from tasks.probe import probe_lecture
    from tasks.qc import qc_file
    from tasks.render import patched, plan_audio, render_lecture

    speech = a.speech_like(level_dbfs=-20.0, seconds=SECONDS, sample_rate=FS, seed=7)
    clean = speech.samples[:1]
    lav = clean + _room(-65.0, 8)
    late = round(0.003 * FS)
    own = 0.5 * np.c_[np.zeros((1, late)), clean[:, :-late]] + _room(-46.0, 9)
    i = next(i for i in range(6 * FS, 10 * FS, FS // 100)
             if speech.active[i - FS // 10: i + round(0.4 * FS)].all())
    j = i + round(0.3 * FS)
    lav[:, i:j] = 0.0
    _camera(tmp_path / "teacher.mp4", [lav, own])
    course = load_course(one_lecture(tmp_path, {"teacher": "teacher.mp4"},
                                     layout="teacher_only", name="多音轨测试"))
    inputs = probe_lecture(course, course.lectures[0])
    teacher = inputs.sources["teacher"]
    assert (teacher.audio_stream, teacher.backup_stream) == (0, 1)
    plan = plan_audio(inputs, PROFILE)
    assert (plan.patch_role, plan.patch_stream, plan.patch_channel) == ("teacher", 1, None)
    (span,) = plan.patch_spans
    assert span == pytest.approx((i / FS, j / FS), abs=0.03)        # AAC: ± a frame
    assert plan.patch_gain_db == pytest.approx(6.0, abs=1.0)
    (warning,) = patched(inputs, plan)
    assert "track 2 of the same recording" in warning
    for name, audio in (("patched", plan), ("as is", plan.model_copy(
            update={"patch_role": None, "patch_stream": None, "patch_spans": ()}))):
        out = render_lecture(course, inputs, audio=audio, profile=PROFILE,
                             out_dir=tmp_path / name)
        checks = {c.id: c for c in qc_file(out.path, profile=PROFILE, thumbnails=False,
                                           cameras=out.cameras).report.checks}
        assert checks["audio.dropouts"].status == ("pass" if audio is plan else "fail"), \
            checks["audio.dropouts"].message


def test_a_cleaner_microphone_in_another_source_is_named_with_how_to_play_it(
        tmp_path: Path) -> None:
    """The teacher camera's own microphone, across the room, hears the speech about 30 dB
    over its noise (S2 wants 48); the slides capture's computer recorded the lecturer's
    lavalier, 60 dB over. The lecture plays the camera's (the teacher camera's sound is the
    programme's) and says so, with the setting that plays the lavalier: with it, the
    lavalier is the programme sound, in step, and nothing needs noise reduction. Where the
    camera's microphone is the clean one, nothing is said."""
    from video_signals import camera_file

    from courseware.course import Course, Lecture
    from tasks.plan import plan_lecture
    from tasks.probe import probe_lecture
    from tasks.render import cleaner_microphone, cleaner_source, plan_audio
    from tasks.sync import sync_sources

    seconds = 40.0
    talk = a.speech_like(level_dbfs=-24.0, seconds=seconds, sample_rate=FS, seed=11).samples[0]
    far = talk + a.pink_noise(rms_dbfs=-54.0, seconds=seconds, sample_rate=FS, seed=2)[0]
    near = talk + a.pink_noise(rms_dbfs=-84.0, seconds=seconds, sample_rate=FS, seed=4)[0]
    camera_file(tmp_path / "teacher.mp4", (200, 40, 40), far)
    camera_file(tmp_path / "slides.mp4", (40, 60, 200), near[FS:])      # 1 s later
    camera_file(tmp_path / "quiet.mp4", (200, 40, 40), near)
    camera_file(tmp_path / "loud.mp4", (40, 60, 200), far[FS:])

    def lecture(sources: dict[str, str]) -> tuple[Course, Lecture]:
        course = load_course(one_lecture(tmp_path, sources, layout="pip", name="话筒"))
        return course, course.lectures[0]

    course, lec = lecture({"slides": "slides.mp4", "teacher": "teacher.mp4"})
    inputs = sync_sources(probe_lecture(course, lec))
    assert inputs.sources["slides"].matched
    found = cleaner_source(inputs, PROFILE)
    assert found is not None and found.role == "slides", found
    assert found.programme_snr_db == pytest.approx(30.0, abs=4.0)
    assert found.snr_db >= 50.0
    (note,) = cleaner_microphone(inputs, found, PROFILE)
    assert "give sources.audio the same file as sources.slides" in note, note
    assert f"teacher camera's that the lecture plays ({found.programme_snr_db:.0f} dB" in note
    assert note in plan_lecture(course, lec, PROFILE).notes
    # the render's analysis compares its own whole-lecture S2 of the camera's microphone
    rendered = plan_audio(inputs, PROFILE).cleaner
    assert rendered is not None and rendered.role == "slides", rendered
    assert rendered.programme_snr_db == pytest.approx(found.programme_snr_db, abs=3.0)

    course, lec = lecture({"slides": "slides.mp4", "teacher": "teacher.mp4",
                           "audio": "slides.mp4"})
    plan = plan_lecture(course, lec, PROFILE)        
    offsets = {s.role: s.offset_s for s in plan.sources}
    assert offsets["audio"] == pytest.approx(offsets["slides"], abs=0.01)
    assert [s.role for s in plan.sources if s.programme] == ["audio"]
    assert not [n for n in plan.notes if "sources.audio" in n], plan.notes
    inputs = sync_sources(probe_lecture(course, lec))
    audio = plan_audio(inputs, PROFILE)
    assert audio.role == "audio" and audio.noise_reduction_db == 0.0, audio

    course, lec = lecture({"slides": "loud.mp4", "teacher": "quiet.mp4"})
    assert cleaner_source(sync_sources(probe_lecture(course, lec)), PROFILE) is None
    # no speech heard in either (a room before the class): nothing to prefer
    hum = a.pink_noise(rms_dbfs=-40.0, seconds=seconds, sample_rate=FS, seed=6)[0]
    camera_file(tmp_path / "room.mp4", (200, 40, 40), hum)
    camera_file(tmp_path / "room-slides.mp4", (40, 60, 200), hum[FS:])
    course, lec = lecture({"slides": "room-slides.mp4", "teacher": "room.mp4"})
    inputs = sync_sources(probe_lecture(course, lec))
    assert inputs.sources["slides"].matched and cleaner_source(inputs, PROFILE) is None


def test_clipping_heard_counts_as_qc_does(tmp_path: Path) -> None:
    """The runs at full scale that listen counts on a track's own samples (a recorder's
    16-bit WAV, decoded in the decoder's blocks) are QC's (audio.clipping's rule)."""
    from qc_metrics.audio import measure_clipping

    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0.0, 0.4, (2, 20 * 48000)), -1.0, 1.0)
    x[0, 4800:4810] = 1.0
    stored = a.write_wav(tmp_path / "rec.wav", x, 48000)
    track, = listen(tmp_path / "rec.wav")
    assert track.clipped_runs == measure_clipping(stored, sample_rate=48000).runs > 3
    assert track.heard_s == pytest.approx(20.0, abs=0.05)


@pytest.mark.parametrize("block", [1, 2, 7, 1024])
def test_clipping_runs_across_blocks_are_counted_once(block: int) -> None:
    from qc_metrics.audio import CLIP_LEVEL, CLIP_MIN_SAMPLES, ClippingMeter, measure_clipping

    x = np.zeros((2, 4000))
    for at, n in ((10, 2), (100, 3), (500, 40), (1021, 9), (3996, 4)):  # the last to the end
        x[0, at: at + n] = 1.0
        x[1, at + 1: at + 1 + n] = -1.0
    clips = ClippingMeter(sample_rate=48000, level=CLIP_LEVEL, min_samples=CLIP_MIN_SAMPLES)
    for k in range(0, x.shape[1], block):
        clips.push(x[:, k: k + block], k)
    assert clips.finish().runs == measure_clipping(x, sample_rate=48000).runs == 8
