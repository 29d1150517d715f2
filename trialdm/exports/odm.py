"""CDISC ODM 1.3.2: the instruments' metadata and their data as one XML file.

Metadata: the study, its schedule events (plus an unscheduled, repeating event for
responses outside the schedule), one form and item group per instrument, one item
per exported column (a multiple choice is one 0/1 item per choice, like its CSV
columns), code lists with every language's labels, and the sites as locations.
Clinical data: one ``SubjectData`` per participant with its site, events, forms
and items. The instrument datasets, each sorted by study ID, are merged, so the
file is written subject by subject with lxml's incremental writer and only one
subject's responses are held at a time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from lxml import etree

from trialdm.exports.datasets import MISSING_LABELS, Dataset, Row, Variable
from trialdm.exports.writers import csv_cell

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
UNSCHEDULED = "UNSCHEDULED"
# Columns of an instrument dataset that say where a response belongs, not items.
KEY_COLUMNS = ("study_id", "site", "event")
DATA_TYPES = {"string": "text", "code": "text", "integer": "integer", "decimal": "float"}
DATA_TYPES["date"] = "date"


def item_oid(dataset: str, variable: str) -> str:
    return f"I.{dataset}.{variable}"


def _text(xf: Any, tag: str, translations: Iterable[tuple[str, str]]) -> None:
    with xf.element(tag):
        for language, text in translations:
            el = etree.Element("TranslatedText", {XML_LANG: language})
            el.text = text
            xf.write(el)


def _items(dataset: Dataset) -> list[tuple[int, Variable]]:
    return [(i, v) for i, v in enumerate(dataset.variables) if v.name not in KEY_COLUMNS]


def _codes(variable: Variable) -> list[tuple[str, list[tuple[str, str]]]]:
    """(coded value, translations) of a variable with a code list, else []."""
    translated = {value: list(texts) for value, texts in variable.choice_translations}
    if variable.kind == "code":
        items = [(c, translated.get(c) or [("en", label)]) for c, label in variable.choices]
    elif variable.value_labels:
        items = [(str(n), translated.get(n) or [("en", lab)]) for n, lab in variable.value_labels]
    else:
        return []
    if variable.missing_codes:
        items += [(str(n), [("en", label)]) for n, label in sorted(MISSING_LABELS.items())]
    return items


def write_odm(
    target: IO[bytes],
    *,
    trial: str,
    study_oid: str,
    events: Sequence[str],
    sites: Sequence[tuple[str, str]],
    datasets: Sequence[Dataset],
    streams: Sequence[Iterator[Row]],
    read_at: datetime,
    file_oid: str,
    software: str,
) -> dict[str, int]:
    """Write the ODM file; return the number of forms (responses) per dataset."""
    mdv = "MDV.1"
    counts = {d.name: 0 for d in datasets}
    with etree.xmlfile(target, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(
            f"{{{NS}}}ODM",
            {
                "FileType": "Snapshot",
                "FileOID": file_oid,
                "CreationDateTime": read_at.isoformat(timespec="seconds"),
                "ODMVersion": "1.3.2",
                "SourceSystem": "trialdm",
                "SourceSystemVersion": software,
            },
            nsmap={None: NS},
        ):
            _metadata(xf, trial, study_oid, mdv, events, datasets)
            with xf.element("AdminData", {"StudyOID": study_oid}):
                for code, name in sites:
                    with xf.element(
                        "Location", {"OID": f"LOC.{code}", "Name": name, "LocationType": "Site"}
                    ):
                        xf.write(
                            etree.Element(
                                "MetaDataVersionRef",
                                {
                                    "StudyOID": study_oid,
                                    "MetaDataVersionOID": mdv,
                                    "EffectiveDate": read_at.date().isoformat(),
                                },
                            )
                        )
            with xf.element("ClinicalData", {"StudyOID": study_oid, "MetaDataVersionOID": mdv}):
                _clinical(xf, events, datasets, streams, counts)
    return counts


def _metadata(
    xf: Any,
    trial: str,
    study_oid: str,
    mdv: str,
    events: Sequence[str],
    datasets: Sequence[Dataset],
) -> None:
    with xf.element("Study", {"OID": study_oid}):
        with xf.element("GlobalVariables"):
            for tag in ("StudyName", "StudyDescription", "ProtocolName"):
                el = etree.Element(tag)
                el.text = trial
                xf.write(el)
        with xf.element("MetaDataVersion", {"OID": mdv, "Name": f"{trial} instruments"}):
            all_events = [*events, UNSCHEDULED]
            with xf.element("Protocol"):
                for order, event in enumerate(all_events, start=1):
                    xf.write(
                        etree.Element(
                            "StudyEventRef",
                            {
                                "StudyEventOID": f"SE.{event}",
                                "OrderNumber": str(order),
                                "Mandatory": "No",
                            },
                        )
                    )
            for event in all_events:
                scheduled = event != UNSCHEDULED
                with xf.element(
                    "StudyEventDef",
                    {
                        "OID": f"SE.{event}",
                        "Name": event if scheduled else "Outside the schedule",
                        "Repeating": "No" if scheduled else "Yes",
                        "Type": "Scheduled" if scheduled else "Unscheduled",
                    },
                ):
                    for d in datasets:
                        if not scheduled or event in _events_of(d):
                            xf.write(
                                etree.Element(
                                    "FormRef", {"FormOID": f"F.{d.name}", "Mandatory": "No"}
                                )
                            )
            for d in datasets:
                with xf.element(
                    "FormDef", {"OID": f"F.{d.name}", "Name": d.label, "Repeating": "No"}
                ):
                    xf.write(
                        etree.Element(
                            "ItemGroupRef", {"ItemGroupOID": f"IG.{d.name}", "Mandatory": "Yes"}
                        )
                    )
            for d in datasets:
                with xf.element(
                    "ItemGroupDef", {"OID": f"IG.{d.name}", "Name": d.label, "Repeating": "No"}
                ):
                    for order, (_, v) in enumerate(_items(d), start=1):
                        xf.write(
                            etree.Element(
                                "ItemRef",
                                {
                                    "ItemOID": item_oid(d.name, v.name),
                                    "OrderNumber": str(order),
                                    "Mandatory": "No",
                                },
                            )
                        )
            for d in datasets:
                for _, v in _items(d):
                    _item_def(xf, d, v)
            for d in datasets:
                for _, v in _items(d):
                    codes = _codes(v)
                    if not codes:
                        continue
                    data_type = "text" if v.kind == "code" else "integer"
                    with xf.element(
                        "CodeList",
                        {"OID": f"CL.{d.name}.{v.name}", "Name": v.name, "DataType": data_type},
                    ):
                        for value, texts in codes:
                            with xf.element("CodeListItem", {"CodedValue": value}):
                                _text(xf, "Decode", texts)


def _events_of(dataset: Dataset) -> set[str]:
    found: set[str] = set()
    for definition in dataset.definitions:
        found |= set(definition.events)
    return found


def _item_def(xf: Any, d: Dataset, v: Variable) -> None:
    attrs = {"OID": item_oid(d.name, v.name), "Name": v.name, "DataType": DATA_TYPES[v.kind]}
    with xf.element("ItemDef", attrs):
        notes = []
        if v.unit:
            notes.append(f"Unit: {v.unit}")
        if v.missing_codes:
            codes = ", ".join(f"{n} = {label}" for n, label in sorted(MISSING_LABELS.items()))
            notes.append(f"Missing-data codes: {codes}")
        if v.identifier:
            notes.append("Identifies a person")
        if notes:
            _text(xf, "Description", [("en", "; ".join(notes))])
        _text(xf, "Question", v.translations or [("en", v.label)])
        for comparator, bound in (("GE", v.minimum), ("LE", v.maximum)):
            if bound is None:
                continue
            with xf.element("RangeCheck", {"Comparator": comparator, "SoftHard": "Hard"}):
                el = etree.Element("CheckValue")
                el.text = bound.isoformat() if hasattr(bound, "isoformat") else str(bound)
                xf.write(el)
        if _codes(v):
            xf.write(etree.Element("CodeListRef", {"CodeListOID": f"CL.{d.name}.{v.name}"}))


def _position(dataset: Dataset, name: str) -> int:
    return next(i for i, v in enumerate(dataset.variables) if v.name == name)


def _tagged(index: int, rows: Iterator[Row]) -> Iterator[tuple[str, int, Row]]:
    for row in rows:
        yield row[0], index, row


def _clinical(
    xf: Any,
    events: Sequence[str],
    datasets: Sequence[Dataset],
    streams: Sequence[Iterator[Row]],
    counts: dict[str, int],
) -> None:
    order = {event: i for i, event in enumerate(events)}
    merged = heapq.merge(*(_tagged(i, s) for i, s in enumerate(streams)), key=lambda t: t[0])
    subject: str | None = None
    buffered: list[tuple[int, Row]] = []
    for study_id, index, row in merged:
        if study_id != subject and buffered:
            _subject(xf, buffered, datasets, order, counts)
            buffered = []
        subject = study_id
        buffered.append((index, row))
    if buffered:
        _subject(xf, buffered, datasets, order, counts)


def _subject(
    xf: Any,
    rows: list[tuple[int, Row]],
    datasets: Sequence[Dataset],
    order: dict[str, int],
    counts: dict[str, int],
) -> None:
    study_id, site = rows[0][1][0], rows[0][1][1]
    scheduled: dict[str, list[tuple[int, Row]]] = {}
    unscheduled: list[tuple[int, Row]] = []
    for index, row in rows:
        event = row[_position(datasets[index], "event")]
        if event is None:
            unscheduled.append((index, row))
        else:
            scheduled.setdefault(event, []).append((index, row))
    with xf.element("SubjectData", {"SubjectKey": study_id}):
        xf.write(etree.Element("SiteRef", {"LocationOID": f"LOC.{site}"}))
        for event in sorted(scheduled, key=lambda e: (order.get(e, len(order)), e)):
            with xf.element("StudyEventData", {"StudyEventOID": f"SE.{event}"}):
                for index, row in scheduled[event]:
                    _form(xf, datasets[index], row, counts)
        for repeat, (index, row) in enumerate(unscheduled, start=1):
            with xf.element(
                "StudyEventData",
                {"StudyEventOID": f"SE.{UNSCHEDULED}", "StudyEventRepeatKey": str(repeat)},
            ):
                _form(xf, datasets[index], row, counts)


def _form(xf: Any, d: Dataset, row: Row, counts: dict[str, int]) -> None:
    counts[d.name] += 1
    with (
        xf.element("FormData", {"FormOID": f"F.{d.name}"}),
        xf.element("ItemGroupData", {"ItemGroupOID": f"IG.{d.name}"}),
    ):
        for index, v in _items(d):
            value = row[index]
            if value is None:
                continue
            xf.write(
                etree.Element(
                    "ItemData",
                    {"ItemOID": item_oid(d.name, v.name), "Value": csv_cell(v, value, False)},
                )
            )
