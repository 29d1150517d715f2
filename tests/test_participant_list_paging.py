"""A participant list by page number reads the page's ids first (filters, order, offset
and count over the ids alone), then loads those rows by key: the pages are the same
rows in the same order as the whole list, with the right total, for every sort and
filter and within the user's sites only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.sql_helpers import statements_during
from trialdm.contacts.queries import fidelity_for
from trialdm.core.models import utcnow
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.models import Participant

TODAY = date.today()


@pytest.fixture
def people(db_session):
    """23 service users at two sites, both arms, enrolled over the last year (so
    several fidelity statuses occur; nobody has a contact); two of them deleted."""
    rows = [
        {
            "site_code": ("BU", "UKE")[k % 2],
            "category": "service_user",
            "study_id": f"P-{(k * 7) % 23:03d}",  # study-ID order differs from id order
            "gender": "female",
            "year_of_birth": 1990,
            "enrolment_date": TODAY - timedelta(days=15 * k + 10),
            "consent_date": TODAY - timedelta(days=15 * k + 10),
            "arm": "intervention" if k % 3 else "control",
            "status": "enrolled",
            "deleted_at": utcnow() if k in (4, 9) else None,
            "version_id": 1,
        }
        for k in range(23)
    ]
    db_session.execute(sa.insert(Participant), rows)
    db_session.commit()


def expected(sort: list, site: str | None = None, status: str | None = None) -> list[int]:
    with all_sites():
        stmt = sa.select(Participant.id).where(Participant.deleted_at.is_(None))
        if site:
            stmt = stmt.where(Participant.site_code == site)
        ids = list(db.session.scalars(stmt.order_by(*sort, Participant.id)))
        if status:
            found = fidelity_for(db.session, ids)
            ids = [i for i in ids if i in found and found[i]["status"] == status]
    return ids


def walk(api, query: str, per_page: int = 4) -> tuple[list[int], set[int]]:
    """Every page of a list by number: the ids in order and the totals the pages gave."""
    ids: list[int] = []
    totals: set[int] = set()
    for page in range(1, 20):
        response = api.get(f"/api/v1/participants?{query}&per_page={per_page}&page={page}")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        totals.add(body["meta"]["total"])
        ids += [item["id"] for item in body["items"]]
        if len(body["items"]) < per_page:
            break
    return ids, totals


@pytest.mark.parametrize(
    ("query", "sort", "site", "status"),
    [
        ("category=service_user", [Participant.id], None, None),
        ("sort=study_id", [Participant.study_id], None, None),
        ("sort=-enrolment_date", [Participant.enrolment_date.desc()], None, None),
        ("site=UKE&sort=study_id", [Participant.study_id], "UKE", None),
        ("fidelity=at_risk&sort=study_id", [Participant.study_id], None, "at_risk"),
        ("fidelity=on_track", [Participant.id], None, "on_track"),
    ],
)
def test_pages_by_number_are_the_whole_list_in_order(api_as, people, query, sort, site, status):
    wanted = expected(sort, site, status)
    assert wanted, "the case lists somebody"
    ids, totals = walk(api_as("coordinator"), query)
    assert ids == wanted
    # a derived status is evaluated up to the page's end, never counted
    assert totals == ({None} if status else {len(wanted)})


def test_pages_by_number_hold_the_users_sites_only(api_as, people):
    ids, totals = walk(api_as("research_worker", ["BU"]), "sort=study_id", per_page=3)
    assert ids == expected([Participant.study_id], "BU")
    assert totals == {len(ids)}


def test_a_deep_page_offsets_over_the_ids_alone(api_as, people, db_session):
    api = api_as("coordinator")
    url = "/api/v1/participants?per_page=3&page=4&sort=study_id"
    seen = statements_during(lambda: api.get(url), warm=True)
    paged = [s for s in seen if "OFFSET" in s and "FROM participants" in s]
    assert len(paged) == 1, seen
    # the page's statement selects the ids (and the count), not the rows' columns
    columns = paged[0].split(" FROM ", 1)[0]
    assert "participants.id" in columns and "participants.study_id" not in columns, columns
    # the rows are then read by key
    assert any("WHERE participants.id IN" in s and "OFFSET" not in s for s in seen), seen
    if db_session.bind.dialect.name == "sqlite":
        deep = sa.text(
            "EXPLAIN QUERY PLAN SELECT participants.id FROM participants "
            "WHERE participants.deleted_at IS NULL ORDER BY participants.id LIMIT 3 OFFSET 12"
        )
        plan = " ".join(str(row[-1]) for row in db_session.execute(deep))
        assert "COVERING INDEX" in plan, plan


@pytest.mark.parametrize("status", ["at_risk", "on_track", "not_met"])
def test_a_fidelity_list_by_cursor_is_the_whole_list(api_as, people, status):
    """Not counted, a filtered list pages by cursor: ``next_after`` is given while more
    follow, and the pages are the whole list in order."""
    wanted = expected([Participant.id], None, status)
    assert wanted
    api = api_as("coordinator")
    ids: list[int] = []
    after = None
    for _ in range(20):
        cursor = f"&after={after}" if after is not None else ""
        body = api.get(f"/api/v1/participants?fidelity={status}&per_page=2{cursor}").json
        assert body["meta"]["total"] is None
        ids += [item["id"] for item in body["items"]]
        after = body["meta"]["next_after"]
        if after is None:
            break
    assert ids == wanted


def test_a_fidelity_page_shows_no_count_and_pages_by_previous_and_next(app, make_user, db_session):
    """The page of a fidelity filter shows no total it did not compute, and links the
    next page only when there is one."""
    from tests.web_helpers import page_as

    enrolled = TODAY - timedelta(days=100)  # no contact since: at risk
    rows = [
        {
            "site_code": "BU",
            "category": "service_user",
            "study_id": f"R-{k:03d}",
            "gender": "female",
            "year_of_birth": 1990,
            "enrolment_date": enrolled,
            "consent_date": enrolled,
            "arm": "intervention",
            "status": "enrolled",
            "version_id": 1,
        }
        for k in range(27)
    ]
    db_session.execute(sa.insert(Participant), rows)
    db_session.commit()
    page = page_as(app, make_user, "coordinator")
    first = page.get("/participants?fidelity=at_risk").get_data(as_text=True)
    second = page.get("/participants?fidelity=at_risk&page=2").get_data(as_text=True)
    assert "27 participants" not in first and " of " not in first.split('class="pager"')[1]
    assert 'rel="next"' in first and "page=2" in first and 'rel="prev"' not in first
    assert 'rel="prev"' in second and 'rel="next"' not in second
    shown = [f"R-{k:03d}" for k in range(27) if f"R-{k:03d}<" in first + second]
    assert len(shown) == 27
