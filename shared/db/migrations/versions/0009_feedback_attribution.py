"""Feedback's attribution: each customer's recent touches and each order's conversion.

`feedback_touches` holds deliveries, human opens and clicks per customer (bounded and pruned
past the longest window, services/feedback/attribution/store.py); the message's kind and
campaign are on a delivery's row, null on an open's or a click's. `feedback_conversions`
holds at most one conversion per shop and order, with the event as published on
`conversions.v1` (`published_at` null until the broker has it) and its parts as columns for
reports.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = 255
_NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "feedback_touches",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("customer_id", sa.String(_ID), primary_key=True),
        sa.Column("touch_id", sa.String(_ID), primary_key=True),
        sa.Column("message_id", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(8)),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("trigger_id", sa.String(_ID)),
        sa.Column("transactional", sa.Boolean),
    )
    op.create_index(
        "feedback_touches_customer_time",
        "feedback_touches",
        ["shop_id", "customer_id", "touched_at"],
    )
    op.create_index("feedback_touches_time", "feedback_touches", ["touched_at"])
    op.create_table(
        "feedback_conversions",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("order_id", sa.String(_ID), primary_key=True),
        sa.Column("customer_id", sa.String(_ID), nullable=False),
        sa.Column("event_id", sa.String(_ID), nullable=False, unique=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revenue", sa.Numeric(18, 6), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("message_id", sa.String(_ID), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("trigger_id", sa.String(_ID)),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("touch", sa.String(16), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attribution_window", sa.Interval, nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_index(
        "feedback_conversions_campaign",
        "feedback_conversions",
        ["shop_id", "campaign_id", "ordered_at"],
    )


def downgrade() -> None:
    op.drop_table("feedback_conversions")
    op.drop_table("feedback_touches")
