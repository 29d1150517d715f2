"""the reminder tables keep only the indexes a query reads: pending reminders by site
(a scan inserts its reminders delivered), a person's inbox by user and site (one
index instead of two), the inbox entries the daily digest has yet to mail (instead
of every entry's e-mail), and no outbox index by site or user (no query reads them)

Revision ID: b2d4f6a8c0e3
Revises: e5f7a9c1b3d6
Create Date: 2026-12-01 13:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b2d4f6a8c0e3"
down_revision = "e5f7a9c1b3d6"
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"
DAILY_UNMAILED = "mail = 'daily' AND mail_message_id IS NULL AND read_at IS NULL"


def upgrade():
    op.create_index(
        "ix_reminders_pending_site_code",
        "reminders",
        ["site_code"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    op.drop_index("ix_reminders_status", table_name="reminders")
    op.create_index(
        "ix_reminder_inbox_user_id_site_code", "reminder_inbox", ["user_id", "site_code"]
    )
    op.drop_index("ix_reminder_inbox_user_id", table_name="reminder_inbox")
    op.drop_index("ix_reminder_inbox_site_code", table_name="reminder_inbox")
    op.create_index(
        "ix_reminder_inbox_daily_unmailed",
        "reminder_inbox",
        ["user_id"],
        sqlite_where=sa.text(DAILY_UNMAILED),
        postgresql_where=sa.text(DAILY_UNMAILED),
    )
    op.drop_index("ix_reminder_inbox_mail_message_id", table_name="reminder_inbox")
    op.drop_index("ix_reminder_outbox_site_code", table_name="reminder_outbox")
    op.drop_index("ix_reminder_outbox_user_id", table_name="reminder_outbox")


def downgrade():
    op.create_index("ix_reminder_outbox_user_id", "reminder_outbox", ["user_id"])
    op.create_index("ix_reminder_outbox_site_code", "reminder_outbox", ["site_code"])
    op.create_index("ix_reminder_inbox_mail_message_id", "reminder_inbox", ["mail_message_id"])
    op.drop_index("ix_reminder_inbox_daily_unmailed", table_name="reminder_inbox")
    op.create_index("ix_reminder_inbox_site_code", "reminder_inbox", ["site_code"])
    op.create_index("ix_reminder_inbox_user_id", "reminder_inbox", ["user_id"])
    op.drop_index("ix_reminder_inbox_user_id_site_code", table_name="reminder_inbox")
    op.create_index("ix_reminders_status", "reminders", ["status"])
    op.drop_index("ix_reminders_pending_site_code", table_name="reminders")
