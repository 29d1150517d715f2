"""The parameters of ``POST /api/`` as REDCap's clients send them, read into typed values.

REDCap takes form fields; arrays come as ``fields[0]=a&fields[1]=b`` (PyCap),
``fields[]=a`` or one comma-separated ``fields=a,b`` (REDCapR). Flags come as
``true``/``false``, ``1``/``0`` or Python's ``True``/``False``. A value outside
what REDCap allows is an error naming the parameter, never a silent default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from trialdm.redcap.values import DATE_FORMATS

FORMATS = ("json", "csv", "xml")
DATA_FORMATS = ("json", "csv")
CSV_DELIMITERS = {",": ",", "tab": "\t", ";": ";", "|": "|", "^": "^"}
_INDEXED = re.compile(r"^(?P<name>\w+)\[(?P<index>\d*)\]$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


class ParameterError(ValueError):
    """A parameter REDCap would refuse; the message is shown to the client."""


def list_param(form: MultiDict, name: str) -> list[str]:
    """Every value of an array parameter, in index order; empty when absent."""
    indexed: list[tuple[int, int, str]] = []
    for position, (key, value) in enumerate(form.items(multi=True)):
        match = _INDEXED.match(key)
        if match and match["name"] == name:
            index = int(match["index"]) if match["index"] else position
            indexed.append((index, position, value))
    values = [value for _, _, value in sorted(indexed)]
    for raw in form.getlist(name):
        values += raw.split(",")
    return [v.strip() for v in values if v.strip()]


def flag(form: Mapping[str, Any], name: str, default: bool = False) -> bool:
    raw = form.get(name)
    if raw is None:
        return default
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParameterError(f'The value of the parameter "{name}" is not valid: use true or false.')


def choice(form: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    for option in allowed:
        if raw.lower() == option.lower():
            return option
    raise ParameterError(
        f'The value of the parameter "{name}" is not valid: use {", ".join(allowed)}.'
    )


@dataclass(frozen=True)
class RecordExport:
    format: str
    records: list[str]
    fields: list[str]
    forms: list[str]
    events: list[str]
    labels: bool  # rawOrLabel=label
    label_headers: bool  # rawOrLabelHeaders=label (CSV)
    checkbox_labels: bool
    data_access_groups: bool
    event_labels: bool  # eventName=label, used with rawOrLabel=label
    blank_for_gray_status: bool
    decimal_character: str
    csv_delimiter: str


@dataclass(frozen=True)
class RecordImport:
    format: str
    data: str
    overwrite: bool
    return_content: str  # count, ids, nothing
    date_format: str
    csv_delimiter: str


def record_export(form: MultiDict) -> RecordExport:
    _flat_only(form)
    if str(form.get("filterLogic") or "").strip():
        raise ParameterError(
            'The parameter "filterLogic" is not supported here; filter the exported rows '
            "in your script, or select them with records, fields, forms and events."
        )
    for name in ("dateRangeBegin", "dateRangeEnd"):
        if str(form.get(name) or "").strip():
            raise ParameterError(
                f'The parameter "{name}" is not supported here; the audit trail '
                "(/api/v1/audit) tells when each answer changed."
            )
    return RecordExport(
        format=choice(form, "format", DATA_FORMATS, "json"),
        records=list_param(form, "records"),
        fields=list_param(form, "fields"),
        forms=list_param(form, "forms"),
        events=list_param(form, "events"),
        labels=choice(form, "rawOrLabel", ("raw", "label"), "raw") == "label",
        label_headers=choice(form, "rawOrLabelHeaders", ("raw", "label"), "raw") == "label",
        checkbox_labels=flag(form, "exportCheckboxLabel"),
        data_access_groups=flag(form, "exportDataAccessGroups"),
        event_labels=choice(form, "eventName", ("label", "unique"), "label") == "label",
        blank_for_gray_status=flag(form, "exportBlankForGrayFormStatus"),
        decimal_character=choice(form, "decimalCharacter", (".", ","), "."),
        csv_delimiter=csv_delimiter(form),
    )


def record_import(form: MultiDict) -> RecordImport:
    _flat_only(form)
    if flag(form, "forceAutoNumber"):
        raise ParameterError(
            "Record names are study IDs, given when a participant is enrolled in trialdm; "
            'import with "forceAutoNumber" false and the study IDs as record names.'
        )
    return RecordImport(
        format=choice(form, "format", DATA_FORMATS, "json"),
        data=str(form.get("data") or ""),
        overwrite=choice(form, "overwriteBehavior", ("normal", "overwrite"), "normal")
        == "overwrite",
        return_content=choice(form, "returnContent", ("count", "ids", "nothing"), "count"),
        date_format=choice(form, "dateFormat", DATE_FORMATS, "YMD"),
        csv_delimiter=csv_delimiter(form),
    )


def _flat_only(form: MultiDict) -> None:
    if choice(form, "type", ("flat", "eav"), "flat") != "flat":
        raise ParameterError('The parameter "type" must be "flat" here (one row per event).')


def csv_delimiter(form: Mapping[str, Any]) -> str:
    """REDCap's ``csvDelimiter``: ``,`` (default), ``tab``, ``;``, ``|`` or ``^``."""
    chosen = choice(form, "csvDelimiter", tuple(CSV_DELIMITERS), ",")
    return CSV_DELIMITERS[chosen]


def return_format(form: Mapping[str, Any]) -> str:
    """The format errors and import results are written in: ``returnFormat``, then
    ``format``, then JSON (REDCap's own default is XML; JSON is what clients parse)."""
    for name in ("returnFormat", "format"):
        raw = str(form.get(name) or "").strip().lower()
        if raw in FORMATS:
            return raw
    return "json"
