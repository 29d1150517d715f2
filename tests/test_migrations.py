from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from trialdm.extensions import db


def test_models_and_migrations_agree(app, db_session):
    """The schema built by the migrations is the one the models describe."""
    connection = db_session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_single_alembic_head():
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    migrations = Path(__file__).resolve().parent.parent / "migrations"
    config = Config(str(migrations / "alembic.ini"))
    config.set_main_option("script_location", str(migrations))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
