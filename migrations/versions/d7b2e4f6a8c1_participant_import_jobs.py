"""participant import jobs (large CSV imports run by a worker)

Revision ID: d7b2e4f6a8c1
Revises: d5b7c9e1f3a2
Create Date: 2026-11-30 13:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d7b2e4f6a8c1"
down_revision = "d5b7c9e1f3a2"
branch_labels = None
depends_on = None

TABLE = "participant_import_jobs"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("site_code", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=254), nullable=True),
        sa.Column("requested_role", sa.String(length=32), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_bytes", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("first_study_id", sa.String(length=32), nullable=True),
        sa.Column("last_study_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_participant_import_jobs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_participant_import_jobs_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
            name=op.f("fk_participant_import_jobs_site_code_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_import_jobs")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for column in ("heartbeat_at", "requested_by_id", "site_code", "state"):
            batch_op.create_index(batch_op.f(f"ix_{TABLE}_{column}"), [column])


def downgrade():
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for column in ("state", "site_code", "requested_by_id", "heartbeat_at"):
            batch_op.drop_index(batch_op.f(f"ix_{TABLE}_{column}"))
    op.drop_table(TABLE)
