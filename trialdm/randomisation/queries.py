"""Read helpers: a participant's allocation, the lists, the export and the balance."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, NotFound
from trialdm.core.queries import get_or_404
from trialdm.participants.models import Participant
from trialdm.randomisation.models import (
    AllocationCounter,
    AllocationList,
    AllocationSlot,
    Randomisation,
    RandomisationError,
)
from trialdm.randomisation.scheme import scheme_from_json


def find_randomisation(session: Session, participant_id: int) -> Randomisation | None:
    return session.scalar(
        select(Randomisation).where(Randomisation.participant_id == participant_id)
    )


def get_randomisation(session: Session, participant_id: int) -> Randomisation:
    """The allocation of a participant of the current scope, or 404."""
    allocation = session.scalar(
        select(Randomisation)
        .join(Participant, Participant.id == Randomisation.participant_id)
        .where(Randomisation.participant_id == participant_id, Participant.deleted_at.is_(None))
    )
    if allocation is None:
        raise NotFound(N_("The participant has not been randomised."))
    return allocation


def errors_of(session: Session, allocation: Randomisation) -> list[RandomisationError]:
    return list(
        session.scalars(
            select(RandomisationError)
            .where(RandomisationError.randomisation_id == allocation.id)
            .order_by(RandomisationError.id)
        )
    )


def allocation_lists(session: Session) -> list[AllocationList]:
    return list(session.scalars(select(AllocationList).order_by(AllocationList.id.desc())))


def get_list(session: Session, list_id: int) -> AllocationList:
    return get_or_404(session, AllocationList, list_id, missing=N_("No such allocation list."))


def export_rows(session: Session, allocation_list: AllocationList) -> list[Row[Any]]:
    """Every position of a list in order, with who was allocated it."""
    stmt = (
        select(
            AllocationSlot.site_code,
            AllocationSlot.stratum,
            AllocationSlot.position,
            AllocationSlot.arm,
            AllocationSlot.block_number,
            AllocationSlot.block_size,
            Participant.study_id,
            Randomisation.randomised_at,
        )
        .outerjoin(Randomisation, Randomisation.slot_id == AllocationSlot.id)
        .outerjoin(Participant, Participant.id == Randomisation.participant_id)
        .where(AllocationSlot.list_id == allocation_list.id)
        .order_by(AllocationSlot.site_code, AllocationSlot.stratum, AllocationSlot.position)
    )
    return list(session.execute(stmt))


def balance(session: Session) -> dict[str, Any]:
    """Allocations per site, stratum and arm (every list), with the difference between
    the arms' shares and the ratio, and the positions left in the active list."""
    active = session.scalar(select(AllocationList).where(AllocationList.active.is_(True)))
    scheme = scheme_from_json(active.scheme) if active else None
    arms = list(scheme.arms) if scheme else ["intervention", "control"]
    ratio = dict(scheme.ratio) if scheme else {arm: 1 for arm in arms}
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(arms, 0))
    grouped = session.execute(
        select(
            Randomisation.site_code,
            Randomisation.stratum,
            Randomisation.arm,
            func.count(Randomisation.id),
        ).group_by(Randomisation.site_code, Randomisation.stratum, Randomisation.arm)
    )
    for site, stratum, arm, n in grouped:
        counts[(site, stratum)][arm] = n
    left: dict[tuple[str, str], int] = {}
    if active is not None:
        for site, stratum, used, size in session.execute(
            select(
                AllocationCounter.site_code,
                AllocationCounter.stratum,
                AllocationCounter.last_position,
                AllocationCounter.size,
            ).where(AllocationCounter.list_id == active.id)
        ):
            left[(site, stratum)] = size - used
            counts.setdefault((site, stratum), dict.fromkeys(arms, 0))
    strata = []
    totals = dict.fromkeys(arms, 0)
    for (site, stratum), by_arm in sorted(counts.items()):
        for arm, n in by_arm.items():
            totals[arm] += n
        strata.append(
            {
                "site": site,
                "stratum": stratum,
                "arms": by_arm,
                "allocated": sum(by_arm.values()),
                "imbalance": _imbalance(by_arm, ratio),
                "positions_left": left.get((site, stratum)),
            }
        )
    return {
        "list_id": active.id if active else None,
        "ratio": ratio,
        "strata": strata,
        "totals": {
            "arms": totals,
            "allocated": sum(totals.values()),
            "imbalance": _imbalance(totals, ratio),
        },
    }


def _imbalance(by_arm: dict[str, int], ratio: dict[str, int]) -> int:
    """How far the arms are from the ratio, in participants: with 1:1, |a - b|; in
    general the spread of count / share, times the smallest share."""
    shares = [by_arm.get(arm, 0) / share for arm, share in ratio.items()]
    return round((max(shares) - min(shares)) * min(ratio.values())) if shares else 0
