"""The course application form (申请表) of the 2024 notice, filled from the course file (F, D11).

附件1 is the form for public courses (公需课), 附件2 the one for professional courses (专业课,
with 申报专业 and 层级). Both are one table: 申报单位, 科目名称, 课件介绍 (1. lecturers —
name, title, unit, role; 2. the curriculum; 3. the compliance pledge), 联系人及通讯方式, and
blank fields for the applying unit's and the authority's stamps. The output is an editable
DOCX a person checks, prints, signs and stamps; the text is set in 宋体 / 黑体 with the
East Asian font named on every run, so Word and WPS show the Chinese in those faces.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from courseware.course import Course

if TYPE_CHECKING:
    from docx.document import Document as DocumentObject
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

BODY_FONT = "宋体"      # SimSun: body text of government forms
HEADING_FONT = "黑体"   # SimHei: attachment label and field names
LATIN_FONT = "Times New Roman"


@dataclass(frozen=True)
class FormKind:
    attachment: str  # 附件1 / 附件2 of 陕人社函〔2024〕227号
    title: str
    review: str      # who signs the review field at the bottom


# The two attachments of the 2024 notice, titles verbatim.
PUBLIC_FORM = FormKind("附件1", "2024年继续教育网络公需课科目申请表", "省人社厅审核意见")
PROFESSIONAL_FORM = FormKind("附件2", "2024年继续教育网络专业课科目申请表",
                             "省级或市级人社部门审核意见")

# 课件介绍 3. 合规合法性承诺, verbatim from both attachments.
PLEDGE = ("本基地承诺严格按照省人社厅《继续教育网络课件制作规范》进行课件制作，课件来源合法，"
          "版权无纠纷；课件内容遵守国家法律法规，积极向上。")
LEVELS = ("初级", "中级", "高级")

_COLUMNS_MM = (32.0, 62.0, 18.0, 48.0)  # label | value | 层级 label | 层级 boxes: 160 mm
# the lecture table inside 课件介绍 (128 mm wide, less the cell margins)
_CURRICULUM = (("讲次", 17.0), ("标题", 40.0), ("主讲", 18.0), ("内容简介", 49.0))
_CURRICULUM_TIMED = (("讲次", 17.0), ("标题", 33.0), ("主讲", 16.0), ("内容简介", 34.0),
                     ("时长", 24.0))


def form_kind(course: Course) -> FormKind:
    """附件1 for public courses, 附件2 for professional ones."""
    return PUBLIC_FORM if course.info.kind == "public" else PROFESSIONAL_FORM


def write_application_form(course: Course, path: Path, *,
                           durations: dict[int, float] | None = None) -> Path:
    """Write the application form for ``course`` as DOCX.

    ``durations`` maps lecture numbers to their length in seconds (from the rendered
    lectures) and adds a 时长 column to the curriculum; lectures missing from it show "—".
    """
    path = Path(path)
    kind = form_kind(course)
    info = course.info
    doc = Document()
    _page_setup(doc)

    _paragraph(doc.add_paragraph(), kind.attachment, font=HEADING_FONT, size=14)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)
    _paragraph(title, kind.title, font=HEADING_FONT, size=18)

    table = doc.add_table(rows=0, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _grid(table, _COLUMNS_MM)

    _field(table, "申报单位", info.applying_unit)
    if kind is PROFESSIONAL_FORM:
        _field(table, "申报专业", info.speciality or "")
        row = _row(table, min_height_mm=12)
        _label(row[0], "科目名称")
        _text(row[1].paragraphs[0], info.name)
        _label(row[2], "层级")
        boxes = "  ".join(f"{'☑' if level == info.level else '☐'}{level}" for level in LEVELS)
        _text(row[3].paragraphs[0], boxes)
    else:
        _field(table, "科目名称", info.name)

    row = _row(table)
    _label(row[0], "课件介绍")
    row[0].vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP  # a long row, may break pages
    cell = row[1].merge(row[3])
    _introduction(cell, course, durations or {})

    contact = info.contact
    means = f"电话：{contact.phone}" + (f"    邮箱：{contact.email}" if contact.email else "")
    _field(table, "联系人及通讯方式", f"联系人：{contact.name}    {means}")
    _stamp(table, "申报单位意见", "（盖章）：        年    月    日")
    _stamp(table, kind.review, ("（盖章）：        年    月    日" if kind is PROFESSIONAL_FORM
                                else "年    月    日"))

    path.parent.mkdir(parents=True, exist_ok=True)
    # the same course gives the same bytes: a republished package changes nothing
    stamp = dt.datetime.combine(course.info.recording_date, dt.time(), dt.UTC)
    doc.core_properties.created = doc.core_properties.modified = stamp
    doc.core_properties.last_printed = stamp
    doc.save(str(path))
    _fixed_zip_times(path)
    return path


def _introduction(cell: _Cell, course: Course, durations: dict[int, float]) -> None:
    """课件介绍: 1. 师资介绍, 2. 课程体系 (with the lecture table), 3. 合规合法性承诺."""
    lectures = course.lectures
    first = cell.paragraphs[0]
    _text(first, "1. 师资介绍：", bold=True)
    for lecturer in course.model.lecturers:
        taught = [lec.number for lec in lectures if lec.lecturer == lecturer.id]
        which = f"（第{'、'.join(map(str, taught))}讲）" if taught else ""
        _text(cell.add_paragraph(), f"{lecturer.name}，{lecturer.title}，{lecturer.unit}，"
                                    f"{lecturer.role}{which}。")

    _text(cell.add_paragraph(), "2. 课程体系：", bold=True)
    total = sum(durations.get(lec.number, 0.0) for lec in lectures)
    known = all(lec.number in durations for lec in lectures)
    length = f"，总时长{_minutes(total)}" if durations and known else ""
    overview = f"该课程共{len(lectures)}讲{length}。"
    if course.info.summary:
        overview += course.info.summary
    _text(cell.add_paragraph(), overview)
    columns = _CURRICULUM_TIMED if durations else _CURRICULUM
    curriculum = cell.add_table(rows=1, cols=len(columns))
    curriculum.style = "Table Grid"
    curriculum.autofit = False
    for target, (text, _) in zip(curriculum.rows[0].cells, columns, strict=True):
        _text(target.paragraphs[0], text, bold=True, size=10.5, center=True)
    for lec in lectures:
        cells = curriculum.add_row().cells
        values = [f"第{lec.number}讲", lec.title, course.lecturer(lec).name, lec.summary or ""]
        if durations:
            seconds = durations.get(lec.number)
            values.append(_minutes(seconds) if seconds is not None else "—")
        for index, (target, text) in enumerate(zip(cells, values, strict=True)):
            _text(target.paragraphs[0], text, size=10.5, center=index in (0, 2, 4))
            target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    _grid(curriculum, tuple(width for _, width in columns))

    _text(cell.add_paragraph(), "3. 合规合法性承诺：", bold=True)
    _text(cell.add_paragraph(), PLEDGE)


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}分{rest:02d}秒" if rest else f"{minutes}分钟"


# ---------------------------------------------------------------------------- layout


def _page_setup(doc: DocumentObject) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)  # A4
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin = section.bottom_margin = Mm(25)
    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT  # type: ignore[attr-defined]
    normal.font.size = Pt(12)  # type: ignore[attr-defined]  # 小四
    rpr = normal.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:eastAsia"), "zh-CN")
    rpr.append(lang)


def _grid(table: Table, widths_mm: tuple[float, ...]) -> None:
    """Fix column widths (Word reads the cells, LibreOffice the table grid)."""
    for col, width in zip(table._tbl.tblGrid.gridCol_lst, widths_mm, strict=False):
        col.w = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=False):
            cell.width = Mm(width)


def _row(table: Table, *, min_height_mm: float = 0) -> list[_Cell]:
    row = table.add_row()
    if min_height_mm:
        row.height = Mm(min_height_mm)
    _grid(table, _COLUMNS_MM)
    for cell in row.cells:
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    return list(row.cells)


def _field(table: Table, label: str, value: str) -> None:
    row = _row(table, min_height_mm=12)
    _label(row[0], label)
    _text(row[1].merge(row[3]).paragraphs[0], value)


def _stamp(table: Table, label: str, line: str) -> None:
    """A field left for a signature and stamp: blank space, the date line at the right."""
    row = _row(table, min_height_mm=35)
    _label(row[0], label)
    cell = row[1].merge(row[3])
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    para = cell.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _text(para, line)


def _label(cell: _Cell, text: str) -> None:
    _text(cell.paragraphs[0], text, font=HEADING_FONT, center=True)


def _text(para: Paragraph, text: str, *, bold: bool = False, size: float | None = None,
          font: str = BODY_FONT, center: bool = False) -> Run:
    if center:
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return _paragraph(para, text, font=font, size=size, bold=bold)


def _paragraph(para: Paragraph, text: str, *, font: str, size: float | None = None,
               bold: bool = False) -> Run:
    """Add a run whose East Asian font is named, so Chinese shows in ``font``."""
    run = para.add_run(text)
    run.bold = bold
    run.font.name = LATIN_FONT
    if size is not None:
        run.font.size = Pt(size)
    run._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
    return run


def _fixed_zip_times(path: Path) -> None:
    """Rewrite the DOCX (a zip) with every entry dated 1980-01-01, in the same order."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    tmp = path.with_name(f".{path.name}.zip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in entries:
            out.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(path)
