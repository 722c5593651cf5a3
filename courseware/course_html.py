"""The course report (``course.*`` checks, tasks/course_qc.py) as one self-contained HTML page.

Same look as the lecture page (courseware.html_report: its page, CSS and badges): inline CSS
and glyphs, no scripts, no external resources. The per-lecture table links each lecture's own
QC page by a relative link, so the course folder can be forwarded or copied onto a stick as
it is.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from courseware.errors import ProfileError
from courseware.html_report import (
    _CSS,
    COLOURS,
    VERDICT_ZH,
    _badge,
    _value,
    clause_texts,
    clock,
    page,
)
from courseware.report import Check, Report
from encoder_profiles import Profile, load_profile

#: clauses of the course checks, in the order of the specification
CLAUSE_ORDER = ("A1", "A2", "A1/A2", "A3", "A4", "A5", "A6", "D1", "D4/D5", "D11", "Q1/Q3")
MAX_EVENTS = 50  # per check on the page

_EXTRA_CSS = """
.clauses td.req { width: 190px; color: #424242; font-size: 13px; }
.clauses td.val { max-width: 170px; font-variant-numeric: tabular-nums; }
.clauses td.msg { min-width: 300px; }
.links a { margin-right: 12px; white-space: nowrap; }
"""


def course_clause_texts(profile: Profile) -> dict[str, str]:
    """What each course clause asks, in a few words, with the numbers of ``profile``."""
    s, b = profile.structure, profile.bank
    each = f"每讲约 {s.lecture_minutes:g} 分钟（±{s.lecture_tolerance:.0%}）"
    hours = "/".join(str(h) for h in s.professional_hours)
    lecture = clause_texts(profile)
    return {
        "A1": f"公需课 {s.public_lectures} 讲、{s.public_hours} 学时，{each}",
        "A2": f"专业课 {hours} 学时，{each}",
        "A1/A2": f"公需课 {s.public_hours} 学时或专业课 {hours} 学时，{each}",
        "A3": "第 1 讲以全省统一片头开始，其他讲不加",
        "A4": (f"每讲片头字幕卡 ≤ {s.title_card_max_s:g} 秒：课程名称、讲次、姓名、"
               "专业技术职务、单位"),
        "A5": "最后一讲以片尾结束：制作单位、录制时间",
        "A6": f"一门课程一个预览小视频，≤ {s.preview_max_s:g} 秒",
        "D1": "交付包：课程文件夹、清单（大小与 SHA-256）、根目录课程清单",
        "D4/D5": f"全课程统一分辨率与宽高比（{lecture['D4']}，{lecture['D5']}）",
        "D11": "随视频交付课程题库与申报表（附件1/附件2）",
        "Q1/Q3": (f"课程题库：单选 ≥ {b.min_single}、多选 ≥ {b.min_multiple}、"
                  f"判断 ≥ {b.min_true_false}，格式符合模板"),
    }


def render_course_html(report: Report) -> str:
    """The page for a course report (a :class:`~courseware.report.Report` made by
    ``tasks.course_qc.check_course``), as a UTF-8 string."""
    status = report.status
    course = str(report.extra.get("course", report.file))
    try:
        texts = course_clause_texts(load_profile(report.profile))
    except ProfileError:  # a report of another profile: no clause hints
        texts = {}
    parts = [
        f'<header class="band" id="verdict" style="background:{COLOURS[status]}">',
        f"<h1>课程质检报告 · Course QC report — {escape(course)}</h1>",
        f'<div class="verdict">结论 Verdict: {VERDICT_ZH[status]} · {status.upper()}</div>',
        "</header>",
        "<main>",
        _summary(report, course),
        _clauses(report.checks, texts),
        _lectures(report),
        _events(report.checks),
        "</main>",
    ]
    return page(f"课程质检报告 Course QC report — {escape(course)}", _CSS + _EXTRA_CSS, parts)


def _summary(report: Report, course: str) -> str:
    extra = report.extra
    kind = {"public": "公需课 public", "professional": "专业课 professional"}.get(
        str(extra.get("kind")), str(extra.get("kind", "—")))
    counts = {s: sum(c.status == s for c in report.checks) for s in ("fail", "warn", "pass",
                                                                      "skip")}
    preview = extra.get("preview")
    rows = [
        ("课程 Course", escape(course)),
        ("文件夹 Folder", f"<code>{escape(report.file)}</code>"),
        ("类别 Kind", f"{escape(kind)} · {escape(str(extra.get('hours', '—')))} 学时 hours"),
        ("规范 Profile", escape(report.profile)),
        ("结论 Verdict", _badge(report.status)),
        ("总时长 Total", f'<span class="tc">{clock(report.duration_s)}</span> '
                       f"({report.duration_s / 3600:.2f} h)"),
        ("检查项 Checks", '<span class="counts">' + "".join(
            f"<span>{_badge(s)} × {n}</span>" for s, n in counts.items() if n) + "</span>"),
    ]
    if isinstance(preview, dict):
        rows.append(("预览 Preview", f"<code>{escape(_name(str(preview.get('key'))))}</code>"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    failed = [c for c in report.checks if c.status == "fail"]
    todo = ""
    if failed:
        todo = ("<h3>须整改 To fix</h3><ul>" + "".join(
            f"<li><code>{escape(c.id)}</code> ({escape(c.clause)}): {escape(c.message)}</li>"
            for c in failed) + "</ul>")
    return (f'<section><h2>概要 Summary</h2><table class="meta">{body}</table>{todo}'
            "</section>")


def _clauses(checks: tuple[Check, ...], texts: dict[str, str]) -> str:
    head = ("<tr><th>条款 Clause</th><th>要求 Requirement</th><th>检查项 Check</th>"
            "<th>状态 Status</th><th>实测 Measured</th><th>限值 Threshold</th>"
            "<th>说明 Message</th></tr>")
    order = {c: i for i, c in enumerate(CLAUSE_ORDER)}
    rows = []
    for c in sorted(checks, key=lambda c: order.get(c.clause, len(order))):
        unit = f" {c.unit}" if c.unit and c.measured is not None else ""
        tunit = f" {c.unit}" if c.unit and c.threshold is not None else ""
        rows.append(
            f'<tr id="{escape(c.id)}"><td>{escape(c.clause)}</td>'
            f'<td class="req">{escape(texts.get(c.clause, ""))}</td>'
            f"<td><code>{escape(c.id)}</code></td><td>{_badge(c.status)}</td>"
            f'<td class="val">{escape(_value(c.measured))}{escape(unit)}</td>'
            f'<td class="val">{escape(_value(c.threshold))}{escape(tunit)}</td>'
            f'<td class="msg">{escape(c.message)}</td></tr>')
    return (f'<section><h2>条款结论 Verdict per clause</h2><table class="clauses">{head}'
            f"{''.join(rows)}</table></section>")


def _lectures(report: Report) -> str:
    rows = report.extra.get("lectures")
    if not isinstance(rows, list) or not rows:
        return "<section><h2>各讲 Lectures</h2><p>无 None.</p></section>"
    head = ("<tr><th>讲次 No.</th><th>标题 Title</th><th>时长 Duration</th>"
            "<th>分辨率 Size</th><th>格式 Format</th><th>质检 QC</th><th>片头 Card</th>"
            "<th>文件 File</th><th>报告 Reports</th></tr>")
    out = []
    for row in rows:
        duration = row.get("duration_s")
        card = row.get("title_card_s")
        links = []
        for field, label in (("qc_html", "质检报告 HTML"), ("qc_json", "JSON")):
            if row.get(field):
                links.append(f'<a href="{escape(quote(str(row[field])))}">{label}</a>')
        error = (f'<br><span class="note">{escape(str(row["error"]))}</span>'
                 if row.get("error") else "")
        error += "".join(f'<br><span class="note said">{escape(str(w))}</span>'
                         for w in row.get("warnings") or ())
        out.append(
            f"<tr><td>{escape(str(row.get('number')))}</td>"
            f"<td>{escape(str(row.get('title')))}{error}</td>"
            f'<td class="num">{clock(duration) if duration is not None else "—"}</td>'
            f"<td>{escape(str(row.get('resolution') or '—'))}</td>"
            f"<td>{_verdict(row.get('format'))}</td><td>{_verdict(row.get('qc'))}</td>"
            f'<td class="num">{"—" if card is None else f"{card:.2f} s"}</td>'
            f"<td><code>{escape(_name(str(row.get('key'))))}</code></td>"
            f'<td class="links">{"".join(links) or "—"}</td></tr>')
    return (f"<section><h2>各讲 Lectures</h2><table>{head}{''.join(out)}</table>"
            '<p class="source">格式 = 交付格式检查 D2–D10（本次重新测量）；'
            "质检 = 随讲发布的完整质检报告 (.qc.json) 的结论 · Format is measured again now; "
            "QC is the verdict of the lecture's published full QC report. 标题下的提示 = "
            "制作时对素材的提醒 · Notes under a title: what the render said about the sources "
            "(fix them next time).</p></section>")


def _events(checks: tuple[Check, ...]) -> str:
    with_events = [c for c in checks if c.events]
    if not with_events:
        return "<section><h2>问题明细 Findings</h2><p>无 None.</p></section>"
    out = ["<section><h2>问题明细 Findings</h2>"]
    for c in with_events:
        out.append(f"<h3>{_badge(c.status)} <code>{escape(c.id)}</code> "
                   f"({escape(c.clause)})</h3><ul class=\"events\">")
        for e in c.events[:MAX_EVENTS]:
            out.append(f"<li><div>{escape(e.detail)}</div></li>")
        if len(c.events) > MAX_EVENTS:
            out.append(f"<li>… {len(c.events) - MAX_EVENTS} more (see the JSON report)</li>")
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _verdict(value: object) -> str:
    if not value:
        return "—"
    text = str(value)
    return _badge(text) if text in COLOURS else escape(text)


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]
