"""Dispatch: find the customers another sender is deciding on, for the claim to pass over.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claimed rows without a decision yet: a handful at any time, probed for every claim.
    op.create_index(
        "messages_deciding",
        "messages",
        ["shop_id", "customer_id"],
        postgresql_where=sa.text("state = 'sending' AND message_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("messages_deciding", table_name="messages")
