"""Schema migrations: created on first use, upgraded from every older revision, and a
store from a newer prodline refused."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from prodline.errors import ConfigError, StoreError
from prodline.store import migrate
from prodline.store.engine import make_engine
from prodline.store.store import open_store
from prodline.store.tables import metadata


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_head_constant_matches_newest_migration() -> None:
    assert _scripts().get_current_head() == migrate.HEAD_REVISION


def test_fresh_store_is_created_at_head_with_every_table(store_url: str) -> None:
    store = open_store(store_url)
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD_REVISION
        assert set(metadata.tables) <= set(inspect(conn).get_table_names())
    store.close()


def test_migrated_schema_matches_the_tables_module(store_url: str) -> None:
    """Autogenerate finds nothing to add: migrations and tables.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = open_store(store_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    structural = [
        d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
    ]
    assert structural == []


@pytest.mark.parametrize("revision", [s.revision for s in _scripts().walk_revisions()])
def test_store_written_at_older_revision_opens_and_upgrades(store_url: str, revision: str) -> None:
    engine = make_engine(store_url)
    migrate.upgrade(engine, revision)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'kept', :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
    engine.dispose()
    store = open_store(store_url)
    assert [e.name for e in store.list_experiments()] == ["kept"]
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD_REVISION
    store.close()


def test_store_from_a_newer_prodline_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer prodline"):
        open_store(store_url)


@pytest.mark.parametrize("url", ["not a url", "mysql+nodriver://x/y", "oracle://u@h/db"])
def test_unusable_store_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_metric_history_survives_the_0004_rekeying_and_its_downgrade(store_url: str) -> None:
    """0004 rebuilds ``metrics`` without a surrogate id: every point, NaN (NULL) included,
    is kept in the order it was logged, and a downgrade puts the old table back."""
    engine = make_engine(store_url)
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'x', :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, start_time) "
                "VALUES ('r1', 'e1', 'old', 'finished', :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        # two points at the same step and millisecond: only the old id orders them
        for value, step in [(0.5, 0), (0.25, 1), (None, 1), (0.125, 2)]:
            conn.execute(
                text(
                    'INSERT INTO metrics (run_id, "key", "value", step, "timestamp") '
                    "VALUES ('r1', 'loss', :v, :s, 1000)"
                ),
                {"v": value, "s": step},
            )
    engine.dispose()

    store = open_store(store_url)
    history = [(p.value, p.step) for p in store.metric_history("r1", "loss")]
    assert history[0] == (0.5, 0) and history[1] == (0.25, 1) and history[3] == (0.125, 2)
    assert history[2][1] == 1 and history[2][0] != history[2][0]  # NaN, after 0.25
    store.log_metric_points("r1", [("loss", 0.0625, 3)])  # the new writer appends
    assert [p.step for p in store.metric_history("r1", "loss")] == [0, 1, 1, 2, 3]
    store.close()

    engine = make_engine(store_url)
    migrate.upgrade(engine, "head")
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
        rows = conn.execute(text('SELECT "value", step FROM metrics ORDER BY id')).all()
    engine.dispose()
    assert [step for _, step in rows] == [0, 1, 1, 2, 3]
    assert rows[1][0] == 0.25 and rows[2][0] is None
