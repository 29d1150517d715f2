"""Transcripts from recording to approved English: states, refusals, pseudonymisation,
two checkers, stable line numbers, exports and Unicode round trips."""

from __future__ import annotations

import io

import docx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.translation_helpers import ok, qualitative_session
from trialdm.core.audit import AuditEvent

VERBATIM = (
    "I: Tell me about the group.\n"
    "R: Okello brought me. Sarah Nakato and Sarah were there.\n"
    "R: My PSW Grace helped; we prayed grace first. Kampala is busy.\n"
)
ENGLISH = "\n".join(f"Line {n}: what was said." for n in range(1, 140))


@pytest.fixture
def people(api_as):
    return {
        "translator": api_as("translator", ["BU"]),
        "lead": api_as("site_lead", ["BU"]),
        "reviewer": api_as("reviewer", ["BU"]),
        "reviewer2": api_as("reviewer", ["BU"]),
    }


def create(api, site="BU", language="lg", **extra):
    record = qualitative_session(site, language=language)
    body = {
        "session_kind": "focus_group",
        "session_id": record.id,
        "title": "FGD with service users",
        **extra,
    }
    return ok(api.post("/api/v1/transcripts", json=body), 201)


def url(transcript, tail=""):
    return f"/api/v1/transcripts/{transcript['id']}{tail}"


def send(api, transcript, tail, **kwargs):
    """POST a change of the transcript with its current ETag in If-Match, as a client
    that has just read it (a header given by the caller wins)."""
    current = api.get(url(transcript))
    headers = {"If-Match": current.headers.get("ETag", '"1"'), **kwargs.pop("headers", {})}
    return api.post(url(transcript, tail), headers=headers, **kwargs)


def add_key(lead, make_participant, site="BU"):
    sarah_nakato = make_participant(site, "service_user")
    okello = make_participant(site, "psw")
    entries = [
        {"site": site, "term": "Sarah Nakato", "participant_id": sarah_nakato.id},
        {"site": site, "term": "Sarah", "placeholder": "[SU2]"},
        {"site": site, "term": "Okello", "participant_id": okello.id},
        {"site": site, "term": "Grace", "placeholder": "[PSW]"},
    ]
    for entry in entries:
        ok(lead.post("/api/v1/transcripts/pseudonymisation-key", json=entry), 201)
    return sarah_nakato.study_id, okello.study_id


def to_pseudonymised(people, make_participant, transcript, verbatim=VERBATIM):
    ok(send(people["translator"], transcript, "/verbatim", json={"text": verbatim}))
    add_key(people["lead"], make_participant)
    ok(people["lead"].post(url(transcript, "/pseudonymisation")))
    return ok(send(people["lead"], transcript, "/pseudonymisation/confirm", json={}))


def to_approved(people, make_participant, english=ENGLISH):
    transcript = create(people["translator"])
    to_pseudonymised(people, make_participant, transcript)
    ok(send(people["translator"], transcript, "/english", json={"text": english}))
    ok(people["reviewer"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    ok(people["reviewer2"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    return ok(people["reviewer"].post(url(transcript, "/approval")))


def test_walk_through_every_state(people, make_participant, db_session):
    translator, lead = people["translator"], people["lead"]
    transcript = create(translator)
    assert transcript["state"] == "recorded"
    transcribed = ok(send(translator, transcript, "/verbatim", json={"text": VERBATIM}))
    assert transcribed["state"] == "transcribed" and transcribed["has_verbatim"] is True
    assert "Okello" not in str(translator.get(url(transcript)).json)

    sarah_id, okello_id = add_key(lead, make_participant)
    draft = ok(lead.post(url(transcript, "/pseudonymisation")))
    assert draft["state"] == "transcribed"  # nothing final until confirmed
    assert draft["pseudonymised_text"] == (
        "I: Tell me about the group.\n"
        f"R: {okello_id} brought me. {sarah_id} and [SU2] were there.\n"
        "R: My PSW [PSW] helped; we prayed grace first. Kampala is busy.\n"
    )
    report = draft["report"]
    assert [(r["found"], r["replacement"], r["line"]) for r in report["replacements"]] == [
        ("Okello", okello_id, 2),
        ("Sarah Nakato", sarah_id, 2),
        ("Sarah", "[SU2]", 2),
        ("Grace", "[PSW]", 3),
    ]
    assert report["flags"] == []  # "Kampala" starts a sentence: not flagged
    assert draft["verbatim_text"] == VERBATIM
    assert ok(lead.get(url(transcript, "/pseudonymisation")))["verbatim_text"] == VERBATIM
    # Translators never see the draft nor the verbatim text.
    assert translator.get(url(transcript, "/pseudonymisation")).status_code == 403
    assert translator.get(url(transcript)).json["pseudonymised_text"] is None

    corrected = draft["pseudonymised_text"].replace("Kampala", "[PLACE]")
    confirmed = ok(send(lead, transcript, "/pseudonymisation/confirm", json={"text": corrected}))
    assert confirmed["state"] == "pseudonymised" and confirmed["has_verbatim"] is False
    assert confirmed["verbatim_deleted_at"] is not None
    assert lead.get(url(transcript, "/pseudonymisation")).json["verbatim_text"] is None
    assert translator.get(url(transcript)).json["pseudonymised_text"] == corrected

    translated = ok(send(translator, transcript, "/english", json={"text": ENGLISH}))
    assert translated["state"] == "translated"
    ok(people["reviewer"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    assert translator.get(url(transcript)).json["state"] == "translated"
    ok(people["reviewer2"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    assert translator.get(url(transcript)).json["state"] == "checked"
    approved = ok(people["reviewer2"].post(url(transcript, "/approval")))
    assert approved["state"] == "approved"

    events = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "transcripts", AuditEvent.entity_id == str(transcript["id"]))
        .order_by(AuditEvent.id)
    ).all()
    states = [e.changes["state"][1] for e in events if "state" in e.changes]
    assert states == [
        "recorded",
        "transcribed",
        "pseudonymised",
        "translated",
        "checked",
        "approved",
    ]
    assert [e.action for e in events if e.action == "view_verbatim"] == ["view_verbatim"]
    deleted = [e for e in events if e.action == "verbatim_deleted"]
    assert len(deleted) == 1 and deleted[0].reason and deleted[0].changes["replacements"] == 4
    # Neither the verbatim text nor the key's names ever reach the audit trail.
    every_change = str([e.changes for e in db_session.scalars(select(AuditEvent))])
    assert "Okello" not in every_change and "Nakato" not in every_change


def test_two_different_checkers_and_returns(people, make_participant):
    translator, reviewer, reviewer2 = people["translator"], people["reviewer"], people["reviewer2"]
    transcript = create(translator)
    to_pseudonymised(people, make_participant, transcript)
    ok(send(translator, transcript, "/english", json={"text": "First try."}))
    ok(reviewer.post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    twice = reviewer.post(url(transcript, "/checks"), json={"decision": "approve"})
    assert twice.status_code == 422 and "second, different" in twice.json["errors"]["reviewer"][0]
    # Checking has begun: the translator cannot swap the text under the checkers.
    assert send(translator, transcript, "/english", json={"text": "x"}).status_code == 422
    no_comment = reviewer2.post(url(transcript, "/checks"), json={"decision": "return"})
    assert no_comment.status_code == 422
    returned = reviewer2.post(
        url(transcript, "/checks"), json={"decision": "return", "comments": "Line 1 is wrong"}
    )
    assert ok(returned, 201)["round"] == 1
    current = translator.get(url(transcript)).json
    assert current["state"] == "pseudonymised" and current["check_round"] == 2
    assert current["checks"][-1]["comments"] == "Line 1 is wrong"
    ok(send(translator, transcript, "/english", json={"text": "Second try."}))
    # The first round's approval no longer counts: two new ones are needed.
    ok(reviewer.post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    assert translator.get(url(transcript)).json["state"] == "translated"
    ok(reviewer2.post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    assert translator.get(url(transcript)).json["state"] == "checked"


def test_translator_cannot_check_own_translation(people, make_participant, api_as):
    admin = api_as("admin")
    transcript = create(admin)
    to_pseudonymised(people, make_participant, transcript)
    ok(send(admin, transcript, "/english", json={"text": "Mine."}))
    response = admin.post(url(transcript, "/checks"), json={"decision": "approve"})
    assert (
        response.status_code == 422 and "You translated" in response.json["errors"]["reviewer"][0]
    )


def test_refused_transitions(people, make_participant):
    translator, lead, reviewer = people["translator"], people["lead"], people["reviewer"]
    transcript = create(translator)
    for call in [
        lambda: lead.post(url(transcript, "/pseudonymisation")),
        lambda: send(lead, transcript, "/pseudonymisation/confirm", json={}),
        lambda: send(translator, transcript, "/english", json={"text": "x"}),
        lambda: reviewer.post(url(transcript, "/checks"), json={"decision": "approve"}),
        lambda: reviewer.post(url(transcript, "/approval")),
        lambda: translator.get(url(transcript, "/quote?lines=1-2")),
        lambda: translator.get(url(transcript, "/export?format=txt")),
    ]:
        response = call()
        assert response.status_code == 422, response.json
        assert "state" in response.json["errors"]
    ok(send(translator, transcript, "/verbatim", json={"text": VERBATIM}))
    empty_key = lead.post(url(transcript, "/pseudonymisation"))
    assert empty_key.status_code == 422 and "key" in empty_key.json["errors"]
    no_draft = send(lead, transcript, "/pseudonymisation/confirm", json={})
    assert no_draft.status_code == 422
    # Wrong role for each step.
    assert send(reviewer, transcript, "/verbatim", json={"text": "x"}).status_code == 403
    assert translator.post(url(transcript, "/pseudonymisation")).status_code == 403
    assert (
        translator.post(url(transcript, "/checks"), json={"decision": "approve"}).status_code == 403
    )
    assert lead.post(url(transcript, "/approval")).status_code == 403
    # A stale If-Match is refused; none at all is asked for.
    stale = send(
        translator, transcript, "/verbatim", json={"text": "x"}, headers={"If-Match": '"99"'}
    )
    assert stale.status_code == 412
    missing = translator.post(url(transcript, "/verbatim"), json={"text": "x"})
    assert missing.status_code == 428


def test_other_sites_see_nothing(people, make_participant, api_as):
    transcript = create(people["translator"])
    add_key(people["lead"], make_participant)
    ulm_lead = api_as("site_lead", ["ULM"])
    assert ulm_lead.get(url(transcript, "/pseudonymisation")).status_code == 404
    assert ulm_lead.get("/api/v1/transcripts/pseudonymisation-key").json["meta"]["total"] == 0
    key = people["lead"].get("/api/v1/transcripts/pseudonymisation-key").json
    assert key["meta"]["total"] == 4
    other = ulm_lead.post(
        "/api/v1/transcripts/pseudonymisation-key",
        json={"site": "BU", "term": "Kato", "placeholder": "[X]"},
    )
    assert other.status_code == 403
    entry = key["items"][0]
    entry_url = f"/api/v1/transcripts/pseudonymisation-key/{entry['id']}"
    seen = {"If-Match": f'"{entry["version"]}"'}
    assert ulm_lead.delete(entry_url, headers=seen).status_code == 404
    ok(people["lead"].delete(entry_url, headers=seen), 204)
    ulm_translator = api_as("translator", ["ULM"])
    assert ulm_translator.get(url(transcript)).status_code == 404
    assert ulm_translator.get("/api/v1/transcripts").json["meta"]["total"] == 0
    bu_interview = qualitative_session("BU", "interview")
    wrong_site = ulm_translator.post(
        "/api/v1/transcripts",
        json={"session_kind": "interview", "session_id": bu_interview.id},
    )
    assert wrong_site.status_code == 422 and "No such interview" in str(wrong_site.json)


def test_transcript_takes_site_language_and_date_from_its_session(people):
    record = qualitative_session("BU", "interview", language="lg")
    translator = people["translator"]
    made = ok(
        translator.post(
            "/api/v1/transcripts", json={"session_kind": "interview", "session_id": record.id}
        ),
        201,
    )
    assert (made["site"], made["language"], made["recorded_on"]) == ("BU", "lg", "2025-06-03")
    assert made["session_kind"] == "interview" and made["session_id"] == record.id
    assert made["title"] == "Interview BU 2025-06-03"
    wrong_kind = translator.post(
        "/api/v1/transcripts", json={"session_kind": "focus_group", "session_id": record.id}
    )
    assert wrong_kind.status_code == 422
    english = translator.post(
        "/api/v1/transcripts",
        json={"session_kind": "interview", "session_id": record.id, "language": "en"},
    )
    assert ok(english, 201)["language"] == "en"
    german = translator.post(
        "/api/v1/transcripts",
        json={"session_kind": "interview", "session_id": record.id, "language": "de"},
    )
    assert german.status_code == 422 and "language" in german.json["errors"]


def test_key_entry_rules(people, make_participant):
    lead = people["lead"]
    ulm_person = make_participant("ULM", "psw")
    both = lead.post(
        "/api/v1/transcripts/pseudonymisation-key",
        json={"site": "BU", "term": "Kato", "placeholder": "[X]", "participant_id": ulm_person.id},
    )
    assert both.status_code == 422
    elsewhere = lead.post(
        "/api/v1/transcripts/pseudonymisation-key",
        json={"site": "BU", "term": "Kato", "participant_id": ulm_person.id},
    )
    assert elsewhere.status_code == 422 and "participant_id" in elsewhere.json["errors"]
    ok(
        lead.post(
            "/api/v1/transcripts/pseudonymisation-key",
            json={"site": "BU", "term": "Kato", "placeholder": "[X]"},
        ),
        201,
    )
    again = lead.post(
        "/api/v1/transcripts/pseudonymisation-key",
        json={"site": "BU", "term": "Kato", "placeholder": "[Y]"},
    )
    assert again.status_code == 409


def test_uploads_txt_and_docx_in_hebrew_and_marathi(api_as):
    bgu = api_as("translator", ["BGU"])
    hebrew = "מ: ספרי לי על הקבוצה.\nמ: היה טוב מאוד, תודה.\n"
    transcript = create(bgu, site="BGU", language="he")
    response = send(
        bgu,
        transcript,
        "/verbatim",
        data={"file": (io.BytesIO(("\ufeff" + hebrew).encode("utf-8")), "fgd.txt")},
        content_type="multipart/form-data",
    )
    assert ok(response)["state"] == "transcribed"
    lead = api_as("site_lead", ["BGU"])
    assert lead.get(url(transcript, "/pseudonymisation")).json["verbatim_text"] == hebrew

    pu = api_as("translator", ["PU"])
    marathi = ["प्र: गटाबद्दल सांगा.", "उ: खूप छान होते, धन्यवाद."]
    document = docx.Document()
    for line in marathi:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    transcript = create(pu, site="PU", language="mr")
    ok(
        send(
            pu,
            transcript,
            "/verbatim",
            data={"file": (io.BytesIO(buffer.getvalue()), "fgd.docx")},
            content_type="multipart/form-data",
        )
    )
    pu_lead = api_as("site_lead", ["PU"])
    assert pu_lead.get(url(transcript, "/pseudonymisation")).json["verbatim_text"] == "\n".join(
        marathi
    )
    for name, content, message in [
        ("fgd.txt", "Grüße".encode("latin-1"), "UTF-8"),
        ("fgd.pdf", b"%PDF", ".txt or .docx"),
        ("fgd.docx", b"not a zip", "readable"),
    ]:
        bad = send(
            pu,
            transcript,
            "/verbatim",
            data={"file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert bad.status_code == 422 and message in bad.json["errors"]["file"][0]


def test_line_numbers_are_stable_and_quotable(people, make_participant, api_as):
    transcript = to_approved(people, make_participant)
    translator = people["translator"]
    quote = ok(translator.get(url(transcript, "/quote?lines=107-128")))
    assert quote["label"] == "BU 107–128"
    assert [line["number"] for line in quote["lines"]] == list(range(107, 129))
    assert quote["lines"][0]["text"] == "Line 107: what was said."
    single = ok(translator.get(url(transcript, "/quote?lines=51")))
    assert single["label"] == "BU 51" and single["text"] == "Line 51: what was said."
    assert translator.get(url(transcript, "/quote?lines=130-150")).status_code == 422
    assert translator.get(url(transcript, "/quote?lines=9-3")).status_code == 422
    # Approved English is frozen: nothing can renumber it.
    assert send(translator, transcript, "/english", json={"text": "new"}).status_code == 422
    assert people["reviewer"].post(url(transcript, "/approval")).status_code == 422
    assert ok(translator.get(url(transcript, "/quote?lines=107-128"))) == quote


def test_blank_lines_are_not_numbered(people, make_participant):
    transcript = to_approved(people, make_participant, english="First.\n\n  \nSecond.\r\nThird.")
    quote = ok(people["translator"].get(url(transcript, "/quote?lines=1-3")))
    assert [line["text"] for line in quote["lines"]] == ["First.", "Second.", "Third."]


def test_exports_keep_line_numbers_and_unicode(api_as, db_session):
    bgu = {
        "translator": api_as("translator", ["BGU"]),
        "lead": api_as("site_lead", ["BGU"]),
        "reviewer": api_as("reviewer", ["BGU"]),
        "reviewer2": api_as("reviewer", ["BGU"]),
    }
    lines = [
        "M: The group helped me.",
        "ציטוט בעברית: הקבוצה עזרה לי.",
        "मराठी ओळ.",
        "=1+1 stays text",
    ]
    transcript = create(bgu["translator"], site="BGU", language="he")
    ok(send(bgu["translator"], transcript, "/verbatim", json={"text": "שלום"}))
    ok(
        bgu["lead"].post(
            "/api/v1/transcripts/pseudonymisation-key",
            json={"site": "BGU", "term": "דוד", "placeholder": "[PSW]"},
        ),
        201,
    )
    ok(bgu["lead"].post(url(transcript, "/pseudonymisation")))
    ok(send(bgu["lead"], transcript, "/pseudonymisation/confirm", json={}))
    ok(send(bgu["translator"], transcript, "/english", json={"text": "\n".join(lines)}))
    ok(bgu["reviewer"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    ok(bgu["reviewer2"].post(url(transcript, "/checks"), json={"decision": "approve"}), 201)
    ok(bgu["reviewer"].post(url(transcript, "/approval")))
    api = bgu["translator"]

    txt = api.get(url(transcript, "/export?format=txt"))
    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    body = txt.get_data().decode("utf-8").splitlines()
    assert body[2:] == [f"{n}  {text}" for n, text in enumerate(lines, start=1)]

    document = docx.Document(io.BytesIO(api.get(url(transcript, "/export?format=docx")).get_data()))
    rows = [(row.cells[0].text, row.cells[1].text) for row in document.tables[0].rows]
    assert rows == [(str(n), text) for n, text in enumerate(lines, start=1)]
    hebrew_paragraph = document.tables[0].rows[1].cells[1].paragraphs[0]
    assert (
        hebrew_paragraph._p.pPr.find(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}bidi"
        )
        is not None
    )

    workbook = load_workbook(io.BytesIO(api.get(url(transcript, "/export?format=xlsx")).get_data()))
    sheet = workbook.active
    values = [tuple(row) for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert values == [(n, text) for n, text in enumerate(lines, start=1)]
    assert sheet.cell(row=6, column=2).data_type == "s"  # "=1+1" is not a formula

    exports = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "export", AuditEvent.entity_id == str(transcript["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.changes["format"] for e in exports] == ["txt", "docx", "xlsx"]
    assert api.get(url(transcript, "/export?format=pdf")).status_code == 422


def test_pages_show_own_sites_work_and_numbered_lines(
    app, people, make_participant, make_user, db_session
):
    transcript = to_approved(people, make_participant, english="One.\nשתיים.\nThree.")
    # One session at a time: the test's app context (and flask-login's cache in g) is shared.
    reviewer = make_user("reviewer", ["BU"])
    outsider = make_user("reviewer", ["ULM"])
    pages = app.test_client()
    pages.post("/login", data={"email": reviewer.email, "password": "correct horse 1"})
    work = pages.get("/translation/").get_data(as_text=True)
    assert "FGD with service users" in work
    page = pages.get(f"/translation/transcripts/{transcript['id']}").get_data(as_text=True)
    assert '<tr id="L2"><th scope="row">2</th>' in page
    assert '<td dir="rtl">שתיים.</td>' in page
    pages.post("/logout")
    pages.post("/login", data={"email": outsider.email, "password": "correct horse 1"})
    assert "FGD with service users" not in pages.get("/translation/").get_data(as_text=True)
    assert pages.get(f"/translation/transcripts/{transcript['id']}").status_code == 404


def test_flagged_names_must_be_reviewed_before_confirming(people, make_participant):
    lead = people["lead"]
    transcript = create(people["translator"])
    verbatim = VERBATIM + "R: Then I went to see Kato at home.\n"
    ok(send(people["translator"], transcript, "/verbatim", json={"text": verbatim}))
    add_key(lead, make_participant)
    draft = ok(lead.post(url(transcript, "/pseudonymisation")))
    assert draft["report"]["flags"] == [{"token": "Kato", "line": 4}]
    refused = send(lead, transcript, "/pseudonymisation/confirm", json={})
    assert refused.status_code == 422 and "flags_reviewed" in refused.json["errors"]
    assert lead.get(url(transcript, "/pseudonymisation")).json["verbatim_text"] == verbatim
    corrected = draft["pseudonymised_text"].replace("Kato", "[SU3]")
    confirmed = ok(
        send(
            lead,
            transcript,
            "/pseudonymisation/confirm",
            json={"text": corrected, "flags_reviewed": True},
        )
    )
    assert confirmed["state"] == "pseudonymised"
    assert "Kato" not in people["translator"].get(url(transcript)).json["pseudonymised_text"]


def test_names_of_the_key_cannot_come_back_after_pseudonymisation(people, make_participant):
    translator = people["translator"]
    transcript = create(translator)
    to_pseudonymised(people, make_participant, transcript)
    leaked = send(
        translator,
        transcript,
        "/english",
        json={"text": "I: Who came?\n\nR: Okello and SARAH were there. Peer support helped."},
    )
    assert leaked.status_code == 422
    assert leaked.json["errors"]["text"] == [
        "Line 2: 'Okello' is in the pseudonymisation key.",
        "Line 2: 'SARAH' is in the pseudonymisation key.",
    ]
    assert translator.get(url(transcript)).json["english_text"] is None
    # the common word is not the capitalised name
    ok(send(translator, transcript, "/english", json={"text": "We said grace first."}))
    comment = people["reviewer"].post(
        url(transcript, "/checks"),
        json={"decision": "return", "comments": "Line 1 should name Grace, as said."},
    )
    assert comment.status_code == 422
    assert comment.json["errors"]["comments"] == ["Line 1: 'Grace' is in the pseudonymisation key."]
    assert translator.get(url(transcript)).json["state"] == "translated"


def test_a_corrected_pseudonymised_text_is_checked_against_the_key(people, make_participant):
    lead = people["lead"]
    transcript = create(people["translator"])
    ok(send(people["translator"], transcript, "/verbatim", json={"text": VERBATIM}))
    add_key(lead, make_participant)
    draft = ok(lead.post(url(transcript, "/pseudonymisation")))
    refused = send(
        lead,
        transcript,
        "/pseudonymisation/confirm",
        json={"text": draft["pseudonymised_text"] + "R: Okello again.", "flags_reviewed": True},
    )
    assert refused.status_code == 422
    assert refused.json["errors"]["text"] == ["Line 4: 'Okello' is in the pseudonymisation key."]
    assert lead.get(url(transcript)).json["state"] == "transcribed"
