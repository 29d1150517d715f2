"""Demo data: materials translated into several languages and standing at different
steps, and Butabika transcripts in every state (plus Hebrew and Marathi ones)."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.loader import principal_for
from trialdm.auth.models import User
from trialdm.auth.permissions import Principal
from trialdm.participants.models import Participant
from trialdm.qualitative.models import QualitativeSession
from trialdm.translation import operations
from trialdm.translation.models import Material, Transcript, Translation

DOMAIN = "demo.trialdm.org"

CONSENT = [
    ("p1", "You are invited to take part in a study of peer support."),
    ("p2", "Taking part is voluntary; you may stop at any time."),
    ("p3", "What you tell us is kept confidential."),
]
INFORMATION = [
    ("p1", "A peer support worker has lived experience of mental illness."),
    ("p2", "You will meet your peer support worker at least three times."),
    ("p3", "Meetings can be one-to-one or in a group."),
]
TOPIC_GUIDE = [
    ("q1", "What does peer support mean to you?"),
    ("q2", "How did peer support workers fit into your team?"),
    ("q3", "What would you change?"),
]
# Luganda for the social inclusion scale's title and answer choices (by choice value).
SCALE_TITLE_LG = "Ekigero ky'okwetaba mu bantu buli lunaku"
SCALE_CHOICES_LG = {"0": "N'akatono", "1": "Katono", "2": "Okusinga", "3": "Ddala ddala"}
LUGANDA = {
    "p1": "Oyanirizibwa okwetaba mu kunoonyereza ku buyambi bw'abenkanankana.",
    "p2": "Okwetaba kwa kyeyagalire; oyinza okuyimiriza essaawa yonna.",
    "p3": "By'otugamba bikuumibwa nga byama.",
    "q1": "Okuyambibwa abenkanankana kitegeeza ki gy'oli?",
    "q2": "Abakozi b'obuyambi bw'abenkanankana baakwatagana batya n'ekibiina kyammwe?",
    "q3": "Kiki ky'wandikyusizza?",
}
HEBREW = {"q1": "מה משמעות תמיכת עמיתים עבורך?", "q2": "איך השתלבו עובדי תמיכת העמיתים בצוות?"}

BU_VERBATIM = (
    "I: Tell me how the peer support went.\n"
    "R1: Nakato came every week. Before that I stayed home.\n"
    "R2: My PSW Musoke took me to the market in Kireka.\n"
    "R1: Nakato and Musoke both listened.\n"
)
BU_ENGLISH = (
    "Interviewer: Tell me how the peer support went.\n"
    "R1: [SU1] came every week. Before that I stayed at home.\n"
    "R2: My PSW [PSW1] took me to the market in [PLACE].\n"
    "R1: [SU1] and [PSW1] both listened; they understood me.\n"
    "R2: I felt less alone than before.\n"
    "R1: I would tell others to join.\n"
)
BGU_VERBATIM = "מ: ספרי לי על תמיכת העמיתים.\nמ1: דוד הגיע כל שבוע ועזר לי מאוד.\n"
# Titles in the local language: (focus group, interview)
HEBREW_TITLES = ("קבוצת מיקוד: אנשי מקצוע", "ראיון: משתמש שירות")
MARATHI_TITLES = ("फोकस गट: मानसिक आरोग्य कर्मचारी", "मुलाखत: सेवा वापरकर्ता")


def _actor(session: Session, name: str) -> Principal:
    user = session.scalar(select(User).where(User.email == f"{name}@{DOMAIN}"))
    return principal_for(user, "cli")


def _material(session, admin, title, kind, category, segments, **extra) -> Material:
    return operations.create_material(
        session,
        {
            "title": title,
            "kind": kind,
            "category": category,
            "segments": [{"key": k, "text": t} for k, t in segments],
            **extra,
        },
        admin,
    )


def _forward(session, translation, translator, texts, submit=True) -> None:
    forward = translation.steps[0]
    operations.transition_step(session, translation, forward, "start", translator)
    for segment in translation.segments:
        if segment.key in texts:
            operations.write_segment(
                session,
                translation,
                segment.key,
                {"text": texts[segment.key]},
                translator,
                segment.version_id,
            )
    if submit:
        operations.transition_step(session, translation, forward, "submit", translator)


def _assign(session, translation, **assignees: Principal) -> None:
    for step in translation.steps:
        actor = assignees.get(step.kind)
        if actor is not None:
            operations.assign_step(
                session, translation, step, {"assignee_id": actor.user_id}, step.version_id
            )


def demo_translation(session: Session, rng: random.Random) -> str:
    admin = _actor(session, "admin")
    lead = _actor(session, "lead.bu")
    translator = _actor(session, "translator.bu")
    reviewer = _actor(session, "reviewer.bu")
    reviewer2 = _actor(session, "reviewer2.bu")
    translator_bgu = _actor(session, "translator.bgu")

    consent = _material(session, admin, "Consent form", "consent_form", "local_text", CONSENT)
    information = _material(
        session,
        admin,
        "Information sheet for service users",
        "information_sheet",
        "study_generated",
        INFORMATION,
    )
    guide = _material(
        session,
        admin,
        "Topic guide: mental health workers",
        "topic_guide",
        "local_text",
        TOPIC_GUIDE,
    )
    # The primary outcome: its English source is the stored instrument's labels.
    scale = operations.create_material(
        session,
        {
            "title": "Everyday social inclusion scale",
            "kind": "questionnaire",
            "category": "primary_measure",
            "instrument_name": "social_inclusion_scale",
            "instrument_version": "1",
        },
        admin,
    )

    def start(material, site, language, by=lead):
        return operations.start_translation(
            session, material, {"site": site, "language": language}, by
        )

    # Consent form, Luganda: finished, then amended so the new version flags p2.
    lg_consent = start(consent, "BU", "lg")
    _assign(session, lg_consent, forward=translator, review=reviewer)
    _forward(session, lg_consent, translator, LUGANDA)
    operations.transition_step(session, lg_consent, lg_consent.steps[0], "complete", reviewer)
    review = lg_consent.steps[1]
    for action, who in (("start", reviewer), ("submit", reviewer), ("complete", reviewer2)):
        operations.transition_step(session, lg_consent, review, action, who)
    amended = [(k, t) for k, t in CONSENT]
    amended[1] = ("p2", "Taking part is voluntary; you may stop at any time without a reason.")
    operations.add_material_version(
        session,
        consent,
        {"note": "Ethics amendment", "segments": [{"key": k, "text": t} for k, t in amended]},
        admin,
    )
    # Social inclusion scale, Luganda: forward translation under way (title and choices).
    lg_scale = start(scale, "BU", "lg")
    _assign(session, lg_scale, forward=translator, review=reviewer)
    scale_texts = {"title": SCALE_TITLE_LG}
    for segment in lg_scale.segments:
        value = segment.key.rsplit(".", 1)[-1]
        if ".choices." in segment.key and value in SCALE_CHOICES_LG:
            scale_texts[segment.key] = SCALE_CHOICES_LG[value]
    _forward(session, lg_scale, translator, scale_texts, submit=False)
    # Information sheet, Luganda: forward done, reconciliation in progress.
    lg_info = start(information, "BU", "lg")
    _assign(session, lg_info, forward=translator, reconciliation=translator, review=reviewer)
    _forward(
        session,
        lg_info,
        translator,
        {
            "p1": "Omukozi w'obuyambi bw'abenkanankana alina obumanyirivu.",
            "p2": "Ojja kusisinkana omukozi wo emirundi esatu.",
            "p3": "Okusisinkana kuyinza okuba kwa bbiri oba mu kibiina.",
        },
    )
    operations.transition_step(session, lg_info, lg_info.steps[0], "complete", reviewer)
    operations.transition_step(session, lg_info, lg_info.steps[1], "start", translator)
    # Topic guide, Luganda: forward returned with a comment on q2.
    lg_guide = start(guide, "BU", "lg")
    _assign(session, lg_guide, forward=translator, review=reviewer2)
    _forward(session, lg_guide, translator, LUGANDA)
    operations.add_comment(
        session, lg_guide, {"segment_key": "q2", "body": "Use 'ttiimu' as the team says."}, reviewer
    )
    operations.transition_step(
        session, lg_guide, lg_guide.steps[0], "return", reviewer, "Please see q2."
    )
    # Topic guide, Hebrew at Be'er Sheva: forward in progress, half done.
    he_guide = start(guide, "BGU", "he", by=admin)
    _assign(session, he_guide, forward=translator_bgu)
    _forward(session, he_guide, translator_bgu, HEBREW, submit=False)
    # Information sheet, Marathi at Pune: just started, nobody assigned yet.
    start(information, "PU", "mr", by=admin)

    transcripts = _demo_transcripts(session, lead, translator, reviewer, reviewer2, translator_bgu)
    translations = session.scalars(select(Translation)).all()
    return (
        f"4 materials, {len(translations)} translations "
        f"({', '.join(sorted({t.language for t in translations}))}), {transcripts} transcripts"
    )


def _demo_transcripts(session, lead, translator, reviewer, reviewer2, translator_bgu) -> int:
    bu_people = session.scalars(
        select(Participant).where(Participant.site_code == "BU").order_by(Participant.id)
    ).all()
    psw = next(p for p in bu_people if p.category == "psw")
    user = next(p for p in bu_people if p.category == "service_user")
    for data in (
        {"site": "BU", "term": "Nakato", "participant_id": user.id},
        {"site": "BU", "term": "Musoke", "participant_id": psw.id},
        {"site": "BU", "term": "Kireka", "placeholder": "[PLACE]"},
        {"site": "BGU", "term": "דוד", "placeholder": "[PSW]"},
    ):
        operations.add_key_entry(session, data)

    def sessions(site: str) -> list[QualitativeSession]:
        return list(
            session.scalars(
                select(QualitativeSession)
                .where(QualitativeSession.site_code == site)
                .order_by(QualitativeSession.id)
            )
        )

    def transcript_of(record: QualitativeSession, actor: Principal, **extra) -> Transcript:
        return operations.create_transcript(
            session, {"session_kind": record.kind, "session_id": record.id, **extra}, actor
        )

    bu_sessions = sessions("BU")
    states = ("recorded", "transcribed", "pseudonymised", "translated", "checked", "approved")
    for index, target in enumerate(states):
        record = bu_sessions[index % len(bu_sessions)]
        label = "FGD" if record.kind == "focus_group" else "Interview"
        transcript = transcript_of(
            record,
            translator,
            title=f"{label} {index + 1}: peer support at Butabika",
            language="lg",
        )
        _advance(session, transcript, target, lead, translator, reviewer, reviewer2)

    def title(record: QualitativeSession, titles: tuple[str, str]) -> str:
        return titles[0] if record.kind == "focus_group" else titles[1]

    bgu, pu = sessions("BGU")[0], sessions("PU")[0]
    hebrew = transcript_of(bgu, translator_bgu, title=title(bgu, HEBREW_TITLES), language="he")
    operations.upload_verbatim(session, hebrew, BGU_VERBATIM, translator_bgu, hebrew.version_id)
    transcript_of(pu, _actor(session, "admin"), title=title(pu, MARATHI_TITLES), language="mr")
    return len(states) + 2


def _advance(session, transcript: Transcript, target, lead, translator, reviewer, reviewer2):
    if target == "recorded":
        return
    operations.upload_verbatim(session, transcript, BU_VERBATIM, translator, transcript.version_id)
    operations.apply_pseudonymisation(session, transcript, lead)
    if target == "transcribed":
        return
    operations.confirm_pseudonymisation(session, transcript, {}, lead, transcript.version_id)
    if target == "pseudonymised":
        return
    operations.upload_english(session, transcript, BU_ENGLISH, translator, transcript.version_id)
    operations.check_transcript(session, transcript, {"decision": "approve"}, reviewer)
    if target == "translated":
        return
    operations.check_transcript(session, transcript, {"decision": "approve"}, reviewer2)
    if target == "checked":
        return
    operations.approve_transcript(session, transcript, reviewer)
