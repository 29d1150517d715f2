"""audit events by site, entity and id: a site's change stamp of one entity (its
highest audit id) in O(log n), so that each dashboard widget is keyed on the
entities it reads and a change of anything else leaves its stored result

Revision ID: c2e4a6b8d0f3
Revises: b8d0f2a4c6e1
Create Date: 2026-12-01 05:10:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c2e4a6b8d0f3"
down_revision = "b8d0f2a4c6e1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_audit_events_site_code_entity_id", "audit_events", ["site_code", "entity", "id"]
    )


def downgrade():
    op.drop_index("ix_audit_events_site_code_entity_id", table_name="audit_events")
