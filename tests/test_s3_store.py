"""S3Store and submit_course against moto's S3 server over HTTP on 127.0.0.1, with a
fault-injecting proxy in between. boto3 is not patched: every call is a real request."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import urllib.request
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import boto3
import numpy as np
import pytest
from botocore.config import Config
from click.testing import CliRunner
from s3_server import Fault, FaultProxy

from courseware.errors import CorruptMediaError, MissingSourceError, StoreError
from courseware.store import LocalStore, S3Store, open_store, safe_name

MiB = 1024 * 1024
WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
          "DeleteObject")

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="session")
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    fp = FaultProxy(moto_url, delay_s=3.0)
    yield fp
    fp.close()


@pytest.fixture(autouse=True)
def _fake_aws(aws_env: None) -> None:
    """Every test here runs with fake credentials (conftest's ``aws_env``)."""


@pytest.fixture
def admin(moto_url: str) -> Any:
    """A client straight to moto (no proxy, no faults), to check what the server holds."""
    return boto3.session.Session().client(
        "s3", endpoint_url=moto_url, config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def bucket(admin: Any, proxy: FaultProxy) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    admin.create_bucket(Bucket=name)
    proxy.inject()
    return name


@pytest.fixture(scope="session")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("s3") / "big.bin"
    path.write_bytes(random.Random(5).randbytes(12 * MiB))  # 3 parts of 5, 5, 2 MiB
    return path


def store_for(proxy: FaultProxy, bucket: str, **options: Any) -> S3Store:
    settings: dict[str, Any] = {
        "multipart_threshold": 5 * MiB, "part_size": 5 * MiB, "max_concurrency": 3,
        "max_attempts": 3, "connect_timeout": 2.0, "read_timeout": 10.0} | options
    return S3Store(bucket, "inbox", endpoint_url=proxy.url, **settings)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_clean(admin: Any, bucket: str, expected: dict[str, bytes]) -> None:
    """Every listed object is whole and right (size, sha256 metadata, bytes) and expected;
    no unfinished multipart upload is left."""
    listed = admin.list_objects_v2(Bucket=bucket).get("Contents", [])
    for obj in listed:
        key = obj["Key"]
        assert key in expected, f"unexpected object {key}"
        head = admin.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(expected[key])
        assert head["Metadata"]["sha256"] == sha(expected[key])
        assert sha(admin.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha(expected[key])
    assert not admin.list_multipart_uploads(Bucket=bucket).get("Uploads")


# -- the store ------------------------------------------------------------------------------

def test_put_get_exists_list_presign(proxy: FaultProxy, bucket: str, admin: Any) -> None:
    store = store_for(proxy, bucket)
    data = "第1讲 字幕\n".encode() * 100
    assert not store.exists("a/字幕.srt")
    assert store.put_bytes(data, "a/字幕.srt") == f"s3://{bucket}/inbox/a/字幕.srt"
    store.put_bytes(b"{}", "b.json")
    assert store.exists("a/字幕.srt")
    assert store.get_bytes("a/字幕.srt") == data
    assert store.checksum("a/字幕.srt") == sha(data)
    assert store.list() == ["a/字幕.srt", "b.json"]
    assert store.list("a/") == ["a/字幕.srt"]
    with urllib.request.urlopen(store.presign("a/字幕.srt", 60), timeout=10) as response:
        assert response.read() == data
    store.delete("b.json")
    assert store.list() == ["a/字幕.srt"]
    with pytest.raises(StoreError, match="no such object"):
        store.get_bytes("b.json")
    assert admin.head_object(Bucket=bucket, Key="inbox/a/字幕.srt")["ContentType"] != ""


def test_checksum_of_an_object_another_tool_uploaded(proxy: FaultProxy, bucket: str,
                                                     admin: Any, tmp_path: Path) -> None:
    """An object without our ``sha256`` metadata (a base's own S3 client uploaded it) is
    hashed from its bytes, streamed once per version; the hash is what the file's is."""
    store = store_for(proxy, bucket)
    data = bytes(range(256)) * 9000                      # 2.2 MiB: more than one chunk
    admin.put_object(Bucket=bucket, Key="inbox/raw/teacher.mp4", Body=data)
    assert "sha256" not in admin.head_object(Bucket=bucket,
                                             Key="inbox/raw/teacher.mp4")["Metadata"]
    assert store.checksum("raw/teacher.mp4") == sha(data)
    assert store.checksum("raw/teacher.mp4") == sha(data)
    assert len(proxy.seen("GetObject")) == 1             # the second answer was remembered
    changed = data[::-1]
    admin.put_object(Bucket=bucket, Key="inbox/raw/teacher.mp4", Body=changed)
    assert store.checksum("raw/teacher.mp4") == sha(changed)    # a new version: hashed again
    assert len(proxy.seen("GetObject")) == 2
    assert store.checksum("raw/absent.mp4") is None
    dest = store.get_file("raw/teacher.mp4", tmp_path / "teacher.mp4")
    assert dest.read_bytes() == changed
    # kept on disk too: a later process (a scheduled inbox scan) does not read it again
    import courseware.store

    store.hash_cache = tmp_path / "hashes.json"
    admin.put_object(Bucket=bucket, Key="inbox/raw/slides.mp4", Body=data)
    assert store.checksum("raw/slides.mp4") == sha(data)
    gets = len(proxy.seen("GetObject"))
    courseware.store._HASHED.clear()                     # as in a new process
    courseware.store._LOADED.clear()
    later = store_for(proxy, bucket)
    later.hash_cache = tmp_path / "hashes.json"
    assert later.checksum("raw/slides.mp4") == sha(data)
    assert len(proxy.seen("GetObject")) == gets


def test_multipart_upload_checksums(proxy: FaultProxy, bucket: str, admin: Any,
                                    big: Path) -> None:
    store = store_for(proxy, bucket)
    data = big.read_bytes()
    assert store.put_file(big, "big.bin") == f"s3://{bucket}/inbox/big.bin"
    ops = [s.op for s in proxy.seen(*WRITES)]
    assert ops.count("CreateMultipartUpload") == 1 and ops.count("UploadPart") == 3
    assert ops.count("CompleteMultipartUpload") == 1
    head = admin.head_object(Bucket=bucket, Key="inbox/big.bin", ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == sha(data) == store.checksum("big.bin")
    parts = b"".join(hashlib.sha256(data[i:i + 5 * MiB]).digest()
                     for i in range(0, len(data), 5 * MiB))
    # the server's own SHA-256 of the parts' SHA-256s (the S3 composite checksum)
    assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(
        hashlib.sha256(parts).digest()).decode()
    assert sha(store.get_bytes("big.bin")) == sha(data)
    assert_clean(admin, bucket, {"inbox/big.bin": data})


def test_identical_republish_is_a_no_op(proxy: FaultProxy, bucket: str, admin: Any,
                                        big: Path, tmp_path: Path) -> None:
    store = store_for(proxy, bucket)
    small = tmp_path / "report.json"
    small.write_text('{"status": "pass"}', encoding="utf-8")
    store.put_file(big, "big.bin")
    store.put_file(small, "report.json")
    store.put_bytes(b"ready", "READY")
    before = {k: admin.head_object(Bucket=bucket, Key=f"inbox/{k}")["LastModified"]
              for k in ("big.bin", "report.json", "READY")}
    proxy.inject()
    assert store.put_file(big, "big.bin") == f"s3://{bucket}/inbox/big.bin"
    store.put_file(small, "report.json")
    store.put_bytes(b"ready", "READY")
    assert {s.op for s in proxy.seen()} == {"HeadObject"}
    after = {k: admin.head_object(Bucket=bucket, Key=f"inbox/{k}")["LastModified"]
             for k in before}
    assert after == before
    small.write_text('{"status": "fail"}', encoding="utf-8")  # changed content is published
    store.put_file(small, "report.json")
    assert store.get_bytes("report.json") == small.read_bytes()


def test_safe_keys_stay_inside_and_distinct(proxy: FaultProxy, bucket: str,
                                            tmp_path: Path) -> None:
    names = ["../../etc", "a/b", "课程：碳中和", "x\x00y\x1fz\n", "..", "第1讲 导论"]
    keys = [safe_name(n) for n in names]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert "/" not in key and "\\" not in key and not key.startswith(".")
        assert not any(ord(c) < 32 or ord(c) == 127 for c in key)
    assert safe_name("课程：碳中和") == "课程：碳中和"  # full-width punctuation is kept
    store = store_for(proxy, bucket)
    local = LocalStore(tmp_path / "out")
    for i, key in enumerate(keys):
        store.put_bytes(str(i).encode(), f"course/{key}")
        local.put_bytes(str(i).encode(), f"course/{key}")
    assert store.list() == local.list() == sorted(f"course/{k}" for k in keys)
    for bad in ("../../etc/passwd", "a/../../b", "/abs", "a//b", "a\x00b", ""):
        with pytest.raises(StoreError, match="not a plain relative key"):
            store.put_bytes(b"x", bad)
    with pytest.raises(StoreError, match="leaves the store"):
        local.put_bytes(b"x", "../../etc/passwd")


def test_local_store_has_the_same_api(tmp_path: Path) -> None:
    store = open_store(tmp_path / "out")
    src = tmp_path / "a.txt"
    src.write_text("hello", encoding="utf-8")
    assert store.put_file(src, "x/a.txt").startswith("file://")
    assert store.put_bytes(b"data", "x/b.bin").endswith("/x/b.bin")
    assert store.get_bytes("x/b.bin") == b"data"
    assert store.checksum("x/a.txt") == sha(b"hello") and store.checksum("nope") is None
    assert store.list() == ["x/a.txt", "x/b.bin"] and store.list("x/a") == ["x/a.txt"]
    assert store.presign("x/a.txt", 60) == store.url("x/a.txt")
    store.delete("x/a.txt")
    assert not store.exists("x/a.txt")


def test_open_store_s3_uri(proxy: FaultProxy, bucket: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"s3://{bucket}/in/box?endpoint={proxy.url}&region=eu-west-1")
    assert isinstance(store, S3Store) and store.prefix == "in/box"
    store.put_bytes(b"1", "k")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    from_env = open_store(f"s3://{bucket}/in/box")
    assert from_env.get_bytes("k") == b"1" and from_env.url("k") == f"s3://{bucket}/in/box/k"
    with pytest.raises(StoreError, match="unknown parameter"):
        open_store(f"s3://{bucket}/p?endpont=x")
    with pytest.raises(StoreError, match="no bucket"):
        open_store("s3:///p")
    with pytest.raises(StoreError, match=r"NoSuchBucket.*create the bucket"):
        open_store(f"s3://no-such-bucket-{bucket}/p?endpoint={proxy.url}").put_bytes(b"1", "k")


# -- faults ---------------------------------------------------------------------------------

FAULTS = [  # id, object, faults, outcome, store options
    ("put-500", "small", [Fault("PutObject", "500")], "ok", {}),
    ("put-slowdown-x2", "small", [Fault("PutObject", "503", 2)], "ok", {}),
    ("put-reset", "small", [Fault("PutObject", "reset")], "ok", {}),
    ("put-answer-lost", "small", [Fault("PutObject", "lost")], "ok", {}),
    ("put-answer-lost-always", "small", [Fault("PutObject", "lost", 99)], "ok", {}),
    ("put-delayed", "small", [Fault("PutObject", "delay")], "ok", {"read_timeout": 1.5}),
    ("put-corrupted", "small", [Fault("PutObject", "corrupt", 9)], "error", {}),
    ("verify-get-cut", "small", [Fault("GetObject", "truncate")], "ok", {}),
    ("put-slowdown-always", "small", [Fault("PutObject", "503", 99)], "error", {}),
    ("head-reset-always", "small", [Fault("HeadObject", "reset", 99)], "error", {}),
    ("part-slowdown-x2", "big", [Fault("UploadPart", "503", 2)], "ok", {}),
    ("part-reset", "big", [Fault("UploadPart", "reset")], "ok", {}),
    ("part-delayed", "big", [Fault("UploadPart", "delay")], "ok", {"read_timeout": 1.5}),
    ("create-answer-lost", "big", [Fault("CreateMultipartUpload", "lost")], "ok", {}),
    ("complete-500-after", "big", [Fault("CompleteMultipartUpload", "500-after")], "ok", {}),
    ("complete-answer-lost", "big", [Fault("CompleteMultipartUpload", "lost")], "ok", {}),
    ("complete-answer-lost-always", "big", [Fault("CompleteMultipartUpload", "lost", 99)],
     "ok", {}),
    ("part-500-always", "big", [Fault("UploadPart", "500", 99)], "error", {}),
    ("part-500-always-abort-fails", "big",
     [Fault("UploadPart", "500", 99), Fault("AbortMultipartUpload", "500", 3)], "error", {}),
]


@pytest.mark.parametrize(("case", "which", "faults", "outcome", "options"), FAULTS,
                         ids=[f[0] for f in FAULTS])
def test_fault_ends_verified_or_clear_error(
        proxy: FaultProxy, bucket: str, admin: Any, big: Path, tmp_path: Path, case: str,
        which: str, faults: list[Fault], outcome: str, options: dict[str, Any]) -> None:
    if which == "small":
        path = tmp_path / "lecture.qc.json"
        path.write_bytes(json.dumps({"case": case, "pad": "x" * 3000}).encode())
    else:
        path = big
    data = path.read_bytes()
    store = store_for(proxy, bucket, **options)
    proxy.inject(*faults)
    if outcome == "ok":
        assert store.put_file(path, "c/lecture") == f"s3://{bucket}/inbox/c/lecture"
        assert store.checksum("c/lecture") == sha(data)
    else:
        with pytest.raises(StoreError) as info:
            store.put_file(path, "c/lecture")
        message = str(info.value)
        assert f"s3://{bucket}/inbox/c/lecture" in message and proxy.url in message
        assert "run again" in message or "publish again" in message
    injected = [s for s in proxy.seen() if s.fault]
    assert injected, f"no fault was injected in {case}"
    assert_clean(admin, bucket, {"inbox/c/lecture": data})
    assert store.list() == (["c/lecture"] if outcome == "ok" else [])


def test_get_bytes_retries_a_cut_off_answer(proxy: FaultProxy, bucket: str) -> None:
    store = store_for(proxy, bucket)
    data = bytes(range(256)) * 400
    store.put_bytes(data, "k.bin")
    proxy.inject(Fault("GetObject", "truncate", 2))
    assert store.get_bytes("k.bin") == data
    assert len(proxy.seen("GetObject")) == 3
    proxy.inject(Fault("GetObject", "truncate", 99))
    with pytest.raises(StoreError, match="cut off 3 times"):
        store.get_bytes("k.bin")


# -- submit ---------------------------------------------------------------------------------

COURSE_YAML = """\
course:
  name: "碳达峰：碳中和/绿色发展"
  kind: public
  hours: 1
  applying_unit: "示例基地"
  production_unit: "示例中心"
  recording_date: 2024-05-18
  contact: {{name: "张老师", phone: "029-8888-0000"}}
  intro: intro.mp4
lecturers:
  - {{id: wang, name: "王建华", title: "教授", unit: "西安交通大学"}}
lectures:
  - number: 1
    title: "导论"
    lecturer: wang
    sources: {{slides: "第1讲/slides.mp4", teacher: "第1讲/teacher.mp4"}}
    subtitles: "第1讲/字幕.srt"
  - number: 2
    title: "政策"
    lecturer: wang
    sources: {{slides: "{slides2}", teacher: "第1讲/teacher.mp4"}}
"""


def _clip(path: Path, *, seconds: float = 1.0, level: int = 80) -> None:
    """A tiny H.264 clip (64×48, 10 fps) that probe_source accepts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for i in range(round(seconds * 10)):
            img = np.full((48, 64, 3), level + i, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for name, level in (("intro.mp4", 20), ("slides.mp4", 60), ("teacher.mp4", 100),
                        ("slides2.mp4", 140)):
        _clip(root / name, level=level)
    return root


def make_course(root: Path, clips: Path, *, slides2: str = "第2讲/slides.mp4") -> Path:
    for src, dest in (("intro.mp4", "intro.mp4"), ("slides.mp4", "第1讲/slides.mp4"),
                      ("teacher.mp4", "第1讲/teacher.mp4"), ("slides2.mp4", "第2讲/slides.mp4")):
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        (root / dest).write_bytes((clips / src).read_bytes())
    (root / "第1讲" / "字幕.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n导论\n", "utf-8")
    course = root / "course.yaml"
    course.write_text(COURSE_YAML.format(slides2=slides2), encoding="utf-8")
    return course


def test_submit_course_ready_last_and_rerun_uploads_nothing(
        proxy: FaultProxy, bucket: str, admin: Any, clips: Path, tmp_path: Path) -> None:
    from courseware.submit import submit_course

    course = make_course(tmp_path / "raw", clips)
    to = f"s3://{bucket}/inbox?endpoint={proxy.url}"
    result = submit_course(course, to)
    folder = safe_name("碳达峰：碳中和/绿色发展")
    assert folder.startswith("碳达峰：碳中和_绿色发展~")  # changed by sanitising: hashed
    rels = ["course.yaml", "第1讲/slides.mp4", "第1讲/teacher.mp4", "第1讲/字幕.srt",
            "第2讲/slides.mp4", "intro.mp4"]
    assert [f.key for f in result.files] == rels and result.uploaded == rels
    assert result.ready == f"s3://{bucket}/inbox/{folder}/READY"
    listed = sorted(o["Key"] for o in admin.list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == sorted(f"inbox/{folder}/{r}" for r in [*rels, "READY"])
    puts = [s.path for s in proxy.seen("PutObject")]
    assert puts[-1].endswith("/READY") and len(puts) == len(rels) + 1  # READY written last
    times = {k: admin.head_object(Bucket=bucket, Key=k)["LastModified"] for k in listed}
    assert times[f"inbox/{folder}/READY"] == max(times.values())
    ready = json.loads(admin.get_object(Bucket=bucket, Key=f"inbox/{folder}/READY")["Body"].read())
    assert ready["course"] == "碳达峰：碳中和/绿色发展" and ready["course_file"] == "course.yaml"
    for entry in ready["files"]:
        local = (course.parent / entry["key"]).read_bytes()
        assert entry["size"] == len(local) and entry["sha256"] == sha(local)
    assert_clean(admin, bucket, {f"inbox/{folder}/{e['key']}": (course.parent / e["key"])
                                 .read_bytes() for e in ready["files"]}
                 | {f"inbox/{folder}/READY": ready_bytes(admin, bucket, folder)})

    proxy.inject()
    again = submit_course(course, to)
    assert again.uploaded == [] and again.skipped == rels
    assert not proxy.seen(*WRITES)  # nothing new: HEADs only
    assert {k: admin.head_object(Bucket=bucket, Key=k)["LastModified"] for k in listed} == times

    (course.parent / "第1讲" / "字幕.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n改\n",
                                                   "utf-8")
    proxy.inject()
    third = submit_course(course, to)
    assert third.uploaded == ["第1讲/字幕.srt"]
    writes = [(s.op, s.path.rsplit("/", 1)[-1]) for s in proxy.seen(*WRITES)]
    assert writes == [("DeleteObject", "READY"), ("PutObject", "%E5%AD%97%E5%B9%95.srt"),
                      ("PutObject", "READY")]


def ready_bytes(admin: Any, bucket: str, folder: str) -> bytes:
    body: bytes = admin.get_object(Bucket=bucket, Key=f"inbox/{folder}/READY")["Body"].read()
    return body


def test_submit_precheck_failure_uploads_nothing(
        proxy: FaultProxy, bucket: str, admin: Any, clips: Path, tmp_path: Path) -> None:
    from courseware.submit import submit_course

    course = make_course(tmp_path / "raw", clips)
    (course.parent / "第2讲" / "slides.mp4").write_bytes(b"\x00not a video" * 100)
    to = f"s3://{bucket}/inbox?endpoint={proxy.url}"
    with pytest.raises(CorruptMediaError, match=re.escape("第2讲/slides.mp4")):
        submit_course(course, to)
    course = make_course(tmp_path / "raw2", clips, slides2="第2讲/missing.mp4")
    (course.parent / "第1讲" / "字幕.srt").unlink()
    with pytest.raises(MissingSourceError) as info:
        submit_course(course, to)
    assert "2 files cannot be handed in" in str(info.value)
    assert "missing.mp4" in str(info.value) and "字幕.srt" in str(info.value)
    assert proxy.seen() == []  # not even a HEAD: the checks come before any request
    assert not admin.list_objects_v2(Bucket=bucket).get("Contents")


def test_submit_command(proxy: FaultProxy, bucket: str, clips: Path, tmp_path: Path) -> None:
    from courseware.cli import cli

    course = make_course(tmp_path / "raw", clips)
    to = f"s3://{bucket}/inbox?endpoint={proxy.url}"
    result = CliRunner().invoke(cli, ["submit", str(course), "--to", to])
    assert result.exit_code == 0, result.output
    assert "6 file(s) uploaded, 0 already there" in result.output
    assert f"s3://{bucket}/inbox/{safe_name('碳达峰：碳中和/绿色发展')}/READY" in result.output
