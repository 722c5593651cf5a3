"""What a finished lecture's cards say: the title card (A4: course name, lecture number,
lecturer's name, professional title, unit) and the closing credits (A5: production unit,
recording date), read from the picture.

The words are read by OCR: RapidOCR, PaddleOCR's PP-OCR detection and recognition models
(Chinese and Latin) on ONNX Runtime, shipped inside the package, so nothing is fetched from
the network. A card is one picture, read once (about a second on two CPU cores; the models
load once per process, about as long). Where the package is missing, nothing is read and
the reports say so.

:func:`card_fields` finds in the text what A4 and A5 ask for. A lecturer's name cannot be
told from other words without knowing it; a professional title (专业技术职务) and a unit
can, by the words they end with.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from courseware.media import open_media, origin_s, seek_before

log = logging.getLogger(__name__)

#: a lecture's number as names and listings write it: 第3讲, 第 03 讲, 第三讲, 第十二讲
LECTURE = re.compile(r"第\s*([0-9]+|[一二三四五六七八九十两〇零]+)\s*讲")
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}


def lecture_number(text: str) -> int | None:
    """3, 03, 三, 十二, 二十 → the number (up to 99)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        return (_DIGITS.get(tens, -100) if tens else 1) * 10 + (_DIGITS.get(ones, -100)
                                                                if ones else 0)
    return _DIGITS.get(text) if len(text) == 1 else None


def lecture_numbers(line: str) -> list[int]:
    """Every lecture number ``line`` gives (第3讲 第四讲 → [3, 4])."""
    return [n for m in LECTURE.finditer(line) if (n := lecture_number(m[1])) is not None and n > 0]


#: lines read with less confidence than this are left out (RapidOCR's own default)
MIN_SCORE = 0.5
#: the picture is read at this height at least (small renders are scaled up; text on a
#: 360-line card is a dozen pixels high)
READ_HEIGHT = 720
#: pictures with fewer lines than this are not read (a thumbnail-sized film has no legible
#: card; a delivered lecture has 720 lines or more, B2/D4)
MIN_READ_LINES = 360

#: professional titles (专业技术职务) as cards write them, longest first where one holds
#: another: teaching, research, engineering, health, economics, accounting, press, law, …
TITLES = (
    "正高级工程师", "高级工程师", "助理工程师", "工程师",
    "副教授", "教授", "高级讲师", "讲师", "助教",
    "副研究员", "助理研究员", "研究员", "研究馆员", "副研究馆员", "馆员",
    "主任医师", "副主任医师", "主治医师", "医师", "主任药师", "副主任药师", "主管药师",
    "主任护师", "副主任护师", "主管护师", "主任技师", "副主任技师", "主管技师",
    "正高级教师", "高级教师", "一级教师", "二级教师",
    "正高级经济师", "高级经济师", "经济师", "正高级会计师", "高级会计师", "会计师",
    "高级审计师", "审计师", "高级统计师", "统计师", "高级农艺师", "农艺师",
    "高级畜牧师", "畜牧师", "高级兽医师", "兽医师", "高级实验师", "实验师",
    "高级政工师", "政工师", "高级记者", "主任记者", "记者", "编审", "副编审", "编辑",
    "译审", "副译审", "高级建筑师", "建筑师", "高级规划师", "一级律师", "二级律师",
    "高级工艺美术师", "工艺美术师",
)
_TITLE = re.compile("|".join(sorted(set(TITLES), key=len, reverse=True)))
#: a unit's name ends with one of these (大学, 研究院, 医院, 公司, 局 …)
_UNIT = re.compile(r"[\u4e00-\u9fff（）()]{2,}(?:大学|学院|学校|党校|研究院|研究所|研究中心|"
                   r"设计院|医院|卫生院|疾控中心|中心|公司|集团|银行|局|厅|委员会|协会|学会|"
                   r"联合会|基地|研究会|电视台|电台|站|馆|社)")
#: A5's two fields: who produced the course, when it was recorded
_PRODUCER = re.compile(r"制作(?:单位|方)?|摄制|出品")
_DATE = re.compile(r"录制(?:时间|日期)|(?:19|20)\d\d\s*[年./-]\s*\d{1,2}")


@dataclass(frozen=True)
class CardFields:
    """What :func:`card_fields` found in a card's text (None: not found)."""

    title: str | None        #: a professional title (教授, 高级工程师 …)
    unit: str | None         #: a unit's name (西安交通大学 …)
    producer: bool           #: A5: the production unit named (制作单位)
    date: bool               #: A5: the recording date given (录制时间, 2024年5月)
    titles: tuple[str, ...] = ()    #: every professional title found, in reading order


def card_fields(lines: Sequence[str]) -> CardFields:
    """A4's and A5's fields in a card's lines (each searched on its own, its spaces out)."""
    compact = [re.sub(r"\s+", "", line) for line in lines]
    titles = tuple(m for line in compact for m in _TITLE.findall(line))
    unit = next((m[0] for line in compact if (m := _UNIT.search(line))), None)
    return CardFields(title=titles[0] if titles else None, unit=unit,
                      producer=any(_PRODUCER.search(line) for line in compact),
                      date=any(_DATE.search(line) for line in lines), titles=titles)


_engine: Any = None
_engine_lock = threading.Lock()


def ocr_engine() -> Any | None:
    """The OCR engine, loaded once per process; None when RapidOCR or ONNX Runtime is not
    installed (the reason logged once)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                log.warning("card text not read: OCR unavailable (%s); pip install rapidocr "
                            "onnxruntime", exc)
                _engine = False
            else:
                # its warnings ("the text detection result is empty") are no news here
                _engine = RapidOCR(params={"Global.log_level": "error"})
        return _engine or None


def read_picture(rgb: np.ndarray) -> tuple[str, ...] | None:
    """The lines of text in an H×W×3 RGB picture, top to bottom (None: no OCR here)."""
    engine = ocr_engine()
    if engine is None:
        return None
    import cv2

    h, w = rgb.shape[:2]
    if h < READ_HEIGHT:
        scale = READ_HEIGHT / h
        rgb = cv2.resize(rgb, (round(w * scale), READ_HEIGHT), interpolation=cv2.INTER_CUBIC)
    out = engine(np.ascontiguousarray(rgb[:, :, ::-1]))          # RapidOCR takes BGR
    if out.txts is None:
        return ()
    found = sorted(((float(box[:, 1].mean()), float(box[:, 0].min()), text)
                    for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True)
                    if score >= MIN_SCORE and text.strip()), key=lambda r: (r[0], r[1]))
    lines: list[list[tuple[float, float, str]]] = []
    for row in found:                  # boxes on one line (their middles close) join up
        if lines and abs(row[0] - lines[-1][0][0]) < 0.02 * rgb.shape[0]:
            lines[-1].append(row)
        else:
            lines.append([row])
    return tuple(" ".join(t for _, _, t in sorted(line, key=lambda r: r[1])) for line in lines)


def picture_at(path: Path, at: float, *, lecture: str | None = None,
               min_lines: int = 0) -> np.ndarray | None:
    """The RGB picture shown at ``at`` seconds from the file's start (H×W×3); None where it
    cannot be had or the picture has fewer than ``min_lines`` lines."""
    try:
        with open_media(path, lecture=lecture) as container:
            stream = container.streams.video[0]
            if (stream.height or 0) < min_lines:
                return None
            origin = origin_s(container)
            seek_before(container, stream, at, origin=origin)
            for frame in container.decode(stream):
                if frame.time is not None and frame.time - origin >= at - 0.02:
                    return frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        log.warning("%s: the picture at %.2f s not read (%s)", path, at, exc)
    return None


def read_card(path: Path, span: tuple[float, float], *, lecture: str | None = None
              ) -> tuple[str, ...] | None:
    """The lines of a still card shown over ``span`` (seconds from the file's start), read
    from its middle picture; None when there is no OCR here, the picture cannot be had or it
    is too small to read (under ``MIN_READ_LINES`` lines)."""
    if ocr_engine() is None:
        return None
    rgb = picture_at(path, (span[0] + span[1]) / 2, lecture=lecture, min_lines=MIN_READ_LINES)
    return read_picture(rgb) if rgb is not None else None
