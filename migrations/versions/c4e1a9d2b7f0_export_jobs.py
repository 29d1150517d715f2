"""export jobs (item-level data exports)

Revision ID: c4e1a9d2b7f0
Revises: c3a1f0d2e4b5
Create Date: 2026-11-30 11:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c4e1a9d2b7f0"
down_revision = "c3a1f0d2e4b5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_jobs",
        sa.Column("site_code", sa.String(length=8), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("labels", sa.String(length=8), nullable=False),
        sa.Column("identifiers", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=254), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
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
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_export_jobs_state")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_export_jobs_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
            name=op.f("fk_export_jobs_site_code_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_heartbeat_at"), ["heartbeat_at"])
        batch_op.create_index(batch_op.f("ix_export_jobs_requested_by_id"), ["requested_by_id"])
        batch_op.create_index(batch_op.f("ix_export_jobs_site_code"), ["site_code"])
        batch_op.create_index(batch_op.f("ix_export_jobs_state"), ["state"])


def downgrade():
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_site_code"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_requested_by_id"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_heartbeat_at"))
    op.drop_table("export_jobs")
