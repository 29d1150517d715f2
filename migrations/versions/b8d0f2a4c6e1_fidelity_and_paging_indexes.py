"""indexes for fidelity and paging at registry scale: the intervention arm by enrolment
date with the columns of a fidelity window (whose window may be open, from the index
alone), one site's service users by arm with the same columns (it replaces
the index on site and category, of which it is an extension), attendances by
participant with their session, sessions by id with their date, the live
participants' ids in id and study-ID order (an offset walks them, not the rows), and
service users by site then enrolment date (a site's assessments due today; it
replaces the index by site, status and arm, whose counts it also gives)

Revision ID: b8d0f2a4c6e1
Revises: c7e1d3f5a8b2
Create Date: 2026-11-30 23:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b8d0f2a4c6e1"
down_revision = "c7e1d3f5a8b2"
branch_labels = None
depends_on = None

WINDOW = ["arm", "deleted_at", "intervention_start", "status", "withdrawal_date"]


def upgrade():
    op.create_index(
        "ix_participants_site_code_category_arm",
        "participants",
        ["site_code", "category", "arm", "enrolment_date", *WINDOW[1:]],
    )
    op.drop_index("ix_participants_site_code_category", table_name="participants")
    op.create_index(
        "ix_participants_fidelity_window",
        "participants",
        ["category", "arm", "enrolment_date", *WINDOW[1:], "site_code"],
    )
    op.create_index(
        "ix_participants_category_site_code_enrolment_date",
        "participants",
        ["category", "site_code", "enrolment_date", "status", "arm", "deleted_at"],
    )
    op.drop_index("ix_participants_category_site_code_status_arm", table_name="participants")
    op.create_index("ix_participants_deleted_at_id", "participants", ["deleted_at", "id"])
    op.create_index(
        "ix_participants_deleted_at_study_id", "participants", ["deleted_at", "study_id", "id"]
    )
    op.create_index(
        "ix_contact_attendances_participant_id_session_id",
        "contact_attendances",
        ["participant_id", "session_id"],
    )
    op.drop_index("ix_contact_attendances_participant_id", table_name="contact_attendances")
    op.create_index(
        "ix_contact_sessions_id_date_deleted_at", "contact_sessions", ["id", "date", "deleted_at"]
    )


def downgrade():
    op.drop_index("ix_contact_sessions_id_date_deleted_at", table_name="contact_sessions")
    op.create_index(
        "ix_contact_attendances_participant_id", "contact_attendances", ["participant_id"]
    )
    op.drop_index(
        "ix_contact_attendances_participant_id_session_id", table_name="contact_attendances"
    )
    op.drop_index("ix_participants_deleted_at_study_id", table_name="participants")
    op.drop_index("ix_participants_deleted_at_id", table_name="participants")
    op.create_index(
        "ix_participants_category_site_code_status_arm",
        "participants",
        ["category", "site_code", "status", "arm", "enrolment_date", "deleted_at"],
    )
    op.drop_index("ix_participants_category_site_code_enrolment_date", table_name="participants")
    op.drop_index("ix_participants_fidelity_window", table_name="participants")
    op.create_index("ix_participants_site_code_category", "participants", ["site_code", "category"])
    op.drop_index("ix_participants_site_code_category_arm", table_name="participants")
