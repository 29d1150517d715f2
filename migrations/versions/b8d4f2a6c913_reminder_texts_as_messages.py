"""reminder texts as a message id with values (reminders.message), read in each
reader's language; the stored title and body stay for older reminders

Revision ID: b8d4f2a6c913
Revises: 45527a0ec629
Create Date: 2026-11-30 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b8d4f2a6c913"
down_revision = "24c6878f8da7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("message")
