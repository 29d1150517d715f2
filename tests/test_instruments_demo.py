import random
from datetime import date

from sqlalchemy import func, select

from trialdm.demo.operations import DEMO_STEPS, demo_participants
from trialdm.instruments.demo import demo_instruments, demo_responses
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant
from trialdm.schedule.queries import STATUSES, schedule_rows


def test_demo_has_baselines_for_everyone_and_every_schedule_status(app, db_session):
    steps = [name for name, _ in DEMO_STEPS]
    assert steps.index("instruments") < steps.index("responses")
    assert steps.index("participants") < steps.index("responses")
    rng = random.Random(3)
    demo_participants(db_session, rng)
    demo_instruments(db_session, rng)
    demo_responses(db_session, rng)
    enrolled = db_session.scalar(
        select(func.count())
        .select_from(Participant)
        .where(Participant.category == "service_user", Participant.enrolment_date.is_not(None))
    )
    for instrument in ("baseline_demographics", "social_inclusion_scale"):
        complete_t0 = db_session.scalar(
            select(func.count()).where(
                InstrumentResponse.event == "T0",
                InstrumentResponse.instrument_name == instrument,
                InstrumentResponse.status == "complete",
            )
        )
        assert complete_t0 == enrolled
    statuses = {row.status for row in schedule_rows(db_session, date.today())}
    assert statuses == set(STATUSES)
