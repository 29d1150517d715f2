"""an inbox entry's site is its reminder's, checked once per statement instead of a
foreign key to the sites checked row by row: its reminder's site is fixed and refers
to the site, so the entry's site does too (and can no longer differ from it)

Revision ID: d3f5b7a9c1e4
Revises: b2d4f6a8c0e3
Create Date: 2026-12-01 14:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d3f5b7a9c1e4"
down_revision = "b2d4f6a8c0e3"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_reminder_inbox_site_code_sites"
DAILY_UNMAILED = "mail = 'daily' AND mail_message_id IS NULL AND read_at IS NULL"

# PostgreSQL: one check per INSERT or UPDATE statement over the rows it wrote (a
# foreign key runs one query per row), and a reminder's site never changes.
POSTGRES_UP = (
    """
    CREATE FUNCTION reminder_inbox_site_of_reminder() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM reminder_inbox_written w JOIN reminders r ON r.id = w.reminder_id
            WHERE w.site_code IS DISTINCT FROM r.site_code
        ) THEN
            RAISE EXCEPTION 'an inbox entry''s site must be its reminder''s'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER reminder_inbox_site_on_insert AFTER INSERT ON reminder_inbox
    REFERENCING NEW TABLE AS reminder_inbox_written
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_inbox_site_of_reminder()
    """,
    """
    CREATE TRIGGER reminder_inbox_site_on_update AFTER UPDATE ON reminder_inbox
    REFERENCING NEW TABLE AS reminder_inbox_written
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_inbox_site_of_reminder()
    """,
    """
    CREATE FUNCTION reminders_site_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'a reminder''s site does not change' USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER reminders_site_fixed BEFORE UPDATE OF site_code ON reminders
    FOR EACH ROW WHEN (OLD.site_code IS DISTINCT FROM NEW.site_code)
    EXECUTE FUNCTION reminders_site_fixed()
    """,
)
POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS reminders_site_fixed ON reminders",
    "DROP FUNCTION IF EXISTS reminders_site_fixed()",
    "DROP TRIGGER IF EXISTS reminder_inbox_site_on_update ON reminder_inbox",
    "DROP TRIGGER IF EXISTS reminder_inbox_site_on_insert ON reminder_inbox",
    "DROP FUNCTION IF EXISTS reminder_inbox_site_of_reminder()",
)

# SQLite checks its foreign keys by index probes too: the same rule, row by row.
_SQLITE_DIFFERS = (
    "NEW.site_code IS NOT (SELECT site_code FROM reminders WHERE id = NEW.reminder_id)"
)
SQLITE_UP = (
    f"""
    CREATE TRIGGER reminder_inbox_site_on_insert BEFORE INSERT ON reminder_inbox
    WHEN {_SQLITE_DIFFERS}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s site must be its reminder''s'); END
    """,
    f"""
    CREATE TRIGGER reminder_inbox_site_on_update
    BEFORE UPDATE OF site_code, reminder_id ON reminder_inbox
    WHEN {_SQLITE_DIFFERS}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s site must be its reminder''s'); END
    """,
    """
    CREATE TRIGGER reminders_site_fixed BEFORE UPDATE OF site_code ON reminders
    WHEN OLD.site_code IS NOT NEW.site_code
    BEGIN SELECT RAISE(ABORT, 'a reminder''s site does not change'); END
    """,
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS reminders_site_fixed",
    "DROP TRIGGER IF EXISTS reminder_inbox_site_on_update",
    "DROP TRIGGER IF EXISTS reminder_inbox_site_on_insert",
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuilt_inbox():
    """SQLite drops or adds a foreign key by copying the table: its partial index is
    made again after the copy (not left to reflection, which may lose its condition)."""
    op.drop_index("ix_reminder_inbox_daily_unmailed", table_name="reminder_inbox")
    return op.batch_alter_table("reminder_inbox", recreate="always")


def _daily_unmailed_index():
    op.create_index(
        "ix_reminder_inbox_daily_unmailed",
        "reminder_inbox",
        ["user_id"],
        sqlite_where=sa.text(DAILY_UNMAILED),
    )


def upgrade():
    if _sqlite():
        with _rebuilt_inbox() as batch:
            batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        _daily_unmailed_index()
        statements = SQLITE_UP
    else:
        op.drop_constraint(FOREIGN_KEY, "reminder_inbox", type_="foreignkey")
        statements = POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade():
    if _sqlite():
        for statement in SQLITE_DOWN:
            op.execute(statement)
        with _rebuilt_inbox() as batch:
            batch.create_foreign_key(
                FOREIGN_KEY, "sites", ["site_code"], ["code"], ondelete="RESTRICT"
            )
        _daily_unmailed_index()
        return
    for statement in POSTGRES_DOWN:
        op.execute(statement)
    op.create_foreign_key(
        FOREIGN_KEY, "reminder_inbox", "sites", ["site_code"], ["code"], ondelete="RESTRICT"
    )
