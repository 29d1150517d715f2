"""Translation rules at their edges: a step due within days or overdue, a transcript
waiting for its second check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.reminders_helpers import frozen
from trialdm.qualitative.operations import create_session
from trialdm.reminders import operations
from trialdm.translation.models import (
    Material,
    MaterialVersion,
    Transcript,
    TranscriptCheck,
    Translation,
    TranslationStep,
)

DUE = date(2026, 11, 20)  # the step's due date


def found(session, day: date, rule: str) -> dict[str, operations.PlannedReminder]:
    return {
        p.subject_id: p for p in operations.plan_reminders(session, "BU", day) if p.rule == rule
    }


@pytest.fixture
def team(make_user):
    return {
        "translator": make_user("translator", ["BU"]),
        "lead": make_user("site_lead", ["BU"]),
        "reviewers": [make_user("reviewer", ["BU"]) for _ in range(3)],
        "worker": make_user("research_worker", ["BU"]),
        "elsewhere": make_user("reviewer", ["UKE"]),
    }


def add_translation(session, site: str = "BU", state: str = "in_progress") -> Translation:
    material = Material(title="Consent form", kind="consent_form", category="local_text")
    session.add(material)
    session.flush()
    version = MaterialVersion(material_id=material.id, number=1)
    session.add(version)
    session.flush()
    translation = Translation(
        site_code=site, material_id=material.id, version_id=version.id, language="lg", state=state
    )
    session.add(translation)
    session.flush()
    return translation


def add_step(session, translation: Translation, assignee_id, due: date | None, **extra):
    step = TranslationStep(
        site_code=translation.site_code,
        translation_id=translation.id,
        position=extra.pop("position", 1),
        kind="forward",
        state=extra.pop("state", "in_progress"),
        assignee_id=assignee_id,
        due_date=due,
    )
    session.add(step)
    session.commit()
    return step


@pytest.fixture
def step(db_session, team):
    return add_step(db_session, add_translation(db_session), team["translator"].id, DUE)


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (date(2026, 11, 16), None),  # due in 4 days: the day before the threshold
        (date(2026, 11, 17), "due-soon"),  # due in 3 days: on the threshold
        (date(2026, 11, 20), "due-soon"),  # the due date
        (date(2026, 11, 21), "overdue"),  # the day after
        (date(2027, 1, 5), "overdue"),  # long overdue
    ],
)
def test_step_due_edges(db_session, step, team, day, period):
    hit = found(db_session, day, "translation_step_due").get(str(step.id))
    assert (hit.period if hit else None) == period
    if period == "due-soon":
        assert hit.recipients == [team["translator"].id]
        assert hit.title == "Translation forward step of 'Consent form' (lg) due (Nov 20, 2026)"
    if period == "overdue":
        assert hit.recipients == sorted([team["translator"].id, team["lead"].id])
        assert hit.link == f"/translation/translations/{step.translation_id}"


def test_step_due_setting(app, db_session, step, monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_TRANSLATION_DUE_DAYS", 5)
    assert str(step.id) in found(db_session, date(2026, 11, 15), "translation_step_due")
    assert str(step.id) not in found(db_session, date(2026, 11, 14), "translation_step_due")


def test_done_unassigned_undated_and_other_sites_steps_are_not_reminded(db_session, team):
    translation = add_translation(db_session)
    add_step(db_session, translation, team["translator"].id, DUE, state="done", position=1)
    add_step(db_session, translation, None, DUE, position=2)
    add_step(db_session, translation, team["translator"].id, None, position=3)
    superseded = add_translation(db_session, state="superseded")
    add_step(db_session, superseded, team["translator"].id, DUE)
    add_step(db_session, add_translation(db_session, site="UKE"), team["elsewhere"].id, DUE)
    assert found(db_session, date(2026, 11, 21), "translation_step_due") == {}


def test_step_reminded_once_per_state(db_session, step, team):
    key = f"translation_step_due:translation_step:{step.id}"
    with frozen(2026, 11, 17, 6):
        first = operations.scan_site(db_session, "BU", date(2026, 11, 17))
        assert [p.dedupe_key for p in first.planned if p.rule == "translation_step_due"] == [
            f"{key}:due-soon"
        ]
        assert first.created == 1
        assert operations.scan_site(db_session, "BU", date(2026, 11, 17)).created == 0
        assert operations.scan_site(db_session, "BU", date(2026, 11, 19)).created == 0
        overdue = operations.scan_site(db_session, "BU", date(2026, 11, 21))
        assert overdue.created == 1
        assert operations.scan_site(db_session, "BU", date(2026, 11, 22)).created == 0


# --- transcripts --------------------------------------------------------------------

APPROVED_AT = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # one approval: 10 Nov, UTC


def add_transcript(session, team, *, state="translated", check_round=1, checks=()):
    held = create_session(
        session, "focus_group", {"site": "BU", "date": date(2026, 10, 2), "mode": "in_person"}
    )
    transcript = Transcript(
        site_code="BU",
        session_id=held.id,
        session_kind="focus_group",
        title="FGD 3",
        language="lg",
        state=state,
        english_text="One.\nTwo.",
        translated_by_id=team["translator"].id,
        check_round=check_round,
    )
    session.add(transcript)
    session.flush()
    for round_, reviewer, decision, at in checks:
        session.add(
            TranscriptCheck(
                site_code="BU",
                transcript_id=transcript.id,
                round=round_,
                reviewer_id=reviewer.id,
                decision=decision,
                created_at=at,
            )
        )
    session.commit()
    return transcript


@pytest.fixture
def waiting(db_session, team):
    first = team["reviewers"][0]
    return add_transcript(db_session, team, checks=[(1, first, "approve", APPROVED_AT)])


@pytest.mark.parametrize(
    ("day", "reminded"),
    [
        (date(2026, 11, 16), False),  # six days
        (date(2026, 11, 17), False),  # seven days: on the threshold, not more
        (date(2026, 11, 18), True),  # more than seven days
        (date(2026, 12, 30), True),
    ],
)
def test_second_check_edges(db_session, waiting, team, day, reminded):
    hit = found(db_session, day, "transcript_second_check").get(str(waiting.id))
    assert (hit is not None) is reminded
    if hit:
        assert hit.period == "round-1"
        # the reviewers of the site except the one who approved (never the translator)
        assert hit.recipients == sorted(r.id for r in team["reviewers"][1:])
        assert hit.link == f"/translation/transcripts/{waiting.id}"


def test_second_check_setting(app, db_session, waiting, monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_SECOND_CHECK_DAYS", 2)
    assert str(waiting.id) in found(db_session, date(2026, 11, 13), "transcript_second_check")
    assert str(waiting.id) not in found(db_session, date(2026, 11, 12), "transcript_second_check")


def test_translator_who_is_a_reviewer_is_not_asked(db_session, team, make_user):
    both = make_user("reviewer", ["BU"])
    transcript = add_transcript(
        db_session, team, checks=[(1, team["reviewers"][0], "approve", APPROVED_AT)]
    )
    transcript.translated_by_id = both.id
    db_session.commit()
    hit = found(db_session, date(2026, 11, 20), "transcript_second_check")[str(transcript.id)]
    assert both.id not in hit.recipients and team["reviewers"][0].id not in hit.recipients


def test_transcripts_not_waiting_for_a_second_check_are_not_reminded(db_session, team):
    first, second, _ = team["reviewers"]
    old = APPROVED_AT
    add_transcript(db_session, team, state="approved", checks=[(1, first, "approve", old)])
    add_transcript(db_session, team, state="checked", checks=[(1, first, "approve", old)])
    add_transcript(db_session, team, checks=[])  # nobody checked yet
    # returned in round 1: its approval belongs to an earlier round
    add_transcript(
        db_session,
        team,
        check_round=2,
        checks=[(1, first, "approve", old), (1, second, "return", old)],
    )
    assert found(db_session, date(2026, 12, 30), "transcript_second_check") == {}


def test_second_check_reminded_once_per_round(db_session, waiting, team):
    with frozen(2026, 11, 18, 6):
        first = operations.scan_site(db_session, "BU", date(2026, 11, 18))
        assert [p.dedupe_key for p in first.planned if p.rule == "transcript_second_check"] == [
            f"transcript_second_check:transcript:{waiting.id}:round-1"
        ]
        assert first.created == 1
        assert operations.scan_site(db_session, "BU", date(2026, 11, 18)).created == 0
        assert operations.scan_site(db_session, "BU", date(2026, 11, 25)).created == 0


def test_translation_rules_read_one_select_each_however_many_rows(app, db_session, team):
    from sqlalchemy import event

    from trialdm.extensions import db
    from trialdm.reminders.rules import RULES, ScanContext

    def statements(rule: str) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        scan = ScanContext("BU", date(2026, 12, 30), app.config)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            findings = list(RULES[rule].findings(db_session, scan))
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert findings
        return len(seen)

    translation = add_translation(db_session)
    add_step(db_session, translation, team["translator"].id, DUE)
    approval = [(1, team["reviewers"][0], "approve", APPROVED_AT)]
    add_transcript(db_session, team, checks=approval)
    assert statements("translation_step_due") == 1
    assert statements("transcript_second_check") == 1
    for position in range(2, 7):
        add_step(db_session, translation, team["translator"].id, DUE, position=position)
        add_transcript(db_session, team, checks=approval)
    assert statements("translation_step_due") == 1
    assert statements("transcript_second_check") == 1


def test_translation_reminder_settings_are_validated(tmp_path):
    from trialdm.config import ConfigError, load_settings

    settings = load_settings({}, instance_path=tmp_path)
    assert settings["REMINDER_TRANSLATION_DUE_DAYS"] == 3
    assert settings["REMINDER_SECOND_CHECK_DAYS"] == 7
    parsed = load_settings({"TRIALDM_REMINDER_SECOND_CHECK_DAYS": "10"}, instance_path=tmp_path)
    assert parsed["REMINDER_SECOND_CHECK_DAYS"] == 10
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                "TRIALDM_REMINDER_TRANSLATION_DUE_DAYS": "0",
                "TRIALDM_REMINDER_SECOND_CHECK_DAYS": "a week",
            },
            instance_path=tmp_path,
        )
    assert "TRIALDM_REMINDER_TRANSLATION_DUE_DAYS: expected a whole number above 0" in str(
        raised.value
    )
    assert "TRIALDM_REMINDER_SECOND_CHECK_DAYS: expected a whole number" in str(raised.value)
