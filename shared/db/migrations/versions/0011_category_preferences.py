"""Campaign categories customers kept or dropped on the preference page: feedback's record of
them (to show the page as the customer left it) and dispatch's (to skip a dropped category's
messages at send time); services share no tables. Each row is the newest choice for one
customer and category: a choice older than the stored one changes nothing.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLES = ("feedback_category_preferences", "dispatch_category_preferences")


def upgrade() -> None:
    for table in _TABLES:
        op.create_table(
            table,
            sa.Column("shop_id", sa.String(63), primary_key=True),
            sa.Column("customer_id", sa.String(255), primary_key=True),
            sa.Column("category", sa.String(32), primary_key=True),
            sa.Column("subscribed", sa.Boolean, nullable=False),
            sa.Column("stated_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
