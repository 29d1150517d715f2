"""The published UPSIDES focus groups load from the reference files, all or nothing."""

import io
from collections import Counter

from sqlalchemy import func, select

from trialdm.core.audit import AuditEvent
from trialdm.participants.models import Participant
from trialdm.qualitative.models import QualitativeMember, QualitativeSession

PUBLISHED_GENDERS = {
    "ULM": {"female": 3, "male": 1},
    "BU": {"female": 4, "male": 2},
    "PU": {"female": 1, "male": 2},
    "BGU": {"female": 6},
    "UKE": {"female": 2, "male": 1},
    "DS": {"female": 3},
}


def reference_args(reference_dir):
    return [
        "import",
        "focus-groups",
        str(reference_dir / "upsides_fgd_sessions.csv"),
        str(reference_dir / "upsides_fgd_members.csv"),
    ]


def test_reference_focus_groups_load_and_a_second_run_changes_nothing(
    app, db_session, reference_dir
):
    runner = app.test_cli_runner()
    result = runner.invoke(args=reference_args(reference_dir))
    assert result.exit_code == 0, result.output
    assert "imported 6 focus groups with 25 members (25 new participants)" in result.output
    assert "ULM:ULM-MHW-01 -> ULM-MHW-01" in result.output
    groups = db_session.scalars(select(QualitativeSession)).all()
    assert sorted(g.site_code for g in groups) == ["BGU", "BU", "DS", "PU", "UKE", "ULM"]
    uke = next(g for g in groups if g.site_code == "UKE")
    assert (uke.mode, uke.location, uke.duration_min, uke.language) == (
        "online",
        "online",
        120,
        "de",
    )
    members = db_session.scalars(select(QualitativeMember)).all()
    assert len(members) == 25
    genders: dict[str, Counter] = {}
    for member in members:
        genders.setdefault(member.site_code, Counter())[member.gender] += 1
    assert {site: dict(c) for site, c in genders.items()} == PUBLISHED_GENDERS
    ulm_ages = sorted(m.age for m in members if m.site_code == "ULM")
    assert ulm_ages == [48, 51, 52, 57]
    people = db_session.scalars(select(Participant).where(Participant.category == "mhw")).all()
    assert len(people) == 25 and {p.study_id for p in people} == {m.member_code for m in members}
    imported = db_session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity == "qualitative_members", AuditEvent.source == "import")
    )
    assert imported == 25

    again = runner.invoke(args=reference_args(reference_dir))
    assert again.exit_code == 1
    assert "upsides_fgd_sessions.csv line 2: (row): Already imported as focus group" in again.output
    assert db_session.scalar(select(func.count()).select_from(QualitativeSession)) == 6
    assert db_session.scalar(select(func.count()).select_from(Participant)) == 25


def test_member_codes_map_to_participants_already_imported(
    app, db_session, reference_dir, tmp_path
):
    runner = app.test_cli_runner()
    assert runner.invoke(args=reference_args(reference_dir)).exit_code == 0
    (tmp_path / "s.csv").write_text(
        "site_code,date,mode,location\nBU,2022-05-01,online,online\n", encoding="utf-8"
    )
    (tmp_path / "m.csv").write_text(
        "site_code,member_code,gender,age,profession\n"
        "BU,BU-MHW-02,female,55,nurse\nBU,BU-MHW-07,male,30,nurse\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        args=["import", "focus-groups", str(tmp_path / "s.csv"), str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "2 members (1 new participants)" in result.output
    assert "BU:BU-MHW-02 -> BU-MHW-02" in result.output
    assert "BU:BU-MHW-07 -> BU-MHW-07" in result.output
    # the same person now has two memberships, with the answers of each session
    ages = db_session.scalars(
        select(QualitativeMember.age)
        .where(QualitativeMember.member_code == "BU-MHW-02")
        .order_by(QualitativeMember.id)
    ).all()
    assert ages == [54, 55]


def test_bad_rows_import_nothing_and_name_file_line_and_field(api_as, db_session):
    api = api_as("site_lead", ["BU"])
    sessions = (
        "site_code,kind,date,duration_min,location,mode,language\n"
        "BU,focus_group,2021-08-24,51,Butabika,in_person,en\n"
        "PU,focus_group,2021-13-01,5,Elsewhere,in_person,en\n"
        "ULM,focus_group,2021-09-07,70,Guenzburg,in_person,de\n"
    )
    members = (
        "site_code,member_code,gender,age,profession\n"
        "BU,BU-MHW-01,female,35,psychiatrist\n"
        "BU,BU-MHW-02,woman,abc,nurse\n"
        "BU,BU-MHW-01,female,35,psychiatrist\n"
    )
    response = api.post(
        "/api/v1/focus-groups/import",
        data={
            "sessions": (io.BytesIO(sessions.encode()), "sessions.csv"),
            "members": (io.BytesIO(members.encode()), "members.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert errors["sessions line 3"] == ["date: Not a valid date."]
    assert errors["sessions line 4"] == ["site: Not one of your sites."]
    assert errors["members line 3"] == [
        "gender: Must be one of: female, male, diverse, not_stated.",
        "age: A whole number of years, 0-120.",
    ]
    assert errors["members line 4"] == ["member_code: Listed twice for this focus group."]
    assert db_session.scalar(select(func.count()).select_from(QualitativeSession)) == 0
    assert db_session.scalar(select(func.count()).select_from(Participant)) == 0


def test_upload_of_the_reference_files(api_as, reference_dir):
    api = api_as("admin")
    files = {
        name: (
            io.BytesIO((reference_dir / f"upsides_fgd_{name}.csv").read_bytes()),
            f"{name}.csv",
        )
        for name in ("sessions", "members")
    }
    response = api.post(
        "/api/v1/focus-groups/import", data=files, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    assert response.json["sessions"] == 6 and response.json["members"] == 25
    groups = api.get("/api/v1/focus-groups?site=BGU").json["items"]
    assert len(groups) == 1 and len(groups[0]["members"]) == 6
    assert groups[0]["location"] == "Centre of Israel, Lod"
