"""The dashboard's per-site statements read one site's rows by index: after a change
at a site, its widgets are computed again for it alone, and none of their statements
may read a whole table (the trial's participants, contacts, responses or audit
trail) to find that site's rows. SQLite's EXPLAIN QUERY PLAN (SEARCH is an index
lookup, SCAN a full read), and PostgreSQL's EXPLAIN with sequential scans priced out,
so that a scan left in the plan means no index could serve."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.quality_helpers import enrolled_with_baseline
from tests.sql_helpers import recorded
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.views import site_fidelity
from trialdm.core.audit import entity_name
from trialdm.core.scoping import SiteScope, all_sites, scoped_to
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.participants.views import site_enrolment
from trialdm.schedule.views import site_schedule
from trialdm.web.dashboard import WIDGETS_KEY
from trialdm.web.widgetcache import site_stamps

TODAY = date.today()
BU = SiteScope(codes=frozenset({"BU"}))


@pytest.fixture
def trial(app, db_session, make_participant):
    """Service users in both arms at three sites, enrolled over two years (analysed on
    PostgreSQL, so that the planner's choice is that of a trial of some size), with
    contacts and questionnaires, some of them due now."""
    db_session.execute(
        sa.insert(Participant),
        [
            {
                "site_code": ("BU", "ULM", "UKE")[k % 3],
                "category": "service_user",
                "study_id": f"P-{k:05d}",
                "gender": "female",
                "year_of_birth": 1990,
                "enrolment_date": TODAY - timedelta(days=k % 730),
                "consent_date": TODAY - timedelta(days=k % 730),
                "arm": ("control", "intervention")[k % 2],
                "status": "enrolled",
                "version_id": 1,
            }
            for k in range(3000)
        ],
    )
    for site in ("BU", "ULM"):
        psw = make_participant(site, "psw")
        for days in (3, 40, 125, 400):
            person = make_participant(site, enrolment_date=TODAY - timedelta(days=days))
            make_participant(site, enrolment_date=TODAY - timedelta(days=days), arm="control")
            with all_sites():
                create_contact_session(
                    db_session,
                    {
                        "site": site,
                        "psws": [psw.id],
                        "date": TODAY - timedelta(days=days // 2),
                        "format": "individual",
                        "mode": "in_person",
                        "attendees": [person.id],
                    },
                )
            db_session.commit()
        enrolled_with_baseline(db_session, make_participant, site)
    if db_session.bind.dialect.name == "postgresql":
        db_session.connection().exec_driver_sql("ANALYZE")


def sent_by(action) -> list[tuple[str, Any]]:
    with recorded() as sent:
        action()
    reads = ("SELECT", "WITH")
    seen = [(sql, params) for sql, params in sent if sql.lstrip().upper().startswith(reads)]
    assert seen
    return seen


def plan_of(statement: str, parameters: Any) -> str:
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(row[-1]) for row in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(row[0] for row in rows)


def plans(action, table: str) -> list[str]:
    """The plans of the statements ``action`` sends that read ``table`` (not the
    reference data it reads on the way, such as instrument versions)."""
    return [
        plan_of(statement, parameters)
        for statement, parameters in sent_by(action)
        if f" {table}" in statement
    ]


def assert_by_index(plan: str, tables: tuple[str, ...], site_index: dict[str, str]) -> None:
    """No table of ``tables`` read whole; each table of ``site_index`` read by that
    index with the site in its key."""
    lines = plan.splitlines()
    if db.engine.dialect.name == "sqlite":
        scans = {line.split()[1] for line in lines if line.startswith("SCAN ")}
        assert not scans & set(tables), plan
        for table, index in site_index.items():
            reads = [line for line in lines if line.startswith(f"SEARCH {table} ")]
            assert reads, plan
            for line in reads:
                assert f"INDEX {index} " in line and "site_code=?" in line, plan
    else:
        # the index may differ with the statistics; the site must be in its condition
        assert not [line for line in lines if "Seq Scan" in line], plan
        for table in site_index:
            nodes = plan.split(f" on {table} ")[1:]
            assert nodes, plan
            for node in nodes:
                assert "site_code" in node.split("->", 1)[0], plan


def test_a_site_s_fidelity_reads_its_intervention_participants_and_their_contacts(trial):
    with scoped_to(BU):
        (plan,) = plans(lambda: site_fidelity(db.session, TODAY), "contact_sessions")
    assert_by_index(
        plan,
        ("participants", "randomisations", "contact_attendances", "contact_sessions"),
        {"participants": "ix_participants_site_code_category_arm"},
    )
    if db.engine.dialect.name == "sqlite":
        # each participant's attendances by index, their sessions by key
        assert "SEARCH contact_attendances USING COVERING INDEX" in plan, plan
        assert "SEARCH contact_sessions USING" in plan, plan


def test_a_site_s_due_assessments_read_its_enrolment_date_ranges(trial):
    """Each event's range of enrolment dates is read within the site (the index on
    category, site and enrolment date), not for every site before the site filter."""
    with scoped_to(BU):
        (plan,) = plans(lambda: site_schedule(db.session, TODAY), "responses")
    assert_by_index(
        plan,
        ("participants", "responses"),
        {"participants": "ix_participants_category_site_code_enrolment_date"},
    )
    if db.engine.dialect.name == "sqlite":
        reads = [line for line in plan.splitlines() if line.startswith("SEARCH participants")]
        assert all("site_code=? AND enrolment_date>? AND enrolment_date<?" in r for r in reads)
    else:
        conds = [line for line in plan.splitlines() if "Index Cond" in line and "enrolment" in line]
        assert conds and all("site_code" in line for line in conds), plan


def test_a_site_s_enrolment_reads_its_service_users_from_an_index(trial):
    with scoped_to(BU):
        (plan,) = plans(lambda: site_enrolment(db.session, TODAY), "participants")
    if db.engine.dialect.name == "sqlite":
        # the index alone, no row read
        assert_by_index(
            plan,
            ("participants",),
            {"participants": "ix_participants_category_site_code_enrolment_date"},
        )
        assert "COVERING INDEX" in plan, plan
    else:
        assert "Seq Scan" not in plan, plan
        assert "site_code" in plan.split(" on participants", 1)[1], plan


def test_the_stamps_of_a_site_are_index_lookups(app, trial):
    entities = {
        entity_name(model)
        for widget in app.extensions[WIDGETS_KEY]
        if widget.by_site
        for model in widget.by_site.reads
    }
    assert {"participants", "contact_sessions", "responses", "randomisations"} <= entities
    with all_sites():
        (plan,) = plans(lambda: site_stamps(db.session, BU, entities), "audit_events")
    if db.engine.dialect.name == "sqlite":
        reads = [line for line in plan.splitlines() if "audit_events" in line]
        assert len(reads) == 2 * len(entities), plan
        for line in reads:
            # the id from the index alone; the time from the one row it names
            assert line.startswith("SEARCH audit_events USING "), plan
            assert "INDEX ix_audit_events_site_code_entity_id (site_code=? AND entity=?" in line, (
                plan
            )
    else:
        assert "Seq Scan" not in plan, plan
        assert plan.count("ix_audit_events_site_code_entity_id") == 2 * len(entities), plan
