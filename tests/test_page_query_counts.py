"""The participant list (API and page: first, filtered and deep pages), the dashboard
and a participant's page run as many SQL statements with five times the participants:
nothing is read once per participant, per site or twice."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.seeders.instruments import sync_shipped
from tests.sql_helpers import CACHE_REFRESHES, statements_during
from tests.web_helpers import page_as
from trialdm.contacts.operations import create_contact_session
from trialdm.core.scoping import all_sites
from trialdm.instruments.models import InstrumentResponse, InstrumentVersion
from trialdm.participants.models import Participant
from trialdm.web.widgetcache import widget_store

TODAY = date.today()
SITES = ("BU", "UKE", "ULM")
numbers = itertools.count(1)


@pytest.fixture
def trial(db_session, make_participant):
    """``trial.grow(n)`` adds n service users across three sites and both arms, with
    contacts (so that several fidelity statuses occur) and baseline questionnaires."""
    sync_shipped(db_session)
    psws = {site: make_participant(site, "psw") for site in SITES}
    version = db_session.scalar(
        sa.select(InstrumentVersion.id).where(InstrumentVersion.name == "baseline_demographics")
    )

    class Trial:
        first: Participant | None = None

        def grow(self, n: int) -> None:
            rows = []
            for _ in range(n):
                k = next(numbers)
                enrolled = TODAY - timedelta(days=20 + 7 * k % 300)
                rows.append(
                    {
                        "site_code": SITES[k % 3],
                        "category": "service_user",
                        "study_id": f"Q-{k:05d}",
                        "gender": "female",
                        "year_of_birth": enrolled.year - 30,
                        "enrolment_date": enrolled,
                        "consent_date": enrolled,
                        "arm": "intervention" if k % 2 else "control",
                        "status": "withdrawn" if k % 11 == 0 else "enrolled",
                        "withdrawal_date": enrolled + timedelta(days=3) if k % 11 == 0 else None,
                        "version_id": 1,
                    }
                )
            # one at risk in every batch whatever ids the database hands out (PostgreSQL
            # keeps its sequences across tests): intervention, no contact, 100 days in
            rows[0].update(
                arm="intervention",
                status="enrolled",
                withdrawal_date=None,
                enrolment_date=TODAY - timedelta(days=100),
                consent_date=TODAY - timedelta(days=100),
            )
            ids = db_session.scalars(
                sa.insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
                rows,
            ).all()
            db_session.execute(
                sa.insert(InstrumentResponse),
                [
                    {
                        "site_code": row["site_code"],
                        "participant_id": pid,
                        "event": "T0",
                        "instrument_name": "baseline_demographics",
                        "instrument_version_id": version,
                        "status": "complete",
                        "collected_on": row["enrolment_date"],
                        "version_id": 1,
                    }
                    for pid, row in zip(ids, rows, strict=True)
                    if pid % 3
                ],
            )
            with all_sites():
                for pid, row in zip(ids[1:], rows[1:], strict=True):
                    if row["arm"] == "intervention" and pid % 3:
                        for days in range(pid % 4):
                            create_contact_session(
                                db_session,
                                {
                                    "site": row["site_code"],
                                    "psws": [psws[row["site_code"]].id],
                                    "date": row["enrolment_date"] + timedelta(days=days),
                                    "format": "individual",
                                    "mode": "in_person",
                                    "attendees": [pid],
                                },
                            )
            db_session.commit()
            if self.first is None:
                self.first = db_session.get(Participant, ids[1])

    return Trial()


def statements(action) -> int:
    """The statements of ``action`` but the reads of the login's user and memberships
    and of the sites' zones, which depend on what came before the request, not on
    the trial's size."""
    found = statements_during(action, warm=True)
    return len([s for s in found if not s.startswith(CACHE_REFRESHES)])


def counts_at_two_sizes(trial, requests: dict[str, callable]) -> tuple[dict, dict]:
    trial.grow(30)  # past the first page of 25
    small = {name: statements(go) for name, go in requests.items()}
    trial.grow(120)
    large = {name: statements(go) for name, go in requests.items()}
    return small, large


def ok(client, url: str, **kwargs):
    def go() -> None:
        response = client.get(url, **kwargs)
        assert response.status_code == 200, (url, response.data[:300])

    return go


def test_participant_list_api_statements_do_not_grow(api_as, trial):
    api = api_as("coordinator")
    urls = {
        "first": "/api/v1/participants",
        "filtered": "/api/v1/participants?fidelity=at_risk",
        "arm": "/api/v1/participants?arm=intervention&site=BU",
        "deep": "/api/v1/participants?per_page=2&page=3",
        "cursor": "/api/v1/participants?per_page=2&after=1",
    }
    requests = {name: ok(api, url) for name, url in urls.items()}
    requests["one"] = lambda: ok(api, f"/api/v1/participants/{trial.first.id}")()
    small, large = counts_at_two_sizes(trial, requests)
    assert large == small


@pytest.mark.usefixtures("sites_on_one_date")
def test_pages_statements_do_not_grow(app, make_user, trial):
    page = page_as(app, make_user, "coordinator")
    requests = {
        "list": ok(page, "/participants"),
        "filtered": ok(page, "/participants?fidelity=at_risk"),
        "deep": ok(page, "/participants?page=2"),
        "dashboard": ok(page, "/"),
        "participant": lambda: ok(page, f"/participants/{trial.first.id}")(),
    }
    small, large = counts_at_two_sizes(trial, requests)
    assert large == small


@pytest.mark.usefixtures("sites_on_one_date")
def test_dashboard_reads_fidelity_and_the_schedule_once(app, make_user, trial):
    """With nothing stored, one fidelity statement for every site and one schedule
    statement for counts and rows; the next request reads neither (stored per site)."""
    trial.grow(12)
    page = page_as(app, make_user, "coordinator")
    with app.app_context():
        widget_store().clear()
    first = recorded_once(ok(page, "/"))
    assert sum("fidelity_counted" in s for s in first) == 1, first
    assert sum(" AS windows" in s for s in first) == 1, first
    second = recorded_once(ok(page, "/"))
    assert not any("fidelity_counted" in s or " AS windows" in s for s in second), second


def recorded_once(action) -> list[str]:
    return statements_during(action, data_only=False)


def recorded(action) -> list[str]:
    return statements_during(action, data_only=False, warm=True)


def test_a_cursor_page_counts_nothing(api_as, trial):
    """Paging by cursor (``after=``) costs the same at any depth: no count of the list."""
    trial.grow(12)
    api = api_as("coordinator")
    url = "/api/v1/participants?per_page=2&after=1"
    seen = recorded(ok(api, url))
    assert not any("count(*)" in s.lower() for s in seen), seen
    page = api.get(url).json
    assert page["meta"]["total"] is None and page["meta"]["next_after"] is not None
    assert api.get("/api/v1/participants?per_page=2").json["meta"]["total"] >= 12


@pytest.mark.usefixtures("sites_on_one_date")
def test_a_fidelity_filter_is_evaluated_with_its_page_and_not_counted(
    api_as, app, make_user, trial
):
    """The list filtered by a fidelity status evaluates the status in the page's own
    statement (no fidelity of the whole trial, no count), then computes the fields of
    the page's participants once, by API and page."""
    trial.grow(30)
    api = api_as("coordinator")
    page = page_as(app, make_user, "coordinator")
    for client, url in (
        (api, "/api/v1/participants?fidelity=on_track&per_page=2"),
        (page, "/participants?fidelity=on_track"),
    ):
        seen = recorded(ok(client, url))
        assert sum("fidelity_counted" in s for s in seen) == 1, seen
        assert not any("count(*) OVER" in s for s in seen), seen
        listed = [s for s in seen if "LIMIT" in s and "FROM participants" in s]
        assert len(listed) == 1 and "fidelity_randomisation" in listed[0], seen
    listed = api.get("/api/v1/participants?fidelity=on_track&per_page=2").json
    assert listed["meta"]["total"] is None and listed["meta"]["next_after"] is not None
    assert {p["fidelity"]["status"] for p in listed["items"]} == {"on_track"}
    past_the_end = api.get("/api/v1/participants?fidelity=on_track&per_page=2&page=500").json
    assert past_the_end["items"] == [] and past_the_end["meta"]["total"] is None
    assert past_the_end["meta"]["next_after"] is None


def test_a_participant_page_reads_the_instrument_versions_once(app, make_user, trial):
    """The schedule, questionnaire and data-query panels share one read of the
    instrument versions per request."""
    trial.grow(3)
    page = page_as(app, make_user, "coordinator")
    seen = recorded(ok(page, f"/participants/{trial.first.id}"))
    assert sum("FROM instrument_versions" in s for s in seen) == 1, seen
