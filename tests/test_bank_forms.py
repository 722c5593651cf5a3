"""Question bank (Q1–Q3), exam papers (Q2) and the application form (F, D11).

Banks are generated with known counts and answers (tests/bank_data.py); every broken bank
differs from a valid one in one known cell, and the issue must name that row and column.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from bank_data import HEADER, bank_rows, course_yaml, write_csv
from click.testing import CliRunner
from docx import Document

from courseware.bank import (
    COLUMNS,
    Bank,
    BankError,
    BankIssue,
    assemble_exam,
    load_bank,
    normalise_stem,
    validate_bank,
    write_bank,
    write_exam,
    write_template,
)
from courseware.cli import cli
from courseware.course import load_course
from courseware.forms import PLEDGE, write_application_form
from encoder_profiles import Profile, load_profile

ANSWER = HEADER.index("答案")
STEM = HEADER.index("题干")


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("shaanxi-2024")


def check(tmp_path: Path, rows: list[list[str]], profile: Profile) -> list[BankIssue]:
    return validate_bank(load_bank(write_csv(tmp_path / "bank.csv", rows)), profile)


# ---------------------------------------------------------------------------- bank


def test_generated_bank_passes(tmp_path: Path, profile: Profile) -> None:
    rows = bank_rows()
    bank = load_bank(write_csv(tmp_path / "bank.csv", rows))
    assert validate_bank(bank, profile) == []
    assert [len(bank.of_kind(k)) for k in ("single", "multiple", "true_false")] == [90, 30, 30]
    first = bank.questions[0]
    assert (first.row, first.kind, first.answer, first.lecture) == (2, "single", "B", 1)
    assert bank.questions[90].answer == "ACD"
    assert [q.answer for q in bank.questions[120:122]] == ["正确", "错误"]


def test_profile_holds_the_numbers(profile: Profile) -> None:
    assert profile.bank.minimums == {"single": 90, "multiple": 30, "true_false": 30}  # Q3
    assert profile.bank.paper == {"single": 30, "multiple": 10, "true_false": 10}  # Q2


def test_89_single_fails_q3_with_the_count(tmp_path: Path, profile: Profile) -> None:
    issues = check(tmp_path, bank_rows(single=89), profile)
    assert len(issues) == 1, issues
    (issue,) = issues
    assert (issue.clause, issue.check, issue.row) == ("Q3", "count", None)
    assert "89" in issue.message and "90" in issue.message and "单选" in issue.message


def test_answer_outside_options_names_row_and_column(tmp_path: Path, profile: Profile) -> None:
    rows = bank_rows()
    rows[5][ANSWER] = "E"  # spreadsheet row 6; options A–D only
    issues = check(tmp_path, rows, profile)
    answer = [i for i in issues if i.check == "answer"]
    assert len(answer) == 1, issues
    assert (answer[0].row, answer[0].column, answer[0].cell, answer[0].clause) == (
        6, "答案", f"{chr(ord('A') + ANSWER)}6", "Q1")
    assert "E" in answer[0].message and "ABCD" in answer[0].message
    # the broken question no longer counts: 89 usable singles
    assert any(i.check == "count" and "89 usable" in i.message for i in issues)


@pytest.mark.parametrize(
    ("kind_row", "answer", "fragment"),
    [
        (2, "AB", "one letter"),          # single with two letters
        (92, "A", "at least two"),        # multiple with one letter
        (92, "AAC", "repeats a letter"),
        (2, "甲", "not option letters"),
        (122, "也许", "not 正确/错误"),
        (2, "", "empty"),
    ],
)
def test_malformed_answers(tmp_path: Path, profile: Profile, kind_row: int, answer: str,
                           fragment: str) -> None:
    rows = bank_rows()
    rows[kind_row - 1][ANSWER] = answer
    issues = [i for i in check(tmp_path, rows, profile) if i.check == "answer"]
    assert [(i.row, i.column) for i in issues] == [(kind_row, "答案")], issues
    assert fragment in issues[0].message


def test_lenient_answer_spellings(tmp_path: Path, profile: Profile) -> None:
    rows = bank_rows()
    rows[91][ANSWER] = "a、Ｃ，d"     # multiple: full-width letter and Chinese separators
    rows[121][ANSWER] = "T"          # true/false
    rows[122][ANSWER] = "错"
    bank = load_bank(write_csv(tmp_path / "bank.csv", rows))
    assert validate_bank(bank, profile) == []
    assert [bank.questions[i].answer for i in (90, 120, 121)] == ["ACD", "正确", "错误"]


def test_duplicate_stem_names_both_rows(tmp_path: Path, profile: Profile) -> None:
    rows = bank_rows(single=91)
    # row 92 repeats row 3 with other spacing and full-width / half-width punctuation
    rows[91][STEM] = " " + rows[2][STEM].replace("，", ", ").replace("（　）", "( )") + " "
    assert normalise_stem(rows[91][STEM]) == normalise_stem(rows[2][STEM])
    issues = check(tmp_path, rows, profile)
    assert len(issues) == 1, issues
    (issue,) = issues
    assert (issue.row, issue.column, issue.clause, issue.check) == (92, "题干", "Q3", "duplicate")
    assert "row 3" in issue.message and "92" in issue.message


@pytest.mark.parametrize(
    ("row", "column", "value", "named", "fragment"),
    [
        (2, "选项C", "", "选项C", "option C is empty"),        # single needs A–D
        (2, "选项F", "多余", "选项E", "option E is empty"),     # gap: F without E
        (2, "选项B", "说法甲0", "选项B", "repeats option A"),
        (122, "选项A", "是", "选项A", "true/false"),           # none, or A 正确 B 错误
        (2, "题型", "填空", "题型", "use 单选, 多选 or 判断"),
        (2, "题干", "", "题干", "empty"),
        (2, "讲次", "第一讲", "讲次", "not a lecture number"),
    ],
)
def test_malformed_rows_name_row_and_column(tmp_path: Path, profile: Profile, row: int,
                                            column: str, value: str, named: str,
                                            fragment: str) -> None:
    rows = bank_rows()
    rows[row - 1][HEADER.index(column)] = value
    issues = [i for i in check(tmp_path, rows, profile) if i.check != "count"]
    assert [(i.row, i.column) for i in issues] == [(row, named)], issues
    assert fragment in issues[0].message
    assert issues[0].clause == "Q1"


def test_true_false_with_options_is_fine(tmp_path: Path, profile: Profile) -> None:
    rows = bank_rows()
    rows[121][2:4] = ["正确", "错误"]
    rows[121][ANSWER] = "B"  # names the 错误 option
    bank = load_bank(write_csv(tmp_path / "bank.csv", rows))
    assert validate_bank(bank, profile) == []
    assert bank.questions[120].answer == "错误"


def test_header_problems(tmp_path: Path, profile: Profile) -> None:
    rows = [[c for c in row] for row in bank_rows()]
    rows[0][HEADER.index("答案")] = "答 案 X"
    issues = check(tmp_path, rows, profile)
    assert [(i.row, i.column, i.check) for i in issues][:1] == [(1, "答案", "columns")]
    assert any("答 案 X" in i.message for i in issues)

    english = bank_rows()
    english[0] = ["type", "Stem", "option_a", "Option B", "C", "d", "E", "f", "answer",
                  "lecture", "explanation"]
    assert check(tmp_path, english, profile) == []


def test_unreadable_files_raise_bank_error(tmp_path: Path) -> None:
    with pytest.raises(BankError, match="not found"):
        load_bank(tmp_path / "none.csv")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("题型,题干\n单选,你好\n".encode("gbk"))
    with pytest.raises(BankError, match="not UTF-8"):
        load_bank(gbk)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook", "utf-8")
    with pytest.raises(BankError, match="xlsx"):
        load_bank(fake)
    with pytest.raises(BankError, match=r"\.csv or \.xlsx"):
        load_bank(gbk.rename(tmp_path / "bank.txt"))
    assert issubclass(BankError, ValueError)


def _content(bank: Bank) -> list[tuple[object, ...]]:
    return [(q.row, q.kind, q.stem, q.options, q.answer, q.lecture, q.explanation)
            for q in bank.questions]


@pytest.mark.parametrize("bom", [True, False])
def test_csv_xlsx_round_trip(tmp_path: Path, profile: Profile, bom: bool) -> None:
    original = load_bank(write_csv(tmp_path / "bank.csv", bank_rows(), bom=bom))
    xlsx = load_bank(write_bank(original.questions, tmp_path / "again.xlsx"))
    csv_again = load_bank(write_bank(xlsx.questions, tmp_path / "again.csv"))
    assert _content(xlsx) == _content(original) == _content(csv_again)
    assert (tmp_path / "again.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it
    assert validate_bank(xlsx, profile) == []


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_template_has_header_and_one_example_per_type(tmp_path: Path, profile: Profile,
                                                      suffix: str) -> None:
    bank = load_bank(write_template(tmp_path / f"template{suffix}"))
    assert list(bank.columns) == list(COLUMNS)
    assert [q.kind for q in bank.questions] == ["single", "multiple", "true_false"]
    issues = validate_bank(bank, profile)
    assert {i.check for i in issues} == {"count"}  # the examples themselves are valid


# ---------------------------------------------------------------------------- exam


def test_exam_draws_exactly_the_paper(tmp_path: Path, profile: Profile) -> None:
    bank = load_bank(write_csv(tmp_path / "bank.csv", bank_rows()))
    paper = assemble_exam(bank, profile, seed=7)
    assert paper.counts == {"single": 30, "multiple": 10, "true_false": 10}  # Q2
    assert [q.kind for q in paper.questions] == (
        ["single"] * 30 + ["multiple"] * 10 + ["true_false"] * 10)
    assert len({q.row for q in paper.questions}) == 50
    # balanced: 8 lectures, 30 singles → 3 or 4 per lecture
    per_lecture = Counter(q.lecture for q in paper.questions if q.kind == "single")
    assert set(per_lecture) == set(range(1, 9)) and set(per_lecture.values()) <= {3, 4}

    again = assemble_exam(bank, profile, seed=7)
    other = assemble_exam(bank, profile, seed=8)
    assert [q.row for q in again.questions] == [q.row for q in paper.questions]
    assert [q.row for q in other.questions] != [q.row for q in paper.questions]


def test_exam_refuses_a_bank_with_issues(tmp_path: Path, profile: Profile) -> None:
    bank = load_bank(write_csv(tmp_path / "bank.csv", bank_rows(multiple=29)))
    with pytest.raises(BankError, match="Q3 count"):
        assemble_exam(bank, profile, seed=1)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_write_exam_with_answer_key(tmp_path: Path, profile: Profile, suffix: str) -> None:
    bank = load_bank(write_csv(tmp_path / "bank.csv", bank_rows()))
    paper = assemble_exam(bank, profile, seed=3)
    files = write_exam(paper, tmp_path / f"paper{suffix}")
    assert files.key.name == f"paper-key{suffix}"
    if suffix == ".csv":
        paper_rows = files.paper.read_text("utf-8-sig").splitlines()
        key_rows = files.key.read_text("utf-8-sig").splitlines()
    else:
        from openpyxl import load_workbook
        paper_rows = [",".join(str(c or "") for c in r)
                      for r in load_workbook(files.paper).active.iter_rows(values_only=True)]
        key_rows = [",".join(str(c or "") for c in r)
                    for r in load_workbook(files.key)["答案"].iter_rows(values_only=True)]
    assert len(paper_rows) == len(key_rows) == 51
    assert not any("ACD" in row for row in paper_rows)  # no answers on the paper
    assert sum(row.split(",")[2] == "ACD" for row in key_rows) == 10


# ---------------------------------------------------------------------------- form


def _all_text(path: Path) -> str:
    """Every paragraph of the document, nested tables included."""
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]

    def walk(tables: list) -> None:  # type: ignore[type-arg]
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    parts.extend(p.text for p in cell.paragraphs)
                    walk(cell.tables)

    walk(doc.tables)
    return "\n".join(parts)


@pytest.mark.parametrize("kind", ["professional", "public"])
def test_form_holds_the_course(tmp_path: Path, kind: str) -> None:
    course = load_course(course_yaml(tmp_path / "course.yaml", kind=kind, lectures=8))
    path = write_application_form(course, tmp_path / "form.docx",
                                  durations={1: 3590.0, 2: 3612.0})
    text = _all_text(path)
    assert ("附件2" if kind == "professional" else "附件1") in text
    for needle in (course.info.name, "申报单位", course.info.applying_unit, "课件介绍",
                   "联系人及通讯方式", course.info.contact.name, course.info.contact.phone,
                   PLEDGE, "该课程共8讲", "59分50秒", "60分12秒", "申报单位意见"):
        assert needle in text, needle
    for lecturer in course.model.lecturers:
        assert f"{lecturer.name}，{lecturer.title}，{lecturer.unit}，{lecturer.role}" in text
    for lecture in course.lectures:
        assert lecture.title in text and (lecture.summary or "") in text
    if kind == "professional":
        assert "申报专业" in text and "环境工程" in text and "层级" in text
        assert "☑中级" in text and "☐初级" in text
    else:
        assert "申报专业" not in text and "层级" not in text
    # every run names its East Asian font, so Word shows the Chinese in 宋体 / 黑体
    xml = Document(str(path)).element.xml
    assert 'w:eastAsia="宋体"' in xml and 'w:eastAsia="黑体"' in xml


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")),
                    reason="libreoffice (soffice) and poppler-utils (pdftoppm) not installed")
def test_form_renders_to_pdf(tmp_path: Path) -> None:
    course = load_course(course_yaml(tmp_path / "course.yaml", lectures=8))
    docx = write_application_form(course, tmp_path / "form.docx")
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
                   check=True, capture_output=True, timeout=120)
    pdf = tmp_path / "form.pdf"
    assert pdf.stat().st_size > 10_000
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    assert list(tmp_path.glob("page*.png"))
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                              text=True, timeout=60).stdout
        assert "专业课科目申请表" in text and "张明" in text


# ---------------------------------------------------------------------------- CLI


def test_cli_bank_exam_form(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write_csv(tmp_path / "good.csv", bank_rows())
    result = runner.invoke(cli, ["bank", "check", str(good)])
    assert result.exit_code == 0, result.output
    rows = bank_rows()
    rows[5][ANSWER] = "E"
    bad = write_csv(tmp_path / "bad.csv", rows)
    result = runner.invoke(cli, ["bank", "check", str(bad)])
    assert result.exit_code == 1 and "答案" in result.output and "I6" in result.output

    result = runner.invoke(cli, ["bank", "template", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 0 and (tmp_path / "t.xlsx").exists()

    result = runner.invoke(cli, ["exam", str(good), "--seed", "5",
                                 "--out", str(tmp_path / "paper.xlsx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "paper-key.xlsx").exists()

    course = course_yaml(tmp_path / "course.yaml")
    result = runner.invoke(cli, ["form", str(course), "--out", str(tmp_path / "form.docx")])
    assert result.exit_code == 0, result.output
    assert "附件2" in result.output and (tmp_path / "form.docx").exists()
