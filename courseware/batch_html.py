"""The summary of a QC batch (``质检汇总.html``, tasks/qc_batch.py) as one self-contained page.

Same look as the lecture and course pages (courseware.html_report: its page, CSS and
badges). Each file's row links its own QC page by a relative link: the summary sits at the
top of the output folder, so the folder can be forwarded or copied onto a stick as it is.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from courseware.html_report import _CSS, COLOURS, VERDICT_ZH, _badge, clock, page
from tasks.qc_batch import MAX_LISTED, BatchQc, FileOutcome, FolderSummary

_EXTRA_CSS = """
.files td.msg { min-width: 320px; font-size: 13px; }
.files td.msg li { margin: 0 0 2px; }
.files ul { margin: 0; padding-left: 18px; }
.links a { margin-right: 12px; white-space: nowrap; }
.mixed { color: #c62828; font-weight: 600; }
details summary { cursor: pointer; }
"""


def render_batch_html(summary: BatchQc) -> str:
    """The page for ``summary``, as a UTF-8 string."""
    status = summary.status
    parts = [
        f'<header class="band" id="verdict" style="background:{COLOURS[status]}">',
        "<h1>质检汇总 · QC summary</h1>",
        f'<div class="verdict">结论 Verdict: {VERDICT_ZH[status]} · {status.upper()} · '
        f"{len(summary.files)} 个文件 files</div>",
        "</header>",
        "<main>",
        _summary(summary),
        _folders(summary.folders),
        _files(summary.files),
        _skipped(summary.skipped),
        "</main>",
    ]
    return page("质检汇总 QC summary", _CSS + _EXTRA_CSS, parts)


def _summary(summary: BatchQc) -> str:
    counts = summary.counts()
    rows = [
        ("检查对象 Checked", "<br>".join(f"<code>{escape(s)}</code>" for s in summary.sources)),
        ("规范 Profile", escape(summary.profile)),
        ("结论 Verdict", _badge(summary.status)),
        ("文件 Files", '<span class="counts">' + "".join(
            f"<span>{_badge(s)} × {n}</span>" for s, n in counts.items() if n) + "</span>"),
    ]
    if summary.skipped:
        rows.append(("未检 Passed over", f"{len(summary.skipped)} 个非音视频文件 files that "
                                        "are not recordings (below)"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    todo = [f for f in summary.files if f.status in ("fail", "error")]
    courses = [f for f in summary.folders if f.status == "fail"]
    fix = ""
    if todo or courses:
        fix = ("<h3>须整改 To fix</h3><ul>" + "".join(
            f"<li>课程 course <code>{escape(f.folder or '.')}</code>: " + "; ".join(
                f"{escape(c.clause)} <code>{escape(c.id)}</code>" for c in f.failed) + "</li>"
            for f in courses) + "".join(
            f"<li><code>{escape(f.file)}</code>: "
            + (escape(f.error) if f.error else "; ".join(
                f"{escape(c.clause)} <code>{escape(c.id)}</code>" for c in f.failed))
            + "</li>" for f in todo) + "</ul>")
    return (f'<section><h2>概要 Summary</h2><table class="meta">{body}</table>{fix}'
            "</section>")


def _folders(folders: list[FolderSummary]) -> str:
    if len(folders) < 2 and not any(f.folder for f in folders):
        return ""
    courses = any(f.status for f in folders)
    head = ("<tr><th>文件夹 Folder</th><th>文件 Files</th><th>总时长 Total</th>"
            "<th>分辨率 Sizes (D4)</th><th>各文件结论 Files' verdicts</th>"
            + ("<th>课程结论 Course</th>" if courses else "") + "</tr>")
    rows = []
    for f in folders:
        sizes = ", ".join(f.resolutions) or "—"
        if len(f.resolutions) > 1:
            sizes = (f'<span class="mixed">{escape(sizes)}</span><br>'
                     "一门课程应统一分辨率 one course, one size (D4)")
        else:
            sizes = escape(sizes)
        rows.append(
            f"<tr><td><code>{escape(f.folder or '.')}</code></td>"
            f'<td class="num">{f.files}</td>'
            f'<td class="num">{clock(f.duration_s)} ({f.duration_s / 3600:.2f} h)</td>'
            f"<td>{sizes}</td><td>"
            + " ".join(f"{_badge(s)} × {n}" for s, n in f.counts.items()) + "</td>"
            + (_course(f) if courses else "") + "</tr>")
    return (f'<section><h2>各文件夹 Folders</h2><table class="files">{head}{"".join(rows)}'
            '</table><p class="source">一个文件夹 = 优盘上的一门课程 · A folder is a course on the '
            "stick: its lectures' total length (A1/A2 count hours) and sizes.</p></section>")


def _course(f: FolderSummary) -> str:
    """The folder's course verdict, its failed and warned clauses and a link to its course
    report."""
    if not f.status:
        return "<td>—</td>"
    failed = "".join(f"<li>{_badge(c.status) if c.status != 'fail' else ''}"
                     f"{escape(c.clause)} <code>{escape(c.id)}</code>: "
                     f"{escape(c.message)}</li>" for c in [*f.failed, *f.warned])
    link = (f' <a href="{escape(quote(f.page))}">课程质检报告 Course report</a>'
            if f.page else "")
    return (f'<td class="msg">{_badge(f.status)}{link}'
            + (f"<ul>{failed}</ul>" if failed else "") + "</td>")


def _files(files: list[FileOutcome]) -> str:
    head = ("<tr><th>#</th><th>文件 File</th><th>时长 Duration</th><th>分辨率 Size</th>"
            "<th>结论 Verdict</th><th>问题 Findings</th><th>报告 Report</th></tr>")
    rows = []
    for i, f in enumerate(files, 1):
        links = "".join(f'<a href="{escape(quote(key))}">{label}</a>'
                        for key, label in ((f.page, "HTML"), (f.report, "JSON")) if key)
        rows.append(
            f'<tr id="f{i}"><td class="num">{i}</td><td><code>{escape(f.file)}</code>'
            + (' <span class="note">（沿用上次报告 earlier report, file unchanged）</span>'
               if f.reused else "")
            + f'</td><td class="num">{clock(f.duration_s) if f.duration_s is not None else "—"}'
            f"</td><td>{escape(f.resolution or '—')}</td><td>{_badge(f.status)}</td>"
            f'<td class="msg">{_findings(f)}</td><td class="links">{links or "—"}</td></tr>')
    return (f'<section><h2>各文件 Files</h2><table class="files">{head}{"".join(rows)}'
            "</table></section>")


def _findings(f: FileOutcome) -> str:
    if f.error:
        return escape(f.error)
    if not f.checks:
        return "—"
    shown = f.checks[:MAX_LISTED]
    items = "".join(f"<li>{_badge(c.status)} {escape(c.clause)} <code>{escape(c.id)}</code>: "
                    f"{escape(c.message)}</li>" for c in shown)
    more = len(f.checks) - len(shown)
    if more:
        items += f"<li>… {more} more (see the file's report)</li>"
    return f"<ul>{items}</ul>"


def _skipped(names: list[str]) -> str:
    if not names:
        return ""
    items = "".join(f"<li><code>{escape(n)}</code></li>" for n in names)
    return ("<section><h2>未检文件 Passed over</h2><details><summary>"
            f"{len(names)} 个文件不是录像或课件（文档、题库、隐藏文件）· files that are not "
            f"recordings or lectures (documents, banks, hidden files)</summary><ul>{items}</ul>"
            "</details></section>")
