"""Input bounds at the request edge, once for every endpoint and page.

What the database or the parser cannot hold is refused before any work: record ids
beyond PostgreSQL's ``integer`` (404: no such record can exist), JSON nested deeper
than any real document, text with NUL characters or lone surrogates (PostgreSQL and
UTF-8 cannot store them), integers beyond 64 bits. A value that still reaches the
database out of range (a foreign key in a body, a filter) answers 422, never 500.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any

from flask import Flask, request
from sqlalchemy.exc import DataError

from trialdm.core.errors import N_, Message, NotFound, ValidationFailed

MAX_ID = 2**31 - 1  # PostgreSQL integer, the type of every primary key
MAX_INTEGER = 2**63 - 1  # PostgreSQL bigint and SQLite INTEGER
MAX_JSON_DEPTH = 32
OUT_OF_RANGE = "A value is outside the range that can be stored."
# one C-level scan instead of a Python loop over every character (transcripts are long)
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored as it is, or None."""
    if "\x00" in value:
        return "The text contains a NUL character."
    if not value.isascii() and _SURROGATE.search(value):
        return "The text contains an unpaired surrogate (not valid Unicode)."
    return None


def _json_problems(document: Any) -> dict[str, list[str]]:
    """Field path -> problem, walking the parsed body without recursion."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return {path or "(body)": [f"Nested deeper than {MAX_JSON_DEPTH} levels."]}
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                problems.setdefault(path or "(body)", []).append(problem)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not -MAX_INTEGER <= value <= MAX_INTEGER:
                problems.setdefault(path or "(body)", []).append(OUT_OF_RANGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                child = f"{path}.{key}" if path else key
                if problem:
                    problems.setdefault(path or "(body)", []).append(f"A key: {problem}")
                    continue
                stack.append((child, item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}[{index}]" if path else f"[{index}]", item, depth + 1))
    return problems


def check_json_body() -> None:
    if not request.is_json or not request.content_length:
        return
    try:
        document = json.loads(request.get_data(cache=True))
    except RecursionError:
        raise ValidationFailed.field(
            "(body)",
            Message(
                N_("Nested deeper than %(max_json_depth)s levels."), max_json_depth=MAX_JSON_DEPTH
            ),
        ) from None
    except ValueError:
        return  # not JSON: the endpoint's parser answers with its own message
    problems = _json_problems(document)
    if problems:
        raise ValidationFailed(N_("The input has errors."), errors=problems)


def check_form() -> None:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return
    problems: dict[str, list[str]] = {}
    for name, value in request.form.items(multi=True):
        problem = text_problem(value)
        if problem:
            problems.setdefault(name, []).append(problem)
    if problems:
        detail = " ".join(f"{name}: {' '.join(found)}" for name, found in problems.items())
        raise ValidationFailed(detail, errors=problems)


def check_path_and_query() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            raise NotFound(N_("No such record."))
    problems: dict[str, list[str]] = {}
    for name, value in request.args.items(multi=True):
        problem = text_problem(value)
        if problem:
            problems.setdefault(name, []).append(problem)
        elif value.lstrip("-").isdigit() and abs(int(value)) > MAX_INTEGER:
            problems.setdefault(name, []).append(OUT_OF_RANGE)
    if problems:
        raise ValidationFailed(N_("The input has errors."), errors=problems)


def register_input_bounds(app: Flask) -> None:
    @app.before_request
    def bound_inputs() -> None:
        check_path_and_query()
        check_json_body()
        check_form()

    def out_of_range(exc: Exception):
        # The database refused a value (PostgreSQL: integer or numeric out of range;
        # SQLite: an int beyond 64 bits); the request rolls back as for any 4xx.
        return app.handle_user_exception(ValidationFailed(OUT_OF_RANGE))

    app.register_error_handler(DataError, out_of_range)
    app.register_error_handler(OverflowError, out_of_range)


def csv_problem(exc: Exception) -> str:
    """A person's wording of what the csv module could not read."""
    text = str(exc)
    if "field larger than field limit" in text:
        return f"A cell is longer than {csv.field_size_limit():,} characters."
    if "NUL" in text:
        return "The line contains a NUL character."
    return f"The line cannot be read as CSV ({text})."
