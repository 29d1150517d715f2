"""``/api/v1/focus-groups`` and ``/api/v1/interviews`` (members nested): the same
views for both kinds, and the upload of focus groups from two CSV files."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.qualitative import imports, operations, queries
from trialdm.qualitative.schemas import (
    FocusGroupImportFiles,
    FocusGroupImportReport,
    MemberAdd,
    MemberList,
    MemberOut,
    MembersQuery,
    MemberUpdate,
    QualitativeCreate,
    QualitativeOut,
    QualitativePage,
    QualitativeQuery,
    QualitativeUpdate,
    ReasonArgs,
)

blp = Blueprint(
    "qualitative",
    __name__,
    url_prefix="/api/v1",
    description="Focus-group discussions and interviews with their members",
)


def _register(kind: str, path: str, param: str, title: str) -> None:
    """The collection, item and member views of one kind of session."""

    class Collection(MethodView):
        @requires("qualitative.read")
        @blp.arguments(QualitativeQuery, location="query")
        @blp.response(200, QualitativePage)
        def get(self, args):
            stmt = queries.sessions_query(kind, args)
            stmt = order_by(stmt, args.get("sort"), queries.SORTABLE, queries.QualitativeSession.id)
            return paginate(db.session, stmt, args, queries.QualitativeSession.id)

        @requires("qualitative.write")
        @blp.arguments(QualitativeCreate)
        @blp.response(201, QualitativeOut)
        def post(self, data):
            record = operations.create_session(db.session, kind, data)
            return (
                record,
                201,
                {**etag_headers(record), "Location": f"/api/v1/{path}/{record.id}"},
            )

    class Item(MethodView):
        @requires("qualitative.read")
        @blp.response(200, QualitativeOut)
        def get(self, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            return record, 200, etag_headers(record)

        @requires("qualitative.write")
        @if_match_required(blp)
        @blp.arguments(QualitativeUpdate)
        @blp.response(200, QualitativeOut)
        def patch(self, data, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            with audit_context(reason=data["reason"]):
                operations.update_session(db.session, record, data, if_match_version())
            return record

        @requires("qualitative.write")
        @if_match_required(blp)
        @blp.arguments(ReasonArgs, location="query")
        @blp.response(204)
        def delete(self, args, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            with audit_context(reason=args["reason"]):
                operations.delete_session(db.session, record, if_match_version())

    class Members(MethodView):
        @requires("qualitative.read")
        @blp.arguments(MembersQuery, location="query")
        @blp.response(200, MemberList)
        def get(self, args, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            members = record.members if args["include_removed"] else record.current_members
            return {"items": members}

        @requires("qualitative.write")
        @blp.arguments(MemberAdd)
        @blp.response(201, MemberOut)
        def post(self, data, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            member = operations.add_member(db.session, record, data)
            return member, 201, etag_headers(member)

    class Member(MethodView):
        @requires("qualitative.write")
        @if_match_required(blp)
        @blp.arguments(MemberUpdate)
        @blp.response(200, MemberOut)
        def patch(self, data, member_id, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            member = queries.get_member(db.session, record, member_id)
            with audit_context(reason=data["reason"]):
                return operations.update_member(db.session, member, data, if_match_version())

        @requires("qualitative.write")
        @if_match_required(blp)
        @blp.arguments(ReasonArgs, location="query")
        @blp.response(204)
        def delete(self, args, member_id, **ids):
            record = queries.get_session(db.session, kind, ids[param])
            member = queries.get_member(db.session, record, member_id)
            with audit_context(reason=args["reason"]):
                operations.remove_member(db.session, member, if_match_version())

    docs = {
        (Collection, "get"): f"List {title}s of your sites.",
        (Collection, "post"): f"Record a {title} with its members and their answers.",
        (Item, "get"): f"One {title} with its current members.",
        (Item, "patch"): "Change fields; needs If-Match and a reason.",
        (Item, "delete"): "Delete (softly); needs If-Match and a reason.",
        (Members, "get"): "Members and their answers (removed ones with include_removed).",
        (Members, "post"): "Add a member (answers default to the participant's record).",
        (Member, "patch"): "Correct a member's answers; needs If-Match and a reason.",
        (Member, "delete"): "Remove a member; needs If-Match and a reason (the row is kept).",
    }
    for (view, method), text in docs.items():
        getattr(view, method).__doc__ = text
    prefix = kind.title().replace("_", "")
    for view, rule in (
        (Collection, f"/{path}"),
        (Item, f"/{path}/<int:{param}>"),
        (Members, f"/{path}/<int:{param}>/members"),
        (Member, f"/{path}/<int:{param}>/members/<int:member_id>"),
    ):
        view.__name__ = f"{prefix}{view.__name__}"
        blp.route(rule, endpoint=view.__name__)(view)


_register("focus_group", "focus-groups", "focus_group_id", "focus group")
_register("interview", "interviews", "interview_id", "interview")


@blp.route("/focus-groups/import")
class FocusGroupImport(MethodView):
    @requires("participants.import")
    @blp.arguments(FocusGroupImportFiles, location="files")
    @blp.response(201, FocusGroupImportReport)
    def post(self, files):
        """Upload a sessions CSV and a members CSV; any problem imports nothing."""
        sessions_text = imports.read_upload(files["sessions"], "sessions")
        members_text = imports.read_upload(files["members"], "members")
        with audit_context(source="import"):
            result = imports.import_focus_groups(db.session, sessions_text, members_text)
        return result.report(), 201
