"""Data-quality checks declared as data: each rule of quality/checks.toml evaluated in
SQL, failures opening queries, on demand, on save, and nightly per site (idempotent)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.quality_helpers import enrolled_with_baseline
from tests.seeders.instruments import sync_shipped
from trialdm.core.scoping import all_sites
from trialdm.core.tasks import run_eager_tasks
from trialdm.participants.models import Participant
from trialdm.quality.checks import EXTENSION_KEY, RuleFileError, parse_rules
from trialdm.quality.models import DataQuery

EVENTS = {"T0", "T1", "T2", "T3"}


def check_queries(session, rule: str | None = None) -> list[DataQuery]:
    stmt = select(DataQuery).where(DataQuery.origin == "check").order_by(DataQuery.id)
    if rule:
        stmt = stmt.where(DataQuery.rule_name == rule)
    return list(session.scalars(stmt))


@pytest.fixture
def no_save_checks(app):
    """Rules run only when asked (the on-save run would open the queries first)."""
    shipped = app.extensions[EXTENSION_KEY]
    app.extensions[EXTENSION_KEY] = tuple(
        type(r)(**{**r.__dict__, "on_save": False}) for r in shipped
    )
    yield
    app.extensions[EXTENSION_KEY] = shipped


def legacy(session, participant, **values) -> None:
    """Values written past the entry checks, as a record migrated from an earlier
    system or entered before a rule was tightened would hold them. The checks queued by
    earlier saves run first, as the request that made them would have run them."""
    run_eager_tasks()
    table = Participant.__table__
    session.connection().execute(update(table).where(table.c.id == participant.id).values(**values))
    session.commit()


def run(api, site="BU"):
    response = api.post("/api/v1/quality/runs", json={"site": site})
    assert response.status_code == 200, response.json
    return response.json


def test_consent_after_enrolment_opens_one_query_on_the_field(
    api_as, make_participant, db_session, no_save_checks
):
    bad = make_participant("BU", enrolment_date=date(2025, 3, 1))
    legacy(db_session, bad, consent_date=date(2025, 3, 5))
    make_participant("BU", enrolment_date=date(2025, 3, 1), consent_date=date(2025, 2, 20))
    lead = api_as("site_lead", ["BU"])
    result = run(lead)
    # both are missing their baseline too (its window has closed)
    assert result == {"site": "BU", "rules": 7, "failures": 3, "opened": 3}
    (query,) = check_queries(db_session, "consent_before_enrolment")
    assert (query.participant_id, query.field) == (bad.id, "consent_date")
    assert query.rule_name == "consent_before_enrolment" and query.opened_by_name
    assert "2025-03-05" in query.question and "2025-03-01" in query.question
    # a second run opens nothing again, even after the query was closed
    lead.post(f"/api/v1/queries/{query.id}/close", json={}, headers={"If-Match": '"1"'})
    assert run(lead) == {"site": "BU", "rules": 7, "failures": 3, "opened": 0}
    assert len(check_queries(db_session)) == 3


def test_age_at_enrolment_outside_18_to_60(api_as, make_participant, db_session, no_save_checks):
    young = make_participant("BU", enrolment_date=date(2025, 3, 1))
    old = make_participant("BU", enrolment_date=date(2025, 3, 1), age=59)
    legacy(db_session, young, year_of_birth=2010)
    legacy(db_session, old, age=61)
    make_participant("BU", enrolment_date=date(2025, 3, 1), year_of_birth=1965)  # 60
    run(api_as("coordinator"))
    found = {(q.participant_id, q.field) for q in check_queries(db_session, "age_at_enrolment")}
    assert found == {(young.id, "year_of_birth"), (old.id, "year_of_birth")}


def test_t1_dated_before_t0_is_queried_on_the_t1_form(
    api_as, make_participant, db_session, no_save_checks
):
    from trialdm.instruments.operations import create_response

    sync_shipped(db_session)
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    for event, day in (("T0", date(2025, 6, 1)), ("T1", date(2025, 5, 20))):
        create_response(
            db_session,
            {
                "participant_id": participant.id,
                "instrument": "social_inclusion_scale",
                "event": event,
                "collected_on": day,
                "answers": {},
            },
        )
    db_session.commit()
    run(api_as("site_lead", ["BU"]))
    (query,) = check_queries(db_session, "t1_after_t0")
    t1 = db_session.scalar(select(func.max(DataQuery.response_id)).where(DataQuery.id == query.id))
    assert query.field == "collected_on" and t1 is not None
    assert "2025-05-20" in query.question


def test_contact_outside_the_intervention_window(
    api_as, make_participant, db_session, no_save_checks
):
    from trialdm.contacts.operations import create_contact_session

    service_user = make_participant(
        "BU", enrolment_date=date(2025, 1, 10), intervention_start=date(2025, 2, 1)
    )
    psw = make_participant("BU", "psw", active=True, training_completed=date(2024, 1, 1))
    for day in (date(2025, 3, 1), date(2025, 9, 15), date(2025, 1, 20)):
        create_contact_session(
            db_session,
            {
                "site": "BU",
                "date": day,
                "format": "individual",
                "mode": "in_person",
                "psws": [psw.id],
                "attendees": [service_user.id],
            },
        )
    db_session.commit()
    run(api_as("site_lead", ["BU"]))
    late = check_queries(db_session, "contact_within_intervention")
    early = check_queries(db_session, "contact_after_intervention_start")
    assert len(late) == 1 and "2025-09-15" in late[0].question
    assert len(early) == 1 and "2025-01-20" in early[0].question
    assert late[0].field == "intervention_start"


def test_required_answer_missing_once_the_window_has_closed(
    api_as, make_participant, db_session, no_save_checks
):
    from trialdm.instruments.operations import create_response

    sync_shipped(db_session)
    long_ago = make_participant("BU", enrolment_date=date.today() - timedelta(days=200))
    make_participant("BU", enrolment_date=date.today() - timedelta(days=3))  # window open
    enrolled_with_baseline(db_session, make_participant)  # answered: no query
    create_response(
        db_session,
        {
            "participant_id": long_ago.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "collected_on": long_ago.enrolment_date,
            "answers": {"gender": "male"},
        },
    )
    db_session.commit()
    run(api_as("site_lead", ["BU"]))
    (query,) = check_queries(db_session, "baseline_employment_missing")
    assert query.participant_id == long_ago.id and query.field == "employment"
    assert query.response_id is not None


def test_on_save_checks_run_for_the_participant_saved(api_as, db_session, make_participant):
    sync_shipped(db_session)
    participant = make_participant(
        "BU", enrolment_date=date(2025, 3, 1), consent_date=date(2025, 2, 25)
    )
    other = make_participant("BU", enrolment_date=date(2025, 3, 1))
    legacy(db_session, other, consent_date=date(2025, 3, 9))  # not saved: not checked now
    worker = api_as("research_worker", ["BU"])
    created = worker.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "collected_on": "2025-02-20",
            "answers": {"gender": "male"},
        },
    )
    assert created.status_code == 201, created.json
    (query,) = check_queries(db_session)
    assert query.rule_name == "consent_before_baseline"
    assert (query.response_id, query.field) == (created.json["id"], "collected_on")
    # saving again opens nothing twice
    again = worker.patch(
        f"/api/v1/responses/{created.json['id']}",
        json={"answers": {"gender": "female"}},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert again.status_code == 200, again.json
    assert len(check_queries(db_session)) == 1


def test_nightly_task_runs_every_site_and_is_idempotent(app, db_session, make_participant):
    from trialdm.extensions import celery

    for site, day in (("BU", date(2025, 3, 5)), ("PU", date(2025, 3, 7))):
        legacy(
            db_session, make_participant(site, enrolment_date=date(2025, 3, 1)), consent_date=day
        )
    assert check_queries(db_session) == []
    celery.loader.import_default_modules()
    celery.tasks["trialdm.quality.nightly"].apply(throw=True)
    first = {(q.site_code, q.rule_name) for q in check_queries(db_session)}
    assert {("BU", "consent_before_enrolment"), ("PU", "consent_before_enrolment")} <= first
    celery.tasks["trialdm.quality.nightly"].apply(throw=True)
    assert len(check_queries(db_session)) == len(first)
    # a site's run covers that site only
    from trialdm.quality.runs import run_site

    with all_sites():
        assert run_site(db_session, "ULM").failures == 0


def test_run_needs_the_site_and_the_permission(api_as):
    assert (
        api_as("research_worker", ["BU"])
        .post("/api/v1/quality/runs", json={"site": "BU"})
        .status_code
        == 403
    )
    assert (
        api_as("site_lead", ["ULM"]).post("/api/v1/quality/runs", json={"site": "BU"}).status_code
        == 403
    )
    rules = api_as("monitor").get("/api/v1/quality/rules").json
    assert [r["name"] for r in rules][:2] == ["consent_before_enrolment", "consent_before_baseline"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[rule]]\nname = "a"\nkind = "between"\nmessage = "m"', "rule 'a'.kind: use one of"),
        (
            '[[rule]]\nname = "a"\nkind = "compare"\nleft = "participant.shoe"\nop = "<"\n'
            'right = 3\nmessage = "m"',
            "rule 'a'.left: participant.shoe is unknown",
        ),
        (
            '[[rule]]\nname = "a"\nkind = "compare"\nleft = "participant.age"\nop = "=<"\n'
            'right = 3\nmessage = "m"',
            "rule 'a'.op: use one of",
        ),
        (
            '[[rule]]\nname = "a"\nkind = "range"\nvalue = "answer.x.T9.y"\nmin = 1\nmessage = "m"',
            "'T9' is not a schedule event",
        ),
        (
            '[[rule]]\nname = "a"\nkind = "range"\nvalue = "participant.age"\nmessage = "m"',
            "needs min, max or both",
        ),
        (
            '[[rule]]\nname = "a"\nkind = "range"\nvalue = "participant.age_at_enrolment"\n'
            'min = 1\nmessage = "m"',
            "is not a stored field; name one as target",
        ),
    ],
)
def test_a_bad_rule_file_names_file_rule_and_key(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "checks.toml"
    path.write_text(text)
    with pytest.raises(RuleFileError) as raised:
        parse_rules(path, EVENTS)
    assert str(path) in str(raised.value) and problem in str(raised.value)


def test_the_shipped_rules_parse(app):
    shipped = Path(app.config["QUALITY_DIR"]) / "checks.toml"
    names = [r.name for r in parse_rules(shipped, EVENTS)]
    assert "t1_after_t0" in names and len(names) == len(set(names))
