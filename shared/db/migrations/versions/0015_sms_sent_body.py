"""Dispatch: the exact SMS body of each attempt, and the SMS provider ids per number.

`messages.sent_body` is recorded with the attempt (with the channel and the message id, before
the provider is called): a send resumed after a crash or a timeout is looked up at the provider
by that body, and sent again as it was, never rendered anew. `messages_sms_sent` finds the
provider ids already recorded for a number, which a reconciliation must not take for another
row: two identical texts to one customer are two messages.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("sent_body", sa.Text))
    op.create_index(
        "messages_sms_sent",
        "messages",
        ["address", "updated_at"],
        postgresql_where=sa.text("channel = 'sms' AND provider_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("messages_sms_sent", table_name="messages")
    op.drop_column("messages", "sent_body")
