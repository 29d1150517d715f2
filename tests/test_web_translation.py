import re

from tests.translation_helpers import create_material, make_team, start
from tests.web_helpers import login
from trialdm.translation.models import PseudonymKeyEntry, Transcript, TranscriptLine


def shown_versions(page: str) -> dict[str, str]:
    """The hidden version fields of the editor, as a browser would send them back."""
    return dict(re.findall(r'name="(ver\.\w+)" value="(\d+)"', page))


def test_queue_side_by_side_editor_in_hebrew_and_review(app, api_as):
    team = make_team(api_as, "BGU")
    material = create_material(team.admin)
    translation = start(team, material, site="BGU", language="he")
    translator = login(app.test_client(), team.translator.user)
    queue = translator.get("/translation/").get_data(as_text=True)
    assert f"/translation/translations/{translation['id']}" in queue.split("Materials")[0]
    url = f"/translation/translations/{translation['id']}"
    forward = translation["steps"][0]
    translator.post(f"{url}/steps/{forward['id']}", data={"action": "start"})
    editor = translator.get(url).get_data(as_text=True)
    assert "You are invited to take part in a study." in editor  # the source, beside
    assert 'name="seg.p1" rows="3" lang="he" dir="rtl"' in editor
    shown = shown_versions(editor)
    assert shown == {"ver.p1": "1", "ver.p2": "1", "ver.p3": "1"}
    texts = {"seg.p1": "אתם מוזמנים להשתתף במחקר.", "seg.p2": "ההשתתפות מרצון.", "seg.p3": ""}
    saved = translator.post(f"{url}/segments", data={**texts, **shown, "writes": "text"})
    assert saved.status_code == 302
    # The same page sent again after the save (another tab): refused with a message,
    # and the text saved first is kept.
    stale = translator.post(
        f"{url}/segments", data={**texts, "seg.p1": "x", **shown, "writes": "text"}
    )
    assert stale.status_code == 422
    assert "changed by someone else" in stale.get_data(as_text=True)
    editor = translator.get(url).get_data(as_text=True)
    assert "אתם מוזמנים להשתתף במחקר." in editor
    shown = shown_versions(editor)
    assert shown["ver.p1"] == "2" and shown["ver.p3"] == "1"
    early = translator.post(f"{url}/steps/{forward['id']}", data={"action": "submit"})
    assert early.status_code == 422 and "Not yet translated: p3" in early.get_data(as_text=True)
    translator.post(
        f"{url}/segments", data={**texts, **shown, "seg.p3": "אפשר להפסיק.", "writes": "text"}
    )
    assert (
        translator.post(f"{url}/steps/{forward['id']}", data={"action": "submit"}).status_code
        == 302
    )
    reviewer = login(app.test_client(), team.reviewer.user)
    assert "to review" in reviewer.get("/translation/").get_data(as_text=True)
    no_comment = reviewer.post(f"{url}/steps/{forward['id']}", data={"action": "return"})
    assert "Say why the step is returned." in no_comment.get_data(as_text=True)
    accepted = reviewer.post(f"{url}/steps/{forward['id']}", data={"action": "complete"})
    assert accepted.status_code == 302
    assert "אתם מוזמנים" in reviewer.get(url).get_data(as_text=True)


def test_transcript_lines_and_pseudonymisation_review(app, make_user, db_session):
    from datetime import date

    from trialdm.qualitative.operations import create_session

    held = create_session(
        db_session, "focus_group", {"site": "BU", "date": date(2025, 5, 2), "mode": "in_person"}
    )
    transcript = Transcript(
        session_id=held.id,
        site_code="BU",
        session_kind="interview",
        title="Interview 4",
        language="en",
        state="transcribed",
        verbatim_text="Anna met Peter at the market.\nThey talked.",
    )
    approved = Transcript(
        session_id=held.id,
        site_code="BU",
        session_kind="focus_group",
        title="FGD 1",
        language="en",
        state="approved",
        english_text="one\ntwo",
    )
    db_session.add_all([transcript, approved])
    db_session.flush()
    db_session.add_all(
        [
            TranscriptLine(site_code="BU", transcript_id=approved.id, number=n, text=t)
            for n, t in ((1, "one"), (2, "two"))
        ]
        + [PseudonymKeyEntry(site_code="BU", term="Anna", placeholder="[SU-1]")]
    )
    db_session.commit()
    lines = login(app.test_client(), make_user("translator", ["BU"]))
    page = lines.get(f"/translation/transcripts/{approved.id}").get_data(as_text=True)
    assert 'id="L2"' in page and "BU 1" in page
    assert (
        lines.get(f"/translation/transcripts/{transcript.id}/pseudonymisation").status_code == 403
    )
    lead = login(app.test_client(), make_user("site_lead", ["BU"]))
    url = f"/translation/transcripts/{transcript.id}/pseudonymisation"
    assert lead.post(url, data={"action": "apply"}).status_code == 302
    review = lead.get(url).get_data(as_text=True)
    assert "[SU-1] met Peter" in review and "<mark" in review and "Peter" in review
    db_session.refresh(transcript)
    unchecked = lead.post(url, data={"action": "confirm", "version": str(transcript.version_id)})
    assert unchecked.status_code == 422
    assert "flagged" in unchecked.get_data(as_text=True)
    done = lead.post(
        url,
        data={
            "action": "confirm",
            "version": str(transcript.version_id),
            "flags_reviewed": "on",
            "text": "[SU-1] met [PSW-2] at the market.\nThey talked.",
        },
    )
    assert done.status_code == 302
    db_session.refresh(transcript)
    assert transcript.state == "pseudonymised" and transcript.verbatim_text is None
