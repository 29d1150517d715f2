"""service heartbeats: the last tick of Celery beat and of a worker, for trialdm check

Revision ID: d5b7c9e1f3a2
Revises: c7658f4454c9
Create Date: 2026-11-30 12:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d5b7c9e1f3a2"
down_revision = "c7658f4454c9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "service_heartbeats",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_heartbeats")),
    )


def downgrade():
    op.drop_table("service_heartbeats")
