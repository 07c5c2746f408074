"""Bring a store's schema to the latest revision, on first use and after upgrades."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from prodline.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0004"  # keep equal to the newest file in migrations/versions (a test checks)


def current_revision(connection: Connection) -> str | None:
    """The revision a store is at, or ``None`` for an empty database."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate ``engine``'s database to ``revision`` in one transaction.

    Cheap when already current: one query, no Alembic import. Concurrent processes
    are serialised (SQLite write lock, PostgreSQL advisory lock).
    """
    with engine.connect() as probe:
        if revision == "head" and current_revision(probe) == HEAD_REVISION:
            return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect().execution_options(prodline_write=True) as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7215011)"))
            found = current_revision(connection)
            if found is not None and not _known(config, found):
                raise StoreError(
                    f"The store is at schema revision {found!r}, which this prodline does not "
                    "know: it was written by a newer prodline. Upgrade prodline to open it."
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


def _known(config: object, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False
