"""The texts of the table specs (``tables/*.toml``) that people read as interface
text: titles, row and column labels, value labels and notes. ``make translations``
collects them into the page catalogs (babel.cfg names :func:`extract_table_texts`),
and the summary pages show them in the reader's language; site codes, study IDs and
other data in a table have no catalog entry and stay as they are."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from trialdm.core.catalog import catalog_id, spec_text, spec_texts
from trialdm.core.errors import N_

# Distinct listing texts remembered with their translation (free text repeats little).
MEMO_LIMIT = 10_000
TEXT_KEYS = (
    "title",
    "label",
    "corner",
    "total_label",
    "row_label_header",
    "missing_label",
    "other_label",
)
TEXT_LISTS = ("notes", "footnotes")
TEXT_MAPS = ("labels", "band_labels")
# The names of the statistics behind a printed cell (the numbers sheet); symbols
# (n, %, Q1, Q3) read the same in every language.
STATISTICS = {
    "mean": N_("mean"),
    "median": N_("median"),
    "minimum": N_("minimum"),
    "maximum": N_("maximum"),
    "value": N_("value"),
    "SD": N_("SD"),
}
# The context of a table's name in the catalogs: its sheet's name in the workbook.
SHEET_CONTEXT = "sheet name"


def _map_texts(value: Any) -> Iterator[str]:
    """Value labels: ``{code = "label"}``, or one such map per variable."""
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, str):
                yield item
            else:
                yield from _map_texts(item)
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def table_texts(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in TEXT_KEYS and isinstance(value, str):
                yield value
            elif key in TEXT_LISTS and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key in TEXT_MAPS:
                yield from _map_texts(value)
            elif key == "categories" and data.get("stat") == "breakdown":
                continue  # abbreviations inside the printed cells ("4 (f=3, m=1)")
            elif key == "categories" and isinstance(value, list):
                # [code, label] pairs; a code alone has its label elsewhere
                yield from (
                    pair[1]
                    for pair in value
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)
                )
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
    if isinstance(data.get("name"), str):
        yield 0, "pgettext", (SHEET_CONTEXT, data["name"]), ["sheet name, at most 31 characters"]


def statistic_text(name: str) -> str:
    """A statistic's name on the numbers sheet (``mean``, ``n f``) in the current language."""
    from flask import has_app_context
    from flask_babel import gettext

    if name in STATISTICS and has_app_context():
        return gettext(STATISTICS[name])
    return name


def localised_rows(columns: Sequence[Any], rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """Listing rows with the value labels of their text columns (``Female``,
    ``Unemployed``; a list as ``A; B``) in the current language; study IDs, codes and
    free text have no catalog entry and stay as they are."""
    from flask_babel import get_locale

    text_columns = [i for i, c in enumerate(columns) if c.kind == "text" and c.key != "label"]
    if not text_columns or str(get_locale() or "en").startswith("en"):
        yield from rows
        return
    known: dict[str, str] = {}
    text = spec_texts()

    def shown(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        found = known.get(value)
        if found is None:
            found = "; ".join(text(part) for part in value.split("; "))
            if len(known) < MEMO_LIMIT:
                known[value] = found
        return found

    for row in rows:
        for i in text_columns:
            row[i] = shown(row[i])
        yield row


def sheet_text(name: str) -> str:
    """A table's sheet name in the current language (its name without an entry)."""
    from flask import has_app_context
    from flask_babel import pgettext

    if not has_app_context():
        return name
    return pgettext(SHEET_CONTEXT, name)


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
    text = spec_texts()  # each text translated once
    chart = result.chart
    if chart is not None:
        chart = replace(chart, title=text(chart.title), y_title=text(chart.y_title))
    listing = result.listing
    if listing is not None:
        columns = tuple(replace(c, label=text(c.label)) for c in listing.columns)
        listing = replace(listing, columns=columns)
    return replace(
        result,
        title=text(result.title),
        corner=text(result.corner),
        columns=[replace(c, label=text(c.label), parent=text(c.parent)) for c in result.columns],
        rows=[replace(r, label=text(r.label)) for r in result.rows],
        footnotes=[text(n) for n in result.footnotes],
        notes=[text(n) for n in result.notes],
        listing=listing,
        chart=chart,
    )
