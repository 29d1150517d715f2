"""Making allocation lists: generated from a secret seed, or read from the trial
statistician's CSV file (every bad row reported by line and field)."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from trialdm.core.errors import ValidationFailed
from trialdm.randomisation.scheme import Scheme

CSV_COLUMNS = ("site", "stratum", "position", "arm", "block_number", "block_size")
REQUIRED_COLUMNS = ("site", "stratum", "position", "arm")
MAX_UPLOAD_ERRORS = 50


def block_arms(scheme: Scheme, size: int) -> list[str]:
    """The arms of one block of ``size`` in the scheme's ratio, before shuffling."""
    total = sum(share for _, share in scheme.ratio)
    return [arm for arm, share in scheme.ratio for _ in range(share * size // total)]


def generate_slots(scheme: Scheme, sites: Iterable[str], seed: str) -> Iterator[dict[str, Any]]:
    """Permuted blocks for every site and stratum until each holds at least
    ``slots_per_stratum`` positions; the last block is always completed, so the
    arms are in the ratio at the end of every block. The same seed gives the same
    list (each stratum draws from its own generator seeded by seed, site and stratum)."""
    for site in sites:
        for stratum in scheme.stratum_keys():
            draw = random.Random(f"{seed}/{site}/{stratum}")
            position = block_number = 0
            while position < scheme.slots_per_stratum:
                size = draw.choice(scheme.block_sizes)
                block_number += 1
                arms = block_arms(scheme, size)
                draw.shuffle(arms)
                for arm in arms:
                    position += 1
                    yield {
                        "site_code": site,
                        "stratum": stratum,
                        "position": position,
                        "block_number": block_number,
                        "block_size": size,
                        "arm": arm,
                    }


def _whole_number(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def parse_upload(
    text: str, file_name: str, scheme: Scheme, sites: set[str]
) -> list[dict[str, Any]]:
    """Rows of an uploaded list; raises ValidationFailed naming file, line and field of
    every problem (at most the first 50), so that nothing is half-saved."""
    problems: list[str] = []

    def problem(line: int | str, field: str, message: str) -> None:
        if len(problems) < MAX_UPLOAD_ERRORS:
            problems.append(f"{file_name}, line {line}, {field}: {message}")

    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if missing or unknown:
        detail = []
        if missing:
            detail.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            detail.append(f"unknown column(s) {', '.join(unknown)}")
        raise ValidationFailed(
            f"{file_name}, line 1: {'; '.join(detail)}",
            errors={"file": [f"{file_name}, line 1: {'; '.join(detail)}"]},
        )
    reader.fieldnames = header
    strata = set(scheme.stratum_keys())
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for line, raw in enumerate(reader, start=2):
        if None in raw:
            problem(line, "(row)", "more cells than columns")
            continue
        site = (raw.get("site") or "").strip()
        stratum = (raw.get("stratum") or "").strip()
        arm = (raw.get("arm") or "").strip()
        position = _whole_number(raw.get("position") or "")
        row: dict[str, Any] = {"site_code": site, "stratum": stratum, "arm": arm}
        if site not in sites:
            problem(line, "site", f"'{site}' is not a site of the trial")
        if stratum not in strata:
            shown = ", ".join(f"'{key}'" for key in sorted(strata))
            problem(line, "stratum", f"'{stratum}' is not a stratum of the scheme ({shown})")
        if arm not in scheme.arms:
            problem(line, "arm", f"'{arm}' is not an arm ({', '.join(scheme.arms)})")
        if position is None or position < 1:
            problem(line, "position", "must be a whole number of 1 or more")
        elif position in seen[(site, stratum)]:
            problem(line, "position", f"{position} is given twice for {site} '{stratum}'")
        else:
            seen[(site, stratum)].add(position)
        row["position"] = position
        for name in ("block_number", "block_size"):
            value = (raw.get(name) or "").strip()
            row[name] = _whole_number(value) if value else None
            if value and row[name] is None:
                problem(line, name, "must be a whole number")
        rows.append(row)
    if not rows and not problems:
        problem(2, "(file)", "the list has no rows")
    for (site, stratum), positions in seen.items():
        if positions and max(positions) != len(positions):
            gaps = sorted(set(range(1, max(positions) + 1)) - positions)[:5]
            problem(
                "-", "position", f"{site} '{stratum}' skips position(s) {', '.join(map(str, gaps))}"
            )
    if problems:
        raise ValidationFailed(
            f"{file_name}: the allocation list has errors; nothing was saved.",
            errors={"file": problems},
        )
    return rows


def export_rows(rows: Iterable[Any]) -> str:
    """The list as CSV, in the upload format plus who was allocated each position."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "study_id", "randomised_at"])
    for row in rows:
        writer.writerow(
            [
                row.site_code,
                row.stratum,
                row.position,
                row.arm,
                row.block_number if row.block_number is not None else "",
                row.block_size if row.block_size is not None else "",
                row.study_id or "",
                row.randomised_at.isoformat() if row.randomised_at else "",
            ]
        )
    return out.getvalue()
