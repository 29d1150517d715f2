"""CSV import of participants: every row checked, all or nothing, each problem reported
with its line and field. Columns are the API's field names (without ``site``);
``diagnoses`` holds diagnoses separated by ``;``, each a code, label or synonym of the
diagnosis vocabulary (``F41.1; Schizophrenia``), optionally followed by ``:`` and a
wording (``other:free text``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import marshmallow as ma
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, DomainError, ValidationFailed
from trialdm.core.inputs import csv_problem
from trialdm.core.scoping import require_site
from trialdm.participants.minimum_record import required_of_every_category
from trialdm.participants.models import Participant
from trialdm.participants.operations import create_participant
from trialdm.participants.schemas import ParticipantCreate

MAX_ROWS = 100_000


@dataclass(frozen=True)
class ImportProblem:
    line: int
    field: str
    message: str


class ImportFailed(DomainError):
    status = 422
    title = "Import failed"

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        errors: dict[str, list[str]] = {}
        for p in problems:
            errors.setdefault(f"line {p.line}", []).append(f"{p.field}: {p.message}")
        super().__init__(f"Nothing was imported: {len(problems)} problem(s).", errors=errors)


class ImportTooLarge(DomainError):
    status = 413
    title = "Import too large"


def read_upload(raw: bytes, max_bytes: int, max_rows: int) -> tuple[str, int]:
    """The upload's text and number of rows, refused before any row is processed
    when it is over ``max_bytes`` or ``max_rows``."""
    if len(raw) > max_bytes:
        raise ImportTooLarge(
            f"The file has {len(raw):,} bytes; at most {max_bytes:,} are imported at once.",
            errors={"file": [f"Larger than {max_bytes:,} bytes; split the file."]},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.field("file", N_("The file is not UTF-8 text.")) from None
    rows = count_rows(text)
    if rows > max_rows:
        raise ImportTooLarge(
            f"The file has {rows:,} rows; at most {max_rows:,} are imported at once.",
            errors={"file": [f"More than {max_rows:,} rows; split the file."]},
        )
    return text, rows


def count_rows(text: str) -> int:
    """Data rows (blank lines skipped, as the import does), without checking them."""
    reader = csv.reader(io.StringIO(text))
    try:
        rows = sum(1 for row in reader if row)
    except csv.Error as exc:
        raise ImportFailed([ImportProblem(reader.line_num, "(file)", csv_problem(exc))]) from None
    return max(rows - 1, 0)


def _diagnosis_cells(value: str) -> list[dict[str, str | None]]:
    """``F41.1; other: hearing voices`` -> items for the schema. A part that is itself
    a label (some contain ':') is kept whole; otherwise ':' starts the wording."""
    from trialdm.participants.queries import diagnosis_vocabulary_in_use

    vocabulary = diagnosis_vocabulary_in_use()
    items: list[dict[str, str | None]] = []
    for part in value.split(";"):
        part = part.strip()
        if vocabulary.resolve(part) is not None:
            items.append({"code": part, "text": None})
            continue
        code, _, text = part.partition(":")
        items.append({"code": code.strip(), "text": text.strip() or None})
    return items


def _row_to_input(row: dict[str, str], site: str) -> dict[str, object]:
    data: dict[str, object] = {"site": site}
    for key, value in row.items():
        if key is None:
            raise ma.ValidationError({"(row)": ["More cells than columns."]})
        value = (value or "").strip()
        if not value:
            continue
        if key == "diagnoses":
            data[key] = _diagnosis_cells(value)
        else:
            data[key] = value
    return data


def import_participants(
    session: Session,
    text: str,
    site: str,
    progress: Callable[[int], object] | None = None,
    max_rows: int = MAX_ROWS,
) -> list[Participant]:
    require_site(site)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ImportFailed([ImportProblem(1, "(file)", "The file is empty.")])
    schema = ParticipantCreate()
    known = set(schema.fields) - {"site"}
    problems = [
        ImportProblem(1, name, "Unknown column.") for name in reader.fieldnames if name not in known
    ]
    if "category" not in reader.fieldnames:
        problems.append(ImportProblem(1, "category", "Missing column."))
    for fields in required_of_every_category():
        if not any(name in reader.fieldnames for name in fields):
            problems.append(
                ImportProblem(
                    1, fields[0], f"Missing column ({' or '.join(fields)}): every record needs it."
                )
            )
    if problems:
        raise ImportFailed(problems)
    created: list[Participant] = []
    for count, row in enumerate(reader, start=1):
        line = reader.line_num
        if count > max_rows:
            problems.append(ImportProblem(line, "(file)", f"More than {max_rows} rows."))
            break
        try:
            data = schema.load(_row_to_input(row, site))
            created.append(create_participant(session, data))
        except ma.ValidationError as exc:
            problems += _flatten(line, exc.messages)
        except DomainError as exc:
            problems += _flatten(line, exc.errors or {"(row)": [exc.detail]})
        if progress:
            progress(1)
    if problems:
        raise ImportFailed(problems)
    return created


def _flatten(line: int, messages) -> list[ImportProblem]:
    out = []
    for field, value in messages.items() if isinstance(messages, dict) else [("(row)", messages)]:
        if isinstance(value, dict):
            value = [f"{k}: {v}" for k, v in value.items()]
        for message in value if isinstance(value, list) else [value]:
            out.append(ImportProblem(line, field, str(message)))
    return out
