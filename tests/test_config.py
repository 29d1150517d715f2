import pytest

from trialdm.config import ConfigError, load_settings


def test_defaults_without_environment(tmp_path):
    settings = load_settings({}, instance_path=tmp_path)
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'trialdm.db'}"
    assert settings["BROKER_URL"].startswith("sqla+sqlite:///")
    assert settings["FIDELITY_MIN_CONTACTS"] == 3


def test_environment_values_are_parsed(tmp_path):
    settings = load_settings(
        {
            "TRIALDM_ELIGIBLE_MAX_AGE": "65",
            "TRIALDM_TASKS_EAGER": "yes",
            "TRIALDM_REMINDER_LOCAL_TIME": "7:30",
        },
        instance_path=tmp_path,
    )
    assert settings["ELIGIBLE_MAX_AGE"] == 65
    assert settings["TASKS_EAGER"] is True
    assert settings["REMINDER_LOCAL_TIME"] == "07:30"


def test_unknown_and_malformed_settings_are_named(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                "TRIALDM_DATABSE_URL": "x",
                "TRIALDM_ELIGIBLE_MIN_AGE": "eighteen",
                "TRIALDM_SMTP_TLS": "maybe",
            },
            instance_path=tmp_path,
        )
    message = str(raised.value)
    assert "TRIALDM_DATABSE_URL: unknown setting" in message
    assert "TRIALDM_ELIGIBLE_MIN_AGE: expected a whole number" in message
    assert "TRIALDM_SMTP_TLS: expected one of none, starttls, ssl" in message


def test_inconsistent_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="ELIGIBLE_MIN_AGE: must not exceed"):
        load_settings({"TRIALDM_ELIGIBLE_MIN_AGE": "70"}, instance_path=tmp_path)


def test_create_app_stops_on_bad_settings(tmp_path):
    from trialdm import create_app

    with pytest.raises(ConfigError):
        create_app(environ={"TRIALDM_INSTANCE_PATH": str(tmp_path), "TRIALDM_PORT": "1"})


def test_cli_prints_a_clear_message(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "trialdm.cli:_create_app", "config"],
        env={
            "TRIALDM_INSTANCE_PATH": str(tmp_path),
            "TRIALDM_MAX_CONTENT_LENGTH": "-1",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "TRIALDM_MAX_CONTENT_LENGTH: expected a whole number above 0" in result.stderr
