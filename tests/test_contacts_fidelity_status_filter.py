"""A list filtered by fidelity status computes only the participants whose window start
allows that status (an index range, not the whole trial): the people it finds are
exactly those the whole trial's computation gives that status, on any day."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.randomisation_helpers import eligible_participant, randomising
from trialdm.contacts.models import FIDELITY_STATUSES
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_subquery
from trialdm.core.scoping import all_sites
from trialdm.randomisation.models import Randomisation
from trialdm.randomisation.operations import generate_list, randomise

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


@pytest.mark.parametrize("as_of", [date(2024, 3, 1), date(2025, 2, 28), date(2025, 8, 20)])
def test_a_status_filter_finds_what_the_whole_trial_gives_that_status(db_session, spread, as_of):
    with all_sites():
        every = fidelity_subquery(as_of)
        expected: dict[str, set[int]] = {}
        for pid, status in db_session.execute(select(every.c.participant_id, every.c.status)):
            expected.setdefault(status, set()).add(pid)
        assert len(expected) >= 3, expected  # several statuses each day
        for status in FIDELITY_STATUSES:
            narrowed = fidelity_subquery(as_of, status=status)
            found = set(
                db_session.scalars(
                    select(narrowed.c.participant_id).where(narrowed.c.status == status)
                )
            )
            assert found == expected.get(status, set()), (as_of, status)
