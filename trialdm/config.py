"""Settings: one table of defaults, overridden by ``TRIALDM_*`` environment variables.

Nothing is read at import time: :func:`load_settings` is called by ``create_app``
with the environment it is given, validates every value and refuses unknown
``TRIALDM_*`` names, so a typo stops the app instead of being silently ignored.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from trialdm.setting_values import (
    parse_bool,
    parse_choice,
    parse_csv,
    parse_float,
    parse_non_empty,
    parse_non_negative_int,
    parse_positive_int,
    parse_time_of_day,
    parse_url,
)

ENV_PREFIX = "TRIALDM_"
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
# Run from a checkout (an editable install, the tests, `make run`): the checkout's own
# folders are the defaults. Installed from a wheel: the copies the wheel carries.
IN_CHECKOUT = (PROJECT_ROOT / "setup.cfg").is_file()


def shipped(name: str) -> Path:
    """A folder the service ships beside its code: ``migrations``, ``sites``,
    ``instruments`` and the trial's other data folders (see setup.py)."""
    return PROJECT_ROOT / name if IN_CHECKOUT else PACKAGE_DIR / "_shipped" / name


def default_instance_path() -> Path:
    """``instance/`` of the checkout, else ``<prefix>/var/trialdm-instance`` as Flask
    places an installed application's instance folder."""
    return (
        PROJECT_ROOT / "instance" if IN_CHECKOUT else Path(sys.prefix) / "var" / "trialdm-instance"
    )


class ConfigError(Exception):
    """A setting is unknown or malformed; the message names it."""


class ScheduleEvent(NamedTuple):  # an assessment event, months after enrolment
    name: str
    months: int


def schedule_events(config: Mapping[str, Any]) -> list[ScheduleEvent]:
    """The trial's assessment events (``SCHEDULE_EVENTS``), in order."""
    raw = config["SCHEDULE_EVENTS"]
    return [ScheduleEvent(*e) for e in (_schedule_events(raw) if isinstance(raw, str) else raw)]


def _schedule_events(raw: str) -> tuple[ScheduleEvent, ...]:
    """``T0:0,T1:4,T2:8,T3:12``: event names with their offsets from enrolment in months."""
    events: list[ScheduleEvent] = []
    for part in raw.split(","):
        name, sep, months = part.strip().partition(":")
        name = name.strip()
        if not sep or not name or not name.replace("_", "").isalnum() or len(name) > 16:
            raise ValueError("expected NAME:MONTHS,... such as T0:0,T1:4,T2:8,T3:12")
        try:
            offset = int(months)
        except ValueError:
            raise ValueError(f"months of {name} must be a whole number") from None
        if offset < 0:
            raise ValueError(f"months of {name} must not be negative")
        if events and offset <= events[-1][1]:
            raise ValueError("events must be in increasing order of months")
        if any(name == known for known, _ in events):
            raise ValueError(f"event {name} is listed twice")
        events.append(ScheduleEvent(name, offset))
    return tuple(events)


# Translation steps, in workflow order, and the role that does each one.
TRANSLATION_STEP_ROLES = {
    "forward": "translator",
    "reconciliation": "translator",
    "back_translation": "translator",
    "review": "reviewer",
    "harmonisation": "translator",
    "pretesting": "translator",
    "finalisation": "reviewer",
}
MATERIAL_CATEGORIES = ("local_text", "study_generated", "secondary_measure", "primary_measure")


def _translation_workflows(raw: str) -> dict[str, tuple[str, ...]]:
    """``category=step,step;category=step,...`` -> {category: steps}. Every material
    category needs a workflow that starts with a forward translation, names known
    steps once each and has a reviewer step (so one person cannot do it all)."""
    workflows: dict[str, tuple[str, ...]] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        category, sep, steps_raw = part.partition("=")
        category = category.strip()
        steps = tuple(step.strip() for step in steps_raw.split(",") if step.strip())
        if not sep or category not in MATERIAL_CATEGORIES:
            raise ValueError(f"'{part.strip()}': expected <category>=<step>,<step>,...")
        if category in workflows:
            raise ValueError(f"{category} is given twice")
        unknown = [step for step in steps if step not in TRANSLATION_STEP_ROLES]
        if unknown:
            raise ValueError(
                f"{category}: unknown step(s) {', '.join(unknown)}; "
                f"use {', '.join(TRANSLATION_STEP_ROLES)}"
            )
        if len(set(steps)) != len(steps):
            raise ValueError(f"{category}: a step is listed twice")
        if not steps or steps[0] != "forward":
            raise ValueError(f"{category}: the first step must be forward")
        if not any(TRANSLATION_STEP_ROLES[step] == "reviewer" for step in steps):
            raise ValueError(f"{category}: needs a review or finalisation step")
        workflows[category] = steps
    missing = [c for c in MATERIAL_CATEGORIES if c not in workflows]
    if missing:
        raise ValueError(f"no workflow for {', '.join(missing)}")
    return workflows


DEFAULT_TRANSLATION_WORKFLOWS = (
    "local_text=forward,review;"
    "study_generated=forward,reconciliation,review;"
    "secondary_measure=forward,reconciliation,back_translation,review,harmonisation;"
    "primary_measure=forward,reconciliation,back_translation,review,harmonisation,"
    "pretesting,finalisation"
)


@dataclass(frozen=True)
class Setting:
    parse: Callable[[str], Any]
    default: Any
    help: str


def _instance(name: str) -> Callable[[Path], str]:
    return lambda instance: str(instance / name)


# name -> Setting. A default that is a callable receives the instance folder.
SETTINGS: dict[str, Setting] = {
    # Service
    "SECRET_KEY": Setting(
        parse_non_empty, None, "Session signing key; generated into instance/ when unset"
    ),
    "DATABASE_URL": Setting(
        parse_url, lambda inst: f"sqlite:///{inst / 'trialdm.db'}", "SQLAlchemy database URL"
    ),
    "BROKER_URL": Setting(
        parse_url,
        lambda inst: f"sqla+sqlite:///{inst / 'broker.db'}",
        "Celery broker URL (embedded SQLite transport by default; redis:// or amqp://)",
    ),
    "CELERY_QUEUE": Setting(
        parse_non_empty,
        "celery",
        "Queue tasks are sent to and workers consume (keeps deployments on one broker apart)",
    ),
    "TASKS_EAGER": Setting(
        parse_bool, False, "Run tasks in-process after commit (tests, one-off scripts)"
    ),
    "WORKBOOK_DIR": Setting(str, _instance("workbooks"), "Where built summary workbooks are kept"),
    "UPLOAD_DIR": Setting(str, _instance("uploads"), "Where uploaded files are kept"),
    "IMPORT_SYNC_MAX_ROWS": Setting(
        parse_non_negative_int,
        500,
        "Participant imports with more rows run as a background job (202 and a job)",
    ),
    "IMPORT_MAX_ROWS": Setting(
        parse_positive_int, 100_000, "Most rows of one participant import, checked before any work"
    ),
    "IMPORT_MAX_BYTES": Setting(
        parse_positive_int,
        16 * 1024 * 1024,
        "Largest participant import file in bytes, checked before any work",
    ),
    "SITES_DIR": Setting(str, str(shipped("sites")), "Folder of site definition files"),
    "INSTRUMENTS_DIR": Setting(
        str, str(shipped("instruments")), "Folder of instrument definition files"
    ),
    "TABLES_PATH": Setting(
        str,
        str(shipped("tables")),
        "Folders of the trial's table files, separated by the path separator (':'); "
        "read after the shipped tables/, a file of the same name replaces a shipped one",
    ),
    "QUALITY_DIR": Setting(
        str,
        str(shipped("quality")),
        "Folder of data-quality definitions (minimum_record.toml: required participant fields;"
        " checks.toml: data-quality checks)",
    ),
    "QUALITY_NIGHTLY_TIME": Setting(
        parse_time_of_day, "03:15", "UTC time of the nightly data-quality checks of every site"
    ),
    "MAX_CONTENT_LENGTH": Setting(
        parse_positive_int, 16 * 1024 * 1024, "Largest request body, bytes"
    ),
    "SQLITE_CACHE_MB": Setting(
        parse_positive_int,
        8,
        "SQLite page cache per connection, MB (SQLite's own default is 2 MB); it also "
        "bounds the memory a sort uses before it spills to a temporary file",
    ),
    "SQLITE_JOB_CACHE_MB": Setting(
        parse_positive_int,
        1,
        "SQLite page cache of a job that reads whole tables (a summary build), MB: its "
        "file is mapped whole, so the cache holds only its temporary tables and sorts",
    ),
    "SQLITE_JOB_HEAP_MB": Setting(
        parse_non_negative_int,
        2,
        "SQLite soft heap limit while a job that reads whole tables runs, MB (0 = none): "
        "beyond it SQLite recycles cache pages and spills sorts early instead of growing",
    ),
    "SQLITE_MMAP_MB": Setting(
        parse_non_negative_int,
        256,
        "SQLite memory-mapped I/O per connection, MB (0 = off): pages are read from the "
        "operating system's cache without copying",
    ),
    "LOG_LEVEL": Setting(parse_choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "Log level"),
    "LOG_FORMAT": Setting(
        parse_choice("text", "json"),
        "text",
        "Log lines as text, or one JSON object per line (time, level, logger, message, "
        "request_id) for a log collector",
    ),
    "HEARTBEAT_SECONDS": Setting(
        parse_positive_int,
        60,
        "How often beat sends the heartbeat task; trialdm check fails beat or worker after "
        "3 intervals without one",
    ),
    "SESSION_COOKIE_SECURE": Setting(
        parse_bool, False, "Send cookies over HTTPS only (always on when BASE_URL is https)"
    ),
    "PROXY_COUNT": Setting(
        parse_non_negative_int,
        0,
        "Trusted reverse proxies in front of the app, whose X-Forwarded-For/-Proto/-Host are used",
    ),
    "LOGIN_RATE_LIMIT": Setting(
        parse_non_empty,
        "100 per minute",
        "Failed logins allowed per client address (accounts have their own back-off)",
    ),
    "LOGIN_BACKOFF_AFTER": Setting(
        parse_positive_int, 5, "Failed logins of one account before it answers with a back-off"
    ),
    "LOGIN_BACKOFF_MAX_SECONDS": Setting(
        parse_positive_int, 900, "Longest back-off after failed logins of one account (doubling)"
    ),
    "PASSWORD_MIN_LENGTH": Setting(parse_positive_int, 12, "Shortest password accepted"),
    "PASSWORD_HASH_MEMORY_KIB": Setting(
        parse_positive_int, 65536, "Memory cost of the argon2id password hash (KiB)"
    ),
    "REDCAP_API_RATE_LIMIT": Setting(
        parse_non_empty,
        "600 per minute",
        "Requests allowed per token on the REDCap API (POST /api/)",
    ),
    "RATELIMIT_STORAGE_URI": Setting(
        str, "memory://", "Rate-limit counters (memory:// or redis://host:6379)"
    ),
    "DASHBOARD_CACHE_URI": Setting(
        str,
        "memory://",
        "Dashboard results per site (memory:// in each process, or redis://host:6379 shared)",
    ),
    "BASE_URL": Setting(str, "http://127.0.0.1:5000", "Public address, for links in e-mails"),
    "DEFAULT_PAGE_SIZE": Setting(
        parse_positive_int, 50, "Items per page when a client asks for none"
    ),
    "MAX_PAGE_SIZE": Setting(parse_positive_int, 1000, "Largest page a client may ask for"),
    # Trial settings
    "TRIAL_NAME": Setting(parse_non_empty, "UPSIDES", "Trial name shown on pages and workbooks"),
    "ELIGIBLE_MIN_AGE": Setting(parse_non_negative_int, 18, "Youngest age at enrolment"),
    "ELIGIBLE_MAX_AGE": Setting(parse_non_negative_int, 60, "Oldest age at enrolment"),
    "VOCABULARIES_PATH": Setting(
        str, str(shipped("vocabularies")), "Folder of vocabulary files (code lists)"
    ),
    "DIAGNOSIS_VOCABULARY": Setting(
        parse_non_empty,
        "icd10_f",
        "Vocabulary of diagnoses: a file name in VOCABULARIES_PATH (without .toml) or a path",
    ),
    "RANDOMISATION": Setting(
        parse_choice("service", "external"),
        "external",
        "Who allocates the arm: 'service' (concealed lists, the arm is never typed) or "
        "'external' (allocated elsewhere, typed in with the enrolment)",
    ),
    "RANDOMISATION_SCHEME": Setting(
        str,
        str(shipped("randomisation") / "scheme.toml"),
        "Randomisation scheme: strata, block sizes and allocation ratio (a TOML file)",
    ),
    "FIDELITY_MIN_CONTACTS": Setting(parse_positive_int, 3, "Contacts a participant should reach"),
    "INTERVENTION_WINDOW_MONTHS": Setting(
        parse_positive_int, 6, "Length of the intervention window"
    ),
    "FIDELITY_AT_RISK_SLACK": Setting(
        parse_float,
        0.0,
        "at_risk when contacts in window + 1 + slack <= minimum x elapsed share of window",
    ),
    "SCHEDULE_EVENTS": Setting(
        _schedule_events,
        _schedule_events("T0:0,T1:4,T2:8,T3:12"),
        "Assessment events and their months after enrolment (NAME:MONTHS,...)",
    ),
    "SCHEDULE_WINDOW_DAYS": Setting(
        parse_non_negative_int, 14, "Days before and after an event's due date it may be done"
    ),
    "SUPPRESS_BELOW": Setting(
        parse_non_negative_int, 0, "Suppress summary counts below this number (0 = never)"
    ),
    "SUMMARY_LEASE_SECONDS": Setting(
        parse_positive_int,
        600,
        "A running summary build without a heartbeat for this long is re-queued",
    ),
    "SUMMARY_MAX_ATTEMPTS": Setting(
        parse_positive_int, 3, "Summary builds interrupted this often are marked failed"
    ),
    "SUMMARY_NIGHTLY_TIME": Setting(
        parse_time_of_day, "02:30", "UTC time of the nightly cross-site summary workbook"
    ),
    "SUMMARY_RECONCILE_SECONDS": Setting(
        parse_positive_int, 120, "How often beat looks for summary builds lost by a dead worker"
    ),
    "TRANSLATION_WORKFLOWS": Setting(
        _translation_workflows,
        _translation_workflows(DEFAULT_TRANSLATION_WORKFLOWS),
        "Translation steps per material category (proportionate translation): "
        "'category=step,step;...' for local_text, study_generated, secondary_measure, "
        "primary_measure",
    ),
    "SELF_REPORT_DAYS": Setting(
        parse_positive_int, 14, "Days a self-report link stays valid after it is made"
    ),
    "SELF_REPORT_REMIND_AFTER_DAYS": Setting(
        parse_positive_int,
        3,
        "Remind the site team when a self-report link is this many days unanswered",
    ),
    "SELF_REPORT_RATE_LIMIT": Setting(
        parse_non_empty, "30 per minute", "Requests to self-report links allowed per client address"
    ),
    # Reminders and mail
    "REMINDER_LOCAL_TIME": Setting(
        parse_time_of_day, "08:00", "Local time of the daily reminder scan"
    ),
    "REMINDER_BEAT_SECONDS": Setting(
        parse_positive_int, 900, "How often beat runs the reminder dispatcher (seconds)"
    ),
    "REMINDER_DISABLED_RULES": Setting(
        parse_csv, (), "Reminder rules not to run (comma-separated)"
    ),
    "REMINDER_WINDOW_CLOSING_DAYS": Setting(
        parse_positive_int, 14, "Remind when the intervention window closes within this many days"
    ),
    "REMINDER_NO_CONTACT_DAYS": Setting(
        parse_positive_int, 30, "Remind when an intervention participant had no contact this long"
    ),
    "REMINDER_ASSESSMENT_SOON_DAYS": Setting(
        parse_positive_int, 7, "Remind this many days before an assessment window opens"
    ),
    "REMINDER_TRANSLATION_DUE_DAYS": Setting(
        parse_positive_int,
        3,
        "Remind a translation step's assignee this many days before its due date",
    ),
    "REMINDER_SECOND_CHECK_DAYS": Setting(
        parse_positive_int,
        7,
        "Remind reviewers when a transcript waits longer for its second check",
    ),
    "REMINDER_QUERY_DAYS": Setting(
        parse_positive_int, 3, "Remind of a query open (or answered and not closed) this many days"
    ),
    "REMINDER_DIGEST_WEEKDAY": Setting(
        parse_choice("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        "monday",
        "Day of the weekly digests (site leads: site-local; coordinators: UTC)",
    ),
    "MAIL_MAX_ATTEMPTS": Setting(
        parse_positive_int, 6, "Tries to send an e-mail before it is marked failed"
    ),
    "MAIL_RETRY_SECONDS": Setting(
        parse_positive_int, 60, "Wait before the second try; doubled after each further failure"
    ),
    "MAIL_LEASE_SECONDS": Setting(
        parse_positive_int,
        600,
        "A send claimed longer ago than this is taken over by another worker",
    ),
    "SMTP_TIMEOUT": Setting(parse_positive_int, 30, "SMTP connection timeout (seconds)"),
    "SMTP_HOST": Setting(str, "", "SMTP server; empty keeps mail in the outbox table"),
    "SMTP_PORT": Setting(parse_positive_int, 25, "SMTP port"),
    "SMTP_TLS": Setting(parse_choice("none", "starttls", "ssl"), "none", "SMTP transport security"),
    "SMTP_USER": Setting(str, "", "SMTP user name"),
    "SMTP_PASSWORD": Setting(str, "", "SMTP password"),
    "MAIL_SENDER": Setting(parse_non_empty, "trialdm@localhost", "From address of e-mails"),
}


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    instance_path: Path | None = None,
) -> dict[str, Any]:
    """Return validated settings; raise :class:`ConfigError` naming every bad one."""
    environ = os.environ if environ is None else environ
    instance = instance_path or default_instance_path()
    problems: list[str] = []
    values: dict[str, Any] = {}

    unknown = sorted(
        key[len(ENV_PREFIX) :]
        for key in environ
        if key.startswith(ENV_PREFIX)
        and key[len(ENV_PREFIX) :] not in SETTINGS
        and key[len(ENV_PREFIX) :] not in _ENV_ONLY
    )
    for name in unknown:
        problems.append(f"{ENV_PREFIX}{name}: unknown setting")

    for name, setting in SETTINGS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None:
            try:
                values[name] = setting.parse(raw)
            except ValueError as exc:
                problems.append(f"{ENV_PREFIX}{name}: {exc} (got {raw!r})")
        else:
            default = setting.default
            values[name] = default(instance) if callable(default) else default

    for name, value in (overrides or {}).items():
        if name not in SETTINGS:
            problems.append(f"{name}: unknown setting")
        else:
            values[name] = value

    if not problems and values["ELIGIBLE_MIN_AGE"] > values["ELIGIBLE_MAX_AGE"]:
        problems.append(f"{ENV_PREFIX}ELIGIBLE_MIN_AGE: must not exceed ELIGIBLE_MAX_AGE")
    if problems:
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems))
    return values


# Read by create_app before settings exist (where instance/ is); never by code at import.
_ENV_ONLY = {"INSTANCE_PATH", "TEST_DATABASE_URL", "TEST_REDIS_URL", "TEST_BROKER_URL"}


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) rows, for the README and ``trialdm config``."""
    rows = []
    for name, setting in SETTINGS.items():
        default = setting.default
        if callable(default):
            shown = "(instance folder)"
        elif isinstance(default, dict):  # shown as it is written: 'key=a,b;key=c'
            shown = repr(";".join(f"{k}={','.join(v)}" for k, v in default.items()))
        else:
            shown = repr(default)
        rows.append((ENV_PREFIX + name, shown, setting.help))
    return rows
