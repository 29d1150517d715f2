"""Transcripts in the browser, every step through the pages: record, upload the verbatim
text as a .docx, pseudonymisation review, the English as a .txt, the two-reviewer check
with a return and comments, approval, quoting and the three downloads."""

from __future__ import annotations

import io

import docx
from openpyxl import load_workbook

from tests.translation_helpers import qualitative_session
from tests.web_helpers import login
from trialdm.translation.models import PseudonymKeyEntry, Transcript


def docx_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def current(db_session, transcript_id: int) -> Transcript:
    db_session.expire_all()
    return db_session.get(Transcript, transcript_id)


def test_the_whole_transcript_workflow_in_the_pages(app, make_user, db_session):
    held = qualitative_session("BU", "focus_group", language="lg")
    db_session.add(PseudonymKeyEntry(site_code="BU", term="Nakato", placeholder="[SU-1]"))
    db_session.commit()
    translator = login(app.test_client(), make_user("translator", ["BU"]))
    lead = login(app.test_client(), make_user("site_lead", ["BU"]))
    first = login(app.test_client(), make_user("reviewer", ["BU"]))
    second = login(app.test_client(), make_user("reviewer", ["BU"]))
    worker = login(app.test_client(), make_user("research_worker", ["BU"]))

    assert "/translation/transcripts/new" in translator.get("/translation/").get_data(as_text=True)
    missing = translator.post("/translation/transcripts/new", data={"session": ""})
    assert missing.status_code == 422 and 'id="error-session"' in missing.get_data(as_text=True)
    created = translator.post(
        "/translation/transcripts/new", data={"session": f"focus_group:{held.id}"}
    )
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    url = created.headers["Location"]
    transcript_id = int(url.rsplit("/", 1)[1])

    wrong = translator.post(
        f"{url}/verbatim",
        data={"version": "1", "file": (io.BytesIO(b"x"), "notes.pdf")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422 and "Upload a .txt or .docx file." in wrong.get_data(True)
    record = current(db_session, transcript_id)
    uploaded = translator.post(
        f"{url}/verbatim",
        data={
            "version": str(record.version_id),
            "file": (io.BytesIO(docx_bytes("Nakato yogera.", "Twasanyuka.")), "fgd.docx"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    assert current(db_session, transcript_id).state == "transcribed"
    # the verbatim names people: not on the transcript page, only in the lead's review
    assert "Nakato" not in translator.get(url).get_data(as_text=True)

    review = f"{url}/pseudonymisation"
    assert lead.post(review, data={"action": "apply"}).status_code == 302
    record = current(db_session, transcript_id)
    confirmed = lead.post(review, data={"action": "confirm", "version": str(record.version_id)})
    assert confirmed.status_code == 302

    # a translator reads the pseudonymised text with the numbers approval will give
    page = translator.get(url).get_data(as_text=True)
    assert "[SU-1] yogera." in page and '<th scope="row">2</th>' in page
    assert 'id="english-form"' in page
    record = current(db_session, transcript_id)
    english = translator.post(
        f"{url}/english",
        data={
            "version": str(record.version_id),
            "file": (io.BytesIO(b"[SU-1] speaks.\nWe were happy.\n"), "en.txt"),
        },
        content_type="multipart/form-data",
    )
    assert english.status_code == 302
    assert "We were happy." in worker.get(url).get_data(as_text=True)  # readable before approval
    assert 'id="check-form"' not in worker.get(url).get_data(as_text=True)

    no_comment = first.post(f"{url}/checks", data={"decision": "return"})
    assert no_comment.status_code == 422
    assert "Say what needs to change." in no_comment.get_data(as_text=True)
    returned = first.post(
        f"{url}/checks", data={"decision": "return", "comments": "Line 2: 'glad', not 'happy'."}
    )
    assert returned.status_code == 302
    assert current(db_session, transcript_id).state == "pseudonymised"
    assert "glad" in translator.get(url).get_data(as_text=True)  # the comment is shown
    record = current(db_session, transcript_id)
    translator.post(
        f"{url}/english",
        data={"version": str(record.version_id), "text": "[SU-1] speaks.\nWe were glad.\n"},
    )
    assert first.post(f"{url}/checks", data={"decision": "approve"}).status_code == 302
    again = first.get(url).get_data(as_text=True)
    assert "a second, different reviewer" in again and 'id="check-form"' not in again
    assert second.post(f"{url}/checks", data={"decision": "approve"}).status_code == 302
    assert current(db_session, transcript_id).state == "checked"
    assert second.post(f"{url}/approval").status_code == 302
    assert current(db_session, transcript_id).state == "approved"

    quoted = worker.get(f"{url}?lines=1-2").get_data(as_text=True)
    assert "BU 1–2" in quoted and "We were glad." in quoted
    beyond = worker.get(f"{url}?lines=3")
    assert beyond.status_code == 422 and "no such lines" in beyond.get_data(as_text=True)
    text = worker.get(f"{url}/download?format=txt")
    assert text.status_code == 200 and "2  We were glad." in text.get_data(as_text=True)
    word = docx.Document(io.BytesIO(worker.get(f"{url}/download?format=docx").data))
    rows = [[cell.text for cell in row.cells] for row in word.tables[0].rows]
    assert rows == [["1", "[SU-1] speaks."], ["2", "We were glad."]]
    sheet = load_workbook(io.BytesIO(worker.get(f"{url}/download?format=xlsx").data)).active
    assert worker.get(f"{url}/download?format=pdf").status_code == 422
    assert "We were glad." in [c.value for row in sheet.iter_rows() for c in row]


def test_other_sites_and_other_roles_cannot_take_the_steps(app, make_user, db_session):
    held = qualitative_session("BU", "interview", language="lg")
    transcript = Transcript(
        session_id=held.id,
        site_code="BU",
        session_kind="interview",
        title="Interview 1",
        language="lg",
        state="recorded",
    )
    db_session.add(transcript)
    db_session.commit()
    url = f"/translation/transcripts/{transcript.id}"
    elsewhere = login(app.test_client(), make_user("translator", ["ULM"]))
    assert elsewhere.get(url).status_code == 404
    worker = login(app.test_client(), make_user("research_worker", ["BU"]))
    assert 'id="verbatim-form"' not in worker.get(url).get_data(as_text=True)
    assert worker.post(f"{url}/verbatim", data={"text": "x"}).status_code == 403


def test_dashboards_put_the_translators_and_reviewers_work_first(
    app, make_user, db_session, api_as
):
    from tests.translation_helpers import create_material, make_team, start

    team = make_team(api_as, "BU")
    translation = start(team, create_material(team.admin), site="BU", language="lg")
    held = qualitative_session("BU", "interview", language="lg")
    waiting = Transcript(
        session_id=held.id,
        site_code="BU",
        session_kind="interview",
        title="Interview 7",
        language="lg",
        state="translated",
        english_text="one",
    )
    db_session.add(waiting)
    db_session.commit()
    translator = login(app.test_client(), team.translator.user).get("/").get_data(as_text=True)
    widgets = translator.split('class="widget"')
    assert 'id="widget-translation_queue"' in widgets[1]  # the first widget
    assert f"/translation/translations/{translation['id']}" in widgets[1]
    assert "Nothing is waiting for you." not in translator
    reviewer = login(app.test_client(), team.reviewer.user).get("/").get_data(as_text=True)
    assert f"/translation/transcripts/{waiting.id}" in reviewer.split('class="widget"')[1]
    worker = login(app.test_client(), make_user("research_worker", ["BU"])).get("/")
    assert 'id="widget-translation_queue"' not in worker.get_data(as_text=True)
