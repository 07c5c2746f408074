"""Prediction logs written by the model server, and ground-truth feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "prediction_logs",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
    )
    op.create_index("ix_prediction_logs_model_id", "prediction_logs", ["model", "id"])
    op.create_index("ix_prediction_logs_model_timestamp", "prediction_logs", ["model", "timestamp"])
    op.create_index("ix_prediction_logs_request_id", "prediction_logs", ["request_id"])
    op.create_table(
        "feedback",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.UniqueConstraint("model", "request_id", name="uq_feedback_model_request_id"),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("prediction_logs")
