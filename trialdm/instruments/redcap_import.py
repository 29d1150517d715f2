"""Reading a REDCap data dictionary into instrument definitions (one per form).

The file may be UTF-8 (with or without a byte-order mark) or Windows-1252 (REDCap
exports opened and saved in Excel), separated by ``,`` or ``;``. Every problem is
reported as file, ``line N: variable`` and reason, including those found only
after conversion; nothing is half-imported. What cannot be represented exactly is
refused (``file`` and ``sql`` fields, validation types trialdm does not check, logic
it cannot evaluate); a report says per field what was kept, changed or dropped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from trialdm.instruments.definitions import (
    DefinitionError,
    DefinitionProblem,
    InstrumentDefinition,
    parse_definition,
)
from trialdm.instruments.redcap import COLUMNS, FORM, TYPE, VARIABLE
from trialdm.instruments.redcap_rows import FieldReport, Reader, read_field, read_score

_FEWEST_COLUMNS = COLUMNS.index("Matrix Group Name") + 1
_PATH = re.compile(r"^(?:fields|scores)\.(?P<name>[a-z][a-z0-9_]*)(?:\.(?P<rest>.+))?$")


@dataclass
class ImportResult:
    definitions: list[InstrumentDefinition]
    report: list[FieldReport]


def decode_dictionary(data: bytes, source: str = "dictionary.csv") -> str:
    """The text of a dictionary file: UTF-8 (a byte-order mark is dropped), else
    Windows-1252; anything else is refused with a clear message."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        reason = (
            f"not UTF-8 or Windows-1252 text (byte {exc.start}: {data[exc.start]:#04x}); "
            "save the dictionary as CSV UTF-8"
        )
        raise DefinitionError([DefinitionProblem(source, "(file)", reason)]) from None


def _rows(text: str, source: str) -> tuple[Any, list[str]]:
    """A CSV reader positioned after the header, for ',' or ';' separated files; the
    columns an older REDCap did not write read as blank."""
    for delimiter in (",", ";"):
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = [h.strip() for h in next(rows, [])]
        # older REDCap versions write fewer columns (no Field Annotation, Matrix Ranking)
        if len(header) >= _FEWEST_COLUMNS and header == list(COLUMNS[: len(header)]):
            return rows, header
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    missing = [c for c in COLUMNS if c not in header]
    reason = (
        f"missing column(s): {', '.join(missing)}"
        if missing
        else "the columns are not in REDCap's order"
    )
    raise DefinitionError([DefinitionProblem(source, "(header)", reason)])


def _on_line(problem: DefinitionProblem, lines: dict[str, int], form: str) -> DefinitionProblem:
    """A problem found in the converted definition, placed on the dictionary's line
    and variable (``line 7: bmi``) instead of the definition's path, or on the form."""
    match = _PATH.match(problem.field)
    if match is None or match["name"] not in lines:
        return DefinitionProblem(problem.file, f"form {form}: {problem.field}", problem.reason)
    reason = problem.reason
    if match["rest"] and match["rest"] not in ("show_if", "calculation"):
        reason = f"{match['rest']}: {reason}"
    return DefinitionProblem(problem.file, f"line {lines[match['name']]}: {match['name']}", reason)


def _title(form: str) -> str:
    return form.replace("_", " ").strip().capitalize()


def read_dictionary(text: str, *, version: int = 1, source: str = "dictionary.csv") -> ImportResult:
    """Definitions (one per form) and the per-field report, from a dictionary's text;
    :class:`DefinitionError` with every problem when anything is refused."""
    reader = Reader(source)
    rows, _header = _rows(text, source)
    forms: dict[str, dict[str, Any]] = {}
    report: list[FieldReport] = []
    line = 2
    for values in rows:
        start, line = line, rows.line_num + 1  # a quoted cell may span lines
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(COLUMNS, values + [""] * (len(COLUMNS) - len(values)), strict=False))
        variable, form = row[VARIABLE].strip(), row[FORM].strip()
        if not variable or not form:
            reader.add(start, variable or "(row)", "needs a variable and a form name")
            continue
        data = forms.setdefault(
            form, {"fields": {}, "scores": [], "lines": {}, "title": _title(form)}
        )
        data["lines"][variable] = start
        entry = FieldReport(start, variable, form)
        if row[TYPE].strip().lower() == "calc":
            last = next(reversed(data["fields"]), None)
            score = read_score(reader, start, row, data["fields"], last)
            if score is not None:
                data["scores"].append(score)
        else:
            raw_field = read_field(reader, start, row, entry)
            if raw_field is not None:
                data["fields"][variable] = raw_field
        report.append(entry)
    definitions = []
    for form, data in forms.items():
        last_field = next(reversed(data["fields"]), None)
        for score in data["scores"]:
            if "after" in score and score["after"] == last_field:
                del score["after"]  # after every field: where trialdm puts scores anyway
        try:
            definitions.append(
                parse_definition(
                    {
                        "name": form,
                        "version": version,
                        "title": {"en": data["title"]},
                        "fields": list(data["fields"].values()),
                        "scores": data["scores"],
                    },
                    source,
                )
            )
        except DefinitionError as exc:
            reader.problems += [_on_line(p, data["lines"], form) for p in exc.problems]
    if reader.problems:
        raise DefinitionError(reader.problems)
    return ImportResult(definitions, report)


def import_dictionary(
    text: str, *, version: int = 1, source: str = "dictionary.csv"
) -> list[InstrumentDefinition]:
    """Definitions (one per form) from a REDCap data dictionary's CSV text."""
    return read_dictionary(text, version=version, source=source).definitions
