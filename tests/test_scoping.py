from sqlalchemy import func, select

from trialdm.core.scoping import EVERY_SITE, NO_SITES, SiteScope, scoped_to
from trialdm.participants.models import Participant, ParticipantDiagnosis


def test_orm_selects_are_filtered_by_the_current_scope(db_session, make_participant):
    make_participant("BU", "psw")
    make_participant("ULM", "psw")
    make_participant("ULM", "mhw")
    count = select(func.count()).select_from(Participant)
    with scoped_to(SiteScope(frozenset({"ULM"}))):
        assert {p.site_code for p in db_session.scalars(select(Participant))} == {"ULM"}
        assert db_session.scalar(count) == 2
    with scoped_to(SiteScope(frozenset({"BU"}))):
        assert db_session.scalar(count) == 1
        # aggregates that only name a column are filtered too
        grouped = db_session.execute(
            select(Participant.site_code, func.count()).group_by(Participant.site_code)
        ).all()
        assert grouped == [("BU", 1)]
    with scoped_to(EVERY_SITE):
        assert db_session.scalar(count) == 3


def test_no_scope_sees_nothing_never_everything(db_session, make_participant):
    make_participant("BU", "psw")
    with scoped_to(NO_SITES):
        assert db_session.scalars(select(Participant)).all() == []


def test_joins_through_other_entities_are_filtered(db_session, make_participant):
    make_participant("BU", "service_user", diagnoses=[{"code": "F20", "text": None}])
    stmt = select(ParticipantDiagnosis.code).join(
        Participant, Participant.id == ParticipantDiagnosis.participant_id
    )
    with scoped_to(SiteScope(frozenset({"ULM"}))):
        assert db_session.scalars(stmt).all() == []
    with scoped_to(SiteScope(frozenset({"BU"}))):
        assert db_session.scalars(stmt).all() == ["F20"]


def test_user_without_the_permission_at_any_site_is_refused(api_as):
    translator = api_as("translator", ["BU"])
    assert translator.get("/api/v1/participants").status_code == 403


def test_writes_to_another_site_are_refused(api_as, make_participant):
    other = make_participant("ULM", "psw")
    api = api_as("research_worker", ["BU"])
    complete = {"site": "ULM", "category": "psw", "gender": "male", "year_of_birth": 1980}
    assert api.post("/api/v1/participants", json=complete).status_code == 403
    assert (
        api.patch(
            f"/api/v1/participants/{other.id}", json={"reason": "x"}, headers={"If-Match": '"1"'}
        ).status_code
        == 404
    )
