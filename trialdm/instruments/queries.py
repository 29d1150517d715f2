"""Reading instruments, their labels in a language, and responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, object_session

from trialdm.core.errors import N_, Message, NotFound
from trialdm.core.queries import get_or_404
from trialdm.core.requestcache import request_cached
from trialdm.instruments.answers import from_rows, to_json
from trialdm.instruments.definitions import DEFAULT_LANGUAGE, InstrumentDefinition, Labels
from trialdm.instruments.models import (
    InstrumentLabelTranslation,
    InstrumentResponse,
    InstrumentVersion,
)

RESPONSE_SORTABLE = {
    "id": InstrumentResponse.id,
    "collected_on": InstrumentResponse.collected_on,
    "event": InstrumentResponse.event,
    "instrument": InstrumentResponse.instrument_name,
    "updated_at": InstrumentResponse.updated_at,
}


CACHE_PREFIX = "instruments."


def latest_versions(session: Session) -> list[InstrumentVersion]:
    """The newest stored version of every instrument, by name (read once per request:
    a participant page's panels each need them)."""
    return request_cached(f"{CACHE_PREFIX}latest", lambda: _read_latest_versions(session))


def _read_latest_versions(session: Session) -> list[InstrumentVersion]:
    newest = (
        select(InstrumentVersion.name, func.max(InstrumentVersion.version).label("version"))
        .group_by(InstrumentVersion.name)
        .subquery()
    )
    stmt = (
        select(InstrumentVersion)
        .join(
            newest,
            (InstrumentVersion.name == newest.c.name)
            & (InstrumentVersion.version == newest.c.version),
        )
        .order_by(InstrumentVersion.name)
    )
    return list(session.scalars(stmt))


def version_numbers(session: Session) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for name, version in session.execute(
        select(InstrumentVersion.name, InstrumentVersion.version).order_by(
            InstrumentVersion.name, InstrumentVersion.version
        )
    ):
        out.setdefault(name, []).append(version)
    return out


def get_instrument_version(
    session: Session, name: str, version: int | None = None, field: str | None = None
) -> InstrumentVersion:
    """A stored version (the newest when ``version`` is None), or 404 / a field error."""
    stmt = select(InstrumentVersion).where(InstrumentVersion.name == name)
    if version is None:
        stmt = stmt.order_by(InstrumentVersion.version.desc()).limit(1)
    else:
        stmt = stmt.where(InstrumentVersion.version == version)
    found = session.scalar(stmt)
    if found is None:
        what = f"instrument '{name}'" + (f" version {version}" if version else "")
        if field:
            from trialdm.core.errors import ValidationFailed

            raise ValidationFailed.field(
                field, Message(N_("No %(what)s; run 'trialdm instruments sync'."), what=what)
            )
        raise NotFound(Message(N_("No %(what)s."), what=what))
    return found


def instruments_due_by_event(session: Session) -> dict[str, list[str]]:
    """event -> names of the instruments due at it (newest version of each). The
    events are read from the stored definition, which was checked when it was
    synced and is stored normalised: parsing the whole definition again for them
    took about a quarter of a millisecond per instrument."""
    due: dict[str, list[str]] = {}
    for version in latest_versions(session):
        for event in version.definition.get("events", ()):
            due.setdefault(event, []).append(version.name)
    return due


# ---------------------------------------------------------------- labels


def _language_chain(language: str) -> list[str]:
    """'lg-UG' -> ['lg-UG', 'lg', 'en']."""
    chain = [language]
    if "-" in language:
        chain.append(language.split("-", 1)[0])
    if DEFAULT_LANGUAGE not in chain:
        chain.append(DEFAULT_LANGUAGE)
    return chain


def _pick(labels: Labels, chain: list[str], stored: Mapping[str, Mapping[str, str]], key: str):
    for language in chain:
        text = stored.get(language, {}).get(key) or labels.get(language)
        if text:
            return text
    return None


def stored_translations(session: Session, version_id: int) -> dict[str, dict[str, str]]:
    """language -> key -> text stored for a version (read once per request)."""
    return request_cached(
        f"{CACHE_PREFIX}translations.{version_id}",
        lambda: _read_stored_translations(session, version_id),
    )


def _read_stored_translations(session: Session, version_id: int) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    rows = session.execute(
        select(
            InstrumentLabelTranslation.language,
            InstrumentLabelTranslation.key,
            InstrumentLabelTranslation.text,
        ).where(InstrumentLabelTranslation.instrument_version_id == version_id)
    )
    for language, key, text in rows:
        out.setdefault(language, {})[key] = text
    return out


def labels_for(instrument_version: Any, language: str) -> dict[str, Any]:
    """Every label of an instrument version in ``language``: translations stored in the
    database first, then the definition's labels in that language, then English.

    Returns ``{"title", "description", "fields": {name: {"label", "help", "section",
    "choices": {value: label}}}, "scores": {name: label}}`` (absent texts are None).
    ``instrument_version`` is an :class:`InstrumentVersion` (stored translations are
    read through its session) or an :class:`InstrumentDefinition` (file labels only).
    """
    definition: InstrumentDefinition = getattr(instrument_version, "parsed", instrument_version)
    stored: dict[str, dict[str, str]] = {}
    session = (
        object_session(instrument_version)
        if isinstance(instrument_version, InstrumentVersion)
        else None
    )
    if session is not None and instrument_version.id is not None:
        stored = stored_translations(session, instrument_version.id)
    chain = _language_chain(language)
    fields: dict[str, Any] = {}
    for f in definition.fields:
        prefix = f"fields.{f.name}"
        fields[f.name] = {
            "label": _pick(f.label, chain, stored, f"{prefix}.label"),
            "help": _pick(f.help, chain, stored, f"{prefix}.help"),
            "section": _pick(f.section, chain, stored, f"{prefix}.section"),
            "choices": {
                str(c.value): _pick(c.label, chain, stored, f"{prefix}.choices.{c.value}")
                for c in f.choices
            },
        }
    return {
        "language": language,
        "title": _pick(definition.title, chain, stored, "title"),
        "description": _pick(definition.description, chain, stored, "description"),
        "fields": fields,
        "scores": {
            s.name: _pick(s.label, chain, stored, f"scores.{s.name}.label")
            for s in definition.scores
        },
    }


# ---------------------------------------------------------------- responses


def answer_values(response: InstrumentResponse) -> dict[str, Any]:
    """Typed answers of a response; those of items bound to the participant record
    are the record's (:mod:`trialdm.instruments.record`)."""
    definition = response.instrument_version.parsed
    values = from_rows(definition, response.answers)
    if definition.bound_fields:
        from trialdm.instruments.record import record_answers
        from trialdm.participants.models import Participant

        session = object_session(response)
        participant = session.get(Participant, response.participant_id) if session else None
        if participant is not None:
            values.update(
                {k: v for k, v in record_answers(definition, participant).items() if v is not None}
            )
    return values


def answers_json(response: InstrumentResponse) -> dict[str, Any]:
    return {name: to_json(value) for name, value in answer_values(response).items()}


def get_response(session: Session, response_id: int) -> InstrumentResponse:
    return get_or_404(session, InstrumentResponse, response_id, missing=N_("No such response."))


def responses_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(InstrumentResponse).where(InstrumentResponse.deleted_at.is_(None))
    if filters.get("site"):
        stmt = stmt.where(InstrumentResponse.site_code == filters["site"])
    if filters.get("participant_id") is not None:
        stmt = stmt.where(InstrumentResponse.participant_id == filters["participant_id"])
    if filters.get("instrument"):
        stmt = stmt.where(InstrumentResponse.instrument_name == filters["instrument"])
    for name in ("event", "status", "context"):
        if filters.get(name):
            stmt = stmt.where(getattr(InstrumentResponse, name) == filters[name])
    return stmt
