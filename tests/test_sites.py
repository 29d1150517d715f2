import pytest
from sqlalchemy import select

from trialdm.sites.models import Site
from trialdm.sites.operations import SiteFileError, load_site_files, parse_site_file, sync_sites

VALID = (
    'code = "{code}"\nname = "X"\ncountry = "Y"\ncity = "Z"\nlanguages = ["en"]\n'
    'timezone = "Africa/Kampala"\n'
)


def test_shipped_sites_are_the_six_upsides_sites(app):
    from pathlib import Path

    definitions = load_site_files(Path(app.config["SITES_DIR"]))
    assert {d["code"] for d in definitions} == {"ULM", "UKE", "BU", "DS", "PU", "BGU"}
    bgu = next(d for d in definitions if d["code"] == "BGU")
    assert bgu["timezone"] == "Asia/Jerusalem" and "he" in bgu["languages"]


def test_sync_is_idempotent_and_reports_changes(db_session, tmp_path):
    (tmp_path / "QQ.toml").write_text(VALID.format(code="QQ"))
    first = sync_sites(db_session, load_site_files(tmp_path))
    assert first.added == ["QQ"]
    again = sync_sites(db_session, load_site_files(tmp_path))
    assert again.added == [] and again.unchanged == ["QQ"]
    (tmp_path / "QQ.toml").write_text(VALID.format(code="QQ").replace('city = "Z"', 'city = "W"'))
    changed = sync_sites(db_session, load_site_files(tmp_path))
    assert changed.updated == {"QQ": ["city"]}
    assert db_session.scalar(select(Site.city).where(Site.code == "QQ")) == "W"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (
            VALID.format(code="QQ").replace(
                'timezone = "Africa/Kampala"', 'timezone = "Mars/Base"'
            ),
            "timezone",
        ),
        (VALID.format(code="QQ").replace('languages = ["en"]', "languages = []"), "languages"),
        (VALID.format(code="QQ").replace('name = "X"\n', ""), "name"),
        (VALID.format(code="QQ") + 'colour = "red"\n', "colour"),
        (VALID.format(code="QQ") + "broken = [", "(file)"),
        (VALID.format(code="XY"), "code"),
    ],
)
def test_malformed_file_is_rejected_with_file_and_field(tmp_path, content, field):
    path = tmp_path / "QQ.toml"
    path.write_text(content)
    with pytest.raises(SiteFileError) as raised:
        parse_site_file(path)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"QQ.toml: {field}:")
