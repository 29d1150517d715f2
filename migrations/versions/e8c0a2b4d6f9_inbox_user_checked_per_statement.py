"""an inbox entry's user is checked once per statement instead of by a foreign key
checked row by row, and deleting a user deletes their inbox entries as the foreign
key's cascade did: a scan's inbox rows (tens of thousands on a digest day) each paid
a look-up of the users table, which PostgreSQL's planner makes a scan of it (a table
of a few pages) under the default cost settings

Revision ID: e8c0a2b4d6f9
Revises: d3f5b7a9c1e4
Create Date: 2026-12-01 22:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e8c0a2b4d6f9"
down_revision = "d3f5b7a9c1e4"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_reminder_inbox_user_id_users"
DAILY_UNMAILED = "mail = 'daily' AND mail_message_id IS NULL AND read_at IS NULL"

# PostgreSQL: one check per INSERT or UPDATE statement over the rows it wrote. The users
# it names are locked as a foreign key's check locks them (FOR KEY SHARE), once each,
# so that none can be deleted before the writing transaction ends.
POSTGRES_UP = (
    """
    CREATE FUNCTION reminder_inbox_user_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM users u
        WHERE u.id IN (SELECT DISTINCT w.user_id FROM reminder_inbox_written w)
        FOR KEY SHARE OF u;
        IF EXISTS (
            SELECT 1 FROM reminder_inbox_written w
            WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id)
        ) THEN
            RAISE EXCEPTION 'an inbox entry''s user must exist'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER reminder_inbox_user_on_insert AFTER INSERT ON reminder_inbox
    REFERENCING NEW TABLE AS reminder_inbox_written
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_inbox_user_exists()
    """,
    """
    CREATE TRIGGER reminder_inbox_user_on_update AFTER UPDATE ON reminder_inbox
    REFERENCING NEW TABLE AS reminder_inbox_written
    FOR EACH STATEMENT EXECUTE FUNCTION reminder_inbox_user_exists()
    """,
    """
    CREATE FUNCTION users_delete_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM reminder_inbox i USING users_deleted d WHERE i.user_id = d.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER users_delete_inbox AFTER DELETE ON users
    REFERENCING OLD TABLE AS users_deleted
    FOR EACH STATEMENT EXECUTE FUNCTION users_delete_inbox()
    """,
    """
    CREATE FUNCTION users_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'a user''s id does not change' USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER users_id_fixed BEFORE UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION users_id_fixed()
    """,
)
POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS users_id_fixed ON users",
    "DROP FUNCTION IF EXISTS users_id_fixed()",
    "DROP TRIGGER IF EXISTS users_delete_inbox ON users",
    "DROP FUNCTION IF EXISTS users_delete_inbox()",
    "DROP TRIGGER IF EXISTS reminder_inbox_user_on_update ON reminder_inbox",
    "DROP TRIGGER IF EXISTS reminder_inbox_user_on_insert ON reminder_inbox",
    "DROP FUNCTION IF EXISTS reminder_inbox_user_exists()",
)

# SQLite checks its foreign keys by index probes: the same rule, row by row. Its
# table is copied to drop the key, which drops the table's triggers: the site's
# (migration d3f5b7a9c1e4) are made again.
_SITE_DIFFERS = "NEW.site_code IS NOT (SELECT site_code FROM reminders WHERE id = NEW.reminder_id)"
_NO_USER = "NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)"
SQLITE_SITE_TRIGGERS = (
    f"""
    CREATE TRIGGER reminder_inbox_site_on_insert BEFORE INSERT ON reminder_inbox
    WHEN {_SITE_DIFFERS}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s site must be its reminder''s'); END
    """,
    f"""
    CREATE TRIGGER reminder_inbox_site_on_update
    BEFORE UPDATE OF site_code, reminder_id ON reminder_inbox
    WHEN {_SITE_DIFFERS}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s site must be its reminder''s'); END
    """,
)
SQLITE_UP = (
    f"""
    CREATE TRIGGER reminder_inbox_user_on_insert BEFORE INSERT ON reminder_inbox
    WHEN {_NO_USER}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s user must exist'); END
    """,
    f"""
    CREATE TRIGGER reminder_inbox_user_on_update BEFORE UPDATE OF user_id ON reminder_inbox
    WHEN {_NO_USER}
    BEGIN SELECT RAISE(ABORT, 'an inbox entry''s user must exist'); END
    """,
    """
    CREATE TRIGGER users_delete_inbox AFTER DELETE ON users
    BEGIN DELETE FROM reminder_inbox WHERE user_id = OLD.id; END
    """,
    """
    CREATE TRIGGER users_id_fixed BEFORE UPDATE OF id ON users
    WHEN OLD.id IS NOT NEW.id
    BEGIN SELECT RAISE(ABORT, 'a user''s id does not change'); END
    """,
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS users_id_fixed",
    "DROP TRIGGER IF EXISTS users_delete_inbox",
    "DROP TRIGGER IF EXISTS reminder_inbox_user_on_update",
    "DROP TRIGGER IF EXISTS reminder_inbox_user_on_insert",
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuilt_inbox():
    """SQLite drops or adds a foreign key by copying the table: its partial index is
    made again after the copy (not left to reflection, which may lose its condition)."""
    op.drop_index("ix_reminder_inbox_daily_unmailed", table_name="reminder_inbox")
    return op.batch_alter_table("reminder_inbox", recreate="always")


def _after_rebuild() -> None:
    op.create_index(
        "ix_reminder_inbox_daily_unmailed",
        "reminder_inbox",
        ["user_id"],
        sqlite_where=sa.text(DAILY_UNMAILED),
    )
    for statement in SQLITE_SITE_TRIGGERS:
        op.execute(statement)


def upgrade():
    if _sqlite():
        for name in ("reminder_inbox_site_on_insert", "reminder_inbox_site_on_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with _rebuilt_inbox() as batch:
            batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        _after_rebuild()
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
        for name in ("reminder_inbox_site_on_insert", "reminder_inbox_site_on_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with _rebuilt_inbox() as batch:
            batch.create_foreign_key(FOREIGN_KEY, "users", ["user_id"], ["id"], ondelete="CASCADE")
        _after_rebuild()
        return
    for statement in POSTGRES_DOWN:
        op.execute(statement)
    op.create_foreign_key(
        FOREIGN_KEY, "reminder_inbox", "users", ["user_id"], ["id"], ondelete="CASCADE"
    )
