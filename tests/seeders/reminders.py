"""Cross-site walk records of the reminders domain: a reminder in a site lead's inbox
and an e-mail about it that failed for good, with the marker in their text."""

import uuid
from datetime import date

from trialdm.auth.operations import create_user
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder


def seed(session, site: str, marker: str) -> dict:
    lead = create_user(session, f"lead.{uuid.uuid4().hex[:8]}@seed.test", "site_lead", [site])
    reminder = Reminder(
        site_code=site,
        rule="weekly_site_digest",
        subject_type="site",
        subject_id=site,
        period="2026-W01",
        dedupe_key=f"seed:{uuid.uuid4().hex}",
        title=f"Seeded reminder {marker}",
        body=marker,
        link="",
        recipients=[lead.id],
        local_date=date(2026, 1, 5),
        status="delivered",
    )
    session.add(reminder)
    session.flush()
    message = OutboxMessage(
        site_code=site,
        dedupe_key=f"seed:{uuid.uuid4().hex}",
        kind="immediate",
        user_id=lead.id,
        to_address=lead.email,
        subject=f"Seeded {marker}",
        body=marker,
        status="failed",
        attempts=6,
        last_error=f"550 refused {marker}",
    )
    session.add(message)
    session.flush()
    entry = InboxEntry(
        reminder_id=reminder.id,
        user_id=lead.id,
        site_code=site,
        mail="immediate",
        mail_message_id=message.id,
    )
    session.add(entry)
    session.flush()
    return {"entry_id": entry.id, "message_id": message.id}
