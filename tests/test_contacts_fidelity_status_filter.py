"""A list filtered by fidelity status computes only the participants whose window start
allows that status (an index range, not the whole trial): the people it finds are
exactly those the whole trial's computation gives that status, on any day. The
participant list's filter (the status evaluated row by row in the list's order) finds
the same people in the list's order, page by page, by a plan that reads the list's
order by index and stops at the page on SQLite and PostgreSQL."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Select, insert, select, text, update

from tests.randomisation_helpers import eligible_participant, randomising
from trialdm.contacts.models import FIDELITY_STATUSES
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import FidelityRule, fidelity_for
from trialdm.contacts.status_filter import with_fidelity_status
from trialdm.core.scoping import all_sites
from trialdm.participants.models import Participant
from trialdm.randomisation.models import Randomisation
from trialdm.randomisation.operations import generate_list, randomise
from trialdm.sites.queries import SiteDays

SCHEME = "ratio = { intervention = 1, control = 1 }\nblock_sizes = [2]\nslots_per_stratum = 20\n"
START = date(2024, 1, 1)


@pytest.fixture
def spread(app, db_session, tmp_path, make_participant):
    """Intervention participants enrolled every fifth day for two years, some with a
    typed start, some withdrawn, 0-4 contacts each, and one randomised here (its
    window opening long after its enrolment)."""
    psw = make_participant("BU", "psw", training_completed=date(2023, 1, 2))
    with all_sites():
        for n in range(0, 730, 5):
            enrolled = START + timedelta(days=n)
            fields = {"enrolment_date": enrolled, "arm": "intervention"}
            if n % 4 == 1:
                fields["intervention_start"] = enrolled + timedelta(days=40)
            if n % 9 == 0:
                fields |= {"status": "withdrawn", "withdrawal_date": enrolled + timedelta(days=60)}
            person = make_participant("BU", **fields)
            for k in range(n % 5):
                create_contact_session(
                    db_session,
                    {
                        "site": "BU",
                        "psws": [psw.id],
                        "date": enrolled + timedelta(days=20 + 35 * k),
                        "format": "individual",
                        "mode": "phone",
                        "attendees": [person.id],
                    },
                )
        db_session.commit()
        with randomising(app, tmp_path, SCHEME):
            generate_list(db_session)
            for _ in range(2):  # blocks of two: one of two allocations is intervention
                person = eligible_participant(db_session, enrolment_date=START)
                allocation = randomise(db_session, person)
                if allocation.arm == "intervention":
                    break
            db_session.execute(
                update(Randomisation.__table__)
                .where(Randomisation.__table__.c.id == allocation.id)
                .values(randomised_at=datetime(2025, 6, 30, 23, 30, tzinfo=UTC))
            )
            db_session.commit()


RULE = FidelityRule(minimum=3, months=6, slack=0.0)
DAYS = [date(2024, 3, 1), date(2024, 9, 30), date(2025, 2, 28), date(2025, 8, 20)]


def _listed(session, stmt: Select) -> list[int]:
    return [p.id for p in session.scalars(stmt)]


def _listed_ids(session, stmt: Select) -> list[int]:
    return list(session.scalars(stmt))


@pytest.mark.parametrize("as_of", DAYS)
@pytest.mark.parametrize("order", ["id", "study_id"])
def test_the_list_filter_gives_the_status_computed_per_participant_page_by_page(
    db_session, spread, as_of, order
):
    sort = [Participant.id] if order == "id" else [Participant.study_id.desc(), Participant.id]
    with all_sites():
        everyone = list(db_session.scalars(select(Participant.id).order_by(*sort)))
        computed = fidelity_for(db_session, everyone, as_of)
        assert len({f["status"] for f in computed.values()}) >= 3
        for status in FIDELITY_STATUSES:
            wanted = [i for i in everyone if computed.get(i, {}).get("status") == status]
            filtered = with_fidelity_status(
                select(Participant).order_by(*sort), status, as_of, RULE
            )
            assert _listed(db_session, filtered) == wanted, (as_of, status)
            paged: list[int] = []
            for offset in range(0, len(wanted) + 4, 4):
                paged += _listed(db_session, filtered.limit(4).offset(offset))
            assert paged == wanted, (as_of, status)
            if order == "id":  # by cursor, as the API pages without a number
                cursor, after = [], 0
                while page := _listed(db_session, filtered.where(Participant.id > after).limit(4)):
                    cursor += page
                    after = page[-1]
                assert cursor == wanted, (as_of, status)


def _plan(session, stmt: Select) -> str:
    compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
    if session.bind.dialect.name == "sqlite":
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(str(row[-1]) for row in rows)
    session.connection().exec_driver_sql("ANALYZE")
    rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}").all()
    return "\n".join(row[0] for row in rows)


# The sites on two dates (midnight has passed at one and not at the other): each site's
# participants on their own, by one branch of an OR each.
TWO_DATES = SiteDays(
    ((DAYS[-1], frozenset({"BU"})), (DAYS[-1] + timedelta(days=1), frozenset({"UKE"})))
)


def _filtered(stmt: Select, status: str, two_dates: bool) -> Select:
    if two_dates:
        return with_fidelity_status(stmt, status, rule=RULE, days=TWO_DATES)
    return with_fidelity_status(stmt, status, DAYS[-1], RULE)


@pytest.mark.parametrize("two_dates", [False, True], ids=["one_date", "two_dates"])
@pytest.mark.parametrize("status", ["at_risk", "on_track", "met"])
@pytest.mark.parametrize("order", ["id", "study_id"])
def test_a_filtered_page_reads_the_list_order_and_stops(
    db_session, spread, status, order, two_dates
):
    """No sort after computing everyone: the participants are read in the list's order
    by an index, their status computed as they come, until the page is full, also when
    the sites are on two dates. (Not started, a start after today, is found by index
    ranges: rare, it is sorted.)"""
    sort = [Participant.id] if order == "id" else [Participant.study_id, Participant.id]
    # a trial of some size, so that the planner's choice is that of a real one (half of
    # it in the intervention arm, these with their window closed long ago)
    enrolled = date(2023, 1, 1)
    others = [
        {
            "site_code": "BU",
            "category": "service_user",
            "study_id": f"C-{k:05d}",
            "gender": "female",
            "year_of_birth": 1990,
            "enrolment_date": enrolled,
            "consent_date": enrolled,
            "arm": ("control", "intervention")[k % 2],
            "status": "enrolled",
            "version_id": 1,
        }
        for k in range(3000)
    ]
    db_session.execute(insert(Participant), others)
    if db_session.bind.dialect.name == "postgresql":
        # statistics of these rows, not of whatever an earlier test left in the tables
        # (the planner's choice otherwise depended on the tests run before this one)
        db_session.execute(text("ANALYZE participants, contact_sessions, contact_attendances"))
    with all_sites():
        stmt = select(Participant.id).where(Participant.deleted_at.is_(None)).order_by(*sort)
        plan = _plan(db_session, _filtered(stmt, status, two_dates).limit(25))
        if two_dates:  # the same people as on the one date of their site (BU)
            listed = _listed_ids(db_session, _filtered(stmt, status, True))
            assert listed == _listed_ids(db_session, _filtered(stmt, status, False))
            assert listed or status == "met"  # (no one here has contacts enough)
    if db_session.bind.dialect.name == "sqlite":
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
        assert "SEARCH participants USING" in plan and "SCAN participants" not in plan, plan
        for table in ("contact_attendances", "contact_sessions"):
            assert f"SEARCH {table} USING" in plan and f"SCAN {table}" not in plan, plan
    else:
        assert plan.startswith("Limit"), plan
        # at most an incremental sort of rows already in study-ID order
        above = plan.split(" on participants ", 1)[0]  # the nodes down to their read
        assert not re.search(r"(^|->)\s*Sort\s+\(", above, re.MULTILINE), plan
        assert "Index" in above.rsplit("->", 1)[-1], plan
