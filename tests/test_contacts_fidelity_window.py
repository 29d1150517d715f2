"""Where the intervention window opens: at allocation to the intervention arm (the
stored randomisation), else at ``intervention_start``, else at enrolment; never at the
first contact, so that someone never contacted falls behind like anyone else."""

from datetime import UTC, date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import update

from tests.randomisation_helpers import eligible_participant, randomising
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_for
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.randomisation.models import Randomisation
from trialdm.randomisation.operations import generate_list, randomise

SCHEME = "ratio = { intervention = 1, control = 1 }\nblock_sizes = [2]\nslots_per_stratum = 20\n"


def fidelity(person, as_of):
    with all_sites():
        return fidelity_for(db.session, [person.id], as_of).get(person.id)


def contact(session, psw, on, person):
    with all_sites():
        create_contact_session(
            session,
            {
                "site": person.site_code,
                "psws": [psw.id],
                "date": on,
                "format": "individual",
                "mode": "phone",
                "attendees": [person.id],
            },
        )
        session.commit()


def test_no_contact_four_months_after_enrolment_is_at_risk(make_participant, api_as):
    """The trial failing someone shows: not a grey 'not started' but at risk, by the
    same pace rule as everyone else (no contact after a third of the window)."""
    today = date.today()
    enrolled = today - relativedelta(months=4)
    forgotten = make_participant("BU", enrolment_date=enrolled)
    found = fidelity(forgotten, today)
    assert (found["window_start"], found["first_contact"], found["contacts_total"]) == (
        enrolled,
        None,
        0,
    )
    assert found["status"] == "at_risk"
    assert found["window_end"] == enrolled + relativedelta(months=6)
    api = api_as("research_worker", ["BU"])
    assert api.get(f"/api/v1/participants/{forgotten.id}").json["fidelity"]["status"] == ("at_risk")
    listed = api.get("/api/v1/participants?fidelity=at_risk").json["items"]
    assert [p["id"] for p in listed] == [forgotten.id]
    # a month in, the same person was still on track
    assert fidelity(forgotten, enrolled + relativedelta(months=1))["status"] == "on_track"


def test_window_opens_at_intervention_start_where_the_arm_is_typed(make_participant, db_session):
    psw = make_participant("BU", "psw", training_completed=date(2023, 1, 2))
    person = make_participant(
        "BU", enrolment_date=date(2025, 1, 1), intervention_start=date(2025, 2, 1)
    )
    contact(db_session, psw, date(2025, 1, 15), person)  # before the start: not in the window
    found = fidelity(person, date(2025, 3, 1))
    assert (found["window_start"], found["window_end"]) == (date(2025, 2, 1), date(2025, 8, 1))
    assert (found["first_contact"], found["contacts_total"], found["contacts_in_window"]) == (
        date(2025, 1, 15),
        1,
        0,
    )
    assert found["status"] == "on_track"
    assert fidelity(person, date(2025, 1, 31))["status"] == "not_started"


def _allocated_to_intervention(app, db_session, tmp_path, on: datetime, **fields):
    """A participant randomised here to the intervention arm, the allocation stored as
    made at ``on`` (the clock of the test cannot be turned back)."""
    with randomising(app, tmp_path, SCHEME), all_sites():
        generate_list(db_session)
        # blocks of two: one of any two consecutive allocations is intervention
        for _ in range(2):
            person = eligible_participant(db_session, **fields)
            allocation = randomise(db_session, person)
            if allocation.arm == "intervention":
                break
        assert person.arm == "intervention"
        db_session.execute(
            update(Randomisation.__table__)
            .where(Randomisation.__table__.c.id == allocation.id)
            .values(randomised_at=on)
        )
        db_session.commit()
    return person


def test_window_opens_at_allocation_where_the_service_randomises(
    app, db_session, tmp_path, make_participant
):
    psw = make_participant("BU", "psw", training_completed=date(2023, 1, 2))
    # enrolled in January, randomised late on 3 March (UTC), never contacted
    person = _allocated_to_intervention(
        app,
        db_session,
        tmp_path,
        datetime(2025, 3, 3, 23, 30, tzinfo=UTC),
        enrolment_date=date(2025, 1, 1),
    )
    found = fidelity(person, date(2025, 3, 10))
    assert (found["window_start"], found["window_end"]) == (date(2025, 3, 3), date(2025, 9, 3))
    assert (found["first_contact"], found["status"]) == (None, "on_track")
    assert fidelity(person, date(2025, 3, 2))["status"] == "not_started"
    # a third of the window without a contact: at risk
    assert fidelity(person, date(2025, 5, 3))["status"] == "at_risk"
    contact(db_session, psw, date(2025, 5, 1), person)
    assert fidelity(person, date(2025, 5, 3))["status"] == "on_track"
    assert fidelity(person, date(2025, 5, 3))["contacts_in_window"] == 1


def test_allocation_comes_before_a_typed_start(app, db_session, tmp_path):
    """Where the service allocated, the stored allocation is the start even when a
    start date was typed as well."""
    person = _allocated_to_intervention(
        app,
        db_session,
        tmp_path,
        datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        enrolment_date=date(2025, 1, 1),
    )
    with all_sites(), audit_context(reason="peer support began"):
        person.intervention_start = date(2025, 4, 1)
        db_session.commit()
    found = fidelity(person, date(2025, 4, 10))
    assert found["window_start"] == date(2025, 3, 3)
    assert found["days_left"] == (date(2025, 9, 3) - date(2025, 4, 10)).days + 1
