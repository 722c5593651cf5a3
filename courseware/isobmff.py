"""The top-level boxes of an ISO BMFF file (MP4, MOV): ISO/IEC 14496-12, 4.2."""

from __future__ import annotations

import struct
from pathlib import Path

_BOX_HEADER = struct.Struct(">I4s")


def top_boxes(path: Path) -> list[bytes]:
    """The types of the top-level boxes, in order, from their headers: size (32 bits; 1 = a
    64-bit size follows; 0 = to the end), type; as far as the file goes, until a header
    that is not one, or until both ``moov`` and ``mdat`` are found."""
    kinds: list[bytes] = []
    total = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= total:
            f.seek(offset)
            size, kind = _BOX_HEADER.unpack(f.read(8))
            header = 8
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                header = 16
            elif size == 0:
                size = total - offset
            if size < header or not kind.isascii() or not kind.decode("ascii").isprintable():
                break
            kinds.append(kind)
            if b"moov" in kinds and b"mdat" in kinds:
                break
            offset += size
    return kinds
