"""The course file: valid files load; bad ones name the line, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from courseware.course import load_course
from courseware.errors import CourseFileError

GOOD = """\
course:
  name: 碳达峰碳中和与绿色低碳发展
  kind: professional
  hours: 8
  level: 中级
  speciality: 环境工程
  applying_unit: 陕西省环境科学研究院
  production_unit: 西安某某传媒有限公司
  recording_date: 2026-10-12
  contact: {name: 王老师, phone: "029-88886666"}
lecturers:
  - {id: zhang, name: 张明, title: 教授, unit: 西安交通大学}
lectures:
  - number: 1
    title: 双碳目标的由来
    lecturer: zhang
    sources: {slides: l1/slides.mp4, teacher: l1/teacher.mp4}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "course.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    course = load_course(write(tmp_path, GOOD))
    assert course.info.name == "碳达峰碳中和与绿色低碳发展"
    lecture = course.lectures[0]
    assert course.lecturer(lecture).name == "张明"
    assert course.resolve(lecture.sources.slides) == tmp_path.resolve() / "l1/slides.mp4"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  kind: professional\n", "  kind: 专业课\n", ["line 3", "course.kind", "'public'"]),
        ("  hours: 8\n", "", ["course.hours", "is required but missing"]),
        ("  level: 中级\n", "  level: 中等\n", ["line 5", "course.level", "中等"]),
        ("    lecturer: zhang\n", "    lecturer: li\n", ["lecturer 'li' is not one of"]),
        ("    title: 双碳目标的由来\n", "    titel: 双碳目标的由来\n",
         ["line 15", "lectures[0].titel", "not a known field"]),
        ("    sources: {slides: l1/slides.mp4, teacher: l1/teacher.mp4}\n",
         "    sources: {audio: l1/mic.wav}\n", ["lectures[0].sources", "slides or a teacher"]),
        ("  recording_date: 2026-10-12\n", "  recording_date: 去年\n",
         ["line 9", "course.recording_date"]),
        ("  - number: 1\n", "  - number: 2\n", ["lecture numbers must be 1…1"]),
    ],
)
def test_bad_field_is_named_with_its_line(tmp_path: Path, old: str, new: str,
                                          expected: list[str]) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(CourseFileError) as info:
        load_course(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  hours: 8\n", "  hours: [8\n"))
    with pytest.raises(CourseFileError, match=r"line \d+, column \d+: not valid YAML"):
        load_course(path)


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "course.yaml"
    path.write_bytes(GOOD.encode("gb18030"))
    with pytest.raises(CourseFileError, match="not UTF-8"):
        load_course(path)
    with pytest.raises(CourseFileError, match="course file not found"):
        load_course(tmp_path / "nope.yaml")


def test_control_characters_in_course_name_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("碳达峰碳中和与绿色低碳发展", '"碳\\x07中和"'))
    with pytest.raises(CourseFileError, match="control characters"):
        load_course(path)
