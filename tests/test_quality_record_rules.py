"""Rules over the record alone are evaluated for a participant just created without a
statement; that evaluation gives what the SQL gives, for every kind of record term."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.quality.checks import EXTENSION_KEY, parse_rules
from trialdm.quality.models import DataQuery
from trialdm.quality.runs import find_failures, record_failures_of

RULES = """
[[rule]]
name = "consent_before_enrolment"
kind = "compare"
left = "participant.consent_date"
op = "<="
right = "participant.enrolment_date"
message = "m"

[[rule]]
name = "age_at_enrolment"
kind = "range"
value = "participant.age_at_enrolment"
min = 18
max = 60
target = "participant.year_of_birth"
message = "m"

[[rule]]
name = "start_before_end"
kind = "compare"
left = "participant.intervention_start"
op = "<"
right = "participant.intervention_end"
target = "participant.intervention_start"
message = "m"

[[rule]]
name = "end_before_a_day"
kind = "compare"
left = "participant.intervention_end"
op = "<="
right = 2025-06-30
target = "participant.intervention_start"
message = "m"

[[rule]]
name = "illness_at_most"
kind = "range"
value = "participant.years_of_illness"
max = 30
categories = ["service_user", "psw"]
message = "m"
"""


def test_in_memory_evaluation_matches_the_sql(tmp_path: Path, make_participant, db_session):
    path = tmp_path / "checks.toml"
    path.write_text(RULES)
    rules = parse_rules(path, {"T0", "T1", "T2", "T3"})
    people = [
        make_participant("BU", enrolment_date=date(2025, 3, 1)),
        make_participant(
            "BU", enrolment_date=date(2025, 3, 1), intervention_start=date(2025, 3, 2)
        ),
        make_participant("BU", enrolment_date=date(2024, 11, 30)),
        make_participant(
            "BU", enrolment_date=date(2025, 1, 31), intervention_start=date(2025, 1, 31)
        ),
        make_participant("BU", "psw"),
        make_participant("BU", "mhw"),
        make_participant("BU"),
    ]
    # values past the entry checks, as a migrated record holds them
    table = Participant.__table__
    legacy = {
        people[0].id: {"consent_date": date(2025, 3, 9), "year_of_birth": 2010},
        people[2].id: {"year_of_birth": None, "age": 61},
        people[4].id: {"years_of_illness": 31},
        people[5].id: {"year_of_birth": None, "age": 70},
        people[6].id: {"years_of_illness": 45.5},
    }
    for pid, values in legacy.items():
        db_session.connection().execute(sa.update(table).where(table.c.id == pid).values(**values))
    db_session.commit()
    db_session.expire_all()
    with all_sites():
        loaded = [db.session.get(Participant, p.id) for p in people]
        by_sql = find_failures(db_session, rules, participant_ids=[p.id for p in people])

    def key(failure):
        values = tuple(
            float(v) if isinstance(v, (int, float)) else v for v in (failure.left, failure.right)
        )
        return failure.rule.name, failure.participant_id, values

    in_memory = {key(f) for f in record_failures_of(rules, loaded)}
    assert in_memory == {key(f) for f in by_sql}
    assert {name for name, _, _ in in_memory} == {
        "consent_before_enrolment",
        "age_at_enrolment",
        "end_before_a_day",
        "illness_at_most",
    }


def test_a_participant_created_is_checked_on_save(app, api_as, db_session, tmp_path, monkeypatch):
    """Through the API (on PostgreSQL one statement, not a flush) a new participant
    whose record fails an on-save rule gets its query in the same commit."""
    path = tmp_path / "checks.toml"
    path.write_text(
        '[[rule]]\nname = "illness_at_most_two"\nkind = "range"\n'
        'value = "participant.years_of_illness"\nmax = 2\nmessage = "m"\n'
    )
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, parse_rules(path, {"T0"}))
    api = api_as("research_worker", ["BU"])
    day = (date.today() - timedelta(days=100)).isoformat()
    body = {
        "site": "BU",
        "category": "service_user",
        "gender": "male",
        "year_of_birth": 1980,
        "enrolment_date": day,
        "consent_date": day,
        "consent_version": "1.0",
        "arm": "control",
    }
    created = [
        api.post("/api/v1/participants", json={**body, "years_of_illness": y}) for y in (3.5, 1)
    ]
    assert [c.status_code for c in created] == [201, 201], [c.json for c in created]
    with all_sites():
        opened = db_session.scalars(
            sa.select(DataQuery).where(DataQuery.rule_name == "illness_at_most_two")
        ).all()
    assert [(q.participant_id, q.field) for q in opened] == [
        (created[0].json["id"], "years_of_illness")
    ]
