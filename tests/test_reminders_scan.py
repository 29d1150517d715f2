"""The reminder scan: idempotent creation, delivery to the site team, the weekly
digests, daily mail digests, the dispatcher's per-site time zones and the CLI."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.reminders_helpers import frozen, use_test_rule
from trialdm.core.tasks import run_eager_tasks
from trialdm.reminders import operations
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder, ScanRun

TUESDAY = date(2026, 11, 24)
MONDAY = date(2026, 11, 23)


@pytest.fixture
def test_rule(app, monkeypatch):
    return use_test_rule(monkeypatch, app)


@pytest.fixture
def team(make_user, db_session):
    rw = make_user("research_worker", ["BU"])
    lead = make_user("site_lead", ["BU"])
    lead.mail_preference = "daily"
    other = make_user("research_worker", ["ULM"])
    coordinator = make_user("coordinator")
    db_session.commit()
    return {"rw": rw, "lead": lead, "other": other, "coordinator": coordinator}


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def inbox_of(session, user) -> list[str]:
    return sorted(
        session.scalars(
            select(Reminder.dedupe_key)
            .join(InboxEntry, InboxEntry.reminder_id == Reminder.id)
            .where(InboxEntry.user_id == user.id)
        )
    )


def enrol(make_participant, site: str, n: int = 1) -> list:
    return [
        make_participant(site, "service_user", enrolment_date=date(2026, 6, 1), occupation="baker")
        for _ in range(n)
    ]


def test_scan_creates_and_delivers_each_reminder_once(
    app, db_session, team, test_rule, make_participant
):
    bu = enrol(make_participant, "BU", 2)
    enrol(make_participant, "ULM")
    with frozen(2026, 11, 24, 6):
        first = operations.scan_site(db_session, "BU", TUESDAY)
        db_session.commit()
        again = operations.scan_site(db_session, "BU", TUESDAY)
        db_session.commit()
        run_eager_tasks()
    assert (len(first.planned), first.created, first.delivered) == (2, 2, 2)
    assert (len(again.planned), again.created, again.delivered) == (2, 0, 0)
    keys = [f"test_enrolled:participant:{p.id}:2026-11" for p in bu]
    assert inbox_of(db_session, team["rw"]) == sorted(keys)
    assert inbox_of(db_session, team["lead"]) == sorted(keys)
    assert inbox_of(db_session, team["other"]) == []
    assert inbox_of(db_session, team["coordinator"]) == []
    assert count(db_session, ScanRun, ScanRun.site_code == "BU") == 1
    # immediate mail for the research worker, none yet for the daily-digest lead
    messages = list(db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [m.to_address for m in messages] == [team["rw"].email] * 2
    # eager mode sent them after the commit: without SMTP_HOST they are kept and logged
    assert {m.status for m in messages} == {"kept"}
    assert messages[0].subject == f"[UPSIDES BU] Check {bu[0].study_id}"
    assert bu[0].study_id in messages[0].body and "baker" not in messages[0].body


def test_next_period_is_a_new_reminder(app, db_session, team, test_rule, make_participant):
    enrol(make_participant, "BU")
    operations.scan_site(db_session, "BU", date(2026, 11, 30))
    result = operations.scan_site(db_session, "BU", date(2026, 12, 1))
    assert result.created == 1
    assert count(db_session, Reminder, Reminder.rule == "test_enrolled") == 2


def test_dry_run_saves_nothing(app, db_session, team, test_rule, make_participant):
    enrol(make_participant, "BU")
    result = operations.scan_site(db_session, "BU", TUESDAY, dry_run=True)
    assert len(result.planned) == 1 and result.planned[0].recipients == sorted(
        [team["rw"].id, team["lead"].id]
    )
    assert count(db_session, Reminder) == 0
    assert count(db_session, ScanRun) == 0
    assert "dry run, nothing saved" in result.lines()[0]


def test_disabled_rule_does_not_run(app, db_session, team, test_rule, make_participant):
    enrol(make_participant, "BU")
    app.config["REMINDER_DISABLED_RULES"] += ("test_enrolled",)
    assert operations.scan_site(db_session, "BU", TUESDAY).planned == []


def _found(session, site, rule, local_date, key):
    session.add(
        Reminder(
            site_code=site,
            rule=rule,
            subject_type="participant",
            subject_id=key,
            period="p",
            dedupe_key=key,
            title=key,
            recipients=[],
            local_date=local_date,
            status="delivered",
        )
    )


def test_weekly_site_digest_counts_the_seven_days_up_to_the_digest_day(app, db_session, team):
    for day, key in [
        (date(2026, 11, 16), "too-old"),
        (date(2026, 11, 17), "first-day"),
        (date(2026, 11, 23), "digest-day"),
    ]:
        _found(db_session, "BU", "assessment_due", day, key)
    _found(db_session, "ULM", "assessment_due", date(2026, 11, 20), "other-site")
    _found(db_session, "BU", "weekly_site_digest", date(2026, 11, 16), "last-digest")
    db_session.commit()
    assert operations.scan_site(db_session, "BU", TUESDAY).planned == []
    result = operations.scan_site(db_session, "BU", MONDAY)
    (digest,) = result.planned
    assert digest.dedupe_key == "weekly_site_digest:site:BU:2026-W48"
    assert digest.recipients == [team["lead"].id]
    assert digest.title == "Weekly digest BU 2026-W48: 2 reminders"
    base = app.config["BASE_URL"].rstrip("/")
    assert (
        f"- Assessment due (window open): 2 ({base}/reminders/found?site=BU&rule=assessment_due)"
        in digest.body
    )


def test_weekly_trial_digest_goes_to_coordinators_with_counts_per_site(app, db_session, team):
    _found(db_session, "BU", "assessment_due", date(2026, 11, 20), "a")
    _found(db_session, "BU", "assessment_due", date(2026, 11, 21), "b")
    _found(db_session, "UKE", "psw_no_contact", date(2026, 11, 22), "c")
    db_session.commit()
    result = operations.scan_site(db_session, None, MONDAY)
    (digest,) = result.planned
    assert digest.site_code is None and digest.recipients == [team["coordinator"].id]
    assert (
        "- BU Assessment due (window open): 2" in digest.body
        and "- UKE No PSW contact for a long time: 1" in digest.body
    )
    assert inbox_of(db_session, team["coordinator"]) == [digest.dedupe_key]
    assert inbox_of(db_session, team["lead"]) == []


def test_trial_digest_is_only_visible_to_all_site_roles(app, db_session, team, api_as):
    operations.scan_site(db_session, None, MONDAY)
    db_session.commit()
    coordinator = api_as("coordinator", user=team["coordinator"])
    assert coordinator.get("/api/v1/reminders/found").json["meta"]["total"] == 1
    lead = api_as("site_lead", user=team["lead"])
    assert lead.get("/api/v1/reminders/found").json["meta"]["total"] == 0


def test_daily_digest_is_one_mail_a_day(app, db_session, team, test_rule, make_participant):
    enrol(make_participant, "BU", 2)
    with frozen(2026, 11, 24, 6):
        operations.scan_site(db_session, "BU", TUESDAY)
        first = operations.build_daily_digests(db_session)
        assert operations.build_daily_digests(db_session) == []
    (message_id,) = first
    message = db_session.get(OutboxMessage, message_id)
    assert message.to_address == team["lead"].email and message.kind == "daily"
    assert message.subject == "[UPSIDES] 2 reminders for Nov 24, 2026"
    enrol(make_participant, "BU")
    with frozen(2026, 11, 24, 18):
        operations.scan_site(db_session, "BU", date(2026, 11, 25))
        assert operations.build_daily_digests(db_session) == []  # today's went out
    with frozen(2026, 11, 25, 6):
        (second,) = operations.build_daily_digests(db_session)
    body = db_session.get(OutboxMessage, second).body
    assert body.count("Check ") == 1


def test_dispatcher_scans_each_site_at_its_own_local_time(app, db_session, team):
    # 05:30 UTC: Kampala and Dar es Salaam 08:30, Pune 11:00 -> due;
    # Be'er Sheva 07:30, Hamburg and Ulm 06:30 -> not yet.
    with frozen(2026, 11, 23, 5, 30):
        report = operations.dispatch(db_session)
    assert report.scans == [("BU", MONDAY), ("DS", MONDAY), ("PU", MONDAY)]
    assert report.trial_scan is None  # 08:00 UTC for the trial-wide scan
    db_session.commit()
    run_eager_tasks()
    assert sorted(db_session.scalars(select(ScanRun.site_code))) == ["BU", "DS", "PU"]
    # the Monday digest reached the Kampala lead on Kampala's Monday
    assert inbox_of(db_session, team["lead"]) == ["weekly_site_digest:site:BU:2026-W48"]
    with frozen(2026, 11, 23, 7, 0):
        report = operations.dispatch(db_session)
    assert report.scans == [("BGU", MONDAY), ("UKE", MONDAY), ("ULM", MONDAY)]
    db_session.commit()
    run_eager_tasks()
    with frozen(2026, 11, 23, 7, 15):
        assert operations.dispatch(db_session).scans == []


def test_kampala_and_hamburg_scan_different_local_days_on_one_utc_day(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_LOCAL_TIME", "01:00")
    sunday = date(2026, 11, 22)
    # 22:30 UTC on Sunday: Monday 01:30 in Kampala, Sunday 23:30 in Hamburg.
    with frozen(2026, 11, 22, 22, 30):
        report = operations.dispatch(db_session)
    assert ("BU", MONDAY) in report.scans and ("UKE", sunday) in report.scans
    db_session.commit()
    run_eager_tasks()
    # 23:30 UTC: Monday 00:30 in Hamburg, before its scan time; Kampala is done.
    with frozen(2026, 11, 22, 23, 30):
        scans = operations.dispatch(db_session).scans
    assert not [code for code, _ in scans if code in ("BU", "UKE")]
    # 00:00 UTC Monday: 01:00 in Hamburg, its Monday scan is due.
    with frozen(2026, 11, 23, 0, 0):
        assert ("UKE", MONDAY) in operations.dispatch(db_session).scans


def test_cli_scan_dry_run_and_real(app, db_session, team, test_rule, make_participant):
    (participant,) = enrol(make_participant, "BU")
    runner = app.test_cli_runner()
    dry = runner.invoke(
        args=["reminders", "scan", "--site", "bu", "--as-of", "2026-11-24", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "BU 2026-11-24: 1 found (dry run, nothing saved)" in dry.output
    assert f"test_enrolled:participant:{participant.id}:2026-11" in dry.output
    assert count(db_session, Reminder) == 0
    real = runner.invoke(args=["reminders", "scan", "--site", "BU", "--as-of", "2026-11-24"])
    assert real.exit_code == 0, real.output
    assert "BU 2026-11-24: 1 new, 1 delivered" in real.output
    assert count(db_session, Reminder) == 1
    again = runner.invoke(args=["reminders", "scan", "--site", "BU", "--as-of", "2026-11-24"])
    assert "BU 2026-11-24: 0 new, 0 delivered" in again.output, again.output
    unknown = runner.invoke(args=["reminders", "scan", "--site", "XX"])
    assert unknown.exit_code == 1 and "No site XX." in unknown.output


def test_a_scan_that_dies_midway_leaves_nothing_and_a_later_run_completes_it(
    app, db_session, team, test_rule, make_participant
):
    from trialdm.extensions import celery
    from trialdm.reminders import scan as scanning

    enrol(make_participant, "BU")
    rw_id = team["rw"].id
    celery.loader.import_default_modules()
    scan = celery.tasks["trialdm.reminders.scan_site"]
    with pytest.MonkeyPatch.context() as patch:
        # the worker dies after the reminders are inserted, before they are delivered
        patch.setattr(scanning, "deliver_by_site", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            scan.apply(args=["BU", TUESDAY.isoformat()], throw=True)
    assert count(db_session, Reminder) == count(db_session, ScanRun) == 0
    with frozen(2026, 11, 24, 6):  # 09:00 in Kampala: the day's scan is still due
        assert ("BU", TUESDAY) in operations.dispatch(db_session).scans
        db_session.commit()
        run_eager_tasks()
    assert count(db_session, Reminder, Reminder.status == "delivered") == 1
    assert count(db_session, InboxEntry, InboxEntry.user_id == rw_id) == 1


def test_the_digest_counts_what_the_same_scan_found(
    app, db_session, team, test_rule, make_participant
):
    """On the digest day the digest runs after the other rules of the scan: the reminders
    they found that day are in its count, and a second scan counts nothing twice."""
    enrol(make_participant, "BU", 3)
    result = operations.scan_site(db_session, "BU", MONDAY)
    db_session.commit()
    digest = next(p for p in result.planned if p.rule == "weekly_site_digest")
    assert digest.title == "Weekly digest BU 2026-W48: 3 reminders"
    assert "Test: enrolled service users: 3" in digest.body
    again = operations.scan_site(db_session, "BU", MONDAY)
    repeated = next(p for p in again.planned if p.rule == "weekly_site_digest")
    assert repeated.title == digest.title


def test_mailed_links_open_pages_under_the_base_url(
    app, db_session, team, test_rule, make_participant, monkeypatch
):
    (participant,) = enrol(make_participant, "BU")
    monkeypatch.setitem(app.config, "BASE_URL", "https://trial.example.org/")
    with frozen(2026, 11, 24, 6):
        operations.scan_site(db_session, "BU", TUESDAY)
        db_session.commit()
        run_eager_tasks()
    (message,) = db_session.scalars(select(OutboxMessage)).all()
    assert f"https://trial.example.org/participants/{participant.id}\n" in message.body
    assert "https://trial.example.org/reminders\n" in message.body
    assert "/api/" not in message.body and "127.0.0.1" not in message.body
    from tests.web_helpers import login

    page = login(app.test_client(), team["rw"]).get(f"/participants/{participant.id}")
    assert page.status_code == 200 and participant.study_id in page.get_data(as_text=True)


def test_sites_due_together_are_scanned_in_one_task_and_alone_when_that_fails(
    app, db_session, team, test_rule, make_participant
):
    from trialdm.extensions import celery

    enrol(make_participant, "BU")
    celery.loader.import_default_modules()
    ran: list[str] = []

    def counted(name):
        original = celery.tasks[name].run

        def run(*args, **kwargs):
            ran.append(name)
            return original(*args, **kwargs)

        return run

    with pytest.MonkeyPatch.context() as patch:
        for name in ("trialdm.reminders.scan_sites", "trialdm.reminders.scan_site"):
            patch.setattr(celery.tasks[name], "run", counted(name))
        # scanning the sites together fails (say, one site's data trips a rule)
        patch.setattr(operations, "scan_sites", lambda *a, **k: 1 / 0)
        with frozen(2026, 11, 23, 5, 30):
            report = operations.dispatch(db_session)
            db_session.commit()
            run_eager_tasks()
    assert report.scans == [("BU", MONDAY), ("DS", MONDAY), ("PU", MONDAY)]
    assert ran == ["trialdm.reminders.scan_sites"] + ["trialdm.reminders.scan_site"] * 3
    # each site was then scanned on its own, and BU's reminder delivered
    assert sorted(db_session.scalars(select(ScanRun.site_code))) == ["BU", "DS", "PU"]
    found = Reminder.dedupe_key.like("test_enrolled:%")
    assert count(db_session, Reminder, found, Reminder.status == "delivered") == 1
