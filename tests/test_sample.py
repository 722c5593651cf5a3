"""The generated sample course: valid course file, decodable media, planted facts real."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from courseware.course import load_course
from courseware.errors import PipelineError
from courseware.sample import make_sample
from encoder_profiles import load_profile


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    course_file = make_sample(tmp_path_factory.mktemp("sample"), lectures=2, seconds=4.0, seed=0)
    truth = json.loads((course_file.parent / "sample-truth.json").read_text(encoding="utf-8"))
    return course_file, truth


def _luma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p")[: f.height].astype(np.float32)
                for f in c.decode(video=0)]


def _audio(path: Path) -> tuple[np.ndarray, int]:
    """Decoded audio (channels, n) and its rate."""
    with av.open(str(path)) as c:
        rate = c.streams.audio[0].rate
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1), rate


def test_course_file_validates(sample: tuple[Path, dict[str, Any]]) -> None:
    course_file, truth = sample
    course = load_course(course_file)
    assert course.info.kind == "professional" and course.info.hours == 8
    assert [lec.number for lec in course.lectures] == [1, 2]
    assert course.info.intro is not None and course.resolve(course.info.intro).is_file()
    for lec in course.lectures:
        for _, paths in lec.sources.items():
            assert all(course.resolve(path).is_file() for path in paths)
    assert truth["complete"] is True
    assert [lec["offset_s"] for lec in truth["lectures"]] == [0.7, 1.3]
    text = course_file.read_text(encoding="utf-8")
    assert "碳达峰碳中和与绿色低碳发展" in text and "\n# " in text  # Chinese, commented


def test_streams_have_the_stated_format(sample: tuple[Path, dict[str, Any]]) -> None:
    course_file, truth = sample
    root = course_file.parent
    streams = [s for lec in truth["lectures"] for s in (lec["slides"], lec["teacher"])]
    for s in [*streams, truth["intro"]]:
        with av.open(str(root / s["path"])) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
            assert (v.width, v.height) == (s["width"], s["height"])
            assert v.average_rate == 25 and a.rate == 48000 and a.channels == 2
            frames = sum(1 for _ in c.decode(video=0))
        assert frames == s["frames"] == round(s["duration_s"] * 25)
        samples, _ = _audio(root / s["path"])
        assert samples.shape[1] / 48000 == pytest.approx(s["duration_s"], abs=0.05)
    assert truth["lectures"][0]["slides"]["width"] == 1920
    assert truth["lectures"][0]["teacher"]["height"] >= 720


def test_slides_change_and_hold(sample: tuple[Path, dict[str, Any]]) -> None:
    course_file, truth = sample
    lec = truth["lectures"][0]["slides"]
    frames = _luma(course_file.parent / lec["path"])
    cuts = [round(t * 25) for t in lec["slide_changes_s"]]
    assert cuts and all(0 < c < len(frames) for c in cuts)
    bounds = [0, *cuts, len(frames)]
    for start, end in itertools.pairwise(bounds):
        # within a slide the picture holds (only coding refinements)
        assert np.abs(frames[start + 3] - frames[end - 1]).mean() < 0.5
    for cut in cuts:
        assert np.abs(frames[cut] - frames[cut - 1]).mean() > 5


@pytest.mark.parametrize("index", [0, 1])
def test_the_slides_pages_are_told_apart_where_they_change(
        sample: tuple[Path, dict[str, Any]], index: int) -> None:
    """B3 reads each page of the slides once: the page turns a :class:`PageDetector` finds
    in the slides capture are the planted slide changes, each at the first picture it
    samples after the change (every 0.2 s)."""
    from qc_metrics.frames import YUVFrame
    from qc_metrics.layout import PageDetector

    course_file, truth = sample
    lec = truth["lectures"][index]["slides"]
    detector = PageDetector(fps=25, profile=load_profile("shaanxi-2024"))
    with av.open(str(course_file.parent / lec["path"])) as c:
        for frame in c.decode(video=0):
            planes = frame.to_ndarray(format="yuv420p")
            h, w = frame.height, frame.width
            chroma = planes[h:].reshape(2, h // 2, w // 2)
            detector.process(YUVFrame(planes[:h], chroma[0], chroma[1]), float(frame.time))
    pages = detector.pages()
    turns = [start for start, _ in pages[1:]]
    assert len(turns) == len(lec["slide_changes_s"]) >= 1, (pages, lec["slide_changes_s"])
    assert all(0 <= found - planted <= 0.2 + 1e-6
               for found, planted in zip(turns, lec["slide_changes_s"], strict=True)), pages
    assert pages[0][0] == 0.0 and pages[-1][1] == pytest.approx(lec["duration_s"])


def test_teacher_is_noisy_and_warm(sample: tuple[Path, dict[str, Any]]) -> None:
    course_file, truth = sample
    cam = truth["lectures"][0]["teacher"]
    x0, y0, x1, y1 = cam["static_wall_box"]
    frames = _luma(course_file.parent / cam["path"])
    diffs = [frames[i + 1][y0:y1, x0:x1] - frames[i][y0:y1, x0:x1] for i in range(5, 45)]
    sigma = float(np.mean([d.std() for d in diffs])) / np.sqrt(2)  # two independent fields
    assert sigma == pytest.approx(cam["noise_sigma"], rel=0.15)
    with av.open(str(course_file.parent / cam["path"])) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")[y0:y1, x0:x1]
    r, g, b = rgb.reshape(-1, 3).mean(axis=0)
    assert r > g > b and r - b > 10


def _envelope(x: np.ndarray, rate: int, block: int = 48) -> np.ndarray:
    mono = x.mean(axis=0)
    n = mono.size // block * block
    return np.abs(mono[:n]).reshape(-1, block).mean(axis=1)  # 1 kHz for 48 kHz input


@pytest.mark.parametrize("index", [0, 1])
def test_planted_offset_is_real(sample: tuple[Path, dict[str, Any]], index: int) -> None:
    course_file, truth = sample
    lec = truth["lectures"][index]
    slides, rate = _audio(course_file.parent / lec["slides"]["path"])
    teacher, _ = _audio(course_file.parent / lec["teacher"]["path"])
    a, b = _envelope(slides, rate), _envelope(teacher, rate)
    a, b = a - a.mean(), b - b.mean()
    n = a.size + b.size
    xc = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lag = int(np.argmax(xc))
    lag = lag - n if lag > n // 2 else lag
    # the same sound is at t_teacher = t_slides + offset_s
    assert lag / 1000 == pytest.approx(lec["offset_s"], abs=0.04)
    assert lec["offsets"] == {"slides": 0.0, "teacher": lec["offset_s"]}


def test_audio_levels_match_truth(sample: tuple[Path, dict[str, Any]]) -> None:
    course_file, truth = sample
    for lec in truth["lectures"]:
        for role in ("slides", "teacher"):
            info = lec[role]["audio"]
            assert info["rate"] == 48000
            assert -13 <= info["peak_dbfs"] <= -6
            assert -66 <= info["noise_floor_dbfs"] <= -55
            samples, _ = _audio(course_file.parent / lec[role]["path"])
            peak = 20 * np.log10(np.abs(samples).max())
            assert peak == pytest.approx(info["peak_dbfs"], abs=1.5)  # AAC moves peaks a bit


def test_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(PipelineError, match="refusing to overwrite"):
        make_sample(tmp_path, lectures=1, seconds=2.0)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_redoes_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the folder logic: media writers are stubbed to keep this fast."""
    import courseware.sample as sample_mod

    def fake_lecture(out_dir: Path, number: int, **_: Any) -> dict[str, Any]:
        folder = out_dir / f"lecture{number:02d}"
        folder.mkdir(exist_ok=True)
        for name in ("slides.mp4", "teacher.mp4"):
            (folder / name).write_bytes(b"x")
        return {"number": number}

    monkeypatch.setattr(sample_mod, "_write_intro", lambda path, font: path.write_bytes(b"x"))
    monkeypatch.setattr(sample_mod, "_write_lecture", fake_lecture)
    make_sample(tmp_path, lectures=3, seconds=2.0)
    (tmp_path / "lecture01" / "notes.txt").write_text("not ours", encoding="utf-8")
    course_file = make_sample(tmp_path, lectures=1, seconds=2.0)
    assert len(load_course(course_file).lectures) == 1
    assert not (tmp_path / "lecture03").exists()  # files of the earlier run are gone
    assert (tmp_path / "lecture01" / "notes.txt").is_file()  # others' files are kept
