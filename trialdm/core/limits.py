"""How many characters a typed text may hold, for the kinds of text that have no column
of their own to say it (keys, searches, headers, transcripts). Texts stored in a column
are limited to that column's length in their schema; tests/test_text_limits.py walks
every input schema and fails on a text field with no limit or one its column cannot hold.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

SITE_CODE = 8  # sites.code
EVENT = 16  # a schedule event's name (T0, T1...)
LANGUAGE_CODE = 16  # a language code (lg, sw-TZ)
KEY = 64  # names of events, rules, instruments, datasets, tables; a sort order
SEARCH = 120  # what is typed into a search or filter box
HEADER = 200  # an If-Match value, a range of line numbers
PASSWORD = 256
# A transcript's full text: a two-hour focus group is about 150,000 characters.
TRANSCRIPT = 2_000_000


def at_most(limit: int) -> validate.Length:
    """``validate.Length(max=limit)``: its message is translated like marshmallow's own."""
    return validate.Length(max=limit)


def schema_limits(schema: type[ma.Schema] | ma.Schema) -> dict[str, int]:
    """Field name as sent (``data_key`` or name) -> the most characters it accepts, for
    each text field of ``schema`` with a ``Length`` limit: what the pages show as
    ``maxlength``, so the browser stops where the server would refuse."""
    fields = schema._declared_fields if isinstance(schema, type) else schema.fields
    out: dict[str, int] = {}
    for name, field in fields.items():
        if not isinstance(field, ma.fields.String) or field.dump_only:
            continue
        maxima = [
            v.max for v in field.validators if isinstance(v, validate.Length) and v.max is not None
        ]
        if maxima:
            out[field.data_key or name] = min(maxima)
    return out
