"""The shipped instruments' wording in other languages (instruments/translations/):
complete in German and Hebrew, stored by sync as finished labels, shown on the
questionnaire and self-report pages in the reader's language."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.seeders.instruments import sync_shipped
from tests.web_helpers import page_as
from trialdm.instruments.definitions import DefinitionError, load_definition_folder
from trialdm.instruments.definitions.translations import (
    TRANSLATIONS_FOLDER,
    label_texts,
    load_translation_folder,
)
from trialdm.instruments.models import InstrumentLabelTranslation, InstrumentVersion
from trialdm.instruments.operations import store_label_translations, sync_instruments
from trialdm.instruments.queries import labels_for

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENTS = ROOT / "instruments"
COMPLETE_LANGUAGES = ("de", "he")


def shipped_wording() -> dict[tuple[str, str], set[str]]:
    """(instrument, language) -> label keys with a text, inline or in a file."""
    found: dict[tuple[str, str], set[str]] = {}
    definitions = load_definition_folder(INSTRUMENTS)
    for d in definitions:
        for language in ("en", *COMPLETE_LANGUAGES, "sw"):
            found[(d.name, language)] = set(label_texts(d, language))
    newest = {d.name: d.version for d in definitions}
    for t in load_translation_folder(INSTRUMENTS / TRANSLATIONS_FOLDER):
        assert t.version == newest[t.instrument], f"{t.source} is for an older version"
        found.setdefault((t.instrument, t.language), set()).update(t.labels)
    return found


@pytest.mark.parametrize("language", COMPLETE_LANGUAGES)
def test_every_shipped_instrument_has_every_label_in_german_and_hebrew(language):
    found = shipped_wording()
    missing = {
        name: sorted(keys - found.get((name, language), set()))
        for (name, lang), keys in found.items()
        if lang == "en" and keys - found.get((name, language), set())
    }
    assert not missing, f"labels without {language} text: {missing}"


def test_swahili_is_started():
    found = shipped_wording()
    assert any(lang == "sw" and keys for (_, lang), keys in found.items())


def test_sync_stores_the_wording_and_keeps_labels_translated_before(app, db_session):
    definitions = load_definition_folder(INSTRUMENTS)
    sources = {d.name: f"{d.name}.toml" for d in definitions}
    sync_instruments(db_session, definitions, sources)
    version = db_session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.name == "social_inclusion_scale")
    )
    # a label finished in the translation workflow before the sync stays the trial's
    store_label_translations(db_session, version, "he", {"title": "כותרת שתורגמה"})
    translations = load_translation_folder(INSTRUMENTS / TRANSLATIONS_FOLDER)
    report = sync_instruments(db_session, definitions, sources, translations)
    assert report.labels_kept["he"] == 1
    assert report.labels_stored["he"] > 100
    hebrew = labels_for(version, "he")
    assert hebrew["title"] == "כותרת שתורגמה"
    assert hebrew["fields"]["si_01"]["label"] == "יש לי אנשים שאני יכול/ה לפנות אליהם כשקשה."
    assert hebrew["fields"]["si_01"]["choices"]["0"] == "בכלל לא"
    assert hebrew["scores"]["si_total"] == "השתלבות חברתית, סך הכול (0-30)"
    # a second sync stores nothing more
    again = sync_instruments(db_session, definitions, sources, translations)
    assert again.labels_stored.get("he", 0) == 0


def test_a_translation_naming_an_unknown_label_is_refused_with_file_and_key(
    app, db_session, tmp_path
):
    folder = tmp_path / "he"
    folder.mkdir()
    definitions = load_definition_folder(INSTRUMENTS)
    version = next(d.version for d in definitions if d.name == "psw_session_feedback")
    (folder / "psw_session_feedback.toml").write_text(
        f'version = {version}\ntitle = "משוב"\n[fields.no_such_field]\nlabel = "x"\n',
        encoding="utf-8",
    )
    translations = load_translation_folder(tmp_path)
    with pytest.raises(DefinitionError) as refused:
        sync_instruments(db_session, definitions, {}, translations)
    assert "translations/he/psw_session_feedback.toml: fields.no_such_field.label" in str(
        refused.value
    )
    assert db_session.scalar(select(InstrumentLabelTranslation.id).limit(1)) is None


def test_questionnaire_page_shows_the_shipped_wording_in_hebrew(
    app, make_user, make_participant, db_session
):
    sync_shipped(db_session)
    db_session.commit()
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": "he"})
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    page = client.get(url).get_data(as_text=True)
    assert "הרגשתי שהמלווה העמית שלי הבין אותי." in page
    assert "בטלפון או באינטרנט" in page
    assert "I felt understood by my peer support worker." not in page
