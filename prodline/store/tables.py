"""The store's tables (SQLAlchemy Core). Changing one needs a new Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from prodline.store.types import JSONText, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)
KEY = String(250)
AUTO_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite: the rowid itself

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime),
    Column("error", Text),
    Column("code", JSONText),
    Column("environment", JSONText),
    Column("reproduced_from", ID),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)


def _text_values(name: str) -> Table:
    """``params`` and ``tags``: one text value per (run, key)."""
    return Table(
        name,
        metadata,
        Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
        Column("key", KEY, primary_key=True),
        Column("value", Text, nullable=False),
        # Search filters seek on (key, value). SQLite only: a PostgreSQL B-tree entry is
        # limited to ~2,700 bytes and values may be up to 8,000 characters.
        Index(f"ix_{name}_key_value", "key", "value").ddl_if(dialect="sqlite"),
        sqlite_with_rowid=False,  # rows clustered by (run_id, key)
    )


params = _text_values("params")
tags = _text_values("tags")

# One id per (run, metric key): metric points refer to it instead of repeating both.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=False),
    Column("key", KEY, nullable=False),
    UniqueConstraint("run_id", "key"),
)

# Every logged point, keyed in the order history is read. NaN is stored as NULL;
# timestamps are UTC epoch milliseconds because this is the one high-volume table;
# ``seq`` orders points of one step logged in the same millisecond. On SQLite the table
# has no rowid, so a point is one small entry in one B-tree.
metrics = Table(
    "metrics",
    metadata,
    Column(
        "series",
        AUTO_ID,
        ForeignKey("metric_series.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float),
    sqlite_with_rowid=False,
)

# The value at the highest step of each (run, metric): what search filters and sorts on.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

run_notes = Table(
    "run_notes",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_cols", Integer, nullable=False),
    Column("source", JSONText, nullable=False),
    Column("schema", JSONText, nullable=False),
    Column("profile", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", "fingerprint"),
    UniqueConstraint("name", "version"),
)

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id"), primary_key=True, index=True),
    Column("role", String(64), primary_key=True),
    Column("logged_at", UTCDateTime, nullable=False),
)

# --- registry (migration 0002) ---------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id")),
    Column("files", JSONText, nullable=False),
    Column("contract", JSONText, nullable=False),
    Column("serving_path", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("model_id", "version"),
)

# Current holder of each alias; the full history is in registry_events.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ID, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Current labels of each version; the full history is in registry_events.
model_labels = Table(
    "model_labels",
    metadata,
    Column("version_id", ID, ForeignKey("model_versions.id"), primary_key=True),
    Column("label", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Append-only: every version created, alias moved and label changed (who, when, why).
registry_events = Table(
    "registry_events",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("version_id", ID, ForeignKey("model_versions.id")),
    Column("kind", String(32), nullable=False),
    Column("name", String(64)),
    Column("previous_version_id", ID),
    Column("reason", Text),
    Column("actor", String(250), nullable=False),
    Column("details", JSONText),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_registry_events_model_id", "model_id", "id"),
)

# --- prediction logs and feedback (migration 0003) -----------------------------------
# High-volume tables: times are UTC epoch milliseconds, like ``metrics``.

prediction_logs = Table(
    "prediction_logs",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("model", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("outputs", Text, nullable=False),
    Index("ix_prediction_logs_model_id", "model", "id"),
    Index("ix_prediction_logs_model_timestamp", "model", "timestamp"),
    Index("ix_prediction_logs_request_id", "request_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("model", String(250), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("label", Text, nullable=False),
    UniqueConstraint("model", "request_id"),
)
