"""The API's problem+json in the request's language (Accept-Language): field
messages of the schemas (marshmallow's, in plain words) and of the operations,
the title and the detail; field names and values stay as they are."""

import pytest

from tests.test_participants_api import enrolment

FSI, PDI = "\u2068", "\u2069"  # the Hebrew catalog isolates values inside the text

SCHEMA_ERRORS = {
    "de": {
        "title": "Eingabe nicht verarbeitbar",
        "detail": "Die Eingabe enthält Fehler.",
        "year_of_birth": "Geben Sie eine ganze Zahl ein, etwa 12.",
        "consent_version": "Verwenden Sie höchstens 32 Zeichen.",
        "gender": "Beim Anlegen erforderlich.",
    },
    "he": {
        "title": "לא ניתן לעבד את התוכן",
        "detail": "יש שגיאות בקלט.",
        "year_of_birth": "יש להזין מספר שלם, כמו 12.",
        "consent_version": f"יש להשתמש בעד {FSI}32{PDI} תווים.",
        "gender": "שדה חובה ביצירת הרשומה.",
    },
}


@pytest.mark.parametrize("language", ["de", "he"])
def test_schema_errors_come_in_plain_words_of_the_language(api_as, language):
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants",
        json=enrolment(year_of_birth="abc", consent_version="v" * 40, gender=None),
        headers={"Accept-Language": f"{language},en;q=0.5"},
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body, expected = response.json, SCHEMA_ERRORS[language]
    assert body["title"] == expected["title"]
    assert body["detail"] == expected["detail"]
    for field in ("year_of_birth", "consent_version", "gender"):
        assert body["errors"][field] == [expected[field]], field


DOMAIN_ERRORS = {
    "de": (
        "Die Einwilligung muss am oder vor dem Einschlussdatum gegeben werden.",
        "Muss zwischen 1900 und {year} liegen.",
    ),
    "he": ("יש לתת הסכמה בתאריך הגיוס או לפניו.", f"חייב להיות בין 1900 ל־{FSI}{{year}}{PDI}."),
}


@pytest.mark.parametrize("language", ["de", "he"])
def test_rules_of_the_operations_answer_in_the_language_with_their_values(api_as, language):
    from datetime import date

    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants",
        json=enrolment(
            year_of_birth=date.today().year + 1,
            consent_date="2025-06-01",
            enrolment_date="2025-05-02",
        ),
        headers={"Accept-Language": language},
    )
    assert response.status_code == 422, response.json
    consent, year = DOMAIN_ERRORS[language]
    errors = response.json["errors"]
    assert errors["consent_date"] == [consent]
    assert year.format(year=date.today().year) in errors["year_of_birth"]


def test_not_found_and_english_by_default(api_as):
    api = api_as("research_worker", ["BU"])
    german = api.get("/api/v1/participants/987654", headers={"Accept-Language": "de"})
    assert german.status_code == 404
    assert german.json["title"] == "Nicht gefunden"
    english = api.post("/api/v1/participants", json=enrolment(year_of_birth="abc"))
    assert english.json["title"] == "Unprocessable content"
    # library wording is replaced in English too
    assert english.json["errors"]["year_of_birth"] == ["Enter a whole number, such as 12."]


def test_answers_of_a_questionnaire_are_checked_in_the_language(
    api_as, make_participant, db_session
):
    from datetime import date, timedelta

    from tests.seeders.instruments import sync_shipped

    sync_shipped(db_session)
    db_session.commit()
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "psw_session_feedback",
            "collected_on": (date.today() - timedelta(days=1)).isoformat(),
            "answers": {"helpful": 9, "session_format": "by_pigeon"},
        },
        headers={"Accept-Language": "he"},
    )
    assert response.status_code == 422, response.json
    answers = response.json["errors"]["answers"]
    assert answers["helpful"] == [f"חייב להיות לכל היותר {FSI}5{PDI}."]
    assert "אינו אחת האפשרויות" in answers["session_format"][0]


TRANSLATION_ERRORS = {
    "de": {
        "segments": [
            "Eintrag 1: Der Schlüssel „a b“ darf nur Buchstaben, Ziffern und _.- enthalten.",
            "Eintrag 3: Der Schlüssel „k“ wird doppelt verwendet.",
        ],
        "instrument_version": ["Geben Sie Name und Version des Instruments zusammen an."],
        "out_of_order": "Falsche Reihenfolge: forward nicht erledigt.",
    },
    "he": {
        "segments": [
            f"פריט {FSI}1{PDI}: המפתח {FSI}a b{PDI} חייב להכיל רק אותיות, ספרות ו־_.-",
            f"פריט {FSI}3{PDI}: המפתח {FSI}k{PDI} מופיע פעמיים.",
        ],
        "instrument_version": ["יש לציין את שם הכלי ואת גרסתו יחד."],
        "out_of_order": f"לא לפי הסדר: {FSI}forward{PDI} לא הושלם.",
    },
}


@pytest.mark.parametrize("language", ["de", "he"])
def test_translation_workflow_refusals_come_in_the_language(api_as, language):
    from tests.translation_helpers import create_material, make_team, source, start, step_of

    team = make_team(api_as)
    headers = {"Accept-Language": language}
    expected = TRANSLATION_ERRORS[language]
    response = team.admin.post(
        "/api/v1/materials",
        json={
            "title": "Bad",
            "kind": "topic_guide",
            "category": "local_text",
            "instrument_name": "SIX",
            "segments": source(("a b", "x"), ("k", "y"), ("k", "z")),
        },
        headers=headers,
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors["segments"] == expected["segments"]
    assert errors["instrument_version"] == expected["instrument_version"]

    translation = start(team, create_material(team.admin))
    step = step_of(translation, "review")
    response = team.reviewer.post(
        f"/api/v1/translations/{translation['id']}/steps/{step['id']}/transitions",
        json={"action": "start"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json["errors"]["step"] == [expected["out_of_order"]]
