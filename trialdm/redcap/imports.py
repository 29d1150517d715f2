"""The data of a REDCap record import, read into rows of text, and its problems as
REDCap reports them: one ``"record","field","value","message"`` line each."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from trialdm.core.errors import DomainError
from trialdm.redcap.project import RECORD_ID_FIELD
from trialdm.redcap.schemas import RecordImport
from trialdm.redcap.values import number_text


@dataclass(frozen=True)
class ImportProblem:
    record: str
    field: str
    value: str
    message: str
    # The form is signed and locked (the import answers 423, REDCap-style text).
    locked: bool = False

    def line(self) -> str:
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(
            [self.record, self.field, self.value, self.message]
        )
        return out.getvalue()


class ImportRefused(DomainError):
    """The import has problems; nothing of it was saved."""

    status = 400
    title = "Bad request"

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.line() for p in problems))
        if problems and all(p.locked for p in problems):
            self.status = 423


def read_rows(params: RecordImport) -> list[dict[str, str]]:
    """The rows of ``data`` (JSON array of objects or CSV with a header), as text."""
    if params.format == "json":
        try:
            parsed = json.loads(params.data or "[]")
        except json.JSONDecodeError as exc:
            raise ImportRefused(
                [ImportProblem("", "data", "", f"The data are not valid JSON: {exc.msg}.")]
            ) from None
        if isinstance(parsed, dict):
            parsed = [parsed]
        if not isinstance(parsed, list) or not all(isinstance(row, dict) for row in parsed):
            raise ImportRefused(
                [ImportProblem("", "data", "", "The data must be a JSON array of objects.")]
            )
        nested = [
            ImportProblem(
                str(row.get(RECORD_ID_FIELD, "")),
                str(k),
                json.dumps(v),
                "A value is text, a number, true/false or null, not a list or an object.",
            )
            for row in parsed
            for k, v in row.items()
            if isinstance(v, (list, dict))
        ]
        if nested:
            raise ImportRefused(nested)
        return [{str(k): cell_text(v) for k, v in row.items()} for row in parsed]
    reader = csv.DictReader(
        io.StringIO(params.data.lstrip("\ufeff")), delimiter=params.csv_delimiter
    )
    rows = []
    for row in reader:
        if None in row:
            raise ImportRefused(
                [
                    ImportProblem(
                        "",
                        "data",
                        "",
                        f"Line {reader.line_num} has more values than the header has columns.",
                    )
                ]
            )
        rows.append({k: v or "" for k, v in row.items()})
    return rows


def cell_text(value: Any) -> str:
    """A JSON value as REDCap's text: numbers as written, true/false as 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return number_text(value)
    return str(value)
