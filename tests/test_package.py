"""The delivery package (D1, D11): layout, course manifest written last, root listing,
checksums that match the bytes, on the local folder and on S3 over HTTP (moto on loopback)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import boto3

from courseware.course import Course, load_course
from courseware.store import open_store
from tasks.package import PublishedLecture, preview_key, publish_package
from tasks.publish import lecture_key

COURSE = """\
course:
  name: "课程：碳中和/绿色发展"
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
  - {number: 1, title: 双碳目标, lecturer: zhang, sources: {slides: s1.mp4}}
  - {number: 2, title: "能源转型 ../..", lecturer: zhang, sources: {slides: s2.mp4}}
"""


def _course(tmp: Path) -> Course:
    (tmp / "course.yaml").write_text(COURSE, encoding="utf-8")
    return load_course(tmp / "course.yaml")


def _publish(course: Course, store: str, tmp: Path) -> list[PublishedLecture]:
    target = open_store(store)
    out = []
    for lec, seconds in zip(course.lectures, (3605.0, 3490.5), strict=True):
        path = tmp / f"l{lec.number}.mp4"
        path.write_bytes(uuid.uuid4().bytes * 1000)  # stand-in bytes: the package copies them
        key = lecture_key(course, lec)
        target.put_file(path, key)
        out.append(PublishedLecture(number=lec.number, title=lec.title, key=key,
                                    duration_s=seconds))
    return out


def _check(course: Course, store: str, tmp: Path, read: Any) -> None:
    lectures = _publish(course, store, tmp)
    preview = tmp / "preview.mp4"
    preview.write_bytes(b"preview" * 100)
    bank = tmp / "bank.xlsx"
    bank.write_bytes(b"PK fake xlsx")
    result = publish_package(course, lectures, store=store, preview=preview, bank=bank)
    manifest = json.loads(read(result.manifest_key))
    keys = {o["key"] for o in manifest["objects"]}
    prefix = result.prefix
    assert "/" not in prefix and not prefix.startswith(".")
    assert {f"{prefix}/申报表_附件2.docx", f"{prefix}/题库.xlsx", preview_key(course),
            *(lec.key for lec in lectures)} <= keys
    for obj in manifest["objects"]:  # checksums and sizes match the stored bytes
        data = read(obj["key"])
        assert obj["size"] == len(data) and obj["sha256"] == hashlib.sha256(data).hexdigest()
    assert [lec["number"] for lec in manifest["lectures"]] == [1, 2]
    text = read("课程清单.txt").decode("utf-8")
    assert "课程名称：课程：碳中和/绿色发展（2 讲，共 01:58:16）" in text
    assert "第1讲  双碳目标  时长 01:00:05" in text
    assert "第2讲  能源转型 ../..  时长 00:58:10" in text
    root = json.loads(read("manifest.json"))
    assert [c["course"] for c in root["courses"]] == ["课程：碳中和/绿色发展"]


def test_package_in_a_local_folder(tmp_path: Path) -> None:
    course = _course(tmp_path)
    out = tmp_path / "delivery"
    _check(course, str(out), tmp_path, lambda key: (out / key).read_bytes())
    assert not list(out.rglob("*.part"))


def test_package_on_s3_over_http(tmp_path: Path, moto_url: str, aws_env: None) -> None:
    admin = boto3.session.Session().client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket = f"pkg-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    course = _course(tmp_path)

    def read(key: str) -> bytes:
        return admin.get_object(Bucket=bucket, Key=f"delivery/{key}")["Body"].read()

    _check(course, f"s3://{bucket}/delivery?endpoint={moto_url}", tmp_path, read)
    listed = admin.list_objects_v2(Bucket=bucket)["Contents"]
    newest = max(listed, key=lambda o: o["LastModified"])
    assert newest["LastModified"] >= next(
        o for o in listed if o["Key"].endswith("申报表_附件2.docx"))["LastModified"]


def test_second_course_joins_the_root_listing(tmp_path: Path) -> None:
    out = tmp_path / "delivery"
    first = _course(tmp_path)
    publish_package(first, _publish(first, str(out), tmp_path), store=str(out))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "course.yaml").write_text(COURSE.replace("课程：碳中和/绿色发展", "数字经济"),
                                                encoding="utf-8")
    second = load_course(tmp_path / "b" / "course.yaml")
    publish_package(second, _publish(second, str(out), tmp_path / "b"), store=str(out))
    text = (out / "课程清单.txt").read_text("utf-8")
    assert text.index("数字经济") < text.index("课程：碳中和")  # both, sorted by name
