"""Suppressed email addresses: feedback's record of them, and dispatch's.

Feedback keeps the suppressions it published (per shop, address, customer and scope), the
transient bounces it counts towards one, and the audit of every clearing (who, when, why).
Dispatch keeps its own copy, learnt from `feedback.events.v1`, per shop, address and scope,
and honours it at send time; services share no tables. In both, a suppression is in force while
it is newer than the address's last clearing, so a notification delivered again after a
clearing changes nothing (dispatch keeps a clearing even for a scope never suppressed yet:
a row with only `cleared_at`).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ADDRESS = 320
_NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "feedback_suppressions",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("address", sa.String(_ADDRESS), primary_key=True),
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_index(
        "feedback_suppressions_customer", "feedback_suppressions", ["shop_id", "customer_id"]
    )
    op.create_table(
        "feedback_soft_bounces",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("address", sa.String(_ADDRESS), primary_key=True),
        sa.Column("notification_id", sa.String(255), primary_key=True),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feedback_suppression_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("shop_id", sa.String(63), nullable=False),
        sa.Column("address", sa.String(_ADDRESS), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("cleared", sa.Text, nullable=False),
    )
    op.create_index(
        "feedback_suppression_audit_address",
        "feedback_suppression_audit",
        ["shop_id", "address", "at"],
    )
    op.create_table(
        "dispatch_suppressions",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("address", sa.String(_ADDRESS), primary_key=True),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String(300)),
        sa.Column("suppressed_at", sa.DateTime(timezone=True)),
        sa.Column("cleared_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )


def downgrade() -> None:
    op.drop_table("dispatch_suppressions")
    op.drop_table("feedback_suppression_audit")
    op.drop_table("feedback_soft_bounces")
    op.drop_table("feedback_suppressions")
