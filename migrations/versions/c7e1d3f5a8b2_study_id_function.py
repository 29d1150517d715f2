"""study IDs drawn inside the participant's INSERT on PostgreSQL

A function bumps the site's counter (``INSERT … ON CONFLICT DO UPDATE … RETURNING``,
the counter row locked until commit, so still gapless) and formats the ID; SQLite
keeps the separate ``UPDATE … RETURNING``.

Revision ID: c7e1d3f5a8b2
Revises: a4c6e8f0b2d4
Create Date: 2026-11-30 19:15:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c7e1d3f5a8b2"
down_revision = "a4c6e8f0b2d4"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION trialdm_next_study_id(
            p_site text, p_category text, p_prefix text, p_width integer
        ) RETURNS text LANGUAGE sql VOLATILE AS $$
            WITH bumped AS (
                INSERT INTO study_id_counters (site_code, category, last_value)
                VALUES (p_site, p_category, 1)
                ON CONFLICT (site_code, category)
                DO UPDATE SET last_value = study_id_counters.last_value + 1
                RETURNING last_value
            )
            SELECT p_prefix || lpad(last_value::text, greatest(p_width, length(last_value::text)), '0')
            FROM bumped
        $$
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS trialdm_next_study_id(text, text, text, integer)")
