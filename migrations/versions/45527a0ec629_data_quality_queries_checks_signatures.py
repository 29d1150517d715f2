"""data quality: queries and their messages (checks open them too), e-signatures that lock forms

Revision ID: 45527a0ec629
Revises: d7b2e4f6a8c1
Create Date: 2026-11-30 12:32:16.536049

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "45527a0ec629"
down_revision = "d7b2e4f6a8c1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_queries",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("rule_name", sa.String(length=64), nullable=True),
        sa.Column("check_key", sa.String(length=200), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("opened_by_name", sa.String(length=254), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("site_code", sa.String(length=8), nullable=False),
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
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("origin IN ('manual', 'check')", name=op.f("ck_data_queries_origin")),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'closed')", name=op.f("ck_data_queries_status")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["users.id"],
            name=op.f("fk_data_queries_opened_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_data_queries_participant_id_participants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_data_queries_response_id_responses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
            name=op.f("fk_data_queries_site_code_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_queries")),
    )
    with op.batch_alter_table("data_queries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_queries_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_queries_response_id"), ["response_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_data_queries_rule_name"), ["rule_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_queries_site_code"), ["site_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_queries_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_data_queries_check_key",
            ["check_key"],
            unique=True,
            sqlite_where=sa.text("check_key IS NOT NULL"),
            postgresql_where=sa.text("check_key IS NOT NULL"),
        )

    op.create_table(
        "signatures",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("signed_versions", sa.Text(), nullable=False),
        sa.Column("meaning", sa.String(length=120), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=254), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlocked_by_id", sa.Integer(), nullable=True),
        sa.Column("unlocked_by_name", sa.String(length=254), nullable=True),
        sa.Column("unlock_reason", sa.Text(), nullable=True),
        sa.Column("site_code", sa.String(length=8), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("scope IN ('form', 'event')", name=op.f("ck_signatures_scope")),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_signatures_participant_id_participants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_signatures_response_id_responses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["signer_id"],
            ["users.id"],
            name=op.f("fk_signatures_signer_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
            name=op.f("fk_signatures_site_code_sites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unlocked_by_id"],
            ["users.id"],
            name=op.f("fk_signatures_unlocked_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signatures_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signatures_response_id"), ["response_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_signatures_site_code"), ["site_code"], unique=False)
        batch_op.create_index(
            "uq_signatures_standing_event",
            ["participant_id", "event"],
            unique=True,
            sqlite_where=sa.text("unlocked_at IS NULL AND scope = 'event'"),
            postgresql_where=sa.text("unlocked_at IS NULL AND scope = 'event'"),
        )
        batch_op.create_index(
            "uq_signatures_standing_form",
            ["response_id"],
            unique=True,
            sqlite_where=sa.text("unlocked_at IS NULL AND scope = 'form'"),
            postgresql_where=sa.text("unlocked_at IS NULL AND scope = 'form'"),
        )

    op.create_table(
        "data_query_messages",
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_code", sa.String(length=8), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "action IN ('open', 'answer', 'close', 'reopen')",
            name=op.f("ck_data_query_messages_action"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_data_query_messages_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["data_queries.id"],
            name=op.f("fk_data_query_messages_query_id_data_queries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
            name=op.f("fk_data_query_messages_site_code_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query_messages")),
    )
    with op.batch_alter_table("data_query_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_query_messages_query_id"), ["query_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_query_messages_site_code"), ["site_code"], unique=False
        )


def downgrade():
    with op.batch_alter_table("data_query_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_query_messages_site_code"))
        batch_op.drop_index(batch_op.f("ix_data_query_messages_query_id"))

    op.drop_table("data_query_messages")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_signatures_standing_form",
            sqlite_where=sa.text("unlocked_at IS NULL AND scope = 'form'"),
            postgresql_where=sa.text("unlocked_at IS NULL AND scope = 'form'"),
        )
        batch_op.drop_index(
            "uq_signatures_standing_event",
            sqlite_where=sa.text("unlocked_at IS NULL AND scope = 'event'"),
            postgresql_where=sa.text("unlocked_at IS NULL AND scope = 'event'"),
        )
        batch_op.drop_index(batch_op.f("ix_signatures_site_code"))
        batch_op.drop_index(batch_op.f("ix_signatures_response_id"))
        batch_op.drop_index(batch_op.f("ix_signatures_participant_id"))

    op.drop_table("signatures")
    with op.batch_alter_table("data_queries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_data_queries_check_key",
            sqlite_where=sa.text("check_key IS NOT NULL"),
            postgresql_where=sa.text("check_key IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_data_queries_status"))
        batch_op.drop_index(batch_op.f("ix_data_queries_site_code"))
        batch_op.drop_index(batch_op.f("ix_data_queries_rule_name"))
        batch_op.drop_index(batch_op.f("ix_data_queries_response_id"))
        batch_op.drop_index(batch_op.f("ix_data_queries_participant_id"))

    op.drop_table("data_queries")
