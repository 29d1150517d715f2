"""Cross-site walk records of the translation domain: a translation (with a step, a
segment and a comment), a transcript with numbered lines and a key entry at ``site``.
The material itself is trial-wide reference text and carries no marker."""

from datetime import date

from trialdm.auth.operations import create_user
from trialdm.auth.permissions import Principal
from trialdm.qualitative.operations import create_session
from trialdm.translation import operations
from trialdm.translation.models import PseudonymKeyEntry, Transcript, TranscriptLine


def seed(session, site: str, marker: str) -> dict:
    translator = create_user(
        session, f"walk.translator.{site.lower()}@test.org", "translator", [site]
    )
    actor = Principal(translator.id, translator.email, (("admin", None),))
    material = operations.create_material(
        session,
        {
            "title": "Walk topic guide",
            "kind": "topic_guide",
            "category": "local_text",
            "segments": [{"key": "q1", "text": "How are you?"}],
        },
        actor,
    )
    language = {"BGU": "he", "PU": "mr", "BU": "lg", "DS": "sw"}.get(site, "de")
    translation = operations.start_translation(
        session, material, {"site": site, "language": language}, actor
    )
    translation.segments[0].text = marker
    comment = operations.add_comment(
        session, translation, {"body": marker, "segment_key": "q1"}, actor
    )
    focus_group = create_session(
        session,
        "focus_group",
        {"site": site, "date": date(2025, 5, 3), "mode": "in_person", "language": language},
    )
    transcript = Transcript(
        site_code=site,
        session_kind="focus_group",
        session_id=focus_group.id,
        title=f"FGD {marker}",
        language=language,
        state="approved",
        english_text=f"Line one {marker}\nLine two",
    )
    session.add(transcript)
    session.flush()
    for number, text in enumerate(transcript.english_text.split("\n"), start=1):
        session.add(
            TranscriptLine(site_code=site, transcript_id=transcript.id, number=number, text=text)
        )
    entry = PseudonymKeyEntry(site_code=site, term=marker, placeholder="[PSW]")
    session.add(entry)
    session.flush()
    assert comment.id
    return {
        "material_id": material.id,
        "version_number": 1,
        "translation_id": translation.id,
        "step_id": translation.steps[0].id,
        "segment_key": "q1",
        "transcript_id": transcript.id,
        "entry_id": entry.id,
    }
