"""``courseware verify``: probe figures and the format checks (D2–D10) on generated files.

Each clip of :mod:`foreign_media` (made by the FFmpeg binary, not by our writer) breaks one
clause and must fail exactly the matching ``format.*`` checks; MediaInfo, an independent
reader, must agree with the probe's figures.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from foreign_media import CLIPS, FFMPEG

from courseware.errors import CorruptMediaError, MissingSourceError
from courseware.media import DeliveryWriter
from courseware.probe import MediaProbe, _iso_boxes, probe_media
from encoder_profiles import Profile, load_profile
from qc_metrics.format import check_format
from tasks.verify import verify_file, verify_task

FORMAT_IDS = [
    "format.container", "format.video_codec", "format.pixel_format", "format.bitrate",
    "format.resolution", "format.aspect", "format.fps", "format.scan", "format.audio_codec",
    "format.audio_rate", "format.audio_bitrate", "format.audio_channels", "format.faststart",
]


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("shaanxi-2024")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Callable[[str], Path]:
    """A clip by name, made on first use (so ``-k`` runs make only what they need)."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = CLIPS[name].make(folder, profile)
        return made[name]

    return get


def _probe(path: Path, profile: Profile) -> MediaProbe:
    return probe_media(path, window_s=profile.delivery.bitrate_window_s)


def _by_id(checks: list) -> dict:
    return {c.id: c for c in checks}


@pytest.mark.parametrize("name", list(CLIPS))
def test_clip_fails_exactly_its_clause(name: str, clip: Callable[[str], Path],
                                       profile: Profile) -> None:
    report = verify_file(clip(name), profile=profile)
    assert [c.id for c in report.checks] == FORMAT_IDS
    failed = {c.id for c in report.failed()}
    assert failed == CLIPS[name].fails, report.table()
    for check in report.checks:
        if check.id not in failed:
            not_mp4 = name in ("mkv", "avi30") and check.id == "format.faststart"
            expected = "skip" if not_mp4 else "pass"
            assert check.status == expected, report.table()
        assert check.message
    assert report.status == ("fail" if failed else "pass")
    assert report.profile == profile.name


@pytest.mark.parametrize(("degrees", "shows"), [(180, "upside down"),
                                               (90, "as a 720x1280 portrait picture")])
def test_a_display_rotation_fails_d5(clip: Callable[[str], Path], profile: Profile,
                                     tmp_path: Path, degrees: int, shows: str) -> None:
    """The compliant reference remuxed with a display rotation (as phones write): players
    turn it, so it is not the upright 16:9 picture D5 asks for, and only D5 fails."""
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-display_rotation",
                    str(degrees), "-i", str(clip("reference")), "-c", "copy", "-movflags",
                    "+faststart", str(rotated)], check=True, capture_output=True, timeout=60)
    report = verify_file(rotated, profile=profile)
    assert {c.id for c in report.failed()} == {"format.aspect"}, report.table()
    aspect = _by_id(list(report.checks))["format.aspect"]
    assert aspect.measured == f"turned {degrees}°" and shows in aspect.message


def test_reference_figures(clip: Callable[[str], Path], profile: Profile) -> None:
    d, enc = profile.delivery, profile.encode
    probe = _probe(clip("reference"), profile)
    assert probe.is_iso_bmff and probe.faststart is True
    assert "mp4" in probe.format_names
    assert probe.duration_s == pytest.approx(4.0, abs=0.05)
    v, a = probe.video, probe.audio
    assert v is not None and a is not None
    assert (v.codec, v.width, v.height) == ("h264", enc.width, enc.height)
    assert v.sample_aspect == (1, 1) and v.display_aspect == tuple(d.aspect)
    assert v.fps == pytest.approx(d.fps) and v.frames == 4 * d.fps
    assert v.frame_interval_min_s == pytest.approx(1 / d.fps)
    assert v.frame_interval_max_s == pytest.approx(1 / d.fps)
    assert not v.interlaced and v.field_order == "progressive"
    assert (v.pixel_format, v.bit_depth, v.chroma, v.transfer) == ("yuv420p", 8, "4:2:0", None)
    assert v.bitrate_kbps == pytest.approx(enc.video_bitrate_kbps, rel=0.1)
    assert v.bitrate_min_kbps is not None and v.bitrate_max_kbps is not None
    assert v.bitrate_min_kbps <= v.bitrate_kbps <= v.bitrate_max_kbps
    assert (a.codec, a.profile, a.sample_rate, a.channels) == ("aac", "LC", d.audio_rate, 2)
    assert a.bitrate_kbps == pytest.approx(d.audio_bitrate_kbps, rel=d.audio_bitrate_tolerance)


def test_padded_aac_has_near_identical_packets(clip: Callable[[str], Path],
                                              profile: Profile) -> None:
    # D9 constant: 128 kbps at 48 kHz is 341⅓ bytes per 1024-sample frame → 341 or 342
    d = profile.delivery
    a = _probe(clip("reference_padded"), profile).audio
    assert a is not None
    exact = d.audio_bitrate_kbps * 1000 / 8 * a.frame_samples / d.audio_rate
    assert int(exact) <= a.packet_bytes_min <= a.packet_bytes_max <= int(exact) + 1
    assert a.rate_deviation_bytes <= 1
    # FFmpeg's native AAC on the same tone varies frame by frame, yet stays near the line
    native = _probe(clip("reference"), profile).audio
    assert native is not None
    assert native.packet_bytes_max - native.packet_bytes_min > 10
    assert native.rate_deviation_bytes < 6144 * native.channels / 8


def test_mediainfo_agrees_with_probe(clip: Callable[[str], Path], profile: Profile) -> None:
    pymediainfo = pytest.importorskip("pymediainfo")
    for name in ("reference", "interlaced", "anamorphic", "vfr", "44k1", "mono", "10bit",
                 "422", "hlg"):
        path = clip(name)
        probe = _probe(path, profile)
        v, a = probe.video, probe.audio
        assert v is not None and a is not None
        info = pymediainfo.MediaInfo.parse(str(path))
        mv, ma = info.video_tracks[0], info.audio_tracks[0]
        assert mv.format == "AVC" and v.codec == "h264"
        assert (int(mv.width), int(mv.height)) == (v.width, v.height)
        assert float(mv.pixel_aspect_ratio) == pytest.approx(v.sample_aspect[0]
                                                             / v.sample_aspect[1], abs=1e-3)
        assert (mv.frame_rate_mode == "VFR") == (name == "vfr")
        if name != "vfr":
            assert float(mv.frame_rate) == pytest.approx(v.fps, abs=1e-3)
        assert (mv.scan_type != "Progressive") == v.interlaced  # "MBAFF" for x264 --tff
        assert (int(mv.bit_depth), mv.chroma_subsampling) == (v.bit_depth, v.chroma)
        hlg = mv.transfer_characteristics == "HLG"
        assert hlg == (v.transfer == "arib-std-b67") == (name == "hlg")
        assert ma.format == "AAC" and a.codec == "aac"
        assert int(ma.sampling_rate) == a.sample_rate
        assert int(ma.channel_s) == a.channels


@pytest.mark.parametrize(("name", "says"), [
    ("10bit", ["yuv420p10le (10-bit 4:2:0)", "High 10", "browsers", "-pix_fmt yuv420p"]),
    ("422", ["yuv422p (8-bit 4:2:2)", "High 4:2:2", "phones"]),
    ("hlg", ["10-bit", "high dynamic range", "HLG", "washed out", "tone-mapping"])])
def test_pixel_formats_players_cannot_show(clip: Callable[[str], Path], profile: Profile,
                                           name: str, says: list[str]) -> None:
    """H.264 that is still D2's codec but that browsers and phones do not play (10-bit,
    4:2:2), or HDR: the check says what the file is, why it will not play right, and the
    fix; the reference says what it is and passes."""
    check = _by_id(verify_file(clip(name), profile=profile).checks)["format.pixel_format"]
    assert check.status == "fail" and check.clause == "D2"
    for words in says:
        assert words in check.message, check.message
    assert ("high dynamic range" in check.message) == (name == "hlg")
    ok = _by_id(verify_file(clip("reference"), profile=profile).checks)["format.pixel_format"]
    assert ok.status == "pass" and ok.measured == "yuv420p"
    assert "yuv420p (8-bit 4:2:0), standard dynamic range" in ok.message


def test_delivery_writer_output_verifies(tmp_path: Path, profile: Profile) -> None:
    """The pipeline's own writer makes files that pass every format clause."""
    out = tmp_path / "delivery.mp4"
    enc, d = profile.encode, profile.delivery
    per_frame = d.audio_rate // d.fps
    rng = np.random.default_rng(1)
    with DeliveryWriter(out, profile) as writer:
        for i in range(2 * d.fps):
            image = np.full((enc.height, enc.width, 3), 60, np.uint8)
            image[100:300, 8 * i: 8 * i + 300] = 200
            t = (np.arange(per_frame) + i * per_frame) / d.audio_rate
            tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(per_frame)
            writer.write(av.VideoFrame.from_ndarray(image, format="rgb24"),
                         np.stack([tone, tone]).astype(np.float32))
    report = verify_file(out, profile=profile)
    assert report.status == "pass", report.table()


# --- the pure check function on edited probes -------------------------------------------

@pytest.fixture(scope="module")
def reference(clip: Callable[[str], Path], profile: Profile) -> MediaProbe:
    return _probe(clip("reference"), profile)


def test_windowed_bitrate_outside_range_fails(reference: MediaProbe, profile: Profile) -> None:
    # D3: an in-range average does not excuse a window below the minimum
    r = profile.delivery.video_bitrate_kbps
    assert reference.video is not None
    video = replace(reference.video, bitrate_kbps=(r.min + r.max) / 2,
                    bitrate_min_kbps=r.min - 200, bitrate_max_kbps=r.max - 10)
    check = _by_id(check_format(replace(reference, video=video), profile))["format.bitrate"]
    assert check.status == "fail"
    assert f"{r.min - 200:.0f}–{r.max - 10:.0f} kbps" in check.message


def test_bitrate_of_file_shorter_than_a_window(reference: MediaProbe, profile: Profile) -> None:
    assert reference.video is not None
    video = replace(reference.video, bitrate_min_kbps=None, bitrate_max_kbps=None)
    check = _by_id(check_format(replace(reference, video=video), profile))["format.bitrate"]
    assert check.status == "pass" and "only the average" in check.message


def test_variable_audio_at_right_average_fails(reference: MediaProbe, profile: Profile) -> None:
    # D9 "constant": the right average is not enough when the rate drifts
    assert reference.audio is not None
    audio = replace(reference.audio, rate_deviation_bytes=20_000.0, packet_bytes_min=6)
    check = _by_id(check_format(replace(reference, audio=audio), profile))["format.audio_bitrate"]
    assert check.status == "fail" and "variable" in check.message


def test_he_aac_fails_codec(reference: MediaProbe, profile: Profile) -> None:
    assert reference.audio is not None
    audio = replace(reference.audio, profile="HE-AAC")
    check = _by_id(check_format(replace(reference, audio=audio), profile))["format.audio_codec"]
    assert check.status == "fail" and "AAC-LC" in check.message


def test_messages_read_plainly(clip: Callable[[str], Path], profile: Profile) -> None:
    fps = _by_id(verify_file(clip("fps30"), profile=profile).checks)["format.fps"]
    assert fps.measured == pytest.approx(30.0)
    assert fps.message.startswith("30 fps;") and f"{profile.delivery.fps} fps constant (D6)" in \
        fps.message
    ntsc = _by_id(verify_file(clip("fps2997"), profile=profile).checks)["format.fps"]
    assert ntsc.message.startswith("29.97 fps;")
    vfr = _by_id(verify_file(clip("vfr"), profile=profile).checks)["format.fps"]
    assert vfr.message.startswith("variable frame rate")
    rate = _by_id(verify_file(clip("2mbps"), profile=profile).checks)["format.bitrate"]
    assert "2-s windows" in rate.message and "800–1024 kbps" in rate.message
    silence = _by_id(verify_file(clip("audio_vbr"), profile=profile).checks)
    assert "variable" in silence["format.audio_bitrate"].message


def test_container_figures(clip: Callable[[str], Path], profile: Profile) -> None:
    mkv = _probe(clip("mkv"), profile)
    assert mkv.format_names[0] == "matroska" and not mkv.is_iso_bmff and mkv.faststart is None
    assert _probe(clip("no_faststart"), profile).faststart is False
    assert _probe(clip("quicktime"), profile).major_brand == "qt  "


def test_box_walk_reads_64_bit_sizes(tmp_path: Path) -> None:
    # ISO/IEC 14496-12 4.2: size 1 means a 64-bit size follows the type
    path = tmp_path / "boxes.mp4"
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 512)
    free = struct.pack(">I4sQ", 1, b"free", 24) + bytes(8)
    moov = struct.pack(">I4s", 8, b"moov")
    mdat = struct.pack(">I4s", 0, b"mdat") + bytes(32)  # size 0: to the end of the file
    path.write_bytes(ftyp + free + moov + mdat)
    assert _iso_boxes(path) == (True, "isom", True)
    path.write_bytes(ftyp + free + struct.pack(">I4s", 40, b"mdat") + bytes(32) + moov)
    assert _iso_boxes(path) == (True, "isom", False)


# --- errors ---------------------------------------------------------------------------

def test_missing_file(tmp_path: Path, profile: Profile) -> None:
    path = tmp_path / "lecture-03.mp4"
    with pytest.raises(MissingSourceError, match=r"lecture-03\.mp4.*lecture 3"):
        verify_file(path, profile=profile, lecture="3")


def test_garbage_file(tmp_path: Path, profile: Profile) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video at all " * 500)   # an empty file: below
    with pytest.raises(CorruptMediaError, match=r"broken\.mp4.*re-export"):
        verify_file(path, profile=profile)


@pytest.mark.parametrize("reader", ["verify", "probe"])
def test_a_recording_that_was_never_closed(tmp_path: Path, profile: Profile,
                                           reader: str) -> None:
    """A camera MP4 whose recording stopped without closing the file (power lost, the card
    taken out): its media data is there, its index (``moov``, written last) is not. The
    error says so and what to do, where a player only says "invalid data"; an MP4 cut in
    its first box is not taken for one."""
    from tasks.probe import probe_source

    whole = tmp_path / "whole.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x90:rate=25", "-t", "2", "-c:v", "libx264",
                    str(whole)], check=True, capture_output=True)
    data = whole.read_bytes()
    assert data.index(b"moov") > data.index(b"mdat")   # as a camera writes it: index last
    cut = tmp_path / "C0001.MP4"
    cut.write_bytes(data[:len(data) * 2 // 3])
    head = tmp_path / "C0002.MP4"
    head.write_bytes(data[:20])

    def read(path: Path) -> None:
        if reader == "verify":
            verify_file(path, profile=profile, lecture="3")
        else:
            probe_source("teacher", path, lecture="3", needs_video=True)

    with pytest.raises(CorruptMediaError,
                       match=r"C0001\.MP4 \(lecture 3.*without its index.*not closed.*untrunc"):
        read(cut)
    with pytest.raises(CorruptMediaError, match=r"C0002\.MP4 .*cannot be read as media"):
        read(head)


def _handed_in(tmp_path: Path, kind: str) -> Path:
    """A file a base hands in where a recording belongs, named as if it were one."""
    import io
    import zipfile

    from PIL import Image

    path = tmp_path / f"{kind}.mp4"
    picture = Image.fromarray(np.full((72, 128, 3), 200, np.uint8))
    if kind in ("png", "jpeg"):
        buf = io.BytesIO()
        picture.save(buf, format=kind.upper())
        path.write_bytes(buf.getvalue())
    elif kind == "pdf":
        picture.save(path, format="PDF")
    elif kind in ("pptx", "zip"):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("ppt/presentation.xml" if kind == "pptx" else "lecture/slides.mp4",
                       "x")
    elif kind == "ppt":
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    elif kind == "html":
        path.write_text("<!DOCTYPE html>\n<html><head><title>百度网盘 请输入提取码</title>",
                        "utf-8")
    else:
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize(("kind", "said"), [
    ("pdf", "a PDF document, not a recording.*capture of the screen"),
    ("pptx", "a PowerPoint deck, not a recording"),
    ("ppt", "an Office document .*not a recording"),
    ("png", r"a still picture \(PNG\), not a recording"),
    ("jpeg", r"a still picture \(JPEG\), not a recording"),
    ("zip", "a ZIP archive: unpack it"),
    ("html", "a web page.*download the file itself"),
    ("empty", r"the file is empty \(0 bytes\).*did not finish"),
])
def test_a_file_that_is_not_a_recording_is_named_as_what_it_is(
        tmp_path: Path, profile: Profile, kind: str, said: str) -> None:
    """A slide deck, a still picture, an archive, a cloud drive's share page saved instead
    of the download, an upload that never finished: each named by what it is (from its
    bytes, whatever its name), with what to do, wherever a source is read. FFmpeg opens a
    picture as a one-frame video and says of the rest only "invalid data"."""
    from tasks.probe import probe_source

    path = _handed_in(tmp_path, kind)
    with pytest.raises(CorruptMediaError, match=rf"{kind}\.mp4 \(lecture 3, slides\): {said}"):
        probe_source("slides", path, lecture="3", needs_video=True)
    with pytest.raises(CorruptMediaError, match=rf"{kind}\.mp4 \(lecture 3\): {said}"):
        verify_file(path, profile=profile, lecture="3")


def test_file_without_audio_or_video(tmp_path: Path, profile: Profile) -> None:
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\n字幕\n", encoding="utf-8")
    path = tmp_path / "subtitles-only.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(srt),
                    "-c:s", "mov_text", str(path)], check=True, capture_output=True)
    with pytest.raises(CorruptMediaError, match=r"subtitles-only\.mp4 \(lecture 2\).*no video"):
        verify_file(path, profile=profile, lecture="2")


def test_prefect_task_wraps_verify_file() -> None:
    assert verify_task.name == "verify"
    assert verify_task.fn is verify_file


def test_the_verify_command(tmp_path: Path) -> None:
    """``courseware verify FILE [--json]``: the table, exit 1 on a failed clause, the report as
    JSON; a folder is refused (verify takes one file)."""
    import json

    from audio_signals import speech_like
    from click.testing import CliRunner
    from video_signals import camera_file

    from courseware.cli import cli

    path = tmp_path / "camera.mp4"
    camera_file(path, (120, 120, 120), speech_like(level_dbfs=-24.0, seconds=2.0,
                                                   sample_rate=48000).samples)
    result = CliRunner().invoke(cli, ["verify", str(path), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output
    assert "format.resolution" in result.output and "→  FAIL" in result.output
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert report["status"] == "fail" and {c["id"] for c in report["checks"]} >= {
        "format.resolution", "format.bitrate"}
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output, result.output
