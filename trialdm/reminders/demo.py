"""Demo reminders: today's scan of every site (in its own time zone), so the inbox,
the digests and the outbox have something to show. Mail stays in the outbox unless
SMTP_HOST is set."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy.orm import Session

from trialdm.reminders.operations import local_today, scan_site, sites_to_scan


def demo_reminders(session: Session, rng: random.Random) -> str:
    found: Counter[str] = Counter()
    for site in sites_to_scan(session, None):
        for planned in scan_site(session, site.code, local_today(site)).planned:
            found[planned.rule] += 1
    by_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(found.items()))
    return f"{sum(found.values())} reminders ({by_rule or 'nothing due'})"
