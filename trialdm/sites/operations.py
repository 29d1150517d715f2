"""Loading site definition files (TOML, one per site) into the database."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.sites.models import Site

SITE_FIELDS = ("code", "name", "country", "city", "languages", "timezone")
_CODE = re.compile(r"^[A-Z]{2,8}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class SiteFileError(Exception):
    def __init__(self, path: Path, field_name: str, message: str) -> None:
        super().__init__(f"{path.name}: {field_name}: {message}")
        self.path = path
        self.field = field_name


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"added {code}" for code in self.added]
        out += [f"updated {code}: {', '.join(fields)}" for code, fields in self.updated.items()]
        out.append(
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
        )
        return out


def parse_site_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SiteFileError(path, "(file)", f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(SITE_FIELDS))
    if unknown:
        raise SiteFileError(path, unknown[0], "unknown field")
    for name in SITE_FIELDS:
        if name not in data:
            raise SiteFileError(path, name, "missing")
    for name in ("code", "name", "country", "city", "timezone"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise SiteFileError(path, name, "must be a non-empty string")
    if not _CODE.match(data["code"]):
        raise SiteFileError(path, "code", "2 to 8 capital letters")
    if data["code"] != path.stem:
        raise SiteFileError(path, "code", f"must match the file name ({path.stem})")
    languages = data["languages"]
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(lang, str) and _LANGUAGE.match(lang) for lang in languages)
    ):
        raise SiteFileError(path, "languages", "a non-empty list of language codes such as 'lg'")
    try:
        ZoneInfo(data["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise SiteFileError(
            path, "timezone", f"unknown IANA time zone '{data['timezone']}'"
        ) from None
    return data


def load_site_files(folder: Path) -> list[dict[str, Any]]:
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise SiteFileError(folder, "(folder)", "no site files (*.toml)")
    return [parse_site_file(path) for path in paths]


def sync_sites(session: Session, definitions: list[dict[str, Any]]) -> SyncReport:
    """Insert new sites and update changed ones; never deletes (data may refer to them)."""
    report = SyncReport()
    existing = {site.code: site for site in session.scalars(select(Site))}
    for data in definitions:
        site = existing.get(data["code"])
        if site is None:
            session.add(Site(**data))
            report.added.append(data["code"])
            continue
        changed = [name for name in SITE_FIELDS if getattr(site, name) != data[name]]
        for name in changed:
            setattr(site, name, data[name])
        if changed:
            report.updated[site.code] = changed
        else:
            report.unchanged.append(site.code)
    session.flush()
    return report
