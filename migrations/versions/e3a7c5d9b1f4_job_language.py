"""summary and export jobs keep the requester's language, so the worker writes the
workbook, codebook and readme texts in it

Revision ID: e3a7c5d9b1f4
Revises: b8d4f2a6c913
Create Date: 2026-11-30 16:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e3a7c5d9b1f4"
down_revision = "b8d4f2a6c913"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("summary_jobs", "export_jobs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade():
    for table in ("summary_jobs", "export_jobs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
