"""The course question bank (规范 二.(四), clauses Q1–Q3) and exam papers drawn from it.

A bank is one spreadsheet per course, CSV (UTF-8, with or without BOM) or XLSX, whose first
row is the header and every further row one question. The template (``write_template``)
has these columns; English names are accepted in the header as well:

========  ====================  ==========================================================
column    English               content
========  ====================  ==========================================================
题型      type                  单选 / 多选 / 判断 (single / multiple / true_false)
题干      stem                  the question; must not be empty
选项A…F   option_a … option_f    single and multiple: A–D required, E–F optional, no gaps;
                                true/false: empty, or A 正确 and B 错误
答案      answer                single: one letter (``B``); multiple: ≥ 2 distinct letters
                                (``ABD``, ``A,B,D``); each names a non-empty option.
                                true/false: 正确/错误, 对/错, T/F, true/false (or A/B)
讲次      lecture               lecture number, optional; exams balance across lectures
解析      explanation           optional
========  ====================  ==========================================================

``load_bank`` reads a file as it is (only an unreadable file raises ``BankError``);
``validate_bank`` returns every problem as a ``BankIssue`` naming the row as the spreadsheet
shows it (header = row 1), the column and the clause. ``assemble_exam`` draws a paper of the
profile's size (Q2) from a bank without issues, reproducibly for a seed.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courseware.errors import BankError
from encoder_profiles import Profile, QuestionKind

LETTERS = "ABCDEF"
REQUIRED_LETTERS = "ABCD"  # Q1: single and multiple choice need options A–D
OPTION_COLUMNS = tuple(f"选项{letter}" for letter in LETTERS)
COLUMNS: tuple[str, ...] = ("题型", "题干", *OPTION_COLUMNS, "答案", "讲次", "解析")
REQUIRED_COLUMNS: tuple[str, ...] = ("题型", "题干", *OPTION_COLUMNS[:4], "答案")
SHEET = "题库"

KIND_NAMES: dict[QuestionKind, str] = {"single": "单选", "multiple": "多选", "true_false": "判断"}
_KIND_ALIASES: dict[str, QuestionKind] = {
    "单选": "single", "单选题": "single", "单项选择": "single", "单项选择题": "single",
    "single": "single",
    "多选": "multiple", "多选题": "multiple", "多项选择": "multiple", "多项选择题": "multiple",
    "multiple": "multiple",
    "判断": "true_false", "判断题": "true_false", "true_false": "true_false",
    "truefalse": "true_false", "true/false": "true_false",
}
_TRUE = frozenset({"正确", "对", "t", "true", "√", "✓"})
_FALSE = frozenset({"错误", "错", "f", "false", "×", "✗"})
_TF_OPTIONS = ("正确", "错误")

_HEADER_ALIASES: dict[str, str] = {
    "题型": "题型", "type": "题型", "题目类型": "题型", "试题类型": "题型",
    "题干": "题干", "stem": "题干", "题目": "题干", "question": "题干",
    "答案": "答案", "answer": "答案", "正确答案": "答案",
    "讲次": "讲次", "lecture": "讲次",
    "解析": "解析", "explanation": "解析", "答案解析": "解析",
    **{alias: f"选项{letter}" for letter in LETTERS
       for alias in (f"选项{letter.lower()}", f"option{letter.lower()}", letter.lower())},
}
_ANSWER_SEPARATORS = re.compile(r"[\s,，、;；/|]+")


@dataclass(frozen=True)
class Question:
    """One row of the bank, as written (cells stripped); parsed views are properties."""

    row: int  # as the spreadsheet shows it: the header is row 1
    type_text: str
    stem: str
    options: tuple[str, str, str, str, str, str]  # A–F; "" where empty
    answer_text: str
    lecture_text: str = ""
    explanation: str = ""

    @property
    def kind(self) -> QuestionKind | None:
        """single / multiple / true_false, or None when 题型 is not a known type."""
        return _KIND_ALIASES.get(_fold(self.type_text))

    @property
    def lecture(self) -> int | None:
        """讲次 as a number (None when empty or not a whole number ≥ 1)."""
        try:
            value = float(unicodedata.normalize("NFKC", self.lecture_text))
        except ValueError:
            return None
        return int(value) if value.is_integer() and value >= 1 else None

    @property
    def option_map(self) -> dict[str, str]:
        """Non-empty options by letter."""
        return {letter: text for letter, text in zip(LETTERS, self.options, strict=True) if text}

    @property
    def answer(self) -> str:
        """The answer in canonical form: sorted letters (``ABD``) or 正确 / 错误; "" if invalid."""
        if self.kind == "true_false":
            verdict = _true_false(self.answer_text, self.option_map)
            return "" if verdict is None else _TF_OPTIONS[0] if verdict else _TF_OPTIONS[1]
        letters = _answer_letters(self.answer_text)
        return "".join(sorted(set(letters))) if letters is not None else ""

    def cells(self) -> list[str]:
        """The row in template column order (canonical 题型 where it is known)."""
        kind = self.kind
        type_text = KIND_NAMES[kind] if kind is not None else self.type_text
        return [type_text, self.stem, *self.options, self.answer_text, self.lecture_text,
                self.explanation]


@dataclass(frozen=True)
class Bank:
    """A bank as read: its questions (blank rows skipped) and the header it had."""

    path: Path | None
    questions: tuple[Question, ...]
    #: template column name → 0-based position in the file
    columns: dict[str, int]
    #: header cells that name no template column, with their 0-based position
    unknown_columns: tuple[tuple[str, int], ...] = ()

    def of_kind(self, kind: QuestionKind) -> list[Question]:
        return [q for q in self.questions if q.kind == kind]


@dataclass(frozen=True)
class BankIssue:
    """One problem: where (row as the spreadsheet shows it, column, cell) and which rule."""

    row: int | None  # None: the bank as a whole (Q3 counts)
    column: str      # template column name, e.g. 答案
    cell: str        # spreadsheet reference, e.g. "I12"; "" where not one cell
    clause: str      # Q1 / Q3
    check: str       # columns, type, stem, options, answer, lecture, duplicate, count
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.row else f"column {self.column}"
        return f"{where}: [{self.clause} {self.check}] {self.message}"


@dataclass(frozen=True)
class Exam:
    """A paper drawn from a bank: questions in paper order (single, multiple, true/false)."""

    seed: int
    questions: tuple[Question, ...]
    source: Path | None = None

    @property
    def counts(self) -> dict[QuestionKind, int]:
        found = Counter(q.kind for q in self.questions)
        return {kind: found[kind] for kind in KIND_NAMES}


@dataclass(frozen=True)
class ExamFiles:
    paper: Path  # questions without answers
    key: Path    # 答案: answers, bank rows, explanations


# ---------------------------------------------------------------------------- reading


def load_bank(path: Path) -> Bank:
    """Read a bank from CSV or XLSX. Raises BankError only when the file cannot be read."""
    path = Path(path)
    if not path.exists():
        raise BankError(f"{path}: question bank not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _read_csv(path)
    elif suffix == ".xlsx":
        rows = _read_xlsx(path)
    else:
        raise BankError(f"{path}: a question bank is a .csv or .xlsx file (got {suffix or 'none'})")
    if not rows or not any(rows[0]):
        raise BankError(f"{path}: the first row must be the header ({', '.join(COLUMNS)})")
    return _parse(path, rows)


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # BOM or not
            return [[cell.strip() for cell in row] for row in csv.reader(f)]
    except UnicodeDecodeError as exc:
        raise BankError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "save it as 'CSV UTF-8' or as .xlsx") from exc
    except csv.Error as exc:
        raise BankError(f"{path}: not a readable CSV file: {exc}") from exc
    except OSError as exc:
        raise BankError(f"{path}: cannot read ({exc.strerror})") from exc


def _read_xlsx(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise BankError(f"{path}: not a readable .xlsx workbook ({exc}); "
                        "save it from Excel/WPS as .xlsx") from exc
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 讲次 3 as 3.0
    return str(value).strip()


def _parse(path: Path, rows: list[list[str]]) -> Bank:
    columns: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    for index, text in enumerate(rows[0]):
        if not text:
            continue
        name = _HEADER_ALIASES.get(_fold(text).replace("_", "").replace("-", ""))
        if name is None:
            unknown.append((text, index))
        elif name in columns:
            raise BankError(f"{path}: column {name} appears twice in the header "
                            f"({_ref(columns[name], 1)} and {_ref(index, 1)}); keep one")
        else:
            columns[name] = index
    questions = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue  # blank rows are allowed between questions

        def cell(name: str, row: list[str] = row) -> str:
            index = columns.get(name)
            return row[index] if index is not None and index < len(row) else ""

        options = tuple(cell(name) for name in OPTION_COLUMNS)
        questions.append(Question(
            row=number, type_text=cell("题型"), stem=cell("题干"),
            options=(options[0], options[1], options[2], options[3], options[4], options[5]),
            answer_text=cell("答案"), lecture_text=cell("讲次"), explanation=cell("解析")))
    return Bank(path=path, questions=tuple(questions), columns=columns,
                unknown_columns=tuple(unknown))


# ---------------------------------------------------------------------------- validation


def validate_bank(bank: Bank, profile: Profile) -> list[BankIssue]:
    """Every problem of the bank (Q1 structure, Q3 counts and duplicates); [] when it is fine."""
    missing = [name for name in REQUIRED_COLUMNS if name not in bank.columns]
    issues = [BankIssue(1, name, "", "Q1", "columns",
                        f"required column {name} is missing from the header (row 1)")
              for name in missing]
    issues += [BankIssue(1, text, _ref(index, 1), "Q1", "columns",
                         f"column {text!r} is not in the template ({', '.join(COLUMNS)})")
               for text, index in bank.unknown_columns]
    if missing:
        return issues  # rows cannot be judged without their columns
    at = _Locator(bank.columns)
    bad_rows: set[int] = set()
    for question in bank.questions:
        found = _check_question(question, at)
        issues += found
        if found:
            bad_rows.add(question.row)

    # Q3: duplicates are rejected; stems are compared with whitespace and punctuation folded
    first: dict[str, Question] = {}
    for question in bank.questions:
        key = normalise_stem(question.stem)
        if not key:
            continue
        if key in first:
            other = first[key]
            issues.append(at(question, "题干", "duplicate",
                             f"same stem as row {other.row} (rows {other.row} and "
                             f"{question.row}): {question.stem[:30]!r}", clause="Q3"))
            bad_rows.add(question.row)
        else:
            first[key] = question

    # Q3: bank : paper = 3 : 1, counted over usable questions only
    for kind, minimum in profile.bank.minimums.items():
        rows = bank.of_kind(kind)
        usable = sum(1 for q in rows if q.row not in bad_rows)
        if usable < minimum:
            extra = (f" ({len(rows)} rows, {len(rows) - usable} with problems)"
                     if usable != len(rows) else "")
            issues.append(BankIssue(
                None, "题型", "", "Q3", "count",
                f"{KIND_NAMES[kind]} ({kind}): {usable} usable questions{extra}; "
                f"the bank needs at least {minimum} (paper {profile.bank.paper[kind]} × 3)"))
    return sorted(issues, key=_issue_order)


def _issue_order(issue: BankIssue) -> tuple[int, int]:
    column = COLUMNS.index(issue.column) if issue.column in COLUMNS else len(COLUMNS)
    return (issue.row if issue.row is not None else 1 << 30, column)


@dataclass(frozen=True)
class _Locator:
    """Builds issues for one question's cell, with its spreadsheet reference."""

    columns: dict[str, int]

    def __call__(self, question: Question, column: str, check: str, message: str, *,
                 clause: str = "Q1") -> BankIssue:
        position = self.columns.get(column)
        cell = _ref(position, question.row) if position is not None else ""
        return BankIssue(question.row, column, cell, clause, check, message)


def _check_question(q: Question, at: _Locator) -> list[BankIssue]:
    issues: list[BankIssue] = []
    kind = q.kind
    if kind is None:
        shown = repr(q.type_text) if q.type_text else "empty"
        issues.append(at(q, "题型", "type", f"题型 is {shown}; use 单选, 多选 or 判断 "
                                              "(single, multiple, true_false)"))
    if not q.stem:
        issues.append(at(q, "题干", "stem", "the stem (题干) is empty"))
    if q.lecture_text and q.lecture is None:
        issues.append(at(q, "讲次", "lecture",
                         f"讲次 {q.lecture_text!r} is not a lecture number (1, 2, …)"))
    if kind is None:
        return issues
    if kind == "true_false":
        return issues + _check_true_false(q, at)
    return issues + _check_choice(q, kind, at)


def _check_choice(q: Question, kind: QuestionKind, at: _Locator) -> list[BankIssue]:
    issues = []
    present = q.option_map
    for letter in REQUIRED_LETTERS:
        if letter not in present:
            issues.append(at(q, f"选项{letter}", "options",
                             f"option {letter} is empty; {KIND_NAMES[kind]} questions need "
                             f"options A–{REQUIRED_LETTERS[-1]}"))
    last = max((LETTERS.index(x) for x in present), default=-1)
    for letter in LETTERS[len(REQUIRED_LETTERS):last]:
        if letter not in present:
            nxt = LETTERS[last]
            issues.append(at(q, f"选项{letter}", "options",
                             f"option {letter} is empty but option {nxt} is not; "
                             "fill the options without gaps"))
    seen: dict[str, str] = {}
    for letter, text in present.items():
        key = normalise_stem(text) or text
        if key in seen:
            issues.append(at(q, f"选项{letter}", "options",
                             f"option {letter} repeats option {seen[key]} ({text!r})"))
        else:
            seen[key] = letter
    if not q.answer_text:
        return [*issues, at(q, "答案", "answer", "the answer (答案) is empty")]
    letters = _answer_letters(q.answer_text)
    if letters is None:
        return [*issues, at(q, "答案", "answer",
                            f"answer {q.answer_text!r} is not option letters A–F")]
    outside = [x for x in dict.fromkeys(letters) if x not in present]
    if outside:
        offered = "".join(present) or "none"
        issues.append(at(q, "答案", "answer",
                         f"answer {q.answer_text!r} names option {', '.join(outside)} which "
                         f"the question does not have (options: {offered})"))
    if len(set(letters)) != len(letters):
        issues.append(at(q, "答案", "answer", f"answer {q.answer_text!r} repeats a letter"))
    if kind == "single" and len(set(letters)) != 1:
        issues.append(at(q, "答案", "answer",
                         f"a single-choice answer is one letter, got {q.answer_text!r}"))
    if kind == "multiple" and len(set(letters)) < 2:
        issues.append(at(q, "答案", "answer",
                         f"a multiple-choice answer has at least two letters, got "
                         f"{q.answer_text!r}"))
    return issues


def _check_true_false(q: Question, at: _Locator) -> list[BankIssue]:
    issues = []
    present = q.option_map
    if present and (tuple(present) != ("A", "B")
                    or (present["A"], present["B"]) != _TF_OPTIONS):
        issues.append(at(q, f"选项{next(iter(present))}", "options",
                         "a true/false question has no options, or exactly A 正确 and "
                         f"B 错误; found {', '.join(f'{k} {v!r}' for k, v in present.items())}"))
    if not q.answer_text:
        issues.append(at(q, "答案", "answer", "the answer (答案) is empty"))
    elif _true_false(q.answer_text, present) is None:
        issues.append(at(q, "答案", "answer",
                         f"answer {q.answer_text!r} is not 正确/错误 (对/错, T/F, true/false)"))
    return issues


def normalise_stem(text: str) -> str:
    """The stem as compared for duplicates: full-width folded (NFKC), case folded,
    whitespace and punctuation (、，。？（） …) removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded
                   if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _answer_letters(text: str) -> str | None:
    """``A, b、Ｄ`` → ``ABD``; None when anything but letters A–F and separators is there."""
    letters = _ANSWER_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    return letters if letters and re.fullmatch(r"[A-Z]+", letters) else None


def _true_false(text: str, options: dict[str, str]) -> bool | None:
    token = _fold(text)
    if token in _TRUE:
        return True
    if token in _FALSE:
        return False
    if options and token.upper() in options:  # A / B naming the 正确 / 错误 options
        option = options[token.upper()]
        return True if option == _TF_OPTIONS[0] else False if option == _TF_OPTIONS[1] else None
    return None


def _ref(index: int, row: int) -> str:
    """Spreadsheet cell reference of 0-based column ``index`` in ``row`` (``I12``)."""
    name, n = "", index + 1
    while n > 0:
        n, rem = divmod(n - 1, 26)
        name = chr(ord("A") + rem) + name
    return f"{name}{row}"


def issues_table(issues: Sequence[BankIssue]) -> str:
    """A fixed-width table a person reads in a terminal."""
    rows = [("row", "column", "cell", "clause", "check", "message")]
    rows += [(str(i.row or "-"), i.column, i.cell or "-", i.clause, i.check, i.message)
             for i in issues]
    widths = [max(_width(r[k]) for r in rows) for k in range(5)]
    return "\n".join("  ".join([*(r[k] + " " * (widths[k] - _width(r[k])) for k in range(5)),
                                r[5]]) for r in rows)


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal cells."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


# ---------------------------------------------------------------------------- writing


_EXAMPLES = (
    Question(2, "单选", "“碳中和”目标要求我国在哪一年前实现碳中和？",
             ("2030年", "2060年", "2050年", "2045年", "", ""), "B", "1",
             "我国提出力争2030年前碳达峰、2060年前碳中和。"),
    Question(3, "多选", "下列属于可再生能源的有（ ）。",
             ("太阳能", "风能", "煤炭", "水能", "", ""), "ABD", "2",
             "煤炭是化石能源，不可再生。"),
    Question(4, "判断", "碳达峰是指二氧化碳排放量达到历史最高值后逐步回落。",
             ("", "", "", "", "", ""), "正确", "1", ""),
)

_GUIDE = (
    ("题型", "type", "单选 / 多选 / 判断（single / multiple / true_false），必填"),
    ("题干", "stem", "题目内容，必填；题干不得重复（忽略空格与标点）"),
    ("选项A–D", "option_a–option_d", "单选、多选必填；判断题留空，或 A 填“正确”、B 填“错误”"),
    ("选项E–F", "option_e–option_f", "可选；须按顺序填写，不得跳空"),
    ("答案", "answer", "单选：一个字母，如 B；多选：至少两个不同字母，如 ABD；"
                        "判断：正确/错误（对/错、T/F、true/false）"),
    ("讲次", "lecture", "该题对应的讲次（整数），可选；组卷时各讲均衡抽题"),
    ("解析", "explanation", "答案解析，可选"),
)


def write_template(path: Path) -> Path:
    """Write an empty bank template (header + one example per type); .csv or .xlsx by suffix."""
    return write_bank(_EXAMPLES, path, guide=True)


def write_bank(questions: Iterable[Question], path: Path, *, guide: bool = False) -> Path:
    """Write questions in template form (CSV with BOM so Excel reads Chinese, or XLSX);
    ``guide`` adds a 填写说明 sheet to an XLSX file."""
    path = Path(path)
    rows = [list(COLUMNS), *(q.cells() for q in questions)]
    sheets = {SHEET: rows}
    if guide:
        sheets["填写说明"] = [["列", "英文列名", "填写要求"], *map(list, _GUIDE)]
    _write_table(path, sheets, validate_type=True)
    return path


def write_bank_rows(rows: Iterable[Sequence[str]], path: Path) -> Path:
    """Rows of cells in template column order (:data:`COLUMNS`) written as a bank."""
    _write_table(Path(path), {SHEET: [list(COLUMNS), *(list(r) for r in rows)]},
                 validate_type=True)
    return Path(path)


_NUMERIC = frozenset({"讲次", "序号", "题库行", "单选", "多选", "判断"})  # numbers in XLSX


def _write_table(path: Path, sheets: dict[str, list[list[str]]], *,
                 validate_type: bool = False) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise BankError(f"{path}: write a .csv or .xlsx file (got {suffix or 'no suffix'})")
    path.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(sheets.values()))
    if suffix == ".csv":  # CSV holds one sheet: the first
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows(first)
        return
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        numeric = [header in _NUMERIC for header in rows[0]]
        for row in rows:
            sheet.append([int(v) if is_number and re.fullmatch(r"[1-9][0-9]{0,5}", v) else v
                          for v, is_number in zip(row, numeric, strict=False)])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, header in enumerate(rows[0]):
            longest = max((_width(str(r[index])) for r in rows if index < len(r)), default=8)
            letter = _ref(index, 1)[:-1]
            sheet.column_dimensions[letter].width = min(max(longest + 2, 8), 60)
            if header in ("题干", "解析", "填写要求"):
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        if validate_type and title == SHEET and "题型" in rows[0]:
            column = _ref(rows[0].index("题型"), 2)[:-1]
            check = DataValidation(type="list", formula1='"单选,多选,判断"', allow_blank=True)
            check.add(f"{column}2:{column}2000")
            sheet.add_data_validation(check)
    book.save(path)


# ---------------------------------------------------------------------------- exams


def assemble_exam(bank: Bank, profile: Profile, *, seed: int) -> Exam:
    """Draw a paper of the profile's size (Q2: 30 single, 10 multiple, 10 true/false).

    The bank must pass ``validate_bank``. Within each type the draw goes round the lectures
    (讲次) in a seeded order, so every lecture is asked about as evenly as its questions allow;
    the same bank and seed give the same paper.
    """
    issues = validate_bank(bank, profile)
    if issues:
        shown = "\n  ".join(str(i) for i in issues[:5])
        more = f"\n  … and {len(issues) - 5} more" if len(issues) > 5 else ""
        raise BankError(f"{bank.path}: the bank has {len(issues)} problem(s); fix them before "
                        f"drawing an exam (courseware bank check):\n  {shown}{more}")
    rng = random.Random(seed)
    paper: list[Question] = []
    for kind, count in profile.bank.paper.items():  # Q2
        paper += _draw(bank.of_kind(kind), count, rng)
    return Exam(seed=seed, questions=tuple(paper), source=bank.path)


def _draw(pool: list[Question], count: int, rng: random.Random) -> list[Question]:
    if count > len(pool):
        raise BankError(f"cannot draw {count} questions from {len(pool)}")
    groups: dict[int, list[Question]] = {}
    for q in pool:
        groups.setdefault(q.lecture or 0, []).append(q)  # 0: no lecture given
    order = sorted(groups)
    for key in order:
        rng.shuffle(groups[key])
    rng.shuffle(order)  # which lectures get the remainder is up to the seed
    picked: list[Question] = []
    depth = 0
    while len(picked) < count:
        for key in order:
            if depth < len(groups[key]) and len(picked) < count:
                picked.append(groups[key][depth])
        depth += 1
    return sorted(picked, key=lambda q: (q.lecture or 1_000_000, q.row))


def write_exam(exam: Exam, path: Path) -> ExamFiles:
    """Write the paper to ``path`` (.csv or .xlsx) and its answer key beside it
    (``<stem>-key<suffix>``)."""
    path = Path(path)
    key_path = path.with_name(f"{path.stem}-key{path.suffix}")
    paper = [["序号", "题型", "题干", *OPTION_COLUMNS]]
    key = [["序号", "题型", "答案", "讲次", "题库行", "解析"]]
    for number, q in enumerate(exam.questions, start=1):
        kind = KIND_NAMES[q.kind] if q.kind is not None else q.type_text
        paper.append([str(number), kind, q.stem, *q.options])
        key.append([str(number), kind, q.answer, q.lecture_text, str(q.row), q.explanation])
    source = exam.source.name if exam.source is not None else ""
    note = [["题库", "随机种子", "单选", "多选", "判断"],
            [source, str(exam.seed), *(str(n) for n in exam.counts.values())]]
    _write_table(path, {"试卷": paper})
    _write_table(key_path, {"答案": key, "组卷信息": note})
    return ExamFiles(paper=path, key=key_path)
