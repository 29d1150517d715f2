"""Creating, changing and (softly) deleting participants; allocating study IDs.

Operations validate the whole record (type checks are the schema's), flush and
raise domain errors; they never commit. The same rules serve the API, the pages
and the CSV import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trialdm.core.dates import refuse_future, today
from trialdm.core.errors import N_, ErrorCollector, Message
from trialdm.core.models import utcnow
from trialdm.core.scoping import current_scope, require_site
from trialdm.core.versions import check_version
from trialdm.participants.hooks import check_change
from trialdm.participants.minimum_record import PSW_FIELDS, TRIAL_FIELDS, missing_fields
from trialdm.participants.models import Participant, ParticipantDiagnosis, StudyIdCounter
from trialdm.participants.vocabulary import OTHER_DIAGNOSIS
from trialdm.participants.writes import can_insert_in_one_statement, insert_participant
from trialdm.sites.queries import get_site, site_today

# Per category: what comes before the number, and the number's least width.
STUDY_ID_PARTS = {
    "service_user": ("{site}-", 4),
    "psw": ("{site}-PSW-", 2),
    "mhw": ("{site}-MHW-", 2),
}
STUDY_ID_FORMATS = {
    category: prefix + f"{{n:0{width}d}}" for category, (prefix, width) in STUDY_ID_PARTS.items()
}


def age_at(record: Mapping[str, Any], on: date) -> int | None:
    """Age on a date: from the recorded age, else the age reached in that calendar year."""
    if record.get("age") is not None:
        return record["age"]
    if record.get("year_of_birth") is not None:
        return on.year - record["year_of_birth"]
    return None


def check_participant(
    proposed: dict[str, Any],
    errors: ErrorCollector,
    recorded: frozenset[tuple[str, str | None]] = frozenset(),
    on: date | None = None,
) -> None:
    """Cross-field rules of a participant record given as a dict of field values.
    Diagnoses as typed (codes, labels or synonyms) are replaced by their codes;
    ``recorded`` (code, text) pairs (stored, perhaps under an earlier vocabulary) are kept."""
    config = current_app.config
    now = on or today()  # the day at the record's site
    category = proposed.get("category")

    for name in (
        "enrolment_date",
        "consent_date",
        "withdrawal_date",
        "intervention_start",
        "training_completed",
    ):
        refuse_future(errors, name, proposed.get(name), now)

    if proposed.get("year_of_birth") is not None and proposed.get("age") is not None:
        errors.add("age", N_("Give the year of birth or the age, not both."))
    yob = proposed.get("year_of_birth")
    if yob is not None and not (1900 <= yob <= now.year):
        errors.add(
            "year_of_birth", Message(N_("Must be between 1900 and %(year)s."), year=now.year)
        )

    proposed["diagnoses"] = resolve_diagnoses(proposed.get("diagnoses") or [], errors, recorded)

    if category != "service_user":
        for name in TRIAL_FIELDS:
            if proposed.get(name) is not None:
                errors.add(name, N_("Only service users are enrolled in the trial."))
    if category != "psw":
        for name in PSW_FIELDS:
            if proposed.get(name) is not None:
                errors.add(name, N_("Only peer support workers have this."))
    # The trial's minimum record (quality/minimum_record.toml), every gap at once.
    for name, messages in missing_fields(category, proposed).items():
        for message in messages:
            errors.add(name, message)
    if category == "service_user":
        _check_enrolment(proposed, errors, config)


def resolve_diagnoses(
    diagnoses: list[dict[str, Any]],
    errors: ErrorCollector,
    recorded: frozenset[tuple[str, str | None]] = frozenset(),
) -> list[dict[str, Any]]:
    """Diagnoses as typed -> as stored: each value may be a code, a label or a synonym
    of the diagnosis vocabulary (case and spacing do not matter) and is stored as its
    code, never shortened. A value that names nothing is refused, not guessed. A
    (code, text) already ``recorded`` for the participant is kept as it is, even when
    the vocabulary in use no longer lists it."""
    from trialdm.participants.queries import diagnosis_vocabulary_in_use

    vocabulary = diagnosis_vocabulary_in_use()
    resolved: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for index, diagnosis in enumerate(diagnoses):
        item = Message(N_("Item %(n)s"), n=index + 1)
        typed, text = diagnosis["code"], diagnosis.get("text")
        code = typed if (typed, text) in recorded else vocabulary.resolve(typed)
        if code is None:
            if vocabulary.resolve(OTHER_DIAGNOSIS) is None and typed.casefold() == OTHER_DIAGNOSIS:
                message = Message(
                    N_("%(item)s: '%(other)s' is not allowed by '%(vocabulary)s'."),
                    item=item,
                    other=OTHER_DIAGNOSIS,
                    vocabulary=vocabulary.name,
                )
            else:
                message = Message(
                    N_(
                        "%(item)s: '%(typed)s' is not a code, label or synonym of the "
                        "diagnosis vocabulary '%(vocabulary)s'."
                    ),
                    item=item,
                    typed=typed,
                    vocabulary=vocabulary.name,
                )
            errors.add("diagnoses", message)
            continue
        needs_text = vocabulary.other.requires_text and (code, text) not in recorded
        if code == OTHER_DIAGNOSIS and not text and needs_text:
            errors.add(
                "diagnoses",
                Message(N_("%(item)s: describe the 'other' diagnosis in 'text'."), item=item),
            )
        if (code, text) in seen:
            errors.add(
                "diagnoses",
                Message(
                    N_("%(item)s: '%(typed)s' is listed twice (as %(code)s)."),
                    item=item,
                    typed=typed,
                    code=code,
                ),
            )
        seen.add((code, text))
        resolved.append({"code": code, "text": text})
    return resolved


def _check_enrolment(proposed: Mapping[str, Any], errors: ErrorCollector, config) -> None:
    enrolled = proposed.get("enrolment_date")
    if enrolled is None:
        for name in ("arm", "status", "withdrawal_date", "intervention_start"):
            if proposed.get(name) is not None:
                errors.add(
                    name, N_("Set the enrolment date first: this is for enrolled participants.")
                )
        return
    consent = proposed.get("consent_date")
    if consent is not None and consent > enrolled:
        errors.add("consent_date", N_("Consent must be given on or before the enrolment date."))
    age = age_at(proposed, enrolled)
    low, high = config["ELIGIBLE_MIN_AGE"], config["ELIGIBLE_MAX_AGE"]
    if age is None:
        if "year_of_birth" not in errors.errors:  # not already asked for by the minimum record
            errors.add(
                "year_of_birth", N_("Give the year of birth or the age to check eligibility.")
            )
    elif not low <= age <= high:
        field = "age" if proposed.get("age") is not None else "year_of_birth"
        errors.add(
            field,
            Message(
                N_("Age at enrolment (%(age)s) is outside the eligible %(low)s–%(high)s."),
                age=age,
                low=low,
                high=high,
            ),
        )
    status = proposed.get("status") or "enrolled"
    withdrawn_on = proposed.get("withdrawal_date")
    if status == "withdrawn":
        if withdrawn_on is None:
            errors.add("withdrawal_date", N_("Required when the participant has withdrawn."))
        elif withdrawn_on < enrolled:
            errors.add("withdrawal_date", N_("Withdrawal cannot be before enrolment."))
    else:
        for name in ("withdrawal_date", "withdrawal_reason"):
            if proposed.get(name):
                errors.add(name, N_("Only for a withdrawn participant (status 'withdrawn')."))
    start = proposed.get("intervention_start")
    if start is not None:
        if proposed.get("arm") != "intervention":
            errors.add("intervention_start", N_("Only intervention-arm participants have this."))
        elif start < enrolled:
            errors.add("intervention_start", N_("Cannot be before enrolment."))


def arm_is_allocated() -> bool:
    """The trial randomises here (TRIALDM_RANDOMISATION=service): nobody types an arm."""
    return current_app.config["RANDOMISATION"] == "service"


def check_arm_not_typed(
    changes: Mapping[str, Any], current_arm: str | None, errors: ErrorCollector
) -> None:
    if arm_is_allocated() and "arm" in changes and changes["arm"] != current_arm:
        errors.add(
            "arm",
            N_(
                "The arm is allocated by randomisation and cannot be typed in; "
                "randomise the participant once they are eligible and enrolled."
            ),
        )


def allocate_study_id(session: Session, site_code: str, category: str) -> str:
    """Next study ID of a site and category. The counter row is locked by the
    UPDATE until commit, so concurrent enrolments never get the same number."""
    table = StudyIdCounter.__table__
    bump = (
        update(table)
        .where(table.c.site_code == site_code, table.c.category == category)
        .values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value)
    )
    number = session.execute(bump).scalar()
    if number is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(table).values(site_code=site_code, category=category, last_value=0)
                )
        except IntegrityError:
            pass  # another transaction created it first
        number = session.execute(bump).scalar_one()
    return STUDY_ID_FORMATS[category].format(site=site_code, n=number)


def study_id_drawn_on_insert(
    session: Session, site_code: str, category: str
) -> str | ColumnElement[str]:
    """The study ID as the participant's INSERT should set it. On PostgreSQL a SQL
    function bumps the counter inside that INSERT (migration c7e1d3f5a8b2; the same
    row lock until commit, so still gapless) and RETURNING brings the ID back: one
    round trip fewer per creation. Elsewhere it is allocated before the INSERT."""
    if session.get_bind().dialect.name != "postgresql":
        return allocate_study_id(session, site_code, category)
    return _next_study_id_call(site_code, category)


@lru_cache(maxsize=1024)
def _next_study_id_call(site_code: str, category: str) -> ColumnElement[str]:
    # One expression per site and category, built once: it keeps its cache key, so a
    # creation does not build and key it again (its values are bound parameters).
    prefix, width = STUDY_ID_PARTS[category]
    return func.trialdm_next_study_id(site_code, category, prefix.format(site=site_code), width)


def _set_diagnoses(participant: Participant, diagnoses: list[dict[str, Any]]) -> None:
    current = [(d.code, d.text) for d in participant.diagnoses]
    wanted = [(d["code"], d.get("text")) for d in diagnoses]
    if current == wanted:
        return
    participant.diagnoses.clear()
    for position, (code, text) in enumerate(wanted):
        participant.diagnoses.append(ParticipantDiagnosis(position=position, code=code, text=text))


def create_participant(session: Session, data: Mapping[str, Any]) -> Participant:
    site_code = data["site"]
    require_site(site_code)
    errors = ErrorCollector()
    proposed = {key: value for key, value in data.items() if key != "site"}
    if proposed.get("category") == "service_user" and proposed.get("enrolment_date"):
        proposed.setdefault("status", "enrolled")
        if proposed.get("status") is None:
            proposed["status"] = "enrolled"
    if proposed.get("category") == "psw" and proposed.get("active") is None:
        proposed["active"] = True
    check_participant(proposed, errors, on=site_today(session, site_code))
    check_arm_not_typed(data, None, errors)
    if current_scope().every_site:
        # A site-scoped user's sites come from memberships, which reference existing
        # sites; only an every-site role can name a site that does not exist.
        get_site(session, site_code)
    errors.raise_if_any()

    category = proposed["category"]
    prefix, width = STUDY_ID_PARTS[category]
    prefix = prefix.format(site=site_code)
    if can_insert_in_one_statement(session, prefix):
        fields = {k: v for k, v in proposed.items() if k != "diagnoses"}
        return insert_participant(
            session,
            {**fields, "site_code": site_code},
            proposed.get("diagnoses") or [],
            (prefix, width),
            utcnow(),
        )
    participant = Participant(
        site_code=site_code,
        study_id=study_id_drawn_on_insert(session, site_code, proposed["category"]),
        # Given even when empty, so that the response does not load the collection.
        diagnoses=[
            ParticipantDiagnosis(position=position, code=d["code"], text=d.get("text"))
            for position, d in enumerate(proposed.get("diagnoses") or [])
        ],
        **{k: v for k, v in proposed.items() if k != "diagnoses"},
    )
    session.add(participant)
    session.flush()
    return participant


def current_values(participant: Participant) -> dict[str, Any]:
    from trialdm.participants.schemas import EDITABLE_FIELDS

    proposed = {name: getattr(participant, name) for name in EDITABLE_FIELDS if name != "diagnoses"}
    proposed["diagnoses"] = [d.as_value for d in participant.diagnoses]
    proposed["category"] = participant.category
    return proposed


def update_participant(
    session: Session, participant: Participant, changes: Mapping[str, Any], version: int | None
) -> Participant:
    require_site(participant.site_code, hide=True)
    check_version(participant, version)
    proposed = current_values(participant)
    proposed.update({k: v for k, v in changes.items() if k != "reason"})
    if proposed["category"] == "service_user" and proposed.get("enrolment_date"):
        # enrolled by this change: the same default as at creation
        proposed["status"] = proposed.get("status") or "enrolled"
    if proposed.get("status") not in (None, "withdrawn"):
        # leaving 'withdrawn' clears its fields unless the client set them
        for name in ("withdrawal_date", "withdrawal_reason"):
            if name not in changes:
                proposed[name] = None
    errors = ErrorCollector()
    recorded = frozenset((d.code, d.text) for d in participant.diagnoses)
    check_participant(proposed, errors, recorded, site_today(session, participant.site_code))
    check_arm_not_typed(changes, participant.arm, errors)
    if not errors:
        check_change(session, participant, proposed, errors)
    errors.raise_if_any()
    for name, value in proposed.items():
        if name == "diagnoses":
            _set_diagnoses(participant, value or [])
        elif name != "category":
            setattr(participant, name, value)
    session.flush()
    return participant


def delete_participant(session: Session, participant: Participant, version: int | None) -> None:
    require_site(participant.site_code, hide=True)
    check_version(participant, version)
    from trialdm.core.audit import current_audit_context

    participant.deleted_at = utcnow()
    participant.deleted_reason = current_audit_context().reason
    session.flush()
