from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from trialdm.core.errors import N_, Message
from trialdm.core.limits import SEARCH, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.participants.minimum_record import MinimumRecordCheck
from trialdm.participants.vocabulary import (
    ARMS,
    CATEGORIES,
    FIDELITY_STATUSES,
    GENDERS,
    MARITAL_STATUSES,
    STATUSES,
)

MAX_DIAGNOSIS_TEXT = 200


class DiagnosisIn(ma.fields.Field):
    """A diagnosis: a code (``"F41.1"``), a label or synonym of the diagnosis
    vocabulary (``"Generalized anxiety disorder"``), or an object with ``code`` (either
    of these) and ``text`` (the wording, required for ``other`` where the vocabulary
    says so). Stored as the code the value stands for."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"code": value}
        if not isinstance(value, dict) or not isinstance(value.get("code"), str):
            raise ma.ValidationError(
                N_(
                    "A diagnosis is a code, label or synonym, "
                    "or an object with 'code' (and 'text')."
                )
            )
        unknown = set(value) - {"code", "text", "label"}
        if unknown:
            raise ma.ValidationError(
                Message(N_("Unknown key(s): %(unknown)s."), unknown=", ".join(sorted(unknown)))
            )
        text = value.get("text")
        if text is not None and not isinstance(text, str):
            raise ma.ValidationError(N_("'text' must be a string."))
        code = value["code"].strip()
        text = (text or "").strip() or None
        if not code:
            raise ma.ValidationError(N_("'code' is empty."))
        for name, given in (("code", code), ("text", text)):
            if given is not None and len(given) > MAX_DIAGNOSIS_TEXT:
                raise ma.ValidationError(
                    Message(
                        N_("'%(name)s' is longer than %(max_diagnosis_text)s characters."),
                        name=name,
                        max_diagnosis_text=MAX_DIAGNOSIS_TEXT,
                    )
                )
        return {"code": code, "text": text}


class DiagnosisOut(DumpSchema):
    code = ma.fields.String()
    label = ma.fields.String()
    text = ma.fields.String(allow_none=True)


class VocabularyEntryOut(DumpSchema):
    code = ma.fields.String()
    label = ma.fields.String()
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    synonyms = ma.fields.List(ma.fields.String())
    maps_to = ma.fields.String(allow_none=True)


class VocabularyGroupOut(DumpSchema):
    codes = ma.fields.String(metadata={"description": "Group expression such as F40-F48"})
    label = ma.fields.String()


class VocabularyOtherOut(DumpSchema):
    allowed = ma.fields.Boolean()
    requires_text = ma.fields.Boolean()
    label = ma.fields.String()


class VocabularyOut(DumpSchema):
    name = ma.fields.String()
    title = ma.fields.String()
    system = ma.fields.String(metadata={"description": "icd10, icd11 or local"})
    language = ma.fields.String()
    source = ma.fields.String()
    mapping = ma.fields.String(allow_none=True)
    other = ma.fields.Nested(VocabularyOtherOut)
    groups = ma.fields.List(ma.fields.Nested(VocabularyGroupOut))
    entries = ma.fields.List(ma.fields.Nested(VocabularyEntryOut))


_FIELDS_COMMON = {
    "gender": ma.fields.String(validate=validate.OneOf(GENDERS), allow_none=True),
    "year_of_birth": ma.fields.Integer(allow_none=True),
    "age": ma.fields.Integer(allow_none=True, validate=validate.Range(min=0, max=120)),
    "diagnoses": ma.fields.List(DiagnosisIn()),
    "marital_status": ma.fields.String(validate=validate.OneOf(MARITAL_STATUSES), allow_none=True),
    "occupation": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
    "profession": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
    "years_of_illness": ma.fields.Float(allow_none=True, validate=validate.Range(min=0, max=100)),
    "years_in_care": ma.fields.Float(allow_none=True, validate=validate.Range(min=0, max=100)),
    "enrolment_date": ma.fields.Date(allow_none=True),
    "consent_date": ma.fields.Date(allow_none=True),
    "consent_version": ma.fields.String(allow_none=True, validate=validate.Length(max=32)),
    "arm": ma.fields.String(validate=validate.OneOf(ARMS), allow_none=True),
    "status": ma.fields.String(validate=validate.OneOf(STATUSES), allow_none=True),
    "withdrawal_date": ma.fields.Date(allow_none=True),
    "withdrawal_reason": ma.fields.String(allow_none=True, validate=validate.Length(max=2000)),
    "intervention_start": ma.fields.Date(allow_none=True),
    "training_completed": ma.fields.Date(allow_none=True),
    "active": ma.fields.Boolean(allow_none=True),
}

EDITABLE_FIELDS = tuple(_FIELDS_COMMON)


ParticipantCreate = type(
    "ParticipantCreate",
    (MinimumRecordCheck, LoadSchema),
    {
        "site": Site(required=True),
        "category": ma.fields.String(required=True, validate=validate.OneOf(CATEGORIES)),
        **_FIELDS_COMMON,
    },
)

ParticipantUpdate = LoadSchema.from_dict(
    {
        **_FIELDS_COMMON,
        "reason": ma.fields.String(required=True, validate=validate.Length(min=1, max=2000)),
    },
    name="ParticipantUpdate",
)


class FidelityOut(DumpSchema):
    """A participant's intervention fidelity (null for people without one), computed by
    the contacts domain."""

    status = ma.fields.String(metadata={"enum": list(FIDELITY_STATUSES)})
    contacts_total = ma.fields.Integer()
    contacts_in_window = ma.fields.Integer()
    minimum = ma.fields.Integer()
    first_contact = ma.fields.Date(allow_none=True)
    window_start = ma.fields.Date(allow_none=True)
    window_end = ma.fields.Date(allow_none=True)
    days_left = ma.fields.Integer(allow_none=True)


class ParticipantOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    category = ma.fields.String()
    study_id = ma.fields.String()
    gender = ma.fields.String(allow_none=True)
    year_of_birth = ma.fields.Integer(allow_none=True)
    age = ma.fields.Integer(allow_none=True)
    diagnoses = ma.fields.Method("dump_diagnoses")
    marital_status = ma.fields.String(allow_none=True)
    occupation = ma.fields.String(allow_none=True)
    profession = ma.fields.String(allow_none=True)
    years_of_illness = ma.fields.Float(allow_none=True)
    years_in_care = ma.fields.Float(allow_none=True)
    enrolment_date = ma.fields.Date(allow_none=True)
    consent_date = ma.fields.Date(allow_none=True)
    consent_version = ma.fields.String(allow_none=True)
    arm = ma.fields.String(allow_none=True)
    status = ma.fields.String(allow_none=True)
    withdrawal_date = ma.fields.Date(allow_none=True)
    withdrawal_reason = ma.fields.String(allow_none=True)
    intervention_start = ma.fields.Date(allow_none=True)
    training_completed = ma.fields.Date(allow_none=True)
    active = ma.fields.Boolean(allow_none=True)
    fidelity = ma.fields.Nested(
        FidelityOut,
        allow_none=True,
        metadata={
            "description": "Intervention fidelity on the site's today (intervention arm only)"
        },
    )
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_diagnoses(self, participant):
        from trialdm.participants.queries import diagnosis_label

        return [
            {"code": d.code, "label": diagnosis_label(d.code), "text": d.text}
            for d in participant.diagnoses
        ]


class ParticipantQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    category = ma.fields.String(validate=validate.OneOf(CATEGORIES))
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    arm = ma.fields.String(validate=validate.OneOf(ARMS))
    gender = ma.fields.String(validate=validate.OneOf(GENDERS))
    q = ma.fields.String(validate=at_most(SEARCH), metadata={"description": "Study ID contains"})
    fidelity = ma.fields.String(
        validate=validate.OneOf(FIDELITY_STATUSES),
        metadata={
            "description": "Intervention participants with this fidelity status on "
            "their site's today (not counted: meta.total is null; page by number or by next_after)"
        },
    )


class ParticipantPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ParticipantOut))
    meta = ma.fields.Nested(PageMeta)


class DeleteArgs(LoadSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ImportUpload(LoadSchema):
    """A multipart body: the site and the CSV file."""

    site = Site(required=True)
    file = Upload(required=True)


class ImportReport(DumpSchema):
    created = ma.fields.Integer()
    study_ids = ma.fields.List(ma.fields.String())


class ImportProblemOut(DumpSchema):
    line = ma.fields.Integer()
    field = ma.fields.String()
    message = ma.fields.String()


class ImportJobOut(DumpSchema):
    """A large import running as a job; ``problems`` name line and field when the
    rows were refused (then nothing was imported)."""

    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    state = ma.fields.String(metadata={"enum": ["queued", "running", "done", "failed"]})
    progress = ma.fields.Integer(metadata={"description": "Percent done"})
    step = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    problems = ma.fields.List(ma.fields.Nested(ImportProblemOut), allow_none=True)
    rows = ma.fields.Integer(metadata={"description": "Data rows in the upload"})
    file_bytes = ma.fields.Integer()
    created = ma.fields.Integer(metadata={"description": "Participants imported"})
    first_study_id = ma.fields.String(allow_none=True)
    last_study_id = ma.fields.String(allow_none=True)
    requested_by = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    links = ma.fields.Method("dump_links")

    def dump_links(self, job) -> dict:
        return {"self": f"/api/v1/participants/imports/{job.id}"}
