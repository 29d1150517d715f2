"""Focus-group transcripts: verbatim, pseudonymised, English, checked, approved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.permissions import Principal
from trialdm.core.audit import audit_context, record_event
from trialdm.core.errors import (
    N_,
    Message,
    ValidationFailed,
)
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.sites.queries import get_site
from trialdm.translation.models import (
    PseudonymKeyEntry,
    Transcript,
    TranscriptCheck,
    TranscriptLine,
)
from trialdm.translation.pseudonymisation import KeyTerm, pseudonymise

# What each step needs: the detail and the field message of its refusal.
UPLOAD_VERBATIM = (
    N_("Cannot upload the verbatim text of a transcript that is %(state)s."),
    N_("upload the verbatim text of needs the transcript to be %(states)s."),
)
PSEUDONYMISE = (
    N_("Cannot pseudonymise a transcript that is %(state)s."),
    N_("pseudonymise needs the transcript to be %(states)s."),
)
CONFIRM = (
    N_("Cannot confirm the pseudonymisation of a transcript that is %(state)s."),
    N_("confirm the pseudonymisation of needs the transcript to be %(states)s."),
)
UPLOAD_ENGLISH = (
    N_("Cannot upload the English translation of a transcript that is %(state)s."),
    N_("upload the English translation of needs the transcript to be %(states)s."),
)
CHECK = (
    N_("Cannot check a transcript that is %(state)s."),
    N_("check needs the transcript to be %(states)s."),
)
APPROVE = (
    N_("Cannot approve a transcript that is %(state)s."),
    N_("approve needs the transcript to be %(states)s."),
)


def _expect_state(transcript: Transcript, action: tuple[str, str], *states: str) -> None:
    """Refuse unless the transcript is in one of ``states``; ``action`` is the pair of
    whole sentences (detail, field message) so each language words them its own way."""
    if transcript.state not in states:
        detail, field = action
        raise ValidationFailed(
            Message(detail, state=transcript.state),
            errors={"state": [Message(field, states=" or ".join(states))]},
        )


def create_transcript(session: Session, data: Mapping[str, Any], actor: Principal) -> Transcript:
    """A transcript of a focus group or interview of your site, in the session's
    language unless another of the site's languages is given."""
    from trialdm.qualitative.models import QualitativeSession

    kind = data["session_kind"]
    record = session.scalar(
        select(QualitativeSession).where(
            QualitativeSession.id == data["session_id"],
            QualitativeSession.kind == kind,
            QualitativeSession.deleted_at.is_(None),
        )
    )
    if record is None:
        missing = N_("No such focus group.") if kind == "focus_group" else N_("No such interview.")
        raise ValidationFailed.field("session_id", missing)
    site_code = record.site_code
    require_site(site_code)
    site = get_site(session, site_code)
    language = data.get("language") or record.language
    if not language:
        raise ValidationFailed.field("language", N_("The session has no language; give one."))
    if language not in site.languages:
        raise ValidationFailed.field(
            "language",
            Message(
                N_("%(site)s works in %(languages)s."),
                site=site_code,
                languages=", ".join(site.languages),
            ),
        )
    label = "FGD" if kind == "focus_group" else "Interview"
    transcript = Transcript(
        site_code=site_code,
        session_kind=kind,
        session_id=record.id,
        title=(data.get("title") or "").strip() or f"{label} {site_code} {record.date}",
        language=language,
        recorded_on=data.get("recorded_on") or record.date,
        state="recorded",
    )
    session.add(transcript)
    session.flush()
    return transcript


def _clean_text(text: str, field: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationFailed.field(field, N_("The text is empty."))
    if "\x00" in text:
        raise ValidationFailed.field(field, N_("The text contains NUL characters."))
    return text


def upload_verbatim(
    session: Session, transcript: Transcript, text: str, actor: Principal, expected: int | None
) -> Transcript:
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, UPLOAD_VERBATIM, "recorded", "transcribed")
    transcript.verbatim_text = _clean_text(text, "text")
    transcript.pseudonymised_text = None
    transcript.pseudonymisation_report = None
    transcript.transcribed_by_id = actor.user_id
    transcript.state = "transcribed"
    session.flush()
    return transcript


def key_terms(session: Session, site_code: str) -> list[KeyTerm]:
    entries = session.scalars(
        select(PseudonymKeyEntry).where(PseudonymKeyEntry.site_code == site_code)
    ).all()
    return [KeyTerm(entry.id, entry.term, entry.replacement) for entry in entries]


def refuse_key_terms(session: Session, site_code: str, text: str, field: str) -> None:
    """Refuse text written after pseudonymisation (the English translation, a corrected
    text, a check comment) that contains a term of the site's key, naming each with its
    line as the transcript numbers lines. The term is echoed, never its replacement:
    the person typed the one but may not see the key."""
    terms = key_terms(session, site_code)
    if not terms:
        return
    found = [
        (number, hit["found"])
        for number, line in enumerate(split_lines(text), start=1)
        for hit in pseudonymise(line, terms).replacements
    ]
    if found:
        raise ValidationFailed(
            Message(
                N_(
                    "The text contains %(count)s name(s) or identifier(s) of the site's "
                    "pseudonymisation key; write the participant number or placeholder used "
                    "in the pseudonymised text instead."
                ),
                count=len(found),
            ),
            errors={
                field: [
                    Message(
                        N_("Line %(number)s: '%(term)s' is in the pseudonymisation key."),
                        number=number,
                        term=term,
                    )
                    for number, term in found
                ]
            },
        )


def apply_pseudonymisation(
    session: Session, transcript: Transcript, actor: Principal
) -> Transcript:
    """Apply the site's key to the verbatim text: a draft, a report of every
    replacement and the capitalised tokens left that look like names. Nothing is
    final until a site lead confirms."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, PSEUDONYMISE, "transcribed")
    terms = key_terms(session, transcript.site_code)
    if not terms:
        raise ValidationFailed.field(
            "key",
            Message(
                N_("The pseudonymisation key of %(site)s is empty."), site=transcript.site_code
            ),
        )
    result = pseudonymise(transcript.verbatim_text or "", terms)
    transcript.pseudonymised_text = result.text
    transcript.pseudonymisation_report = result.as_report()
    transcript.pseudonymised_by_id = actor.user_id
    session.flush()
    return transcript


def confirm_pseudonymisation(
    session: Session,
    transcript: Transcript,
    data: Mapping[str, Any],
    actor: Principal,
    expected: int | None,
) -> Transcript:
    """Accept the (possibly corrected) pseudonymised text and delete the verbatim
    text, recording that it was deleted (never its content)."""
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, CONFIRM, "transcribed")
    if transcript.pseudonymised_text is None:
        raise ValidationFailed.field("pseudonymisation", N_("Apply the key first."))
    report = dict(transcript.pseudonymisation_report or {})
    flags = report.get("flags", [])
    if flags and not data.get("flags_reviewed"):
        raise ValidationFailed(
            Message(
                N_(
                    "%(count)s token(s) that look like names are flagged; check them, correct "
                    "the text if needed and confirm with %(field)s."
                ),
                count=len(flags),
                field="flags_reviewed",
            ),
            errors={
                "flags_reviewed": [
                    Message(N_("Review the %(count)s flagged token(s) first."), count=len(flags))
                ]
            },
        )
    if data.get("text") is not None:
        corrected = _clean_text(data["text"], "text")
        refuse_key_terms(session, transcript.site_code, corrected, "text")
        transcript.pseudonymised_text = corrected
    report["confirmed_by"] = actor.user_id
    report["flags_confirmed"] = len(report.get("flags", []))
    transcript.pseudonymisation_report = report
    transcript.verbatim_text = None
    transcript.verbatim_deleted_at = utcnow()
    transcript.state = "pseudonymised"
    session.flush()
    with audit_context(reason="Verbatim text deleted once pseudonymisation was confirmed"):
        record_event(
            session,
            "verbatim_deleted",
            "transcripts",
            transcript.id,
            transcript.site_code,
            {
                "replacements": len(report.get("replacements", [])),
                "flags": len(report.get("flags", [])),
            },
        )
    return transcript


def upload_english(
    session: Session, transcript: Transcript, text: str, actor: Principal, expected: int | None
) -> Transcript:
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, UPLOAD_ENGLISH, "pseudonymised", "translated")
    if transcript.state == "translated" and any(
        c.round == transcript.check_round for c in transcript.checks
    ):
        raise ValidationFailed.field(
            "state", N_("Checking has begun; a checker must return it before it changes.")
        )
    english = _clean_text(text, "text")
    refuse_key_terms(session, transcript.site_code, english, "text")
    transcript.english_text = english
    transcript.translated_by_id = actor.user_id
    transcript.state = "translated"
    session.flush()
    return transcript


def check_transcript(
    session: Session, transcript: Transcript, data: Mapping[str, Any], actor: Principal
) -> TranscriptCheck:
    """Two different reviewers each approve the English; either may return it."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, CHECK, "translated")
    if transcript.translated_by_id == actor.user_id:
        raise ValidationFailed.field(
            "reviewer", N_("You translated this transcript; others check it.")
        )
    this_round = [c for c in transcript.checks if c.round == transcript.check_round]
    if any(c.reviewer_id == actor.user_id for c in this_round):
        raise ValidationFailed.field(
            "reviewer", N_("You have checked this translation; a second, different reviewer must.")
        )
    decision = data["decision"]
    comments = (data.get("comments") or "").strip() or None
    if decision == "return" and not comments:
        raise ValidationFailed.field("comments", N_("Say what needs to change."))
    if comments:
        refuse_key_terms(session, transcript.site_code, comments, "comments")
    check = TranscriptCheck(
        site_code=transcript.site_code,
        transcript_id=transcript.id,
        round=transcript.check_round,
        reviewer_id=actor.user_id,
        decision=decision,
        comments=comments,
    )
    session.add(check)
    transcript.checks.append(check)
    if decision == "return":
        transcript.state = "pseudonymised"
        transcript.check_round += 1
    elif len({c.reviewer_id for c in this_round if c.decision == "approve"} | {actor.user_id}) >= 2:
        transcript.state = "checked"
    session.flush()
    return check


def split_lines(text: str) -> list[str]:
    """The numbered lines of a transcript: every non-blank line, in order."""
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def approve_transcript(session: Session, transcript: Transcript, actor: Principal) -> Transcript:
    """Freeze the checked English and number its lines for citation."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, APPROVE, "checked")
    for number, line in enumerate(split_lines(transcript.english_text or ""), start=1):
        session.add(
            TranscriptLine(
                site_code=transcript.site_code,
                transcript_id=transcript.id,
                number=number,
                text=line,
            )
        )
    transcript.state = "approved"
    transcript.approved_at = utcnow()
    transcript.approved_by_id = actor.user_id
    session.flush()
    return transcript
