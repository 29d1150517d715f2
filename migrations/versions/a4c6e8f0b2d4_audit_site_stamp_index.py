"""audit events by site and id: a site's change stamp (its highest audit id) in
O(log n), read for the dashboard's per-site cache key; it replaces the index on the
site alone, of which it is an extension

Revision ID: a4c6e8f0b2d4
Revises: f1b3d5e7a9c2
Create Date: 2026-11-30 18:55:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c6e8f0b2d4"
down_revision = "f1b3d5e7a9c2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_events_site_code_id", "audit_events", ["site_code", "id"])
    op.drop_index("ix_audit_events_site_code", table_name="audit_events")


def downgrade():
    op.create_index("ix_audit_events_site_code", "audit_events", ["site_code"])
    op.drop_index("ix_audit_events_site_code_id", table_name="audit_events")
