"""Metric points keyed by series; keyed tables clustered on SQLite; params and tags indexed.

``metric_series`` gives each (run, metric key) an integer id, and ``metrics`` becomes
(series, step, timestamp, seq, value) with that order as its primary key and no other
index: the order history is read in. On SQLite the table is ``WITHOUT ROWID``, so a
point is one small entry in one B-tree, not a row holding the 32-character run id and
the key plus an index entry repeating both. ``seq`` orders points logged for the same
step in the same millisecond (old rows keep their ``id`` as ``seq``).

On SQLite, ``params``, ``tags`` and ``latest_metrics`` become ``WITHOUT ROWID`` too
(rows clustered by (run_id, key): a search reads a run's values in one seek), and
``params (key, value)`` and ``tags (key, value)`` let a filter such as
``params.max_depth = '6'`` seek instead of scanning the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
KEYED_TABLES = ("params", "tags", "latest_metrics")  # primary key (run_id, key)


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.UniqueConstraint("run_id", "key"),
    )
    op.execute(
        'INSERT INTO metric_series (run_id, "key") '
        'SELECT DISTINCT run_id, "key" FROM metrics ORDER BY run_id, "key"'
    )
    _set_aside_metrics("metrics_0003")
    op.create_table(
        "metrics",
        sa.Column(
            "series",
            AUTO_ID,
            sa.ForeignKey("metric_series.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("value", sa.Float),
        sqlite_with_rowid=False,
    )
    op.execute(
        'INSERT INTO metrics (series, step, "timestamp", seq, "value") '
        'SELECT s.id, m.step, m."timestamp", m.id, m."value" FROM metrics_0003 AS m '
        'JOIN metric_series AS s ON s.run_id = m.run_id AND s."key" = m."key"'
    )
    op.drop_table("metrics_0003")
    if op.get_bind().dialect.name == "sqlite":  # see tables.py: PostgreSQL keys are too short
        _set_rowid(KEYED_TABLES, with_rowid=False)
        op.create_index("ix_params_key_value", "params", ["key", "value"])
        op.create_index("ix_tags_key_value", "tags", ["key", "value"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_tags_key_value", "tags")
        op.drop_index("ix_params_key_value", "params")
        _set_rowid(KEYED_TABLES, with_rowid=True)
    _set_aside_metrics("metrics_0004")
    op.create_table(
        "metrics",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.execute(
        'INSERT INTO metrics (run_id, "key", "value", step, "timestamp") '
        'SELECT s.run_id, s."key", m."value", m.step, m."timestamp" FROM metrics_0004 AS m '
        "JOIN metric_series AS s ON s.id = m.series "
        'ORDER BY s.run_id, s."key", m.step, m."timestamp", m.seq'
    )
    op.drop_table("metrics_0004")
    op.drop_table("metric_series")
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])


def _set_rowid(tables: tuple[str, ...], with_rowid: bool) -> None:
    """Rebuild SQLite ``tables`` (copy, drop, rename; indexes kept) with or without rowid."""
    for name in tables:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
        ):
            pass


def _set_aside_metrics(new_name: str) -> None:
    """Rename ``metrics`` to ``new_name``, freeing the names its replacement uses."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX pk_metrics RENAME TO pk_{new_name}")
    op.execute("DROP INDEX IF EXISTS ix_metrics_run_key_step")
    op.rename_table("metrics", new_name)
