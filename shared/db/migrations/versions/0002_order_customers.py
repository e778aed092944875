"""Which customer placed each order, for payloads that name only the order.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_customers",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("order_id", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("order_customers")
