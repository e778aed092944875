"""Shops and their API keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("shopify_domain", sa.String(255), unique=True),
        sa.Column("webhook_secret_sealed", sa.String(500), nullable=False),
        sa.Column("previous_webhook_secret_sealed", sa.String(500)),
        sa.Column("previous_webhook_secret_until", sa.DateTime(timezone=True)),
        sa.Column("rate_limit_per_s", sa.Integer, nullable=False),
        sa.Column("require_signature", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(12), primary_key=True),
        sa.Column(
            "shop_id",
            sa.String(63),
            sa.ForeignKey("shops.shop_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("shops")
