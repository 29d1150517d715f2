from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.contacts.models import FORMATS, MODES
from trialdm.contacts.psws import can_deliver
from trialdm.core.limits import SEARCH, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.participants.minimum_record import MinimumRecordCheck
from trialdm.participants.schemas import FidelityOut as FidelityOut
from trialdm.participants.vocabulary import GENDERS


def _session_fields(required: bool) -> dict[str, ma.fields.Field]:
    return {
        "date": ma.fields.Date(required=required),
        "start_time": ma.fields.Time(allow_none=True),
        "format": ma.fields.String(required=required, validate=validate.OneOf(FORMATS)),
        "mode": ma.fields.String(required=required, validate=validate.OneOf(MODES)),
        "duration_min": ma.fields.Integer(
            allow_none=True, strict=True, validate=validate.Range(min=1, max=24 * 60)
        ),
        "place": ma.fields.String(allow_none=True, validate=validate.Length(max=200)),
        "notes": ma.fields.String(
            allow_none=True,
            validate=validate.Length(max=10_000),
            metadata={"description": "What happened; no names or contact details"},
        ),
        "psws": ma.fields.List(
            ma.fields.Integer(strict=True),
            required=required,
            validate=validate.Length(max=20),
            metadata={"description": "Participant ids of the PSWs who gave the session"},
        ),
        "attendees": ma.fields.List(
            ma.fields.Integer(strict=True),
            required=required,
            validate=validate.Length(max=200),
            metadata={"description": "Participant ids of the service users who attended"},
        ),
    }


ContactSessionCreate = LoadSchema.from_dict(
    {"site": Site(required=True), **_session_fields(required=True)},
    name="ContactSessionCreate",
)

ContactSessionUpdate = LoadSchema.from_dict(
    {
        **_session_fields(required=False),
        "reason": ma.fields.String(required=True, validate=validate.Length(min=1, max=2000)),
    },
    name="ContactSessionUpdate",
)


class ContactSessionOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    date = ma.fields.Date()
    start_time = ma.fields.Time(allow_none=True)
    format = ma.fields.String()
    mode = ma.fields.String()
    duration_min = ma.fields.Integer(allow_none=True)
    place = ma.fields.String(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    psws = ma.fields.List(ma.fields.Integer(), attribute="psw_ids")
    attendees = ma.fields.List(ma.fields.Integer(), attribute="attendee_ids")
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ContactSessionQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    format = ma.fields.String(validate=validate.OneOf(FORMATS))
    mode = ma.fields.String(validate=validate.OneOf(MODES))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    participant_id = ma.fields.Integer(metadata={"description": "Sessions this person attended"})
    psw_id = ma.fields.Integer(metadata={"description": "Sessions this PSW gave"})


class ContactSessionPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ContactSessionOut))
    meta = ma.fields.Nested(PageMeta)


class DeleteArgs(LoadSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AsOfArgs(LoadSchema):
    as_of = ma.fields.Date(
        metadata={"description": "Evaluate on this date (default: the site's today)"}
    )


class FidelityCounts(DumpSchema):
    not_started = ma.fields.Integer()
    on_track = ma.fields.Integer()
    at_risk = ma.fields.Integer()
    met = ma.fields.Integer()
    not_met = ma.fields.Integer()
    withdrawn = ma.fields.Integer()


class SiteFidelityOut(DumpSchema):
    site = ma.fields.String()
    as_of = ma.fields.Date()
    minimum_contacts = ma.fields.Integer()
    window_months = ma.fields.Integer()
    at_risk_slack = ma.fields.Float()
    participants = ma.fields.Integer()
    counts = ma.fields.Nested(FidelityCounts)
    met_share = ma.fields.Float(
        allow_none=True, metadata={"description": "met / participants whose window opened"}
    )


# PSWs: participants of category psw, shown with the fields that matter for delivery.
def _psw_fields() -> dict[str, ma.fields.Field]:
    return {
        "gender": ma.fields.String(validate=validate.OneOf(GENDERS), allow_none=True),
        "year_of_birth": ma.fields.Integer(allow_none=True),
        "age": ma.fields.Integer(allow_none=True, validate=validate.Range(min=0, max=120)),
        "occupation": ma.fields.String(allow_none=True, validate=validate.Length(max=120)),
        "training_completed": ma.fields.Date(allow_none=True),
        "active": ma.fields.Boolean(allow_none=True),
    }


class _PswMinimumRecord(MinimumRecordCheck):
    def category_of(self, data: dict) -> str | None:
        return "psw"


PswCreate = type(
    "PswCreate", (_PswMinimumRecord, LoadSchema), {"site": Site(required=True), **_psw_fields()}
)
PswUpdate = LoadSchema.from_dict(
    {
        **_psw_fields(),
        "reason": ma.fields.String(required=True, validate=validate.Length(min=1, max=2000)),
    },
    name="PswUpdate",
)


class PswOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    study_id = ma.fields.String()
    gender = ma.fields.String(allow_none=True)
    year_of_birth = ma.fields.Integer(allow_none=True)
    age = ma.fields.Integer(allow_none=True)
    occupation = ma.fields.String(allow_none=True)
    training_completed = ma.fields.Date(allow_none=True)
    active = ma.fields.Boolean(allow_none=True)
    can_deliver = ma.fields.Method(
        "dump_can_deliver", metadata={"description": "Trained and active"}
    )
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_can_deliver(self, psw) -> bool:
        return can_deliver(psw)


class PswQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    active = ma.fields.Boolean()
    q = ma.fields.String(validate=at_most(SEARCH), metadata={"description": "Study ID contains"})


class PswPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(PswOut))
    meta = ma.fields.Nested(PageMeta)
