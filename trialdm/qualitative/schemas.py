from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.participants.vocabulary import GENDERS
from trialdm.qualitative.models import MODES

_REASON = {"validate": validate.Length(min=1, max=2000)}


def _answers() -> dict[str, ma.fields.Field]:
    return {
        "gender": ma.fields.String(validate=validate.OneOf(GENDERS), allow_none=True),
        "age": ma.fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=0, max=120)
        ),
        "profession": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
    }


MemberIn = LoadSchema.from_dict(
    {
        "participant_id": ma.fields.Integer(strict=True, required=True),
        "member_code": ma.fields.String(allow_none=True, validate=validate.Length(max=32)),
        **_answers(),
    },
    name="MemberIn",
)

MemberAdd = LoadSchema.from_dict(
    {
        "participant_id": ma.fields.Integer(strict=True, required=True),
        "member_code": ma.fields.String(allow_none=True, validate=validate.Length(max=32)),
        **_answers(),
        "reason": ma.fields.String(
            **_REASON, metadata={"description": "Why the member is added after the session"}
        ),
    },
    name="MemberAdd",
)

MemberUpdate = LoadSchema.from_dict(
    {
        **_answers(),
        "member_code": ma.fields.String(allow_none=True, validate=validate.Length(max=32)),
        "reason": ma.fields.String(required=True, **_REASON),
    },
    name="MemberUpdate",
)


def _session_fields(required: bool) -> dict[str, ma.fields.Field]:
    return {
        "date": ma.fields.Date(required=required),
        "start_time": ma.fields.Time(allow_none=True),
        "duration_min": ma.fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=1, max=24 * 60)
        ),
        "location": ma.fields.String(allow_none=True, validate=validate.Length(max=200)),
        "mode": ma.fields.String(required=required, validate=validate.OneOf(MODES)),
        "language": ma.fields.String(
            allow_none=True,
            validate=validate.Length(min=2, max=16),
            metadata={"description": "Language code, e.g. de, en, lg, sw, mr, he"},
        ),
        "moderator_user_id": ma.fields.Integer(strict=True, allow_none=True),
        "moderator_role": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
        "assistant_user_id": ma.fields.Integer(strict=True, allow_none=True),
        "assistant_role": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
        "topic_guide_ref": ma.fields.String(allow_none=True, validate=validate.Length(max=200)),
        "consent_recorded": ma.fields.Boolean(),
        "field_notes": ma.fields.String(allow_none=True, validate=validate.Length(max=50_000)),
        "audio_ref": ma.fields.String(allow_none=True, validate=validate.Length(max=300)),
    }


SESSION_FIELDS = tuple(_session_fields(False))

QualitativeCreate = LoadSchema.from_dict(
    {
        "site": Site(required=True),
        **_session_fields(required=True),
        "members": ma.fields.List(ma.fields.Nested(MemberIn), load_default=list),
    },
    name="QualitativeCreate",
)

QualitativeUpdate = LoadSchema.from_dict(
    {**_session_fields(required=False), "reason": ma.fields.String(required=True, **_REASON)},
    name="QualitativeUpdate",
)


class MemberOut(DumpSchema):
    id = ma.fields.Integer()
    participant_id = ma.fields.Integer()
    study_id = ma.fields.String()
    member_code = ma.fields.String(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    age = ma.fields.Integer(allow_none=True)
    profession = ma.fields.String(allow_none=True)
    removed_at = ma.fields.DateTime(allow_none=True)
    removed_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(
        attribute="version_id", metadata={"description": "Send in If-Match to change it"}
    )


class QualitativeOut(DumpSchema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    site = ma.fields.String(attribute="site_code")
    date = ma.fields.Date()
    start_time = ma.fields.Time(allow_none=True)
    duration_min = ma.fields.Integer(allow_none=True)
    location = ma.fields.String(allow_none=True)
    mode = ma.fields.String()
    language = ma.fields.String(allow_none=True)
    moderator_user_id = ma.fields.Integer(allow_none=True)
    moderator_role = ma.fields.String(allow_none=True)
    assistant_user_id = ma.fields.Integer(allow_none=True)
    assistant_role = ma.fields.String(allow_none=True)
    topic_guide_ref = ma.fields.String(allow_none=True)
    consent_recorded = ma.fields.Boolean()
    field_notes = ma.fields.String(allow_none=True)
    audio_ref = ma.fields.String(allow_none=True)
    members = ma.fields.List(ma.fields.Nested(MemberOut), attribute="current_members")
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class QualitativeQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    participant_id = ma.fields.Integer(metadata={"description": "Sessions with this member"})


class QualitativePage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(QualitativeOut))
    meta = ma.fields.Nested(PageMeta)


class MemberList(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(MemberOut))


class ReasonArgs(LoadSchema):
    reason = ma.fields.String(required=True, **_REASON)


class MembersQuery(LoadSchema):
    include_removed = ma.fields.Boolean(load_default=False)


class FocusGroupImportFiles(ma.Schema):
    sessions = Upload(required=True, metadata={"description": "Sessions CSV"})
    members = Upload(required=True, metadata={"description": "Members CSV"})


class FocusGroupImportReport(DumpSchema):
    sessions = ma.fields.Integer()
    members = ma.fields.Integer()
    participants_created = ma.fields.Integer()
    study_ids = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "SITE:member code -> allocated study ID"},
    )
