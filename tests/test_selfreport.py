"""Self-report links: a participant answers one questionnaire on their phone, without a
login. Single use, expiry, revocation, site scoping, audit, nothing else shown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from trialdm.core.audit import AuditEvent
from trialdm.core.models import utcnow
from trialdm.instruments.models import InstrumentResponse
from trialdm.selfreport.models import SelfReportLink

SCALE = {f"a.si_{i:02d}": "2" for i in range(1, 11)}


@pytest.fixture
def synced(db_session):
    from tests.seeders.instruments import sync_shipped

    sync_shipped(db_session)
    db_session.commit()


@pytest.fixture
def enrolled(synced, make_participant):
    return make_participant("BU", enrolment_date=date.today() - timedelta(days=120))


def make_link(api, participant, **extra):
    body = {
        "participant_id": participant.id,
        "instrument": "social_inclusion_scale",
        "event": "T1",
        **extra,
    }
    return api.post("/api/v1/self-report-links", json=body)


def path_of(url: str) -> str:
    return url[url.index("/r/") :]


def test_a_participant_saves_then_sends_once(app, api_as, enrolled, db_session):
    worker = api_as("research_worker", ["BU"])
    made = make_link(worker, enrolled)
    assert made.status_code == 201, made.json
    link = made.json
    token = link["url"].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert link["qr_svg"].startswith("data:image/svg+xml")
    assert link["state"] == "open" and link["language"] == "en"
    stored = db_session.get(SelfReportLink, link["id"])
    assert token not in (stored.token_hash, str(stored.__dict__))
    assert "token" not in worker.get(f"/api/v1/self-report-links/{link['id']}").json

    phone = app.test_client()  # nobody logged in
    page = phone.get(path_of(link["url"]))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Everyday social inclusion scale" in html
    assert enrolled.study_id not in html and "BU-" not in html
    assert "/participants" not in html and "/questionnaires" not in html
    assert "<script" not in html or "trialdm.js" in html

    partial = {k: v for k, v in list(SCALE.items())[:4]} | {"save": "1"}
    saved = phone.post(path_of(link["url"]), data=partial)
    assert saved.status_code == 200 and "Your answers are saved" in saved.get_data(as_text=True)
    response = db_session.scalar(
        select(InstrumentResponse).where(InstrumentResponse.participant_id == enrolled.id)
    )
    assert response.status == "incomplete" and response.context == f"self_report:{link['id']}"
    again = phone.get(path_of(link["url"])).get_data(as_text=True)
    assert 'value="2" checked' in again  # progress is kept

    sent = phone.post(path_of(link["url"]), data=SCALE | {"complete": "1"})
    assert sent.status_code == 200 and "Thank you" in sent.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(InstrumentResponse, response.id).status == "complete"
    used = phone.get(path_of(link["url"]))
    assert used.status_code == 410 and "Thank you" in used.get_data(as_text=True)
    assert phone.post(path_of(link["url"]), data=SCALE | {"complete": "1"}).status_code == 410
    assert worker.get(f"/api/v1/self-report-links/{link['id']}").json["state"] == "completed"

    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "responses", AuditEvent.entity_id == str(response.id)
        )
    ).all()
    assert events and all(e.user_email == f"self-report link {link['id']}" for e in events)
    assert {e.role for e in events} == {"participant"} and events[0].source == "self_report"
    assert all(
        "token_hash" not in (e.changes or {})
        for e in db_session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "self_report_links")
        )
    )


def test_expired_revoked_and_unknown_links_say_so(app, api_as, enrolled, db_session):
    worker = api_as("research_worker", ["BU"])
    phone = app.test_client()
    expiring = make_link(worker, enrolled, expires_in_days=1).json
    link = db_session.get(SelfReportLink, expiring["id"])
    link.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    expired = phone.get(path_of(expiring["url"]))
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)

    fresh = make_link(worker, enrolled).json
    revoked = worker.post(
        f"/api/v1/self-report-links/{fresh['id']}/revoke", json={"reason": "phone lost"}
    )
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    page = phone.get(path_of(fresh["url"]))
    assert page.status_code == 410 and "no longer valid" in page.get_data(as_text=True)
    assert phone.post(path_of(fresh["url"]), data=SCALE | {"complete": "1"}).status_code == 410
    assert (
        db_session.scalar(
            select(InstrumentResponse.id).where(InstrumentResponse.participant_id == enrolled.id)
        )
        is None
    )

    unknown = phone.get("/r/" + "x" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)
    # A new link replaces an open one
    first = make_link(worker, enrolled).json
    second = make_link(worker, enrolled).json
    assert phone.get(path_of(first["url"])).status_code == 410
    assert phone.get(path_of(second["url"])).status_code == 200


def test_links_are_made_and_seen_at_ones_own_sites_only(api_as, enrolled, make_participant):
    outsider = api_as("research_worker", ["ULM"])
    assert make_link(outsider, enrolled).status_code == 404
    link = make_link(api_as("site_lead", ["BU"]), enrolled).json
    assert outsider.get(f"/api/v1/self-report-links/{link['id']}").status_code == 404
    assert (
        outsider.post(
            f"/api/v1/self-report-links/{link['id']}/revoke", json={"reason": "x"}
        ).status_code
        == 404
    )
    assert outsider.get("/api/v1/self-report-links").json["items"] == []
    psw = make_participant("BU", "psw")
    refused = make_link(api_as("research_worker", ["BU"]), psw)
    assert refused.status_code == 422


def test_links_are_rate_limited(app, api_as, enrolled):
    link = make_link(api_as("research_worker", ["BU"]), enrolled).json
    saved = app.config["SELF_REPORT_RATE_LIMIT"]
    app.config["SELF_REPORT_RATE_LIMIT"] = "3 per minute"
    try:
        phone = app.test_client()
        codes = [phone.get(path_of(link["url"])).status_code for _ in range(4)]
    finally:
        app.config["SELF_REPORT_RATE_LIMIT"] = saved
    assert codes == [200, 200, 200, 429]


def test_participant_page_makes_a_link_to_copy_and_print(app, make_user, enrolled):
    from tests.web_helpers import page_as

    worker = page_as(app, make_user, "research_worker", ["BU"])
    shown = worker.get(f"/participants/{enrolled.id}").get_data(as_text=True)
    assert "Link for the participant" in shown
    made = worker.post(
        "/self-report/new",
        data={
            "participant_id": str(enrolled.id),
            "instrument": "social_inclusion_scale",
            "event": "T1",
        },
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    assert "/r/" in html and 'src="data:image/svg+xml' in html
    wrong = worker.post(
        "/self-report/new",
        data={"participant_id": str(enrolled.id), "instrument": "nonsense", "event": "T1"},
    )
    assert wrong.status_code in (404, 422)
    outsider = page_as(app, make_user, "research_worker", ["ULM"])
    assert (
        outsider.post(
            "/self-report/new",
            data={
                "participant_id": str(enrolled.id),
                "instrument": "social_inclusion_scale",
                "event": "T1",
            },
        ).status_code
        == 404
    )


def test_a_link_can_be_emailed_through_the_outbox(api_as, enrolled, db_session):
    from trialdm.reminders.models import OutboxMessage

    worker = api_as("research_worker", ["BU"])
    bad = make_link(worker, enrolled, email="not an address")
    assert bad.status_code == 422 and "email" in bad.json["errors"]
    made = make_link(worker, enrolled, email="person@example.org")
    assert made.status_code == 201 and made.json["emailed"] is True
    message = db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"self_report:{made.json['id']}")
    )
    assert message.to_address == "person@example.org"
    assert made.json["url"] in message.body
    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "self_report_links", AuditEvent.entity_id == str(made.json["id"])
        )
    ).all()
    assert "sent" in {e.action for e in events}
    assert all("person@example.org" not in str(e.changes) for e in events)


def test_the_site_team_is_reminded_of_links_not_returned(api_as, enrolled, db_session):
    from trialdm.reminders import operations as reminders

    worker = api_as("research_worker", ["BU"])
    link = make_link(worker, enrolled).json

    def found(days_ago: int) -> list[str]:
        stored = db_session.get(SelfReportLink, link["id"])
        stored.created_at = utcnow() - timedelta(days=days_ago)
        db_session.commit()
        return [
            p.title
            for p in reminders.plan_reminders(db_session, "BU", date.today())
            if p.rule == "self_report_not_returned"
        ]

    assert found(1) == []
    assert found(4) == [
        f"{enrolled.study_id}: self-report social_inclusion_scale (T1) not yet returned"
    ]
    worker.post(f"/api/v1/self-report-links/{link['id']}/revoke", json={"reason": "ended"})
    assert found(4) == []


def test_the_link_page_speaks_the_links_language(app, api_as, enrolled):
    link = make_link(api_as("research_worker", ["BU"]), enrolled, language="de").json
    assert link["language"] == "de"
    page = app.test_client().get(path_of(link["url"]))
    html = page.get_data(as_text=True)
    assert '<html lang="de"' in html
    assert "Skala zur sozialen Teilhabe im Alltag" in html
    assert "Meine Antworten senden" in html
    refused = make_link(api_as("research_worker", ["BU"]), enrolled, language="lg")
    assert refused.status_code == 422 and "language" in refused.json["errors"]
