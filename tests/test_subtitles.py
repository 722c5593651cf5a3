"""Subtitles (D8): SRT checked with line numbers; muxed as timed text at the right times."""

from __future__ import annotations

import codecs
import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import pytest
import yaml

from courseware.course import load_course
from courseware.sample import make_sample
from courseware.subtitles import SubtitleError, parse_srt, shift_and_clip
from encoder_profiles import load_profile
from tasks.probe import probe_lecture
from tasks.render import AudioPlan, render_lecture

SRT = """\ufeff1
00:00:00,500 --> 00:00:01,500
各位学员，大家好。

2
00:00:02,000 --> 00:00:03,250
今天我们讨论“双碳”目标
(carbon peak & neutrality)
"""


def test_parse_good_srt(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_text(SRT, encoding="utf-8")
    cues = parse_srt(path)
    assert [(c.start_s, c.end_s) for c in cues] == [(0.5, 1.5), (2.0, 3.25)]
    assert cues[1].text == "今天我们讨论“双碳”目标\n(carbon peak & neutrality)"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("00:00:01,500", "00:00:00,200", r"line 2: cue ends \(0.200 s\) before it starts"),
        ("00:00:02,000", "00:00:01,000", r"line 6: cue starts at 1.000 s, before the previous"),
        ("00:00:02,000 --> ", "00:00:02,000 -> ", r"line 6: expected 'start --> end'"),
        ("00:00:00,500", "0:0:0.5", r"line 2: timestamp '0:0:0.5' is not HH:MM:SS,mmm"),
    ],
)
def test_bad_srt_names_the_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "a.srt"
    path.write_text(SRT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SubtitleError, match=message):
        parse_srt(path, lecture="1")


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-16", "utf-16-be", "utf-8"])
def test_the_encodings_chinese_tools_save_srt_in(tmp_path: Path, encoding: str) -> None:
    """GBK/GB18030 (Chinese Windows' default), UTF-16 with its BOM (Notepad's "Unicode"),
    UTF-8 with or without a BOM: the same cues, the same text."""
    path = tmp_path / "a.srt"
    data = SRT.removeprefix("\ufeff").encode(encoding)   # Python's "utf-16" writes a BOM
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    cues = parse_srt(path)
    assert [c.text for c in cues] == ["各位学员，大家好。",
                                      "今天我们讨论“双碳”目标\n(carbon peak & neutrality)"]
    assert [(c.start_s, c.end_s) for c in cues] == [(0.5, 1.5), (2.0, 3.25)]


def test_neither_utf8_nor_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    # 0x80 is no lead byte in GB18030, and 0xC3 0x28 no UTF-8 sequence
    path.write_bytes(SRT.removeprefix("\ufeff").encode("utf-8") + b"\xc3\x28\x80\n")
    with pytest.raises(SubtitleError, match=r"neither UTF-8 .* nor GB18030/GBK"):
        parse_srt(path)


def test_shift_and_clip() -> None:
    from courseware.subtitles import Cue

    cues = [Cue(0.0, 1.0, "a"), Cue(2.0, 5.0, "b"), Cue(9.0, 10.0, "c")]
    out = shift_and_clip(cues, offset_s=4.0, start_s=4.0, end_s=8.0)
    assert [(c.start_s, c.end_s, c.text) for c in out] == [(4.0, 5.0, "a"), (6.0, 8.0, "b")]


def test_rendered_lecture_carries_the_cues(tmp_path: Path) -> None:
    course_file = make_sample(tmp_path / "raw", lectures=1, seconds=4.0)
    (course_file.parent / "lecture01" / "zh.srt").write_text(SRT, encoding="utf-8")
    data = yaml.safe_load(course_file.read_text("utf-8"))
    data["lectures"][0]["subtitles"] = "lecture01/zh.srt"
    data["course"]["intro"] = None
    course_file.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    course = load_course(course_file)
    profile = load_profile()
    inputs = probe_lecture(course, course.lectures[0])
    assert inputs.cue_count == 2
    result = render_lecture(course, inputs, audio=AudioPlan(role=None, peak_dbfs=None,
                                                            gain_db=0.0),
                            profile=profile, out_dir=tmp_path / "out")
    with av.open(str(result.path)) as c:
        assert [s.codec_context.name for s in c.streams.subtitles] == ["mov_text"]
    srt = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(result.path), "-map", "0:s",
         "-f", "srt", "-"], capture_output=True, text=True, check=True).stdout
    card = profile.encode.title_card_s  # cues start after the title card (no intro here)
    assert f"00:00:0{card + 0.5:.3f}".replace(".", ",") in srt
    assert "各位学员，大家好。" in srt and "(carbon peak & neutrality)" in srt
    from tasks.verify import verify_file

    assert verify_file(result.path, profile=profile).status == "pass"
