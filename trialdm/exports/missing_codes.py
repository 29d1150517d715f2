"""Missing-data codes of a response carried as one text per response through the
dataset statements: ``field=code`` pairs separated by spaces."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, false, func

MISSING_PAIR = "="
MISSING_SEPARATOR = " "


def missing_codes_sql(answers: Any) -> Any:
    """One text per response naming its missing-data codes, ``field=code`` separated
    by spaces (field names and codes hold neither), NULL when there are none."""
    coded = and_(answers.c.missing_code.is_not(None), answers.c.computed.is_(false()))
    pair = answers.c.field + MISSING_PAIR + answers.c.missing_code
    return func.aggregate_strings(case((coded, pair)), MISSING_SEPARATOR)


def parse_missing_codes(text: str) -> dict[str, str]:
    """``field=code`` pairs as a dict; a field with several codes keeps the greatest,
    as the aggregate over one field's answer rows did."""
    found: dict[str, str] = {}
    for pair in text.split(MISSING_SEPARATOR):
        name, _, code = pair.partition(MISSING_PAIR)
        if name not in found or code > found[name]:
            found[name] = code
    return found
