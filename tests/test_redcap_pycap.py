"""PyCap, unchanged, against trialdm on a loopback port: the app runs in a real server
thread on its own committed database, and PyCap talks HTTP to it as to REDCap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from redcap import Project
from redcap.request import RedcapError
from werkzeug.serving import make_server

from tests.redcap_helpers import BASELINE, BU1_DIAGNOSES
from tests.reminders_helpers import build_separate_app
from tests.seeders.instruments import sync_shipped
from trialdm.auth.operations import create_token, create_user
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.instruments.operations import create_response
from trialdm.participants.operations import create_participant


def _enrol(site: str, day: date):
    return create_participant(
        db.session,
        {
            "site": site,
            "category": "service_user",
            "gender": "female",
            "year_of_birth": 1980,
            "enrolment_date": day,
            "consent_date": day,
            "consent_version": "1.0",
            "arm": "intervention",
            # the record's diagnoses, which BASELINE's diagnoses items show (derived)
            "diagnoses": BU1_DIAGNOSES,
        },
    )


@pytest.fixture
def server(tmp_path: Path, monkeypatch) -> Iterator[dict]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    app = build_separate_app(tmp_path, "redcap_pycap")
    with app.app_context(), all_sites():
        sync_shipped(db.session)
        bu1 = _enrol("BU", date(2025, 1, 31))
        bu2 = _enrol("BU", date(2025, 2, 10))
        ulm = _enrol("ULM", date(2025, 2, 1))
        create_response(
            db.session,
            {
                "participant_id": bu1.id,
                "instrument": "baseline_demographics",
                "event": "T0",
                "status": "complete",
                "collected_on": date(2025, 2, 1),
                "answers": BASELINE,
            },
        )
        admin = create_user(db.session, "admin@pycap.test", "admin")
        ulm_worker = create_user(db.session, "rw.ulm@pycap.test", "research_worker", ["ULM"])
        _, admin_token = create_token(db.session, admin, "pycap", redcap=True)
        _, ulm_token = create_token(db.session, ulm_worker, "pycap", redcap=True)
        db.session.commit()
        ids = {"bu1": bu1.study_id, "bu2": bu2.study_id, "ulm": ulm.study_id}
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "url": f"http://127.0.0.1:{http.server_port}/api/",
            "admin": admin_token,
            "ulm_token": ulm_token,
            **ids,
        }
    finally:
        http.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


def test_pycap_reads_and_writes_trialdm_as_a_redcap_project(server):
    project = Project(server["url"], server["admin"])
    assert len(server["admin"]) == 32
    assert project.def_field == "study_id"
    assert project.is_longitudinal
    assert str(project.redcap_version) == "14.0.0"

    metadata = project.export_metadata()
    assert metadata[0]["field_name"] == "study_id"
    assert {"baseline_demographics", "social_inclusion_scale"} == {
        row["form_name"] for row in metadata
    }
    names = project.export_field_names()
    exported = {n["export_field_name"] for n in names}
    assert {"diagnoses___depression", "si_total", "study_id"} <= exported

    records = project.export_records()
    assert [(r["study_id"], r["redcap_event_name"]) for r in records] == [
        (server["bu1"], "t0_arm_1"),
        (server["bu2"], "t0_arm_1"),
        (server["ulm"], "t0_arm_1"),
    ]
    assert records[0]["gender"] == "female" and records[0]["diagnoses___other"] == "1"

    frame = project.export_records(format_type="df")
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.names == ["study_id", "redcap_event_name"]
    assert frame.loc[(server["bu1"], "t0_arm_1"), "year_of_birth"] == 1985
    assert frame.loc[(server["bu1"], "t0_arm_1"), "baseline_demographics_complete"] == 2

    answers = {f"si_{i:02d}": 3 for i in range(1, 11)}
    result = project.import_records(
        [{"study_id": server["bu2"], "redcap_event_name": "t1_arm_1", **answers}]
    )
    assert result == {"count": 1}
    after = project.export_records(records=[server["bu2"]], events=["t1_arm_1"])
    assert after[0]["si_01"] == "3"
    assert after[0]["si_total"] == "24"  # items 3 and 7 are reverse-scored: 3 -> 0
    assert after[0]["social_inclusion_scale_complete"] == "0"

    with pytest.raises(RedcapError) as refused:
        project.import_records(
            [{"study_id": server["bu2"], "redcap_event_name": "t2_arm_1", "si_01": "9"}]
        )
    assert "si_01" in str(refused.value)

    # A completed form changes with a reason, which PyCap sends as a header.
    correction = [{"study_id": server["bu1"], "redcap_event_name": "t0_arm_1", "gender": "male"}]
    with pytest.raises(RedcapError, match="reason"):
        project.import_records(correction)
    with_reason = Project(server["url"], server["admin"], headers={"X-Reason": "Typo"})
    assert with_reason.import_records(correction, return_content="ids") == [server["bu1"]]
    frame = project.export_records(format_type="df", fields=["gender"])
    assert frame.loc[(server["bu1"], "t0_arm_1"), "gender"] == "male"


def test_a_site_token_sees_only_its_site(server):
    project = Project(server["url"], server["ulm_token"])
    records = project.export_records()
    assert {r["study_id"] for r in records} == {server["ulm"]}
    frame = project.export_records(format_type="df")
    assert list(frame.index.get_level_values("study_id")) == [server["ulm"]]
    with pytest.raises(RedcapError):
        project.import_records(
            [{"study_id": server["bu1"], "redcap_event_name": "t1_arm_1", "si_01": "1"}]
        )


def test_a_wrong_token_is_refused(server):
    with pytest.raises(RedcapError) as refused:
        Project(server["url"], "0" * 32).export_records()
    assert "not valid" in str(refused.value)
