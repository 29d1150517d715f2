"""Stata ``.dta`` files (format 118, Stata 14 and later) written as rows arrive.

ReadStat (pyreadstat) writes a whole data frame, so a dataset's columns had to be
held in memory at once, and pandas with it. This writer streams instead: the data
section goes to the file row by row, the number of rows and the section offsets
are patched in at the end, and the text cells go to a side file that follows the
data. Memory stays flat whatever the size.

- Text variables are ``strL``: their width need not be known before the first row.
  A cell holds a reference ``(v, o)`` to a string stored once after the data (a
  "GSO"); a short text seen before (sites, events, times) refers to its first copy,
  as Stata itself does.
- Coded answers and dates are ``long`` (4 bytes), other numbers ``double``. Blanks
  are Stata's system missing ``.``; missing-data codes stay -7/-8/-9 (the do-file
  beside them makes them .a/.b/.c) and carry value labels.

The layout follows Stata's own description of the format ("dta.pdf", format 118):
tagged sections, little-endian numbers, a map of section offsets.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from datetime import date as _date
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from trialdm.core.errors import DomainError
from trialdm.exports.datasets import MISSING_VALUES, Row, Variable
from trialdm.exports.writers import NamedVariable
from trialdm.instruments.definitions import Missing

RELEASE = b"118"
TYPE_STRL = 32768
TYPE_DOUBLE = 65526
TYPE_LONG = 65528
# Stata's system missing value "." of each type; a long holds -2,147,483,647 to
# 2,147,483,620, everything above is a missing value.
DOUBLE_MISSING = 2.0**1023
LONG_MISSING = 2_147_483_621
LONG_LIMIT = 2_147_483_620
EPOCH_ORDINAL = datetime(1960, 1, 1).toordinal()
# GSO type 130: text ending in a NUL byte (UTF-8 in format 118)
GSO_TEXT = 130
# A text of at most this many characters is stored once and shared by reference,
# up to this many distinct texts per file (so the lookup stays small).
SHARED_LENGTH = 48
SHARED_LIMIT = 100_000
MAP_TAGS = (
    "stata_data",
    "map",
    "variable_types",
    "varnames",
    "sortlist",
    "formats",
    "value_label_names",
    "variable_labels",
    "characteristics",
    "data",
    "strls",
    "value_labels",
    "stata_data_close",
    "end-of-file",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _fixed(text: str, size: int) -> bytes:
    """``text`` as UTF-8 in a NUL-padded field of ``size`` bytes (one byte kept for the
    terminating NUL), cut at a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) >= size:
        encoded = encoded[: size - 1].decode("utf-8", "ignore").encode("utf-8")
    return encoded.ljust(size, b"\x00")


def _tag(name: str, content: bytes) -> bytes:
    return b"<" + name.encode() + b">" + content + b"</" + name.encode() + b">"


class _Strings:
    """The GSO side file: each new text stored once; a short repeated text shared."""

    def __init__(self, side: IO[bytes]) -> None:
        self.side = side
        self.shared: dict[str, int] = {}
        self.head = struct.Struct("<3sIQBI")

    def reference(self, text: str, v: int, o: int) -> int:
        if not text:
            return 0
        short = len(text) <= SHARED_LENGTH
        if short:
            found = self.shared.get(text)
            if found is not None:
                return found
        data = text.encode("utf-8")
        self.side.write(self.head.pack(b"GSO", v, o, GSO_TEXT, len(data) + 1))
        self.side.write(data)
        self.side.write(b"\x00")
        # (v, o) as the data section holds it in format 118: v in 2 bytes, o in 6
        key = v | (o << 16)
        if short and len(self.shared) < SHARED_LIMIT:
            self.shared[text] = key
        return key


def _converter(
    index: int, variable: Variable, strings: _Strings, row: list[int]
) -> tuple[str, int, str, Callable[[Any], Any]]:
    """The struct code, Stata type, display format and cell converter of a column."""
    kind = variable.kind
    v = index + 1

    if kind == "string":

        def text(value: Any) -> int:
            if type(value) is str:
                return strings.reference(value, v, row[0])
            if value is None:
                return 0
            if isinstance(value, Missing):
                return strings.reference(str(MISSING_VALUES[value.code]), v, row[0])
            return strings.reference(str(value), v, row[0])

        return "Q", TYPE_STRL, "%9s", text
    if kind in ("code", "date"):
        numbers = {code: n for n, (code, _) in enumerate(variable.choices, start=1)}
        date = kind == "date"

        def whole(value: Any) -> int:
            if value is None:
                return LONG_MISSING
            if isinstance(value, Missing):
                return MISSING_VALUES[value.code]
            if date:
                if type(value) is str:  # ISO text, as SQLite gives dates
                    return _date.fromisoformat(value[:10]).toordinal() - EPOCH_ORDINAL
                return value.toordinal() - EPOCH_ORDINAL
            found = numbers.get(value)
            if found is None:
                raise DomainError(f"Variable {variable.name}: '{value}' is not one of its codes.")
            return found

        return "i", TYPE_LONG, "%td" if date else "%8.0g", whole

    def number(value: Any) -> float:
        if type(value) is float:
            return value
        if value is None:
            return DOUBLE_MISSING
        if isinstance(value, Missing):
            return float(MISSING_VALUES[value.code])
        return float(value)

    return "d", TYPE_DOUBLE, "%10.0g" if kind == "integer" else "%9.0g", number


def _value_labels(name: str, labels: list[tuple[int, str]]) -> bytes:
    texts = [label.encode("utf-8") + b"\x00" for _, label in labels]
    offsets, at = [], 0
    for text in texts:
        offsets.append(at)
        at += len(text)
    n = len(labels)
    table = struct.pack(f"<ii{n}i{n}i", n, at, *offsets, *(value for value, _ in labels))
    table += b"".join(texts)
    return _tag("lbl", struct.pack("<i", len(table)) + _fixed(name, 129) + b"\x00" * 3 + table)


def write_dta(
    path: Path,
    label: str,
    named: list[NamedVariable],
    rows: Iterable[Row],
    written_at: datetime,
) -> int:
    """Write the rows as a .dta file with variable and value labels; rows written."""
    if len(named) > 32_767:
        raise DomainError("A Stata file holds at most 32,767 variables.")
    with (
        open(path, "w+b", buffering=1 << 20) as out,
        tempfile.TemporaryFile(dir=path.parent, buffering=1 << 20) as side,
    ):
        strings = _Strings(side)
        row = [0]
        columns = [_converter(i, n.variable, strings, row) for i, n in enumerate(named)]
        layout = struct.Struct("<" + "".join(code for code, _, _, _ in columns))
        converters = [convert for _, _, _, convert in columns]
        labelled = [(n.name, n.variable.numbered_labels()) for n in named]
        labelled = [(name, labels) for name, labels in labelled if labels]
        has_labels = {name for name, _ in labelled}
        where = dict.fromkeys(MAP_TAGS, 0)

        out.write(b"<stata_dta><header>")
        out.write(_tag("release", RELEASE) + _tag("byteorder", b"LSF"))
        out.write(_tag("K", struct.pack("<H", len(named))))
        out.write(b"<N>")
        rows_at = out.tell()
        out.write(struct.pack("<Q", 0) + b"</N>")
        title = _fixed(label, 81).rstrip(b"\x00")
        out.write(_tag("label", struct.pack("<H", len(title)) + title))
        stamp = f"{written_at:%d} {MONTHS[written_at.month - 1]} {written_at:%Y %H:%M}"
        out.write(_tag("timestamp", bytes([len(stamp)]) + stamp.encode()) + b"</header>")
        where["map"] = out.tell()
        out.write(_tag("map", b"\x00" * 8 * len(MAP_TAGS)))

        def section(name: str, content: bytes) -> None:
            where[name] = out.tell()
            out.write(_tag(name, content))

        section("variable_types", struct.pack(f"<{len(named)}H", *(c[1] for c in columns)))
        section("varnames", b"".join(_fixed(n.name, 129) for n in named))
        section("sortlist", b"\x00" * 2 * (len(named) + 1))
        section("formats", b"".join(_fixed(c[2], 57) for c in columns))
        section(
            "value_label_names",
            b"".join(_fixed(n.name if n.name in has_labels else "", 129) for n in named),
        )
        section(
            "variable_labels",
            b"".join(_fixed(n.file_label or n.variable.label, 321) for n in named),
        )
        section("characteristics", b"")

        where["data"] = out.tell()
        out.write(b"<data>")
        pack, write, count = layout.pack, out.write, 0
        for values in rows:
            count += 1
            row[0] = count
            write(pack(*[convert(v) for convert, v in zip(converters, values, strict=True)]))
        out.write(b"</data>")

        where["strls"] = out.tell()
        out.write(b"<strls>")
        side.flush()
        side.seek(0)
        shutil.copyfileobj(side, out, 1 << 20)
        out.write(b"</strls>")
        section("value_labels", b"".join(_value_labels(n, labels) for n, labels in labelled))
        where["stata_data_close"] = out.tell()
        out.write(b"</stata_dta>")
        where["end-of-file"] = out.tell()

        out.seek(rows_at)
        out.write(struct.pack("<Q", count))
        out.seek(where["map"] + len(b"<map>"))
        out.write(struct.pack(f"<{len(MAP_TAGS)}Q", *(where[t] for t in MAP_TAGS)))
    return count
