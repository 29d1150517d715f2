"""The texts of the table specs (``tables/*.toml``) that people read as interface
text: titles, row and column labels, value labels and notes. ``make translations``
collects them into the page catalogs (babel.cfg names :func:`extract_table_texts`),
and the summary pages show them in the reader's language; site codes, study IDs and
other data in a table have no catalog entry and stay as they are."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

TEXT_KEYS = ("title", "label", "corner")
TEXT_LISTS = ("notes",)
TEXT_MAPS = ("labels", "band_labels")


def table_texts(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in TEXT_KEYS and isinstance(value, str):
                yield value
            elif key in TEXT_LISTS and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key in TEXT_MAPS and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from table_texts(value)
    elif isinstance(data, list):
        for item in data:
            yield from table_texts(item)


def extract_table_texts(fileobj, keywords, comment_tags, options):
    """Babel extraction method for a table spec: (line, function, text, comments).
    A percent sign is doubled ("n (%%)"), as in every catalog text, so that
    "(% of contacts)" is not read as a placeholder; :func:`catalog_id` does the same."""
    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for text in table_texts(data):
        if text.strip():
            yield 0, None, catalog_id(text), ["table spec"]


def catalog_id(text: str) -> str:
    return text.replace("%", "%%")


def spec_text(text: Any) -> Any:
    """A spec text in the request's language (English without a request or catalog
    entry); data in the same places (site codes, values) comes back as it is."""
    from flask import has_app_context
    from flask_babel import gettext

    # An app context suffices: a worker's build runs inside force_locale (job_language).
    if not isinstance(text, str) or not text.strip() or not has_app_context():
        return text
    key = catalog_id(text)
    translated = gettext(key)
    return text if translated == key else translated.replace("%%", "%")


def localised_table(body: dict[str, Any]) -> dict[str, Any]:
    """A stored table (``table_json``) with its interface texts in the request's
    language, for the Word download; numbers and data are untouched."""
    out = dict(body)
    for key in ("title", "corner"):
        out[key] = spec_text(body.get(key))
    out["columns"] = [
        {**c, "label": spec_text(c.get("label")), "group": spec_text(c.get("group"))}
        for c in body.get("columns", [])
    ]
    out["rows"] = [{**r, "label": spec_text(r.get("label"))} for r in body.get("rows", [])]
    out["notes"] = [spec_text(n) for n in body.get("notes") or []]
    out["footnotes"] = [spec_text(n) for n in body.get("footnotes") or []]
    if body.get("listing"):
        listing = dict(body["listing"])
        listing["columns"] = [spec_text(c) for c in listing.get("columns", [])]
        out["listing"] = listing
    return out


def localised_result(result: Any) -> Any:
    """A computed table (``TableResult``) with its spec texts in the current language,
    for the workbook; a copy, so the job's stored JSON keeps the source texts."""
    chart = result.chart
    if chart is not None:
        chart = replace(chart, title=spec_text(chart.title), y_title=spec_text(chart.y_title))
    listing = result.listing
    if listing is not None:
        columns = tuple(replace(c, label=spec_text(c.label)) for c in listing.columns)
        listing = replace(listing, columns=columns)
    return replace(
        result,
        title=spec_text(result.title),
        corner=spec_text(result.corner),
        columns=[
            replace(c, label=spec_text(c.label), parent=spec_text(c.parent)) for c in result.columns
        ],
        rows=[replace(r, label=spec_text(r.label)) for r in result.rows],
        footnotes=[spec_text(n) for n in result.footnotes],
        notes=[spec_text(n) for n in result.notes],
        listing=listing,
        chart=chart,
    )
