"""Randomisation pages: the participant page's button asks first, then allocates once;
the statistician's page shows the balance and makes lists."""

from __future__ import annotations

from tests.randomisation_helpers import eligible_participant, randomising
from tests.web_helpers import page_as


def test_button_confirms_then_allocates_once(app, tmp_path, make_user, api_as, db_session):
    with randomising(app, tmp_path):
        stats = page_as(app, make_user, "statistician")
        assert stats.post("/randomisation/lists").status_code == 302
        participant = eligible_participant(db_session)
        db_session.commit()
        worker = page_as(app, make_user, "research_worker", ["BU"])
        page = worker.get(f"/participants/{participant.id}").get_data(as_text=True)
        assert "Not randomised yet." in page
        assert f"/randomisation/participants/{participant.id}" in page

        confirm = worker.get(f"/randomisation/participants/{participant.id}")
        assert confirm.status_code == 200
        assert "cannot be changed or undone" in confirm.get_data(as_text=True)
        done = worker.post(f"/randomisation/participants/{participant.id}")
        assert done.status_code == 302
        arm = (
            api_as("research_worker", ["BU"])
            .get(f"/api/v1/participants/{participant.id}/randomisation")
            .json["arm"]
        )
        shown = worker.get(f"/participants/{participant.id}").get_data(as_text=True)
        assert "Not randomised yet." not in shown and "randomised" in shown
        again = worker.post(f"/randomisation/participants/{participant.id}")
        assert again.status_code == 409
        assert "randomised already" in again.get_data(as_text=True)

        overview = stats.get("/randomisation").get_data(as_text=True)
        assert "BU" in overview and "gender=female" in overview
        assert worker.get("/randomisation").status_code == 403
        assert arm in ("intervention", "control")


def test_an_ineligible_participant_is_refused_with_reasons(app, tmp_path, make_user, db_session):
    from datetime import date

    from trialdm.core.scoping import all_sites
    from trialdm.participants.operations import create_participant

    with randomising(app, tmp_path):
        page_as(app, make_user, "statistician").post("/randomisation/lists")
        with all_sites():
            unscreened = create_participant(
                db_session,
                {
                    "site": "BU",
                    "category": "service_user",
                    "gender": "male",
                    "year_of_birth": 1990,
                    "enrolment_date": date(2025, 3, 1),
                    "consent_date": date(2025, 3, 1),
                    "consent_version": "1.0",
                },
            )
        db_session.commit()
        worker = page_as(app, make_user, "research_worker", ["BU"])
        refused = worker.post(f"/randomisation/participants/{unscreened.id}")
        assert refused.status_code == 422
        assert "No eligible screening entry" in refused.get_data(as_text=True)


def test_dashboard_shows_allocations_by_site_and_arm_to_who_may_see_the_balance(
    app, tmp_path, make_user, db_session
):
    with randomising(app, tmp_path):
        stats = page_as(app, make_user, "statistician")
        assert stats.post("/randomisation/lists").status_code == 302
        participant = eligible_participant(db_session)
        db_session.commit()
        worker = page_as(app, make_user, "research_worker", ["BU"])
        assert worker.post(f"/randomisation/participants/{participant.id}").status_code == 302

        board = stats.get("/").get_data(as_text=True)
        assert 'id="widget-allocations"' in board and "Allocations by site and arm" in board
        assert '<th scope="row">BU</th>' in board and 'href="/randomisation"' in board
        admin = page_as(app, make_user, "admin").get("/").get_data(as_text=True)
        assert admin.count('href="/randomisation"') >= 2  # beside the arms too
        for role, sites in (("research_worker", ["BU"]), ("coordinator", None)):
            other = page_as(app, make_user, role, sites).get("/").get_data(as_text=True)
            assert "widget-allocations" not in other
            assert 'href="/randomisation"' not in other
