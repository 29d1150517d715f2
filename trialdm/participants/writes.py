"""A participant's creation on PostgreSQL in one statement.

The participant's INSERT (the study ID drawn inside it by ``trialdm_next_study_id``),
the INSERT of its diagnoses and that of its audit row are data-modifying parts of
one ``WITH`` statement: one round trip where the unit of work needs three, and none
of its per-flush work. The rows are those the flush writes, the audit row character
for character (:func:`trialdm.core.audit.insert_event`), in the same transaction; the
session is left as after a flush (:mod:`trialdm.core.direct_writes`). The statement
is written once, for every column of the table, so it is prepared by the server
after a few uses and never built or keyed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Integer, String, TextClause, bindparam, text
from sqlalchemy.orm import Session, class_mapper

from trialdm.core.audit import AuditEvent, insert_event
from trialdm.core.direct_writes import after_direct_insert, before_direct_insert
from trialdm.participants.models import Participant, ParticipantDiagnosis

# Filled by the server; the audit row's JSON gets them from the INSERT's RETURNING.
SERVER_KEYS = frozenset({"id", "study_id"})
_SERVER_JSON = {
    "id": "CAST(p.id AS TEXT)",
    # to_json escapes as json.dumps does for ASCII text (study IDs are, see below)
    "study_id": "CAST(to_json(p.study_id) AS TEXT)",
}


def can_insert_in_one_statement(session: Session, study_id_prefix: str) -> bool:
    """PostgreSQL only; the study ID's JSON is written by the server, which leaves
    non-ASCII characters unescaped where json.dumps escapes them."""
    return session.get_bind().dialect.name == "postgresql" and study_id_prefix.isascii()


@cache
def _columns() -> tuple[tuple[str, Any], ...]:
    """(attribute, column) of every column the INSERT sets, in the statement's order."""
    mapper = class_mapper(Participant)
    return tuple((p.key, p.columns[0]) for p in mapper.column_attrs if p.key != "id")


@cache
def _bound_keys() -> tuple[str, ...]:
    return tuple(key for key, _ in _columns() if key != "study_id")


@cache
def _statement(server_keys: tuple[str, ...]) -> TextClause:
    columns = _columns()
    values = [
        "trialdm_next_study_id(:study_id_site, :study_id_category, :study_id_prefix, "
        ":study_id_width)"
        if key == "study_id"
        else f":{key}"
        for key, _ in columns
    ]
    changes = " || ".join(
        piece
        for index, key in enumerate(server_keys)
        for piece in (f"CAST(:changes_{index} AS TEXT)", _SERVER_JSON[key])
    )
    changes = f"CAST({changes} || CAST(:changes_{len(server_keys)} AS TEXT) AS JSON)"
    audit_columns = [c.name for c in AuditEvent.__table__.columns if c.name != "id"]
    audit_values = [
        "CAST(p.id AS VARCHAR)"
        if name == "entity_id"
        else changes
        if name == "changes"
        else f":audit_{name}"
        for name in audit_columns
    ]
    sql = f"""
WITH p AS (
    INSERT INTO participants ({", ".join(column.name for _, column in columns)})
    VALUES ({", ".join(values)})
    RETURNING participants.id, participants.study_id
), d AS (
    INSERT INTO participant_diagnoses (participant_id, position, code, text)
    SELECT p.id, x.n - 1, x.code, x.text
    FROM p, unnest(CAST(:diagnosis_codes AS VARCHAR[]), CAST(:diagnosis_texts AS VARCHAR[]))
        WITH ORDINALITY AS x(code, text, n)
    ORDER BY x.n
    RETURNING participant_diagnoses.id, participant_diagnoses.position
), a AS (
    INSERT INTO audit_events ({", ".join(audit_columns)})
    SELECT {", ".join(audit_values)} FROM p
)
SELECT p.id, p.study_id, ARRAY(SELECT d.id FROM d ORDER BY d.position) FROM p"""
    audit_table = AuditEvent.__table__
    # One line: logs and libpq's trace show it whole.
    return text(" ".join(sql.split())).bindparams(
        *(bindparam(key, type_=column.type) for key, column in columns if key != "study_id"),
        bindparam("study_id_site", type_=String()),
        bindparam("study_id_category", type_=String()),
        bindparam("study_id_prefix", type_=String()),
        bindparam("study_id_width", type_=Integer()),
        bindparam("diagnosis_codes", type_=ARRAY(String())),
        bindparam("diagnosis_texts", type_=ARRAY(String())),
        *(
            bindparam(f"audit_{name}", type_=audit_table.c[name].type)
            for name in audit_columns
            if name not in ("entity_id", "changes")
        ),
        *(bindparam(f"changes_{index}", type_=String()) for index in range(len(server_keys) + 1)),
    )


def insert_participant(
    session: Session,
    fields: Mapping[str, Any],
    diagnoses: list[dict[str, Any]],
    study_id_parts: tuple[str, int],
    now: datetime,
) -> Participant:
    """Insert a participant with ``fields`` (a value for some columns; the others are
    null as a flush leaves them) and ``diagnoses``, and its audit row, in one
    statement; return it persistent in ``session``."""
    values: dict[str, Any] = dict.fromkeys(key for key, _ in _columns())
    values.update(fields)
    values.update(created_at=now, updated_at=now, version_id=1, study_id=None)
    children = [
        ParticipantDiagnosis(position=position, code=d["code"], text=d.get("text"))
        for position, d in enumerate(diagnoses)
    ]
    participant = Participant(**values, diagnoses=children)
    before_direct_insert(session, [participant, *children])
    event = insert_event(participant, SERVER_KEYS)
    prefix, width = study_id_parts
    params = {key: values[key] for key in _bound_keys()}
    params.update(
        study_id_site=values["site_code"],
        study_id_category=values["category"],
        study_id_prefix=prefix,
        study_id_width=width,
        diagnosis_codes=[child.code for child in children],
        diagnosis_texts=[child.text for child in children],
        **{f"audit_{name}": value for name, value in event.row.items()},
        **{f"changes_{index}": part for index, part in enumerate(event.parts)},
    )
    new_id, study_id, diagnosis_ids = (
        session.connection().execute(_statement(event.server_keys), params).one()
    )
    participant.id = new_id
    participant.study_id = study_id
    for child, child_id in zip(children, diagnosis_ids, strict=True):
        child.id = child_id
        child.participant_id = new_id
    after_direct_insert(session, participant, [participant, *children])
    return participant
