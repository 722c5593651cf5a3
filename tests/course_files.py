"""Course files for tests that render one lecture from generated sources."""

from __future__ import annotations

from pathlib import Path

import yaml


def one_lecture(root: Path, sources: dict[str, str], *, layout: str | None = None,
                switches: list[dict[str, object]] | None = None, intro: str | None = None,
                name: str = "测试课程") -> Path:
    """``root/course.yaml``: one lecture by one lecturer, ``sources`` by role (paths relative
    to ``root``), in ``layout`` (the profile's when None) with its ``switches``; ``intro``:
    the provincial opening clip (A3)."""
    lecture: dict[str, object] = {"number": 1, "title": "第一讲", "lecturer": "a",
                                  "sources": sources}
    if layout is not None:
        lecture["layout"] = layout
    if switches:
        lecture["layout_switches"] = switches
    data: dict[str, object] = {
        "course": {"name": name, "kind": "public", "hours": 16,
                   "applying_unit": "测试单位", "production_unit": "测试制作",
                   "recording_date": "2026-11-01",
                   "contact": {"name": "王老师", "phone": "029-12345678"}},
        "lecturers": [{"id": "a", "name": "张三", "title": "教授", "unit": "某大学"}],
        "lectures": [lecture],
    }
    if intro is not None:
        data["course"]["intro"] = intro  # type: ignore[index]
    path = root / "course.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path
