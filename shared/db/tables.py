"""Tables of the tenancy registry: shops and their credentials.

Later services add their own tables in their own migrations; this module holds only what
several services need to agree on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ShopRow(Base):
    __tablename__ = "shops"

    shop_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    shopify_domain: Mapped[str | None] = mapped_column(String(255), unique=True)
    webhook_secret_sealed: Mapped[str] = mapped_column(String(500))
    previous_webhook_secret_sealed: Mapped[str | None] = mapped_column(String(500))
    previous_webhook_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shopify_secret_sealed: Mapped[str | None] = mapped_column(String(500))
    rate_limit_per_s: Mapped[int] = mapped_column(Integer)
    require_signature: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    shop_id: Mapped[str] = mapped_column(
        ForeignKey("shops.shop_id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrderCustomerRow(Base):
    """The customer of an order, so refunds and shipments can be keyed to them."""

    __tablename__ = "order_customers"

    shop_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
