"""The dashboard's due assessments after a change: the site's kept events, per
participant, are brought up to date from the audit rows written since, for the
participants they concern alone, and always equal a full computation (random
responses added, edited, deleted, participant fields, new, withdrawn and deleted
participants; both sites, a site user's scope). The first request after an answer
runs as many statements, none over the whole site, with four times the people."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from tests.seeders.instruments import sync_shipped
from tests.sql_helpers import counted_reads, recorded
from tests.test_dashboard_fidelity_updates import applied, shown_with_nothing_stored
from tests.web_helpers import page_as, shown_widgets
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.operations import create_response, delete_response, update_response
from trialdm.participants.models import Participant
from trialdm.participants.operations import delete_participant, update_participant
from trialdm.schedule.queries import schedule_rows
from trialdm.web.widgetcache import widget_store

TODAY = date.today()
SITES = ("BU", "UKE")
# the whole schedule computed on one date, as the dashboard reads both sites (see the
# fixture)
pytestmark = pytest.mark.usefixtures("sites_on_one_date")
SCALE = {f"si_{i:02d}": 1 for i in range(1, 11)}
INSTRUMENT = "social_inclusion_scale"  # due at T0 to T3 (T0 with the demographics)


def in_window(rng: random.Random) -> tuple[date, str]:
    """An enrolment date (not in the future) whose event's window (14 days either side)
    is open today."""
    event, months = rng.choice((("T0", 0), ("T1", 4), ("T2", 8)))
    days = rng.randrange(-13, 1 if months == 0 else 14)
    return TODAY - relativedelta(months=months) + timedelta(days=days), event


def computed_whole(sites: tuple[str, ...] = SITES) -> dict:
    """The widget's data from the whole schedule of ``sites`` (every event of every
    participant), apart from the dashboard's statements."""
    db.session.expire_all()
    with all_sites():
        every = [row for row in schedule_rows(db.session, TODAY) if row.site in sites]
    db.session.rollback()
    rows = []
    for status in ("overdue", "due"):
        rows += [row for row in every if row.status == status][:8]
    return {
        "due": sum(row.status == "due" for row in every),
        "overdue": sum(row.status == "overdue" for row in every),
        "rows": rows,
    }


def whole_site_statements(seen) -> list[str]:
    """Due-assessment statements over a whole site (not by participant ids)."""
    return [s for s, _ in seen if "schedule_done" in s and "participants.id IN" not in s]


def answer(pid: int, event: str, status: str = "complete", days_ago: int = 0):
    return create_response(
        db.session,
        {
            "participant_id": pid,
            "instrument": INSTRUMENT,
            "event": event,
            "status": status,
            "collected_on": TODAY - timedelta(days=days_ago),
            "answers": SCALE,
        },
    )


@pytest.fixture
def site_people(db_session, make_participant):
    """Service users at BU and UKE with an event in window, some answered."""
    sync_shipped(db_session)
    db_session.commit()
    rng = random.Random(7)
    people: dict[str, list[tuple[int, str]]] = {site: [] for site in SITES}
    for site in SITES:
        for _ in range(10):
            enrolled, event = in_window(rng)
            people[site].append((make_participant(site, enrolment_date=enrolled).id, event))
    with all_sites():
        for site in SITES:
            for pid, event in people[site][:4]:
                answer(pid, event)
        db_session.commit()
    widget_store().clear()
    return people


def test_random_changes_keep_the_due_assessments_equal_to_a_full_computation(
    app, db_session, make_user, make_participant, site_people
):
    people = site_people
    rng = random.Random(18)
    coordinator = page_as(app, make_user, "coordinator")
    worker = page_as(app, make_user, "research_worker", ["BU"])
    assert shown_widgets(app, coordinator)["schedule"] == computed_whole()

    def someone(site: str) -> tuple[Participant, str]:
        pid, event = rng.choice(people[site])
        return db.session.get(Participant, pid), event

    def responses(site: str) -> list[InstrumentResponse]:
        return list(
            db.session.scalars(
                sa.select(InstrumentResponse).where(
                    InstrumentResponse.site_code == site, InstrumentResponse.deleted_at.is_(None)
                )
            )
        )

    def edit(site: str, fields: dict | Callable[[Participant], dict]) -> None:
        person, _ = someone(site)
        if person.deleted_at is None:
            values = fields(person) if callable(fields) else fields
            update_participant(db.session, person, values, person.version_id)

    def add_response(site: str) -> None:
        person, event = someone(site)
        if person.deleted_at is None:
            answer(person.id, event, rng.choice(("complete", "incomplete")), rng.randrange(0, 5))

    def edit_response(site: str) -> None:
        found = responses(site)
        if found:
            response = rng.choice(found)
            change = rng.choice(
                (
                    {"status": "incomplete" if response.status == "complete" else "complete"},
                    {"collected_on": TODAY - timedelta(days=rng.randrange(0, 30))},
                    {"answers": {"si_01": rng.choice((0, 1, 2))}},
                )
            )
            update_response(db.session, response, change, response.version_id)

    def remove_response(site: str) -> None:
        found = responses(site)
        if found:
            response = rng.choice(found)
            delete_response(db.session, response, response.version_id)

    def new_person(site: str) -> None:
        enrolled, event = in_window(rng)
        people[site].append((make_participant(site, enrolment_date=enrolled).id, event))

    def remove_person(site: str) -> None:
        person, _ = someone(site)
        if person.deleted_at is None:
            delete_participant(db.session, person, person.version_id)

    def enrolment(site: str) -> None:
        enrolled, _ = in_window(rng)
        edit(site, {"enrolment_date": enrolled, "consent_date": enrolled})

    changes = {
        "address-like field": lambda site: edit(site, {"occupation": f"job {rng.random()}"}),
        "enrolment date": enrolment,
        "withdrawal": lambda site: edit(
            site,
            {
                "status": "withdrawn",
                "withdrawal_date": TODAY - timedelta(days=rng.randrange(0, 40)),
                "withdrawal_reason": "moved",
            },
        ),
        "response added": add_response,
        "response edited": edit_response,
        "response deleted": remove_response,
        "new participant": new_person,
        "participant deleted": remove_person,
    }
    done: dict[str, int] = {}
    for step in range(80):
        name = rng.choice(sorted(changes))
        site = rng.choice(SITES)
        if applied(changes[name], site):
            done[name] = done.get(name, 0) + 1
        with recorded() as seen:
            shown = shown_widgets(app, coordinator)
        assert shown["schedule"] == computed_whole(), (step, name, site)
        # every widget as computed whole
        assert shown == shown_with_nothing_stored(app, coordinator), (step, name, site)
        # brought up to date from what changed: no site's due assessments computed whole
        assert not whole_site_statements(seen), (step, name)
        if step % 4 == 0:
            assert shown_widgets(app, worker)["schedule"] == computed_whole(("BU",)), step
            assert shown_widgets(app, worker) == shown_with_nothing_stored(app, worker)
    assert set(done) == set(changes)
    final = computed_whole()
    assert final["due"] + final["overdue"] > 0


def test_first_request_after_an_answer_does_not_grow(app, db_session, make_user, make_participant):
    """The statements of the first dashboard after an answer are the same with 4 and
    with 16 participants in window at the site, and none reads the site whole: the
    due assessments are computed for the answer's participant alone."""
    sync_shipped(db_session)
    db_session.commit()
    page = page_as(app, make_user, "coordinator")
    people: list[int] = []
    counts = []
    for size in (4, 16):
        while len(people) < size:
            enrolled = TODAY - relativedelta(months=4) + timedelta(days=len(people) % 20 - 10)
            people.append(make_participant("BU", enrolment_date=enrolled).id)
        widget_store().clear()
        before = shown_widgets(app, page)["schedule"]  # every site computed and kept
        with all_sites():
            answer(people[size // 2], "T1")
            db.session.commit()
        with recorded() as seen:
            shown = shown_widgets(app, page)["schedule"]
        assert shown == computed_whole()
        assert shown["due"] + shown["overdue"] == before["due"] + before["overdue"] - 1
        assert not whole_site_statements(seen)
        schedule = [params for s, params in seen if "schedule_done" in s]
        values = schedule[0].values() if isinstance(schedule[0], dict) else schedule[0]
        assert len(schedule) == 1 and people[size // 2] in list(values)
        counts.append(counted_reads(seen))
    assert counts[0] == counts[1]
