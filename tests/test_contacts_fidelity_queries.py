"""Fidelity reads issue a fixed number of statements, however many participants and
contacts the trial has: one participant (the participant page, the API) and one site
(the dashboard's summary) at two sizes."""

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_for, site_fidelity_summary
from trialdm.core.scoping import all_sites
from trialdm.extensions import db


def statements(run: Callable[[], object]) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        # savepoints are the test's transaction around each request, and a token's
        # last use is recorded when enough time passed: neither is the read's
        skipped = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO", "UPDATE api_tokens")
        if not statement.startswith(skipped):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.usefixtures("sites_on_one_date")
def test_fidelity_reads_do_not_grow_with_the_trial(make_participant, db_session, api_as):
    psws = {
        site: make_participant(site, "psw", training_completed=date(2023, 1, 2))
        for site in ("BU", "ULM")
    }
    today = date.today()
    people = []

    def grow(count: int) -> None:
        added = [
            make_participant(site, enrolment_date=today - timedelta(days=20 + 7 * (n % 30)))
            for n in range(count)
            for site in psws
        ]
        people.extend(added)
        with all_sites():
            for n, person in enumerate(added):
                for k in range(n % 4):  # none to three contacts each
                    create_contact_session(
                        db_session,
                        {
                            "site": person.site_code,
                            "psws": [psws[person.site_code].id],
                            "date": today - timedelta(days=1 + 5 * k),
                            "format": "individual",
                            "mode": "phone",
                            "attendees": [person.id],
                        },
                    )
            db_session.commit()

    api = api_as("site_lead", ["BU"])

    def counts() -> dict[str, int]:
        one = people[0]
        with all_sites():
            found = {
                "fidelity_for one": statements(lambda: fidelity_for(db_session, [one.id])),
                "site summary": statements(lambda: site_fidelity_summary(db_session, "BU")),
            }
            db_session.rollback()
        pages = {
            "participant API": f"/api/v1/participants/{one.id}",
            "site fidelity API": "/api/v1/sites/BU/fidelity",
        }
        for name, url in pages.items():
            responses = []
            found[name] = statements(lambda url=url, got=responses: got.append(api.get(url)))
            assert responses[0].status_code == 200, responses[0].json
        return found

    grow(2)
    counts()  # the token's first use records its last use
    few = counts()
    grow(40)
    with all_sites():
        assert len(fidelity_for(db_session, [p.id for p in people])) == 84
    many = counts()
    assert many == few
    assert few["fidelity_for one"] == 1 and few["site summary"] == 1
