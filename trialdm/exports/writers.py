"""Plain-text parts of an export: the CSV data files, the codebook (CSV and HTML),
the readme and the R script. Each writes into an open zip member as rows arrive."""

from __future__ import annotations

import codecs
import csv
import html
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from flask_babel import get_locale, gettext

from trialdm.core.errors import N_
from trialdm.exports.datasets import (
    MISSING_LABELS,
    MISSING_VALUES,
    Dataset,
    Row,
    Variable,
)
from trialdm.exports.wording import (
    TYPE_NAMES,
    catalog_text,
    missing_text,
    value_label,
    variable_label,
)
from trialdm.instruments.definitions import MISSING_CODES, Missing

CODEBOOK_COLUMNS = (
    N_("dataset"),
    N_("variable"),
    N_("name_in_file"),
    N_("label"),
    N_("type"),
    N_("unit"),
    N_("choices (code = label)"),
    N_("values in .sav/.dta (number = label)"),
    N_("minimum"),
    N_("maximum"),
    N_("missing-data codes"),
    N_("instrument"),
    N_("instrument versions"),
    N_("identifier"),
    N_("note"),
)

# The readme's words for the job's ``identifiers`` choice.
IDENTIFIERS = {"include": N_("included"), "exclude": N_("excluded")}


@dataclass(frozen=True)
class NamedVariable:
    """A variable with the name it has in one file format (Stata allows 32
    characters, SPSS 64), and why the name differs when it does."""

    variable: Variable
    name: str
    note: str = ""
    # the variable label as the file holds it (Stata: at most 80 characters)
    file_label: str | None = None


def number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value) if isinstance(value, float) else str(value)


def csv_cell(variable: Variable, value: Any, labels: bool) -> str:
    """One cell as text: codes (``labels`` False) or their labels."""
    if value is None:
        return ""
    if isinstance(value, Missing):
        return MISSING_CODES[value.code] if labels else str(MISSING_VALUES[value.code])
    if variable.kind == "code":
        if labels:
            return dict(variable.choices).get(value, value)
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        if labels and variable.value_labels:
            found = dict(variable.value_labels).get(int(value)) if value == int(value) else None
            if found is not None:
                return found
        return number_text(value)
    return str(value)


# What the csv module writes as it should unchanged: text, whole numbers, blanks.
UNCHANGED: frozenset[type] = frozenset({str, int, type(None)})
# ... and, in a row of codes, dates: the csv module writes str(date), its ISO text.
PLAIN: frozenset[type] = UNCHANGED | {date}
PLAIN_OR_FLOAT: frozenset[type] = PLAIN | {float}


def cell_writer(variable: Variable, labels: bool) -> tuple[frozenset[type], Callable[[Any], str]]:
    """How one variable's cells are written: the value types the csv module takes
    as they are (none when labels replace codes or numbers), and :func:`csv_cell`
    for the rest. Decided once per column, so a common cell costs one type test."""

    def convert(value: Any) -> str:
        return csv_cell(variable, value, labels)

    if labels and (variable.kind == "code" or variable.value_labels):
        return frozenset(), convert
    if variable.kind == "date":

        def day(value: Any) -> str:
            return value.isoformat() if type(value) is date else csv_cell(variable, value, labels)

        return UNCHANGED, day
    if variable.kind in ("integer", "decimal"):

        def number(value: Any) -> str:
            if type(value) is float:
                return number_text(value)
            return csv_cell(variable, value, labels)

        return UNCHANGED, number
    return UNCHANGED, convert


def write_csv(target: IO[bytes], dataset: Dataset, rows: Iterable[Row], labels: bool) -> int:
    """Write the dataset as UTF-8 CSV (with a BOM so that Excel reads UTF-8); rows written."""
    # The BOM by hand: TextIOWrapper encodes plain UTF-8 in C, while the
    # utf-8-sig codec costs a Python call on every row written.
    target.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(target, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow([v.name for v in dataset.variables])
    columns = [cell_writer(v, labels) for v in dataset.variables]
    kept = [unchanged for unchanged, _ in columns]
    converters = [convert for _, convert in columns]
    # Codes as they are: a row of text, whole numbers, blanks and dates (which the csv
    # module writes as their ISO text) goes out unchanged, found by one C-level pass
    # over its types; floats need only the number columns redone. Other rows (labels,
    # missing-data codes) go cell by cell.
    direct = not labels
    numbers = [i for i, v in enumerate(dataset.variables) if v.kind in ("integer", "decimal")]
    write = writer.writerow
    count = 0
    for row in rows:
        count += 1
        if direct:
            types = set(map(type, row))
            if types <= PLAIN:
                write(row)
                continue
            if types <= PLAIN_OR_FLOAT:
                cells = list(row)
                for i in numbers:
                    if type(cells[i]) is float:
                        cells[i] = number_text(cells[i])
                write(cells)
                continue
        write(
            [
                value if type(value) in unchanged else convert(value)
                for value, unchanged, convert in zip(row, kept, converters, strict=True)
            ]
        )
    text.flush()
    text.detach()
    return count


def _choices_text(variable: Variable) -> str:
    pairs = variable.choices if variable.kind == "code" else variable.value_labels
    return " | ".join(f"{code} = {value_label(variable, code, label)}" for code, label in pairs)


def _numbered_text(variable: Variable) -> str:
    """The numbers .sav/.dta store and their labels (a code's number is its place)."""
    codes: list[Any] = [code for code, _ in variable.choices] if variable.kind == "code" else []
    parts = []
    for number, label in variable.numbered_labels():
        if number in MISSING_LABELS and MISSING_LABELS[number] == label:
            shown = catalog_text(label)
        elif codes and 0 < number <= len(codes):
            shown = value_label(variable, codes[number - 1], label)
        else:
            shown = value_label(variable, number, label)
        parts.append(f"{number} = {shown}")
    return " | ".join(parts)


def codebook_rows(
    datasets: Iterable[tuple[Dataset, list[NamedVariable]]],
) -> Iterator[list[str]]:
    """The codebook's lines, in the language of the build (names and codes as they are)."""
    missing = missing_text()
    for dataset, named in datasets:
        for item in named:
            v = item.variable
            yield [
                dataset.name,
                v.name,
                item.name,
                variable_label(v),
                gettext(TYPE_NAMES[v.kind]),
                catalog_text(v.unit or ""),
                _choices_text(v) if v.kind == "code" or v.value_labels else "",
                _numbered_text(v),
                "" if v.minimum is None else str(v.minimum),
                "" if v.maximum is None else str(v.maximum),
                missing if v.missing_codes else "",
                v.instrument or "",
                v.versions or "",
                gettext("yes") if v.identifier else "",
                item.note,
            ]


def write_codebook_csv(target: IO[bytes], rows: Iterable[list[str]]) -> None:
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([gettext(c) for c in CODEBOOK_COLUMNS])
    writer.writerows(rows)
    text.flush()
    text.detach()


def write_codebook_html(target: IO[bytes], title: str, rows: Iterable[list[str]]) -> None:
    """The codebook as one readable page (every cell escaped; right-to-left text kept)."""
    language = str(get_locale() or "en")
    out = io.TextIOWrapper(target, encoding="utf-8", newline="\n")
    esc = html.escape
    out.write(
        f"<!doctype html>\n<html lang='{esc(language)}' dir='auto'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;"
        "vertical-align:top;unicode-bidi:plaintext}th{background:#eee}</style></head><body>"
        f"<h1>{esc(title)}</h1><table><thead><tr>"
    )
    out.write("".join(f"<th>{esc(gettext(c))}</th>" for c in CODEBOOK_COLUMNS))
    out.write("</tr></thead><tbody>\n")
    for row in rows:
        out.write("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>\n")
    out.write("</tbody></table></body></html>\n")
    out.flush()
    out.detach()


def readme_text(
    *,
    trial: str,
    scope: str,
    export_format: str,
    labels: str,
    identifiers: str,
    read_at: datetime,
    requested_by: str,
    software: str,
    job_id: int,
    datasets: Iterable[tuple[str, int, list[str]]],
    files: Iterable[str],
) -> str:
    values = gettext("labels") if labels == "labels" else gettext("codes")
    lines = [
        gettext("%(trial)s: item-level data export", trial=trial),
        "",
        gettext("Scope: %(scope)s", scope=scope),
        gettext("Format: %(format)s", format=export_format),
        gettext("Values: %(values)s in the CSV files", values=values),
        gettext(
            "Identifiers: %(identifiers)s",
            identifiers=gettext(IDENTIFIERS.get(identifiers, identifiers)),
        ),
        gettext("Data read at: %(time)s (UTC)", time=read_at.isoformat(timespec="seconds")),
        gettext("Requested by: %(person)s", person=requested_by),
        gettext("Software: %(software)s", software=software),
        gettext("Export job: %(job)s", job=job_id),
        "",
        gettext("Datasets (rows):"),
    ]
    left_out_lines = []
    for name, count, left_out in datasets:
        lines.append(f"  {name}: {count}")
        if left_out:
            left_out_lines.append(f"  {name}: {', '.join(left_out)}")
    lines += ["", gettext("Left out as identifying:")]
    lines += left_out_lines or ["  " + gettext("nothing")]
    codes = ", ".join(f"{n} = {label}" for n, label in sorted(MISSING_LABELS.items()))
    lines += [
        "",
        gettext(
            "Missing-data codes: %(codes)s (declared missing in .sav; in Stata, "
            "missing_codes.do makes them .a/.b/.c).",
            codes=codes,
        ),
        gettext(
            "A multiple-choice field is one 0/1 column per choice (field___code), as in "
            "REDCap; a date field has a companion column field_missing for its "
            "missing-data code."
        ),
        gettext("Blank means not answered. Text is UTF-8."),
        "",
        gettext("Files:"),
        *(f"  {name}" for name in files),
        "",
    ]
    return "\n".join(lines)


def _r_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def r_script(datasets: Iterable[Dataset]) -> str:
    """A script that reads each CSV with the right column types, makes factors of
    the coded columns and sets each variable's label (attribute ``label``, which
    RStudio, Hmisc and labelled show)."""
    col = {"string": "character", "code": "character", "integer": "integer", "decimal": "numeric"}
    lines = [
        "# Reads the exported CSV files: codes become factors, missing-data codes",
        "# (-7, -8, -9) become NA with the code kept in attribute 'missing_code'.",
        "# Run from the folder holding the CSV files: source('read_data.R')",
        "",
        "read_dataset <- function(file, classes, labels, factors, labelled) {",
        "  data <- read.csv(file, colClasses = classes, encoding = 'UTF-8',",
        "                   fileEncoding = 'UTF-8-BOM', na.strings = '', check.names = FALSE)",
        "  for (name in names(factors)) {",
        "    codes <- data[[name]]",
        "    missing <- codes %in% c('-7', '-8', '-9')",
        "    attr_codes <- ifelse(missing, codes, NA)",
        "    codes[missing] <- NA",
        "    data[[name]] <- factor(codes, levels = factors[[name]]$levels,",
        "                           labels = factors[[name]]$labels)",
        "    if (any(missing)) attr(data[[name]], 'missing_code') <- attr_codes",
        "  }",
        "  for (name in names(data)) {",
        "    if (is.numeric(data[[name]]) && !(name %in% labelled)) {",
        "      missing <- !is.na(data[[name]]) & data[[name]] %in% c(-7, -8, -9)",
        "      if (any(missing) && name %in% names(labels$missing)) {",
        "        attr(data[[name]], 'missing_code') <- ifelse(missing, data[[name]], NA)",
        "        data[[name]][missing] <- NA",
        "      }",
        "    }",
        "    attr(data[[name]], 'label') <- labels$labels[[name]]",
        "  }",
        "  data",
        "}",
        "",
    ]
    for dataset in datasets:
        classes = []
        labels = []
        factors = []
        missing = []
        for v in dataset.variables:
            classes.append(f"{_r_string(v.name)} = {_r_string(col.get(v.kind, 'character'))}")
            labels.append(f"{_r_string(v.name)} = {_r_string(v.label)}")
            if v.kind == "code":
                levels = ", ".join(_r_string(code) for code, _ in v.choices)
                names = ", ".join(_r_string(label) for _, label in v.choices)
                factors.append(
                    f"{_r_string(v.name)} = list(levels = c({levels}), labels = c({names}))"
                )
            elif v.missing_codes:
                missing.append(f"{_r_string(v.name)} = TRUE")
        lines += [
            f"{dataset.name} <- read_dataset(",
            f"  {_r_string(dataset.name + '.csv')},",
            f"  classes = c({', '.join(classes)}),",
            f"  labels = list(labels = list({', '.join(labels)}),",
            f"                missing = list({', '.join(missing)})),",
            f"  factors = list({', '.join(factors)}),",
            "  labelled = character(0)",
            ")",
        ]
        dates = [v.name for v in dataset.variables if v.kind == "date"]
        for name in dates:
            lines.append(
                f"{dataset.name}[[{_r_string(name)}]] <- "
                f"structure(as.Date({dataset.name}[[{_r_string(name)}]]), "
                f"label = attr({dataset.name}[[{_r_string(name)}]], 'label'))"
            )
        lines.append("")
    return "\n".join(lines)
