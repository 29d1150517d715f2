"""The demo data shows every fidelity status a trial has today at every site, and the
qualitative work."""

from sqlalchemy import func, select

from trialdm.contacts.models import FIDELITY_STATUSES, ContactSession
from trialdm.contacts.queries import site_fidelity_summary
from trialdm.demo.operations import DEMO_SITES, load_demo
from trialdm.qualitative.models import QualitativeSession


def test_demo_has_each_fidelity_status_at_each_site(app, db_session):
    lines = list(load_demo(db_session, seed=7))
    assert any(line.startswith("contacts: ") for line in lines), lines
    for site in DEMO_SITES:
        counts = site_fidelity_summary(db_session, site)["counts"]
        # every window opened at enrolment, so nobody is left grey as 'not started'
        shown = [status for status in FIDELITY_STATUSES if status != "not_started"]
        assert all(counts[status] >= 1 for status in shown), (site, counts)
        assert counts["not_started"] == 0, (site, counts)
    formats = dict(
        db_session.execute(
            select(ContactSession.format, func.count()).group_by(ContactSession.format)
        ).all()
    )
    assert formats["group"] >= len(DEMO_SITES) and formats["individual"] > formats["group"]
    kinds = dict(
        db_session.execute(
            select(QualitativeSession.kind, func.count()).group_by(QualitativeSession.kind)
        ).all()
    )
    assert kinds == {"focus_group": len(DEMO_SITES), "interview": 6}
