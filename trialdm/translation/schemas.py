from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.config import MATERIAL_CATEGORIES
from trialdm.core.errors import N_
from trialdm.core.limits import HEADER, KEY, LANGUAGE_CODE, SEARCH, TRANSCRIPT, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.translation.models import (
    MATERIAL_KINDS,
    SESSION_KINDS,
    TRANSCRIPT_STATES,
    TRANSLATION_STATES,
)

LANGUAGE = [
    at_most(LANGUAGE_CODE),
    validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", error=N_("A language code such as 'lg'.")),
]


# Materials ----------------------------------------------------------------------------


class SegmentIn(LoadSchema):
    key = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=20000))


class MaterialCreate(LoadSchema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(MATERIAL_KINDS))
    category = ma.fields.String(required=True, validate=validate.OneOf(MATERIAL_CATEGORIES))
    instrument_name = ma.fields.String(allow_none=True, validate=validate.Length(max=120))
    instrument_version = ma.fields.String(allow_none=True, validate=validate.Length(max=32))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    segments = ma.fields.List(
        ma.fields.Nested(SegmentIn),
        metadata={
            "description": "English source; for a questionnaire linked to a stored instrument "
            "version, omit to take the instrument's English labels"
        },
    )


class VersionCreate(LoadSchema):
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    segments = ma.fields.List(ma.fields.Nested(SegmentIn), required=True)


class SegmentOut(DumpSchema):
    key = ma.fields.String()
    text = ma.fields.String()


class VersionOut(DumpSchema):
    number = ma.fields.Integer()
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    segments = ma.fields.List(ma.fields.Nested(SegmentOut))


class VersionSummary(DumpSchema):
    number = ma.fields.Integer()
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class MaterialOut(DumpSchema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    kind = ma.fields.String()
    category = ma.fields.String()
    instrument_name = ma.fields.String(allow_none=True)
    instrument_version = ma.fields.String(allow_none=True)
    current_version = ma.fields.Integer()
    versions = ma.fields.List(ma.fields.Nested(VersionSummary))
    segments = ma.fields.Method("dump_segments")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_segments(self, material):
        return SegmentOut(many=True).dump(material.versions[-1].segments)


class MaterialQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(validate=validate.OneOf(MATERIAL_KINDS))
    category = ma.fields.String(validate=validate.OneOf(MATERIAL_CATEGORIES))
    instrument_name = ma.fields.String(validate=at_most(KEY))
    q = ma.fields.String(validate=at_most(SEARCH), metadata={"description": "Title contains"})


class MaterialListItem(MaterialOut):
    class Meta:
        exclude = ("segments",)


class MaterialPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(MaterialListItem))
    meta = ma.fields.Nested(PageMeta)


# Translations -------------------------------------------------------------------------


class AssignmentIn(LoadSchema):
    assignee_id = ma.fields.Integer(allow_none=True)
    due_date = ma.fields.Date(allow_none=True)


class TranslationCreate(LoadSchema):
    material_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(
        validate=validate.Range(min=1), metadata={"description": "Default: the current version"}
    )
    site = Site(required=True)
    language = ma.fields.String(required=True, validate=LANGUAGE)
    assignees = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(AssignmentIn),
        metadata={"description": "step kind -> {assignee_id, due_date}"},
    )


class StepUpdate(AssignmentIn):
    pass


class StepAction(LoadSchema):
    action = ma.fields.String(
        required=True, validate=validate.OneOf(("start", "submit", "complete", "return"))
    )
    comment = ma.fields.String(allow_none=True, validate=validate.Length(max=5000))


class SegmentWrite(LoadSchema):
    text = ma.fields.String(validate=validate.Length(min=1, max=20000))
    back_translation = ma.fields.String(validate=validate.Length(min=1, max=20000))


class CommentCreate(LoadSchema):
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=5000))
    segment_key = ma.fields.String(allow_none=True, validate=at_most(KEY))
    step_id = ma.fields.Integer(allow_none=True)


class StepOut(DumpSchema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    kind = ma.fields.String()
    role = ma.fields.Method("dump_role")
    state = ma.fields.String()
    assignee_id = ma.fields.Integer(allow_none=True)
    due_date = ma.fields.Date(allow_none=True)
    started_at = ma.fields.DateTime(allow_none=True)
    submitted_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    completed_by_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(
        attribute="version_id", metadata={"description": "Send in If-Match to change it"}
    )

    def dump_role(self, step):
        from trialdm.config import TRANSLATION_STEP_ROLES

        return TRANSLATION_STEP_ROLES[step.kind]


class SegmentTranslationOut(DumpSchema):
    key = ma.fields.String()
    source = ma.fields.String(allow_none=True)
    text = ma.fields.String(allow_none=True)
    back_translation = ma.fields.String(allow_none=True)
    needs_update = ma.fields.Boolean()
    version = ma.fields.Integer(metadata={"description": "Send in If-Match to change it"})


class CommentOut(DumpSchema):
    id = ma.fields.Integer()
    step_id = ma.fields.Integer(allow_none=True)
    segment_key = ma.fields.String(allow_none=True)
    author_id = ma.fields.Integer()
    body = ma.fields.String()
    created_at = ma.fields.DateTime()


class TranslationOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    material_id = ma.fields.Integer()
    material_title = ma.fields.String(attribute="material.title")
    category = ma.fields.String(attribute="material.category")
    version = ma.fields.Integer(attribute="version_number")
    language = ma.fields.String()
    state = ma.fields.String()
    current_step = ma.fields.Method("dump_current_step")
    finished_at = ma.fields.DateTime(allow_none=True)
    previous_id = ma.fields.Integer(allow_none=True)
    steps = ma.fields.List(ma.fields.Nested(StepOut))
    segments = ma.fields.Method("dump_segments")
    comments = ma.fields.List(ma.fields.Nested(CommentOut))
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_current_step(self, translation):
        step = translation.current_step
        return step.kind if step else None

    def dump_segments(self, translation):
        sources = {segment.key: segment.text for segment in translation.version.segments}
        rows = [
            {
                "key": s.key,
                "source": sources.get(s.key),
                "text": s.text,
                "back_translation": s.back_translation,
                "needs_update": s.needs_update,
                "version": s.version_id,
            }
            for s in translation.segments
        ]
        return SegmentTranslationOut(many=True).dump(rows)


class TranslationQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    material_id = ma.fields.Integer()
    language = ma.fields.String(validate=at_most(LANGUAGE_CODE))
    state = ma.fields.String(validate=validate.OneOf(TRANSLATION_STATES))


class TranslationListItem(TranslationOut):
    class Meta:
        exclude = ("segments", "comments")


class TranslationPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(TranslationListItem))
    meta = ma.fields.Nested(PageMeta)


# Transcripts --------------------------------------------------------------------------


class TranscriptCreate(LoadSchema):
    session_kind = ma.fields.String(required=True, validate=validate.OneOf(SESSION_KINDS))
    session_id = ma.fields.Integer(
        required=True, metadata={"description": "The focus group or interview"}
    )
    title = ma.fields.String(validate=validate.Length(min=1, max=200))
    language = ma.fields.String(
        validate=LANGUAGE, metadata={"description": "Default: the session's language"}
    )
    recorded_on = ma.fields.Date(
        allow_none=True, metadata={"description": "Default: the session's date"}
    )


class TextIn(LoadSchema):
    text = ma.fields.String(required=True, validate=at_most(TRANSCRIPT))


class ConfirmIn(LoadSchema):
    text = ma.fields.String(
        allow_none=True,
        validate=at_most(TRANSCRIPT),
        metadata={"description": "The corrected pseudonymised text, if changed"},
    )
    flags_reviewed = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "A person has checked every flagged token (needed if any)"},
    )


class CheckIn(LoadSchema):
    decision = ma.fields.String(required=True, validate=validate.OneOf(("approve", "return")))
    comments = ma.fields.String(allow_none=True, validate=validate.Length(max=10000))


class CheckOut(DumpSchema):
    id = ma.fields.Integer()
    round = ma.fields.Integer()
    reviewer_id = ma.fields.Integer()
    decision = ma.fields.String()
    comments = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class TranscriptOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    session_kind = ma.fields.String()
    session_id = ma.fields.Integer(allow_none=True)
    title = ma.fields.String()
    language = ma.fields.String()
    recorded_on = ma.fields.Date(allow_none=True)
    state = ma.fields.String()
    has_verbatim = ma.fields.Method("dump_has_verbatim")
    verbatim_deleted_at = ma.fields.DateTime(allow_none=True)
    # The draft is the site lead's until confirmed (GET .../pseudonymisation).
    pseudonymised_text = ma.fields.Method("dump_pseudonymised")
    english_text = ma.fields.String(allow_none=True)
    check_round = ma.fields.Integer()
    checks = ma.fields.List(ma.fields.Nested(CheckOut))
    approved_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_has_verbatim(self, transcript):
        return transcript.verbatim_text is not None

    def dump_pseudonymised(self, transcript):
        if transcript.state in ("recorded", "transcribed"):
            return None
        return transcript.pseudonymised_text


class PseudonymisationOut(DumpSchema):
    transcript_id = ma.fields.Integer(attribute="id")
    state = ma.fields.String()
    verbatim_text = ma.fields.String(allow_none=True)
    pseudonymised_text = ma.fields.String(allow_none=True)
    report = ma.fields.Raw(attribute="pseudonymisation_report", allow_none=True)
    version = ma.fields.Integer(attribute="version_id")


class TranscriptQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    state = ma.fields.String(validate=validate.OneOf(TRANSCRIPT_STATES))
    session_kind = ma.fields.String(validate=validate.OneOf(SESSION_KINDS))
    session_id = ma.fields.Integer()
    language = ma.fields.String(validate=at_most(LANGUAGE_CODE))


class TranscriptListItem(TranscriptOut):
    class Meta:
        exclude = ("english_text", "pseudonymised_text", "checks")


class TranscriptPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(TranscriptListItem))
    meta = ma.fields.Nested(PageMeta)


class QuoteArgs(LoadSchema):
    lines = ma.fields.String(
        required=True, validate=at_most(HEADER), metadata={"description": "107-128 or 51"}
    )


class LineOut(DumpSchema):
    number = ma.fields.Integer()
    text = ma.fields.String()


class QuoteOut(DumpSchema):
    label = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(LineOut))
    text = ma.fields.String()


class ExportArgs(LoadSchema):
    format = ma.fields.String(load_default="txt", validate=validate.OneOf(("txt", "docx", "xlsx")))


class KeyEntryCreate(LoadSchema):
    site = Site(required=True)
    term = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    participant_id = ma.fields.Integer(allow_none=True)
    placeholder = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=64))


class KeyEntryOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    term = ma.fields.String()
    participant_id = ma.fields.Integer(allow_none=True)
    placeholder = ma.fields.String(allow_none=True)
    replacement = ma.fields.String()
    version = ma.fields.Integer(
        attribute="version_id", metadata={"description": "Send in If-Match to delete it"}
    )


class KeyQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()


class KeyPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(KeyEntryOut))
    meta = ma.fields.Nested(PageMeta)
