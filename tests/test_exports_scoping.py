"""Site scoping of exports below the ORM: the datasets are read as Core rows on the
session's Connection, where the ORM listener does not fire, so ``stream()`` adds
the same criteria; a site lead's export must never hold another site's rows."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from tests.exports_fixtures import export, probe_trial
from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.exports.datasets import stream
from trialdm.participants.models import Participant

DATASETS = ["export_probe", "participants", "contacts", "screening", "schedule"]


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


def test_stream_keeps_to_the_scope_on_every_entity_and_alias(trial, db_session):
    person, other = Participant, aliased(Participant)
    pairs = (
        select(person.study_id, other.study_id)
        .join(other, other.id != person.id)
        .order_by(person.study_id, other.study_id)
    )
    with scoped_to(SiteScope(codes=frozenset({"BU"}))):
        rows = [tuple(r) for r in stream(db_session, pairs)]
        ids = [r[0] for r in stream(db_session, select(person.study_id))]
    assert sorted(ids) == sorted([trial.full_id, trial.sparse_id])
    assert rows == sorted([(trial.full_id, trial.sparse_id), (trial.sparse_id, trial.full_id)])
    with scoped_to(SiteScope(codes=frozenset({"ULM"}))):
        assert [r[0] for r in stream(db_session, select(person.study_id))] == [trial.other_id]
    with scoped_to(SiteScope()):
        assert list(stream(db_session, select(person.study_id))) == []


def test_site_lead_csv_export_holds_no_other_site_rows(trial, api_as):
    lead = api_as("site_lead", ["BU"])
    job, archive = export(lead, scope="BU", format="csv", datasets=DATASETS)
    assert job["result"]["participants"]["rows"] == 2
    assert job["result"]["export_probe"]["rows"] == 2
    for name in DATASETS:
        text = archive.read(f"{name}.csv").decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert all(row["site"] == "BU" for row in rows), name
        assert trial.other_id not in text and "ULM-ONLY-COMMENT" not in text, name


def test_site_lead_stata_export_holds_no_other_site_rows(trial, api_as):
    import pyreadstat

    lead = api_as("site_lead", ["BU"])
    job, archive = export(lead, scope="BU", format="stata", datasets=DATASETS)
    with tempfile.TemporaryDirectory() as folder:
        for name in DATASETS:
            path = Path(folder) / f"{name}.dta"
            path.write_bytes(archive.read(f"{name}.dta"))
            frame, _ = pyreadstat.read_dta(str(path))
            assert len(frame) == job["result"][name]["rows"], name
            assert set(frame["site"]) <= {"BU"}, name
            assert trial.other_id not in set(frame["study_id"]), name
    assert job["result"]["participants"]["rows"] == 2
