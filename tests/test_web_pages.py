from datetime import date

import marshmallow as ma
import pytest

from tests.web_helpers import login, page_as
from trialdm.core.audit import AuditEvent
from trialdm.core.errors import ValidationFailed
from trialdm.participants.models import Participant
from trialdm.participants.schemas import ParticipantCreate
from trialdm.web.forms import field_errors


def enrolment_form(**extra):
    return {
        "category": "service_user",
        "site": "BU",
        "gender": "female",
        "year_of_birth": "1985",
        "enrolment_date": "2025-05-02",
        "consent_date": "2025-05-01",
        "consent_version": "2.1",
        "arm": "intervention",
        "diagnoses": ["F20"],
        "occupation": "",
        **extra,
    }


def test_pages_need_login_and_send_security_headers(client):
    response = client.get("/participants")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    api = client.get("/api/v1/openapi.json")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_script_or_style(app):
    from pathlib import Path

    import trialdm

    root = Path(trialdm.__file__).parent
    for template in root.rglob("templates/**/*.html"):
        text = template.read_text()
        assert "<script>" not in text and "<script " not in text.replace('<script src="', ""), (
            template
        )
        assert " style=" not in text and "<style" not in text, template
        assert " on" not in text.replace(" only", "") or "onclick" not in text, template


def test_failed_login_says_the_same_for_unknown_user_and_wrong_password(client, make_user):
    user = make_user("research_worker", ["BU"])
    wrong = client.post("/login", data={"email": user.email, "password": "nope"})
    unknown = client.post("/login", data={"email": "nobody@test.org", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    message = b"The e-mail address or password is not right, or the account is locked."
    assert message in wrong.data and message in unknown.data
    assert user.email.encode() in wrong.data  # the address typed is kept


def test_login_redirects_only_to_local_paths(client, make_user):
    user = make_user("research_worker", ["BU"])
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": "correct horse 1"}
    )
    assert response.headers["Location"] == "/"


def test_language_switch_translates_and_hebrew_is_right_to_left(app, make_user):
    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": "he", "next": "/participants"})
    page = client.get("/participants").get_data(as_text=True)
    assert '<html lang="he" dir="rtl">' in page
    assert "משתתפים" in page
    client.post("/language", data={"language": "de", "next": "/"})
    page = client.get("/participants").get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in page and "Teilnehmende" in page
    client.post("/language", data={"language": "xx"})
    assert 'lang="de"' in client.get("/").get_data(as_text=True)


def test_browser_language_is_used_until_one_is_chosen(client):
    page = client.get("/login", headers={"Accept-Language": "he-IL,he;q=0.9"})
    assert 'dir="rtl"' in page.get_data(as_text=True)


def test_compiled_catalogs_match_their_sources():
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from trialdm.web.i18n import TRANSLATIONS_DIR

    for po_path in Path(TRANSLATIONS_DIR).glob("*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as handle:
            source = read_po(handle)
        with po_path.with_suffix(".mo").open("rb") as handle:
            compiled = read_mo(handle)

        def plain(value):
            return tuple(value) if isinstance(value, (list, tuple)) else value

        wanted = {
            plain(m.id): plain(m.string)
            for m in source
            if m.id and m.string and any(plain(m.string)) and not m.fuzzy
        }
        got = {
            plain(m.id): plain(m.string)
            for m in compiled
            # an untranslated plural comes back as its msgids
            if m.id and not (isinstance(plain(m.id), tuple) and plain(m.string) == plain(m.id))
        }
        assert got == wanted, f"{po_path}: run `make translations`"


def test_schema_and_domain_errors_become_the_same_field_messages(app):
    with pytest.raises(ma.ValidationError) as schema_error:
        ParticipantCreate().load({"site": "BU", "category": "nobody", "age": "x"})
    errors = field_errors(schema_error.value)
    # the minimum record's gap (gender) comes with the schema's own errors
    assert set(errors) == {"category", "age", "gender"}
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)
    domain = ValidationFailed("bad", errors={"age": ["Too old."], "_schema": ["Whole form."]})
    assert field_errors(domain) == {"age": ["Too old."], "_form": ["Whole form."]}


def test_participant_list_searches_filters_and_pages_within_own_sites(
    app, make_user, make_participant
):
    for _ in range(27):
        make_participant("BU", enrolment_date=date(2025, 1, 10), arm="control")
    make_participant("BU", enrolment_date=date(2025, 1, 10), arm="intervention")
    make_participant("ULM", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    page = client.get("/participants").get_data(as_text=True)
    assert "28 participants" in page and "ULM-" not in page
    assert "Page 1 of 2" in page
    assert "BU-0026" in client.get("/participants?page=2").get_data(as_text=True)
    searched = client.get("/participants?q=0028").get_data(as_text=True)
    assert "1 participant" in searched and "BU-0028" in searched
    filtered = client.get("/participants?arm=intervention").get_data(as_text=True)
    assert "1 participant" in filtered
    bad = client.get("/participants?arm=nonsense")
    assert bad.status_code == 200 and b"error-summary" in bad.data


def test_create_form_shows_field_errors_beside_fields_and_keeps_values(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    response = client.post(
        "/participants/new",
        data=enrolment_form(year_of_birth="1940", consent_version="", occupation="baker"),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="error-year_of_birth"' in page and "outside the eligible 18–60" in page
    assert 'id="error-consent_version"' in page
    assert 'value="baker"' in page and 'value="1940"' in page
    assert 'name="diagnoses" value="F20" checked>' in page
    assert db_session.query(Participant).count() == 0
    # a type error from the schema lands beside its field the same way
    typed = client.post("/participants/new", data=enrolment_form(year_of_birth="nineteen"))
    assert 'id="error-year_of_birth"' in typed.get_data(as_text=True)
    fixed = client.post("/participants/new", data=enrolment_form(diagnosis_other="hoarding"))
    assert fixed.status_code == 302
    created = db_session.query(Participant).one()
    assert created.study_id == "BU-0001"
    assert [(d.code, d.text) for d in created.diagnoses] == [("F20", None), ("other", "hoarding")]
    assert b"BU-0001 was created" in client.get(fixed.headers["Location"]).data


def test_create_refuses_a_site_that_is_not_yours(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    response = client.post("/participants/new", data=enrolment_form(site="ULM"))
    assert response.status_code == 403 or response.status_code == 422
    assert db_session.query(Participant).count() == 0


def test_edit_needs_a_reason_and_shows_it_in_the_history(
    app, make_user, make_participant, db_session
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10), occupation="baker")
    lead = make_user("site_lead", ["BU"])
    client = login(app.test_client(), lead)
    form = client.get(f"/participants/{participant.id}/edit").get_data(as_text=True)
    assert 'value="baker"' in form and 'name="reason"' in form
    data = {
        "version": str(participant.version_id),
        "gender": "female",
        "year_of_birth": "1990",
        "enrolment_date": "2025-01-10",
        "consent_date": "2025-01-10",
        "consent_version": "1.0",
        "arm": "intervention",
        "status": "enrolled",
        "occupation": "teacher",
        "diagnoses": [],
    }
    missing = client.post(f"/participants/{participant.id}/edit", data=data)
    assert missing.status_code == 422
    assert 'id="error-reason"' in missing.get_data(as_text=True)
    assert 'value="teacher"' in missing.get_data(as_text=True)
    saved = client.post(
        f"/participants/{participant.id}/edit", data={**data, "reason": "typo in occupation"}
    )
    assert saved.status_code == 302, saved.data[:2000]
    event = (
        db_session.query(AuditEvent)
        .filter_by(entity="participants", entity_id=str(participant.id), action="update")
        .one()
    )
    assert event.reason == "typo in occupation"
    assert event.changes["occupation"] == ["baker", "teacher"]
    stale = client.post(f"/participants/{participant.id}/edit", data={**data, "reason": "again"})
    assert stale.status_code == 422
    assert "changed by someone else" in stale.get_data(as_text=True)
    history = client.get(f"/participants/{participant.id}/history").get_data(as_text=True)
    assert "typo in occupation" in history and "baker" in history and "teacher" in history


def test_research_workers_see_their_sites_history_and_other_sites_are_hidden(
    app, make_user, make_participant
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    worker = page_as(app, make_user, "research_worker", ["BU"])
    assert b"/history" in worker.get(f"/participants/{participant.id}").data.split(b"<main")[1]
    history = worker.get(f"/participants/{participant.id}/history")
    assert history.status_code == 200 and participant.study_id in history.get_data(as_text=True)
    assert worker.get("/audit/log").status_code == 403  # the site's whole log is the lead's
    translator = page_as(app, make_user, "translator", ["BU"])
    assert translator.get(f"/participants/{participant.id}/history").status_code == 403
    other = page_as(app, make_user, "site_lead", ["ULM"])
    assert other.get(f"/participants/{participant.id}/history").status_code == 404
    for url in (f"/participants/{participant.id}", f"/participants/{participant.id}/edit"):
        response = other.get(url)
        assert response.status_code == 404
        assert participant.study_id.encode() not in response.data


def test_dashboard_counts_by_arm_and_status_with_a_chart(app, make_user, make_participant):
    make_participant("BU", enrolment_date=date(2025, 1, 10), arm="control")
    make_participant("BU", enrolment_date=date(2025, 3, 10), arm="intervention")
    make_participant("ULM", enrolment_date=date(2025, 3, 10), arm="intervention")
    page = page_as(app, make_user, "research_worker", ["BU"]).get("/").get_data(as_text=True)
    assert '/participants?site=BU&amp;arm=control">1</a>' in page
    assert "ULM" not in page.split("<main")[1]
    assert "<svg" in page and "<polyline" in page and "2025-01" in page and "2025-03" in page
    coordinator = page_as(app, make_user, "coordinator").get("/").get_data(as_text=True)
    assert "ULM" in coordinator
    translator = page_as(app, make_user, "translator", ["BU"]).get("/").get_data(as_text=True)
    assert "Participants by arm and status" not in translator
    assert "/participants" not in translator


def test_error_pages_are_pages(app, make_user):
    client = page_as(app, make_user, "research_worker", ["BU"])
    missing = client.get("/participants/999999")
    assert missing.status_code == 404
    assert b"<html" in missing.data and b"does not exist" in missing.data
    assert client.get("/no-such-page").status_code == 404
