"""Dispatch's projection of `customer.profiles.v1`: what it needs of each customer's profile.

`dispatch_profiles` holds, per shop and customer, the channel the customer engages with best
(derived by dispatch from the profile's engagement counters) and the RFM monetary score (1-5,
the shop's quintiles) the win-back incentive is scaled by, with the envelope time of the
profile record they come from: an older record changes nothing. A table of its own, read with
the contact in the contact's one query, rather than columns of `contacts`: a profile must not
create a contact (a contact row is what tells "known, but without an address" from "not known
yet, wait for the shop's event"), and services share no tables (the segmenter API has its own).
`contacts.preferred_channel` was never written and is superseded by this table; it stays until
no running dispatch reads it.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "dispatch_profiles",
        sa.Column("shop_id", sa.String(63), primary_key=True),
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("preferred_channel", sa.String(8)),
        sa.Column("monetary_score", sa.SmallInteger),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.CheckConstraint("monetary_score BETWEEN 1 AND 5", name="dispatch_profiles_monetary"),
    )


def downgrade() -> None:
    op.drop_table("dispatch_profiles")
