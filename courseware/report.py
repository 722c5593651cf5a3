"""The QC report contract (shared/DESIGN.md): one JSON object per checked file.

``{"file", "profile", "status", "duration_s", "backend", "checks": [...]}``; each check has a
stable id (``video.snr``), the clause of the regulation it serves, a status, the measured
value, the threshold, the unit, a message a person reads, and timecoded events.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip"]
_RANK = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


@dataclass(frozen=True)
class Event:
    start_s: float
    end_s: float
    detail: str


@dataclass(frozen=True)
class Check:
    id: str
    clause: str
    status: Status
    measured: float | str | None
    threshold: float | str | None
    unit: str
    message: str
    events: tuple[Event, ...] = ()


def overall(checks: list[Check] | tuple[Check, ...]) -> Literal["pass", "warn", "fail"]:
    """Worst status of the checks; skipped checks do not count."""
    worst = max((_RANK[c.status] for c in checks), default=1)
    return "fail" if worst == 3 else "warn" if worst == 2 else "pass"


@dataclass(frozen=True)
class Report:
    file: str
    profile: str
    duration_s: float
    checks: tuple[Check, ...]
    backend: str = "numpy"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def status(self) -> Literal["pass", "warn", "fail"]:
        return overall(self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "profile": self.profile,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "backend": self.backend,
            "checks": [asdict(c) for c in self.checks],
            **self.extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def write_json(self, path: Path) -> None:
        path.write_text(self.to_json(), "utf-8")

    def table(self) -> str:
        """A fixed-width table a person reads in a terminal."""
        rows = [("check", "clause", "status", "measured", "threshold", "message")]
        for c in self.checks:
            rows.append((c.id, c.clause, c.status.upper(), _fmt(c.measured, c.unit),
                         _fmt(c.threshold, c.unit), c.message))
        widths = [max(_width(r[i]) for r in rows) for i in range(5)]
        lines = [f"{self.file}  [{self.profile}]  →  {self.status.upper()}"]
        for r in rows:
            cells = [r[i] + " " * (widths[i] - _width(r[i])) for i in range(5)]
            lines.append("  ".join([*cells, r[5]]))
        return "\n".join(lines)


    def where(self, limit: int = 5) -> str:
        """Where each failed or warned check found its problems: the first ``limit`` events
        of each, with their timecodes ("" when there are none)."""
        from qc_metrics.frames import timecode

        lines = []
        for c in self.checks:
            if c.status not in ("fail", "warn") or not c.events:
                continue
            lines += [f"  {c.id}  {timecode(e.start_s)}–{timecode(e.end_s)}  "
                      f"{_LEADING_TIMECODE.sub('', e.detail)}" for e in c.events[:limit]]
            if len(c.events) > limit:
                lines.append(f"  {c.id}  … and {len(c.events) - limit} more (--json, --html)")
        return "\n".join(["where:", *lines]) if lines else ""


#: a detail's own leading "HH:MM:SS.mmm[–HH:MM:SS.mmm]: " (``where`` prints the span itself)
_LEADING_TIMECODE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}(–\d\d:\d\d:\d\d\.\d{3})?: ")


def _fmt(value: float | str | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal cells."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def check_from_dict(raw: dict[str, Any]) -> Check:
    """A Check back from its contract JSON."""
    item = dict(raw)
    events = tuple(Event(**e) for e in item.pop("events", []))
    return Check(**item, events=events)


def report_from_dict(data: dict[str, Any]) -> Report:
    """A Report back from its contract JSON (shared/DESIGN.md)."""
    checks = [check_from_dict(raw) for raw in data.get("checks", [])]
    known = {"file", "profile", "status", "duration_s", "backend", "checks"}
    return Report(file=str(data["file"]), profile=str(data["profile"]),
                  duration_s=float(data.get("duration_s") or 0.0),
                  checks=tuple(checks), backend=str(data.get("backend", "numpy")),
                  extra={k: v for k, v in data.items() if k not in known})
