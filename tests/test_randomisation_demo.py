"""The demo where the service randomises: every enrolled demo service user was screened
eligible and randomised from the demo's allocation list; none had an arm typed."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.randomisation_helpers import randomising
from trialdm.contacts.queries import site_fidelity_summary
from trialdm.demo.operations import DEMO_SITES, load_demo
from trialdm.participants.models import Participant
from trialdm.randomisation.models import Randomisation


def test_demo_randomises_every_enrolled_service_user(app, tmp_path, db_session):
    scheme = "ratio = { intervention = 1, control = 1 }\nblock_sizes = [2, 4]\n"
    with randomising(app, tmp_path, scheme + "slots_per_stratum = 60\n"):
        lines = list(load_demo(db_session, seed=7))
    assert any(line.startswith("randomisation: allocation list") for line in lines)
    enrolled = db_session.scalar(
        select(func.count(Participant.id)).where(
            Participant.category == "service_user", Participant.enrolment_date.is_not(None)
        )
    )
    allocated = dict(
        db_session.execute(
            select(Randomisation.arm, func.count(Randomisation.id)).group_by(Randomisation.arm)
        ).all()
    )
    assert sum(allocated.values()) == enrolled > 100
    # blocks of 2 and 4 keep each site within 2 of balance
    assert abs(allocated["intervention"] - allocated["control"]) <= 2 * 6
    withdrawn = db_session.scalars(
        select(Participant).where(Participant.status == "withdrawn")
    ).all()
    assert withdrawn and all(p.arm is not None for p in withdrawn)

    # allocations are dated on the enrolment day, so the windows make a running trial
    dated = db_session.execute(
        select(Participant.enrolment_date, Randomisation.randomised_at).join(
            Randomisation, Randomisation.participant_id == Participant.id
        )
    ).all()
    assert all(at.date() == enrolled for enrolled, at in dated)
    for site in DEMO_SITES:
        counts = site_fidelity_summary(db_session, site)["counts"]
        assert counts["not_started"] == 0 and counts["at_risk"] >= 1, (site, counts)
        assert counts["met"] >= 1 and counts["not_met"] >= 1, (site, counts)
