"""Read helpers of the translation domain. Site filtering is the central one's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, NotFound, ValidationFailed
from trialdm.core.queries import get_or_404
from trialdm.translation.models import (
    Material,
    MaterialVersion,
    PseudonymKeyEntry,
    Transcript,
    TranscriptLine,
    Translation,
)

MATERIAL_SORTABLE = {"id": Material.id, "title": Material.title, "updated_at": Material.updated_at}
TRANSLATION_SORTABLE = {
    "id": Translation.id,
    "language": Translation.language,
    "site": Translation.site_code,
    "updated_at": Translation.updated_at,
}
TRANSCRIPT_SORTABLE = {
    "id": Transcript.id,
    "recorded_on": Transcript.recorded_on,
    "state": Transcript.state,
    "site": Transcript.site_code,
    "updated_at": Transcript.updated_at,
}


def get_material(session: Session, material_id: int) -> Material:
    return get_or_404(session, Material, material_id, missing=N_("No such material."))


def get_material_version(session: Session, material_id: int, number: int) -> MaterialVersion:
    version = session.scalar(
        select(MaterialVersion).where(
            MaterialVersion.material_id == material_id, MaterialVersion.number == number
        )
    )
    if version is None:
        raise NotFound(N_("No such material version."))
    return version


def materials_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Material)
    for name in ("kind", "category", "instrument_name"):
        if filters.get(name):
            stmt = stmt.where(getattr(Material, name) == filters[name])
    if filters.get("q"):
        stmt = stmt.where(Material.title.icontains(filters["q"].strip(), autoescape=True))
    return stmt


def get_translation(session: Session, translation_id: int) -> Translation:
    return get_or_404(session, Translation, translation_id, missing=N_("No such translation."))


def translations_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Translation)
    if filters.get("site"):
        stmt = stmt.where(Translation.site_code == filters["site"])
    for name in ("material_id", "language", "state"):
        if filters.get(name):
            stmt = stmt.where(getattr(Translation, name) == filters[name])
    return stmt


def get_transcript(session: Session, transcript_id: int) -> Transcript:
    return get_or_404(session, Transcript, transcript_id, missing=N_("No such transcript."))


def transcripts_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Transcript)
    if filters.get("site"):
        stmt = stmt.where(Transcript.site_code == filters["site"])
    for name in ("state", "session_kind", "session_id", "language"):
        if filters.get(name):
            stmt = stmt.where(getattr(Transcript, name) == filters[name])
    return stmt


def get_key_entry(session: Session, entry_id: int) -> PseudonymKeyEntry:
    return get_or_404(session, PseudonymKeyEntry, entry_id, missing=N_("No such key entry."))


def key_entries_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(PseudonymKeyEntry)
    if filters.get("site"):
        stmt = stmt.where(PseudonymKeyEntry.site_code == filters["site"])
    return stmt


def transcript_lines(
    session: Session, transcript: Transcript, first: int | None = None, last: int | None = None
) -> list[TranscriptLine]:
    stmt = select(TranscriptLine).where(TranscriptLine.transcript_id == transcript.id)
    if first is not None:
        stmt = stmt.where(TranscriptLine.number >= first)
    if last is not None:
        stmt = stmt.where(TranscriptLine.number <= last)
    return list(session.scalars(stmt.order_by(TranscriptLine.number)))


def parse_line_range(raw: str) -> tuple[int, int]:
    """``"107-128"`` (or en dash) -> (107, 128); ``"51"`` -> (51, 51)."""
    parts = raw.replace("–", "-").split("-")
    try:
        numbers = [int(part.strip()) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or numbers[0] < 1 or numbers[-1] < numbers[0]:
        raise ValidationFailed.field("lines", N_("Give a line or a range such as 107-128."))
    return numbers[0], numbers[-1]


def quote_label(site_code: str, first: int, last: int) -> str:
    """How published papers cite a transcript: "BU 51", "PU 107–128"."""
    return f"{site_code} {first}" if first == last else f"{site_code} {first}–{last}"
