"""the inbox's index on its reminder alone is dropped: the unique key on (reminder_id,
user_id) begins with the reminder and serves every look-up and cascade it served,
while each inbox entry a scan writes paid for one index insert more

Revision ID: e5f7a9c1b3d6
Revises: c2e4a6b8d0f3
Create Date: 2026-12-01 05:15:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e5f7a9c1b3d6"
down_revision = "c2e4a6b8d0f3"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_reminder_inbox_reminder_id", table_name="reminder_inbox")


def downgrade():
    op.create_index("ix_reminder_inbox_reminder_id", "reminder_inbox", ["reminder_id"])
