"""Feedback's reports: counts per shop, campaign, UTC day and metric, each fact counted once.

`feedback_report_facts` keeps the key of every counted fact (shop, metric, subject: a message,
order or event id), with the campaign and day it was counted on; a count in
`feedback_report_counts` (and a conversion's revenue, per currency, in
`feedback_report_revenue`) moves only in the statement that inserts a new key, so a replayed
record adds nothing. `feedback_report_answers` holds the answer that counts of each survey
invitation (the latest), `feedback_report_replies` the tags of replies
(services/feedback/reports/).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = 255


def _shop_campaign_day() -> list[sa.Column[object]]:
    return [
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("campaign_id", sa.String(_ID), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "feedback_report_facts",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(_ID + 6), primary_key=True),
        sa.Column("campaign_id", sa.String(_ID), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("amount", sa.Numeric(18, 6)),
    )
    op.create_table(
        "feedback_report_counts",
        *_shop_campaign_day(),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_index("feedback_report_counts_day", "feedback_report_counts", ["shop_id", "day"])
    op.create_table(
        "feedback_report_revenue",
        *_shop_campaign_day(),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("amount", sa.Numeric(30, 6), nullable=False),
    )
    op.create_table(
        "feedback_report_answers",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("invitation", sa.String(_ID + 6), primary_key=True),
        sa.Column("campaign_id", sa.String(_ID), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("survey", sa.String(8), nullable=False),
        sa.Column("score", sa.SmallInteger, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(_ID), nullable=False),
        sa.Column("message_id", sa.String(_ID)),
        sa.Column("tags", postgresql.ARRAY(sa.Text), nullable=False),
    )
    op.create_index("feedback_report_answers_day", "feedback_report_answers", ["shop_id", "day"])
    op.create_table(
        "feedback_report_replies",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("event_id", sa.String(_ID), primary_key=True),
        sa.Column("campaign_id", sa.String(_ID), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("message_id", sa.String(_ID)),
        sa.Column("tags", postgresql.ARRAY(sa.Text), nullable=False),
    )
    op.create_index("feedback_report_replies_day", "feedback_report_replies", ["shop_id", "day"])


def downgrade() -> None:
    op.drop_table("feedback_report_replies")
    op.drop_table("feedback_report_answers")
    op.drop_table("feedback_report_revenue")
    op.drop_table("feedback_report_counts")
    op.drop_table("feedback_report_facts")
