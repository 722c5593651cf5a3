"""Where results are published: a local folder by default (S3 comes with the publishing work).

A published object is never partial: files are written under a temporary name beside
the destination and moved into place with an atomic rename once complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path
from typing import Protocol

from courseware.errors import StoreError

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_name(name: str, *, max_len: int = 80) -> str:
    """A name usable as one path segment / key part: NFC, no separators, no control
    characters, no leading dots (so ``..`` cannot climb), stable for Chinese text."""
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", text).strip(" ._")
    if not text:
        text = "_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return text[:max_len]


class Store(Protocol):
    def put_file(self, local: Path, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def url(self, key: str) -> str: ...


class LocalStore:
    """A folder. Keys are ``/``-separated relative paths inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError(f"key {key!r} leaves the store {self.root}")
        return path

    def put_file(self, local: Path, key: str) -> str:
        dest = self._path(key)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)  # atomic: readers see the old object or the whole new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot publish {local} to {dest}: {exc.strerror or exc}") from exc
        return self.url(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def url(self, key: str) -> str:
        return self._path(key).as_uri()


def open_store(uri: str | Path) -> Store:
    """A store from a folder path or ``file://`` URI."""
    text = str(uri)
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(f"store {uri!r}: the {scheme}:// scheme is not supported yet; "
                         "use a local folder")
    return LocalStore(Path(text))
