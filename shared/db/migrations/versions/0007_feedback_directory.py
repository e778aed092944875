"""Feedback: the directory of contacts and sent messages it learns from the topics.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_contacts",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("email_consent", sa.Boolean),
        sa.Column("email_consent_at", sa.DateTime(timezone=True)),
        sa.Column("sms_consent", sa.Boolean),
        sa.Column("sms_consent_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index(
        "feedback_contacts_phone",
        "feedback_contacts",
        ["phone"],
        postgresql_where=sa.text("phone IS NOT NULL"),
    )
    op.create_index(
        "feedback_contacts_email",
        "feedback_contacts",
        [sa.text("lower(email)")],
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_table(
        "feedback_messages",
        sa.Column("message_id", sa.String(255), primary_key=True),
        sa.Column("shop_id", sa.String(63), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("trigger_id", sa.String(255), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("transactional", sa.Boolean, nullable=False),
        sa.Column("provider_id", sa.String(255)),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "feedback_messages_provider",
        "feedback_messages",
        ["provider_id"],
        postgresql_where=sa.text("provider_id IS NOT NULL"),
    )
    op.create_index(
        "feedback_messages_recipient",
        "feedback_messages",
        ["shop_id", "customer_id", "channel", sa.text("sent_at DESC")],
    )


def downgrade() -> None:
    op.drop_table("feedback_messages")
    op.drop_table("feedback_contacts")
