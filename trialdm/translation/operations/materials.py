"""Materials to translate and their versions (source segments)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.permissions import Principal
from trialdm.core.errors import (
    N_,
    ErrorCollector,
    Message,
)
from trialdm.core.scoping import SKIP_SCOPING
from trialdm.translation.models import (
    Material,
    MaterialVersion,
    SegmentTranslation,
    SourceSegment,
    Translation,
    TranslationStep,
)
from trialdm.translation.operations.common import SEGMENT_KEY


def _check_segments(segments: list[Mapping[str, Any]], errors: ErrorCollector) -> None:
    if not segments:
        errors.add("segments", N_("Give at least one segment of English source text."))
    seen: set[str] = set()
    for index, segment in enumerate(segments):
        key = segment["key"]
        if not SEGMENT_KEY.match(key):
            errors.add(
                "segments",
                Message(
                    N_("Item %(n)s: key '%(key)s' must be letters, digits, _.-"),
                    n=index + 1,
                    key=key,
                ),
            )
        if key in seen:
            errors.add(
                "segments",
                Message(N_("Item %(n)s: key '%(key)s' is used twice."), n=index + 1, key=key),
            )
        seen.add(key)
        if not segment["text"].strip():
            errors.add("segments", Message(N_("Item %(n)s: the text is empty."), n=index + 1))


def _add_version(
    session: Session, material: Material, number: int, data: Mapping[str, Any], actor_id: int
) -> MaterialVersion:
    version = MaterialVersion(
        material=material, number=number, note=data.get("note"), created_by_id=actor_id
    )
    version.segments = [
        SourceSegment(key=segment["key"], position=index, text=segment["text"])
        for index, segment in enumerate(data["segments"])
    ]
    session.add(version)
    material.current_version = number
    return version


def stored_instrument_version(session: Session, data: Mapping[str, Any], errors: ErrorCollector):
    """The stored instrument version a questionnaire translates, if it is stored."""
    from trialdm.instruments.models import InstrumentVersion

    raw = str(data["instrument_version"]).strip()
    if not raw.isdigit():
        errors.add("instrument_version", N_("Instrument versions are whole numbers (1, 2, ...)."))
        return None
    return session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.name == data["instrument_name"],
            InstrumentVersion.version == int(raw),
        )
    )


def instrument_segments(instrument_version) -> list[dict[str, str]]:
    """The English labels of an instrument version as source segments, keyed as the
    instruments domain keys its label translations (``fields.<name>.label`` ...)."""
    from trialdm.instruments.queries import labels_for

    labels = labels_for(instrument_version, "en")
    segments: list[tuple[str, str | None]] = [
        ("title", labels["title"]),
        ("description", labels["description"]),
    ]
    for name, field in labels["fields"].items():
        for part in ("section", "label", "help"):
            segments.append((f"fields.{name}.{part}", field[part]))
        for value, text in field["choices"].items():
            segments.append((f"fields.{name}.choices.{value}", text))
    for name, text in labels["scores"].items():
        segments.append((f"scores.{name}.label", text))
    return [{"key": key, "text": text} for key, text in segments if text]


def create_material(session: Session, data: Mapping[str, Any], actor: Principal) -> Material:
    errors = ErrorCollector()
    data = dict(data)
    has_instrument = bool(data.get("instrument_name"))
    if has_instrument != bool(data.get("instrument_version")):
        errors.add("instrument_version", N_("Give the instrument name and version together."))
    elif has_instrument and data["kind"] != "questionnaire":
        errors.add("instrument_name", N_("Only questionnaires are linked to an instrument."))
    elif has_instrument:
        stored = stored_instrument_version(session, data, errors)
        if stored is None and not errors:
            errors.add(
                "instrument_name",
                Message(
                    N_("No instrument '%(name)s' version %(version)s; run '%(command)s'."),
                    name=data["instrument_name"],
                    version=data["instrument_version"],
                    command="trialdm instruments sync",
                ),
            )
        elif stored is not None and not data.get("segments"):
            data["segments"] = instrument_segments(stored)
    if "segments" not in data:
        data["segments"] = []
    _check_segments(data["segments"], errors)
    errors.raise_if_any()
    material = Material(
        title=data["title"].strip(),
        kind=data["kind"],
        category=data["category"],
        instrument_name=data.get("instrument_name"),
        instrument_version=str(data["instrument_version"]).strip() if has_instrument else None,
    )
    session.add(material)
    _add_version(session, material, 1, data, actor.user_id)
    session.flush()
    return material


def add_material_version(
    session: Session, material: Material, data: Mapping[str, Any], actor: Principal
) -> MaterialVersion:
    """A new English source version. Every site's translation of the previous version
    is carried over to the new one: unchanged segments keep their text, changed ones
    keep it flagged ``needs_update``, new ones start empty."""
    errors = ErrorCollector()
    _check_segments(data["segments"], errors)
    errors.raise_if_any()
    previous = material.versions[-1]
    old_source = {segment.key: segment.text for segment in previous.segments}
    version = _add_version(session, material, previous.number + 1, data, actor.user_id)
    session.flush()
    # Deliberately across sites: the trial-wide source changes every site's work.
    earlier = session.scalars(
        select(Translation)
        .where(Translation.version_id == previous.id, Translation.state != "superseded")
        .execution_options(**{SKIP_SCOPING: True})
    ).all()
    for old in earlier:
        _carry_over(session, old, version, old_source)
    session.flush()
    return version


def _carry_over(
    session: Session, old: Translation, version: MaterialVersion, old_source: dict[str, str]
) -> Translation:
    old_texts = {segment.key: segment for segment in old.segments}
    new = Translation(
        site_code=old.site_code,
        material_id=old.material_id,
        version=version,
        language=old.language,
        previous_id=old.id,
    )
    session.add(new)
    for segment in version.segments:
        before = old_texts.get(segment.key)
        unchanged = before is not None and old_source.get(segment.key) == segment.text
        new.segments.append(
            SegmentTranslation(
                site_code=old.site_code,
                key=segment.key,
                position=segment.position,
                text=before.text if before else None,
                back_translation=before.back_translation if before and unchanged else None,
                needs_update=before is not None and before.text is not None and not unchanged,
            )
        )
    add_steps(new, version.material, assignees_from=old)
    old.state = "superseded"
    return new


def add_steps(
    translation: Translation, material: Material, assignees_from: Translation | None = None
) -> None:
    workflows = current_app.config["TRANSLATION_WORKFLOWS"]
    earlier = {step.kind: step for step in assignees_from.steps} if assignees_from else {}
    for position, kind in enumerate(workflows[material.category], start=1):
        before = earlier.get(kind)
        translation.steps.append(
            TranslationStep(
                site_code=translation.site_code,
                position=position,
                kind=kind,
                state="pending",
                assignee_id=before.assignee_id if before else None,
            )
        )
