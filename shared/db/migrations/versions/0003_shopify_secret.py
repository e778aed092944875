"""The secret Shopify signs a shop's webhooks with (the app's client secret or the key the
shop admin shows), which Nudge cannot choose.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("shopify_secret_sealed", sa.String(500)))


def downgrade() -> None:
    op.drop_column("shops", "shopify_secret_sealed")
