"""The demo's schedule: what the demo responses leave due, overdue and done."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from sqlalchemy.orm import Session

from trialdm.schedule.queries import schedule_rows


def demo_schedule(session: Session, rng: random.Random) -> str:
    statuses = Counter(row.status for row in schedule_rows(session, date.today()))
    return ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
