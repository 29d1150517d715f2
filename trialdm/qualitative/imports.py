"""Import focus groups from two CSV files, all or nothing.

``sessions``: one row per focus group: ``site_code``, ``date``, ``mode`` and optionally
``kind`` (``focus_group``), ``start_time``, ``duration_min``, ``location``, ``language``,
``moderator_role``, ``assistant_role``, ``topic_guide_ref``, ``consent_recorded``,
``field_notes``, ``audio_ref``; ``site_name`` and ``country`` are read as labels only.

``members``: one row per member: ``site_code``, ``member_code`` and the answers
``gender``, ``age``, ``profession``. A member belongs to the focus group of its site
in the sessions file; when a site has several, a ``session_date`` column says which.

Each member code (``ULM-MHW-01``: the code of the source, e.g. the transcripts) becomes
a mental-health-worker participant with an allocated study ID, in file order; the code
is kept on the membership, so a later file that names the same code at the same site
reuses that participant. A focus group already in the database (same site, date and
location) is reported, so running an import twice imports nothing the second time.
Every problem is reported with its file, line and field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, DomainError, ValidationFailed
from trialdm.core.inputs import csv_problem, text_problem
from trialdm.core.scoping import require_site
from trialdm.participants.models import Participant
from trialdm.participants.operations import create_participant
from trialdm.participants.vocabulary import GENDERS
from trialdm.qualitative.models import QualitativeMember, QualitativeSession
from trialdm.qualitative.operations import add_member, create_session
from trialdm.qualitative.schemas import QualitativeCreate

MAX_ROWS = 10_000
LABEL_COLUMNS = {"site_name", "country"}
SESSION_COLUMNS = {
    "site_code",
    "kind",
    "date",
    "start_time",
    "duration_min",
    "location",
    "mode",
    "language",
    "moderator_role",
    "assistant_role",
    "topic_guide_ref",
    "consent_recorded",
    "field_notes",
    "audio_ref",
} | LABEL_COLUMNS
MEMBER_COLUMNS = {"site_code", "member_code", "gender", "age", "profession", "session_date"}


@dataclass(frozen=True)
class FileProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.field}: {self.message}"


class FocusGroupImportFailed(DomainError):
    status = 422
    title = "Import failed"

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        errors: dict[str, list[str]] = {}
        for p in problems:
            errors.setdefault(f"{p.file} line {p.line}", []).append(f"{p.field}: {p.message}")
        super().__init__(f"Nothing was imported: {len(problems)} problem(s).", errors=errors)


@dataclass
class PlannedSession:
    line: int
    data: dict[str, Any]
    members: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # a row with problems: its members are not reported again
    rejected: bool = False


@dataclass
class ImportResult:
    sessions: list[QualitativeSession]
    members: list[QualitativeMember]
    created: list[Participant]
    study_ids: dict[str, str]

    def report(self) -> dict[str, Any]:
        return {
            "sessions": len(self.sessions),
            "members": len(self.members),
            "participants_created": len(self.created),
            "study_ids": self.study_ids,
        }


def read_upload(upload, name: str) -> str:
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.field(name, N_("The file is not UTF-8 text.")) from None


def _rows(
    text: str, label: str, known: set[str], required: set[str], problems: list[FileProblem]
) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        problems.append(FileProblem(label, 1, "(file)", "The file is empty."))
        return []
    for name in reader.fieldnames:
        if name not in known:
            problems.append(FileProblem(label, 1, name, "Unknown column."))
    for name in sorted(required - set(reader.fieldnames)):
        problems.append(FileProblem(label, 1, name, "Missing column."))
    rows = []
    try:
        for count, row in enumerate(reader, start=1):
            if count > MAX_ROWS:
                problems.append(
                    FileProblem(label, reader.line_num, "(file)", f"Over {MAX_ROWS} rows.")
                )
                break
            if None in row:
                problems.append(
                    FileProblem(label, reader.line_num, "(row)", "More cells than columns.")
                )
                continue
            unstorable = [(k, text_problem(v)) for k, v in row.items() if v and text_problem(v)]
            for name, problem in unstorable:
                problems.append(FileProblem(label, reader.line_num, name, str(problem)))
            if unstorable:
                continue
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    except csv.Error as exc:
        problems.append(FileProblem(label, reader.line_num + 1, "(row)", csv_problem(exc)))
    return rows


def _flatten(label: str, line: int, messages: Any) -> list[FileProblem]:
    out = []
    items = messages.items() if isinstance(messages, dict) else [("(row)", messages)]
    for name, value in items:
        if isinstance(value, dict):
            value = [f"{k}: {v}" for k, v in value.items()]
        for message in value if isinstance(value, list) else [value]:
            out.append(FileProblem(label, line, name, str(message)))
    return out


def _plan_sessions(
    session: Session, rows: list[tuple[int, dict[str, str]]], problems: list[FileProblem]
) -> list[PlannedSession]:
    schema = QualitativeCreate()
    planned: list[PlannedSession] = []
    seen: dict[tuple, int] = {}
    for line, row in rows:
        kind = row.get("kind") or "focus_group"
        if kind != "focus_group":
            problems.append(FileProblem("sessions", line, "kind", "Only focus groups here."))
            continue
        data: dict[str, Any] = {"site": row.get("site_code", "")}
        for name, value in row.items():
            if value and name not in LABEL_COLUMNS | {"site_code", "kind"}:
                data[name] = int(value) if name == "duration_min" and value.isdigit() else value
        rejected = PlannedSession(line, {"site": data["site"].upper(), "date": None}, rejected=True)
        try:
            loaded = schema.load(data)
            require_site(loaded["site"])
        except ma.ValidationError as exc:
            problems += _flatten("sessions", line, exc.messages)
            planned.append(rejected)
            continue
        except DomainError as exc:
            problems += _flatten("sessions", line, exc.errors or {"(row)": [exc.detail]})
            planned.append(rejected)
            continue
        rejected.data = loaded
        key = (loaded["site"], loaded["date"], loaded.get("location"))
        if key in seen:
            problems.append(
                FileProblem("sessions", line, "(row)", f"Same focus group as line {seen[key]}.")
            )
            planned.append(rejected)
            continue
        seen[key] = line
        exists = session.scalar(
            select(QualitativeSession.id).where(
                QualitativeSession.kind == "focus_group",
                QualitativeSession.site_code == key[0],
                QualitativeSession.date == key[1],
                QualitativeSession.location.is_(None)
                if key[2] is None
                else QualitativeSession.location == key[2],
                QualitativeSession.deleted_at.is_(None),
            )
        )
        if exists is not None:
            problems.append(
                FileProblem("sessions", line, "(row)", f"Already imported as focus group {exists}.")
            )
            planned.append(rejected)
            continue
        planned.append(PlannedSession(line, loaded))
    return planned


def _member_answers(line: int, row: dict[str, str], problems: list[FileProblem]) -> dict:
    answers: dict[str, Any] = {"member_code": row.get("member_code") or None}
    if not answers["member_code"]:
        problems.append(FileProblem("members", line, "member_code", "Missing."))
    elif len(answers["member_code"]) > 32:
        problems.append(FileProblem("members", line, "member_code", "Longer than 32."))
    gender = row.get("gender") or None
    if gender is not None and gender not in GENDERS:
        problems.append(
            FileProblem("members", line, "gender", f"Must be one of: {', '.join(GENDERS)}.")
        )
    answers["gender"] = gender
    age = row.get("age") or None
    if age is not None:
        if not age.isdigit() or not 0 <= int(age) <= 120:
            problems.append(FileProblem("members", line, "age", "A whole number of years, 0-120."))
            age = None
        else:
            age = int(age)
    answers["age"] = age
    profession = row.get("profession") or None
    if profession is not None and len(profession) > 120:
        problems.append(FileProblem("members", line, "profession", "Longer than 120."))
    answers["profession"] = profession
    return answers


def _assign_members(
    rows: list[tuple[int, dict[str, str]]],
    planned: list[PlannedSession],
    problems: list[FileProblem],
) -> None:
    for line, row in rows:
        answers = _member_answers(line, row, problems)
        site = row.get("site_code", "").upper()
        wanted: date | None = None
        if row.get("session_date"):
            try:
                wanted = date.fromisoformat(row["session_date"])
            except ValueError:
                problems.append(FileProblem("members", line, "session_date", "Not a date."))
                continue
        candidates = [
            p
            for p in planned
            if p.data["site"] == site and (wanted is None or p.data["date"] in (wanted, None))
        ]
        if any(p.rejected for p in candidates):
            continue  # its session row is reported already
        if not candidates:
            problems.append(
                FileProblem(
                    "members", line, "site_code", f"No focus group at '{site}' in the sessions."
                )
            )
            continue
        if len(candidates) > 1:
            problems.append(
                FileProblem(
                    "members",
                    line,
                    "session_date",
                    f"{site} has several focus groups; say which with session_date.",
                )
            )
            continue
        target = candidates[0]
        if any(a["member_code"] == answers["member_code"] for _, a in target.members):
            problems.append(
                FileProblem("members", line, "member_code", "Listed twice for this focus group.")
            )
            continue
        target.members.append((line, answers))


def _known_participants(session: Session, codes: set[tuple[str, str]]) -> dict:
    """(site, member code) -> participant id, from earlier imports."""
    if not codes:
        return {}
    rows = session.execute(
        select(
            QualitativeMember.site_code,
            QualitativeMember.member_code,
            QualitativeMember.participant_id,
        )
        .where(QualitativeMember.member_code.in_({code for _, code in codes}))
        .order_by(QualitativeMember.id)
    )
    known: dict[tuple[str, str], int] = {}
    for site, code, pid in rows:
        if (site, code) in codes:
            known.setdefault((site, code), pid)
    return known


def import_focus_groups(session: Session, sessions_text: str, members_text: str) -> ImportResult:
    problems: list[FileProblem] = []
    session_rows = _rows(
        sessions_text, "sessions", SESSION_COLUMNS, {"site_code", "date", "mode"}, problems
    )
    member_rows = _rows(
        members_text, "members", MEMBER_COLUMNS, {"site_code", "member_code"}, problems
    )
    if problems:
        raise FocusGroupImportFailed(problems)
    planned = _plan_sessions(session, session_rows, problems)
    _assign_members(member_rows, planned, problems)
    if problems:
        raise FocusGroupImportFailed(problems)
    planned = [p for p in planned if not p.rejected]

    codes = {(p.data["site"], a["member_code"]) for p in planned for _, a in p.members}
    people: dict[tuple[str, str], int] = _known_participants(session, codes)
    result = ImportResult([], [], [], {})
    for plan in planned:
        try:
            record = create_session(session, "focus_group", {**plan.data, "members": []})
        except DomainError as exc:
            problems += _flatten("sessions", plan.line, exc.errors or {"(row)": [exc.detail]})
            continue
        result.sessions.append(record)
        for line, answers in plan.members:
            key = (record.site_code, answers["member_code"])
            try:
                if key not in people:
                    participant = create_participant(
                        session,
                        {
                            "site": record.site_code,
                            "category": "mhw",
                            "gender": answers["gender"],
                            "age": answers["age"],
                            "profession": answers["profession"],
                        },
                    )
                    people[key] = participant.id
                    result.created.append(participant)
                member = add_member(session, record, {"participant_id": people[key], **answers})
            except DomainError as exc:
                problems += _flatten("members", line, exc.errors or {"(row)": [exc.detail]})
                continue
            result.members.append(member)
            result.study_ids[f"{key[0]}:{key[1]}"] = member.study_id
    if problems:
        raise FocusGroupImportFailed(problems)
    return result
