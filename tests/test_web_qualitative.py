from datetime import date

from tests.web_helpers import page_as
from trialdm.qualitative.models import QualitativeSession


def test_record_a_focus_group_with_members_then_add_one_and_edit_notes(
    app, make_user, make_participant, db_session
):
    mhws = [make_participant("BU", "mhw", age=40, profession="nurse") for _ in range(3)]
    client = page_as(app, make_user, "site_lead", ["BU"])
    form = client.get("/qualitative/new?kind=focus_group").get_data(as_text=True)
    assert mhws[0].study_id in form and 'value="phone"' not in form
    data = {
        "kind": "focus_group",
        "site": "BU",
        "date": "2025-05-02",
        "mode": "in_person",
        "duration_min": "ninety",
        "location": "Clinic room 3",
        "field_notes": "Long silence after question 2.",
        "members": [str(mhws[0].id), str(mhws[1].id)],
    }
    failed = client.post("/qualitative/new", data=data)
    assert failed.status_code == 422
    page = failed.get_data(as_text=True)
    assert 'id="error-duration_min"' in page and "Long silence after question 2." in page
    data["duration_min"] = "90"
    saved = client.post("/qualitative/new", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    record = db_session.query(QualitativeSession).one()
    assert record.kind == "focus_group" and len(record.current_members) == 2
    shown = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Clinic room 3" in shown and "nurse" in shown
    added = client.post(
        f"/qualitative/focus-groups/{record.id}/members",
        data={"participant_id": str(mhws[2].id), "reason": "came late"},
    )
    assert added.status_code == 302
    again = client.post(
        f"/qualitative/focus-groups/{record.id}/members", data={"participant_id": str(mhws[2].id)}
    )
    assert again.status_code == 422 and "already a member" in again.get_data(as_text=True)
    edit = {**data, "version": str(record.version_id), "field_notes": "Corrected notes"}
    edit.pop("members")
    missing_reason = client.post(f"/qualitative/focus-groups/{record.id}/edit", data=edit)
    assert 'id="error-reason"' in missing_reason.get_data(as_text=True)
    ok = client.post(f"/qualitative/focus-groups/{record.id}/edit", data={**edit, "reason": "typo"})
    assert ok.status_code == 302
    history = client.get(f"/qualitative/focus-groups/{record.id}/history").get_data(as_text=True)
    assert "Corrected notes" in history and "typo" in history


def test_an_interview_has_one_member_and_focus_groups_do_not_meet_by_phone(
    app, make_user, make_participant
):
    people = [make_participant("BU", "psw") for _ in range(2)]
    client = page_as(app, make_user, "research_worker", ["BU"])
    two = client.post(
        "/qualitative/new",
        data={
            "kind": "interview",
            "site": "BU",
            "date": date.today().isoformat(),
            "mode": "phone",
            "members": [str(p.id) for p in people],
        },
    )
    assert two.status_code == 422 and "exactly one member" in two.get_data(as_text=True)
    phone = client.post(
        "/qualitative/new",
        data={"kind": "focus_group", "site": "BU", "date": "2025-01-01", "mode": "phone"},
    )
    assert 'id="error-mode"' in phone.get_data(as_text=True)
