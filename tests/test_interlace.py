"""Interlacing seen in the picture (``video.interlacing``, D7) against FFmpeg's ``idet``.

The clips are what a base delivers: 50i camera footage (two fields 20 ms apart woven into each
frame, top or bottom field first) coded by x264 as *progressive*, so the file's flags say
nothing; progressive footage of the same scene; a still slide; a progressive lecture with an
interlaced insert; and the case where idet itself is wrong: a slow progressive camera tilt,
which x264's coding makes read as one field order.
"""

from __future__ import annotations

import collections
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import video_signals as vs

from encoder_profiles import load_profile
from qc_metrics.frames import YUVFrame
from qc_metrics.interlace import InterlaceDetector, classify, field_sums
from tasks.qc import qc_file

PROFILE = load_profile("shaanxi-2024")
FPS = 25
H, W = 360, 640


def _teacher_scene() -> Callable[[float], np.ndarray]:
    """A lecturer (a textured block) walking and swaying in front of a wall; ``t`` in frames."""
    wall, _ = vs.camera_luma(H, W)
    person = vs.texture(H, 150, seed=9, contrast=90, scale=1.5)

    def at(t: float) -> np.ndarray:
        img = wall.copy()
        x = 150 + 4 * t + 20 * np.sin(t / 3)
        m = np.float32([[1, 0, x], [0, 1, 0]])
        p = cv2.warpAffine(person.astype(np.float32), m, (W, H))
        mask = cv2.warpAffine(np.ones_like(person, np.float32), m, (W, H))
        mask[: H // 5] = 0
        return img * (1 - mask) + p * mask
    return at


def _tilt(speed: float) -> Callable[[float], np.ndarray]:
    """A progressive camera tilting up over a textured scene, ``speed`` px per frame."""
    tex = vs.texture(2 * H, W, seed=4, contrast=50).astype(np.float32)

    def at(t: float) -> np.ndarray:
        m = np.float32([[1, 0, 0], [0, 1, -speed * t]])
        return cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_CUBIC)
    return at


def _frames(scene: Callable[[float], np.ndarray], n: int, *, weave: str | None = None,
            noise: float = 1.0, interlaced: range | None = None) -> list[YUVFrame]:
    """``n`` frames of ``scene``; ``weave`` "tff"/"bff": each frame two fields half a frame
    apart (50i), the first in time on the top ("tff") or bottom ("bff") lines; only the frames
    in ``interlaced`` when given."""
    rng = np.random.default_rng(1)
    u, v = vs.flat_chroma(H, W)
    out = []
    for i in range(n):
        if weave is None or (interlaced is not None and i not in interlaced):
            img = scene(i)
        else:
            first, second = scene(i), scene(i + 0.5)
            img = first.copy() if weave == "tff" else second.copy()
            img[1::2] = second[1::2] if weave == "tff" else first[1::2]
        out.append(YUVFrame(vs.to_u8(img + rng.normal(0, noise, img.shape)), u, v))
    return out


def _x264(path: Path, frames: list[YUVFrame], crf: int) -> Path:
    """Lossless intermediate → x264 progressive (no interlaced flags: only pixels tell)."""
    vs.write_lossless(path.with_suffix(".mkv"), frames, fps=FPS)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i",
                    str(path.with_suffix(".mkv")), "-c:v", "libx264", "-crf", str(crf),
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("interlace")
    teacher = _teacher_scene()
    slide, _ = vs.slide_luma(H, W)
    made = {
        "tff": (_frames(teacher, 50, weave="tff"), 20),
        "bff": (_frames(teacher, 50, weave="bff"), 20),
        "progressive": (_frames(teacher, 50), 20),
        "still": (_frames(lambda t: slide, 40, noise=0.0), 20),
        "tilt": (_frames(_tilt(0.5), 50, noise=0.0), 18),
        "slow_tilt": (_frames(_tilt(0.25), 50, noise=0.0), 18),
        "insert": (_frames(teacher, 150, weave="tff", interlaced=range(50, 100)), 20),
    }
    return {name: _x264(root / f"{name}.mp4", frames, crf)
            for name, (frames, crf) in made.items()}


def _luma(path: Path) -> np.ndarray:
    return np.stack([f.y for f, _ in vs.decode(path)])


def _idet(path: Path) -> list[str]:
    """FFmpeg idet's single-frame label of every frame."""
    meta, _ = vs.ffmpeg_filter(path, "idet")
    return [m["lavfi.idet.single.current_frame"] for m in meta]


def _ours(y: np.ndarray, step: int = 1) -> list[str]:
    """Our label of frames 1 … n−2 (idet's first and last frames have no true neighbour)."""
    y = y[:, :, ::step]
    return [classify(*map(float, row)) for row in field_sums(y[:-2], y[1:-1], y[2:])]


def _detect(path: Path, batch: int = 16) -> tuple[InterlaceDetector, object]:
    detector = InterlaceDetector(fps=FPS, profile=PROFILE)
    decoded = vs.decode(path)
    for i in range(0, len(decoded), batch):
        part = decoded[i:i + batch]
        detector.process_batch(YUVFrame(*(np.stack([f[k] for f, _ in part]) for k in range(3))),
                               [t for _, t in part])
    (check,) = detector.finish()
    return detector, check


@pytest.mark.parametrize("name", ["tff", "bff", "progressive", "still"])
def test_frame_labels_are_ffmpeg_idets(clips: dict[str, Path], name: str) -> None:
    y = _luma(clips[name])
    ref = _idet(clips[name])[1:-1]
    for step, share in ((1, 0.95), (2, 0.9)):       # every column, and the detector's 320
        ours = _ours(y, step)
        agree = sum(a == b for a, b in zip(ours, ref, strict=True)) / len(ref)
        assert agree >= share, (step, collections.Counter(ours), collections.Counter(ref))
    expected = {"tff": "tff", "bff": "bff", "progressive": "progressive",
                "still": "undetermined"}[name]
    assert collections.Counter(ref).most_common(1)[0][0] == expected


@pytest.mark.parametrize("name", ["tilt", "slow_tilt"])
def test_a_progressive_tilt_coded_by_x264_is_not_interlaced(clips: dict[str, Path],
                                                            name: str) -> None:
    # the case the guard is for: idet reads a field order into most of these frames
    ref = collections.Counter(_idet(clips[name]))
    assert ref["tff"] + ref["bff"] > sum(ref.values()) / 2, ref
    ours = collections.Counter(_ours(_luma(clips[name])))
    assert ours["tff"] + ours["bff"] == 0, ours
    _, check = _detect(clips[name])
    assert check.status == "pass" and check.measured == 0.0


@pytest.mark.parametrize(("name", "status", "words"), [
    ("tff", "fail", "top field first"),
    ("bff", "fail", "bottom field first"),
    ("progressive", "pass", "no combing"),
    ("still", "pass", "no motion"),
])
def test_verdicts(clips: dict[str, Path], name: str, status: str, words: str) -> None:
    _, check = _detect(clips[name])
    assert (check.id, check.clause, check.status) == ("video.interlacing", "D7", status)
    assert words in check.message
    if status == "fail":
        assert check.measured >= 0.8 and "deinterlace" in check.message
        assert len(check.events) == 1 and check.events[0].start_s < 0.5


def test_an_interlaced_insert_is_a_warning_at_its_time(clips: dict[str, Path]) -> None:
    _, check = _detect(clips["insert"])
    assert check.status == "warn", check.message
    assert "top field first" in check.message
    (event,) = check.events                    # frames 50–99: 2.0–4.0 s
    assert event.start_s == pytest.approx(2.0, abs=8 / FPS)
    assert event.end_s == pytest.approx(4.0, abs=8 / FPS)


def test_batches_do_not_change_the_labels(clips: dict[str, Path]) -> None:
    y = _luma(clips["insert"])
    direct = _ours(y, step=2)          # 320 columns: the detector's
    for batch in (1, 5, 16):
        detector, _ = _detect(clips["insert"], batch=batch)
        got = [(round(t * FPS), label) for t, label in detector.labels]
        assert got and all(direct[i - 1] == label for i, label in got)
        assert [i for i, _ in got] == list(range(4, len(y) - 1, 8))


def test_qc_file_tells_the_flags_from_the_picture(clips: dict[str, Path]) -> None:
    checks = {c.id: c for c in qc_file(clips["tff"], profile=PROFILE,
                                       thumbnails=False).report.checks}
    assert checks["format.scan"].status == "pass"       # the file says progressive
    assert checks["video.interlacing"].status == "fail"  # the picture is 50i
    checks = {c.id: c for c in qc_file(clips["progressive"], profile=PROFILE,
                                       thumbnails=False).report.checks}
    assert checks["video.interlacing"].status == "pass"
