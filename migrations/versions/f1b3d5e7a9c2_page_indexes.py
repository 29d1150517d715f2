"""indexes for pages at registry scale: service users by enrolment date (the
dashboard's due assessments; enrolments by day from the index alone), by site,
status and arm (the dashboard's counts from the index alone), by site (fidelity per site),
intervention starts and randomisation times (whose fidelity window may be open)

Revision ID: f1b3d5e7a9c2
Revises: e3a7c5d9b1f4
Create Date: 2026-11-30 18:10:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "f1b3d5e7a9c2"
down_revision = "e3a7c5d9b1f4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_participants_category_enrolment_date",
        "participants",
        ["category", "enrolment_date", "deleted_at"],
    )
    op.create_index(
        "ix_participants_site_code_category", "participants", ["site_code", "category"]
    )
    op.create_index(
        "ix_participants_category_site_code_status_arm",
        "participants",
        ["category", "site_code", "status", "arm", "enrolment_date", "deleted_at"],
    )
    op.create_index("ix_participants_intervention_start", "participants", ["intervention_start"])
    op.create_index("ix_randomisations_randomised_at", "randomisations", ["randomised_at"])


def downgrade():
    op.drop_index("ix_randomisations_randomised_at", table_name="randomisations")
    op.drop_index("ix_participants_intervention_start", table_name="participants")
    op.drop_index("ix_participants_category_site_code_status_arm", table_name="participants")
    op.drop_index("ix_participants_site_code_category", table_name="participants")
    op.drop_index("ix_participants_category_enrolment_date", table_name="participants")
