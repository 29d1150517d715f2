"""instrument labels are kept by the instruments domain only: drop instrument_labels

A finished questionnaire translation stores its labels through the instruments
domain (instrument_label_translations); the translation domain's own copy was read
by nothing but a test.

Revision ID: 24c6878f8da7
Revises: 45527a0ec629
Create Date: 2026-11-30 14:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "24c6878f8da7"
down_revision = "45527a0ec629"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("instrument_labels")


def downgrade():
    op.create_table(
        "instrument_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_name", sa.String(length=120), nullable=False),
        sa.Column("instrument_version", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("segment_key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("translation_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["translation_id"],
            ["translations.id"],
            name=op.f("fk_instrument_labels_translation_id_translations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_labels")),
        sa.UniqueConstraint(
            "instrument_name",
            "instrument_version",
            "language",
            "segment_key",
            name="uq_instrument_labels_key",
        ),
    )
