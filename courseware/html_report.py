"""The QC report as one self-contained HTML page a person can read and forward.

Everything is inline: CSS, SVG charts, thumbnails and the glyphs of the page's text
(courseware.fonts.web_font_face) as ``data:`` URIs; no scripts, no external resources, so the
page opens and reads the same offline, in a mail attachment, on a USB stick, on a machine
without a Chinese font.
Labels are Chinese with English beside them (``lang="zh-CN"``); every piece of text that
comes from the file or the checks is escaped.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape
from string import Template
from typing import TYPE_CHECKING

from courseware.errors import ProfileError
from courseware.fonts import WEB_FAMILY, web_font_face
from courseware.report import Check, Event
from encoder_profiles import Profile, load_profile
from qc_metrics.frames import timecode

if TYPE_CHECKING:
    from tasks.qc import QcResult, Thumbnail, Timeline

COLOURS = {"pass": "#2e7d32", "warn": "#e65100", "fail": "#c62828", "skip": "#757575",
           "error": "#6a1b9a"}
#: "error": a file of a batch that could not be checked at all (tasks/qc_batch.py)
VERDICT_ZH = {"pass": "合格", "warn": "需复核", "fail": "不合格", "skip": "未检",
              "error": "无法检查"}
#: the groups of the report: check-id prefix, Chinese and English titles, clauses
GROUPS = (
    ("format", "封装格式", "Format", "D2–D10"),
    ("video", "视频信号", "Video signal", "V1–V4"),
    ("audio", "音频信号", "Audio signal", "S1–S4"),
)
def clause_texts(profile: Profile) -> dict[str, str]:
    """What each clause asks, in a few words, with the numbers of ``profile``."""
    d, v, a = profile.delivery, profile.video, profile.audio
    return {
        "D2": "H.264 / MP4",
        "D3": f"码率 bit rate {d.video_bitrate_kbps.min:g}–{d.video_bitrate_kbps.max:g} kbps",
        "D4": f"分辨率 ≥ {d.min_width}×{d.min_height}",
        "D5": f"宽高比 {d.aspect[0]}:{d.aspect[1]}", "D6": f"{d.fps} 帧/秒 fps",
        "D7": "逐行扫描 progressive",
        "D9": f"AAC {d.audio_rate / 1000:g} kHz {d.audio_bitrate_kbps:g} kbps "
              f"{d.audio_channels} 声道",
        "D10": "MP4 网络播放 faststart",
        "V1": "画面稳定、连续 stable, continuous", "V2": f"信噪比 SNR ≥ {v.snr_min_db:g} dB",
        "V3": "白平衡、机位色差 white balance", "V4": "视频电平 video levels",
        "B3": "多媒体完整清晰 slides whole, legible",
        "S1": f"峰值 {a.peak_dbfs[0]:g}…{a.peak_dbfs[1]:g} dB, 无失真 peak",
        "S2": f"信噪比 SNR ≥ {a.snr_min_db:g} dB",
        "S3": "声画同步、无交流声 sync, hum", "S4": "音量平稳 steady level",
    }


MAX_EVENTS = 50          # per check on the page
MAX_POINTS = 1200        # per chart line (longer series are averaged in buckets)
#: threshold labels on a chart at least this far apart (pixels; 12-px text)
LABEL_GAP_PX = 14
THUMB_MATCH_S = 0.1      # an event shows the thumbnail taken this close to its start

_CSS = Template("""
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "$web", "Noto Sans CJK SC", "Source Han Sans SC",
       "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", "Noto Sans", "DejaVu Sans",
       sans-serif;
       color: #212121; background: #f5f5f5; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
.band { color: #fff; padding: 20px 24px; }
.band h1 { margin: 0; font-size: 26px; }
.band .verdict { font-size: 20px; font-weight: bold; }
section { background: #fff; margin: 20px 0; padding: 16px 20px; border-radius: 6px;
          box-shadow: 0 1px 3px rgba(0,0,0,.12); overflow-x: auto; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 16px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px;
         border-bottom: 1px solid #e0e0e0; }
th { background: #fafafa; font-weight: 600; white-space: nowrap; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
code { font-family: $mono; font-size: 13px; }
td code { overflow-wrap: anywhere; }   /* long file names wrap in narrow cells */
td.check code { overflow-wrap: break-word; }  /* a check id wraps after its dot */
.badge { display: inline-block; min-width: 64px; text-align: center; color: #fff;
         border-radius: 4px; padding: 1px 8px; font-weight: bold; font-size: 13px; }
.meta th { width: 220px; background: none; }
.counts span { margin-right: 16px; }
.note { color: #6d4c41; }
.events { list-style: none; padding: 0; margin: 0; }
.events li { display: flex; gap: 12px; align-items: flex-start; padding: 6px 0;
             border-bottom: 1px solid #eee; }
.events img { width: 192px; height: auto; border: 1px solid #bdbdbd; flex: none; }
.tc { font-family: $mono; white-space: nowrap; }
.chart { width: 100%; height: auto; }
.source { color: #616161; font-size: 13px; margin: 2px 0 12px; }
""").substitute(web=WEB_FAMILY,  # file names in code are Chinese: the page's font draws them
               mono=f'"{WEB_FAMILY}", "DejaVu Sans Mono", Consolas, Menlo, monospace')


def render_html(result: QcResult) -> str:
    """The page for ``result`` (a :class:`tasks.qc.QcResult`), as a UTF-8 string."""
    report = result.report
    status = report.status
    parts = [
        f'<header class="band" id="verdict" style="background:{COLOURS[status]}">',
        "<h1>课件质检报告 · Courseware QC report</h1>",
        f'<div class="verdict">结论 Verdict: {VERDICT_ZH[status]} · {status.upper()}</div>',
        "</header>",
        "<main>",
        _summary(result),
    ]
    by_group = _grouped(report.checks)
    try:
        texts = clause_texts(load_profile(report.profile))
    except ProfileError:  # a report of another profile: no clause hints
        texts = {}
    for key, zh, en, clauses in (*GROUPS, ("other", "其他", "Other", "")):
        checks = by_group.get(key, [])
        if checks:
            parts.append(_check_table(checks, zh, en, clauses, texts))
    parts.append(_events(report.checks, result.thumbnails))
    parts.append(_charts(result.timelines, report.checks, report.duration_s))
    parts.append("</main>")
    return page(f"课件质检报告 QC report — {escape(_basename(report.file))}", _CSS, parts)


def page(title: str, css: str, body: Sequence[str]) -> str:
    """The whole page: ``body`` (markup) under a head with ``title``, ``css`` and the glyphs
    its text needs."""
    font = web_font_face(title + "".join(body))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{font}{css}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


# ------------------------------------------------------------------------------ sections

def _summary(result: QcResult) -> str:
    r = result.report
    counts = {s: sum(c.status == s for c in r.checks) for s in ("fail", "warn", "pass", "skip")}
    speed = (f"{result.frames} frames in {result.elapsed_s:.1f} s "
             f"({result.frames / result.elapsed_s:.0f} fps)" if result.elapsed_s > 0 else "")
    rows = [
        ("文件 File", f"<code>{escape(r.file)}</code>"),
        ("规范 Profile", escape(r.profile)),
        *([("判定 Judged as", "原始素材 A raw source, for the lecture made of it: what the "
            "render makes anew is skipped, what it corrects is a warning")]
          if r.extra.get("raw_source") else []),
        ("结论 Verdict", _badge(r.status)),
        ("时长 Duration", f'<span class="tc">{timecode(r.duration_s)}</span> '
                          f"({r.duration_s:.1f} s)"),
        ("计算后端 Backend", escape(r.backend) + (f" · {escape(speed)}" if speed else "")),
        ("检查项 Checks", '<span class="counts">' + "".join(
            f"<span>{_badge(s)} × {n}</span>" for s, n in counts.items() if n) + "</span>"),
        *((label, escape(said)) for label, said in card_rows(r.extra.get("cards"))),
        *((label, escape(said)) for label, said in text_rows(r.extra.get("slides_text"))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    notes = "".join(f'<p class="note">注意 Note: {escape(n)}</p>' for n in result.notes)
    made = r.extra.get("render_notes")
    if isinstance(made, list) and made:
        notes += ('<h3 id="render-notes">制作说明 From the render</h3><ul>'
                  + "".join(f"<li>{escape(str(n))}</li>" for n in made) + "</ul>")
    failed = [c for c in r.checks if c.status == "fail"]
    todo = ""
    if failed:
        todo = ("<h3>须整改 To fix</h3><ul>" + "".join(
            f"<li><code>{escape(c.id)}</code> ({escape(c.clause or '—')}): "
            f"{escape(c.message)}</li>" for c in failed) + "</ul>")
    return (f'<section><h2>概要 Summary</h2><table class="meta">{body}</table>'
            f"{notes}{todo}</section>")


def card_rows(cards: object) -> list[tuple[str, str]]:
    """A finished file's cards as a person reads them (the report's ``cards``): where the
    title card and the credits are, and the words read on them."""
    if not isinstance(cards, dict):
        return []
    rows = []
    for label, places, words in (("片头字幕 Title card (A4)",
                                  ("title_card", "opening_still", "animated_card"),
                                  "title_card_text"),
                                 ("片尾字幕 Credits (A5)",
                                  ("credits", "closing_still", "moving_credits"),
                                  "credits_text")):
        place = next((p for p in places if isinstance(cards.get(p), list)), None)
        if place is None:
            continue
        span = cards[place]
        lines = cards.get(words)
        read = (" · “" + " / ".join(str(x) for x in lines) + "”" if isinstance(lines, list)
                and lines else " · no words read" if isinstance(lines, list) else "")
        when = (f"{timecode(span[0])}–{timecode(span[1])}" if None not in span
                else f"from {timecode(span[0])}, its end not found" if span[0] is not None
                else f"its last seconds, to {timecode(span[1])}")
        rows.append((label, when + (" (animated)" if place == "animated_card" else
                                    " (moving)" if place == "moving_credits" else "") + read))
    return rows


def text_rows(read: object) -> list[tuple[str, str]]:
    """The pages whose text B3 measured (the report's ``slides_text``): when each was read
    and its body text's height (its lines' median), in the film's pixels; a raw capture's
    as it will be at the layout's scale."""
    if not isinstance(read, dict) or not isinstance(read.get("pages"), list):
        return []
    scale = read.get("scale")
    said = []
    for page in read["pages"]:
        body = page.get("film_body_px")
        if body is None:
            said.append(f"{timecode(page['at_s'])} no text")
            continue
        lines = len(page.get("lines_px") or ())
        said.append(f"{timecode(page['at_s'])} {body:.0f} px ({lines} line(s))")
    where = (f"body text in the film at the layout's scale of {scale:.2f} of the capture's: "
             if isinstance(scale, float) else "body text in the film: ")
    return [("幻灯片文字 Slides' text (B3)", f"{len(said)} page(s) read, " + where
             + " · ".join(said))]


def _check_table(checks: list[Check], zh: str, en: str, clauses: str,
                 texts: dict[str, str]) -> str:
    head = ("<tr><th>检查项 Check</th><th>条款 Clause</th><th>状态 Status</th>"
            "<th>实测 Measured</th><th>限值 Threshold</th><th>单位 Unit</th>"
            "<th>说明 Message</th></tr>")
    rows = []
    for c in checks:
        clause = escape(c.clause) if c.clause else "—"
        title = f' title="{escape(texts[c.clause])}"' if c.clause in texts else ""
        events = f" · {len(c.events)} event(s)" if c.events else ""
        rows.append(
            f'<tr id="{escape(c.id)}"><td class="check"><code>'
            f'{".<wbr>".join(escape(part) for part in c.id.split("."))}</code></td>'
            f"<td{title}>{clause}</td><td>{_badge(c.status)}</td>"
            f'<td class="num">{escape(_value(c.measured))}</td>'
            f'<td class="num">{escape(_value(c.threshold))}</td>'
            f"<td>{escape(c.unit)}</td><td>{escape(c.message)}{escape(events)}</td></tr>")
    suffix = f" ({escape(clauses)})" if clauses else ""
    return (f"<section><h2>{escape(zh)} {escape(en)}{suffix}</h2>"
            f"<table>{head}{''.join(rows)}</table></section>")


def _events(checks: Sequence[Check], thumbs: Sequence[Thumbnail]) -> str:
    with_events = [c for c in checks if c.events]
    if not with_events:
        return "<section><h2>事件 Events</h2><p>无 None.</p></section>"
    out = ["<section><h2>事件与时间码 Events with timecodes</h2>"]
    for c in with_events:
        out.append(f"<h3>{_badge(c.status)} <code>{escape(c.id)}</code> "
                   f"({escape(c.clause or '—')})</h3><ul class=\"events\">")
        for e in c.events[:MAX_EVENTS]:
            thumb = _thumb_for(e, thumbs)
            img = ""
            if thumb is not None:
                data = base64.b64encode(thumb.jpeg).decode("ascii")
                img = (f'<img src="data:image/jpeg;base64,{data}" width="{thumb.width}" '
                       f'height="{thumb.height}" alt="frame at {timecode(thumb.frame_s)}">')
            out.append(f'<li>{img}<div><span class="tc">{timecode(e.start_s)} – '
                       f"{timecode(e.end_s)}</span><br>{escape(e.detail)}</div></li>")
        if len(c.events) > MAX_EVENTS:
            out.append(f"<li>… {len(c.events) - MAX_EVENTS} more (see the JSON report)</li>")
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _charts(timelines: Sequence[Timeline], checks: Sequence[Check], duration_s: float) -> str:
    if not timelines:
        return ""
    events = {c.id: c.events for c in checks}
    out = ["<section><h2>时间线 Timelines</h2>"]
    for tl in timelines:
        spans = [e for cid in tl.check_ids for e in events.get(cid, ())]
        out.append(f"<h3>{escape(tl.label_zh)} · {escape(tl.label)} ({escape(tl.unit)})</h3>")
        out.append(_svg_chart(tl, spans, duration_s=duration_s))
        out.append(f'<p class="source">{escape(tl.source)}; shaded: events of '
                   f"{escape(', '.join(tl.check_ids))}</p>")
    out.append("</section>")
    return "".join(out)


# ------------------------------------------------------------------------------ SVG chart

def _svg_chart(tl: Timeline, spans: Sequence[Event], *, duration_s: float, width: int = 1100,
               height: int = 240) -> str:
    """A line chart of ``tl`` over the whole file (all charts share the time axis), with its
    threshold lines dashed, their labels kept apart, and the spans of its checks' events
    shaded. Values under the timeline's floor (digital silence's loudness) are drawn on it, so
    that they do not squash the range that matters."""
    left, right, top, bottom = 64, 110, 12, 34
    pw, ph = width - left - right, height - top - bottom
    times, values = _decimate(tl.times, tl.values)
    if tl.floor is not None:
        values = [v if v is None else max(v, tl.floor) for v in values]
    finite = [v for v in values if v is not None]
    if not times or not finite:
        return '<p class="source">无可测数据 Nothing measurable.</p>'
    t0 = min(0.0, times[0])
    t1 = max(times[-1], duration_s, t0 + 1.0)
    ys = finite + [lim.value for lim in tl.limits]
    lo, hi = min(ys), max(ys)
    pad = max((hi - lo) * 0.08, 1.0)
    lo, hi = lo - pad, hi + pad

    def x(t: float) -> float:
        return left + (min(max(t, t0), t1) - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * ph

    el = [f'<svg class="chart" viewBox="0 0 {width} {height}" '
          f'role="img" aria-label="{escape(tl.label)}">',
          f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" '
          'stroke="#bdbdbd"/>']
    for e in spans:
        if e.end_s >= t0 and e.start_s <= t1:
            xa, xb = x(e.start_s), x(e.end_s)
            el.append(f'<rect x="{xa:.1f}" y="{top}" width="{max(xb - xa, 2.0):.1f}" '
                      f'height="{ph}" fill="#c62828" fill-opacity="0.15"/>')
    for v in _ticks(lo, hi, 5):
        el.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                  'stroke="#e0e0e0"/>'
                  f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="12" '
                  f'fill="#616161">{v:g}</text>')
    for t in _ticks(t0, t1, 6, min_step=1.0):
        el.append(f'<text x="{x(t):.1f}" y="{height - 12}" text-anchor="middle" '
                  f'font-size="12" fill="#616161">{timecode(t)[:8]}</text>')
    label_ys = _apart([y(lim.value) for lim in tl.limits], gap=LABEL_GAP_PX,
                      lo=top + 4, hi=top + ph + 4)
    for lim, ly in zip(tl.limits, label_ys, strict=True):
        el.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(lim.value):.1f}" '
                  f'y2="{y(lim.value):.1f}" stroke="#c62828" stroke-dasharray="6 4"/>'
                  f'<text x="{left + pw + 6}" y="{ly + 4:.1f}" font-size="12" '
                  f'fill="#c62828">{escape(lim.label)} {lim.value:.4g}</text>')
    for run in _segments(times, values):
        if len(run) == 1:
            (t, v), = run
            el.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="#1565c0"/>')
        else:
            pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            el.append(f'<polyline points="{pts}" fill="none" stroke="#1565c0" '
                      'stroke-width="2"/>')
    el.append("</svg>")
    return "".join(el)


def _apart(ys: Sequence[float], *, gap: float, lo: float, hi: float) -> list[float]:
    """Heights for labels at ``ys`` (pixels, down), in the same order, moved the least so
    that no two are closer than ``gap`` and all stay within [lo, hi] where there is room."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [ys[i] for i in order]
    for k in range(1, len(placed)):             # push down the ones too close above them
        placed[k] = max(placed[k], placed[k - 1] + gap)
    over = placed[-1] - hi if placed else 0.0
    if over > 0:                                # past the bottom: the stack moves up
        placed[-1] -= over
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    placed = [max(p, lo) for p in placed]
    out = [0.0] * len(ys)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def _decimate(times: Sequence[float], values: Sequence[float | None],
              ) -> tuple[list[float], list[float | None]]:
    """At most MAX_POINTS points: buckets of consecutive points, averaged (gaps kept)."""
    n = len(times)
    if n <= MAX_POINTS:
        return list(times), list(values)
    size = math.ceil(n / MAX_POINTS)
    ts: list[float] = []
    vs: list[float | None] = []
    for i in range(0, n, size):
        chunk = [v for v in values[i: i + size] if v is not None]
        ts.append(times[i])
        vs.append(sum(chunk) / len(chunk) if chunk else None)
    return ts, vs


def _segments(times: Sequence[float], values: Sequence[float | None],
              ) -> list[list[tuple[float, float]]]:
    """Runs of consecutive measured points (a None breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in zip(times, values, strict=True):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((t, v))
    return [r for r in runs if r]


def _ticks(lo: float, hi: float, count: int, *, min_step: float = 0.0) -> list[float]:
    """Round tick values inside [lo, hi] (1, 2, 5 × 10^k steps, at least ``min_step``)."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = max(span / count, min_step)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


# ------------------------------------------------------------------------------ helpers

def _grouped(checks: Sequence[Check]) -> dict[str, list[Check]]:
    known = {g[0] for g in GROUPS}
    out: dict[str, list[Check]] = {}
    for c in checks:
        prefix = c.id.split(".", 1)[0]
        out.setdefault(prefix if prefix in known else "other", []).append(c)
    return out


def _badge(status: str) -> str:
    return (f'<span class="badge" style="background:{COLOURS.get(status, "#757575")}">'
            f"{escape(status.upper())}</span>")


def _value(value: float | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def clock(seconds: float) -> str:
    """H:MM:SS, a length as a person reads it."""
    s = round(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _thumb_for(event: Event, thumbs: Sequence[Thumbnail]) -> Thumbnail | None:
    """The thumbnail taken for this event's start (events close together share one)."""
    best = min(thumbs, key=lambda th: abs(th.at_s - event.start_s), default=None)
    if best is None or abs(best.at_s - event.start_s) > THUMB_MATCH_S:
        return None
    return best
