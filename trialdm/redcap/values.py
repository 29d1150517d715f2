"""Answers as REDCap writes them (all text: codes, ``1``/``0``, ISO dates) and back.

Export turns a stored typed value into REDCap's raw text; import turns REDCap's
raw text into the JSON the responses API takes, so that the instrument's answer
schema validates it exactly as it validates ``/api/v1/responses``. Text that is
not of the field's form is passed on unchanged for that schema to refuse with its
own message: nothing is coerced.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trialdm.instruments.definitions import MISSING_CODES, Missing
from trialdm.redcap.project import ProjectField

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")
_DATE_PATTERNS = {
    "YMD": re.compile(r"^(?P<y>\d{4})[/-](?P<m>\d{1,2})[/-](?P<d>\d{1,2})$"),
    "MDY": re.compile(r"^(?P<m>\d{1,2})[/-](?P<d>\d{1,2})[/-](?P<y>\d{4})$"),
    "DMY": re.compile(r"^(?P<d>\d{1,2})[/-](?P<m>\d{1,2})[/-](?P<y>\d{4})$"),
}
DATE_FORMATS = tuple(_DATE_PATTERNS)


class ValueProblem(ValueError):
    """A value that the field's type cannot hold exactly."""


def number_text(value: float | int) -> str:
    """The shortest text that reads back as the same number (``70.0`` -> ``70``)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() else repr(value)


def raw_value(value: Any) -> str:
    """REDCap's raw text of one typed answer (not a checkbox's list)."""
    if value is None:
        return ""
    if isinstance(value, Missing):
        return value.code
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def checkbox_values(value: Any, project_field: ProjectField) -> dict[str, str]:
    """option code -> ``1``/``0`` for a checkbox answer (a list, a missing code or blank).

    REDCap writes ``0`` for every option of a record's checkbox, answered or not.
    """
    chosen: set[str] = set()
    if isinstance(value, Missing):
        chosen = {value.code}
    elif isinstance(value, list):
        chosen = {str(v) for v in value}
    return {code: "1" if code in chosen else "0" for code in project_field.option_codes()}


def parse_date(text: str, date_format: str) -> str | None:
    """ISO text of a date written in REDCap's ``dateFormat`` (YMD, MDY, DMY; ``/`` or ``-``
    between the parts, as REDCap understands them), or None."""
    match = _DATE_PATTERNS[date_format].match(text)
    if match is None:
        return None
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
    except ValueError:
        return None


def answer_json(project_field: ProjectField, text: str, date_format: str) -> Any:
    """The responses API's JSON for REDCap's raw ``text`` of a (non-checkbox) field;
    ``None`` for blank."""
    text = text.strip() if project_field.field_type != "notes" else text
    if text == "":
        return None
    if text in MISSING_CODES:
        return {"missing": text}
    definition = project_field.definition
    kind = definition.type if definition is not None else None
    if kind in ("integer", "scale"):
        return int(text) if _INTEGER.match(text) else text
    if kind == "decimal":
        if not _NUMBER.match(text):
            return text
        number = float(text)
        if Decimal(text) != Decimal(repr(number)):
            raise ValueProblem(f"{text} has more digits than are stored; round it first.")
        return number
    if kind == "yes_no":
        return {"1": True, "0": False}.get(text, text)
    if kind == "date":
        return parse_date(text, date_format) or text
    return text
