"""Parsers of setting values as they come from the environment: each returns the typed
value or raises ValueError saying what was expected (``load_settings`` names the
setting)."""

from __future__ import annotations

from collections.abc import Callable


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def parse_positive_int(raw: str) -> int:
    value = parse_int(raw)
    if value <= 0:
        raise ValueError("expected a whole number above 0")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = parse_int(raw)
    if value < 0:
        raise ValueError("expected a whole number of 0 or more")
    return value


def parse_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("expected a number") from None


def parse_non_empty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def parse_url(raw: str) -> str:
    if "://" not in raw:
        raise ValueError("expected a URL such as postgresql+psycopg://host/db")
    return raw


def parse_time_of_day(raw: str) -> str:
    parts = raw.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError("expected HH:MM")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError("expected HH:MM")
    return f"{hour:02d}:{minute:02d}"


def parse_choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return raw

    return parse


def parse_csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
