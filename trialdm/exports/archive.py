"""One export as one zip: the datasets in the chosen format, the codebook (CSV and
HTML), a readme saying what was read when and by whom and what was left out, and
for R the script that reads the CSV files. The zip is written beside its final
name and renamed when complete, so a repeated or interrupted build never leaves a
half-written file under the name that is downloaded."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.audit import AuditEvent
from trialdm.core.errors import N_, DomainError
from trialdm.exports.datasets import Dataset, Row, Variable, instrument_dataset, instrument_names
from trialdm.exports.odm import write_odm
from trialdm.exports.statfiles import file_names, stata_missing_do, write_stat_file
from trialdm.exports.tables import TABLES, participants_dataset
from trialdm.exports.writers import (
    NamedVariable,
    codebook_rows,
    r_script,
    readme_text,
    write_codebook_csv,
    write_codebook_html,
    write_csv,
)

AUDIT = "audit"
STAT_SUFFIX = {"spss": "sav", "stata": "dta"}


@dataclass(frozen=True)
class ArchiveRequest:
    job_id: int
    scope_label: str
    export_format: str
    dataset_names: Sequence[str]
    labels: str
    identifiers: str
    requested_by: str
    read_at: datetime
    # the requester may see the allocation lists (positions in the participants dataset)
    list_positions: bool = False


def dataset_names(session: Session) -> list[str]:
    """Every dataset an export may hold: the instruments, then the fixed tables."""
    names = instrument_names(session)
    clash = sorted(set(names) & set(TABLES))
    if clash:
        raise DomainError(f"Instruments named like a dataset cannot be exported: {clash}.")
    return names + list(TABLES)


def load_datasets(
    session: Session, names: Sequence[str], read_on: date, list_positions: bool = False
) -> list[Dataset]:
    """``list_positions``: the participants dataset holds each allocation's list and
    position (concealed from everyone but those who may see the allocation lists)."""
    instruments = set(instrument_names(session))
    return [
        instrument_dataset(session, name)
        if name in instruments
        else participants_dataset(read_on, list_positions)
        if name == "participants"
        else TABLES[name](read_on)
        for name in names
    ]


def audit_dataset() -> Dataset:
    """The audit trail of the scope, one row per changed field (or per event)."""
    text = ("user", "role", "source", "action", "entity", "entity_id", "site", "field")
    variables = [
        Variable("audit_id", N_("Audit event number"), "integer"),
        Variable("at_utc", N_("When (UTC, ISO 8601)"), "string"),
        *(Variable(name, name.replace("_", " ").capitalize(), "string") for name in text),
        Variable("old", N_("Old value (JSON)"), "string"),
        Variable("new", N_("New value (JSON)"), "string"),
        Variable("reason", N_("Reason given"), "string"),
    ]
    a = AuditEvent
    stmt = select(
        a.id, a.at, a.user_email, a.role, a.source, a.action, a.entity, a.entity_id
    ).add_columns(a.site_code, a.changes, a.reason)

    def as_json(value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def rows(session: Session) -> Iterator[Row]:
        from trialdm.exports.datasets import stream

        for e in stream(session, stmt.order_by(a.id)):
            at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)  # SQLite drops the zone
            head = (e.id, at.astimezone(UTC).isoformat(), e.user_email, e.role, e.source)
            head += (e.action, e.entity, e.entity_id, e.site_code)
            changes = e.changes or {}
            if not changes:
                yield (*head, None, None, None, e.reason)
            for name, change in sorted(changes.items()):
                if isinstance(change, list) and len(change) == 2:
                    yield (*head, name, as_json(change[0]), as_json(change[1]), e.reason)
                else:
                    yield (*head, name, None, as_json(change), e.reason)

    return Dataset(AUDIT, "Audit trail", variables, rows)


def _events(datasets: Sequence[Dataset]) -> list[str]:
    from trialdm.schedule.queries import schedule_events

    events = [e.name for e in schedule_events(current_app.config)]
    for d in datasets:
        for definition in d.definitions:
            events += [e for e in definition.events if e not in events]
    return events


def write_archive(
    session: Session,
    path: Path,
    request: ArchiveRequest,
    progress: Callable[[str], None],
    software: str,
) -> dict[str, Any]:
    """Write the export to ``path``; return per dataset its rows and what was left out."""
    fmt = request.export_format
    if fmt == AUDIT:
        datasets = [audit_dataset()]
    else:
        datasets = load_datasets(
            session, request.dataset_names, request.read_at.date(), request.list_positions
        )
    if request.identifiers == "exclude":
        datasets = [d.without_identifiers() for d in datasets]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    result: dict[str, Any] = {}
    named: list[tuple[Dataset, list[NamedVariable]]] = []
    files: list[str] = []
    try:
        with zipfile.ZipFile(
            temporary, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1
        ) as zf:
            as_csv = list(datasets)
            if fmt == "odm":
                forms = [d for d in datasets if d.definitions]
                as_csv = [d for d in datasets if not d.definitions]
                if forms:
                    progress("Writing the ODM file")
                    with zf.open("odm.xml", "w", force_zip64=True) as member:
                        counts = _write_odm(session, member, forms, request, software)
                    files.append("odm.xml")
                    for d in forms:
                        named.append((d, [NamedVariable(v, v.name) for v in d.variables]))
                        result[d.name] = {"rows": counts[d.name], "left_out": d.left_out}
            for d in as_csv:
                progress(f"Writing {d.name}")
                if fmt in STAT_SUFFIX:
                    names = file_names(d, fmt)
                    member_name = f"{d.name}.{STAT_SUFFIX[fmt]}"
                    with tempfile.TemporaryDirectory(dir=path.parent) as work:
                        stat_path = Path(work) / member_name
                        count = write_stat_file(stat_path, d, names, d.rows(session), fmt)
                        zf.write(stat_path, member_name)
                else:
                    names = [NamedVariable(v, v.name) for v in d.variables]
                    member_name = f"{d.name}.csv"
                    with zf.open(member_name, "w", force_zip64=True) as member:
                        labels = request.labels == "labels"
                        count = write_csv(member, d, d.rows(session), labels)
                files.append(member_name)
                named.append((d, names))
                result[d.name] = {"rows": count, "left_out": d.left_out}
            progress("Writing the codebook and readme")
            if fmt == "r":
                zf.writestr("read_data.R", r_script(datasets))
                files.append("read_data.R")
            if fmt == "stata":
                zf.writestr("missing_codes.do", stata_missing_do(named))
                files.append("missing_codes.do")
            with zf.open("codebook.csv", "w") as member:
                write_codebook_csv(member, codebook_rows(named))
            with zf.open("codebook.html", "w") as member:
                title = gettext("Codebook · %(scope)s", scope=request.scope_label)
                write_codebook_html(member, title, codebook_rows(named))
            files += ["codebook.csv", "codebook.html"]
            zf.writestr(
                "README.txt",
                readme_text(
                    trial=current_app.config["TRIAL_NAME"],
                    scope=request.scope_label,
                    export_format=fmt,
                    labels=request.labels,
                    identifiers=request.identifiers,
                    read_at=request.read_at,
                    requested_by=request.requested_by,
                    software=software,
                    job_id=request.job_id,
                    datasets=[(d.name, result[d.name]["rows"], d.left_out) for d in datasets],
                    files=files,
                ),
            )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return result


def _write_odm(
    session: Session, member: Any, forms: list[Dataset], request: ArchiveRequest, software: str
) -> dict[str, int]:
    from trialdm.sites.queries import list_sites

    trial = current_app.config["TRIAL_NAME"]
    sites = [(s.code, s.name) for s in list_sites(session)]
    return write_odm(
        member,
        trial=trial,
        study_oid="ST." + "".join(ch for ch in trial if ch.isalnum()),
        events=_events(forms),
        sites=sites,
        datasets=forms,
        streams=[d.rows(session) for d in forms],
        read_at=request.read_at,
        file_oid=f"trialdm.export.{request.job_id}",
        software=software,
    )
