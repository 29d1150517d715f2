"""Concealed stratified permuted-block randomisation through the API."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

import pytest
from sqlalchemy import select

from tests.randomisation_helpers import GENDER_SCHEME, eligible_participant, randomising
from trialdm.core.audit import AuditEvent


@pytest.fixture
def trial(app, tmp_path):
    with randomising(app, tmp_path) as path:
        yield path


@pytest.fixture
def statistician(api_as):
    return api_as("statistician")


def export(statistician, list_id):
    response = statistician.get(f"/api/v1/randomisation/lists/{list_id}/export")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_allocate_once_from_the_list_and_never_again(trial, statistician, api_as, db_session):
    made = statistician.post("/api/v1/randomisation/lists")
    assert made.status_code == 201, made.json
    assert made.json["source"] == "generated" and made.json["active"] is True
    participant = eligible_participant(db_session, gender="male")
    db_session.commit()
    worker = api_as("research_worker", ["BU"])
    url = f"/api/v1/participants/{participant.id}/randomisation"

    assert worker.get(url).status_code == 404
    allocated = worker.post(url)
    assert allocated.status_code == 201, allocated.json
    body = allocated.json
    assert body["arm"] in ("intervention", "control")
    assert body["stratum"] == "gender=male"
    assert body["randomised_by"] == worker.user.email
    assert "position" not in body and "block_size" not in body

    rows = export(statistician, made.json["id"])
    first_male = next(r for r in rows if r["site"] == "BU" and r["stratum"] == "gender=male")
    assert first_male["position"] == "1" and first_male["study_id"] == participant.study_id
    assert body["arm"] == first_male["arm"]

    shown = worker.get(f"/api/v1/participants/{participant.id}").json
    assert shown["arm"] == body["arm"]
    again = worker.post(url)
    assert again.status_code == 409
    assert worker.get(url).json["arm"] == body["arm"]
    # Nothing changes an allocation: there is no method for it.
    assert worker.patch(url, json={"arm": "control", "reason": "x"}).status_code == 405
    assert worker.delete(url + "?reason=x").status_code == 405

    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "randomisations")
    ).all()
    assert len(events) == 1
    assert events[0].changes["arm"] == [None, body["arm"]]
    assert events[0].user_email == worker.user.email
    assert "position" not in events[0].changes and "slot_id" not in events[0].changes


def test_the_list_is_concealed_from_everyone_who_enrols(trial, statistician, api_as, db_session):
    made = statistician.post("/api/v1/randomisation/lists").json
    assert made["seed"] and len(made["seed"]) == 32
    urls = [
        "/api/v1/randomisation/lists",
        f"/api/v1/randomisation/lists/{made['id']}/export",
        "/api/v1/randomisation/balance",
    ]
    for role, sites in (
        ("research_worker", ["BU"]),
        ("site_lead", ["BU"]),
        ("coordinator", None),
    ):
        user = api_as(role, sites)
        for url in urls:
            assert user.get(url).status_code == 403, (role, url)
        assert user.post("/api/v1/randomisation/lists").status_code == 403
    admin = api_as("admin")
    assert admin.get(urls[1]).status_code == 200
    # The seed regenerates every arm: it stays out of the audit trail.
    created = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "allocation_lists")
    ).one()
    assert "seed" not in created.changes
    assert made["seed"] not in str(created.changes)
    # The statistician holds the lists but does not enrol anyone.
    participant = eligible_participant(db_session)
    db_session.commit()
    refused = statistician.post(f"/api/v1/participants/{participant.id}/randomisation")
    assert refused.status_code == 403
    exported = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "AllocationList", AuditEvent.action == "export"
        )
    ).all()
    assert len(exported) == 1


def test_only_a_consented_eligible_enrolled_participant_is_randomised(
    trial, statistician, api_as, make_participant, db_session, trial_minimum_record
):
    # A trial whose records may lack a gender: randomisation must refuse them (gender is
    # a stratum) where record entry did not.
    trial_minimum_record(
        '[service_user]\non_creation = [["year_of_birth", "age"]]\n'
        'on_enrolment = ["consent_date", "consent_version"]\n'
    )
    from datetime import date

    from trialdm.core.scoping import all_sites
    from trialdm.participants.operations import create_participant

    statistician.post("/api/v1/randomisation/lists")
    worker = api_as("research_worker", ["BU"])
    with all_sites():
        unscreened = create_participant(
            db_session,
            {
                "site": "BU",
                "category": "service_user",
                "year_of_birth": 1990,
                "enrolment_date": date(2025, 3, 1),
                "consent_date": date(2025, 3, 1),
                "consent_version": "1.0",
            },
        )
    db_session.commit()
    refused = worker.post(f"/api/v1/participants/{unscreened.id}/randomisation")
    assert refused.status_code == 422
    # not screened eligible, and no gender to stratify by
    assert set(refused.json["errors"]) == {"screening", "gender"}
    assert "female, male" in refused.json["errors"]["gender"][0]
    psw = make_participant("BU", "psw", year_of_birth=1980)
    assert worker.post(f"/api/v1/participants/{psw.id}/randomisation").status_code == 422
    other_site = eligible_participant(db_session, site="ULM")
    db_session.commit()
    assert worker.post(f"/api/v1/participants/{other_site.id}/randomisation").status_code == 404


def test_the_arm_is_not_typed_where_the_trial_randomises(trial, api_as, db_session):
    worker = api_as("research_worker", ["BU"])
    record = {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": 1985,
        "enrolment_date": "2025-03-01",
        "consent_date": "2025-03-01",
        "consent_version": "1.0",
    }
    typed = worker.post("/api/v1/participants", json={**record, "arm": "intervention"})
    assert typed.status_code == 422
    assert "randomisation" in typed.json["errors"]["arm"][0]
    created = worker.post("/api/v1/participants", json=record)
    assert created.status_code == 201, created.json
    assert created.json["arm"] is None
    changed = worker.patch(
        f"/api/v1/participants/{created.json['id']}",
        json={"arm": "control", "reason": "typed"},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert changed.status_code == 422 and set(changed.json["errors"]) == {"arm"}


def test_a_trial_that_allocates_elsewhere_types_the_arm(app, api_as, db_session):
    assert app.config["RANDOMISATION"] == "external"
    participant = eligible_participant(db_session, arm="control")
    db_session.commit()
    worker = api_as("research_worker", ["BU"])
    refused = worker.post(f"/api/v1/participants/{participant.id}/randomisation")
    assert refused.status_code == 409
    assert "elsewhere" in refused.json["detail"]


def test_errors_are_recorded_beside_the_allocation(trial, statistician, api_as, db_session):
    statistician.post("/api/v1/randomisation/lists")
    participant = eligible_participant(db_session)
    db_session.commit()
    lead = api_as("site_lead", ["BU"])
    url = f"/api/v1/participants/{participant.id}/randomisation"
    arm = lead.post(url).json["arm"]
    missing = lead.post(url + "/errors", json={"kind": "wrong_stratum"})
    assert missing.status_code == 422 and "description" in missing.json["errors"]
    recorded = lead.post(
        url + "/errors",
        json={"kind": "wrong_stratum", "description": "Gender was entered wrongly at screening."},
    )
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["recorded_by"] == lead.user.email
    shown = lead.get(url).json
    assert shown["arm"] == arm
    assert [e["kind"] for e in shown["errors"]] == ["wrong_stratum"]
    assert lead.get(f"/api/v1/participants/{participant.id}").json["arm"] == arm


def test_blocks_keep_every_stratum_balanced_over_1000_allocations(
    app, tmp_path, statistician, db_session
):
    """1,000 participants of two sites and two strata: after every allocation each
    stratum is within half the largest block of balance, and exactly balanced at the
    end of every block; the balance report agrees with the export."""
    from trialdm.core.scoping import all_sites
    from trialdm.randomisation.operations import randomise

    with randomising(app, tmp_path, GENDER_SCHEME % 260):
        made = statistician.post("/api/v1/randomisation/lists").json
        running: dict[tuple[str, str], Counter] = defaultdict(Counter)
        worst = 0
        with all_sites():
            for index in range(1000):
                site = ("BU", "ULM")[index % 2]
                gender = ("female", "male")[(index // 2) % 2]
                participant = eligible_participant(db_session, site=site, gender=gender)
                allocation = randomise(db_session, participant)
                counts = running[(site, allocation.stratum)]
                counts[allocation.arm] += 1
                worst = max(worst, abs(counts["intervention"] - counts["control"]))
        db_session.commit()
        assert worst <= 3  # half the largest block (6)
        rows = export(statistician, made["id"])
        allocated = [r for r in rows if r["study_id"]]
        assert len(allocated) == 1000
        by_block: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
        for row in rows:
            by_block[(row["site"], row["stratum"], row["block_number"])][row["arm"]] += 1
        sizes = Counter(sum(c.values()) for c in by_block.values())
        assert set(sizes) <= {2, 4, 6} and len(sizes) > 1
        assert all(c["intervention"] == c["control"] for c in by_block.values())
        report = statistician.get("/api/v1/randomisation/balance").json
        assert report["totals"]["allocated"] == 1000
        for stratum in report["strata"]:
            counts = running[(stratum["site"], stratum["stratum"])]
            assert stratum["arms"] == {
                "intervention": counts["intervention"],
                "control": counts["control"],
            }
            assert stratum["imbalance"] == abs(counts["intervention"] - counts["control"])
        assert {s["site"] for s in report["strata"]} >= {"BU", "ULM"}


def test_uploaded_list_is_used_in_its_order_and_bad_files_name_line_and_field(
    trial, statistician, api_as, db_session
):
    bad = (
        "site,stratum,position,arm\n"
        "BU,gender=female,1,intervention\n"
        "XX,gender=female,2,placebo\n"
        "BU,gender=male,0,control\n"
    )
    refused = statistician.client.post(
        "/api/v1/randomisation/lists/upload",
        data={"file": (io.BytesIO(bad.encode()), "list.csv")},
        headers={"Authorization": f"Bearer {statistician.token}"},
    )
    assert refused.status_code == 422
    problems = refused.json["errors"]["file"]
    assert "list.csv, line 3, site: 'XX' is not a site of the trial" in problems
    assert any(p.startswith("list.csv, line 3, arm:") for p in problems)
    assert any(p.startswith("list.csv, line 4, position:") for p in problems)
    assert statistician.get("/api/v1/randomisation/lists").json["items"] == []

    good = "site,stratum,position,arm\n" + "".join(
        f"BU,gender=female,{n},{arm}\n"
        for n, arm in enumerate(["control", "control", "intervention"], start=1)
    )
    uploaded = statistician.client.post(
        "/api/v1/randomisation/lists/upload",
        data={"file": (io.BytesIO(good.encode()), "list.csv")},
        headers={"Authorization": f"Bearer {statistician.token}"},
    )
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["slot_count"] == 3 and uploaded.json["file_name"] == "list.csv"
    worker = api_as("research_worker", ["BU"])
    arms = []
    for _ in range(4):
        participant = eligible_participant(db_session)
        db_session.commit()
        response = worker.post(f"/api/v1/participants/{participant.id}/randomisation")
        arms.append(
            response.json.get("arm") if response.status_code == 201 else response.status_code
        )
    assert arms == ["control", "control", "intervention", 409]
    # A list that was allocated from is replaced only with a reason (e.g. used up).
    refused = statistician.post("/api/v1/randomisation/lists")
    assert refused.status_code == 409 and "reason" in refused.json["errors"]
    replaced = statistician.post(
        "/api/v1/randomisation/lists", json={"reason": "female stratum at BU used up"}
    )
    assert replaced.status_code == 201, replaced.json
    participant = eligible_participant(db_session)
    db_session.commit()
    assert worker.post(f"/api/v1/participants/{participant.id}/randomisation").status_code == 201
    lists = statistician.get("/api/v1/randomisation/lists").json["items"]
    assert [(item["source"], item["active"]) for item in lists] == [
        ("generated", True),
        ("uploaded", False),
    ]
    retired = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "allocation_lists", AuditEvent.action == "update"
        )
    ).all()
    assert [e.reason for e in retired] == ["female stratum at BU used up"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("block_sizes = [2, 3]\n", "block_sizes[2]: 3 is not a multiple of the ratio's sum 2"),
        ("block_sizes = [4]\nratio = { intervention = 2 }\n", "ratio: give a whole number"),
        (
            'block_sizes = [2]\n[[strata]]\nfield = "age"\nlevels = ["young"]\n',
            "strata[1].field: 'age' cannot stratify",
        ),
        (
            'block_sizes = [2]\n[[strata]]\nfield = "gender"\nlevels = ["woman"]\n',
            "strata[1].levels: not values of gender: woman",
        ),
    ],
)
def test_a_broken_scheme_stops_the_service_naming_file_and_key(tmp_path, text, message):
    from trialdm import create_app
    from trialdm.config import ConfigError

    path = tmp_path / "scheme.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "SECRET_KEY": "x",
                "RANDOMISATION": "service",
                "RANDOMISATION_SCHEME": str(path),
            },
            environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")},
        )
    assert str(path) in str(raised.value) and message in str(raised.value)
