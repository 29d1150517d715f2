"""The dashboard's per-site results: a change at one site is shown by the next
request, that site alone is computed again, the other sites come from the store,
and a user never sees a site of someone else's scope that the store holds."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import template_rendered

from tests.quality_helpers import enrolled_with_baseline
from tests.randomisation_helpers import eligible_participant, randomising
from tests.sql_helpers import recorded
from tests.web_helpers import page_as
from trialdm.contacts.operations import (
    create_contact_session,
    delete_contact_session,
    update_contact_session,
)
from trialdm.core.audit import audit_context, record_event
from trialdm.core.scoping import EVERY_SITE, all_sites
from trialdm.extensions import db
from trialdm.instruments.operations import update_response
from trialdm.participants.models import Participant
from trialdm.participants.operations import update_participant
from trialdm.randomisation.operations import generate_list, randomise
from trialdm.web.dashboard import WIDGETS_KEY
from trialdm.web.widgetcache import site_stamps, widget_store

TODAY = date.today()
SCHEME = "ratio = { intervention = 1, control = 1 }\nblock_sizes = [2]\nslots_per_stratum = 20\n"


@contextmanager
def dashboard(app):
    """Yields a dict that receives the widgets' data of the next rendered dashboard."""
    shown: dict = {}

    def record(sender, template, context, **extra) -> None:
        if "widgets" in context:
            shown.clear()
            shown.update({widget.name: data for widget, data in context["widgets"]})

    template_rendered.connect(record, app)
    try:
        yield shown
    finally:
        template_rendered.disconnect(record, app)


def fidelity_of(shown: dict, site: str) -> dict[str, int]:
    return next(row["counts"] for row in shown["fidelity"]["rows"] if row["site"] == site)


@pytest.fixture
def two_sites(db_session, make_participant):
    """Intervention participants at BU and UKE, one contact each, stored as nothing
    yet (the store is emptied)."""
    people = {}
    for site in ("BU", "UKE"):
        psw = make_participant(site, "psw")
        people[site] = [
            make_participant(site, enrolment_date=TODAY - timedelta(days=40 + k)) for k in range(3)
        ]
        with all_sites():
            create_contact_session(
                db_session,
                {
                    "site": site,
                    "psws": [psw.id],
                    "date": TODAY - timedelta(days=30),
                    "format": "individual",
                    "mode": "in_person",
                    "attendees": [people[site][0].id],
                },
            )
        db_session.commit()
    widget_store().clear()
    return people


def test_a_change_at_one_site_is_shown_at_once_and_only_that_site_is_computed(
    app, make_user, two_sites
):
    page = page_as(app, make_user, "coordinator")
    with dashboard(app) as shown:
        assert page.get("/").status_code == 200
    before = {site: fidelity_of(shown, site) for site in ("BU", "UKE")}
    assert sum(before["BU"].values()) == 3 and before["BU"]["withdrawn"] == 0

    with all_sites(), audit_context(reason="moved away"):
        someone = db.session.merge(two_sites["BU"][1])
        update_participant(
            db.session,
            someone,
            {"status": "withdrawn", "withdrawal_date": TODAY, "withdrawal_reason": "moved"},
            someone.version_id,
        )
        db.session.commit()

    store = widget_store()
    hits, misses = store.hits, store.misses
    with recorded() as seen, dashboard(app) as shown:
        assert page.get("/").status_code == 200
    after = {site: fidelity_of(shown, site) for site in ("BU", "UKE")}
    # no stale value: BU's withdrawal is counted by the very next request
    assert after["BU"]["withdrawn"] == 1 and sum(after["BU"].values()) == 3
    assert after["UKE"] == before["UKE"]
    # BU's results were computed again, those of every other site came from the store
    per_site = [w for w in app.extensions[WIDGETS_KEY] if w.by_site and w.name in shown]
    assert {"fidelity", "schedule"} <= {w.name for w in per_site}
    sites = len({row["site"] for row in shown["fidelity"]["rows"]})
    assert store.misses - misses == len(per_site)
    assert store.hits - hits >= len(per_site) * (sites - 1)
    fidelity = [params for statement, params in seen if "fidelity_counted" in statement]
    assert len(fidelity) == 1
    assert "BU" in repr(fidelity[0]) and "UKE" not in repr(fidelity[0])


def test_a_site_in_the_store_is_not_shown_outside_its_scope(app, make_user, two_sites):
    coordinator = page_as(app, make_user, "coordinator")
    worker = page_as(app, make_user, "research_worker", ["BU"])
    with dashboard(app) as shown:
        assert coordinator.get("/").status_code == 200
    assert {row["site"] for row in shown["fidelity"]["rows"]} >= {"BU", "UKE"}
    hits = widget_store().hits

    with dashboard(app) as shown:
        assert worker.get("/").status_code == 200
    assert [row["site"] for row in shown["fidelity"]["rows"]] == ["BU"]
    assert {row.site for row in shown["schedule"]["rows"]} <= {"BU"}
    assert widget_store().hits > hits  # BU's results came from the store


def test_another_day_is_computed_again(app, make_user, two_sites, time_machine):
    page = page_as(app, make_user, "coordinator")
    assert page.get("/").status_code == 200
    misses = widget_store().misses
    # a day later: every site is on its next date (each site's own, not the server's)
    time_machine.move_to(datetime.now(UTC) + timedelta(days=1))
    assert page.get("/").status_code == 200
    assert widget_store().misses > misses


def stamps(app) -> dict[tuple[str, str], str | None]:
    """(widget, site) -> the stamp its stored result is keyed on."""
    from trialdm.core.audit import entity_name

    widgets = [w for w in app.extensions[WIDGETS_KEY] if w.by_site]
    with all_sites():
        found = site_stamps(
            db.session, EVERY_SITE, {entity_name(m) for w in widgets for m in w.by_site.reads}
        )
    return {
        (w.name, site): found.stamp(site, map(entity_name, w.by_site.reads))
        for w in widgets
        for site in found.sites()
    }


ALL = {"participants", "schedule", "fidelity"}


def test_every_change_a_widget_reads_moves_its_site_stamp_alone(
    app, db_session, make_participant, tmp_path
):
    """The store is only as fresh as the stamps: participants (created, withdrawn),
    contact sessions (created, moved, deleted), questionnaire responses (changed) and
    allocations each write an audit row with their entity and site, which moves the
    stamp of that site for the widgets that read it, and for no other widget or site."""
    psw = make_participant("BU", "psw")
    moved: list[str] = []

    @contextmanager
    def change(name: str, widgets: set[str]):
        before = stamps(app)
        with all_sites(), audit_context(reason="correction"):
            yield
            db_session.commit()
        after = stamps(app)
        changed = {key for key in after if after[key] != before[key]}
        assert changed == {(widget, "BU") for widget in widgets}, name
        moved.append(name)

    with change("participant created", ALL):
        person = make_participant("BU", enrolment_date=TODAY - timedelta(days=50))
    person, response = enrolled_with_baseline(db_session, make_participant, "BU")
    with change("contact session created", {"fidelity"}):
        contact = create_contact_session(
            db_session,
            {
                "site": "BU",
                "psws": [psw.id],
                "date": TODAY - timedelta(days=10),
                "format": "individual",
                "mode": "in_person",
                "attendees": [person.id],
            },
        )
    other = make_participant("BU", enrolment_date=TODAY - timedelta(days=50))
    with change("contact session moved", {"fidelity"}):
        update_contact_session(
            db_session, contact, {"date": TODAY - timedelta(days=5)}, contact.version_id
        )
    with change("attendees changed", {"fidelity"}):
        update_contact_session(db_session, contact, {"attendees": [other.id]}, contact.version_id)
    with change("contact session deleted", {"fidelity"}):
        delete_contact_session(db_session, contact, contact.version_id)
    with change("response changed", {"schedule"}):
        update_response(db_session, response, {"status": "incomplete"}, response.version_id)
    with change("participant withdrawn", ALL):
        update_participant(
            db_session,
            other,
            {"status": "withdrawn", "withdrawal_date": TODAY, "withdrawal_reason": "moved"},
            other.version_id,
        )
    with randomising(app, tmp_path, SCHEME), all_sites():
        generate_list(db_session)
        db_session.commit()
        eligible = eligible_participant(db_session, site="BU")
        db_session.commit()
        # the allocation, and the arm it gives the participant
        with change("allocated", ALL):
            randomise(db_session, eligible)
    with change("event of another entity", set()):
        record_event(db_session, "sent", "self_report_links", 1, "BU")
    assert len(moved) == 9


def test_a_change_a_widget_does_not_read_leaves_its_result_stored(app, make_user, two_sites):
    """A questionnaire answer at BU brings BU's due assessments up to date (from the
    audit rows since, the answer's participant alone), not its fidelity: that
    statement does not run, and the counts shown are the same; a contact session then
    is counted by the next request."""
    page = page_as(app, make_user, "coordinator")
    person = two_sites["BU"][0]
    with dashboard(app) as shown:
        assert page.get("/").status_code == 200
    before = fidelity_of(shown, "BU")
    with all_sites():
        record_event(db.session, "answers", "responses", 1, "BU")
        db.session.commit()
    with recorded() as sent, dashboard(app) as shown:
        assert page.get("/").status_code == 200
    seen = [statement for statement, _ in sent]
    assert fidelity_of(shown, "BU") == before
    assert not [statement for statement in seen if "fidelity_counted" in statement]
    assert [statement for statement in seen if "audit_events.changes" in statement]

    # a contact is read by the fidelity widget: computed again, and shown at once
    with all_sites():
        psw = db.session.scalar(
            sa.select(Participant.id).where(
                Participant.site_code == "BU", Participant.category == "psw"
            )
        )
        for days in (2, 3):  # the third and fourth contact: the minimum is met
            create_contact_session(
                db.session,
                {
                    "site": "BU",
                    "psws": [psw],
                    "date": TODAY - timedelta(days=days),
                    "format": "individual",
                    "mode": "in_person",
                    "attendees": [person.id],
                },
            )
        db.session.commit()
    with dashboard(app) as shown:
        assert page.get("/").status_code == 200
    assert fidelity_of(shown, "BU")["met"] == before["met"] + 1


def test_a_redis_store_is_shared_and_an_unreachable_one_is_a_miss(redis_url):
    """Two processes naming the same Redis share entries (a web worker computes, another
    or a Celery task reads); without Redis the dashboard computes, it does not fail."""
    import uuid

    from trialdm.web.widgetcache import RedisStore

    prefix = f"trialdm:test:{uuid.uuid4().hex}:"
    one, other = RedisStore(redis_url, prefix), RedisStore(redis_url, prefix)
    one.set_many({"fidelity:BU:2026-01-01:x:1@t": [{"site": "BU", "n": 3}]})
    assert other.get_many(["fidelity:BU:2026-01-01:x:1@t", "missing"]) == [
        [{"site": "BU", "n": 3}],
        None,
    ]
    assert (other.hits, other.misses) == (1, 1)
    other.clear()
    assert one.get_many(["fidelity:BU:2026-01-01:x:1@t"]) == [None]
    gone = RedisStore("redis://127.0.0.1:1/0", prefix)
    gone.set_many({"k": [1]})
    assert gone.get_many(["k"]) == [None]


def test_a_changed_fidelity_rule_is_computed_again(app, make_user, two_sites, monkeypatch):
    """The widget's settings are part of its key: no result of the old rule is shown."""
    page = page_as(app, make_user, "coordinator")
    with dashboard(app) as shown:
        assert page.get("/").status_code == 200
    assert shown["fidelity"]["rows"][0]["minimum_contacts"] == app.config["FIDELITY_MIN_CONTACTS"]
    monkeypatch.setitem(app.config, "FIDELITY_MIN_CONTACTS", 7)
    with dashboard(app) as shown:
        assert page.get("/").status_code == 200
    assert {row["minimum_contacts"] for row in shown["fidelity"]["rows"]} == {7}
