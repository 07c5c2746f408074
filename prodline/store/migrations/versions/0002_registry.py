"""Registry: registered models, versions, aliases, labels and their event history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from prodline.store.types import JSONText, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(32)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id")),
        sa.Column("files", JSONText, nullable=False),
        sa.Column("contract", JSONText, nullable=False),
        sa.Column("serving_path", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "model_labels",
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), primary_key=True),
        sa.Column("label", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "registry_events",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("model_id", ID, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("previous_version_id", ID),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("details", JSONText),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_registry_events_model_id", "registry_events", ["model_id", "id"])


def downgrade() -> None:
    for name in (
        "registry_events",
        "model_labels",
        "model_aliases",
        "model_versions",
        "registered_models",
    ):
        op.drop_table(name)
