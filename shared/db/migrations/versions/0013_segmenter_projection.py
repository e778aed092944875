"""The segmenter API's projection of `customer.profiles.v1` (services/segmenter/api/).

`segmenter_profiles` holds each person's latest profile document (as published, JSONB, for the
API and for analysts' SQL), with the envelope time it is as of: an older record changes
nothing. `anonymous` tells a visitor not identified yet (key `shop:anon:<visitor>`) from a
customer. `segmenter_memberships` holds the segments of each profile, replaced with it; its
key serves a page of a segment's members in customer id order (byte order: collation "C").
`segmenter_segment_sizes` counts each segment's customers, moved in the same transaction as
the memberships, so that a shop's sizes are one short read however many members there are.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SEGMENT = 100
_NOW = sa.func.now()


def _person() -> list[sa.Column[object]]:
    return [
        sa.Column("anonymous", sa.Boolean, primary_key=True),
        sa.Column("person_id", sa.String(255, collation="C"), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "segmenter_profiles",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        *_person(),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("document", postgresql.JSONB, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_table(
        "segmenter_memberships",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("segment_id", sa.String(_SEGMENT), primary_key=True),
        *_person(),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
    )
    op.create_index(
        "segmenter_memberships_person",
        "segmenter_memberships",
        ["shop_id", "anonymous", "person_id"],
    )
    op.create_table(
        "segmenter_segment_sizes",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("segment_id", sa.String(_SEGMENT), primary_key=True),
        sa.Column("customers", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("segmenter_segment_sizes")
    op.drop_table("segmenter_memberships")
    op.drop_table("segmenter_profiles")
