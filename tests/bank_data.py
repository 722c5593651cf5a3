"""Generated test data for the question bank and the application form, with known answers.

``bank_rows`` writes a bank of exactly the requested counts, Chinese text, every stem
distinct (also after whitespace and punctuation are folded), spread over ``lectures``.
"""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F",
          "答案", "讲次", "解析"]

TOPICS = ("碳达峰", "碳中和", "清洁能源", "节能减排", "绿色建筑", "循环经济", "生态保护",
          "低碳交通", "碳排放权交易", "环境监测")


def bank_rows(*, single: int = 90, multiple: int = 30, true_false: int = 30,
              lectures: int = 8) -> list[list[str]]:
    """Header + rows: singles (answer B), multiples (answer ACD, five options), true/false."""
    rows = [list(HEADER)]
    for i in range(single):
        topic = TOPICS[i % len(TOPICS)]
        rows.append(["单选", f"关于{topic}，第{i + 1}号单选题的正确说法是（　）。",
                     f"说法甲{i}", f"说法乙{i}", f"说法丙{i}", f"说法丁{i}", "", "",
                     "B", str(i % lectures + 1), f"第{i + 1}题解析：乙正确。"])
    for i in range(multiple):
        topic = TOPICS[i % len(TOPICS)]
        rows.append(["多选", f"下列关于{topic}的第{i + 1}组表述中，正确的有（　）。",
                     "表述一", "表述二", "表述三", "表述四", "表述五", "",
                     "ACD", str(i % lectures + 1), ""])
    for i in range(true_false):
        topic = TOPICS[i % len(TOPICS)]
        answer = "正确" if i % 2 == 0 else "错误"
        rows.append(["判断", f"{topic}相关判断第{i + 1}条：该表述符合规范要求。",
                     "", "", "", "", "", "", answer, str(i % lectures + 1), ""])
    return rows


def write_csv(path: Path, rows: list[list[str]], *, bom: bool = True) -> Path:
    """As Excel saves 'CSV UTF-8' (with a byte-order mark) or as other tools do (without)."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


COURSE_YAML = """\
course:
  name: {name}
  kind: {kind}
  hours: {hours}
{extra}  applying_unit: 陕西省环境科学研究院继续教育基地
  production_unit: 西安某某传媒有限公司
  recording_date: 2026-10-12
  contact: {{name: 王晓燕, phone: "029-88886666", email: jxjy@example.cn}}
  summary: 围绕双碳目标，介绍政策背景、技术路径与行业实践。
lecturers:
  - {{id: zhang, name: 张明, title: 教授, unit: 西安交通大学能源与动力工程学院, role: 主讲}}
  - {{id: li, name: 李红梅, title: 高级工程师, unit: 陕西省环境监测中心站, role: 主讲}}
lectures:
{lectures}"""

LECTURE_TITLES = ("双碳目标的由来与政策体系", "能源结构转型与清洁能源", "工业领域节能降碳路径",
                  "碳排放核算与碳市场", "绿色建筑与低碳交通", "生态系统碳汇",
                  "环境监测新技术", "案例分析与展望")


def course_yaml(path: Path, *, kind: str = "professional", lectures: int = 8) -> Path:
    """A course file (sources need not exist for the form) with two lecturers."""
    extra = "  level: 中级\n  speciality: 环境工程\n" if kind == "professional" else ""
    items = []
    for n in range(1, lectures + 1):
        title = LECTURE_TITLES[(n - 1) % len(LECTURE_TITLES)]
        if n > len(LECTURE_TITLES):
            title += f"（{n}）"
        items.append(
            f"  - number: {n}\n    title: {title}\n"
            f"    lecturer: {'zhang' if n % 2 else 'li'}\n"
            f"    summary: 第{n}讲介绍{title}的主要内容与实践要点。\n"
            f"    sources: {{slides: l{n}/slides.mp4, teacher: l{n}/teacher.mp4}}\n")
    text = COURSE_YAML.format(
        name="碳达峰碳中和与绿色低碳发展", kind=kind,
        hours=lectures, extra=extra, lectures="".join(items))
    path.write_text(text, encoding="utf-8")
    return path
