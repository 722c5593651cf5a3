"""Subtitles (D8): SRT files checked on load and muxed as an MP4 timed-text track.

A cue that cannot be read names the file, the line and what is wrong. The text is read as
Chinese subtitle tools save it: UTF-8 (a BOM is fine), UTF-16 with its BOM (Windows
Notepad's "Unicode"), or GB18030, the national standard that GBK and GB2312 are subsets of
(the default of Chinese Windows); in the film it is UTF-8, as MP4 timed text is. In the
delivered film the cues are shifted by the time the lecture content starts (after the intro
and the title card) and cut at its end.
"""

from __future__ import annotations

import codecs
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from courseware.errors import PipelineError

log = logging.getLogger(__name__)


class SubtitleError(PipelineError, ValueError):
    """An SRT file is malformed."""


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})$")

#: The ASS header FFmpeg's mov_text encoder needs to open; styling comes from the player.
ASS_HEADER = b"""[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Noto Sans CJK SC,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def _seconds(text: str, where: str) -> float:
    m = _TIME.match(text.strip())
    if not m:
        raise SubtitleError(f"{where}: timestamp {text.strip()!r} is not HH:MM:SS,mmm")
    h, mnt, s, ms = m.groups()
    if int(mnt) > 59 or int(s) > 59:
        raise SubtitleError(f"{where}: timestamp {text.strip()!r} has minutes/seconds over 59")
    return int(h) * 3600 + int(mnt) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def parse_srt(path: Path, *, lecture: str | None = None) -> list[Cue]:
    """Cues of an SRT file, in order, checked: times well-formed, end after start, cues
    not overlapping, text present."""
    who = f"{path}" + (f" (lecture {lecture})" if lecture else "")
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SubtitleError(f"{who}: subtitle file not found; fix the path in the course "
                            "file") from exc
    text = _decode(raw, who)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block_line = i + 1
        if lines[i].strip().isdigit():  # the cue number is optional in practice
            i += 1
        if i >= len(lines) or "-->" not in lines[i]:
            raise SubtitleError(f"{who}: line {i + 1}: expected 'start --> end', "
                                f"found {lines[i].strip() if i < len(lines) else 'end of file'!r}")
        where = f"{who}: line {i + 1}"
        left, right = lines[i].split("-->", 1)
        start, end = _seconds(left, where), _seconds(right.split()[0] if right.split() else "",
                                                     where)
        if end <= start:
            raise SubtitleError(f"{where}: cue ends ({end:.3f} s) before it starts ({start:.3f} s)")
        if cues and start < cues[-1].end_s - 1e-6:
            raise SubtitleError(f"{where}: cue starts at {start:.3f} s, before the previous cue "
                                f"ends ({cues[-1].end_s:.3f} s)")
        i += 1
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        if not body:
            raise SubtitleError(f"{who}: line {block_line}: cue has no text")
        cues.append(Cue(start, end, "\n".join(body)))
    if not cues:
        raise SubtitleError(f"{who}: no cues found")
    return cues


def _decode(raw: bytes, who: str) -> str:
    """The SRT's text: UTF-16 where it starts with that BOM, else UTF-8, else GB18030."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SubtitleError(f"{who}: starts as UTF-16 but byte {exc.start} is not; "
                                "save the SRT as UTF-8") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8 = exc
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise SubtitleError(f"{who}: neither UTF-8 (byte {utf8.start} is not) nor GB18030/GBK "
                            f"(byte {exc.start} is not); save the SRT as UTF-8") from exc
    log.info("%s: read as GB18030 (GBK), not UTF-8", who)
    return text.removeprefix("\ufeff")


def shift_and_clip(cues: list[Cue], *, offset_s: float, start_s: float,
                   end_s: float) -> list[Cue]:
    """Cues moved from lecture time to film time (+offset), cut to [start_s, end_s]."""
    out = []
    for cue in cues:
        a, b = max(cue.start_s + offset_s, start_s), min(cue.end_s + offset_s, end_s)
        if b > a:
            out.append(Cue(a, b, cue.text))
    return out


def mov_text_sample(text: str) -> bytes:
    """A 3GPP timed-text sample (3GPP TS 26.245): 16-bit big-endian length, UTF-8 text."""
    data = text.encode("utf-8")
    return struct.pack(">H", len(data)) + data
