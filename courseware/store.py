"""Where results are published: a local folder, or a bucket on S3 / an S3-compatible server.

A published object is never partial. Locally, files are written under a temporary name
beside the destination and moved into place with an atomic rename once complete. On S3,
a PUT or CompleteMultipartUpload is atomic per object; a failed multipart upload is
aborted, and every upload is checked against a SHA-256 computed locally.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    FlexibleChecksumError,
    NoCredentialsError,
    PartialCredentialsError,
)
from s3transfer.utils import ChunksizeAdjuster

from courseware.errors import StoreError

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_name(name: str, *, max_len: int = 80) -> str:
    """A name usable as one path segment / key part: NFC, no separators, no control
    characters, no leading dots (so ``..`` cannot climb), stable for Chinese text.

    Names that are already safe stay as they are; a name that had to change gets a short
    hash of the original, so different names never share a key (``a/b`` vs ``a:b``).
    """
    nfc = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", nfc).strip(" ._")[:max_len]
    if text == nfc:
        return text
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{text}~{digest}" if text else f"_{digest}"


_MiB = 1024 * 1024
_BLOCK = _MiB  # read size while hashing
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Store(Protocol):
    """Where objects are published. Keys are ``/``-separated and relative to the store."""

    def put_file(self, local: Path, key: str) -> str: ...
    def put_bytes(self, data: bytes, key: str) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def checksum(self, key: str) -> str | None: ...
    def size(self, key: str) -> int | None: ...
    def get_file(self, key: str, dest: Path) -> Path: ...
    def local_path(self, key: str) -> Path | None: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> builtins.list[str]: ...
    def url(self, key: str) -> str: ...
    def presign(self, key: str, expires_s: int = 3600) -> str: ...


class LocalStore:
    """A folder. Keys are ``/``-separated relative paths inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError(f"key {key!r} leaves the store {self.root}")
        return path

    def _write(self, key: str, source: str, fill: Callable[[Path], object]) -> str:
        dest = self._path(key)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fill(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)  # atomic: readers see the old object or the whole new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot publish {source} to {dest}: {exc.strerror or exc}") from exc
        return self.url(key)

    def put_file(self, local: Path, key: str) -> str:
        """Publish a file; identical content already there is left as it is (a no-op)."""
        dest = self._path(key)
        if (dest.is_file() and dest.stat().st_size == local.stat().st_size
                and _digest_file(dest, part_size=None).sha256
                == _digest_file(local, part_size=None).sha256):
            return self.url(key)
        return self._write(key, str(local), lambda tmp: shutil.copyfile(local, tmp))

    def put_bytes(self, data: bytes, key: str) -> str:
        """Publish bytes; identical content already there is left as it is (a no-op)."""
        dest = self._path(key)
        if dest.is_file() and dest.stat().st_size == len(data) and dest.read_bytes() == data:
            return self.url(key)
        return self._write(key, f"{len(data)} bytes", lambda tmp: tmp.write_bytes(data))

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def checksum(self, key: str) -> str | None:
        """Hex SHA-256 of the stored object, None when there is none."""
        path = self._path(key)
        return _digest_file(path, part_size=None).sha256 if path.is_file() else None

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def local_path(self, key: str) -> Path | None:
        """The object's own file (read it in place, no copy)."""
        path = self._path(key)
        return path if path.is_file() else None

    def get_file(self, key: str, dest: Path) -> Path:
        """A copy of the object at ``dest`` (written under a temporary name, then renamed)."""
        path = self._path(key)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return dest

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete {path}: {exc.strerror or exc}") from exc

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Keys that start with ``prefix``, sorted; temporary ``.part`` files are not objects."""
        if not self.root.is_dir():
            return []
        keys = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                if path.is_file() and not _is_partial(path.name))
        return sorted(key for key in keys if key.startswith(prefix))

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def presign(self, key: str, expires_s: int = 3600) -> str:
        """A local file needs no signature: its ``file://`` URL."""
        return self.url(key)


def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(".part")


@dataclass(frozen=True)
class _Digest:
    """What an object's bytes hash to, in the forms S3 reports."""

    size: int
    sha256: str  # hex digest of the whole content: our ``sha256`` object metadata
    whole_b64: str  # x-amz-checksum-sha256 of a single PUT
    composite_b64: str | None  # multipart: SHA-256 of the parts' SHA-256 digests

    def server_agrees(self, reported: str) -> bool:
        value = reported.split("-", 1)[0]  # AWS appends "-<parts>" to composite checksums
        return value in (self.whole_b64, self.composite_b64)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _digest_file(path: Path, *, part_size: int | None) -> _Digest:
    """Hash a file in one pass: whole, and per part when it goes up in ``part_size`` parts."""
    whole = hashlib.sha256()
    parts: builtins.list[bytes] = []
    size = 0
    with open(path, "rb") as fh:
        while True:
            part, got = hashlib.sha256(), 0
            while part_size is None or got < part_size:
                block = fh.read(_BLOCK if part_size is None else min(_BLOCK, part_size - got))
                if not block:
                    break
                whole.update(block)
                part.update(block)
                got += len(block)
            if got == 0:
                break
            parts.append(part.digest())
            size += got
    composite = _b64(hashlib.sha256(b"".join(parts)).digest()) if part_size else None
    return _Digest(size, whole.hexdigest(), _b64(whole.digest()), composite)


def _digest_bytes(data: bytes) -> _Digest:
    digest = hashlib.sha256(data)
    return _Digest(len(data), digest.hexdigest(), _b64(digest.digest()), None)


_MISSING = {"404", "NoSuchKey", "NotFound"}


class _DamagedError(StoreError):
    """The bytes read back are not the bytes published."""
_TRANSFER_ERRORS = (BotoCoreError, ClientError, S3UploadFailedError, RetriesExceededError)


def _code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message') or 'no message'}"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found"
    return str(exc) or type(exc).__name__


def _hint(exc: BaseException) -> str:
    """What to do about a failed request."""
    code = _code(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError) or code in {
            "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
        return ("check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) "
                "and that they may write to the bucket")
    if code == "NoSuchBucket":
        return "create the bucket or correct the store URI"
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(
        exc, ClientError) else 0
    if 400 <= status < 500:
        return ("the server refused the request; check the bucket, the endpoint and, for servers "
                "without S3 additional checksums, use S3Store(checksums=False)")
    return ("the server failed or did not answer in time even after retries; check the endpoint "
            "and the network, then run again (objects already published identically are skipped)")


#: SHA-256 of objects stored without our ``sha256`` metadata, by "endpoint|bucket|key|
#: ETag|size": an inbox scanned every few minutes reads each such upload once per process
_HASHED: dict[str, str] = {}
_HASHED_MAX = 4096
#: hash files (S3Store.hash_cache) already read into _HASHED
_LOADED: set[Path] = set()


def _read_hashes(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}  # a cache: unreadable means empty
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_hashes(path: Path, name: str, value: str) -> None:
    """Add one entry to the JSON cache at ``path`` (temporary file, then renamed: a reader
    never sees half a file; two writers at once may lose an entry, which is only re-hashed)."""
    kept = _read_hashes(path)
    kept[name] = value
    if len(kept) > _HASHED_MAX:
        kept = dict(list(kept.items())[-_HASHED_MAX:])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(kept, indent=0), "utf-8")
    os.replace(tmp, path)


class S3Store:
    """A bucket and key prefix on S3 or an S3-compatible server (MinIO, Ceph, moto).

    Credentials and region come from the usual AWS settings (environment, ``~/.aws``); the
    endpoint from ``endpoint_url``, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.
    Transient failures (5xx, SlowDown, resets, timeouts) are retried by botocore's standard
    mode, at most ``max_attempts`` tries per request. One writer per key: a publish aborts every
    unfinished multipart upload of its key.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None,
                 multipart_threshold: int = 64 * _MiB, part_size: int = 16 * _MiB,
                 max_concurrency: int = 4, max_attempts: int = 5,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 checksums: bool = True, verify_get_max: int = 8 * _MiB) -> None:
        if not bucket:
            raise StoreError("an S3 store needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            _check_key(self.prefix, f"s3://{bucket}")
        self.endpoint_url = (endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
                             or os.environ.get("AWS_ENDPOINT_URL"))
        self._checksums = checksums
        self._max_attempts = max_attempts
        self._threshold = multipart_threshold
        self._part_size = part_size
        self._verify_get_max = verify_get_max
        #: where the SHA-256 of objects without our metadata are kept between processes
        #: (keyed by ETag and size), so a scheduled inbox scan reads each upload once
        self.hash_cache: Path | None = None
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=part_size,
            max_concurrency=max_concurrency, preferred_transfer_client="classic")
        if client is None:
            options: dict[str, Any] = {
                # total_max_attempts counts the first try too (max_attempts would count retries)
                "retries": {"total_max_attempts": max_attempts, "mode": "standard"},
                "connect_timeout": connect_timeout, "read_timeout": read_timeout,
                "signature_version": "s3v4", "max_pool_connections": max(10, 2 * max_concurrency),
            }
            if self.endpoint_url:  # S3-compatible servers rarely have wildcard DNS for buckets
                options["s3"] = {"addressing_style": "path"}
            if not checksums:  # for servers that reject the x-amz-checksum-* headers
                options["request_checksum_calculation"] = "when_required"
                options["response_checksum_validation"] = "when_required"
            session = boto3.session.Session()  # a session per store: boto3's default one is shared
            client = session.client("s3", endpoint_url=self.endpoint_url, region_name=region,
                                    config=Config(**options))
        self.client = client

    # -- keys ---------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        _check_key(key, self.url(""))
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        full = "/".join(part for part in (self.prefix, key) if part)
        return f"s3://{self.bucket}/{full}"

    def _uri(self, full: str) -> str:
        where = f" (endpoint {self.endpoint_url})" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{full}{where}"

    def _error(self, doing: str, full: str, exc: BaseException, note: str = "") -> StoreError:
        return StoreError(f"{doing} {self._uri(full)}: {_reason(exc)}{note}; {_hint(exc)}")

    # -- reading ------------------------------------------------------------------------

    def _head(self, full: str) -> dict[str, Any] | None:
        """The object's HEAD, None when there is none; StoreError when the server fails."""
        extra = {"ChecksumMode": "ENABLED"} if self._checksums else {}
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=full, **extra)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._error("cannot look up", full, exc) from exc
        except BotoCoreError as exc:
            raise self._error("cannot look up", full, exc) from exc
        return head

    def _head_quiet(self, full: str) -> dict[str, Any] | None:
        try:
            return self._head(full)
        except StoreError:
            return None

    def exists(self, key: str) -> bool:
        return self._head(self._full(key)) is not None

    def checksum(self, key: str) -> str | None:
        """Hex SHA-256 of the object, None when there is none: the one recorded when we
        published it (``sha256`` metadata), else, for an object another tool uploaded (a
        base's own S3 client), the hash of its bytes, streamed once per version (ETag) and
        remembered by this process."""
        full = self._full(key)
        head = self._head(full)
        if head is None:
            return None
        recorded: str | None = head.get("Metadata", {}).get("sha256")
        return recorded or self._hash(full, head)

    def _hash(self, full: str, head: dict[str, Any]) -> str:
        etag = str(head.get("ETag", ""))
        seen = f"{self.endpoint_url}|{self.bucket}|{full}|{etag}|{int(head['ContentLength'])}"
        if self.hash_cache is not None and self.hash_cache not in _LOADED:
            _HASHED.update(_read_hashes(self.hash_cache))   # once per process and file
            _LOADED.add(self.hash_cache)
        if (known := _HASHED.get(seen)) is not None:
            return known
        digest = hashlib.sha256()
        try:
            # If-Match: the bytes hashed are the version the HEAD described
            response = self.client.get_object(Bucket=self.bucket, Key=full,
                                              **({"IfMatch": etag} if etag else {}))
            for chunk in response["Body"].iter_chunks(_MiB):
                digest.update(chunk)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._error("cannot hash", full, exc) from exc
        if len(_HASHED) >= _HASHED_MAX:
            _HASHED.pop(next(iter(_HASHED)))
        _HASHED[seen] = value = digest.hexdigest()
        if self.hash_cache is not None:
            _write_hashes(self.hash_cache, seen, value)
        return value

    def get_bytes(self, key: str) -> bytes:
        return self._read(self._full(key))

    def size(self, key: str) -> int | None:
        head = self._head(self._full(key))
        return None if head is None else int(head["ContentLength"])

    def local_path(self, key: str) -> Path | None:
        """Objects in S3 have no local file: use :meth:`get_file`."""
        return None

    def get_file(self, key: str, dest: Path) -> Path:
        """Download to ``dest`` (temporary name, then renamed), checked against the SHA-256
        recorded at publication."""
        full = self._full(key)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            self.client.download_file(self.bucket, full, str(tmp))
            head = self._head(full)
            want = None if head is None else head.get("Metadata", {}).get("sha256")
            if want is not None and _digest_file(tmp, part_size=None).sha256 != want:
                raise StoreError(f"s3://{self.bucket}/{full}: downloaded bytes do not match the "
                                 "recorded SHA-256; publish the object again")
            os.replace(tmp, dest)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StoreError(f"cannot download s3://{self.bucket}/{full}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def _read(self, full: str) -> bytes:
        last: BaseException | None = None
        damaged: BaseException | None = None
        for _ in range(self._max_attempts):  # botocore retries a GET only until its headers
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise StoreError(f"{self._uri(full)}: no such object; publish it first or "
                                     "check the key") from exc
                raise self._error("cannot read", full, exc) from exc
            except BotoCoreError as exc:
                raise self._error("cannot read", full, exc) from exc
            try:
                data: bytes = response["Body"].read()
            except FlexibleChecksumError as exc:  # damaged in transit or in store: ask again
                damaged = last = exc
                continue
            except (BotoCoreError, OSError) as exc:  # cut off mid-body: ask again
                last = exc
                continue
            expected = response.get("Metadata", {}).get("sha256")
            if expected and hashlib.sha256(data).hexdigest() != expected:
                raise _DamagedError(f"{self._uri(full)}: the bytes read do not hash to the "
                                    f"sha256 recorded at publishing ({expected}); the object "
                                    "is damaged, publish it again")
            return data
        if damaged is not None:
            raise _DamagedError(f"{self._uri(full)}: the bytes read do not match the server's "
                                f"checksum ({_reason(damaged)}); the object is damaged, "
                                "publish it again")
        assert last is not None
        raise self._error("cannot read", full, last,
                          f" (the answer was cut off {self._max_attempts} times)")

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Keys (relative to the store) that start with ``prefix``, sorted."""
        root = f"{self.prefix}/" if self.prefix else ""
        keys: builtins.list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                keys += [obj["Key"].removeprefix(root) for obj in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot list", root + prefix, exc) from exc
        return sorted(keys)

    def presign(self, key: str, expires_s: int = 3600) -> str:
        """A plain HTTPS GET URL for the object, valid ``expires_s`` seconds (≤ 7 days)."""
        full = self._full(key)
        try:
            url: str = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=expires_s)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot sign a URL for", full, exc) from exc
        return url

    # -- writing ------------------------------------------------------------------------

    def put_file(self, local: Path, key: str) -> str:
        """Upload (multipart above the threshold), verify, return the URL; a no-op when an
        identical object is already there."""
        local = Path(local)
        full = self._full(key)
        try:
            size = local.stat().st_size
            multipart = size >= self._threshold
            part_size = ChunksizeAdjuster().adjust_chunksize(self._part_size, size)
            digest = _digest_file(local, part_size=part_size if multipart else None)
        except OSError as exc:
            raise StoreError(f"cannot read {local} to publish it to {self._uri(full)}: "
                             f"{exc.strerror or exc}") from exc
        if self._same(self._head(full), digest):
            return self.url(key)
        extra: dict[str, Any] = {"Metadata": {"sha256": digest.sha256},
                                 "ContentType": _content_type(key)}
        if self._checksums:
            extra["ChecksumAlgorithm"] = "SHA256"
        failure: BaseException | None = None
        try:
            self.client.upload_file(str(local), self.bucket, full, ExtraArgs=extra,
                                    Config=self._transfer)
        except _TRANSFER_ERRORS as exc:
            # boto3 rewraps a ClientError as S3UploadFailedError; report the original
            inner = exc.__context__
            failure = inner if isinstance(exc, S3UploadFailedError) and isinstance(
                inner, ClientError | BotoCoreError) else exc
        note = self._abort_unfinished(full) if multipart else ""
        # the server may have completed it and only the answer was lost
        if failure is not None and not self._same(self._head_quiet(full), digest):
            raise self._error(f"cannot publish {local} to", full, failure, note) from failure
        if note:
            log.warning("%s%s", self._uri(full), note)
        self._verify(full, digest, source=str(local))
        return self.url(key)

    def put_bytes(self, data: bytes, key: str) -> str:
        """Store ``data`` in one PUT and verify it; a no-op when identical data is there."""
        full = self._full(key)
        digest = _digest_bytes(data)
        if self._same(self._head(full), digest):
            return self.url(key)
        extra: dict[str, Any] = {"ChecksumAlgorithm": "SHA256"} if self._checksums else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data,
                                   Metadata={"sha256": digest.sha256},
                                   ContentType=_content_type(key), **extra)
        except (BotoCoreError, ClientError) as exc:
            if not self._same(self._head_quiet(full), digest):
                raise self._error("cannot publish to", full, exc) from exc
        self._verify(full, digest, source=f"{len(data)} bytes")
        return self.url(key)

    def delete(self, key: str) -> None:
        full = self._full(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot delete", full, exc) from exc

    def _same(self, head: dict[str, Any] | None, digest: _Digest) -> bool:
        """Whether a HEAD describes exactly these bytes, as published by this store."""
        if head is None or head.get("ContentLength") != digest.size:
            return False
        if head.get("Metadata", {}).get("sha256") != digest.sha256:
            return False
        reported = head.get("ChecksumSHA256")
        return reported is None or digest.server_agrees(reported)

    def _verify(self, full: str, digest: _Digest, *, source: str) -> None:
        """HEAD (size, sha256 metadata, server checksum), and a GET hash for small objects;
        a mismatching object is removed, so nothing wrong stays under the final key."""
        head = self._head(full)
        problems: builtins.list[str] = []
        if head is None:
            problems.append("the object is missing after the upload")
        elif not self._same(head, digest):
            problems.append(f"HEAD reports {head.get('ContentLength')} bytes, sha256 "
                            f"{head.get('Metadata', {}).get('sha256')}, server checksum "
                            f"{head.get('ChecksumSHA256')}; expected {digest.size} bytes, "
                            f"sha256 {digest.sha256}")
        elif digest.size <= self._verify_get_max:
            try:
                same = hashlib.sha256(self._read(full)).hexdigest() == digest.sha256
            except _DamagedError:
                same = False
            if not same:
                problems.append(f"the bytes read back do not hash to sha256 {digest.sha256}")
        if not problems:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
            fate = "it was removed"
        except (BotoCoreError, ClientError) as exc:
            fate = f"removing it failed too ({_reason(exc)}): delete it by hand"
        raise StoreError(f"{source} → {self._uri(full)}: the stored object does not match "
                         f"({'; '.join(problems)}); {fate}. Check that the source is not "
                         "being written to, then publish again")

    def _abort_unfinished(self, full: str) -> str:
        """Abort every unfinished multipart upload of this key (no orphan parts); returns a
        note for the error message when that fails."""
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=full)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Key"] != full:
                        continue
                    try:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=full, UploadId=upload["UploadId"])
                    except ClientError as exc:
                        if _code(exc) != "NoSuchUpload":
                            raise
        except (BotoCoreError, ClientError) as exc:
            return (f" (and unfinished upload parts of this key may remain: {_reason(exc)}; "
                    "the next publish of this key removes them, as does a bucket lifecycle rule "
                    "AbortIncompleteMultipartUpload)")
        return ""


def _check_key(key: str, where: str) -> None:
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or _CONTROL.search(key):
        raise StoreError(f"key {key!r} is not a plain relative key in {where}; "
                         "build keys from safe_name() parts joined by '/'")


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def open_store(uri: str | Path) -> Store:
    """A store from a folder path, a ``file://`` URI or an ``s3://bucket/prefix`` URI.

    An S3 URI may name the server and region: ``s3://b/p?endpoint=http://host:9000&region=…``.
    """
    text = str(uri)
    if text.startswith("s3://"):
        return _open_s3(text)
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(f"store {uri!r}: the {scheme}:// scheme is not supported; "
                         "use a local folder or s3://bucket/prefix")
    return LocalStore(Path(text))


def _open_s3(uri: str) -> S3Store:
    parts = urlsplit(uri)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"endpoint", "region"})
    if unknown:
        raise StoreError(f"store {uri!r}: unknown parameter(s) {', '.join(unknown)}; "
                         "known: endpoint, region")
    if not parts.netloc:
        raise StoreError(f"store {uri!r}: no bucket; write s3://BUCKET/PREFIX")
    return S3Store(parts.netloc, parts.path.strip("/"),
                   endpoint_url=query.get("endpoint", [None])[-1],
                   region=query.get("region", [None])[-1])
