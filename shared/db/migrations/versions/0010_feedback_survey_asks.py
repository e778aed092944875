"""Feedback's directory learns which messages asked for a survey, and each contact's locale.

`feedback_survey_asks` holds one row per campaign step that asked for a survey
(`trigger.fired` with `survey` on triggers.fired.v1): its kind and the order it is about. The
directory joins it to `feedback_messages` by trigger id when it reads a message, so a bare
number texted back to a review request can be taken as the answer, whichever of the trigger
and the `message.sent` the index read first. `feedback_contacts.locale` is the customer's
language as the shop gave it, for tagging their free text.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback_contacts", sa.Column("locale", sa.String(35)))
    op.create_table(
        "feedback_survey_asks",
        sa.Column("trigger_id", sa.String(255), primary_key=True),
        sa.Column("shop_id", sa.String(63), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("survey", sa.String(8), nullable=False),
        sa.Column("order_id", sa.String(255)),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback_survey_asks")
    op.drop_column("feedback_contacts", "locale")
