"""The tables trialdm ships, by name, in the order of the workbook's sheets."""

from __future__ import annotations

from trialdm.summaries.fidelity import FIDELITY
from trialdm.summaries.qualitative import FOCUS_GROUPS, QUALITATIVE_PARTICIPANTS
from trialdm.summaries.spec import TableSpec
from trialdm.summaries.tables import BASELINE, PARTICIPANT_LISTING, RECRUITMENT

SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        RECRUITMENT,
        BASELINE,
        PARTICIPANT_LISTING,
        FIDELITY,
        FOCUS_GROUPS,
        QUALITATIVE_PARTICIPANTS,
    )
}


def table_names() -> list[str]:
    return list(SPECS)
