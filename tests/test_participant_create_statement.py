"""A participant's creation writes the rows a flush writes: on PostgreSQL one WITH
statement writes the participant, its diagnoses and its audit row (the audit row's
changes JSON character for character as the flush listener writes it); the session
is left as a flush leaves it, on both databases."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.sql_helpers import inserted_tables, statements_during
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants import operations
from trialdm.participants.models import Participant, ParticipantDiagnosis

ENROLLED = date.today() - timedelta(days=200)
BODIES = [
    {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": ENROLLED.year - 40,
        "enrolment_date": ENROLLED.isoformat(),
        "consent_date": ENROLLED.isoformat(),
        "consent_version": "1.0",
        "arm": "intervention",
        "years_of_illness": 3.5,
        # non-ASCII and a quote: json.dumps escapes them, as the listener's JSON does
        "occupation": 'Bäcker "Zöpfe" ☃',
        "diagnoses": ["F20", {"code": "other", "text": "Grübeln \\ nachts"}, "F32"],
    },
    {"site": "ULM", "category": "psw", "gender": "male", "year_of_birth": 1980},
    {"site": "BU", "category": "mhw", "gender": "diverse", "age": 45, "profession": "nurse"},
]
SERVER_SET = {"id", "study_id", "created_at", "updated_at"}


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def stored(session, participant_id: int) -> dict:
    """The rows a creation wrote: participant, diagnoses, audit row (changes as text)."""
    conn = session.connection()
    participant = dict(
        conn.execute(sa.select(Participant.__table__).where(Participant.id == participant_id))
        .one()
        ._mapping
    )
    table = ParticipantDiagnosis.__table__
    diagnoses = conn.execute(
        sa.select(table.c.id, table.c.position, table.c.code, table.c.text)
        .where(table.c.participant_id == participant_id)
        .order_by(table.c.position)
    ).all()
    (audit,) = conn.execute(
        sa.text(
            "SELECT user_id, user_email, role, source, action, entity, entity_id, site_code, "
            "reason, request_id, CAST(changes AS TEXT) AS changes FROM audit_events "
            "WHERE entity = 'participants' AND entity_id = :id"
        ),
        {"id": str(participant_id)},
    ).all()
    return {"participant": participant, "diagnoses": diagnoses, "audit": dict(audit._mapping)}


@pytest.mark.parametrize("body", BODIES, ids=["service_user", "psw", "mhw"])
def test_one_statement_writes_what_the_flush_writes(api_as, db_session, monkeypatch, body):
    if not on_postgresql():
        pytest.skip("the one statement is PostgreSQL's; SQLite always flushes")
    api = api_as("research_worker", ["BU", "ULM"])
    direct = api.post("/api/v1/participants", json=body)
    flushed: list = []
    with monkeypatch.context() as patched:
        patched.setattr(operations, "can_insert_in_one_statement", lambda *args: False)
        seen = statements_during(
            lambda: flushed.append(api.post("/api/v1/participants", json=body))
        )
    assert direct.status_code == 201, direct.json
    assert flushed[0].status_code == 201, flushed[0].json
    assert not any(s.startswith("WITH ") for s in seen), seen  # written by the flush
    with all_sites():
        one, two = stored(db_session, direct.json["id"]), stored(db_session, flushed[0].json["id"])

    # the answers and the participant rows differ only in what the server sets
    def without_server_set(row: dict) -> dict:
        return {k: v for k, v in row.items() if k not in SERVER_SET}

    assert without_server_set(direct.json) == without_server_set(flushed[0].json)
    assert without_server_set(one["participant"]) == without_server_set(two["participant"])
    assert one["participant"]["version_id"] == 1
    assert [d[1:] for d in one["diagnoses"]] == [d[1:] for d in two["diagnoses"]]
    ids = [d.id for d in one["diagnoses"]]
    assert ids == sorted(ids)  # numbered in the order of their positions, as the flush does
    # the audit row: every column alike, and the changes text character for character
    # once the flush's id and study ID are put in the place of the statement's
    audit_one, audit_two = one["audit"], two["audit"]
    assert audit_one.pop("entity_id") == str(direct.json["id"])
    assert audit_two.pop("entity_id") == str(flushed[0].json["id"])
    assert audit_one.pop("request_id") and audit_two.pop("request_id")
    text_one, text_two = audit_one.pop("changes"), audit_two.pop("changes")
    assert audit_one == audit_two
    assert audit_one["action"] == "insert" and audit_one["source"] == "api"
    changes = json.loads(text_two)  # keys in the order of the text
    assert json.dumps(changes) == text_two  # the flush's text is json.dumps' text
    own = {"id": direct.json["id"], "study_id": direct.json["study_id"]}
    expected = json.dumps({k: [None, own[k]] if k in own else v for k, v in changes.items()})
    assert text_one == expected


def test_a_created_participant_is_in_the_session_as_after_a_flush(db_session):
    """Persistent and clean, every attribute loaded (no statement to read it), and a
    change in the same session updates the right rows, versioned and audited."""
    body = {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": ENROLLED.year - 40,
        "enrolment_date": ENROLLED,
        "consent_date": ENROLLED,
        "consent_version": "1.0",
        "arm": "control",
        "occupation": "Bäcker",
        "diagnoses": [{"code": "F20"}, {"code": "other", "text": "x"}],
    }
    created: list[Participant] = []
    seen = statements_during(
        lambda: created.append(operations.create_participant(db_session, body)),
        data_only=False,
    )
    participant = created[0]
    if on_postgresql():
        assert inserted_tables(seen) == ["participants", "participant_diagnoses", "audit_events"]
        assert sum(s.startswith("WITH ") for s in seen) == 1, seen
    assert not db_session.new and not db_session.dirty
    assert participant in db_session
    assert all(d in db_session for d in participant.diagnoses)
    reads = statements_during(
        lambda: (
            [getattr(participant, c.key) for c in Participant.__table__.columns]
            + [(d.id, d.participant_id, d.as_value) for d in participant.diagnoses]
        )
    )
    assert reads == []
    assert [d.position for d in participant.diagnoses] == [0, 1]
    written = {d.id for d in participant.diagnoses}
    with audit_context(reason="typo"):
        operations.update_participant(
            db_session,
            participant,
            {"occupation": "baker", "diagnoses": [{"code": "F20", "text": None}]},
            1,
        )
    db_session.expire_all()
    with all_sites():
        again = db_session.get(Participant, participant.id)
        assert again.version_id == 2 and again.occupation == "baker"
        assert [(d.code, d.text) for d in again.diagnoses] == [("F20", None)]
        # the rows written by the creation are the ones the change replaced
        table = ParticipantDiagnosis.__table__
        left = db_session.execute(sa.select(table.c.id).where(table.c.id.in_(written))).all()
        assert left == [] and len(written) == 2
        rows = db_session.execute(
            sa.text(
                "SELECT action, reason FROM audit_events WHERE entity = 'participants' "
                "AND entity_id = :id ORDER BY id"
            ),
            {"id": str(participant.id)},
        ).all()
    assert [tuple(r) for r in rows] == [("insert", None), ("update", "typo")]


def test_a_refused_or_rolled_back_creation_leaves_no_row(db_session):
    """The participant, its diagnoses and its audit row go together: a rolled-back
    creation leaves none of them, and its study ID is drawn again."""
    body = {**BODIES[1], "site": "BU"}
    savepoint = db_session.begin_nested()
    first = operations.create_participant(db_session, body)
    first_id, first_study_id = first.id, first.study_id
    savepoint.rollback()
    with all_sites():
        left = db_session.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM participants WHERE id = :id), "
                "(SELECT count(*) FROM audit_events WHERE entity = 'participants' "
                "AND entity_id = :key)"
            ),
            {"id": first_id, "key": str(first_id)},
        ).one()
    assert tuple(left) == (0, 0)
    again = operations.create_participant(db_session, body)
    assert again.study_id == first_study_id


def test_every_default_of_a_participant_s_columns_is_one_the_statement_sets():
    """The one statement names every column, so a column default (Python's or the
    server's) that the flush would apply must be set by ``insert_participant`` too:
    a new default fails here until it is."""
    handled = {"id", "study_id", "created_at", "updated_at", "version_id"}
    with_defaults = {
        column.key
        for column in Participant.__table__.columns
        if column.default is not None or column.server_default is not None
    }
    assert with_defaults <= handled, with_defaults - handled
