"""A table as plain text for the terminal (``trialdm tables preview``): the same
printed cells as the JSON, the HTML preview and the workbook."""

from __future__ import annotations

from typing import Any


def _line(cells: list[str], widths: list[int]) -> str:
    first, *rest = cells
    parts = [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
    return "  ".join(parts).rstrip()


def render_text(table: dict[str, Any], listing_limit: int = 20) -> str:
    columns = table["columns"]
    show_n = table.get("n_below_header", True)
    header = [table["corner"], *[c["label"] for c in columns]]
    lines: list[list[str]] = []
    groups = [c.get("group") or "" for c in columns]
    if any(groups):
        shown, previous = [], None
        for group in groups:
            shown.append(group if group != previous else "")
            previous = group
        lines.append(["", *shown])
    lines.append(header)
    if show_n:
        lines.append(["", *[f"N = {c['n']}" for c in columns]])
    for row in table["rows"]:
        indent = "  " if row["kind"] in ("category", "missing") else ""
        lines.append([indent + row["label"], *[c["text"] for c in row["cells"]]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [table["title"], ""]
    out += [_line(line, widths) for line in lines]
    listing = table.get("listing")
    if listing and listing["rows"]:
        rows = [[("" if v is None else str(v)) for v in r] for r in listing["rows"][:listing_limit]]
        head = listing["columns"]
        widths = [max(len(x) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(head)]
        out += ["", "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
        out += [
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        if len(listing["rows"]) > listing_limit:
            out.append(f"... {len(listing['rows']) - listing_limit} more lines in the workbook")
    notes = [*table.get("footnotes", []), *table.get("notes", [])]
    if notes:
        out.append("")
        out += notes
    return "\n".join(out)
