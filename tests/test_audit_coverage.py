"""Audit without gaps: every model is audited or says why not; sync commands are
audited with their source; reads of identifying data survive a request's rollback."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import worker_suffix
from tests.web_helpers import login
from trialdm.core.audit import Audited, AuditEvent
from trialdm.core.models import Base
from trialdm.translation.models import PseudonymKeyEntry, Transcript


def test_every_mapped_model_is_audited_or_says_why_not():
    unexplained = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        audited = issubclass(cls, Audited)
        reason = cls.__dict__.get("__audit_exempt__", "")
        if audited == bool(reason):
            unexplained.append(cls.__name__)
    assert unexplained == []


def test_sites_sync_changes_are_audited_with_their_source(app, db_session, tmp_path):
    folder = tmp_path / "sites"
    shutil.copytree(Path(app.config["SITES_DIR"]), folder)
    bu = folder / "BU.toml"
    text = bu.read_text(encoding="utf-8")
    assert 'timezone = "Africa/Kampala"' in text
    bu.write_text(text.replace('timezone = "Africa/Kampala"', 'timezone = "Africa/Nairobi"'))
    original = app.config["SITES_DIR"]
    app.config["SITES_DIR"] = str(folder)
    try:
        result = app.test_cli_runner().invoke(args=["sites", "sync"])
    finally:
        app.config["SITES_DIR"] = original
    assert result.exit_code == 0, result.output
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "sites",
            AuditEvent.entity_id == "BU",
            AuditEvent.action == "update",
        )
    ).one()
    assert event.source == "cli"
    assert event.changes == {"timezone": ["Africa/Kampala", "Africa/Nairobi"]}


def test_reading_verbatim_text_is_audited_even_when_the_page_answers_422(
    app, make_user, db_session
):
    from trialdm.qualitative.operations import create_session

    held = create_session(
        db_session, "focus_group", {"site": "BU", "date": date(2025, 5, 2), "mode": "in_person"}
    )
    transcript = Transcript(
        session_id=held.id,
        site_code="BU",
        session_kind="interview",
        title="Interview 4",
        language="en",
        state="transcribed",
        verbatim_text="Anna met Peter at the market.",
    )
    db_session.add(transcript)
    db_session.add(PseudonymKeyEntry(site_code="BU", term="Anna", placeholder="[SU-1]"))
    db_session.commit()
    lead = login(app.test_client(), make_user("site_lead", ["BU"]))
    url = f"/translation/transcripts/{transcript.id}/pseudonymisation"
    assert lead.post(url, data={"action": "apply"}).status_code == 302
    db_session.refresh(transcript)
    refused = lead.post(url, data={"action": "confirm", "version": str(transcript.version_id)})
    assert refused.status_code == 422
    views = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "view_verbatim", AuditEvent.entity_id == str(transcript.id)
        )
    ).all()
    assert len(views) == 1
    assert views[0].site_code == "BU"


def test_reading_a_table_of_a_job_is_audited(api_as, make_participant, db_session):
    make_participant("BU", enrolment_date=date(2025, 4, 2))
    lead = api_as("site_lead", ["BU"])
    job = lead.post("/api/v1/summaries", json={"scope": "BU", "tables": ["participant_listing"]})
    assert job.status_code == 202
    url = f"/api/v1/summaries/{job.json['id']}/tables/participant_listing"
    assert lead.get(url).status_code == 200
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "read_table")).one()
    assert event.user_id == lead.user.id and event.site_code == "BU"
    assert event.changes == {"table": "participant_listing", "scope": "BU"}


def test_the_application_role_cannot_touch_the_audit_trail(app, db_session):
    """On PostgreSQL the service connects as a member of trialdm_app, which may not
    update, delete or truncate audit rows nor switch their trigger off."""
    import sqlalchemy as sa

    from trialdm.extensions import db

    if db.engine.dialect.name != "postgresql":
        pytest.skip("database roles are PostgreSQL's (the suite runs on it under CI)")
    role = f"trialdm_app_test_{worker_suffix()}"
    admin = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN IN ROLE trialdm_app'))
    admin.dispose()
    service = sa.create_engine(db.engine.url.set(username=role, password=None))
    try:
        with service.connect() as conn:
            probe = conn.begin()  # rolled back: the suite's audit trail stays as it was
            conn.execute(
                sa.text(
                    "INSERT INTO audit_events (at, source, action, entity, changes) "
                    "VALUES (now(), 'system', 'probe', 'test', '{}')"
                )
            )
            assert conn.scalar(sa.text("SELECT count(*) FROM sites")) >= 6
            probe.rollback()
        for statement in (
            "UPDATE audit_events SET reason = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
            "DROP TRIGGER audit_events_append_only ON audit_events",
        ):
            refused = pytest.raises(
                sa.exc.ProgrammingError, match=r"permission denied|must be owner"
            )
            with refused, service.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        service.dispose()
        cleanup = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
        with cleanup.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        cleanup.dispose()
