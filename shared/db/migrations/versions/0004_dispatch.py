"""Dispatch: the contact store and the message log (one row per trigger, its state machine).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NOW = sa.func.now()


def _channel_columns(channel: str) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(f"{channel}_consent", sa.Boolean),
        sa.Column(f"{channel}_consent_at", sa.DateTime(timezone=True)),
        sa.Column(f"{channel}_consent_source", sa.String(100)),
        sa.Column(f"{channel}_undeliverable", sa.String(300)),
    ]


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("locale", sa.String(35)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("preferred_channel", sa.String(8)),
        *_channel_columns("email"),
        *_channel_columns("sms"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_table(
        "messages",
        sa.Column("trigger_id", sa.String(255), primary_key=True),
        sa.Column("shop_id", sa.String(63), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(255), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(32)),
        sa.Column("transactional", sa.Boolean, nullable=False),
        sa.Column("trigger", postgresql.JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8)),
        sa.Column("message_id", sa.String(36), unique=True),
        sa.Column("address", sa.String(320)),
        sa.Column("reason", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("provider_id", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("clicked_at", sa.DateTime(timezone=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
    )
    # The due scan reads only the rows waiting for work, in due order.
    op.create_index(
        "messages_due",
        "messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("state IN ('queued', 'deferred', 'retrying')"),
    )
    # Rows whose sender died mid-send, found by their expired lease.
    op.create_index(
        "messages_leased",
        "messages",
        ["lease_until"],
        postgresql_where=sa.text("state = 'sending'"),
    )
    # Caps and "did they respond to the previous message": a customer's recent sends.
    op.create_index("messages_customer_sent", "messages", ["shop_id", "customer_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("contacts")
