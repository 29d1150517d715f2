"""The dashboard's fidelity counts after a change: the site's kept statuses are brought
up to date from the audit rows written since, for the participants they concern
alone, and always equal a full computation (random changes of every kind, both
sites, a site user's scope). The first request after a change of one participant
runs as many statements, none over the whole site, with four times the people."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.randomisation_helpers import eligible_participant, randomising
from tests.sql_helpers import counted_reads, recorded
from tests.web_helpers import page_as, shown_widgets
from trialdm.contacts.models import ContactSession
from trialdm.contacts.operations import (
    create_contact_session,
    delete_contact_session,
    update_contact_session,
)
from trialdm.contacts.queries import sites_fidelity_summaries
from trialdm.core.audit import audit_context, record_event
from trialdm.core.errors import DomainError
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.participants.operations import delete_participant, update_participant
from trialdm.randomisation.operations import generate_list, randomise
from trialdm.web.widgetcache import STORE_KEY, MemoryStore, widget_store

TODAY = date.today()
# the enrolment widget's statement (its grouping)
ENROLMENT_STATEMENT = "GROUP BY participants.site_code, participants.enrolment_date"
SITES = ("BU", "UKE")
# counts of statements and of sites' statuses, the same at any hour (see the fixture)
pytestmark = pytest.mark.usefixtures("sites_on_one_date")
SCHEME = "ratio = { intervention = 1, control = 1 }\nblock_sizes = [2]\nslots_per_stratum = 40\n"


def shown_fidelity(app, client) -> list[dict]:
    """The fidelity rows of the dashboard ``client`` is shown."""
    return shown_widgets(app, client)["fidelity"]["rows"]


def shown_with_nothing_stored(app, client) -> dict[str, dict]:
    """The widgets computed whole: the same request with an empty store of its own."""
    kept = app.extensions[STORE_KEY]
    app.extensions[STORE_KEY] = MemoryStore()
    try:
        return shown_widgets(app, client)
    finally:
        app.extensions[STORE_KEY] = kept


def computed_whole(sites: tuple[str, ...] = SITES) -> list[dict]:
    """Every site's counts by the one statement over all of its participants."""
    db.session.expire_all()
    with all_sites():
        rows = sites_fidelity_summaries(db.session)  # each site on its own date
    db.session.rollback()
    return [row for row in rows if row["site"] in sites]


def by_site_statements(seen) -> list[str]:
    """Fidelity statements over a whole site (not by participant ids)."""
    return [s for s, _ in seen if "fidelity_counted" in s and "participants.id IN" not in s]


@pytest.fixture
def site_people(db_session, make_participant):
    """Intervention service users at BU and UKE, some with contacts, and a PSW each."""
    psws = {site: make_participant(site, "psw").id for site in SITES}
    people = {
        site: [
            make_participant(site, enrolment_date=TODAY - timedelta(days=10 + 23 * k)).id
            for k in range(8)
        ]
        for site in SITES
    }
    with all_sites():
        for site in SITES:
            for k, pid in enumerate(people[site][:5]):
                for days in range(k % 4):
                    create_contact_session(db_session, contact(site, psws[site], [pid], days + 2))
        db_session.commit()
    widget_store().clear()
    return psws, people


def applied(change: Callable[[str], object], site: str) -> bool:
    """One random change at ``site`` through the application, committed; False when
    the rules refuse it (a change refused is no change)."""
    with all_sites(), audit_context(reason="correction"):
        try:
            change(site)
        except DomainError:
            db.session.rollback()
            return False
        db.session.commit()
        return True


def withdrawn(participant_id: int) -> Participant:
    """The participant withdrawn today through the application, committed."""
    with all_sites(), audit_context(reason="withdrew"):
        person = db.session.get(Participant, participant_id)
        update_participant(
            db.session,
            person,
            {"status": "withdrawn", "withdrawal_date": TODAY, "withdrawal_reason": "x"},
            person.version_id,
        )
        db.session.commit()
    return person


def contact(site: str, psw: int, attendees: list[int], days_ago: int) -> dict:
    return {
        "site": site,
        "psws": [psw],
        "date": TODAY - timedelta(days=days_ago),
        "format": "group" if len(attendees) > 1 else "individual",
        "mode": "in_person",
        "attendees": attendees,
    }


def test_random_changes_keep_the_counts_equal_to_a_full_computation(
    app, db_session, make_user, make_participant, site_people, tmp_path
):
    psws, people = site_people
    rng = random.Random(18)
    coordinator = page_as(app, make_user, "coordinator")
    worker = page_as(app, make_user, "research_worker", ["BU"])
    assert shown_fidelity(app, coordinator) == computed_whole()

    def someone(site: str) -> Participant:
        return db.session.get(Participant, rng.choice(people[site]))

    def live_sessions(site: str) -> list[ContactSession]:
        return list(
            db.session.scalars(
                sa.select(ContactSession).where(
                    ContactSession.site_code == site, ContactSession.deleted_at.is_(None)
                )
            )
        )

    def edit(site: str, fields: dict | Callable[[Participant], dict]) -> None:
        person = someone(site)
        if person.deleted_at is None:
            values = fields(person) if callable(fields) else fields
            update_participant(db.session, person, values, person.version_id)

    def new_person(site: str) -> None:
        start = TODAY - timedelta(days=rng.randrange(0, 300))
        people[site].append(make_participant(site, enrolment_date=start).id)

    def add_contact(site: str) -> None:
        live = [p for p in people[site] if db.session.get(Participant, p).deleted_at is None]
        attendees = rng.sample(live, k=min(len(live), rng.choice((1, 1, 2))))
        enrolled = max(db.session.get(Participant, p).enrolment_date for p in attendees)
        days = rng.randrange(0, max(1, (TODAY - enrolled).days + 1))
        create_contact_session(db.session, contact(site, psws[site], attendees, days))

    def move_contact(site: str) -> None:
        sessions = live_sessions(site)
        if sessions:
            s = rng.choice(sessions)
            later = s.date + timedelta(days=rng.choice((1, 90)))
            moved = later if later <= TODAY else s.date - timedelta(days=40)
            update_contact_session(db.session, s, {"date": moved}, s.version_id)

    def change_attendees(site: str) -> None:
        sessions = live_sessions(site)
        live = [p for p in people[site] if db.session.get(Participant, p).deleted_at is None]
        if sessions and live:
            s = rng.choice(sessions)
            earliest = [p for p in live if db.session.get(Participant, p).enrolment_date <= s.date]
            if earliest:
                k = min(len(earliest), len(s.attendances))
                update_contact_session(
                    db.session, s, {"attendees": rng.sample(earliest, k=k)}, s.version_id
                )

    def remove_contact(site: str) -> None:
        sessions = live_sessions(site)
        if sessions:
            s = rng.choice(sessions)
            delete_contact_session(db.session, s, s.version_id)

    def remove_person(site: str) -> None:
        person = someone(site)
        if person.deleted_at is None:
            delete_participant(db.session, person, person.version_id)

    changes = {
        "address-like field": lambda site: edit(site, {"occupation": f"job {rng.random()}"}),
        "enrolment date": lambda site: (
            edit(site, {"enrolment_date": start, "consent_date": start})
            if (start := TODAY - timedelta(days=rng.randrange(60, 400)))
            else None
        ),
        "intervention start": lambda site: edit(
            site,
            lambda person: {
                "intervention_start": person.enrolment_date
                + timedelta(days=rng.randrange(0, (TODAY - person.enrolment_date).days + 1))
            },
        ),
        "withdrawal": lambda site: edit(
            site,
            {
                "status": "withdrawn",
                "withdrawal_date": TODAY - timedelta(days=rng.randrange(0, 5)),
                "withdrawal_reason": "moved",
            },
        ),
        "arm": lambda site: edit(site, {"arm": rng.choice(("control", "intervention"))}),
        "new participant": new_person,
        "contact added": add_contact,
        "contact moved": move_contact,
        "attendees changed": change_attendees,
        "contact deleted": remove_contact,
        "participant deleted": remove_person,
    }
    done: dict[str, int] = {}
    for step in range(100):
        name = rng.choice(sorted(changes))
        site = rng.choice(SITES)
        if applied(changes[name], site):
            done[name] = done.get(name, 0) + 1
        with recorded() as seen:
            shown = shown_widgets(app, coordinator)
        assert shown["fidelity"]["rows"] == computed_whole(), (step, name, site)
        # every widget as computed whole (the due assessments and enrolments kept
        # across a change of a column they do not read)
        assert shown == shown_with_nothing_stored(app, coordinator), (step, name, site)
        # brought up to date from what changed: no site's fidelity was computed whole
        assert not by_site_statements(seen), (step, name)
        if step % 5 == 0:
            assert shown_fidelity(app, worker) == computed_whole(("BU",)), (step, name)
            assert shown_widgets(app, worker) == shown_with_nothing_stored(app, worker)
    assert set(done) == set(changes)

    # an allocation by the service, with its randomisation's audit row
    with randomising(app, tmp_path, SCHEME), all_sites():
        generate_list(db_session)
        db_session.commit()
        eligible = eligible_participant(db_session, site="BU", enrolment_date=TODAY)
        db_session.commit()
        randomise(db_session, eligible)
        db_session.commit()
    with recorded() as seen:
        shown = shown_fidelity(app, coordinator)
    assert not by_site_statements(seen)
    assert shown == computed_whole()


def test_an_edit_of_a_field_no_widget_reads_computes_nothing(app, make_user, site_people):
    """An occupation (or an address, a diagnosis) is read by no widget: the next
    dashboard runs none of their statements, and shows what it showed."""
    _, people = site_people
    page = page_as(app, make_user, "coordinator")
    before = shown_widgets(app, page)
    with all_sites(), audit_context(reason="typo"):
        person = db.session.get(Participant, people["BU"][0])
        update_participant(db.session, person, {"occupation": "baker"}, person.version_id)
        db.session.commit()
    with recorded() as seen:
        assert shown_widgets(app, page) == before
    sent = [s for s, _ in seen]
    assert not [s for s in sent if "fidelity_counted" in s or "schedule_done" in s], sent
    assert not [s for s in sent if ENROLMENT_STATEMENT in s], sent

    # a column the due assessments and enrolments read: computed again, and shown
    moved = TODAY - timedelta(days=3)
    with all_sites(), audit_context(reason="typo"):
        person = db.session.get(Participant, people["BU"][1])
        update_participant(
            db.session,
            person,
            {"enrolment_date": moved, "consent_date": moved},
            person.version_id,
        )
        db.session.commit()
    with recorded() as seen:
        after = shown_widgets(app, page)
    assert after == shown_with_nothing_stored(app, page) and after != before
    sent = [s for s, _ in seen]
    assert [s for s in sent if "schedule_done" in s]
    assert [s for s in sent if ENROLMENT_STATEMENT in s]


def test_a_state_whose_stamp_row_is_gone_is_computed_whole(app, make_user, site_people):
    """An audit id handed out again (SQLite, after a rollback) does not match the kept
    state's stamp: the site is computed whole, not updated from the wrong rows."""
    _, people = site_people
    page = page_as(app, make_user, "coordinator")
    shown_fidelity(app, page)
    store = widget_store()
    # the kept states claim a stamp no audit row has
    for key, value in list(getattr(store, "_entries", {}).items()):
        if key.startswith("fidelity:") and key.endswith(":state"):
            store.set_many({key: ((10**9, "never"), value[1])})
    with all_sites():
        record_event(db.session, "bench_change", "participants", people["BU"][0], "BU")
        db.session.commit()
    with recorded() as seen:
        shown = shown_fidelity(app, page)
    assert by_site_statements(seen)
    assert shown == computed_whole()


def test_first_request_after_a_change_of_one_participant_does_not_grow(
    app, db_session, make_user, make_participant
):
    """The statements of the first dashboard after a change of one participant are the
    same with 4 and with 16 intervention participants per site, and none reads a site."""
    psw = make_participant("BU", "psw").id
    page = page_as(app, make_user, "coordinator")
    people: list[int] = []
    counts = []
    for size in (4, 16):
        while len(people) < size:
            k = len(people)
            people.append(
                make_participant("BU", enrolment_date=TODAY - timedelta(days=5 + 11 * k)).id
            )
            with all_sites():
                create_contact_session(db_session, contact("BU", psw, [people[-1]], 1 + k % 3))
                db_session.commit()
        widget_store().clear()
        shown_fidelity(app, page)  # every site computed and kept
        person = withdrawn(people[size // 2])
        with recorded() as seen:
            shown = shown_fidelity(app, page)
        assert shown == computed_whole()
        assert not by_site_statements(seen)
        fidelity = [params for s, params in seen if "fidelity_counted" in s]
        values = fidelity[0].values() if isinstance(fidelity[0], dict) else fidelity[0]
        assert len(fidelity) == 1 and person.id in list(values)
        counts.append(counted_reads(seen))
    assert counts[0] == counts[1]


def test_kept_states_in_redis_are_brought_up_to_date(app, make_user, site_people, redis_url):
    """Web workers sharing Redis: the kept state is read back and updated there too."""
    import uuid

    from trialdm.web.widgetcache import STORE_KEY, RedisStore

    _, people = site_people
    kept = app.extensions.get(STORE_KEY)
    app.extensions[STORE_KEY] = RedisStore(redis_url, f"trialdm:test:{uuid.uuid4().hex}:")
    try:
        page = page_as(app, make_user, "coordinator")
        assert shown_fidelity(app, page) == computed_whole()
        withdrawn(people["UKE"][1])
        with recorded() as seen:
            shown = shown_fidelity(app, page)
        assert not by_site_statements(seen)
        assert shown == computed_whole()
        assert next(r for r in shown if r["site"] == "UKE")["counts"]["withdrawn"] == 1
    finally:
        app.extensions[STORE_KEY].clear()
        app.extensions[STORE_KEY] = kept


def test_an_answer_reads_no_change_and_computes_the_due_assessments_alone(
    app, make_user, site_people
):
    """A questionnaire answer moves the stamp of responses alone: the fidelity and
    enrolment results stand, and the due assessments read the audit rows since and
    compute the answer's participant alone (here none: no such response), not the
    site."""
    page = page_as(app, make_user, "coordinator")
    before = shown_widgets(app, page)
    with all_sites():
        record_event(db.session, "answers", "responses", 1, "BU")
        db.session.commit()
    with recorded() as seen:
        assert shown_widgets(app, page) == before
    sent = [s for s, _ in seen]
    assert [s for s in sent if "audit_events.changes" in s], sent
    assert not [s for s in sent if "fidelity_counted" in s or ENROLMENT_STATEMENT in s], sent
    assert not [s for s in sent if "schedule_done" in s and "participants.id IN" not in s], sent


def test_a_session_deleted_outright_computes_its_site_whole(app, make_user, site_people):
    """The audit row of a row deleted outright lists no attendances, and its attendance
    rows are gone: the site is computed whole, not left with the attendee's old status."""
    psws, people = site_people
    page = page_as(app, make_user, "coordinator")
    person = people["BU"][6]
    with all_sites():
        for days in (3, 4, 5):  # the minimum met
            create_contact_session(db.session, contact("BU", psws["BU"], [person], days))
        db.session.commit()
    assert shown_fidelity(app, page) == computed_whole()
    with all_sites(), audit_context(reason="entered twice"):
        last = db.session.scalars(
            sa.select(ContactSession).order_by(ContactSession.id.desc()).limit(1)
        ).one()
        db.session.delete(last)
        db.session.commit()
    with recorded() as seen:
        shown = shown_fidelity(app, page)
    assert shown == computed_whole()
    assert by_site_statements(seen)
