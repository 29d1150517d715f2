"""The schedule of the whole trial (every participant's events in one statement) is
the same as each participant's, read in a way that stays linear in the trial's size."""

from __future__ import annotations

import gc
from dataclasses import astuple, fields
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from tests.conftest import TEST_DATABASE_URL
from tests.seeders.instruments import sync_shipped
from trialdm.config import schedule_events
from trialdm.core.audit import audit_context
from trialdm.core.scoping import SiteScope, all_sites, scoped_to
from trialdm.instruments.models import InstrumentResponse, InstrumentVersion
from trialdm.instruments.queries import instruments_due_by_event
from trialdm.participants.models import Participant
from trialdm.schedule import queries
from trialdm.schedule.queries import ScheduleRow, count_schedule_rows, schedule_rows

DAYS = (date(2025, 1, 20), date(2025, 6, 14), date(2025, 6, 15), date(2026, 3, 1))


@pytest.fixture
def trial(app, db_session, make_participant):
    """Service users of two sites in every state an event can be in: both T0
    instruments complete, one of them only, one incomplete, one deleted (and entered
    again, or not), a response without an event or of an instrument not due at its
    event, withdrawn before and after a window, deleted, not enrolled; and people of
    another category."""
    sync_shipped(db_session)
    db_session.commit()
    enrolled = date(2025, 1, 31)
    people = [
        make_participant(site, enrolment_date=enrolled + timedelta(days=9 * k))
        for k, site in enumerate(["BU", "ULM"] * 6)
    ]
    people += [
        make_participant(
            site,
            enrolment_date=enrolled,
            status="withdrawn",
            withdrawal_date=withdrawn,
            withdrawal_reason="moved away",
        )
        for site, withdrawn in (("BU", date(2025, 6, 14)), ("ULM", date(2025, 6, 15)))
    ]
    make_participant("BU")  # not enrolled
    make_participant("ULM", "mhw", age=40)
    gone = make_participant("BU", enrolment_date=enrolled)
    versions = {v.name: v.id for v in db_session.scalars(select(InstrumentVersion))}

    def response(who, event, name, status="complete", on=date(2025, 3, 1), deleted=False):
        return {
            "site_code": who.site_code,
            "participant_id": who.id,
            "event": event,
            "instrument_name": name,
            "instrument_version_id": versions[name],
            "status": status,
            "collected_on": on,
            "deleted_at": date(2025, 4, 1) if deleted else None,
            "version_id": 1,
        }

    a, b, c, d, e, f, g, h = people[:8]
    rows = [
        response(a, "T0", "baseline_demographics", on=date(2025, 2, 1)),
        response(a, "T0", "social_inclusion_scale", on=date(2025, 2, 3)),
        response(a, "T1", "social_inclusion_scale", on=date(2025, 6, 1)),
        response(b, "T0", "social_inclusion_scale"),
        response(c, "T0", "baseline_demographics"),
        response(c, "T0", "social_inclusion_scale", status="incomplete"),
        response(d, "T1", "social_inclusion_scale", deleted=True),
        response(e, "T1", "social_inclusion_scale", deleted=True, on=date(2025, 5, 1)),
        response(e, "T1", "social_inclusion_scale", on=date(2025, 5, 20)),
        response(f, None, "social_inclusion_scale"),
        response(g, "T1", "baseline_demographics"),
        response(h, "T2", "social_inclusion_scale", on=date(2025, 9, 1)),
        response(people[12], "T0", "baseline_demographics"),
        response(people[12], "T0", "social_inclusion_scale"),
        response(people[13], "T1", "social_inclusion_scale", on=date(2025, 5, 30)),
        response(gone, "T0", "social_inclusion_scale"),
    ]
    db_session.execute(insert(InstrumentResponse), rows)
    with all_sites(), audit_context(reason="entered twice"):
        db_session.get(Participant, gone.id).deleted_at = date(2025, 4, 1)
        db_session.commit()
    return people


def test_the_whole_schedule_is_each_participants_schedule(app, db_session, trial):
    """Each participant's events are computed by a look-up per event (a participant's
    page); the whole trial's by reading every event's responses beside its
    participants. Both give the same rows, in the schedule's order, with every filter,
    page and site scope."""
    for as_of in DAYS:
        with all_sites():
            every = schedule_rows(db_session, as_of)
            each = [
                row for p in trial for row in schedule_rows(db_session, as_of, participant_id=p.id)
            ]
            assert len(every) == 4 * len(trial)
            assert sorted(every, key=astuple) == sorted(each, key=astuple)
            assert every == sorted(every, key=lambda r: (r.due_date, r.study_id, r.event))
            filters = [{"site": "ULM"}, {"event": "T1"}, {"site": "BU", "event": "T0"}]
            filters += [{"status": status} for status in queries.STATUSES]
            for kw in filters:
                wanted = [r for r in every if all(getattr(r, k) == v for k, v in kw.items())]
                assert schedule_rows(db_session, as_of, **kw) == wanted, kw
                assert count_schedule_rows(db_session, as_of, **kw) == len(wanted), kw
            assert schedule_rows(db_session, as_of, limit=7, offset=20) == every[20:27]
        with scoped_to(SiteScope(codes=frozenset({"ULM"}))):
            assert schedule_rows(db_session, as_of) == [r for r in every if r.site == "ULM"]
    with all_sites():
        done = {
            (r.participant_id, r.event): r.completed_on
            for r in schedule_rows(db_session, DAYS[-1], status="completed")
        }
    a, _, _, _, e = trial[:5]
    assert done == {
        (a.id, "T0"): date(2025, 2, 3),
        (a.id, "T1"): date(2025, 6, 1),
        (e.id, "T1"): date(2025, 5, 20),
        (trial[7].id, "T2"): date(2025, 9, 1),
        (trial[12].id, "T0"): date(2025, 3, 1),
        (trial[13].id, "T1"): date(2025, 5, 30),
    }


def _whole_trial_statement(app, db_session):
    """The statement of every (participant, event) as of one day, no filter."""
    return queries.schedule_query(
        date(2025, 6, 1),
        schedule_events(app.config),
        app.config["SCHEDULE_WINDOW_DAYS"],
        instruments_due_by_event(db_session),
    )


def test_the_statements_columns_are_the_rows_fields_in_order(app, db_session):
    """Rows are made from the statement's columns by position."""
    with all_sites():
        stmt = _whole_trial_statement(app, db_session)
    assert [c.name for c in stmt.selected_columns] == [f.name for f in fields(ScheduleRow)]


def test_the_rows_are_made_with_the_cyclic_collector_paused(app, db_session, trial, monkeypatch):
    """The whole trial is hundreds of thousands of rows, none in a cycle: the
    collector's passes over the growing list cost more the more rows there are."""
    seen = []

    class Recording(ScheduleRow):
        def __init__(self, *values):
            seen.append(gc.isenabled())
            super().__init__(*values)

    monkeypatch.setattr(queries, "ScheduleRow", Recording)
    assert gc.isenabled()
    with all_sites():
        rows = schedule_rows(db_session, DAYS[0])
    assert len(seen) == len(rows) > 0 and not any(seen)
    assert gc.isenabled()


@pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="SQLite's plan; PostgreSQL hash-joins each event's responses"
)
def test_the_whole_schedule_reads_each_events_responses_by_index(app, db_session, trial):
    """Each event's responses are looked up by the (participant, event, instrument)
    index as its participants are read, in their id order, so that they are grouped
    as they come. Not every response grouped first and joined through an index SQLite
    builds in its temporary storage: beyond its page cache (some 100,000 rows) that
    index is read back with a system call per look-up, and the time grows faster than
    the trial."""
    with all_sites():
        stmt = _whole_trial_statement(app, db_session)
        compiled = stmt.compile(db_session.bind, compile_kwargs={"literal_binds": True})
        rows = db_session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        plan = [str(row[-1]) for row in rows]
    by_index = "SEARCH responses USING INDEX uq_responses_participant_event_instrument"
    assert len([line for line in plan if line.startswith(by_index)]) == 4, plan
    assert not [line for line in plan if "AUTOMATIC" in line or "GROUP BY" in line], plan
    assert not [line for line in plan if line.startswith("SCAN responses")], plan


def test_the_schedule_reads_changes_not_yet_flushed(app, db_session, trial):
    """Read on the session's connection, the schedule still sees what the session
    holds unflushed, as the session's own queries do."""
    with all_sites(), audit_context(reason="date corrected"):
        person = db_session.get(Participant, trial[0].id)
        person.enrolment_date = date(2025, 3, 3)
        rows = schedule_rows(db_session, DAYS[0])
        db_session.rollback()
    assert {r.due_date for r in rows if r.participant_id == person.id} == {
        date(2025, 3, 3),
        date(2025, 7, 3),
        date(2025, 11, 3),
        date(2026, 3, 3),
    }
