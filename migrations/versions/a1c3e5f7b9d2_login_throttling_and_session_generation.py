"""login throttling per account and a session generation per user

Revision ID: a1c3e5f7b9d2
Revises: bf9f7d793d59
Create Date: 2026-11-30 12:10:00

"""

from alembic import op
import sqlalchemy as sa


revision = "a1c3e5f7b9d2"
down_revision = "bf9f7d793d59"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("login_blocked_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_generation")
        batch_op.drop_column("login_blocked_until")
        batch_op.drop_column("failed_logins")
