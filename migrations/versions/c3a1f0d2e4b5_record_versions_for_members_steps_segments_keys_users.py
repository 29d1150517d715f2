"""record versions for members, translation steps and segments, pseudonymisation-key
entries, users and memberships (optimistic locking: If-Match / ETag)

Revision ID: c3a1f0d2e4b5
Revises: a3c91e5d7f20
Create Date: 2026-11-30 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a1f0d2e4b5'
down_revision = 'a3c91e5d7f20'
branch_labels = None
depends_on = None

TABLES = (
    'qualitative_members',
    'translation_steps',
    'segment_translations',
    'pseudonym_key_entries',
    'users',
    'memberships',
)


def upgrade():
    # Existing rows start at version 1, as new rows do.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('version_id', sa.Integer(), nullable=False, server_default='1')
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version_id')
