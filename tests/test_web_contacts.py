from datetime import date, timedelta

from tests.web_helpers import page_as
from trialdm.contacts.models import ContactSession


def setup_site(make_participant):
    psw = make_participant("BU", "psw")
    enrolled = date.today() - timedelta(days=30)
    users = [make_participant("BU", enrolment_date=enrolled, arm="intervention") for _ in range(3)]
    control = make_participant("BU", enrolment_date=enrolled, arm="control")
    return psw, users, control


def test_record_a_group_session_with_an_error_then_see_fidelity_change(
    app, make_user, make_participant, db_session
):
    psw, users, control = setup_site(make_participant)
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get("/contacts/new").get_data(as_text=True)
    assert users[0].study_id in form and psw.study_id in form
    assert control.study_id not in form  # only the intervention arm can attend
    before = client.get(f"/participants/{users[0].id}").get_data(as_text=True)
    # the window opened at enrolment, a month ago: on track, with nothing yet
    assert 'id="fidelity-status">On track' in before
    assert "0 of 3 contacts in the window" in before
    data = {
        "date": (date.today() - timedelta(days=2)).isoformat(),
        "format": "group",
        "mode": "in_person",
        "duration_min": "90",
        "psws": [str(psw.id)],
        "attendees": [str(users[0].id)],
        "notes": "shared stories",
    }
    failed = client.post("/contacts/new", data=data)
    assert failed.status_code == 422
    page = failed.get_data(as_text=True)
    assert 'id="error-attendees"' in page and "two or more attendees" in page
    assert f'value="{users[0].id}" checked' in page and "shared stories" in page
    data["attendees"] = [str(users[0].id), str(users[1].id)]
    saved = client.post("/contacts/new", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
    contact = db_session.query(ContactSession).one()
    assert sorted(contact.attendee_ids) == sorted([users[0].id, users[1].id])
    shown = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "was recorded" in shown and users[1].study_id in shown
    after = client.get(f"/participants/{users[0].id}").get_data(as_text=True)
    assert 'id="fidelity-status">On track' in after
    assert "1 of 3 contacts in the window" in after
    assert 'class="window"' in after and 'class="contact"' in after


def test_schema_type_errors_show_beside_the_fields(app, make_user, make_participant):
    psw, users, _ = setup_site(make_participant)
    client = page_as(app, make_user, "research_worker", ["BU"])
    failed = client.post(
        "/contacts/new",
        data={
            "date": "yesterday",
            "format": "individual",
            "mode": "phone",
            "duration_min": "ninety",
            "psws": [str(psw.id)],
            "attendees": [str(users[0].id)],
        },
    )
    page = failed.get_data(as_text=True)
    assert failed.status_code == 422
    assert 'id="error-date"' in page and 'id="error-duration_min"' in page


def test_fidelity_widget_and_participant_filter(app, make_user, make_participant, db_session):
    from trialdm.contacts.operations import create_contact_session

    psw, users, _ = setup_site(make_participant)
    create_contact_session(
        db_session,
        {
            "site": "BU",
            "date": date.today() - timedelta(days=1),
            "format": "individual",
            "mode": "phone",
            "psws": [psw.id],
            "attendees": [users[2].id],
        },
    )
    db_session.commit()
    client = page_as(app, make_user, "site_lead", ["BU"])
    home = client.get("/").get_data(as_text=True)
    assert "Fidelity at a glance" in home
    # every window opened at enrolment, a month ago: on track with or without a contact
    assert '/participants?site=BU&amp;fidelity=on_track">3</a>' in home
    listing = client.get("/participants?fidelity=on_track").get_data(as_text=True)
    # the three, not counted (the filter is evaluated up to the page's end)
    assert all(user.study_id in listing for user in users[:3])
    assert listing.count('class="badge on_track"') == 3 and "participants</p>" not in listing
    assert 'class="badge on_track"' in listing
    translator = page_as(app, make_user, "translator", ["BU"]).get("/").get_data(as_text=True)
    assert "Fidelity at a glance" not in translator


def test_every_error_of_the_form_in_one_round_in_plain_words(app, make_user, make_participant):
    """A bad number does not hide the date and attendee problems until the next round,
    and the messages are ours, not the library's."""
    psw, users, _ = setup_site(make_participant)
    client = page_as(app, make_user, "research_worker", ["BU"])
    failed = client.post(
        "/contacts/new",
        data={
            "date": (date.today() + timedelta(days=3)).isoformat(),
            "format": "group",
            "mode": "in_person",
            "duration_min": "ninety",
            "place": "x" * 300,
            "psws": [str(psw.id)],
            "attendees": [str(users[0].id)],
        },
    )
    assert failed.status_code == 422
    page = failed.get_data(as_text=True)
    assert 'id="error-duration_min"' in page and "Enter a whole number" in page
    assert 'id="error-date"' in page and "The date is in the future." in page
    assert 'id="error-attendees"' in page and "two or more attendees" in page
    assert "Use at most 200 characters." in page
    assert "Longer than maximum length" not in page and "Not a valid" not in page
    assert 'value="ninety"' in page  # kept as typed


def test_errors_in_german(app, make_user, make_participant):
    psw, users, _ = setup_site(make_participant)
    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": "de"})
    page = client.post(
        "/contacts/new",
        data={
            "date": "",
            "format": "group",
            "mode": "in_person",
            "psws": [str(psw.id)],
            "attendees": [str(users[0].id)],
        },
    ).get_data(as_text=True)
    assert "Füllen Sie dieses Feld aus." in page
    assert "Ein Gruppentreffen hat zwei oder mehr Teilnehmende." in page
    assert "Fill in this field." not in page and "Field may not be null." not in page
