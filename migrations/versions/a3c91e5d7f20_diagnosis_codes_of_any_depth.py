"""diagnosis codes of any depth: participant_diagnoses.code widened to 32 characters

ICD-10 subcategories (F41.1), ICD-11 codes (6A20.0) and a study's own word codes
are stored whole.

Revision ID: a3c91e5d7f20
Revises: c4e6a8b0d2f4
Create Date: 2026-11-30 12:10:00

"""

from alembic import op
import sqlalchemy as sa


revision = "a3c91e5d7f20"
down_revision = "c4e6a8b0d2f4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("participant_diagnoses", schema=None) as batch_op:
        batch_op.alter_column(
            "code",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )


def downgrade():
    # Fails (rather than cutting codes) on PostgreSQL when a longer code is stored.
    with op.batch_alter_table("participant_diagnoses", schema=None) as batch_op:
        batch_op.alter_column(
            "code",
            existing_type=sa.String(length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
