"""The delivery package (D1, D11, A6): per course the lectures (published by the lecture
flows), the preview, the application form, the question bank and a ``manifest.json`` with
every object's size and SHA-256, written last; at the root a UTF-8 text file listing every
course's name, lecture numbers and durations (D1), rebuilt from all course manifests.

The course report (``课程质检报告.json`` / ``.html``, tasks/course_qc.py) checks the manifest,
so it is written after it and is not one of the objects the manifest lists.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from courseware.course import Course
from courseware.forms import form_kind, write_application_form
from courseware.store import Store, open_store, safe_name
from tasks.publish import course_prefix

MANIFEST = "manifest.json"
ROOT_TEXT = "课程清单.txt"  # D1: the root text file
ROOT_JSON = "manifest.json"
COURSE_REPORT_JSON = "课程质检报告.json"  # the course report, written after the manifest
COURSE_REPORT_HTML = "课程质检报告.html"
_NOT_LISTED = (MANIFEST, COURSE_REPORT_JSON, COURSE_REPORT_HTML)


class PublishedLecture(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    key: str
    duration_s: float


class PackageResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    prefix: str
    manifest_key: str
    root_text_key: str
    objects: int


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def preview_key(course: Course) -> str:
    return f"{course_prefix(course)}/课程预览_{safe_name(course.info.name)}.mp4"


def publish_package(course: Course, lectures: list[PublishedLecture], *, store: str,
                    preview: Path | None = None, bank: Path | None = None,
                    extra: dict[str, object] | None = None) -> PackageResult:
    """Publish the course-level objects, then the course manifest, then the root listing.

    ``preview`` None keeps a preview already published; ``extra`` goes into the manifest.
    """
    target = open_store(store)
    prefix = course_prefix(course)
    with tempfile.TemporaryDirectory() as tmp:
        if preview is not None:
            target.put_file(preview, preview_key(course))
        form = Path(tmp) / "form.docx"
        write_application_form(course, form,
                               durations={lec.number: lec.duration_s for lec in lectures})
        target.put_file(form, f"{prefix}/申报表_{form_kind(course).attachment}.docx")  # D11, F
        if bank is not None:  # D11, Q1
            target.put_file(bank, f"{prefix}/题库{bank.suffix.lower()}")
    unlisted = {f"{prefix}/{name}" for name in _NOT_LISTED}
    objects = [{"key": key, "size": target.size(key), "sha256": target.checksum(key)}
               for key in target.list(prefix + "/") if key not in unlisted]
    manifest = {
        "course": course.info.name, "kind": course.info.kind, "hours": course.info.hours,
        "prefix": prefix,
        "lectures": [lec.model_dump() for lec in sorted(lectures, key=lambda x: x.number)],
        "preview": preview_key(course) if target.exists(preview_key(course)) else None,
        "objects": objects,
        **(extra or {}),
    }
    manifest_key = f"{prefix}/{MANIFEST}"
    # written last: a reader that finds the manifest finds a complete course
    target.put_bytes(json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
                     manifest_key)
    write_root_listing(target)
    return PackageResult(prefix=prefix, manifest_key=manifest_key, root_text_key=ROOT_TEXT,
                         objects=len(objects))


def write_root_listing(target: Store) -> None:
    """D1: one text file at the root listing every course on the medium (from the course
    manifests present), and the same as JSON."""
    courses = []
    for key in target.list():
        if key.count("/") == 1 and key.endswith(f"/{MANIFEST}"):
            courses.append(json.loads(target.get_bytes(key).decode("utf-8")))
    courses.sort(key=lambda c: c["course"])
    lines = ["继续教育网络课件交付清单", ""]
    for c in courses:
        total = sum(lec["duration_s"] for lec in c["lectures"])
        lines.append(f"课程名称：{c['course']}（{len(c['lectures'])} 讲，共 {_clock(total)}）")
        lines.append(f"文件夹：{c['prefix']}")
        for lec in c["lectures"]:
            lines.append(f"  第{lec['number']}讲  {lec['title']}  时长 {_clock(lec['duration_s'])}")
        lines.append("")
    target.put_bytes("\r\n".join(lines).encode("utf-8"), ROOT_TEXT)  # CRLF: read on Windows
    summary = [{"course": c["course"], "prefix": c["prefix"],
                "lectures": [{"number": x["number"], "duration_s": x["duration_s"]}
                             for x in c["lectures"]]} for c in courses]
    target.put_bytes(json.dumps({"courses": summary}, ensure_ascii=False, indent=2)
                     .encode("utf-8"), ROOT_JSON)


package_task = task(name="package", cache_policy=NO_CACHE, retries=2,
                    retry_delay_seconds=[2, 10])(publish_package)
