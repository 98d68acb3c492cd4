"""The migrations are the schema: one head, and they match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests import factories
from webapp import MIGRATIONS
from webapp.extensions import db

# Migrations, the models' schema and savepoints differ between the two databases.
pytestmark = pytest.mark.both_databases


def test_single_migration_head():
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


def test_migrated_schema_matches_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], diff


def test_a_savepoint_stays_inside_its_transaction(app):
    """On SQLite the driver would let a SAVEPOINT start (and its RELEASE commit) a transaction of
    its own; webapp._sqlite_savepoint begins the real one first."""
    from sqlalchemy import text

    from webapp.extensions import db

    person = factories.worker()
    db.session.commit()
    where = {"email": person.email}
    db.session.execute(text("SELECT 1"))  # reads do not begin a transaction on SQLite
    with db.session.begin_nested():
        db.session.execute(text("UPDATE users SET name = 'Changed' WHERE email = :email"), where)
    db.session.rollback()
    assert (
        db.session.execute(text("SELECT name FROM users WHERE email = :email"), where).scalar_one()
        != "Changed"
    )
