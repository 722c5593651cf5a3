"""Publish a finished lecture and its QC report into the store (atomic per object)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from courseware.course import Course, Lecture
from courseware.report import Report
from courseware.store import open_store, safe_name


def course_prefix(course: Course) -> str:
    return safe_name(course.info.name)


def lecture_key(course: Course, lecture: Lecture) -> str:
    """``<course>/第01讲_<title>.mp4``: numbered so that names sort in lecture order."""
    return f"{course_prefix(course)}/第{lecture.number:02d}讲_{safe_name(lecture.title)}.mp4"


def publish_lecture(course: Course, lecture: Lecture, *, video: Path, report: Report,
                    store: str) -> dict[str, str]:
    """Report first, then the video: the video's presence means the lecture is complete."""
    target = open_store(store)
    key = lecture_key(course, lecture)
    report_key = key.removesuffix(".mp4") + ".qc.json"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        data = report.to_dict() | {"file": key}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        report_url = target.put_file(path, report_key)
    return {"video": target.put_file(video, key), "report": report_url, "key": key}


publish_task = task(name="publish", cache_policy=NO_CACHE, retries=2,
                    retry_delay_seconds=[1, 5])(publish_lecture)
