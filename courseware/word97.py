"""Text and tables of a Word 97–2003 binary document (``.doc``; Kingsoft WPS Writer's ``.wps``
since WPS Office 2005 is the same format under its own name), as [MS-DOC] lays them out:
enough to read an application form's curriculum table (D11), nothing of the formatting.

- The main document's characters come from the piece table (the ``Clx`` in the table stream):
  each piece is either 8-bit (Windows-1252) or UTF-16.
- A paragraph ends in a paragraph mark (``\\r``) or, in a table, a cell mark (``\\x07``).
  Which paragraphs are in a table, at what depth, and which one ends a row is said by the
  paragraph's properties (the PAPX in the FKP pages of ``PlcBtePapx``): ``sprmPFInTable``,
  ``sprmPItap`` (the depth), ``sprmPFTtp`` (ends a row of the outer table),
  ``sprmPFInnerTableCell`` and ``sprmPFInnerTtp`` (end a cell and a row of a nested one).
- Fields keep their result and lose their code (``\\x13`` code ``\\x14`` result ``\\x15``).

Fast-saved (complex) documents' property changes kept in the piece table are not applied: the
paragraphs' table marks then come from their last full save.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: a table as read: rows of cells' text (a cell's paragraphs joined by a line break)
Table = list[list[str]]

_CELL, _PARA = "\x07", "\r"
_IN_TABLE, _TTP, _ITAP, _INNER_CELL, _INNER_TTP = 0x2416, 0x2417, 0x6649, 0x244B, 0x244C
_DEF_TABLE, _CHG_TABS = 0xD608, 0xC615
#: operand bytes by a sprm's spra (its top three bits); 6 is variable
_OPERAND = {0: 1, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2, 7: 3}


class NotWord97(ValueError):
    """The file is not a Word 97–2003 binary document (or is damaged)."""


@dataclass
class Document:
    """The main document: its paragraphs (every one, in the tables' cells too) and its
    tables (nested ones after the table holding them), as python-docx gives a DOCX's."""

    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class _Marks:
    """A paragraph's place in the tables: its depth (0: not in a table), whether it ends a
    cell and whether it ends a row at that depth."""

    depth: int = 0
    cell: bool = False
    row: bool = False


#: why a file named .doc or .wps is not read as one
NOT_WORD97 = ("not a Word 97–2003 document (Microsoft Works' .wps, a WPS file of before "
              "WPS Office 2005, or another format under that name)")


def read_document(path: Path) -> Document:
    """The paragraphs and tables of the ``.doc`` (or ``.wps``) at ``path``; NotWord97, saying
    why for a person, where it is not one, is protected by a password or is damaged."""
    import olefile

    try:
        if not olefile.isOleFile(str(path)):
            with path.open("rb") as f:
                head = f.read(5)
            raise NotWord97("an RTF document under that name, not Word 97–2003's format"
                            if head == b"{\\rtf" else
                            "a zip archive (a DOCX?) under that name" if head[:2] == b"PK"
                            else NOT_WORD97)
        with olefile.OleFileIO(str(path)) as ole:
            if not ole.exists("WordDocument"):
                raise NotWord97(NOT_WORD97)
            word = ole.openstream("WordDocument").read()
            flags = _u16(word, 0x0A)
            table_name = "1Table" if flags & 0x0200 else "0Table"
            table = ole.openstream(table_name).read() if ole.exists(table_name) else b""
    except (OSError, struct.error) as e:        # unreadable, truncated
        raise NotWord97(f"damaged ({e})") from e
    if _u16(word, 0) != 0xA5EC:
        raise NotWord97(NOT_WORD97)
    if flags & 0x0100:
        raise NotWord97("protected by a password")
    try:
        return _document(word, table)
    except (NotWord97, struct.error, IndexError, KeyError) as e:
        raise NotWord97(f"damaged ({e})") from e


def _u16(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<H", data, at)[0])


def _u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def _fib(word: bytes) -> tuple[int, dict[int, tuple[int, int]]]:
    """The main document's length in characters (``ccpText``) and the FibRgFcLcb pairs
    (fc, lcb) by index."""
    at = 0x20
    csw = _u16(word, at)
    at += 2 + 2 * csw
    cslw = _u16(word, at)
    ccp_text = _u32(word, at + 2 + 4 * 3)
    at += 2 + 4 * cslw
    pairs = _u16(word, at)
    at += 2
    return ccp_text, {i: (_u32(word, at + 8 * i), _u32(word, at + 8 * i + 4))
                      for i in range(pairs)}


def _pieces(table: bytes, fc_clx: int, lcb_clx: int) -> list[tuple[int, int, int, bool]]:
    """The piece table: (cp_start, cp_end, fc, compressed) per piece."""
    at, end = fc_clx, fc_clx + lcb_clx
    while at < end and table[at] == 0x01:         # Prc: property changes of fast saves
        at += 3 + struct.unpack_from("<h", table, at + 1)[0]
    if at >= end or table[at] != 0x02:
        raise NotWord97("no piece table")
    size = _u32(table, at + 1)
    plc = table[at + 5:at + 5 + size]
    n = (size - 4) // 12
    cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
    out = []
    for i in range(n):
        fc = _u32(plc, 4 * (n + 1) + 8 * i + 2)
        compressed = bool(fc & 0x40000000)
        fc &= 0x3FFFFFFF
        out.append((cps[i], cps[i + 1], fc // 2 if compressed else fc, compressed))
    return out


def _characters(word: bytes, pieces: list[tuple[int, int, int, bool]], ccp: int
                ) -> Iterator[tuple[str, int]]:
    """The main document's characters, each with its byte offset in the WordDocument
    stream (what the paragraphs' properties are keyed by)."""
    for cp0, cp1, fc, compressed in pieces:
        if cp0 >= ccp:
            break
        count = min(cp1, ccp) - cp0
        if compressed:
            text = word[fc:fc + count].decode("cp1252", errors="replace")
            for i, ch in enumerate(text):
                yield ch, fc + i
        else:
            text = word[fc:fc + 2 * count].decode("utf-16-le", errors="replace")
            for i, ch in enumerate(text):
                yield ch, fc + 2 * i


def _paragraph_marks(word: bytes, table: bytes, fc: int, lcb: int
                     ) -> list[tuple[int, int, _Marks]]:
    """Per FKP run of paragraphs, (first fc, end fc, its table marks), from PlcBtePapx."""
    n = (lcb - 4) // 8
    pages = struct.unpack_from(f"<{n}I", table, fc + 4 * (n + 1))
    runs = []
    for pn in pages:
        fkp = word[(pn & 0x3FFFFF) * 512:(pn & 0x3FFFFF) * 512 + 512]
        crun = fkp[511]
        fcs = struct.unpack_from(f"<{crun + 1}I", fkp, 0)
        for i in range(crun):
            offset = 2 * fkp[4 * (crun + 1) + 13 * i]
            marks = _Marks()
            if offset:
                cb = fkp[offset]
                start, size = (offset + 2, 2 * fkp[offset + 1]) if cb == 0 else \
                    (offset + 1, 2 * cb - 1)
                marks = _marks(fkp[start + 2:start + size])    # after the style (istd)
            runs.append((fcs[i], fcs[i + 1], marks))
    return runs


def _marks(grpprl: bytes) -> _Marks:
    """The table marks a paragraph's sprms set."""
    in_table = ttp = inner_cell = inner_ttp = False
    depth = None
    at = 0
    while at + 2 <= len(grpprl):
        sprm = _u16(grpprl, at)
        at += 2
        spra = sprm >> 13
        if sprm == _DEF_TABLE:
            size = 2 + _u16(grpprl, at) - 1
        elif sprm == _CHG_TABS:
            if grpprl[at] == 255:             # the long form: not needed, nothing after it read
                break
            size = 1 + grpprl[at]
        elif spra == 6:
            size = 1 + grpprl[at]
        else:
            size = _OPERAND[spra]
        operand = grpprl[at:at + size]
        if sprm == _IN_TABLE:
            in_table = operand[0] == 1
        elif sprm == _TTP:
            ttp = operand[0] == 1
        elif sprm == _INNER_CELL:
            inner_cell = operand[0] == 1
        elif sprm == _INNER_TTP:
            inner_ttp = operand[0] == 1
        elif sprm == _ITAP and len(operand) == 4:
            depth = int(struct.unpack("<i", operand)[0])
        at += size
    if depth is None:
        depth = 1 if in_table else 0
    if depth <= 1:
        return _Marks(depth, cell=False, row=ttp and depth == 1)
    return _Marks(depth, cell=inner_cell, row=inner_ttp)


def _document(word: bytes, table: bytes) -> Document:
    ccp, pairs = _fib(word)
    pieces = _pieces(table, *pairs[33])           # fcClx, lcbClx
    runs = _paragraph_marks(word, table, *pairs[13])    # fcPlcfBtePapx, lcbPlcfBtePapx

    runs.sort(key=lambda run: run[0])
    starts = [a for a, _, _ in runs]

    def marks_at(fc: int) -> _Marks:
        i = bisect.bisect_right(starts, fc) - 1
        return runs[i][2] if i >= 0 and fc < runs[i][1] else _Marks()

    doc = Document()
    # per depth d (1…): the table being read, its row, its cell's paragraphs
    tables: dict[int, Table] = {}
    rows: dict[int, list[str]] = {}
    cells: dict[int, list[str]] = {}
    text: list[str] = []
    hidden: list[bool] = []                       # per field open: is its code being read

    def close_below(depth: int) -> None:
        for d in sorted((d for d in tables if d > depth), reverse=True):
            if rows.get(d):
                tables[d].append(rows.pop(d))
            del tables[d]
            rows.pop(d, None)
            cells.pop(d, None)

    for ch, fc in _characters(word, pieces, ccp):
        if ch == "\x13":                          # a field begins: its code is hidden
            hidden.append(True)
            continue
        if ch == "\x14" and hidden:               # its result follows
            hidden[-1] = False
            continue
        if ch == "\x15" and hidden:
            hidden.pop()
            continue
        if ch not in (_PARA, _CELL):
            if not any(hidden):
                text.append("\n" if ch == "\x0b" else "" if ch in "\x01\x08\x1f" else ch)
            continue
        marks = marks_at(fc)
        line = "".join(text).replace("\x0c", "").strip("\x00")
        text.clear()
        close_below(marks.depth)
        if marks.depth == 0:
            doc.paragraphs.append(line)
            continue
        if marks.depth not in tables:
            tables[marks.depth] = []
            doc.tables.append(tables[marks.depth])
        if marks.row:
            tables[marks.depth].append(rows.pop(marks.depth, []))
            continue
        doc.paragraphs.append(line)
        cells.setdefault(marks.depth, []).append(line)
        if marks.cell or (marks.depth == 1 and ch == _CELL):
            rows.setdefault(marks.depth, []).append("\n".join(cells.pop(marks.depth)))
    close_below(0)
    return doc
